/* replay_drive: a small driver of the log and the replay engine, for the integration tests and
 * the benchmark. Not installed.
 *
 *   replay_drive --data-dir DIR --append FILE --db DB [--rp RP] [--lines N] [--target NAME]
 *       append FILE's line protocol (ns timestamps already in it) as records of at most N lines
 *       (default 1000), each durable before the next (wal_append_sync)
 *   replay_drive --data-dir DIR --backend NAME=URL [--backend ...] [--run-until-caught-up]
 *       [--timeout SEC] [--start earliest|latest] [--gzip] [--batch-points N] [--batch-bytes N]
 *       [--in-flight N] [--retry-max-ms N] [--request-timeout-ms N] [--connect-timeout-ms N]
 *       [--create-database] [--user U --password P] [--token T] [--give-up-after-ms N]
 *       [--give-up-bytes N] [--status-every-ms N] [--retain-ms N] [--log-level L]
 *       [--remove-after-ms NAME=MS]
 *       run the engine on a uv loop: with --run-until-caught-up until every backend's cursor is
 *       at the head (exit 0) or the timeout (exit 1); without, until the timeout or SIGTERM
 *       (exit 0). Prints one status line per backend at the end (and every N ms if asked).
 *       --remove-after-ms reconfigures the engine without NAME after MS (replay_set_backends).
 *   replay_drive --data-dir DIR --dead-list [--backend NAME]
 *       list the dead letters (one line each) and a count per backend
 *   replay_drive --data-dir DIR --cursors
 *       list the cursors
 *   replay_drive --data-dir DIR --set-cursor NAME=SEQ
 *       move a cursor as the CLI would (expect: anything), also while the engine runs */
#include "common/err.h"
#include "common/log.h"
#include "replay/replay.h"
#include "wal/wal.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define MAX_BACKENDS 16

struct drive {
    uv_loop_t *loop;
    struct wal *w;
    struct wal_reader *reader;
    struct replay *r;
    uv_async_t async;
    uv_timer_t check;
    uv_signal_t sigterm, sigint;
    int until_caught_up;
    uint64_t deadline_ms;
    uint64_t status_every_ms, last_status_ms;
    int stopping;
    int exit_code;
    struct replay_backend_opts *backends;
    size_t n_backends;
    const char *remove_name;
    uint64_t remove_at_ms;
};

static void usage(void)
{
    fprintf(stderr, "usage: replay_drive --data-dir DIR (--append FILE --db DB [--rp RP] "
                    "[--lines N] | --backend NAME=URL ... [options] | --dead-list | --cursors)\n");
    exit(2);
}

static void print_status(struct drive *d, const char *prefix)
{
    struct replay_backend_status *st;
    size_t n;
    uint64_t first = 0, last = 0, high = 0;
    if (wal_reader_begin(d->reader) == 0) {
        wal_reader_bounds(d->reader, &first, &last, &high);
        wal_reader_end(d->reader);
    }
    replay_status(d->r, &st, &n);
    for (size_t i = 0; i < n; i++) {
        const struct replay_backend_status *b = &st[i];
        char err[300];
        log_quote(err, sizeof(err), b->last_error, strlen(b->last_error));
        printf("%sbackend=%s up=%d caught_up=%d given_up=%d cursor=%" PRIu64 " head=%" PRIu64
               " lag_records=%" PRIu64 " lag_bytes=%" PRIu64 " lag_seconds=%.1f"
               " sent_points=%" PRIu64 " batches=%" PRIu64 " dead_letters=%" PRIu64
               " retries=%" PRIu64 " down_since_ns=%" PRIu64 " drain_rps=%.0f requests=%" PRIu64
               " codes=",
               prefix, b->name, b->up, b->caught_up, b->given_up, b->cursor, high, b->lag_records,
               b->lag_bytes, b->lag_seconds, b->sent_points_total, b->sent_batches_total,
               b->dead_letters_total, b->retries_total, b->down_since_ns,
               b->drain_records_per_second, b->duration.count);
        int any = 0;
        for (int k = 0; k < REPLAY_CODES; k++) {
            if (b->code_counts[k] == 0)
                continue;
            printf("%s%ld:%" PRIu64, any ? "," : "", b->codes[k], b->code_counts[k]);
            any = 1;
        }
        printf("%s last_error=%s\n", any ? "" : "-", err);
    }
    fflush(stdout);
    free(st);
}

static void on_stopped(void *arg)
{
    struct drive *d = arg;
    uv_close((uv_handle_t *)&d->async, NULL);
    uv_close((uv_handle_t *)&d->check, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
}

static void drive_stop(struct drive *d, int code)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    d->exit_code = code;
    print_status(d, "");
    uv_timer_stop(&d->check);
    replay_stop(d->r, on_stopped, d);
}

static int all_caught_up(struct drive *d)
{
    uint64_t first = 0, last = 0, high = 0;
    if (wal_reader_begin(d->reader) != 0)
        return 0;
    wal_reader_bounds(d->reader, &first, &last, &high);
    wal_reader_end(d->reader);
    struct replay_backend_status *st;
    size_t n;
    replay_status(d->r, &st, &n);
    int ok = n > 0;
    for (size_t i = 0; i < n; i++)
        ok = ok && st[i].caught_up && st[i].cursor >= high;
    free(st);
    return ok;
}

static void on_check(uv_timer_t *t)
{
    struct drive *d = t->data;
    uint64_t now = uv_now(d->loop);
    if (d->status_every_ms > 0 && now - d->last_status_ms >= d->status_every_ms) {
        d->last_status_ms = now;
        print_status(d, "status ");
    }
    if (d->remove_name != NULL && now >= d->remove_at_ms) {
        struct replay_backend_opts keep[MAX_BACKENDS];
        size_t n = 0;
        for (size_t i = 0; i < d->n_backends; i++)
            if (strcmp(d->backends[i].name, d->remove_name) != 0)
                keep[n++] = d->backends[i];
        int rc = replay_set_backends(d->r, keep, n);
        printf("removed backend=%s rc=%d\n", d->remove_name, rc);
        d->remove_name = NULL;
    }
    if (d->until_caught_up && all_caught_up(d)) {
        drive_stop(d, 0);
        return;
    }
    if (now >= d->deadline_ms)
        drive_stop(d, d->until_caught_up ? 1 : 0);
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct drive *d = h->data;
    (void)sig;
    drive_stop(d, 0);
}

static void on_async(uv_async_t *a)
{
    struct drive *d = a->data;
    wal_complete(d->w);
}

static void wake(void *arg)
{
    uv_async_send(arg);
}

/* The side commands (append, set-cursor) run next to a driver that holds the log as its
 * daemon: like the CLI they adopt an existing log rather than take its lock. */
static void side_options(struct wal_options *o, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    o->dir = dir;
    o->adopt = access(path, F_OK) == 0;
}

static int do_append(const char *dir, const char *file, const char *db, const char *rp,
                     const char *target, size_t per_record)
{
    struct wal_options o = {0};
    side_options(&o, dir);
    struct wal *w;
    int rc = wal_open(&w, &o);
    if (rc != 0) {
        fprintf(stderr, "wal_open %s: %s\n", dir, iwr_strerror(rc));
        return 1;
    }
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (f == NULL) {
        perror(file);
        wal_close(w);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0, body_cap = 1 << 16, body_len = 0, lines = 0;
    char *body = malloc(body_cap);
    uint64_t records = 0, points = 0, first = 0, last = 0;
    ssize_t n;
    int done = 0;
    while (!done) {
        n = getline(&line, &cap, f);
        if (n > 0 && line[n - 1] != '\n') { /* a last line without newline */
            line = realloc(line, (size_t)n + 2);
            line[n++] = '\n';
        }
        if (n > 1) {
            if (body_len + (size_t)n > body_cap) {
                while (body_len + (size_t)n > body_cap)
                    body_cap *= 2;
                body = realloc(body, body_cap);
            }
            memcpy(body + body_len, line, (size_t)n);
            body_len += (size_t)n;
            lines++;
        }
        done = n < 0;
        if (lines > 0 && (lines == per_record || done)) {
            struct wal_record r = {0};
            r.recv_ns = wal_now_ns();
            r.points = (uint32_t)lines;
            r.db = db;
            r.db_len = strlen(db);
            r.rp = rp;
            r.rp_len = strlen(rp);
            r.target = target;
            r.target_len = strlen(target);
            r.body = body;
            r.body_len = body_len;
            uint64_t seq = 0;
            rc = wal_append_sync(w, &r, &seq);
            if (rc != 0) {
                fprintf(stderr, "append: %s\n", iwr_strerror(rc));
                break;
            }
            if (first == 0)
                first = seq;
            last = seq;
            records++;
            points += lines;
            lines = body_len = 0;
        }
    }
    free(line);
    free(body);
    if (f != stdin)
        fclose(f);
    wal_close(w);
    printf("appended records=%" PRIu64 " points=%" PRIu64 " first_seq=%" PRIu64 " last_seq=%" PRIu64
           "\n",
           records, points, first, last);
    return rc == 0 ? 0 : 1;
}

static int do_dead_list(const char *dir, const char *name)
{
    struct wal_options o = {0};
    o.dir = dir;
    o.readonly = 1;
    struct wal *w;
    int rc = wal_open(&w, &o);
    if (rc != 0) {
        fprintf(stderr, "wal_open %s: %s\n", dir, iwr_strerror(rc));
        return 1;
    }
    struct wal_reader *r;
    wal_reader_new(w, &r);
    rc = wal_reader_begin(r);
    char after[WAL_NAME_MAX + 1] = "";
    uint64_t after_id = 0, count = 0, lines = 0;
    struct wal_dead_letter dl;
    while (rc == 0) {
        rc = wal_reader_dead_next(r, name, after[0] ? after : NULL, after_id, &dl);
        if (rc != 0)
            break;
        char ans[400];
        log_quote(ans, sizeof(ans), dl.answer, dl.answer_len);
        size_t nl = 0;
        for (size_t i = 0; i < dl.rec.body_len; i++)
            nl += dl.rec.body[i] == '\n';
        printf("dead backend=%s id=%" PRIu64 " seq=%" PRIu64 " lines=%zu db=%.*s answer=%s\n",
               dl.backend, dl.id, dl.rec.seq, nl, (int)dl.rec.db_len, dl.rec.db, ans);
        fwrite(dl.rec.body, 1, dl.rec.body_len, stdout);
        snprintf(after, sizeof(after), "%s", dl.backend);
        after_id = dl.id;
        count++;
        lines += nl;
    }
    wal_reader_end(r);
    wal_reader_free(r);
    wal_close(w);
    printf("dead_total count=%" PRIu64 " lines=%" PRIu64 "\n", count, lines);
    fflush(stdout);
    return rc == IWR_ENOTFOUND ? 0 : 1;
}

static int do_cursors(const char *dir)
{
    struct wal_options o = {0};
    o.dir = dir;
    o.readonly = 1;
    struct wal *w;
    int rc = wal_open(&w, &o);
    if (rc != 0) {
        fprintf(stderr, "wal_open %s: %s\n", dir, iwr_strerror(rc));
        return 1;
    }
    struct wal_stats st;
    struct wal_cursor_info *ci;
    size_t n;
    rc = wal_stats(w, &st, &ci, &n);
    if (rc == 0) {
        printf("log first_seq=%" PRIu64 " last_seq=%" PRIu64 " records=%" PRIu64 "\n", st.first_seq,
               st.last_seq, st.records);
        for (size_t i = 0; i < n; i++)
            printf("cursor backend=%s seq=%" PRIu64 " lag_records=%" PRIu64 " dead_letters=%" PRIu64
                   "\n",
                   ci[i].name, ci[i].seq, ci[i].lag_records, ci[i].dead_letters);
        free(ci);
    }
    wal_close(w);
    return rc == 0 ? 0 : 1;
}

static int do_set_cursor(const char *dir, const char *spec)
{
    char name[WAL_NAME_MAX + 1];
    const char *eq = strchr(spec, '=');
    if (eq == NULL || (size_t)(eq - spec) > WAL_NAME_MAX)
        return 2;
    snprintf(name, sizeof(name), "%.*s", (int)(eq - spec), spec);
    struct wal_options o = {0};
    side_options(&o, dir);
    struct wal *w;
    int rc = wal_open(&w, &o);
    if (rc != 0) {
        fprintf(stderr, "wal_open %s: %s\n", dir, iwr_strerror(rc));
        return 1;
    }
    rc = wal_cursor_move_sync(w, name, WAL_SEQ_ANY, strtoull(eq + 1, NULL, 10));
    wal_close(w);
    printf("set_cursor backend=%s rc=%d\n", name, rc);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}

static uint64_t num(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        usage();
    return v;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *append = NULL, *db = NULL, *rp = "", *target = "";
    const char *user = NULL, *password = NULL, *token = NULL, *set_cursor = NULL;
    size_t per_record = 1000, n_back = 0;
    int dead_list = 0, cursors = 0;
    struct replay_backend_opts b[MAX_BACKENDS];
    struct replay_backend_opts common = {0};
    char *specs[MAX_BACKENDS];
    struct drive d = {0};
    uint64_t timeout_s = 60, retain_ms = 0;
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG (v != NULL ? (i++, v) : (usage(), ""))
        if (strcmp(a, "--data-dir") == 0)
            dir = ARG;
        else if (strcmp(a, "--append") == 0)
            append = ARG;
        else if (strcmp(a, "--db") == 0)
            db = ARG;
        else if (strcmp(a, "--rp") == 0)
            rp = ARG;
        else if (strcmp(a, "--target") == 0)
            target = ARG;
        else if (strcmp(a, "--lines") == 0)
            per_record = num(ARG);
        else if (strcmp(a, "--backend") == 0) {
            if (n_back == MAX_BACKENDS)
                usage();
            specs[n_back++] = strdup(ARG);
        } else if (strcmp(a, "--run-until-caught-up") == 0)
            d.until_caught_up = 1;
        else if (strcmp(a, "--timeout") == 0)
            timeout_s = num(ARG);
        else if (strcmp(a, "--start") == 0)
            common.start =
                strcmp(ARG, "earliest") == 0 ? REPLAY_START_EARLIEST : REPLAY_START_LATEST;
        else if (strcmp(a, "--gzip") == 0)
            common.gzip = 1;
        else if (strcmp(a, "--batch-points") == 0)
            common.batch_max_points = num(ARG);
        else if (strcmp(a, "--batch-bytes") == 0)
            common.batch_max_bytes = num(ARG);
        else if (strcmp(a, "--in-flight") == 0)
            common.max_in_flight = num(ARG);
        else if (strcmp(a, "--retry-max-ms") == 0)
            common.retry_max_delay_ms = num(ARG);
        else if (strcmp(a, "--request-timeout-ms") == 0)
            common.timeout_ms = num(ARG);
        else if (strcmp(a, "--connect-timeout-ms") == 0)
            common.connect_timeout_ms = num(ARG);
        else if (strcmp(a, "--create-database") == 0)
            common.create_database = 1;
        else if (strcmp(a, "--give-up-after-ms") == 0)
            common.give_up_after_ms = num(ARG);
        else if (strcmp(a, "--give-up-bytes") == 0)
            common.give_up_bytes = num(ARG);
        else if (strcmp(a, "--user") == 0)
            user = ARG;
        else if (strcmp(a, "--password") == 0)
            password = ARG;
        else if (strcmp(a, "--token") == 0)
            token = ARG;
        else if (strcmp(a, "--status-every-ms") == 0)
            d.status_every_ms = num(ARG);
        else if (strcmp(a, "--dead-list") == 0)
            dead_list = 1;
        else if (strcmp(a, "--cursors") == 0)
            cursors = 1;
        else if (strcmp(a, "--remove-after-ms") == 0) {
            char *spec = strdup(ARG), *eq = strchr(spec, '=');
            if (eq == NULL)
                usage();
            *eq = '\0';
            d.remove_name = spec;
            d.remove_at_ms = num(eq + 1);
        } else if (strcmp(a, "--retain-ms") == 0)
            retain_ms = num(ARG);
        else if (strcmp(a, "--set-cursor") == 0)
            set_cursor = ARG;
        else if (strcmp(a, "--log-level") == 0) {
            enum log_level lv;
            if (log_parse_level(ARG, &lv) != 0)
                usage();
            log_set_level(lv);
        } else
            usage();
#undef ARG
    }
    if (dir == NULL)
        usage();
    int rc;
    if (append != NULL) {
        if (db == NULL || per_record == 0)
            usage();
        return do_append(dir, append, db, rp, target, per_record);
    }
    if (set_cursor != NULL)
        return do_set_cursor(dir, set_cursor);
    if (dead_list || cursors) {
        rc = dead_list ? do_dead_list(dir, n_back == 1 ? specs[0] : NULL) : do_cursors(dir);
        for (size_t i = 0; i < n_back; i++)
            free(specs[i]);
        return rc;
    }
    if (n_back == 0)
        usage();
    for (size_t i = 0; i < n_back; i++) {
        char *eq = strchr(specs[i], '=');
        if (eq == NULL)
            usage();
        *eq = '\0';
        b[i] = common;
        b[i].name = specs[i];
        b[i].url = eq + 1;
        b[i].username = user;
        b[i].password = password;
        b[i].token = token;
    }

    d.loop = uv_default_loop();
    uv_async_init(d.loop, &d.async, on_async);
    d.async.data = &d;
    struct wal_options o = {0};
    o.dir = dir;
    o.wake = wake;
    o.wake_arg = &d.async;
    o.retain_ns = retain_ms * 1000000u;
    rc = wal_open(&d.w, &o);
    if (rc != 0) {
        fprintf(stderr, "wal_open %s: %s\n", dir, iwr_strerror(rc));
        return 1;
    }
    wal_reader_new(d.w, &d.reader);
    rc = replay_new(&d.r, d.loop, d.w);
    if (rc == 0)
        rc = replay_set_backends(d.r, b, n_back);
    if (rc != 0) {
        fprintf(stderr, "replay: %s\n", iwr_strerror(rc));
        return 1;
    }
    d.backends = b;
    d.n_backends = n_back;
    char *remove_spec = (char *)d.remove_name;
    d.remove_at_ms += uv_now(d.loop);
    uv_timer_init(d.loop, &d.check);
    d.check.data = &d;
    d.deadline_ms = uv_now(d.loop) + timeout_s * 1000;
    d.last_status_ms = uv_now(d.loop);
    uv_timer_start(&d.check, on_check, 50, 50);
    uv_signal_init(d.loop, &d.sigterm);
    uv_signal_init(d.loop, &d.sigint);
    d.sigterm.data = d.sigint.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);

    uv_run(d.loop, UV_RUN_DEFAULT);

    replay_free(d.r);
    wal_reader_free(d.reader);
    wal_close(d.w);
    uv_loop_close(d.loop);
    for (size_t i = 0; i < n_back; i++)
        free(specs[i]);
    free(remove_spec);
    return d.exit_code;
}
