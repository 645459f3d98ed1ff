/* libFuzzer target for relay/influxql_select.c and the shards' SELECT plans. The first byte
 * picks the shard key's tags (bit 0: "host"; bit 1: "rack" too); the rest is a q= string, read
 * piece by piece. Checks:
 * - iql_select_read either reads a piece or refuses it; what it reads stays within bounds:
 *   every source's and GROUP BY tag's span inside its names, counts within their maxima, the
 *   function names NUL-terminated and lower case;
 * - shard_merge_plan_select either plans (BUCKETS with one op per call) or refuses with a
 *   reason; with no tag in the key, a plain SELECT (no EXPLAIN, subquery, SLIMIT, SOFFSET)
 *   always plans SERIES. */
#include "relay/influxql.h"
#include "relay/influxql_select.h"
#include "relay/shard_merge.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *tags[] = {"host", "rack"};
    const size_t tag_lens[] = {4, 4};
    size_t n_tags = (data[0] & 1) ? ((data[0] & 2) ? 2 : 1) : 0;
    size_t len = size - 1;
    char *q = malloc(len ? len : 1); /* exactly len bytes: ASan sees a read past the end */
    require(q != NULL);
    memcpy(q, data + 1, len);
    size_t n = iql_split(q, len, NULL, 0);
    struct iql_stmt *st = malloc((n ? n : 1) * sizeof(*st));
    require(st != NULL);
    iql_split(q, len, st, n);
    for (size_t i = 0; i < n; i++) {
        struct iql_select s;
        int rc = iql_select_read(q + st[i].text_off, st[i].text_len, &s);
        if (rc == 0) {
            require(s.n_sources <= IQL_SEL_SOURCES_MAX && s.n_calls <= IQL_SEL_CALLS_MAX &&
                    s.n_group_tags <= IQL_SEL_TAGS_MAX);
            for (size_t k = 0; k < s.n_sources; k++)
                require(s.sources[k].db_off + s.sources[k].db_len <= s.names.len &&
                        s.sources[k].m_off + s.sources[k].m_len <= s.names.len &&
                        s.sources[k].m_len > 0);
            for (size_t k = 0; k < s.n_group_tags; k++)
                require(s.group_tags[k][0] + s.group_tags[k][1] <= s.names.len);
            for (size_t k = 0; k < s.n_calls; k++) {
                size_t l = strnlen(s.calls[k], IQL_SEL_NAME_MAX);
                require(l < IQL_SEL_NAME_MAX);
                for (size_t j = 0; j < l; j++)
                    require(!(s.calls[k][j] >= 'A' && s.calls[k][j] <= 'Z'));
            }
            struct shard_merge_plan p;
            int ok = shard_merge_plan_select(&s, tags, tag_lens, n_tags, &p);
            require(ok == 1 || p.why[0] != '\0');
            if (ok && p.kind == SHARD_MERGE_BUCKETS)
                require(p.n_ops == s.n_calls);
            if (n_tags == 0 && !s.explain && !s.subquery && s.slimit == 0 && s.soffset == 0)
                require(ok == 1 && p.kind == SHARD_MERGE_SERIES);
        }
        iql_select_deinit(&s);
    }
    free(st);
    free(q);
    return 0;
}
