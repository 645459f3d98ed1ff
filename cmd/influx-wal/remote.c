/* influx-wal replay: send a backend's backlog, or a range of the log, to any InfluxDB URL. The
 * sending is the daemon's own code (replay/ in ephemeral mode: same batching, retries and
 * splitting of refused batches) on a libuv loop of this process; the log is opened read-only,
 * so no cursor moves and no dead letter is written. The backend options (timeouts, batch
 * sizes, in flight, retry cap, gzip, TLS) are the daemon's for that backend: from --config
 * FILE, else the built-in defaults (replay_backend_opts_defaults). --dry-run only reads and
 * sums up. */
#include "cmd/influx-wal/cli.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/url.h"
#include "common/xalloc.h"
#include "config/config.h"
#include "replay/replay.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define POLL_MS 50
#define DEFAULT_TIMEOUT_S 300
#define MAX_TIMEOUT_S (86400 * 30)

/* The range to send: (after, to], read as the engine will read it. 0 or 1 after a message. */
static int find_range(struct cli *cli, struct wal *w, const char *backend, uint64_t from,
                      uint64_t to_seq, uint64_t *after, uint64_t *to)
{
    struct wal_reader *r;
    wal_reader_new(w, &r);
    uint64_t first = 0, last = 0, high = 0;
    *after = from > 0 ? from - 1 : 0;
    int rc = wal_reader_begin(r);
    if (rc == 0) {
        if (from == 0)
            rc = wal_reader_cursor(r, backend, after);
        if (rc == 0)
            rc = wal_reader_bounds(r, &first, &last, &high);
        wal_reader_end(r);
    }
    wal_reader_free(r);
    if (rc == IWR_ENOTFOUND)
        return cli_fail(cli, "no backend '%s' in this log (give --from to send a range anyway)",
                        backend);
    if (rc != 0)
        return cli_fail(cli, "reading the log: %s", iwr_strerror(rc));
    if (to_seq > high)
        return cli_fail(cli, "--to-seq %" PRIu64 " is beyond the last sequence %" PRIu64, to_seq,
                        high);
    *to = to_seq > 0 ? to_seq : high;
    return 0;
}

/* ---- --dry-run ----------------------------------------------------------------------------- */

struct dry_key { /* one db/rp: what would be sent to it */
    char *db, *rp;
    uint64_t records, points, bytes;
};

struct dry_run {
    struct dry_key *keys;
    size_t n, cap;
    uint64_t records, points, bytes, corrupt, first_seq, last_seq;
};

static void dry_add(struct dry_run *d, const struct wal_record *rec)
{
    struct dry_key *k = NULL;
    for (size_t i = 0; i < d->n && k == NULL; i++)
        if (strlen(d->keys[i].db) == rec->db_len && strlen(d->keys[i].rp) == rec->rp_len &&
            memcmp(d->keys[i].db, rec->db, rec->db_len) == 0 &&
            memcmp(d->keys[i].rp, rec->rp, rec->rp_len) == 0)
            k = &d->keys[i];
    if (k == NULL) {
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 8;
            d->keys = xrealloc(d->keys, d->cap * sizeof(*d->keys));
        }
        k = &d->keys[d->n++];
        memset(k, 0, sizeof(*k));
        k->db = xstrndup(rec->db, rec->db_len);
        k->rp = xstrndup(rec->rp, rec->rp_len);
    }
    k->records++;
    k->points += rec->points;
    k->bytes += rec->body_len;
    d->records++;
    d->points += rec->points;
    d->bytes += rec->body_len;
    if (d->first_seq == 0)
        d->first_seq = rec->seq;
    d->last_seq = rec->seq;
}

static int dry_visit(void *arg, const struct wal_record *rec)
{
    dry_add(arg, rec);
    return 0;
}

/* Sum up the records of (after, to] for 'backend', as the engine would select them. */
static int dry_scan(struct wal *w, const char *backend, uint64_t after, uint64_t to,
                    struct dry_run *d)
{
    return cli_scan(w, backend, after, to, dry_visit, d, &d->corrupt, NULL);
}

static int dry_run(struct cli *cli, struct wal *w, const char *backend, const char *url,
                   uint64_t after, uint64_t to)
{
    struct dry_run d;
    memset(&d, 0, sizeof(d));
    int rc = dry_scan(w, backend, after, to, &d);
    if (rc != 0)
        rc = cli_fail(cli, "reading the log: %s", iwr_strerror(rc));
    if (rc == 0) {
        char *shown = url != NULL ? url_display(url) : NULL; /* never the user:password@ */
        printf("dry run: would send sequences %" PRIu64 "..%" PRIu64 " for backend %s to %s\n",
               after + 1, to, backend, shown != NULL ? shown : "(no --to given)");
        free(shown);
        for (size_t i = 0; i < d.n; i++)
            printf("  db=%s rp=%s records=%" PRIu64 " points=%" PRIu64 " bytes=%" PRIu64 "\n",
                   d.keys[i].db, d.keys[i].rp, d.keys[i].records, d.keys[i].points,
                   d.keys[i].bytes);
        printf("total records=%" PRIu64 " points=%" PRIu64 " bytes=%" PRIu64 "\n", d.records,
               d.points, d.bytes);
        if (d.corrupt > 0)
            rc = cli_fail(cli,
                          "%" PRIu64 " corrupt records in the range would be skipped "
                          "(influx-wal verify names them)",
                          d.corrupt);
    }
    for (size_t i = 0; i < d.n; i++) {
        free(d.keys[i].db);
        free(d.keys[i].rp);
    }
    free(d.keys);
    return rc;
}

/* ---- sending ------------------------------------------------------------------------------- */

struct run {
    struct cli *cli;
    const char *name;
    struct replay *r;
    uv_timer_t poll;
    uint64_t deadline_ms;
    int stopping;
    int timed_out;
    struct replay_range_status last;
    char last_error[256];
};

static void on_refused(void *arg, const struct wal_record *rec, const char *answer,
                       size_t answer_len)
{
    struct run *run = arg;
    fprintf(stderr, "influx-wal %s: refused seq=%" PRIu64 " db=%.*s rp=%.*s answer=\"",
            run->cli->cmd->name, rec->seq, (int)rec->db_len, rec->db, (int)rec->rp_len, rec->rp);
    for (size_t i = 0; i < answer_len; i++)
        fputc(answer[i] == '\n' || answer[i] == '\r' ? ' ' : answer[i], stderr);
    fprintf(stderr, "\"\n");
    cli_print_body(stderr, rec);
}

static void on_stopped(void *arg)
{
    struct run *run = arg;
    uv_close((uv_handle_t *)&run->poll, NULL);
}

static void run_stop(struct run *run)
{
    if (run->stopping)
        return;
    run->stopping = 1;
    struct replay_backend_status *st;
    size_t n;
    replay_status(run->r, &st, &n);
    if (n > 0)
        snprintf(run->last_error, sizeof(run->last_error), "%s", st[0].last_error);
    free(st);
    uv_timer_stop(&run->poll);
    replay_stop(run->r, on_stopped, run);
}

static void on_poll(uv_timer_t *t)
{
    struct run *run = t->data;
    if (replay_range_status(run->r, run->name, &run->last) == 0 && run->last.done) {
        run_stop(run);
        return;
    }
    if (uv_now(t->loop) >= run->deadline_ms) {
        run->timed_out = 1;
        run_stop(run);
    }
}

/* 'base': the backend's options as the daemon has them (borrowed); name, URL and credentials
 * are replaced by the target's. */
static int send_range(struct cli *cli, struct wal *w, const struct replay_backend_opts *base,
                      const char *backend, const char *url, uint64_t from, uint64_t to_seq,
                      uint64_t timeout_s)
{
    struct run run;
    memset(&run, 0, sizeof(run));
    run.cli = cli;
    run.name = backend;
    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc == 0)
        rc = replay_new(&run.r, &loop, w);
    if (rc != 0)
        return cli_fail(cli, "cannot start: %s", iwr_strerror(rc));
    struct replay_backend_opts o = *base;
    o.name = backend;
    o.url = url;
    /* The configured credentials are for the backend's own URL, not for the one given here:
     * the target's go in its URL. */
    o.username = NULL;
    o.password = NULL;
    o.token = NULL;
    /* The target is a server the operator chose: a database it lacks is created. */
    o.create_database = 1;
    o.ephemeral = 1;
    o.source = backend;
    o.from_seq = from;
    o.to_seq = to_seq;
    o.refused = on_refused;
    o.refused_arg = &run;
    uv_timer_init(&loop, &run.poll);
    run.poll.data = &run;
    run.deadline_ms = uv_now(&loop) + timeout_s * 1000;
    rc = replay_set_backends(run.r, &o, 1);
    if (rc != 0) {
        /* The options were checked before: only a bug lands here. */
        fprintf(stderr, "influx-wal %s: cannot start: %s\n", cli->cmd->name, iwr_strerror(rc));
        run.stopping = 1;
        replay_stop(run.r, on_stopped, &run);
    } else {
        uv_timer_start(&run.poll, on_poll, POLL_MS, POLL_MS);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    replay_free(run.r);
    uv_loop_close(&loop);
    if (rc != 0)
        return 1;

    const struct replay_range_status *s = &run.last;
    if (s->rc == IWR_ENOTFOUND)
        return cli_fail(cli, "no backend '%s' in this log", backend);
    char *shown = url_display(url); /* never the user:password@ */
    printf("sent %" PRIu64 " records, %" PRIu64 " points in %" PRIu64 " batches to %s "
           "(sequences %" PRIu64 "..%" PRIu64 " of backend %s)\n",
           s->records, s->points, s->batches, shown, s->after_seq + 1, s->to_seq, backend);
    free(shown);
    if (run.timed_out)
        return cli_fail(cli,
                        "timed out after %" PRIu64 " s: acknowledged through sequence %" PRIu64
                        " of %" PRIu64 "%s%s",
                        timeout_s, s->position, s->to_seq,
                        run.last_error[0] ? "; last error: " : "", run.last_error);
    if (s->refused_lines > 0 || s->corrupt_records > 0)
        return cli_fail(
            cli, "%" PRIu64 " lines refused (shown above), %" PRIu64 " corrupt records skipped",
            s->refused_lines, s->corrupt_records);
    return 0;
}

int cmd_replay(struct cli *cli)
{
    const char *backend = NULL, *url = NULL, *from_s = NULL, *to_s = NULL, *timeout_s = NULL;
    const char *config_path = NULL;
    int dry = 0;
    const struct cli_opt opts[] = {{"--backend", &backend, NULL},
                                   {"--to", &url, NULL},
                                   {"--config", &config_path, NULL},
                                   {"--from", &from_s, NULL},
                                   {"--to-seq", &to_s, NULL},
                                   {"--timeout", &timeout_s, NULL},
                                   {"--dry-run", NULL, &dry},
                                   {NULL, NULL, NULL}};
    int rc = cli_parse(cli, opts, NULL, 0, NULL);
    if (rc != 0)
        return rc;
    if (backend == NULL || (url == NULL && !dry))
        return cli_usage(cli, "--backend and --to are required");
    if (!wal_name_valid(backend))
        return cli_usage(cli, "'%s' is not a backend name", backend);
    const char *why = url != NULL ? config_url_why(url) : NULL;
    if (url != NULL && (why != NULL || strlen(url) > 200))
        return cli_usage(cli, "--to: '%s' is not an http:// or https:// URL%s%s", url,
                         why != NULL && strncasecmp(url, "http", 4) == 0 ? ": it " : "",
                         why != NULL && strncasecmp(url, "http", 4) == 0 ? why : "");
    uint64_t from = 0, to_seq = 0, timeout = DEFAULT_TIMEOUT_S;
    if (from_s != NULL && cli_seq(cli, "--from", from_s, &from) != 0)
        return 2;
    if (to_s != NULL && cli_seq(cli, "--to-seq", to_s, &to_seq) != 0)
        return 2;
    if (from_s != NULL && from == 0)
        return cli_usage(cli, "--from: sequences start at 1");
    if (to_s != NULL && to_seq == 0)
        return cli_usage(cli, "--to-seq: sequences start at 1");
    if (to_seq > 0 && from > to_seq)
        return cli_usage(cli, "--from %" PRIu64 " is after --to-seq %" PRIu64, from, to_seq);
    if (timeout_s != NULL && cli_seq(cli, "--timeout", timeout_s, &timeout) != 0)
        return 2;
    if (timeout == 0 || timeout > MAX_TIMEOUT_S)
        return cli_usage(cli, "--timeout: 1 to %d seconds", MAX_TIMEOUT_S);
    struct config cfg;
    struct replay_backend_opts defaults;
    const struct replay_backend_opts *base = &defaults;
    replay_backend_opts_defaults(&defaults);
    config_defaults(&cfg);
    if (config_path != NULL) {
        char err[512];
        if (config_load_file(&cfg, config_path, err, sizeof(err)) != 0 ||
            config_validate(&cfg, err, sizeof(err)) != 0)
            rc = cli_fail(cli, "%s", err);
        else if ((base = config_find_backend(&cfg, backend)) == NULL)
            rc = cli_fail(cli, "no backend '%s' in %s", backend, config_path);
        if (rc != 0) {
            config_deinit(&cfg);
            return rc;
        }
    }
    struct wal *w;
    if ((rc = cli_open(cli, 0, &w)) != 0) {
        config_deinit(&cfg);
        return rc;
    }
    uint64_t after = 0, to = 0;
    rc = find_range(cli, w, backend, from, to_seq, &after, &to);
    if (rc == 0 && dry) {
        rc = dry_run(cli, w, backend, url, after, to);
    } else if (rc == 0 && after >= to) {
        printf("nothing to send for backend %s after sequence %" PRIu64
               ": the range ends at %" PRIu64 "\n",
               backend, after, to);
    } else if (rc == 0) {
        /* A server that closes the connection must not kill us with SIGPIPE. */
        signal(SIGPIPE, SIG_IGN);
        rc = send_range(cli, w, base, backend, url, from, to, timeout);
    }
    wal_close(w);
    config_deinit(&cfg);
    return rc;
}
