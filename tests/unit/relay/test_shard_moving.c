/* relay/shard_moving.c: the moving set read back from the log's state (pieces, generation,
 * header; a missing piece is IWR_ECORRUPT), which statements it refuses, with what, which
 * SELECTs it refuses (a tag in the key), and the condition a reshard's series keys make. */
#include "relay/shard_moving.h"

#include "common/err.h"
#include "relay/influxql_select.h"
#include "tests/unit/tap.h"
#include "wal/wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct wal *open_wal(const char *dir)
{
    struct wal_options o = {0};
    o.dir = dir;
    struct wal *w = NULL;
    int rc = wal_open(&w, &o);
    if (rc != 0)
        printf("# wal_open %s: %s\n", dir, iwr_strerror(rc));
    return w;
}

static const char moves[] =
    "[{\"database\":\"telegraf\",\"measurement\":\"cpu\",\"from\":\"s1\",\"to\":\"s3\"},"
    "{\"database\":\"telegraf\",\"measurement\":\"my mem\",\"from\":\"s2\",\"to\":\"s3\"},"
    "{\"database\":\"other\",\"measurement\":\"disk\",\"from\":\"s1\",\"to\":\"s3\"}]";

#define CPU_MSG                                                                                    \
    "measurement \"cpu\" in database \"telegraf\" is being moved from shard s1 to s3 by a "        \
    "reshard: retry when it is done"

int main(void)
{
    char tmpl[512];
    const char *t = getenv("TMPDIR");
    snprintf(tmpl, sizeof(tmpl), "%s/iwr-test-moving.XXXXXX", t != NULL && t[0] ? t : "/tmp");
    const char *dir = mkdtemp(tmpl);
    struct wal *w = dir != NULL ? open_wal(dir) : NULL;
    if (!CHECK(w != NULL, "a log"))
        return tap_done();

    struct shard_moving *mv = NULL;
    CHECK_EQ_INT(shard_moving_load(w, &mv), 0, "no state: nothing moves");
    struct buf msg;
    buf_init(&msg);
    CHECK_EQ_INT(shard_moving_refuses(mv, "DELETE FROM cpu", 15, "telegraf", 8, &msg), 0,
                 "nothing moving: a DELETE passes");
    shard_moving_free(mv);

    /* The set in two pieces of generation 3, as shard_moving_handle writes it. */
    size_t len = strlen(moves), cut = len / 2;
    CHECK_EQ_INT(wal_state_set_sync(w, SHARD_MOVING_STATE ".3.0", moves, cut), 0, "piece 0");
    CHECK_EQ_INT(wal_state_set_sync(w, SHARD_MOVING_STATE ".3.1", moves + cut, len - cut), 0,
                 "piece 1");
    CHECK_EQ_INT(wal_state_set_sync(w, SHARD_MOVING_STATE, "gen=3 n=2 seq=42", 16), 0, "header");
    CHECK_EQ_INT(shard_moving_load(w, &mv), 0, "the set read back");
    struct buf js;
    buf_init(&js);
    shard_moving_json(&js, mv);
    buf_append(&js, "", 1);
    CHECK(strstr(js.data, ",\"moving\":[{\"database\":\"telegraf\",\"measurement\":\"cpu\"") ==
                  js.data &&
              strstr(js.data, "\"moving_seq\":42") != NULL,
          "shown with its sequence");
    buf_deinit(&js);

    static const struct {
        const char *q, *db, *msg; /* msg NULL: passes */
    } cases[] = {
        {"DELETE FROM cpu", "telegraf", CPU_MSG},
        {"delete from \"cpu\" where time < 5", "telegraf", CPU_MSG},
        {"DELETE FROM cpu", "", CPU_MSG}, /* no db=: any database's cpu */
        {"DELETE FROM cpu", "other", NULL},
        {"DELETE FROM mem", "telegraf", NULL},
        {"DROP MEASUREMENT \"my mem\"", "telegraf",
         "measurement \"my mem\" in database \"telegraf\" is being moved from shard s2 to s3 by a "
         "reshard: retry when it is done"},
        {"DROP MEASUREMENT my", "telegraf", NULL},
        {"DROP SERIES /* c */ FROM mem, cpu WHERE host = 'a'", "telegraf", CPU_MSG},
        {"DROP SERIES FROM mem WHERE host = 'a'", "telegraf", NULL},
        {"CREATE DATABASE x; DELETE FROM cpu", "telegraf", CPU_MSG},
        {"DELETE WHERE time < 5", "telegraf",
         "DELETE without FROM may delete points of measurement \"cpu\" in database "
         "\"telegraf\", which is being moved from shard s1 to s3 by a reshard: retry when it is "
         "done"},
        {"DROP SERIES WHERE host = 'a'", "other",
         "DROP SERIES without FROM may delete points of measurement \"disk\" in database "
         "\"other\", which is being moved from shard s1 to s3 by a reshard: retry when it is "
         "done"},
        {"DELETE FROM mem, /^c/", "telegraf",
         "a regex in FROM may delete points of measurement \"cpu\" in database \"telegraf\", "
         "which is being moved from shard s1 to s3 by a reshard: retry when it is done"},
        {"DELETE FROM /x/", "nope", NULL},
        {"DROP DATABASE other", "",
         "DROP DATABASE may delete points of measurement \"disk\" in database \"other\", which "
         "is being moved from shard s1 to s3 by a reshard: retry when it is done"},
        {"DROP DATABASE nope", "telegraf", NULL},
        {"DROP RETENTION POLICY autogen ON telegraf", "",
         "DROP RETENTION POLICY may delete points of measurement \"cpu\" in database "
         "\"telegraf\", which is being moved from shard s1 to s3 by a reshard: retry when it is "
         "done"},
        {"DROP RETENTION POLICY autogen ON nope", "telegraf", NULL},
        {"CREATE DATABASE telegraf", "telegraf", NULL},
        {"DROP CONTINUOUS QUERY cpu ON telegraf", "telegraf", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_clear(&msg);
        int r = shard_moving_refuses(mv, cases[i].q, strlen(cases[i].q), cases[i].db,
                                     strlen(cases[i].db), &msg);
        CHECK_EQ_INT(r, cases[i].msg != NULL, cases[i].q);
        if (r && cases[i].msg != NULL) {
            buf_append(&msg, "", 1);
            CHECK_EQ_STR(msg.data, cases[i].msg, cases[i].q);
        }
    }

    /* SELECTs (with a tag in the key): refused when they may read a moving measurement. */
    static const struct {
        const char *q, *db;
        int refused;
    } reads[] = {
        {"SELECT count(n) FROM cpu", "telegraf", 1},
        {"SELECT * FROM \"my mem\" GROUP BY host", "telegraf", 1},
        {"SELECT * FROM \"my mem\"", "other", 0},
        {"SELECT * FROM telegraf.autogen.cpu", "other", 1},
        {"SELECT * FROM other..cpu", "telegraf", 0},
        {"SELECT * FROM mem, disk", "other", 1},
        {"SELECT * FROM mem", "telegraf", 0},
        {"SELECT * FROM /^x/", "other", 1},
        {"SELECT * FROM /^x/", "nope", 0},
        {"SELECT count(*) FROM (SELECT * FROM mem)", "telegraf", 1},
    };
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        struct iql_select sel;
        int parsed = iql_select_read(reads[i].q, strlen(reads[i].q), &sel) == 0;
        CHECK(parsed, "%s", reads[i].q);
        buf_clear(&msg);
        if (parsed)
            CHECK_EQ_INT(shard_moving_reads(mv, &sel, reads[i].db, strlen(reads[i].db), &msg),
                         reads[i].refused, reads[i].q);
        iql_select_deinit(&sel);
    }
    struct iql_select sel;
    iql_select_read("SELECT n FROM cpu", 17, &sel);
    buf_clear(&msg);
    shard_moving_reads(mv, &sel, "telegraf", 8, &msg);
    buf_append(&msg, "", 1);
    CHECK_EQ_STR(msg.data,
                 "measurement \"cpu\" in database \"telegraf\" is being moved from shard s1 to s3 "
                 "by a reshard, and with a tag in the shard key some of its series are on both "
                 "shards until it ends: no SELECT of it is merged meanwhile (SHOW statements "
                 "are); retry when it is done",
                 "the reason a SELECT gets");
    iql_select_deinit(&sel);
    shard_moving_free(mv);

    /* The condition of a reshard's series keys: tags quoted as identifiers, values as strings. */
    static const struct {
        const char *keys, *where; /* where NULL: refused */
    } kw[] = {
        {"[{\"host\":\"a\"}]", "((\"host\" = 'a'))"},
        {"[{\"host\":\"a\",\"dc\":\"\"},{\"host\":\"it's\",\"dc\":\"x\\\\y\"}]",
         "((\"host\" = 'a' AND \"dc\" = '') OR (\"host\" = 'it\\'s' AND \"dc\" = 'x\\\\y'))"},
        {"[{\"a\\\"b\":\"v\"}]", "((\"a\\\"b\" = 'v'))"},
        {"[]", NULL},
        {"[{}]", NULL},
        {"[{\"host\":1}]", NULL},
        {"[{\"\":\"v\"}]", NULL},
        {"{\"host\":\"a\"}", NULL},
    };
    for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++) {
        json_t *k = json_loads(kw[i].keys, 0, NULL);
        struct buf wb;
        buf_init(&wb);
        int r = shard_keys_where(&wb, k);
        CHECK_EQ_INT(r, kw[i].where != NULL ? 0 : -1, kw[i].keys);
        buf_append(&wb, "", 1);
        CHECK_EQ_STR(wb.data, kw[i].where != NULL ? kw[i].where : "", kw[i].keys);
        buf_deinit(&wb);
        json_decref(k);
    }

    /* A header naming a piece that is not there: the set cannot be trusted. */
    CHECK_EQ_INT(wal_state_set_sync(w, SHARD_MOVING_STATE, "gen=3 n=3 seq=42", 16), 0, "header");
    CHECK_EQ_INT(shard_moving_load(w, &mv), IWR_ECORRUPT, "a missing piece: IWR_ECORRUPT");
    shard_moving_free(mv);
    CHECK_EQ_INT(wal_state_set_sync(w, SHARD_MOVING_STATE, "gen=3 n=1 seq=42", 16), 0, "header");
    CHECK_EQ_INT(shard_moving_load(w, &mv), IWR_ECORRUPT, "half the text: IWR_ECORRUPT");
    shard_moving_free(mv);
    buf_deinit(&msg);
    wal_close(w);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
