/* influx-wal reshard (--plan | --apply) --config FILE [--relay URL]...: move to the shards that
 * a ring over every configured shard gives them the measurements that a ring over the active
 * shards (the relays' GET /api/shards) puts elsewhere.
 *
 * --plan reads every active shard's measurements on one of its backends that is up and caught
 * up on every relay, and prints the ones that move, with their points there (SELECT count(*):
 * the largest count of any field, in the default retention policy).
 *
 * --apply runs these steps, each one a logfmt line on stderr (a redrawn line on a terminal),
 * the step reached kept in a state file next to the config (CONFIG.reshard, JSON, written
 * whole and renamed), so that running --apply again resumes where it stopped:
 *
 *   copy     each moving measurement from its old shard's backend into every backend of its
 *            new shard, while writes go on to the old shard (reshard_copy.c), then once more
 *            for what changed meanwhile (values that differ are the old shard's: overwritten)
 *   switch   POST /api/shards/activate on every relay: each routes with the new ring from its
 *            switch record on
 *   settle   until, on every relay, every backend of an old shard has passed that relay's
 *            switch record (cursor >= switch_seq): from then on nothing reaches the old shard
 *            for a moved measurement, so what it holds is final
 *   sync     again from every backend of the old shard to every backend of the new one, which
 *            copies what reached the old shard between the copy and the switch, writing only
 *            fields the new side lacks (one it holds may be a rewrite made after the switch);
 *            then the same comparison without copying must find nothing the new side lacks
 *   drop     POST /api/shards/drop on the first relay (a DROP MEASUREMENT in its log for the
 *            old shard only), until the old shard's backends passed it and hold no point of
 *            the measurement; then the state file goes
 *
 * --keep-old stops before the drop (the state stays: a later --apply drops). One thread. */
#include "cmd/influx-wal/rebuild.h"
#include "cmd/influx-wal/reshard.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/xalloc.h"
#include "config/config.h"
#include "relay/shard_split.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_URLS 16
#define MAX_SHARDS 64

struct rs_relay {
    const char *url;
    uint64_t switch_seq; /* 0: not switched yet */
};

struct reshard {
    struct cli *cli;
    const char *config_path;
    struct config cfg;
    const char *urls[MAX_URLS];
    size_t n_urls;
    struct rs_relay relays[MAX_RELAYS];
    size_t n_relays;
    char *active[MAX_SHARDS], *target[MAX_SHARDS];
    size_t n_active, n_target;
    struct reshard_move *moves;
    size_t n_moves;
    char state_path[1100];
    char phase[16];
    int json, keep_old;
    uint64_t timeout_ms;
    struct progress pg;
    uint64_t copied; /* points written to the new shards, this run */
};

/* A step: a logfmt line, or on a terminal the progress line kept on a line of its own. */
__attribute__((format(printf, 2, 3))) static void step(struct reshard *rs, const char *fmt, ...)
{
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    progress_step(&rs->pg, 0, "%s", detail);
    if (rs->pg.tty && rs->pg.drawn) {
        fprintf(stderr, "  %s\n", detail);
        rs->pg.drawn = 0;
    }
}

static void names_clear(char **v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free(v[i]);
    *n = 0;
}

static int names_have(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

static void moves_clear(struct reshard *rs)
{
    for (size_t i = 0; i < rs->n_moves; i++) {
        free(rs->moves[i].db);
        free(rs->moves[i].m);
        free(rs->moves[i].from);
        free(rs->moves[i].to);
    }
    free(rs->moves);
    rs->moves = NULL;
    rs->n_moves = 0;
}

/* ---- the relays ---------------------------------------------------------------------------- */

/* GET /api/shards on relay i into *doc. 0, or 1 after a message. */
static int relay_shards(struct reshard *rs, size_t i, json_t **doc)
{
    long status = 0;
    int rc = rb_relay_call(rs->cli, rs->relays[i].url, 0, "/api/shards", &status, doc);
    if (rc == 0 && status != 200) {
        const char *err = influx_str_at(*doc, "error");
        rc = cli_fail(rs->cli, "relay %s: GET /api/shards answered %ld %s", rs->relays[i].url,
                      status, err != NULL ? err : "");
        json_decref(*doc);
        *doc = NULL;
    }
    return rc;
}

/* The names in array 'a' into v (replacing what was there). */
static void names_of(const json_t *a, char **v, size_t *n)
{
    names_clear(v, n);
    for (size_t i = 0; i < json_array_size(a) && *n < MAX_SHARDS; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (s != NULL)
            v[(*n)++] = xstrdup(s);
    }
}

static void csv(struct buf *b, char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_append(b, ",", 1);
        buf_append_str(b, v[i]);
    }
    buf_append(b, "", 1);
    b->len--;
}

/* The active shards, the same on every relay. 0, or 1 after a message. */
static int read_active(struct reshard *rs)
{
    struct buf first;
    buf_init(&first);
    int rc = 0;
    for (size_t i = 0; i < rs->n_relays && rc == 0; i++) {
        json_t *doc = NULL;
        rc = relay_shards(rs, i, &doc);
        if (rc != 0)
            break;
        char *v[MAX_SHARDS];
        size_t n = 0;
        names_of(json_object_get(json_object_get(doc, "shards"), "active"), v, &n);
        struct buf b;
        buf_init(&b);
        csv(&b, v, n);
        if (i == 0) {
            buf_append(&first, b.data, b.len + 1);
            names_clear(rs->active, &rs->n_active);
            for (size_t k = 0; k < n; k++)
                rs->active[rs->n_active++] = xstrdup(v[k]);
        } else if (strcmp(first.data, b.data) != 0) {
            rc = cli_fail(rs->cli,
                          "the relays route with different shards: %s has %s, %s has %s (a "
                          "reshard was interrupted? run --apply with the state file %s)",
                          rs->relays[0].url, first.data, rs->relays[i].url, b.data, rs->state_path);
        }
        buf_deinit(&b);
        names_clear(v, &n);
        json_decref(doc);
    }
    buf_deinit(&first);
    return rc;
}

/* Whether backend 'name' is up and caught up on every relay (*ok), and whether its cursor is
 * at or past 'seq' on every relay (*passed; seq per relay from rs->relays[].switch_seq when
 * 'seq' is UINT64_MAX; with 'seq' 0: whether it is up on every relay). 0, or 1 after a
 * message. */
static int backend_on_relays(struct reshard *rs, const char *name, uint64_t seq, int *ok,
                             int *passed)
{
    *ok = *passed = 1;
    for (size_t i = 0; i < rs->n_relays; i++) {
        json_t *doc = NULL;
        if (relay_shards(rs, i, &doc) != 0)
            return 1;
        json_t *bs = json_object_get(doc, "backends");
        int found = 0;
        for (size_t k = 0; k < json_array_size(bs); k++) {
            json_t *b = json_array_get(bs, k);
            if (strcmp(influx_str_at(b, "name") ? influx_str_at(b, "name") : "", name) != 0)
                continue;
            found = 1;
            uint64_t cur = (uint64_t)json_integer_value(json_object_get(b, "cursor"));
            uint64_t want = seq == UINT64_MAX ? rs->relays[i].switch_seq : seq;
            int is_up = json_is_true(json_object_get(b, "up"));
            *ok &= is_up && json_is_true(json_object_get(b, "caught_up"));
            *passed &= cur >= want && (seq != 0 || is_up);
        }
        json_decref(doc);
        if (!found) {
            *ok = *passed = 0;
            return 0;
        }
    }
    return 0;
}

static const struct cfg_shard *shard_cfg(const struct reshard *rs, const char *name)
{
    for (size_t i = 0; i < rs->cfg.n_shards; i++)
        if (strcmp(rs->cfg.shards[i].name, name) == 0)
            return &rs->cfg.shards[i];
    return NULL;
}

/* A backend of shard 'name' into *out (borrowed from the config): one up and caught up on
 * every relay if there is one (asked a few times: under load a backend is caught up between
 * batches), else one up on every relay (what it still lacks reaches it from the logs; the
 * sync after the switch reads every backend of the shard). 0, or 1 after a message. */
static int pick_backend(struct reshard *rs, const char *name, const char **out)
{
    const struct cfg_shard *s = shard_cfg(rs, name);
    if (s == NULL)
        return cli_fail(rs->cli, "shard %s is not in %s", name, rs->config_path);
    const char *up = NULL;
    for (int attempt = 0; attempt < 10; attempt++) {
        for (size_t j = 0; j < s->n_backends; j++) {
            int ok, passed;
            if (backend_on_relays(rs, s->backends[j], 0, &ok, &passed) != 0)
                return 1;
            if (ok) {
                *out = s->backends[j];
                return 0;
            }
            if (passed && up == NULL) /* passed: found on every relay */
                up = s->backends[j];
        }
        usleep(100000);
    }
    if (up != NULL) {
        *out = up;
        return 0;
    }
    return cli_fail(rs->cli, "shard %s has no backend up on every relay", name);
}

struct conn {
    struct cli_backend be;
    struct influx *c;
};

static int conn_open(struct reshard *rs, const char *name, struct conn *k)
{
    memset(k, 0, sizeof(*k));
    int rc = cli_backend_resolve(rs->cli, rs->config_path, rs->urls, rs->n_urls, name, &k->be);
    if (rc == 0)
        rc = influx_open(rs->cli, &k->be, &k->c);
    return rc;
}

static void conn_close(struct conn *k)
{
    influx_close(k->c);
    cli_backend_deinit(&k->be);
    memset(k, 0, sizeof(*k));
}

/* ---- the plan ------------------------------------------------------------------------------ */

static int collect_first(void *arg, const json_t *res)
{
    struct names *nm = arg;
    if (influx_str_at(res, "error") != NULL)
        return 0;
    return rb_collect_names(arg, res) == 0 ? 0 : (nm->err = "refused", 5);
}

static int show_names(struct reshard *rs, struct influx *c, const char *q, struct names *out)
{
    memset(out, 0, sizeof(*out));
    int rc = influx_query(c, NULL, q, collect_first, out);
    if (rc == 5)
        rc = cli_fail(rs->cli, "%s refused %s", influx_name(c), q);
    return rc;
}

struct count {
    uint64_t max;
};

static int count_result(void *arg, const json_t *res)
{
    struct count *n = arg;
    const json_t *all = json_object_get(res, "series");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *vals = json_object_get(json_array_get(all, i), "values");
        for (size_t r = 0; r < json_array_size(vals); r++) {
            const json_t *row = json_array_get(vals, r);
            for (size_t c = 1; c < json_array_size(row); c++) {
                json_int_t v = json_integer_value(json_array_get(row, c));
                if (v > 0 && (uint64_t)v > n->max)
                    n->max = (uint64_t)v;
            }
        }
    }
    return 0;
}

/* Measurement 'm' as line protocol writes it (',' and ' ' escaped): the ring's key. */
static void lp_name(struct buf *b, const char *m)
{
    buf_clear(b);
    for (const char *p = m; *p; p++) {
        if (*p == ',' || *p == ' ')
            buf_append(b, "\\", 1);
        buf_append(b, p, 1);
    }
}

static int move_cmp(const void *x, const void *y)
{
    const struct reshard_move *a = x, *b = y;
    int c = strcmp(a->db, b->db);
    return c != 0 ? c : strcmp(a->m, b->m);
}

static int make_plan(struct reshard *rs)
{
    for (size_t i = 0; i < rs->cfg.n_shard_key; i++)
        if (strncmp(rs->cfg.shard_key[i], "tag:", 4) == 0)
            return cli_fail(rs->cli, "reshard needs a [sharding] key of database and measurement "
                                     "only: with a tag in it a measurement is spread over shards");
    struct shard_split *old =
        shard_split_new((const char *const *)rs->active, rs->n_active,
                        (const char *const *)rs->cfg.shard_key, rs->cfg.n_shard_key);
    struct shard_split *neu =
        shard_split_new((const char *const *)rs->target, rs->n_target,
                        (const char *const *)rs->cfg.shard_key, rs->cfg.n_shard_key);
    struct buf q, key;
    buf_init(&q);
    buf_init(&key);
    int rc = 0;
    for (size_t s = 0; s < rs->n_active && rc == 0; s++) {
        const char *name = NULL;
        rc = pick_backend(rs, rs->active[s], &name);
        struct conn k;
        if (rc == 0)
            rc = conn_open(rs, name, &k);
        if (rc != 0)
            break;
        struct names dbs;
        rc = show_names(rs, k.c, "SHOW DATABASES", &dbs);
        for (size_t d = 0; d < dbs.n && rc == 0; d++) {
            const char *db = dbs.v[d];
            if (strcmp(db, "_internal") == 0)
                continue;
            buf_clear(&q);
            buf_append_str(&q, "SHOW MEASUREMENTS ON ");
            influx_quote_ident(&q, db);
            buf_append(&q, "", 1);
            struct names ms;
            rc = show_names(rs, k.c, q.data, &ms);
            for (size_t j = 0; j < ms.n && rc == 0; j++) {
                lp_name(&key, ms.v[j]);
                int o = shard_split_measurement_shard(old, db, strlen(db), key.data, key.len);
                int n = shard_split_measurement_shard(neu, db, strlen(db), key.data, key.len);
                const char *from = shard_split_name(old, (size_t)o);
                const char *to = shard_split_name(neu, (size_t)n);
                if (strcmp(from, rs->active[s]) != 0 || strcmp(from, to) == 0)
                    continue; /* not this shard's (left over), or it stays */
                buf_clear(&q);
                buf_append_str(&q, "SELECT count(*) FROM ");
                influx_quote_ident(&q, ms.v[j]);
                buf_append(&q, "", 1);
                struct count cnt = {0};
                rc = influx_query(k.c, db, q.data, count_result, &cnt);
                rs->moves = xrealloc(rs->moves, (rs->n_moves + 1) * sizeof(*rs->moves));
                struct reshard_move *mv = &rs->moves[rs->n_moves++];
                memset(mv, 0, sizeof(*mv));
                mv->db = xstrdup(db);
                mv->m = xstrdup(ms.v[j]);
                mv->from = xstrdup(from);
                mv->to = xstrdup(to);
                mv->points = cnt.max;
            }
            rb_names_free(&ms);
        }
        rb_names_free(&dbs);
        conn_close(&k);
    }
    buf_deinit(&q);
    buf_deinit(&key);
    shard_split_free(old);
    shard_split_free(neu);
    if (rs->n_moves > 1)
        qsort(rs->moves, rs->n_moves, sizeof(*rs->moves), move_cmp);
    return rc;
}

static void json_strv(json_t *o, const char *key, char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    json_object_set_new(o, key, a);
}

static json_t *plan_json(const struct reshard *rs)
{
    json_t *o = json_object();
    json_strv(o, "active", rs->active, rs->n_active);
    json_strv(o, "target", rs->target, rs->n_target);
    json_t *a = json_array();
    uint64_t total = 0;
    for (size_t i = 0; i < rs->n_moves; i++) {
        const struct reshard_move *m = &rs->moves[i];
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:I}", "database", m->db,
                                           "measurement", m->m, "from", m->from, "to", m->to,
                                           "points", (json_int_t)m->points));
        total += m->points;
    }
    json_object_set_new(o, "moves", a);
    json_object_set_new(o, "points", json_integer((json_int_t)total));
    return o;
}

/* A name in a logfmt value: quoted when it holds a space, '=' or '"'. */
static void lf(FILE *f, const char *s)
{
    if (s[0] != '\0' && strpbrk(s, " =\"\\") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void print_plan(const struct reshard *rs)
{
    if (rs->json) {
        json_t *o = plan_json(rs);
        char *text = json_dumps(o, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
        json_decref(o);
        return;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < rs->n_moves; i++) {
        const struct reshard_move *m = &rs->moves[i];
        printf("move db=");
        lf(stdout, m->db);
        printf(" measurement=");
        lf(stdout, m->m);
        printf(" from=%s to=%s points=%" PRIu64 "\n", m->from, m->to, m->points);
        total += m->points;
    }
    struct buf a, t;
    buf_init(&a);
    buf_init(&t);
    csv(&a, rs->active, rs->n_active);
    csv(&t, rs->target, rs->n_target);
    printf("plan active=%s target=%s measurements=%zu points=%" PRIu64 "\n", a.data, t.data,
           rs->n_moves, total);
    buf_deinit(&a);
    buf_deinit(&t);
}

/* ---- the state file ------------------------------------------------------------------------ */

static int state_save(struct reshard *rs)
{
    json_t *o = plan_json(rs);
    json_object_set_new(o, "phase", json_string(rs->phase));
    json_t *rl = json_array();
    for (size_t i = 0; i < rs->n_relays; i++)
        json_array_append_new(rl, json_pack("{s:s,s:I}", "url", rs->relays[i].url, "switch_seq",
                                            (json_int_t)rs->relays[i].switch_seq));
    json_object_set_new(o, "relays", rl);
    json_t *ds = json_array();
    for (size_t i = 0; i < rs->n_moves; i++)
        json_array_append_new(ds, json_integer((json_int_t)rs->moves[i].drop_seq));
    json_object_set_new(o, "drop_seqs", ds);
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", rs->state_path);
    int rc = json_dump_file(o, tmp, JSON_INDENT(1));
    json_decref(o);
    FILE *f = rc == 0 ? fopen(tmp, "r+") : NULL;
    if (f != NULL) {
        rc = fflush(f) != 0 || fsync(fileno(f)) != 0;
        fclose(f);
    } else {
        rc = 1;
    }
    if (rc == 0 && rename(tmp, rs->state_path) != 0)
        rc = 1;
    if (rc != 0)
        return cli_fail(rs->cli, "cannot write the state file %s: %s", rs->state_path,
                        strerror(errno));
    return 0;
}

/* 0 with rs->phase "" when there is no state file; 1 after a message. */
static int state_load(struct reshard *rs)
{
    rs->phase[0] = '\0';
    if (access(rs->state_path, F_OK) != 0)
        return 0;
    json_error_t jerr;
    json_t *o = json_load_file(rs->state_path, 0, &jerr);
    const char *phase = influx_str_at(o, "phase");
    if (o == NULL || phase == NULL)
        return cli_fail(rs->cli,
                        "the state file %s is not readable: %s (remove it to start "
                        "over)",
                        rs->state_path, o == NULL ? jerr.text : "no phase");
    snprintf(rs->phase, sizeof(rs->phase), "%s", phase);
    names_of(json_object_get(o, "active"), rs->active, &rs->n_active);
    char *t[MAX_SHARDS];
    size_t nt = 0;
    names_of(json_object_get(o, "target"), t, &nt);
    int same = nt == rs->n_target;
    for (size_t i = 0; same && i < nt; i++)
        same = strcmp(t[i], rs->target[i]) == 0;
    names_clear(t, &nt);
    if (!same) {
        json_decref(o);
        return cli_fail(rs->cli, "the state file %s is for other shards than %s has now",
                        rs->state_path, rs->config_path);
    }
    json_t *mv = json_object_get(o, "moves"), *ds = json_object_get(o, "drop_seqs");
    moves_clear(rs);
    for (size_t i = 0; i < json_array_size(mv); i++) {
        json_t *m = json_array_get(mv, i);
        rs->moves = xrealloc(rs->moves, (rs->n_moves + 1) * sizeof(*rs->moves));
        struct reshard_move *x = &rs->moves[rs->n_moves++];
        memset(x, 0, sizeof(*x));
        x->db = xstrdup(influx_str_at(m, "database") ? influx_str_at(m, "database") : "");
        x->m = xstrdup(influx_str_at(m, "measurement") ? influx_str_at(m, "measurement") : "");
        x->from = xstrdup(influx_str_at(m, "from") ? influx_str_at(m, "from") : "");
        x->to = xstrdup(influx_str_at(m, "to") ? influx_str_at(m, "to") : "");
        x->points = (uint64_t)json_integer_value(json_object_get(m, "points"));
        x->drop_seq = (uint64_t)json_integer_value(json_array_get(ds, i));
    }
    json_t *rl = json_object_get(o, "relays");
    for (size_t i = 0; i < json_array_size(rl); i++) {
        const char *url = influx_str_at(json_array_get(rl, i), "url");
        for (size_t k = 0; url != NULL && k < rs->n_relays; k++)
            if (strcmp(rs->relays[k].url, url) == 0)
                rs->relays[k].switch_seq = (uint64_t)json_integer_value(
                    json_object_get(json_array_get(rl, i), "switch_seq"));
    }
    json_decref(o);
    return 0;
}

static int set_phase(struct reshard *rs, const char *phase)
{
    snprintf(rs->phase, sizeof(rs->phase), "%s", phase);
    return state_save(rs);
}

/* ---- the steps of --apply ------------------------------------------------------------------ */

/* Sync move 'mv' from backend 'from' to every backend of its new shard as 'mode' says; what
 * they lacked is added to *lacking. */
static int sync_move(struct reshard *rs, struct reshard_move *mv, const char *from,
                     enum reshard_mode mode, uint64_t *lacking)
{
    const struct cfg_shard *to = shard_cfg(rs, mv->to);
    if (to == NULL)
        return cli_fail(rs->cli, "shard %s is not in %s", mv->to, rs->config_path);
    struct conn src;
    int rc = conn_open(rs, from, &src);
    for (size_t j = 0; rc == 0 && j < to->n_backends; j++) {
        struct conn dst;
        rc = conn_open(rs, to->backends[j], &dst);
        struct reshard_sync out = {0};
        if (rc == 0)
            rc = reshard_sync_measurement(rs->cli, src.c, dst.c, mv->db, mv->m, mode,
                                          mode != RESHARD_COUNT ? &rs->pg : NULL, &out);
        if (rc == 0) {
            rs->copied += out.written;
            *lacking += out.lacking;
            step(rs,
                 "step=%s db=%s measurement=%s from=%s to=%s lacking=%" PRIu64 " written=%" PRIu64,
                 mode == RESHARD_OVERWRITE ? "copy"
                 : mode == RESHARD_FILL    ? "fill"
                                           : "compare",
                 mv->db, mv->m, from, to->backends[j], out.lacking, out.written);
        }
        conn_close(&dst);
    }
    conn_close(&src);
    return rc;
}

/* Poll until fn says done (1), with the deadline of --timeout; 0 done, 1 after a message. */
static int wait_for(struct reshard *rs, int (*fn)(struct reshard *rs, char *why, size_t cap),
                    const char *what)
{
    uint64_t end = clock_monotonic_ns() + rs->timeout_ms * 1000000ull;
    char why[300] = "";
    for (;;) {
        int d = fn(rs, why, sizeof(why));
        if (d < 0)
            return 1;
        if (d > 0)
            return 0;
        if (clock_monotonic_ns() > end)
            return cli_fail(rs->cli,
                            "%s: still waiting after %" PRIu64 " s: %s (run --apply "
                            "again to resume)",
                            what, rs->timeout_ms / 1000, why);
        usleep(200000);
    }
}

/* Every backend of every shard a measurement leaves has passed each relay's switch record. */
static int settled(struct reshard *rs, char *why, size_t cap)
{
    for (size_t i = 0; i < rs->n_moves; i++) {
        const struct cfg_shard *s = shard_cfg(rs, rs->moves[i].from);
        for (size_t j = 0; s != NULL && j < s->n_backends; j++) {
            int ok, passed;
            if (backend_on_relays(rs, s->backends[j], UINT64_MAX, &ok, &passed) != 0)
                return -1;
            if (!passed) {
                snprintf(why, cap, "backend %s (shard %s) has not passed the switch record",
                         s->backends[j], s->name);
                return 0;
            }
        }
    }
    return 1;
}

static int relay_post(struct reshard *rs, size_t i, struct buf *path, json_t **doc)
{
    long status = 0;
    buf_append(path, "", 1);
    int rc = rb_relay_call(rs->cli, rs->relays[i].url, 1, path->data, &status, doc);
    if (rc == 0 && status != 200) {
        const char *err = influx_str_at(*doc, "error");
        rc = cli_fail(rs->cli, "relay %s refused %s: %ld %s", rs->relays[i].url, path->data, status,
                      err != NULL ? err : "");
        json_decref(*doc);
        *doc = NULL;
    }
    return rc;
}

static int do_switch(struct reshard *rs)
{
    struct buf t;
    buf_init(&t);
    csv(&t, rs->target, rs->n_target);
    char *et = curl_easy_escape(NULL, t.data, 0);
    int rc = 0;
    for (size_t i = 0; i < rs->n_relays && rc == 0; i++) {
        struct buf p;
        buf_init(&p);
        buf_printf(&p, "/api/shards/activate?shards=%s", et);
        json_t *doc = NULL;
        rc = relay_post(rs, i, &p, &doc);
        if (rc == 0) {
            rs->relays[i].switch_seq = (uint64_t)json_integer_value(
                json_object_get(json_object_get(doc, "shards"), "switch_seq"));
            step(rs, "step=switch relay=%s shards=%s switch_seq=%" PRIu64, rs->relays[i].url,
                 t.data, rs->relays[i].switch_seq);
            rc = state_save(rs);
        }
        json_decref(doc);
        buf_deinit(&p);
    }
    curl_free(et);
    buf_deinit(&t);
    return rc;
}

static int dropped(struct reshard *rs, char *why, size_t cap)
{
    struct buf q;
    buf_init(&q);
    int done = 1;
    for (size_t i = 0; i < rs->n_moves && done == 1; i++) {
        const struct reshard_move *mv = &rs->moves[i];
        const struct cfg_shard *s = shard_cfg(rs, mv->from);
        for (size_t j = 0; s != NULL && j < s->n_backends && done == 1; j++) {
            int ok, passed;
            struct rs_relay keep = rs->relays[0];
            size_t n = rs->n_relays;
            rs->n_relays = 1; /* the DROP is in the first relay's log only */
            int rc = backend_on_relays(rs, s->backends[j], mv->drop_seq, &ok, &passed);
            rs->n_relays = n;
            rs->relays[0] = keep;
            if (rc != 0) {
                done = -1;
                break;
            }
            if (!passed) {
                snprintf(why, cap, "backend %s has not applied the DROP MEASUREMENT of %s",
                         s->backends[j], mv->m);
                done = 0;
                break;
            }
            struct conn k;
            if (conn_open(rs, s->backends[j], &k) != 0) {
                done = -1;
                break;
            }
            /* Points, not SHOW MEASUREMENTS: influxd 1.6 may go on listing a dropped
             * measurement until it restarts (seen when the measurement had a shard group of
             * its own for an old point). */
            buf_clear(&q);
            buf_append_str(&q, "SELECT count(*) FROM ");
            influx_quote_ident(&q, mv->db);
            buf_append_str(&q, "..");
            influx_quote_ident(&q, mv->m);
            buf_append(&q, "", 1);
            struct count cnt = {0};
            if (influx_query(k.c, mv->db, q.data, count_result, &cnt) != 0) {
                done = -1;
            } else if (cnt.max > 0) {
                snprintf(why, cap, "backend %s still holds %" PRIu64 " points of %s",
                         s->backends[j], cnt.max, mv->m);
                done = 0;
            }
            conn_close(&k);
        }
    }
    buf_deinit(&q);
    return done;
}

static int do_drop(struct reshard *rs)
{
    int rc = 0;
    for (size_t i = 0; i < rs->n_moves && rc == 0; i++) {
        struct reshard_move *mv = &rs->moves[i];
        if (mv->drop_seq != 0)
            continue;
        char *es = curl_easy_escape(NULL, mv->from, 0);
        char *ed = curl_easy_escape(NULL, mv->db, 0);
        char *em = curl_easy_escape(NULL, mv->m, 0);
        struct buf p;
        buf_init(&p);
        buf_printf(&p, "/api/shards/drop?shard=%s&db=%s&measurement=%s", es, ed, em);
        curl_free(es);
        curl_free(ed);
        curl_free(em);
        json_t *doc = NULL;
        rc = relay_post(rs, 0, &p, &doc);
        if (rc == 0) {
            mv->drop_seq = (uint64_t)json_integer_value(json_object_get(doc, "seq"));
            step(rs, "step=drop db=%s measurement=%s shard=%s seq=%" PRIu64, mv->db, mv->m,
                 mv->from, mv->drop_seq);
            rc = state_save(rs);
        }
        json_decref(doc);
        buf_deinit(&p);
    }
    if (rc == 0)
        rc = wait_for(rs, dropped, "drop");
    return rc;
}

static int apply(struct reshard *rs)
{
    int rc = 0;
    uint64_t t0 = clock_monotonic_ns();
    if (strcmp(rs->phase, "copy") == 0) {
        uint64_t total = 0;
        for (size_t i = 0; i < rs->n_moves; i++) {
            const struct cfg_shard *to = shard_cfg(rs, rs->moves[i].to);
            total += rs->moves[i].points * (to != NULL ? to->n_backends : 1);
        }
        rs->pg.total = total;
        /* Two passes: the first copies everything, the second (at once before the switch)
         * what changed on the old shard meanwhile, which leaves only the moments between the
         * second pass over an hour and the switch for a rewrite to be missed (README). */
        for (int pass = 0; pass < 2 && rc == 0; pass++) {
            for (size_t i = 0; i < rs->n_moves && rc == 0; i++) {
                const char *from = NULL;
                uint64_t lacking = 0;
                rc = pick_backend(rs, rs->moves[i].from, &from);
                if (rc == 0)
                    rc = sync_move(rs, &rs->moves[i], from, RESHARD_OVERWRITE, &lacking);
            }
        }
        if (rc == 0)
            rc = set_phase(rs, "switch");
    }
    double copy_s = (double)(clock_monotonic_ns() - t0) / 1e9;
    uint64_t copied_first = rs->copied;
    if (rc == 0 && strcmp(rs->phase, "switch") == 0) {
        rc = do_switch(rs);
        if (rc == 0)
            rc = set_phase(rs, "settle");
    }
    if (rc == 0 && strcmp(rs->phase, "settle") == 0) {
        rc = wait_for(rs, settled, "settle");
        if (rc == 0) {
            step(rs, "step=settled relays=%zu", rs->n_relays);
            rc = set_phase(rs, "sync");
        }
    }
    if (rc == 0 && strcmp(rs->phase, "sync") == 0) {
        uint64_t lacking = 0;
        for (size_t i = 0; i < rs->n_moves && rc == 0; i++) {
            const struct cfg_shard *s = shard_cfg(rs, rs->moves[i].from);
            for (size_t j = 0; s != NULL && j < s->n_backends && rc == 0; j++)
                rc = sync_move(rs, &rs->moves[i], s->backends[j], RESHARD_FILL, &lacking);
        }
        lacking = 0;
        for (size_t i = 0; i < rs->n_moves && rc == 0; i++) {
            const struct cfg_shard *s = shard_cfg(rs, rs->moves[i].from);
            for (size_t j = 0; s != NULL && j < s->n_backends && rc == 0; j++)
                rc = sync_move(rs, &rs->moves[i], s->backends[j], RESHARD_COUNT, &lacking);
        }
        if (rc == 0 && lacking > 0)
            rc = cli_fail(rs->cli,
                          "the new shards still lack %" PRIu64 " values the old ones hold "
                          "after the copy: nothing deleted (run --apply again)",
                          lacking);
        if (rc == 0) {
            step(rs, "step=verified moves=%zu", rs->n_moves);
            rc = set_phase(rs, "drop");
        }
    }
    if (rc == 0 && strcmp(rs->phase, "drop") == 0 && rs->keep_old) {
        progress_end(&rs->pg);
        printf("reshard copied measurements=%zu; the old shards keep them (--keep-old): run "
               "--apply again to delete them\n",
               rs->n_moves);
        return 0;
    }
    if (rc == 0 && strcmp(rs->phase, "drop") == 0) {
        rc = do_drop(rs);
        if (rc == 0)
            rc = set_phase(rs, "done");
    }
    if (rc != 0)
        return rc;
    progress_end(&rs->pg);
    unlink(rs->state_path); /* done: a later run is a new reshard */
    uint64_t total = 0;
    for (size_t i = 0; i < rs->n_moves; i++)
        total += rs->moves[i].points;
    double all_s = (double)(clock_monotonic_ns() - t0) / 1e9;
    printf("reshard done measurements=%zu points=%" PRIu64 " copied=%" PRIu64
           " copy_seconds=%.3f copy_points_per_second=%.0f seconds=%.3f\n",
           rs->n_moves, total, rs->copied, copy_s, copy_s > 0 ? (double)copied_first / copy_s : 0.0,
           all_s);
    return 0;
}

int cmd_reshard(struct cli *cli)
{
    struct reshard *rs = xcalloc(1, sizeof(*rs));
    const char *relay_urls[MAX_RELAYS];
    size_t n_relay_urls = 0;
    int rc = cli_take_all(cli, "--url", rs->urls, MAX_URLS, &rs->n_urls);
    if (rc == 0)
        rc = cli_take_all(cli, "--relay", relay_urls, MAX_RELAYS, &n_relay_urls);
    int plan = 0, do_apply = 0;
    const char *timeout = NULL;
    const struct cli_opt opts[] = {{"--plan", NULL, &plan},
                                   {"--apply", NULL, &do_apply},
                                   {"--config", &rs->config_path, NULL},
                                   {"--json", NULL, &rs->json},
                                   {"--keep-old", NULL, &rs->keep_old},
                                   {"--timeout", &timeout, NULL},
                                   {NULL, NULL, NULL}};
    if (rc == 0)
        rc = cli_parse(cli, opts, NULL, 0, NULL);
    if (rc == 0 && plan == do_apply)
        rc = cli_usage(cli, "give one of --plan and --apply");
    if (rc == 0 && rs->config_path == NULL)
        rc = cli_usage(cli, "--config FILE is required (the shards and their backends)");
    rs->timeout_ms = 300000;
    if (rc == 0 && timeout != NULL) {
        char *end;
        unsigned long long v = strtoull(timeout, &end, 10);
        if (*end != '\0' || v == 0 || v > 86400)
            rc = cli_usage(cli, "--timeout '%s': expected seconds (1..86400)", timeout);
        rs->timeout_ms = v * 1000;
    }
    if (rc != 0) {
        free(rs);
        return rc;
    }
    rs->cli = cli;
    config_defaults(&rs->cfg);
    char err[512];
    if (config_load_file(&rs->cfg, rs->config_path, err, sizeof(err)) != 0)
        rc = cli_fail(cli, "%s", err);
    if (rc == 0 && rs->cfg.n_shards == 0)
        rc = cli_fail(cli, "%s has no [[shard]]", rs->config_path);
    if (rc == 0 && rs->cfg.n_shards > MAX_SHARDS)
        rc = cli_fail(cli, "more than %d shards", MAX_SHARDS);
    for (size_t i = 0; rc == 0 && i < rs->cfg.n_shards; i++)
        rs->target[rs->n_target++] = xstrdup(rs->cfg.shards[i].name);
    snprintf(rs->state_path, sizeof(rs->state_path), "%s.reshard", rs->config_path);
    struct rb *tmp = xcalloc(1, sizeof(*tmp));
    char relay_default[300];
    for (size_t i = 0; i < n_relay_urls; i++)
        rs->relays[i].url = relay_urls[i];
    rs->n_relays = n_relay_urls;
    if (rc == 0 && rs->n_relays == 0) {
        rb_relays_default(tmp, rs->config_path, relay_default, sizeof(relay_default));
        rs->relays[0].url = relay_default;
        rs->n_relays = 1;
    }
    progress_init(&rs->pg, "reshard", "points", 0);
    if (rc == 0 && do_apply)
        rc = state_load(rs);
    if (rc == 0 && rs->phase[0] == '\0') {
        rc = read_active(rs);
        for (size_t i = 0; rc == 0 && i < rs->n_active; i++)
            if (shard_cfg(rs, rs->active[i]) == NULL)
                rc = cli_fail(cli, "the relays route to shard %s, which %s does not have",
                              rs->active[i], rs->config_path);
        if (rc == 0)
            rc = make_plan(rs);
        if (rc == 0 && plan && access(rs->state_path, F_OK) == 0)
            fprintf(stderr,
                    "influx-wal reshard: a reshard is under way (%s): --apply resumes "
                    "it\n",
                    rs->state_path);
        if (rc == 0 && plan)
            print_plan(rs);
        if (rc == 0 && do_apply) {
            int same = rs->n_active == rs->n_target;
            for (size_t i = 0; same && i < rs->n_active; i++)
                same = names_have(rs->active, rs->n_active, rs->target[i]);
            if (same) {
                printf("reshard done measurements=0: every configured shard is active\n");
            } else {
                print_plan(rs);
                fflush(stdout);
                rc = set_phase(rs, "copy");
            }
        }
    } else if (rc == 0) {
        step(rs, "step=resume phase=%s moves=%zu state=%s", rs->phase, rs->n_moves, rs->state_path);
    }
    if (rc == 0 && do_apply && rs->phase[0] != '\0')
        rc = apply(rs);
    if (rc != 0)
        progress_clear(&rs->pg);
    free(tmp);
    moves_clear(rs);
    names_clear(rs->active, &rs->n_active);
    names_clear(rs->target, &rs->n_target);
    config_deinit(&rs->cfg);
    free(rs);
    return rc == 0 ? 0 : rc == 2 ? 2 : 1;
}
