/* relay/shard_split.c: the key a line is placed by (database, measurement with its escapes,
 * tag values; a missing tag is empty) and the shard it maps to through the ring. */
#include "relay/shard_split.h"

#include "relay/shard_ring.h"
#include "tests/unit/tap.h"

#include <string.h>

static const char *const names[] = {"s1", "s2", "s3"};

/* The shard the ring gives the key made of 'parts' (n of them, each ending in a 0 byte). */
static size_t want(const char *const *parts, size_t n)
{
    char key[256];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        memcpy(key + len, parts[i], l);
        len += l;
        key[len++] = '\0';
    }
    struct shard_ring *r = shard_ring_new(names, 3);
    size_t s = shard_ring_lookup(r, key, len);
    shard_ring_free(r);
    return s;
}

static size_t got(struct shard_split *s, const char *line)
{
    return shard_split_line(s, "db", 2, line, strlen(line));
}

int main(void)
{
    static const char *const dm[] = {"database", "measurement"};
    struct shard_split *s = shard_split_new(names, 3, dm, 2);
    static const struct {
        const char *line, *m;
    } cases[] = {
        {"cpu,host=a v=1 1\n", "cpu"},
        {"cpu v=1 1\n", "cpu"},
        {"c\\ pu,host=a v=1 1\n", "c\\ pu"},
        {"c\\,pu v=1 1", "c\\,pu"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *k[] = {"db", cases[i].m};
        CHECK_EQ_INT((long)got(s, cases[i].line), (long)want(k, 2), cases[i].line);
    }
    shard_split_free(s);
    CHECK(shard_split_new(names, 0, dm, 2) == NULL, "no shards: no splitter");

    static const char *const mh[] = {"measurement", "tag:host"};
    s = shard_split_new(names, 3, mh, 2);
    static const struct {
        const char *line, *m, *host;
    } tcases[] = {
        {"cpu,dc=x,host=web1 v=1 1\n", "cpu", "web1"},
        {"cpu,host=web\\ 2,z=1 v=1 1\n", "cpu", "web\\ 2"},
        {"cpu,hostname=h v=1 1\n", "cpu", ""},
        {"cpu v=1,host=\"f\" 1\n", "cpu", ""}, /* a field is not a tag */
    };
    for (size_t i = 0; i < sizeof(tcases) / sizeof(tcases[0]); i++) {
        const char *k[] = {tcases[i].m, tcases[i].host};
        CHECK_EQ_INT((long)got(s, tcases[i].line), (long)want(k, 2), tcases[i].line);
    }
    /* Lines of one measurement spread over shards by host with this key. */
    int seen[3] = {0};
    for (int i = 0; i < 64; i++) {
        char line[64];
        snprintf(line, sizeof(line), "cpu,host=h%d v=1 1\n", i);
        seen[got(s, line)] = 1;
    }
    CHECK(seen[0] && seen[1] && seen[2], "tag:host spreads one measurement over every shard");
    shard_split_free(s);

    static const struct {
        const char *q, *m;
    } st[] = {
        {"DROP MEASUREMENT cpu", "cpu"},
        {"drop  measurement \"c pu,x\";", "c\\ pu\\,x"},
        {"DELETE FROM mem\n", "mem"},
        {"DELETE FROM mem WHERE time < 0", NULL},
        {"DROP MEASUREMENT cpu; DROP MEASUREMENT mem", NULL},
        {"DROP SERIES FROM cpu", NULL},
        {"CREATE DATABASE x", NULL},
        {"DROP MEASUREMENT \"a\\\"b\"", NULL},
    };
    struct buf m;
    buf_init(&m);
    for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
        int rc = shard_split_statement_measurement(st[i].q, strlen(st[i].q), &m);
        if (st[i].m == NULL) {
            CHECK_EQ_INT(rc, 0, st[i].q);
        } else {
            buf_append(&m, "", 1);
            CHECK(rc == 1 && strcmp(m.data, st[i].m) == 0, "%s -> %s", st[i].q, st[i].m);
        }
    }

    /* Reads: the one measurement a statement names, or none (several or unknown shards). */
    static const struct {
        const char *q, *m;
    } rd[] = {
        {"SELECT count(n) FROM cpu", "cpu"},
        {"select * from \"c pu,x\" where time > now() - 1h group by *", "c\\ pu\\,x"},
        {"SELECT mean(v) FROM cpu WHERE host =~ /web/ GROUP BY time(1m)", "cpu"},
        {"EXPLAIN SELECT n FROM mem", "mem"},
        {"SHOW TAG KEYS FROM disk", "disk"},
        {"SHOW FIELD KEYS FROM \"a\\\"b\"", "a\"b"},
        {"SELECT n FROM \"from\"", "from"},
        {"SELECT * FROM (SELECT n FROM cpu)", NULL},
        {"SELECT n FROM cpu, mem", NULL},
        {"SELECT n FROM /c.*/", NULL},
        {"SELECT n FROM db.rp.cpu", NULL},
        {"SELECT n FROM rp.\"cpu\"", NULL},
        {"SELECT n FROM \"db\"..cpu", NULL},
        {"SHOW MEASUREMENTS", NULL},
        {"SHOW DATABASES", NULL},
        {"SHOW TAG KEYS ON otherdb FROM cpu", NULL},
        {"SELECT 1", NULL},
        {"SELECT n FROM", NULL},
        {"SELECT n FROM cpu; SELECT n FROM mem", NULL},
        {"SELECT n FROM \"unterminated", NULL},
    };
    for (size_t i = 0; i < sizeof(rd) / sizeof(rd[0]); i++) {
        int rc = shard_split_read_measurement(rd[i].q, strlen(rd[i].q), &m);
        if (rd[i].m == NULL) {
            CHECK_EQ_INT(rc, 0, rd[i].q);
        } else {
            buf_append(&m, "", 1);
            CHECK(rc == 1 && strcmp(m.data, rd[i].m) == 0, "%s -> %s", rd[i].q, rd[i].m);
        }
    }
    buf_deinit(&m);

    /* A measurement's shard is the one its lines go to; with a tag in the key, unknown. */
    s = shard_split_new(names, 3, dm, 2);
    static const char *const ms[] = {"cpu", "mem", "c\\ pu", "disk", "net"};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "%s,host=a v=1 1\n", ms[i]);
        CHECK_EQ_INT(shard_split_measurement_shard(s, "db", 2, ms[i], strlen(ms[i])),
                     (long)got(s, line), ms[i]);
    }
    CHECK_EQ_INT((long)shard_split_count(s), 3, "three shards");
    CHECK_EQ_STR(shard_split_name(s, 1), "s2", "shard 1 is s2");
    shard_split_free(s);
    s = shard_split_new(names, 3, mh, 2);
    CHECK_EQ_INT(shard_split_measurement_shard(s, "db", 2, "cpu", 3), -1,
                 "a tag in the key: the shard of a measurement is unknown");
    shard_split_free(s);
    return tap_done();
}
