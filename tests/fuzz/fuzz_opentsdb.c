/* libFuzzer target for opentsdb_line and opentsdb_json. The first byte picks: even, the rest
 * is telnet lines; odd, the rest is one /api/put body. Checks:
 * - a line is converted to exactly one line, or refused leaving 'out' unchanged;
 * - a body is converted as a whole (points lines) or refused leaving 'out' unchanged;
 * - what either writes is line protocol the log accepts as it is: lp_normalize takes every
 *   line as one point with its own timestamp and gives back the same bytes. */
#include "common/buf.h"
#include "relay/lineproto.h"
#include "relay/opentsdb.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
    if (!cond)
        abort();
}

static void same_after_normalize(const char *p, size_t n, size_t points)
{
    struct buf again;
    buf_init(&again);
    struct lp_result res;
    lp_result_init(&res);
    struct lp_options lo = {0, 1};
    lp_normalize(p, n, LP_NS, 1, &lo, &again, &res);
    require(res.points == points && res.rejected == 0 && res.stamped == 0);
    require(again.len == n && (n == 0 || memcmp(again.data, p, n) == 0));
    lp_result_deinit(&res);
    buf_deinit(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct buf out;
    buf_init(&out);
    if (data[0] & 1) {
        size_t points = 0, dropped = 0;
        const char *why = NULL;
        int rc = opentsdb_json(p, n, &out, &points, &dropped, &why);
        if (rc == 0) {
            size_t lines = 0;
            for (size_t i = 0; i < out.len; i++)
                lines += out.data[i] == '\n';
            require(lines == points);
            same_after_normalize(out.data, out.len, points);
        } else {
            require(out.len == 0 && why != NULL);
        }
        buf_deinit(&out);
        return 0;
    }
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        size_t before = out.len;
        const char *why = NULL;
        int rc = opentsdb_line(p, len, &out, &why);
        if (rc == 0) {
            require(out.len > before && out.data[out.len - 1] == '\n');
            require(memchr(out.data + before, '\n', out.len - before - 1) == NULL);
            same_after_normalize(out.data + before, out.len - before, 1);
        } else {
            require(out.len == before);
            require(rc > 0 || why != NULL);
        }
        if (nl == NULL)
            break;
        n -= len + 1;
        p += len + 1;
    }
    buf_deinit(&out);
    return 0;
}
