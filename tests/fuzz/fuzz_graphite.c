/* libFuzzer target for graphite_line with templates. The first byte picks one of a few template
 * sets (filters, wildcards, field*, default tags, a separator); the rest is lines. Checks:
 * - a line is converted to exactly one line, or refused leaving 'out' unchanged;
 * - what it writes is line protocol the log accepts: lp_normalize takes it as one point with
 *   its own timestamp and gives back the same bytes. */
#include "common/buf.h"
#include "relay/graphite.h"
#include "relay/lineproto.h"

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

static const char *const set0[] = {"servers.* .host.resource.measurement.field*",
                                   "stats.* .host.measurement* region=us,agent=x",
                                   "*.app env.service.measurement", "measurement.field"};
static const char *const set1[] = {"a.* measurement.measurement.host.host host=pre",
                                   "a.b.* measurement.field.field", "w.* measurement*.field*"};
static const char *const tags[] = {"dc=eu", "host=h"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct graphite *g[3];
    if (g[0] == NULL) {
        char err[256];
        struct graphite_opts o0 = {NULL, NULL, 0, NULL, 0};
        struct graphite_opts o1 = {NULL, set0, 4, tags, 2};
        struct graphite_opts o2 = {"_", set1, 3, tags, 1};
        require(graphite_new(&g[0], &o0, err, sizeof(err)) == 0);
        require(graphite_new(&g[1], &o1, err, sizeof(err)) == 0);
        require(graphite_new(&g[2], &o2, err, sizeof(err)) == 0);
    }
    if (size == 0)
        return 0;
    const struct graphite *gr = g[data[0] % 3];
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct buf out, again;
    buf_init(&out);
    buf_init(&again);
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        size_t before = out.len;
        const char *why = NULL;
        int rc = graphite_line(gr, p, len, INT64_C(1700000000000000000), &out, &why);
        if (rc == 0) {
            require(out.len > before && out.data[out.len - 1] == '\n');
            require(memchr(out.data + before, '\n', out.len - before - 1) == NULL);
            struct lp_result res;
            lp_result_init(&res);
            struct lp_options lo = {0, 1};
            buf_clear(&again);
            lp_normalize(out.data + before, out.len - before, LP_NS, 1, &lo, &again, &res);
            require(res.points == 1 && res.rejected == 0 && res.stamped == 0);
            require(again.len == out.len - before &&
                    memcmp(again.data, out.data + before, again.len) == 0);
            lp_result_deinit(&res);
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
    buf_deinit(&again);
    return 0;
}
