/* relay/influxql_select.c: what a read SELECT names (sources, calls, GROUP BY, fill, paging,
 * order), table by table; and shapes it does not follow are refused, not guessed. */
#include "relay/influxql_select.h"

#include "common/err.h"
#include "tests/unit/tap.h"

#include <string.h>

static int rd(const char *q, struct iql_select *s)
{
    return iql_select_read(q, strlen(q), s);
}

/* The sources of q as "db|m;db|m" ("?" appended when some are unknown). */
static void sources(const char *q, const char *want)
{
    struct iql_select s;
    char got[256] = "";
    if (rd(q, &s) == 0) {
        for (size_t i = 0; i < s.n_sources; i++) {
            size_t n = strlen(got);
            snprintf(got + n, sizeof(got) - n, "%s%.*s|%.*s", i ? ";" : "",
                     (int)s.sources[i].db_len, s.names.data + s.sources[i].db_off,
                     (int)s.sources[i].m_len, s.names.data + s.sources[i].m_off);
        }
        if (s.sources_unknown)
            strncat(got, "?", sizeof(got) - strlen(got) - 1);
    } else {
        snprintf(got, sizeof(got), "EPARSE");
    }
    CHECK_EQ_STR(got, want, q);
    iql_select_deinit(&s);
}

int main(void)
{
    sources("SELECT * FROM cpu", "|cpu");
    sources("SELECT n FROM cpu, \"m e,m\"", "|cpu;|m\\ e\\,m");
    sources("select n from db.rp.cpu, rp.mem, other..disk", "db|cpu;|mem;other|disk");
    sources("SELECT n FROM /c.*/", "?");
    sources("SELECT n FROM cpu, db.rp./m/", "|cpu?");
    sources("SELECT mean(n) FROM (SELECT n FROM cpu)", "?");
    sources("SELECT n FROM cpu WHERE host =~ /a/ AND time > now() - 1h", "|cpu");
    sources("SELECT n FROM cpu -- comment\n, mem", "|cpu;|mem");
    sources("EXPLAIN ANALYZE SELECT n FROM cpu", "|cpu");
    sources("SELECT n INTO x FROM cpu", "EPARSE");
    sources("SELECT n FROM", "EPARSE");
    sources("SELECT FROM cpu", "EPARSE");
    sources("SELECT n FROM cpu,", "EPARSE");
    sources("SELECT n FROM cpu mem", "EPARSE");
    sources("SELECT n FROM 'cpu'", "EPARSE");
    sources("SHOW MEASUREMENTS", "EPARSE");
    sources("SELECT n FROM cpu LIMIT x", "EPARSE");
    sources("SELECT n FROM cpu ORDER BY host", "EPARSE");
    sources("SELECT n FROM cpu fill(sideways)", "EPARSE");
    sources("SELECT n FROM a\"b\"", "EPARSE");

    struct iql_select s;
    CHECK_EQ_INT(rd("SELECT count(n), SUM(n) AS total, max(f)::float FROM cpu WHERE time >= 0 "
                    "GROUP BY time(1m, 10s), host, \"r e\" fill(0) ORDER BY time DESC LIMIT 5 "
                    "OFFSET 2 tz('Europe/Paris')",
                    &s),
                 0, "a full SELECT reads");
    CHECK(s.n_calls == 3 && strcmp(s.calls[0], "count") == 0 && strcmp(s.calls[1], "sum") == 0 &&
              strcmp(s.calls[2], "max") == 0,
          "its calls in order, lower case");
    CHECK(!s.raw_fields && !s.call_expr && !s.wildcard && !s.call_wildcard, "calls only");
    CHECK(s.group_time && !s.group_all && s.n_group_tags == 2, "GROUP BY time and two tags");
    CHECK(iql_select_groups_by(&s, "host", 4) && iql_select_groups_by(&s, "r e", 3) &&
              !iql_select_groups_by(&s, "rack", 4),
          "which tags GROUP BY names");
    CHECK(s.fill == IQL_FILL_ZERO && s.desc && s.limit == 5 && s.offset == 2 && s.slimit == 0,
          "fill(0), DESC, LIMIT 5, OFFSET 2");
    iql_select_deinit(&s);

    static const struct {
        const char *q;
        int raw, expr, wild, cwild, gall, gregex;
        enum iql_fill fill;
    } shapes[] = {
        {"SELECT * FROM cpu", 0, 0, 1, 0, 0, 0, IQL_FILL_NULL},
        {"SELECT /n/ FROM cpu", 0, 0, 1, 0, 0, 0, IQL_FILL_NULL},
        {"SELECT n, host FROM cpu", 1, 0, 0, 0, 0, 0, IQL_FILL_NULL},
        {"SELECT n * 2 FROM cpu", 1, 0, 0, 0, 0, 0, IQL_FILL_NULL},
        {"SELECT count(*) FROM cpu GROUP BY *", 0, 0, 0, 1, 1, 0, IQL_FILL_NULL},
        {"SELECT count(/n/) FROM cpu GROUP BY /h/", 0, 0, 0, 1, 0, 1, IQL_FILL_NULL},
        {"SELECT sum(n) / count(n) FROM cpu", 0, 1, 0, 0, 0, 0, IQL_FILL_NULL},
        {"SELECT count(distinct(n)) FROM cpu", 0, 1, 0, 0, 0, 0, IQL_FILL_NULL},
        {"SELECT count(DISTINCT n) FROM cpu", 0, 1, 0, 0, 0, 0, IQL_FILL_NULL},
        {"SELECT max(n), host FROM cpu fill(none)", 1, 0, 0, 0, 0, 0, IQL_FILL_NONE},
        {"SELECT mean(n) FROM cpu GROUP BY time(1m) fill(previous)", 0, 0, 0, 0, 0, 0,
         IQL_FILL_PREVIOUS},
        {"SELECT mean(n) FROM cpu GROUP BY time(1m) fill(linear)", 0, 0, 0, 0, 0, 0,
         IQL_FILL_LINEAR},
        {"SELECT mean(n) FROM cpu GROUP BY time(1m) fill(-1)", 0, 0, 0, 0, 0, 0, IQL_FILL_NUMBER},
        {"SELECT mean(n) FROM cpu GROUP BY time(1m) fill(0.0)", 0, 0, 0, 0, 0, 0, IQL_FILL_ZERO},
        {"SELECT mean(n) FROM cpu GROUP BY time(1m) fill(2.5)", 0, 0, 0, 0, 0, 0, IQL_FILL_NUMBER},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        int ok = rd(shapes[i].q, &s) == 0 && s.raw_fields == shapes[i].raw &&
                 s.call_expr == shapes[i].expr && s.wildcard == shapes[i].wild &&
                 s.call_wildcard == shapes[i].cwild && s.group_all == shapes[i].gall &&
                 s.group_regex == shapes[i].gregex && s.fill == shapes[i].fill;
        CHECK(ok, "shape of %s", shapes[i].q);
        iql_select_deinit(&s);
    }
    CHECK_EQ_INT(rd("SELECT n FROM cpu SLIMIT 3 SOFFSET 1", &s), 0, "SLIMIT and SOFFSET read");
    CHECK(s.slimit == 3 && s.soffset == 1, "their values");
    iql_select_deinit(&s);
    CHECK_EQ_INT(rd("EXPLAIN SELECT count(n) FROM cpu", &s), 0, "EXPLAIN reads");
    CHECK(s.explain && s.n_calls == 1, "as EXPLAIN");
    iql_select_deinit(&s);
    CHECK_EQ_INT(rd("SELECT n FROM cpu; SELECT n FROM mem", &s), IWR_EPARSE,
                 "one statement only (a ';' is refused)");
    iql_select_deinit(&s);
    return tap_done();
}
