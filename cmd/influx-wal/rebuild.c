/* influx-wal rebuild --backend B --from A: make an empty (or wiped) backend B hold what A holds,
 * while writes keep flowing through the relays, then let B's sender continue from the right
 * place. The steps, each a logfmt line on stderr (or a redrawn line on a terminal):
 *
 *   check     A answers /ping and B holds no database but _internal (else exit 1)
 *   start     POST /api/rebuild/start on every relay: each pauses B's sender and holds B's
 *             cursor at A's position P (everything up to P is applied on A)
 *   backup    influxd backup -portable from A's RPC address, after every relay recorded P, so
 *             the snapshot holds everything up to P (later writes in it are harmless: the
 *             replay from P writes them again with the same values, statements in order)
 *   restore   influxd restore -portable -db D into B's RPC address, database by database
 *   finish    POST /api/rebuild/finish on every relay: B's sender resumes after P
 *   verify    once B caught up on every relay: per database its retention policies (duration,
 *             shard duration, replication, default), its measurements, its field keys and per
 *             measurement the count of every field for points older than 10 s before the
 *             verify began, equal on A and B (retried while writes are in flight)
 *
 * Resumable: the state (relays and their P, databases, what is restored) is kept in a
 * directory (--state-dir, default DATA_DIR/rebuild/B); running the same command again
 * continues: the backup is reused while every relay still holds its P, restored databases are
 * kept, a half-restored one is dropped on B and restored again. A relay that lost its start
 * point (its log neared its limit) makes the run take a new one: new P, new backup, B wiped of
 * what was restored. Memory stays flat: influxd's own tools move the data; /query answers are
 * read chunk by chunk. One thread.
 *
 * This file runs the command: its flags, the order of the steps and the retries with a new
 * start point; rebuild.h says where each step lives. */
#include "cmd/influx-wal/rebuild.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/url.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_URLS 16
#define ATTEMPTS_MAX 3

/* A step done: a logfmt line, or on a terminal the progress line, ended there (so a message
 * never lands on the end of it); while influxd works, run_tool redraws it in place. */
__attribute__((format(printf, 3, 4))) void rb_step(struct rb *r, uint64_t n, const char *fmt, ...)
{
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    progress_step(&r->pg, n, "%s", detail);
    if (r->pg.tty && r->pg.drawn) {
        /* Keep the step's figures on their own line, with what it was; the next step draws a
         * new one. */
        fprintf(stderr, "  %s\n", detail);
        r->pg.drawn = 0;
    }
}

/* A relay let the start point go: start over, and take a new one on every relay. 0, or 1 after
 * a message. */
static int start_point_lost(struct rb *r)
{
    rb_step(r, 0, "step=new_start_point reason=start_point_lost");
    if (rb_start_over(r) != 0)
        return 1;
    for (size_t i = 0; i < r->n_relays; i++)
        r->relays[i].known = 0;
    return 0;
}

static int rebuild_run(struct rb *r)
{
    int rc = 0;
    for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
        rc = rb_relays_start(r);
        if (rc == 4) {
            rb_step(r, 0, "step=new_start_point reason=start_point_changed");
            if (rb_start_over(r) != 0)
                return 1;
            rc = 0;
        }
        if (rc == 0)
            rc = rb_state_save(r);
        if (rc == 0)
            rc = rb_backup(r);
        if (rc == 0)
            rc = rb_restore(r);
        if (rc != 0)
            return rc;
        int lost = rb_relays_lost(r);
        if (lost < 0)
            return 1;
        if (lost) {
            if (start_point_lost(r) != 0)
                return 1;
            continue;
        }
        for (size_t i = 0; i < r->n_relays; i++) {
            json_t *doc = NULL;
            rc = rb_relay_change(r, i, "/finish", &doc);
            json_decref(doc);
            if (rc == 3)
                break;
            if (rc != 0)
                return rc;
            rb_step(r, 0, "step=finish relay=%s", r->relays[i].shown);
        }
        if (rc == 3) {
            if (start_point_lost(r) != 0)
                return 1;
            continue;
        }
        return 0;
    }
    return cli_fail(r->cli,
                    "the start point was lost %d times (the log keeps filling faster "
                    "than the restore goes): give the log more room or the restore "
                    "more speed",
                    ATTEMPTS_MAX);
}

int cmd_rebuild(struct cli *cli)
{
    const char *urls[MAX_URLS], *relay_urls[MAX_RELAYS];
    size_t n_urls = 0, n_relay_urls = 0;
    int rc = cli_take_all(cli, "--url", urls, MAX_URLS, &n_urls);
    if (rc == 0)
        rc = cli_take_all(cli, "--relay", relay_urls, MAX_RELAYS, &n_relay_urls);
    const char *backend = NULL, *from = NULL, *config = NULL, *from_rpc = NULL, *rpc = NULL;
    const char *state_dir = NULL, *influxd = NULL;
    const struct cli_opt opts[] = {{"--backend", &backend, NULL}, {"--from", &from, NULL},
                                   {"--config", &config, NULL},   {"--from-rpc", &from_rpc, NULL},
                                   {"--rpc", &rpc, NULL},         {"--state-dir", &state_dir, NULL},
                                   {"--influxd", &influxd, NULL}, {NULL, NULL, NULL}};
    if (rc == 0)
        rc = cli_parse(cli, opts, NULL, 0, NULL);
    if (rc != 0)
        return rc;
    if (backend == NULL || from == NULL)
        return cli_usage(cli, "--backend and --from are required");
    if (strcmp(backend, from) == 0)
        return cli_usage(cli, "--backend and --from name the same backend");
    struct rb *r = xcalloc(1, sizeof(*r));
    char relay_default[300];
    r->cli = cli;
    r->backend = backend;
    r->from = from;
    r->restoring = -1;
    r->influxd = influxd != NULL ? influxd : "/usr/bin/influxd";
    r->t0_ns = clock_monotonic_ns();
    for (size_t i = 0; i < n_relay_urls; i++)
        r->relays[i].url = relay_urls[i];
    r->n_relays = n_relay_urls;
    if (r->n_relays == 0)
        rb_relays_default(r, config, relay_default, sizeof(relay_default));
    for (size_t i = 0; i < r->n_relays; i++)
        r->relays[i].shown = url_display(r->relays[i].url);
    progress_init(&r->pg, "rebuild", "bytes", 0);
    rc = cli_backend_resolve(cli, config, urls, n_urls, from, &r->src);
    if (rc == 0)
        rc = cli_backend_resolve(cli, config, urls, n_urls, backend, &r->dst);
    if (rc == 0)
        rc = rb_rpc_of(r, &r->src, from_rpc, r->src_rpc, sizeof(r->src_rpc));
    if (rc == 0)
        rc = rb_rpc_of(r, &r->dst, rpc, r->dst_rpc, sizeof(r->dst_rpc));
    if (rc == 0) {
        if (state_dir != NULL)
            snprintf(r->dir, sizeof(r->dir), "%s", state_dir);
        else
            snprintf(r->dir, sizeof(r->dir), "%s/rebuild/%s", cli->data_dir, backend);
        int mrc = rb_mkdirs(r->dir);
        if (mrc != 0)
            rc = cli_fail(cli, "cannot create %s: %s", r->dir, strerror(-mrc));
    }
    if (rc == 0)
        rc = rb_state_load(r);
    if (rc == 0)
        rc = influx_open(cli, &r->src, &r->qs);
    if (rc == 0)
        rc = influx_open(cli, &r->dst, &r->qd);
    /* Nothing is paused before both checks pass. */
    if (rc == 0)
        rc = rb_ping(r, &r->src, "source");
    if (rc == 0)
        rc = rb_ping(r, &r->dst, "target");
    if (rc == 0)
        rc = rb_check_target(r);
    if (rc == 0)
        rb_step(r, 0, "step=check source=%s target=%s relays=%zu resume=%d", from, backend,
                r->n_relays, r->have_state);
    if (rc == 0)
        rc = rebuild_run(r);
    uint64_t points = 0;
    if (rc == 0) {
        char bdir[1100];
        snprintf(bdir, sizeof(bdir), "%s/backup", r->dir);
        r->bytes_total = rb_tree_bytes(bdir);
        double restored_s = (double)(clock_monotonic_ns() - r->t0_ns) / 1e9;
        rb_remove_tree(r->dir); /* done: a later run is a new rebuild */
        rc = rb_verify(r, &points);
        progress_end(&r->pg);
        if (rc == 0)
            printf("rebuild done backend=%s from=%s databases=%zu bytes=%" PRIu64 " points=%" PRIu64
                   " seconds=%.3f points_per_second=%.0f\n",
                   backend, from, r->n_dbs, r->bytes_total, points, restored_s,
                   restored_s > 0 ? (double)points / restored_s : 0.0);
    } else {
        progress_clear(&r->pg);
        /* Refused before anything was kept: leave no empty directory behind. */
        if (r->dir[0] != '\0' && rmdir(r->dir) == 0 && state_dir == NULL) {
            char *slash = strrchr(r->dir, '/');
            if (slash != NULL) {
                *slash = '\0';
                rmdir(r->dir);
            }
        }
    }
    influx_close(r->qs);
    influx_close(r->qd);
    cli_backend_deinit(&r->src);
    cli_backend_deinit(&r->dst);
    rb_dbs_clear(r);
    for (size_t i = 0; i < r->n_relays; i++)
        free(r->relays[i].shown);
    free(r);
    return rc == 0 ? 0 : rc == 2 ? 2 : 1;
}
