/* influx-wal audit: compare what the log holds for a backend with what that backend has, per
 * database, retention policy, measurement and hour, and list the windows where the backend has
 * fewer points, with the sequences to resend them (influx-wal replay --from/--to-seq).
 *
 * The log side (audit_count.c): every record up to the backend's cursor (those it acknowledged:
 * with a retention window the log keeps them a while), counted per window and field as distinct
 * points (series and timestamp), less the backend's dead letters. The backend side
 * (audit_query.c): one SELECT count(*) ... GROUP BY time(1h) per measurement (and at most
 * MAX_QUERY_HOURS), which gives one count per field. This file runs the command, compares and
 * prints: a window differs when some field has fewer points on the backend; more on the
 * backend is normal (other relays, records already trimmed, direct writes) and only reported.
 * The log is opened read-only. */
#include "cmd/influx-wal/audit.h"

#include "common/buf.h"
#include "common/url.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- comparing and printing ---------------------------------------------------------------- */

static void print_window(const struct audit *a, const struct window *w, const char *what)
{
    const char *db = a->groups.str[w->group], *rp = db + strlen(db) + 1, *m = rp + strlen(rp) + 1;
    uint64_t log = 0, back = 0, short_by = 0;
    for (size_t i = 0; i < w->n_fields; i++) {
        const struct field_count *f = &w->fields[i];
        log = f->log > log ? f->log : log;
        back = f->backend > back ? f->backend : back;
        if (f->log > f->backend && f->log - f->backend > short_by)
            short_by = f->log - f->backend;
    }
    time_t secs = (time_t)(w->hour / 1000000000);
    struct tm tm;
    char when[40];
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-7s db=%s rp=%s measurement=%s hour=%s log=%" PRIu64 " backend=%" PRIu64, what, db, rp,
           m, when, log, back);
    if (w->state == 1) {
        printf(" missing=%" PRIu64 " fields=", short_by);
        for (size_t i = 0, k = 0; i < w->n_fields; i++)
            if (w->fields[i].log > w->fields[i].backend)
                printf("%s%s", k++ ? "," : "", a->field_names.str[w->fields[i].field]);
    }
    printf(" sequences=%" PRIu64 "..%" PRIu64 "\n", w->min_seq, w->max_seq);
}

static int compare_and_print(struct audit *a)
{
    uint64_t match = 0, fewer = 0, more = 0;
    for (size_t i = 0; i < a->n_win; i++) {
        struct window *w = &a->win[i];
        for (size_t f = 0; f < w->n_fields; f++) {
            if (w->fields[f].backend < w->fields[f].log)
                w->state = 1;
            else if (w->fields[f].backend > w->fields[f].log && w->state == 0)
                w->state = 2;
        }
        match += w->state == 0;
        fewer += w->state == 1;
        more += w->state == 2;
    }
    for (size_t i = 0; i < a->n_win; i++)
        if (a->win[i].state == 1)
            print_window(a, &a->win[i], "differs");
    for (size_t i = 0; i < a->n_win; i++)
        if (a->win[i].state == 2)
            print_window(a, &a->win[i], "more");
    printf("windows %zu: %" PRIu64 " match, %" PRIu64
           " differ (fewer points on the backend), %" PRIu64
           " with more on the backend (other relays, trimmed records or direct writes: no loss)\n",
           a->n_win, match, fewer, more);
    for (size_t i = 0; i < a->n_win; i++)
        if (a->win[i].state == 1)
            printf("resend: influx-wal replay --backend %s --to %s --from %" PRIu64
                   " --to-seq %" PRIu64 "\n",
                   a->backend, a->url, a->win[i].min_seq, a->win[i].max_seq);
    return fewer > 0;
}

int cmd_audit(struct cli *cli)
{
    const char *backend = NULL, *url = NULL, *since_s = NULL;
    const struct cli_opt opts[] = {{"--backend", &backend, NULL},
                                   {"--url", &url, NULL},
                                   {"--since", &since_s, NULL},
                                   {NULL, NULL, NULL}};
    int rc = cli_parse(cli, opts, NULL, 0, NULL);
    if (rc != 0)
        return rc;
    if (backend == NULL || url == NULL)
        return cli_usage(cli, "--backend and --url are required");
    if (!wal_name_valid(backend))
        return cli_usage(cli, "'%s' is not a backend name", backend);
    if (cli_url(cli, "--url", url) != 0)
        return 2;
    struct audit a;
    memset(&a, 0, sizeof(a));
    a.cli = cli;
    a.backend = backend;
    char *base = xstrdup(url);
    for (size_t n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
        base[n - 1] = '\0';
    a.url = base;
    uint64_t since = 0;
    if (since_s != NULL && cli_time(cli, "--since", since_s, &since) != 0) {
        free(base);
        return 2;
    }
    if (since_s != NULL) {
        a.have_since = 1;
        a.since_hour = (int64_t)(since - since % (uint64_t)HOUR_NS);
    }
    buf_init(&a.key);
    buf_init(&a.scratch);
    struct wal *w;
    rc = cli_open(cli, 0, &w);
    if (rc == 0) {
        rc = audit_count_log(&a, w);
        wal_close(w);
    }
    struct buf notes;
    buf_init(&notes);
    if (rc == 0) {
        audit_sort_windows(&a);
        rc = audit_query_all(&a, &notes);
    }
    if (rc == 0) {
        char *shown = url_display(a.url); /* never the URL's user:password@ */
        printf("audit of backend %s at %s: ", backend, shown);
        free(shown);
        if (a.records > 0)
            printf("%" PRIu64 " records (sequences %" PRIu64 "..%" PRIu64 ") it acknowledged, ",
                   a.records, a.first_seq, a.last_seq);
        else
            printf("no record it acknowledged is in the log (retain keeps them a while), ");
        printf("%" PRIu64 " lines%s%s\n", a.lines, since_s ? " with timestamps since " : "",
               since_s ? since_s : "");
        printf("compared: per database, retention policy, measurement and hour, the points of "
               "each field (count(*) on the backend); shown: the largest per-field count\n");
        rc = compare_and_print(&a);
        printf("note: a point written more than once (same series and timestamp) is one point on "
               "the backend, and counted once here: %" PRIu64 " such lines\n",
               a.dups);
        if (a.refused_lines > 0)
            printf("note: %" PRIu64 " lines %s refused (influx-wal dead list) are not expected "
                   "on it\n",
                   a.refused_lines, backend);
        if (a.pending > 0)
            printf("note: %" PRIu64 " later records are not acknowledged yet: not compared\n",
                   a.pending);
        if (a.unparsed > 0)
            printf("note: %" PRIu64 " lines could not be read as line protocol: not compared\n",
                   a.unparsed);
        if (a.corrupt > 0) {
            printf("note: %" PRIu64 " corrupt records skipped (influx-wal verify names them)\n",
                   a.corrupt);
            rc = 1;
        }
        fwrite(notes.data ? notes.data : "", 1, notes.len, stdout);
    }
    buf_deinit(&notes);
    audit_deinit(&a);
    free(base);
    return rc;
}
