/* relay/shard_merge.c: which SHOW statements merge exactly, and the merge of several shards'
 * answers (series made one by name, tags and columns; values sorted, each once; an error wins). */
#include "relay/shard_merge.h"

#include "common/err.h"
#include "tests/unit/tap.h"

#include <string.h>

static void merged(const char *a, const char *b, const char *want, const char *name)
{
    const char *bodies[] = {a, b};
    size_t lens[] = {strlen(a), strlen(b)};
    struct buf out, err;
    buf_init(&out);
    buf_init(&err);
    int rc = shard_merge_answers(bodies, lens, 2, &out, &err);
    buf_append(&out, "", 1);
    CHECK(rc == 0 && strcmp(out.data, want) == 0, "%s: %s", name, out.data);
    buf_deinit(&out);
    buf_deinit(&err);
}

int main(void)
{
    static const struct {
        const char *q;
        int ok;
    } m[] = {
        {"SHOW MEASUREMENTS", 1},
        {"show databases", 1},
        {"SHOW TAG KEYS; SHOW FIELD KEYS", 1},
        {"SHOW TAG VALUES WITH KEY = host", 1},
        {"SHOW SERIES WHERE host = 'a'", 1},
        {"SHOW RETENTION POLICIES ON db", 1},
        {"SHOW MEASUREMENTS LIMIT 10", 0},
        {"SHOW SERIES CARDINALITY", 0},
        {"SHOW MEASUREMENT CARDINALITY", 0},
        {"SHOW TAG VALUES EXACT CARDINALITY WITH KEY = host", 0},
        {"SHOW QUERIES", 0},
        {"SHOW MEASUREMENTS; SELECT * FROM /.*/", 0},
        {"SELECT count(n) FROM /.*/", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        CHECK_EQ_INT(shard_merge_mergeable(m[i].q, strlen(m[i].q)), m[i].ok, m[i].q);

    merged("{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"measurements\","
           "\"columns\":[\"name\"],\"values\":[[\"disk\"],[\"mem\"]]}]}]}",
           "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"measurements\","
           "\"columns\":[\"name\"],\"values\":[[\"cpu\"],[\"net\"]]}]}]}",
           "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"measurements\","
           "\"columns\":[\"name\"],\"values\":[[\"cpu\"],[\"disk\"],[\"mem\"],[\"net\"]]}]}]}\n",
           "SHOW MEASUREMENTS: the union, sorted");
    merged("{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\","
           "\"columns\":[\"name\"],\"values\":[[\"_internal\"],[\"db\"]]}]}]}",
           "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\","
           "\"columns\":[\"name\"],\"values\":[[\"db\"],[\"_internal\"]]}]}]}",
           "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\","
           "\"columns\":[\"name\"],\"values\":[[\"_internal\"],[\"db\"]]}]}]}\n",
           "SHOW DATABASES: each once");
    merged("{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"k\"],"
           "\"values\":[[\"host\"]]}]},{\"statement_id\":1}]}",
           "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"mem\",\"columns\":[\"k\"],"
           "\"values\":[[\"host\"]]}]},{\"statement_id\":1,\"error\":\"boom\"}]}",
           "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"k\"],"
           "\"values\":[[\"host\"]]},{\"name\":\"mem\",\"columns\":[\"k\"],\"values\":[[\"host\"]]"
           "}]},{\"statement_id\":1,\"error\":\"boom\"}]}\n",
           "series of other names concatenated; an error wins");
    merged("{\"results\":[{\"statement_id\":0}]}", "{\"results\":[{\"statement_id\":0}]}",
           "{\"results\":[{\"statement_id\":0}]}\n", "nothing on either shard: no series");

    const char *bad[] = {"{\"results\":[{}]}", "not json"};
    size_t lens[] = {strlen(bad[0]), strlen(bad[1])};
    struct buf out, err;
    buf_init(&out);
    buf_init(&err);
    CHECK_EQ_INT(shard_merge_answers(bad, lens, 2, &out, &err), IWR_EPARSE, "not JSON: refused");
    const char *two[] = {"{\"results\":[{}]}", "{\"results\":[{},{}]}"};
    size_t lens2[] = {strlen(two[0]), strlen(two[1])};
    CHECK_EQ_INT(shard_merge_answers(two, lens2, 2, &out, &err), IWR_EPARSE,
                 "different numbers of results: refused");
    buf_deinit(&out);
    buf_deinit(&err);
    return tap_done();
}
