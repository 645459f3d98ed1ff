/* libFuzzer target for lpv3_normalize and lpv3_parse_precision. The first byte picks the
 * precision (low 3 bits: auto, s, ms, us, ns, ...) and unsigned support (bit 3); the rest is the
 * body. Checks:
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
