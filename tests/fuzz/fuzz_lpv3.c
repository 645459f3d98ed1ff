/* libFuzzer target for lpv3_normalize and lpv3_parse_precision. The first byte picks the
 * precision (low 3 bits: auto, s, ms, us, ns, ...) and unsigned support (bit 3); the rest is the
 * body. Checks:
 * - the one-pass lpv3_normalize, lpv3_normalize_borrow and the line-by-line reference
 *   lpv3_normalize_by_line give the same result: stored bytes (the body itself when borrowed),
 *   counts and error objects, so that write_lp answers and stores the same whichever ran;
 * - the verdicts agree with lp_normalize's on the whole body (the same lines accepted and
 *   refused; lpv3 judges each line alone, so this is what pins its splitting) when the precision
 *   is fixed;
 * - out is empty or ends in '\n'; stamped <= points; errors are described exactly when lines
 *   were refused, at most LPV3_MAX_DESCRIBED of them, each an object with a line number from 1;
 * - what was stored is stable: normalised again in ns every line is accepted, none stamped. */
#include "common/buf.h"
#include "relay/lineproto.h"
#include "relay/lpv3.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_NS INT64_C(1700000123456789012)

static void require(int cond)
{
    if (!cond)
        abort();
}

static int same_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static int same_buf(const struct buf *a, const struct buf *b)
{
    return same_bytes(a->data, a->len, b->data, b->len);
}

/* 'fast' (appended to 'fast_out' after 'skip' bytes it already held) is 'ref'. */
static void require_same(const struct lpv3_result *fast, const struct buf *fast_out, size_t skip,
                         const struct lpv3_result *ref, const struct buf *ref_out)
{
    require(fast->points == ref->points && fast->rejected == ref->rejected &&
            fast->stamped == ref->stamped);
    require(same_buf(&fast->errors_json, &ref->errors_json));
    require(same_buf(&fast->first_json, &ref->first_json));
    const char *stored = fast_out->data != NULL ? fast_out->data + skip : "";
    require(same_bytes(stored, fast_out->len - skip, ref_out->data, ref_out->len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char *const names[] = {"auto", "s", "ms", "us", "ns", "second", "nanosecond", "x"};
    const char *name = names[data[0] & 7];
    struct lpv3_precision prec;
    if (lpv3_parse_precision(name, strlen(name), &prec) != 0) {
        prec.is_auto = 1;
        prec.p = LP_NS;
    }
    struct lp_options opt = {.allow_unsigned = (data[0] >> 3) & 1};
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    require(body != NULL);
    memcpy(body, data + 1, len);

    struct buf out;
    struct lpv3_result res;
    buf_init(&out);
    lpv3_result_init(&res);
    require(lpv3_normalize(body, len, prec, NOW_NS, &opt, &out, &res) == 0);
    require(out.len == 0 || out.data[out.len - 1] == '\n');
    require(res.stamped <= res.points);
    require((res.rejected > 0) == (res.errors_json.len > 0));
    require((res.rejected > 0) == (res.first_json.len > 0));
    size_t objects = 0;
    for (size_t i = 0; i + 14 < res.errors_json.len; i++)
        if (memcmp(res.errors_json.data + i, ",\"line_number\":", 15) == 0) {
            objects++;
            require(res.errors_json.data[i + 15] >= '1' && res.errors_json.data[i + 15] <= '9');
        }
    require(objects <= LPV3_MAX_DESCRIBED && objects <= res.rejected);

    /* The oracle: the line-by-line path, and the borrowing one after bytes already in 'out'
     * (a fallback must keep them). */
    struct buf ref_out, bor_out;
    struct lpv3_result ref, bor;
    buf_init(&ref_out);
    buf_init(&bor_out);
    lpv3_result_init(&ref);
    lpv3_result_init(&bor);
    require(lpv3_normalize_by_line(body, len, prec, NOW_NS, &opt, &ref_out, &ref) == 0);
    require(!ref.as_received && !res.as_received);
    require_same(&res, &out, 0, &ref, &ref_out);
    static const char held[] = "held v=1 1\n";
    buf_append(&bor_out, held, sizeof(held) - 1);
    require(lpv3_normalize_borrow(body, len, prec, NOW_NS, &opt, &bor_out, &bor) == 0);
    require(memcmp(bor_out.data, held, sizeof(held) - 1) == 0);
    if (bor.as_received) {
        require(bor_out.len == sizeof(held) - 1 && len > 0);
        buf_append(&bor_out, body, len);
    }
    require_same(&bor, &bor_out, sizeof(held) - 1, &ref, &ref_out);
    buf_deinit(&ref_out);
    buf_deinit(&bor_out);
    lpv3_result_deinit(&ref);
    lpv3_result_deinit(&bor);

    if (!prec.is_auto) {
        struct buf whole;
        struct lp_result lr;
        buf_init(&whole);
        lp_result_init(&lr);
        struct lp_options o2 = opt;
        o2.max_errors = 1;
        lp_normalize(body, len, prec.p, NOW_NS, &o2, &whole, &lr);
        require(lr.points == res.points && lr.rejected == res.rejected);
        require(whole.len == out.len && (out.len == 0 || memcmp(whole.data, out.data, out.len) == 0));
        buf_deinit(&whole);
        lp_result_deinit(&lr);
    }

    struct buf again;
    struct lp_result r2;
    buf_init(&again);
    lp_result_init(&r2);
    struct lp_options o3 = {.allow_unsigned = opt.allow_unsigned};
    lp_normalize(out.data ? out.data : "", out.len, LP_NS, NOW_NS, &o3, &again, &r2);
    require(r2.rejected == 0 && r2.stamped == 0 && r2.points == res.points);
    buf_deinit(&again);
    lp_result_deinit(&r2);

    buf_deinit(&out);
    lpv3_result_deinit(&res);
    free(body);
    return 0;
}
