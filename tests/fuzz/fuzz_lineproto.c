/* libFuzzer target for lp_normalize. The first byte picks the precision (low 3 bits), unsigned
 * support (bit 3) and max_errors (bit 4: 1, else 3); the rest is the body. Checks:
 * - out keeps what it held and, past that, is empty or ends in '\n';
 * - the counts are consistent: stamped <= points, every line used at least one byte, and errors
 *   are described exactly when lines were rejected;
 * - what was stored is stable: normalising it again (as a backend would read it, in ns) accepts
 *   every line, stamps none and gives back the same bytes, and the smallest and largest
 *   |timestamp| are the same (unless lines were stamped: then they bound the first ones). */
#include "common/buf.h"
#include "relay/lineproto.h"

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
    enum lp_precision p = (enum lp_precision)((data[0] & 7) % (LP_H + 1));
    struct lp_options opt = {.allow_unsigned = (data[0] >> 3) & 1,
                             .max_errors = (data[0] & 16) ? 1 : 3};
    /* A copy of exactly 'size - 1' bytes, so that ASan sees any read past the body. */
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    require(body != NULL);
    memcpy(body, data + 1, len);

    static const char prefix[] = "prefix v=1 1\n";
    struct buf out;
    struct lp_result res;
    buf_init(&out);
    buf_append(&out, prefix, sizeof(prefix) - 1);
    lp_result_init(&res);
    require(lp_normalize(body, len, p, NOW_NS, &opt, &out, &res) == 0);

    size_t base = sizeof(prefix) - 1;
    require(out.len >= base && memcmp(out.data, prefix, base) == 0);
    size_t olen = out.len - base;
    require(olen == 0 || out.data[out.len - 1] == '\n');
    require((olen == 0) == (res.points == 0));
    require(res.stamped <= res.points);
    require(res.points + res.rejected <= len);
    require((res.rejected == 0) == (res.errors.len == 0));

    /* Stored lines must read back the same: all accepted, none stamped, identical bytes. */
    struct buf again;
    struct lp_result res2;
    buf_init(&again);
    lp_result_init(&res2);
    require(lp_normalize(out.data + base, olen, LP_NS, NOW_NS + 1, &opt, &again, &res2) == 0);
    require(res2.rejected == 0 && res2.points == res.points && res2.stamped == 0);
    require(again.len == olen && (olen == 0 || memcmp(again.data, out.data + base, olen) == 0));
    require(res.stamped > 0 ? res2.ts_mag_min <= res.ts_mag_min
                            : res2.ts_mag_min == res.ts_mag_min);
    require(res.stamped > 0 ? res2.ts_mag_max >= res.ts_mag_max
                            : res2.ts_mag_max == res.ts_mag_max);
    require((res2.ts_mag_min == UINT64_MAX) == (res.points == 0));
    require(res2.ts_mag_min <= res2.ts_mag_max || res.points == 0);

    lp_result_deinit(&res2);
    buf_deinit(&again);
    lp_result_deinit(&res);
    buf_deinit(&out);
    free(body);
    return 0;
}
