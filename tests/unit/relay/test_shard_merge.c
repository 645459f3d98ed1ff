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

/* The plan for SELECT q with the shard key's tags 'tags' ("host" or NULL). */
static int plan(const char *q, const char *tag, struct shard_merge_plan *p)
{
    struct iql_select s;
    int rc = iql_select_read(q, strlen(q), &s);
    const char *tags[] = {tag};
    size_t lens[] = {tag != NULL ? strlen(tag) : 0};
    int ok = rc == 0 ? shard_merge_plan_select(&s, tags, lens, tag != NULL ? 1 : 0, p) : -1;
    iql_select_deinit(&s);
    return ok;
}

/* a and b merged by the plan of SELECT q (key tag 'tag'). */
static void selected(const char *q, const char *tag, const char *a, const char *b, const char *want,
                     const char *name)
{
    struct shard_merge_plan p;
    CHECK_EQ_INT(plan(q, tag, &p), 1, q);
    const char *bodies[] = {a, b};
    size_t lens[] = {strlen(a), strlen(b)};
    struct buf out, err;
    buf_init(&out);
    buf_init(&err);
    int rc = shard_merge_answers_plan(bodies, lens, 2, &p, 1, &out, &err);
    buf_append(&out, "", 1);
    CHECK(rc == 0 && strcmp(out.data, want) == 0, "%s: %s", name, rc == 0 ? out.data : "failed");
    buf_deinit(&out);
    buf_deinit(&err);
}

static void plans(void)
{
    struct shard_merge_plan p;
    CHECK(plan("SELECT mean(n) FROM cpu, mem GROUP BY time(1m) fill(previous)", NULL, &p) == 1 &&
              p.kind == SHARD_MERGE_SERIES,
          "no tag in the key: any function, series concatenated");
    CHECK(plan("SELECT mean(n) FROM cpu GROUP BY host", "host", &p) == 1 &&
              p.kind == SHARD_MERGE_SERIES,
          "the key's tag in GROUP BY: series concatenated");
    CHECK(plan("SELECT percentile(n, 90) FROM cpu GROUP BY *", "host", &p) == 1 &&
              p.kind == SHARD_MERGE_SERIES && p.widen_tags,
          "GROUP BY *: series concatenated, tags widened");
    CHECK(plan("SELECT * FROM cpu LIMIT 3", "host", &p) == 1 && p.kind == SHARD_MERGE_POINTS &&
              p.limit == 3 && p.widen_columns,
          "raw points of a series on every shard: merged by time, LIMIT after");
    CHECK(plan("SELECT count(n), sum(n), min(n), max(n) FROM cpu GROUP BY time(1m) fill(0)", "host",
               &p) == 0,
          "fill(0) with min/max refused");
    CHECK(plan("SELECT count(n), sum(n), min(n), max(n) FROM cpu GROUP BY time(1m)", "host", &p) ==
                  1 &&
              p.kind == SHARD_MERGE_BUCKETS && p.n_ops == 4 && p.ops[0] == SHARD_OP_ADD &&
              p.ops[1] == SHARD_OP_ADD && p.ops[2] == SHARD_OP_MIN && p.ops[3] == SHARD_OP_MAX &&
              !p.select_row && !p.one_row,
          "count, sum, min, max per bucket");
    CHECK(plan("SELECT max(n), host FROM cpu", "host", &p) == 1 && p.select_row && p.one_row,
          "max alone with a field: the winner's row");
    CHECK_EQ_INT(plan("SELECT mean(n) FROM cpu GROUP BY time(1m)", "host", &p), 0, "mean refused");
    CHECK_EQ_STR(p.why,
                 "mean() cannot be merged across shards: the shard key's tag host is not in "
                 "GROUP BY, so a series' points are on several shards; only count(), sum(), "
                 "min() and max() merge exactly (or add GROUP BY host)",
                 "mean's refusal names the tag and what merges");
    static const char *const refused[] = {
        "SELECT count(n) FROM cpu GROUP BY time(1m) fill(previous)",
        "SELECT count(n) FROM cpu GROUP BY time(1m) fill(1)",
        "SELECT count(n) FROM cpu GROUP BY time(1m) OFFSET 2",
        "SELECT n FROM cpu OFFSET 2",
        "SELECT sum(n) / count(n) FROM cpu",
        "SELECT max(*) FROM cpu",
        "SELECT first(n) FROM cpu",
        "SELECT mean(n) FROM cpu GROUP BY /h/",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        CHECK(plan(refused[i], "host", &p) == 0 && p.why[0] != '\0', "refused: %s", refused[i]);
    CHECK(plan("SELECT n FROM cpu SLIMIT 1", NULL, &p) == 0, "SLIMIT refused even without a tag");
    CHECK(plan("EXPLAIN SELECT n FROM cpu", NULL, &p) == 0, "EXPLAIN refused");
    CHECK(plan("SELECT n FROM (SELECT n FROM cpu)", NULL, &p) == 0, "a subquery refused");
    CHECK(plan("SELECT count(n), host FROM cpu", "host", &p) == 0 && p.kind == SHARD_MERGE_ERROR,
          "fields beside count: only influxd's own error passes");
}

static void selects(void)
{
    selected("SELECT * FROM cpu, mem", NULL,
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"mem\",\"columns\":"
             "[\"time\",\"n\"],\"values\":[[1,2]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"f\",\"n\"],\"values\":[[0,0.5,1],[3,1.5,2]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"f\",\"n\"],\"values\":[[0,0.5,1],[3,1.5,2]]},{\"name\":\"mem\","
             "\"columns\":[\"time\",\"f\",\"n\"],\"values\":[[1,null,2]]}]}]}\n",
             "two measurements: by name, the wildcard's columns the union");
    selected("SELECT n FROM cpu, mem ORDER BY time DESC", NULL,
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"n\"],\"values\":[[1,2]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"mem\",\"columns\":"
             "[\"time\",\"n\"],\"values\":[[1,3]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"mem\",\"columns\":"
             "[\"time\",\"n\"],\"values\":[[1,3]]},{\"name\":\"cpu\",\"columns\":[\"time\","
             "\"n\"],\"values\":[[1,2]]}]}]}\n",
             "DESC: series in reverse order");
    selected("SELECT n FROM cpu LIMIT 3", "host",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"n\"],\"values\":[[\"1970-01-01T00:00:01Z\",1],"
             "[\"1970-01-01T00:00:02.5Z\",2],[\"1970-01-01T00:00:04Z\",4]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"n\"],\"values\":[[\"1970-01-01T00:00:02Z\",9]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"n\"],\"values\":[[\"1970-01-01T00:00:01Z\",1],"
             "[\"1970-01-01T00:00:02Z\",9],[\"1970-01-01T00:00:02.5Z\",2]]}]}]}\n",
             "raw points merged by time (RFC 3339 read), LIMIT after the merge");
    selected("SELECT count(n), sum(n), min(n), max(n) FROM cpu WHERE time >= 0 AND time < 2 "
             "GROUP BY time(1)",
             "host",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"count\",\"sum\",\"min\",\"max\"],\"values\":[[0,2,5,1,4],"
             "[1,0,null,null,null]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"count\",\"sum\",\"min\",\"max\"],\"values\":[[0,1,-3,-3,-3],"
             "[1,1,2.5,2.5,2.5]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"count\",\"sum\",\"min\",\"max\"],\"values\":[[0,3,2,-3,4],"
             "[1,1,2.5,2.5,2.5]]}]}]}\n",
             "per bucket: counts and sums added, min and max of both, null is none");
    selected("SELECT max(n), host FROM cpu", "host",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"max\",\"host\"],\"values\":[[7,9,\"a\"]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"max\",\"host\"],\"values\":[[3,9,\"b\"]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":"
             "[\"time\",\"max\",\"host\"],\"values\":[[3,9,\"b\"]]}]}]}\n",
             "max alone: the winner's row, the earlier on a tie");
    selected("SELECT count(n) FROM cpu GROUP BY *", "host",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":"
             "{\"host\":\"b\",\"rack\":\"r\"},\"columns\":[\"time\",\"count\"],\"values\":"
             "[[0,1]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":"
             "{\"host\":\"a\"},\"columns\":[\"time\",\"count\"],\"values\":[[0,2]]}]}]}",
             "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":"
             "{\"host\":\"a\",\"rack\":\"\"},\"columns\":[\"time\",\"count\"],\"values\":"
             "[[0,2]]},{\"name\":\"cpu\",\"tags\":{\"host\":\"b\",\"rack\":\"r\"},\"columns"
             "\":[\"time\",\"count\"],\"values\":[[0,1]]}]}]}\n",
             "GROUP BY *: tags widened, series ordered by their tags");
    struct shard_merge_plan p;
    CHECK_EQ_INT(plan("SELECT count(n), host FROM cpu", "host", &p), 0, "an ERROR plan");
    const char *ok = "{\"results\":[{\"statement_id\":0}]}";
    const char *bodies[] = {ok, ok};
    size_t lens[] = {strlen(ok), strlen(ok)};
    struct buf out, err;
    buf_init(&out);
    buf_init(&err);
    CHECK(shard_merge_answers_plan(bodies, lens, 2, &p, 1, &out, &err) == 0 &&
              strstr(out.data, "fields beside aggregates cannot be merged") != NULL,
          "an ERROR plan answered without error gives its why");
    buf_deinit(&out);
    buf_deinit(&err);
}

int main(void)
{
    plans();
    selects();
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
    merged("{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"k\"],"
           "\"values\":[[\"user\"]]},{\"name\":\"mem\",\"columns\":[\"k\"],\"values\":[[\"free\"]]}]}]}",
           "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"k\"],"
           "\"values\":[[\"idle\"],[\"user\"]]},{\"name\":\"disk\",\"columns\":[\"k\"],"
           "\"values\":[[\"used\"]]}]}]}",
           "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"k\"],"
           "\"values\":[[\"idle\"],[\"user\"]]},{\"name\":\"disk\",\"columns\":[\"k\"],"
           "\"values\":[[\"used\"]]},{\"name\":\"mem\",\"columns\":[\"k\"],\"values\":[[\"free\"]]"
           "}]}]}\n",
           "SHOW series by name, as influxd orders them, not by the shard they came from");
    merged("{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"k\"],"
           "\"values\":[[\"a\"]]},{\"name\":\"m\",\"tags\":{},\"columns\":[\"k\"],"
           "\"values\":[[\"b\"]]}]}]}",
           "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{},"
           "\"columns\":[\"k\"],\"values\":[[\"c\"]]},{\"name\":\"m\",\"columns\":[\"k\"],"
           "\"values\":[[\"d\"]]}]}]}",
           "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{},"
           "\"columns\":[\"k\"],\"values\":[[\"b\"],[\"c\"]]},{\"name\":\"m\",\"columns\":[\"k\"],"
           "\"values\":[[\"a\"],[\"d\"]]}]}]}\n",
           "SHOW series made one only when name, tags and columns are equal exactly");
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
