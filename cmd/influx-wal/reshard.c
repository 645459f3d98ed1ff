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
#include "cmd/influx-wal/reshard.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/url.h"
#include "common/xalloc.h"
#include "config/config.h"
#include "relay/shard_split.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

/* ---- the steps of --apply ------------------------------------------------------------------ */

/* Sync move 'mv' from backend 'from' to every backend of its new shard as 'mode' says; what
 * they lacked is added to *lacking, the values they hold otherwise (kept) to *differing. */
static int sync_move(struct reshard *rs, struct reshard_move *mv, const char *from,
                     enum reshard_mode mode, uint64_t *lacking, uint64_t *differing)
{
    const struct cfg_shard *to = rs_shard_cfg(rs, mv->to);
    if (to == NULL)
        return cli_fail(rs->cli, "shard %s is not in %s", mv->to, rs->config_path);
    struct rs_conn src;
    int rc = rs_conn_open(rs, from, &src);
    for (size_t j = 0; rc == 0 && j < to->n_backends; j++) {
        struct rs_conn dst;
        rc = rs_conn_open(rs, to->backends[j], &dst);
        struct reshard_sync out = {0};
        if (rc == 0)
            rc = reshard_sync_measurement(rs->cli, src.c, dst.c, mv->db, mv->m, mv->where, mode,
                                          mode != RESHARD_COUNT ? &rs->pg : NULL, &out);
        if (rc == 0) {
            rs->copied += out.written;
            *lacking += out.lacking;
            *differing += out.differing;
            char series[40] = "";
            if (mv->keys != NULL)
                snprintf(series, sizeof(series), " series=%zu", json_array_size(mv->keys));
            step(rs,
                 "step=%s db=%s measurement=%s%s from=%s to=%s lacking=%" PRIu64
                 " written=%" PRIu64 " differing=%" PRIu64,
                 mode == RESHARD_OVERWRITE ? "copy"
                 : mode == RESHARD_FILL    ? "fill"
                                           : "compare",
                 mv->db, mv->m, series, from, to->backends[j], out.lacking, out.written,
                 out.differing);
        }
        rs_conn_close(&dst);
    }
    rs_conn_close(&src);
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

/* Every backend of every shard a measurement leaves has passed each relay's record 'which'
 * (RS_SEQ_SWITCH, RS_SEQ_MOVING). */
static int old_shards_passed(struct reshard *rs, uint64_t which, char *why, size_t cap)
{
    for (size_t i = 0; i < rs->n_moves; i++) {
        const struct cfg_shard *s = rs_shard_cfg(rs, rs->moves[i].from);
        for (size_t j = 0; s != NULL && j < s->n_backends; j++) {
            int ok, passed;
            if (rs_backend_on_relays(rs, s->backends[j], which, &ok, &passed) != 0)
                return -1;
            if (!passed) {
                snprintf(why, cap, "backend %s (shard %s) has not passed the %s record",
                         s->backends[j], s->name, which == RS_SEQ_SWITCH ? "switch" : "moving");
                return 0;
            }
        }
    }
    return 1;
}

static int settled(struct reshard *rs, char *why, size_t cap)
{
    return old_shards_passed(rs, RS_SEQ_SWITCH, why, cap);
}

/* No statement let through before the moving set is still to reach an old shard's backend
 * (a DELETE applied there after the copy read it would leave the copy). */
static int moving_passed(struct reshard *rs, char *why, size_t cap)
{
    return old_shards_passed(rs, RS_SEQ_MOVING, why, cap);
}

static int relay_post(struct reshard *rs, size_t i, struct buf *path, const char *body,
                      json_t **doc)
{
    long status = 0;
    buf_append(path, "", 1);
    int rc = rb_relay_call(rs->cli, rs->relays[i].url, body, path->data, &status, doc);
    if (rc == 0 && status != 200) {
        const char *err = influx_str_at(*doc, "error");
        rc = cli_fail(rs->cli, "relay %s refused %s: %ld %s", rs->relays[i].shown, path->data,
                      status, err != NULL ? err : "");
        json_decref(*doc);
        *doc = NULL;
    }
    return rc;
}

/* Tell every relay the measurements that move (on) or that nothing moves any more (off):
 * meanwhile they refuse the statements that would delete points of one (shard_moving.c). */
static int set_moving(struct reshard *rs, int on)
{
    json_t *o = json_object();
    json_t *a = json_array();
    size_t n = 0;
    for (size_t i = 0; on && i < rs->n_moves; i++) {
        const struct reshard_move *m = &rs->moves[i];
        json_t *e = json_pack("{s:s,s:s,s:s,s:s}", "database", m->db, "measurement", m->m, "from",
                              m->from, "to", m->to);
        int seen = 0; /* a measurement's series in several moves: once */
        for (size_t k = 0; k < json_array_size(a) && !seen; k++)
            seen = json_equal(json_array_get(a, k), e);
        if (!seen)
            json_array_append(a, e);
        json_decref(e);
    }
    n = json_array_size(a);
    json_object_set_new(o, "moves", a);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int rc = 0;
    for (size_t i = 0; i < rs->n_relays && rc == 0; i++) {
        struct buf p;
        buf_init(&p);
        buf_append_str(&p, "/api/shards/moving");
        json_t *doc = NULL;
        rc = relay_post(rs, i, &p, body, &doc);
        if (rc == 0) {
            rs->relays[i].moving_seq = (uint64_t)json_integer_value(
                json_object_get(json_object_get(doc, "shards"), "moving_seq"));
            step(rs, "step=moving relay=%s measurements=%zu seq=%" PRIu64, rs->relays[i].shown, n,
                 rs->relays[i].moving_seq);
        }
        json_decref(doc);
        buf_deinit(&p);
    }
    free(body);
    return rc;
}

static int do_switch(struct reshard *rs)
{
    struct buf t;
    buf_init(&t);
    rs_csv(&t, rs->target, rs->n_target);
    char *et = curl_easy_escape(NULL, t.data, 0);
    int rc = 0;
    for (size_t i = 0; i < rs->n_relays && rc == 0; i++) {
        struct buf p;
        buf_init(&p);
        buf_printf(&p, "/api/shards/activate?shards=%s", et);
        json_t *doc = NULL;
        rc = relay_post(rs, i, &p, "", &doc);
        if (rc == 0) {
            rs->relays[i].switch_seq = (uint64_t)json_integer_value(
                json_object_get(json_object_get(doc, "shards"), "switch_seq"));
            step(rs, "step=switch relay=%s shards=%s switch_seq=%" PRIu64, rs->relays[i].shown,
                 t.data, rs->relays[i].switch_seq);
            rc = rs_state_save(rs);
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
    int done = 1;
    for (size_t i = 0; i < rs->n_moves && done == 1; i++) {
        const struct reshard_move *mv = &rs->moves[i];
        const struct cfg_shard *s = rs_shard_cfg(rs, mv->from);
        for (size_t j = 0; s != NULL && j < s->n_backends && done == 1; j++) {
            int ok, passed;
            struct rs_relay keep = rs->relays[0];
            size_t n = rs->n_relays;
            rs->relays[0] = rs->relays[mv->drop_relay];
            rs->n_relays = 1; /* the DROP is in the log of the relay that took it only */
            int rc = rs_backend_on_relays(rs, s->backends[j], mv->drop_seq, &ok, &passed);
            rs->n_relays = n;
            rs->relays[0] = keep;
            if (rc != 0) {
                done = -1;
                break;
            }
            if (!passed) {
                snprintf(why, cap, "backend %s has not applied the %s of %s", s->backends[j],
                         mv->keys != NULL ? "DROP SERIES" : "DROP MEASUREMENT", mv->m);
                done = 0;
                break;
            }
            struct rs_conn k;
            if (rs_conn_open(rs, s->backends[j], &k) != 0) {
                done = -1;
                break;
            }
            /* Points, not SHOW MEASUREMENTS: influxd 1.6 may go on listing a dropped
             * measurement until it restarts (seen when the measurement had a shard group of
             * its own for an old point). */
            uint64_t left = 0;
            if (rs_count_points(rs, k.c, mv->db, mv->m, mv->where, &left) != 0) {
                done = -1;
            } else if (left > 0) {
                snprintf(why, cap, "backend %s still holds %" PRIu64 " points of %s",
                         s->backends[j], left, mv->m);
                done = 0;
            }
            rs_conn_close(&k);
        }
    }
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
        /* Some series: their keys in the body (the relay writes DROP SERIES ... WHERE). */
        char *body = NULL;
        if (mv->keys != NULL) {
            json_t *o = json_pack("{s:O}", "keys", mv->keys);
            body = json_dumps(o, JSON_COMPACT);
            json_decref(o);
        }
        /* The first relay that takes it: with [[peer]]s only the leader does (the others
         * answer 409 naming it). */
        buf_append(&p, "", 1);
        long status = 0;
        for (size_t k = 0; k < rs->n_relays; k++) {
            json_decref(doc);
            doc = NULL;
            rc = rb_relay_call(rs->cli, rs->relays[k].url, body != NULL ? body : "", p.data,
                               &status, &doc);
            mv->drop_relay = k;
            if (rc != 0 || status != 409)
                break;
        }
        if (rc == 0 && status != 200) {
            const char *err = influx_str_at(doc, "error");
            rc = cli_fail(rs->cli, "relay %s refused %s: %ld %s", rs->relays[mv->drop_relay].shown,
                          p.data, status, err != NULL ? err : "");
        }
        free(body);
        if (rc == 0) {
            mv->drop_seq = (uint64_t)json_integer_value(json_object_get(doc, "seq"));
            char series[40] = "";
            if (mv->keys != NULL)
                snprintf(series, sizeof(series), " series=%zu", json_array_size(mv->keys));
            step(rs, "step=drop db=%s measurement=%s%s shard=%s relay=%s seq=%" PRIu64, mv->db,
                 mv->m, series, mv->from, rs->relays[mv->drop_relay].shown, mv->drop_seq);
            rc = rs_state_save(rs);
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
    /* Until the sync is done a delete of a moving measurement could be undone by a copy: the
     * relays refuse them (set again on resume: the same set changes nothing). */
    if (strcmp(rs->phase, "drop") != 0)
        rc = set_moving(rs, 1);
    if (rc == 0 && strcmp(rs->phase, "copy") == 0)
        rc = wait_for(rs, moving_passed, "moving");
    if (rc == 0 && strcmp(rs->phase, "copy") == 0) {
        uint64_t total = 0;
        for (size_t i = 0; i < rs->n_moves; i++) {
            const struct cfg_shard *to = rs_shard_cfg(rs, rs->moves[i].to);
            total += rs->moves[i].points * (to != NULL ? to->n_backends : 1);
        }
        rs->pg.total = total;
        /* Two passes: the first copies everything, the second (at once before the switch)
         * what changed on the old shard meanwhile, which leaves only the moments between the
         * second pass over an hour and the switch for a rewrite to be missed (README). */
        for (int pass = 0; pass < 2 && rc == 0; pass++) {
            for (size_t i = 0; i < rs->n_moves && rc == 0; i++) {
                const char *from = NULL;
                uint64_t lacking = 0, differing = 0;
                rc = rs_pick_backend(rs, rs->moves[i].from, &from);
                if (rc == 0)
                    rc =
                        sync_move(rs, &rs->moves[i], from, RESHARD_OVERWRITE, &lacking, &differing);
            }
        }
        if (rc == 0)
            rc = rs_set_phase(rs, "switch");
    }
    double copy_s = (double)(clock_monotonic_ns() - t0) / 1e9;
    uint64_t copied_first = rs->copied;
    if (rc == 0 && strcmp(rs->phase, "switch") == 0) {
        rc = do_switch(rs);
        if (rc == 0)
            rc = rs_set_phase(rs, "settle");
    }
    if (rc == 0 && strcmp(rs->phase, "settle") == 0) {
        rc = wait_for(rs, settled, "settle");
        if (rc == 0) {
            step(rs, "step=settled relays=%zu", rs->n_relays);
            rc = rs_set_phase(rs, "sync");
        }
    }
    if (rc == 0 && strcmp(rs->phase, "sync") == 0) {
        /* What appeared on an old shard after the plan (a new measurement, or with a tag in
         * the key a new series) and belongs to a new one: its points from before the switch
         * are there only. Planned again now that nothing more reaches the old shards for it,
         * and moved with the rest (refused deletes first: the set grows). */
        size_t planned = rs->n_moves;
        rc = rs_make_plan(rs);
        if (rc == 0 && rs->n_moves > planned) {
            step(rs, "step=replan moves=%zu new=%zu", rs->n_moves, rs->n_moves - planned);
            rc = rs_state_save(rs);
            if (rc == 0)
                rc = set_moving(rs, 1);
            if (rc == 0)
                rc = wait_for(rs, moving_passed, "moving");
        }
    }
    if (rc == 0 && strcmp(rs->phase, "sync") == 0) {
        uint64_t lacking = 0, differing = 0;
        for (size_t i = 0; i < rs->n_moves && rc == 0; i++) {
            const struct cfg_shard *s = rs_shard_cfg(rs, rs->moves[i].from);
            for (size_t j = 0; s != NULL && j < s->n_backends && rc == 0; j++)
                rc = sync_move(rs, &rs->moves[i], s->backends[j], RESHARD_FILL, &lacking,
                               &differing);
        }
        lacking = differing = 0;
        for (size_t i = 0; i < rs->n_moves && rc == 0; i++) {
            const struct cfg_shard *s = rs_shard_cfg(rs, rs->moves[i].from);
            for (size_t j = 0; s != NULL && j < s->n_backends && rc == 0; j++)
                rc = sync_move(rs, &rs->moves[i], s->backends[j], RESHARD_COUNT, &lacking,
                               &differing);
        }
        if (rc == 0 && lacking > 0)
            rc = cli_fail(rs->cli,
                          "the new shards still lack %" PRIu64 " values the old ones hold "
                          "after the copy: nothing deleted (run --apply again)",
                          lacking);
        if (rc == 0) {
            /* differing: values the new shard holds otherwise than the old one, counted once
             * per pair of backends; kept as the new shard has them (README). */
            step(rs, "step=verified moves=%zu differing=%" PRIu64, rs->n_moves, differing);
            rc = rs_set_phase(rs, "drop");
        }
    }
    if (rc == 0 && strcmp(rs->phase, "drop") == 0 && rs->keep_old) {
        /* With a tag in the key the old shards' copies are series of measurements that every
         * shard holds some of: a merged read would count them twice, so the relays keep
         * refusing (shard_moving_reads) until the drop. */
        int by_series = 0;
        for (size_t i = 0; i < rs->n_moves; i++)
            by_series |= rs->moves[i].keys != NULL;
        if (!by_series)
            rc = set_moving(rs, 0);
        if (rc != 0)
            return rc;
        progress_end(&rs->pg);
        printf("reshard copied measurements=%zu; the old shards keep them (--keep-old): run "
               "--apply again to delete them%s\n",
               rs->n_moves,
               by_series ? " (until then the relays refuse SELECTs and deletes of them)" : "");
        return 0;
    }
    if (rc == 0 && strcmp(rs->phase, "drop") == 0) {
        rc = do_drop(rs);
        if (rc == 0)
            rc = set_moving(rs, 0);
        if (rc == 0)
            rc = rs_set_phase(rs, "done");
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

/* Whether two relay URLs name the same relay: alike without user:password@ and a final '/'. */
static int same_relay(const char *a, const char *b)
{
    char *x = url_display(a), *y = url_display(b);
    size_t nx = strlen(x), ny = strlen(y);
    nx -= nx > 0 && x[nx - 1] == '/';
    ny -= ny > 0 && y[ny - 1] == '/';
    int same = nx == ny && strncasecmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

/* A peer's URL with its username and password (percent-escaped) as user:password@, as --relay
 * takes them. */
static char *peer_url(const struct cfg_peer *pe)
{
    const char *sep = strstr(pe->url, "://");
    if (pe->username == NULL || sep == NULL)
        return xstrdup(pe->url);
    char *u = curl_easy_escape(NULL, pe->username, 0);
    char *p = curl_easy_escape(NULL, pe->password != NULL ? pe->password : "", 0);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "%.*s%s:%s@%s", (int)(sep + 3 - pe->url), pe->url, u, p, sep + 3);
    buf_append(&b, "", 1);
    curl_free(u);
    curl_free(p);
    char *out = xstrdup(b.data);
    buf_deinit(&b);
    return out;
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
    /* The config's [[peer]]s are relays too: without --relay they are added (with their
     * credentials), and given --relay each must be among them, since a relay the reshard does
     * not switch would go on routing with the old ring. */
    char *peer_urls[MAX_RELAYS] = {0};
    size_t n_peer_urls = 0;
    for (size_t i = 0; rc == 0 && i < rs->cfg.n_peers; i++) {
        const struct cfg_peer *pe = &rs->cfg.peers[i];
        if (n_relay_urls == 0) {
            if (rs->n_relays >= MAX_RELAYS) {
                rc = cli_fail(cli, "more than %d relays", MAX_RELAYS);
                break;
            }
            peer_urls[n_peer_urls] = peer_url(pe);
            rs->relays[rs->n_relays++].url = peer_urls[n_peer_urls++];
            continue;
        }
        int named = 0;
        for (size_t k = 0; k < n_relay_urls && !named; k++)
            named = same_relay(relay_urls[k], pe->url);
        if (!named)
            rc = cli_usage(cli,
                           "peer %s (%s) of %s is not given with --relay: every relay must "
                           "switch (give each one's URL as the peer has it, this relay's too)",
                           pe->name, pe->url, rs->config_path);
    }
    for (size_t i = 0; i < rs->n_relays; i++)
        rs->relays[i].shown = url_display(rs->relays[i].url);
    progress_init(&rs->pg, "reshard", "points", 0);
    if (rc == 0 && do_apply)
        rc = rs_state_load(rs);
    if (rc == 0 && rs->phase[0] == '\0') {
        rc = rs_read_active(rs);
        for (size_t i = 0; rc == 0 && i < rs->n_active; i++)
            if (rs_shard_cfg(rs, rs->active[i]) == NULL)
                rc = cli_fail(cli, "the relays route to shard %s, which %s does not have",
                              rs->active[i], rs->config_path);
        if (rc == 0)
            rc = rs_make_plan(rs);
        if (rc == 0 && plan && access(rs->state_path, F_OK) == 0)
            fprintf(stderr,
                    "influx-wal reshard: a reshard is under way (%s): --apply resumes "
                    "it\n",
                    rs->state_path);
        if (rc == 0 && plan)
            rs_print_plan(rs);
        if (rc == 0 && do_apply) {
            int same = rs->n_active == rs->n_target;
            for (size_t i = 0; same && i < rs->n_active; i++)
                same = rs_names_have(rs->active, rs->n_active, rs->target[i]);
            if (same) {
                printf("reshard done measurements=0: every configured shard is active\n");
            } else {
                rs_print_plan(rs);
                fflush(stdout);
                rc = rs_set_phase(rs, "copy");
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
    rs_moves_clear(rs);
    rs_names_clear(rs->active, &rs->n_active);
    rs_names_clear(rs->target, &rs->n_target);
    config_deinit(&rs->cfg);
    for (size_t i = 0; i < rs->n_relays; i++)
        free(rs->relays[i].shown);
    for (size_t i = 0; i < n_peer_urls; i++)
        free(peer_urls[i]);
    free(rs);
    return rc == 0 ? 0 : rc == 2 ? 2 : 1;
}
