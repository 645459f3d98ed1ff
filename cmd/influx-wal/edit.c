/* The CLI's write commands: rewind, skip and dead. They open the log as a second writer next
 * to the daemon (LMDB's writer lock orders them) and move cursors with compare-and-set, so a
 * daemon that moved the cursor in between is noticed rather than overwritten. */
#include "cmd/influx-wal/cli.h"

#include "common/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int current_cursor(struct cli *cli, struct wal *w, const char *backend, uint64_t *seq,
                          uint64_t *first, uint64_t *last, uint64_t *high)
{
    struct wal_reader *r;
    wal_reader_new(w, &r);
    int rc = wal_reader_begin(r);
    if (rc == 0)
        rc = wal_reader_cursor(r, backend, seq);
    if (rc == 0)
        rc = wal_reader_bounds(r, first, last, high);
    wal_reader_end(r);
    wal_reader_free(r);
    if (rc == IWR_ENOTFOUND)
        return cli_fail(cli, "no backend '%s' in this log", backend);
    if (rc != 0)
        return cli_fail(cli, "reading the log: %s", iwr_strerror(rc));
    return 0;
}

/* The sequence before the first record received at or after 'since_ns'. */
static int seq_before_time(struct cli *cli, struct wal *w, uint64_t since_ns, uint64_t *out)
{
    struct wal_reader *r;
    wal_reader_new(w, &r);
    int rc = wal_reader_begin(r);
    uint64_t after = 0, first = 0, last = 0, high = 0;
    if (rc == 0)
        rc = wal_reader_bounds(r, &first, &last, &high);
    *out = high;
    /* Records are in receive order, so a binary search over the sequence range works. */
    uint64_t lo = first, hi = last;
    while (rc == 0 && first > 0 && lo <= hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        struct wal_record rec;
        int nrc = wal_reader_next(r, mid - 1, &rec);
        if (nrc != 0 && nrc != IWR_ECORRUPT)
            break;
        if (nrc == 0 && rec.recv_ns >= since_ns) {
            *out = rec.seq - 1;
            if (mid == 0)
                break;
            hi = mid - 1;
        } else {
            lo = mid + 1;
        }
        after = mid;
    }
    (void)after;
    wal_reader_end(r);
    wal_reader_free(r);
    if (rc != 0)
        return cli_fail(cli, "reading the log: %s", iwr_strerror(rc));
    return 0;
}

static int move_cursor(struct cli *cli, int forward)
{
    const char *backend = NULL, *to_s = NULL, *since_s = NULL;
    int yes = 0;
    const struct cli_opt opts[] = {{"--backend", &backend, NULL},
                                   {"--to", &to_s, NULL},
                                   {"--since", forward ? NULL : &since_s, NULL},
                                   {"--yes", NULL, &yes},
                                   {NULL, NULL, NULL}};
    const struct cli_opt *o = opts;
    struct cli_opt fwd[] = {{"--backend", &backend, NULL},
                            {"--to", &to_s, NULL},
                            {"--yes", NULL, &yes},
                            {NULL, NULL, NULL}};
    if (forward)
        o = fwd;
    int rc = cli_parse(cli, o, NULL, 0, NULL);
    if (rc != 0)
        return rc;
    if (backend == NULL)
        return cli_usage(cli, "--backend is required");
    if ((to_s == NULL) == (since_s == NULL))
        return cli_usage(cli, forward ? "--to is required" : "give --to or --since (one of them)");
    uint64_t to = 0, since = 0;
    if (to_s && cli_seq(cli, "--to", to_s, &to) != 0)
        return 2;
    if (since_s && cli_time(cli, "--since", since_s, &since) != 0)
        return 2;
    struct wal *w;
    if ((rc = cli_open(cli, 1, &w)) != 0)
        return rc;
    uint64_t cur, first, last, high;
    rc = current_cursor(cli, w, backend, &cur, &first, &last, &high);
    if (rc == 0 && since_s)
        rc = seq_before_time(cli, w, since, &to);
    if (rc == 0 && forward && to < cur)
        rc = cli_fail(cli, "--to %" PRIu64 " is behind the cursor %" PRIu64 ": use rewind", to, cur);
    if (rc == 0 && !forward && to > cur)
        rc = cli_fail(cli, "--to %" PRIu64 " is ahead of the cursor %" PRIu64 ": use skip", to, cur);
    if (rc == 0 && to > high)
        rc = cli_fail(cli, "--to %" PRIu64 " is beyond the last sequence %" PRIu64, to, high);
    if (rc == 0 && !forward && first > 0 && to + 1 < first)
        fprintf(stderr, "influx-wal rewind: records before %" PRIu64 " are no longer in the log; "
                        "the backend gets %" PRIu64 "..%" PRIu64 "\n", first, first, last);
    if (rc == 0 && forward && !yes)
        rc = cli_usage(cli, "skipping means backend %s never gets records %" PRIu64 "..%" PRIu64
                            "; add --yes to do it", backend, cur + 1, to);
    if (rc == 0) {
        int mrc = wal_cursor_move_sync(w, backend, cur, to);
        if (mrc == IWR_ECONFLICT)
            rc = cli_fail(cli, "the cursor of %s moved while we looked; run it again", backend);
        else if (mrc != 0)
            rc = cli_fail(cli, "moving the cursor: %s", iwr_strerror(mrc));
        else
            printf("%s: cursor %" PRIu64 " -> %" PRIu64 "\n", backend, cur, to);
    }
    wal_close(w);
    return rc;
}

int cmd_rewind(struct cli *cli)
{
    return move_cursor(cli, 0);
}

int cmd_skip(struct cli *cli)
{
    return move_cursor(cli, 1);
}

int cmd_dead(struct cli *cli)
{
    const char *backend = NULL;
    int lines = 0, yes = 0;
    const struct cli_opt opts[] = {{"--backend", &backend, NULL},
                                   {"--lines", NULL, &lines},
                                   {"--yes", NULL, &yes},
                                   {NULL, NULL, NULL}};
    const char *pos[1];
    size_t np = 0;
    int rc = cli_parse(cli, opts, pos, 1, &np);
    if (rc != 0)
        return rc;
    if (np != 1 || (strcmp(pos[0], "list") != 0 && strcmp(pos[0], "requeue") != 0 &&
                    strcmp(pos[0], "purge") != 0))
        return cli_usage(cli, "say list, requeue or purge");
    if (backend && !wal_name_valid(backend))
        return cli_usage(cli, "'%s' is not a backend name", backend);
    int list = strcmp(pos[0], "list") == 0, purge = strcmp(pos[0], "purge") == 0;
    if (purge && !yes)
        return cli_usage(cli, "purging deletes the refused lines for good; add --yes to do it");
    struct wal *w;
    if ((rc = cli_open(cli, !list, &w)) != 0)
        return rc;
    if (list) {
        struct wal_reader *r;
        wal_reader_new(w, &r);
        rc = wal_reader_begin(r);
        struct wal_dead_letter dl;
        char after[WAL_NAME_MAX + 1] = "";
        uint64_t after_id = 0, n = 0;
        while (rc == 0) {
            int drc = wal_reader_dead_next(r, backend, n ? after : NULL, after_id, &dl);
            if (drc == IWR_ENOTFOUND)
                break;
            if (drc != 0) {
                rc = cli_fail(cli, "reading dead letters: %s", iwr_strerror(drc));
                break;
            }
            n++;
            strcpy(after, dl.backend);
            after_id = dl.id;
            time_t secs = (time_t)(dl.time_ns / 1000000000u);
            struct tm tm;
            gmtime_r(&secs, &tm);
            char when[32];
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
            printf("backend=%s id=%" PRIu64 " seq=%" PRIu64 " time=%s db=%.*s rp=%.*s "
                   "points=%" PRIu32 "%s answer=\"",
                   dl.backend, dl.id, dl.rec.seq, when, (int)dl.rec.db_len, dl.rec.db,
                   (int)dl.rec.rp_len, dl.rec.rp, dl.rec.points,
                   (dl.rec.flags & WAL_REC_STATEMENT) ? " kind=statement" : "");
            for (size_t i = 0; i < dl.answer_len; i++) {
                char ch = dl.answer[i];
                if (ch == '"' || ch == '\\')
                    putchar('\\');
                putchar(ch == '\n' ? ' ' : ch);
            }
            printf("\"\n");
            if (lines)
                cli_print_body(stdout, &dl.rec);
        }
        wal_reader_end(r);
        wal_reader_free(r);
        if (rc == 0)
            fprintf(stderr, "%" PRIu64 " dead letters\n", n);
    } else {
        uint64_t count = 0;
        int drc = purge ? wal_dead_purge_sync(w, backend, &count)
                        : wal_dead_requeue_sync(w, backend, &count);
        if (drc != 0)
            rc = cli_fail(cli, "%s: %s", pos[0], iwr_strerror(drc));
        else
            printf("%s %" PRIu64 " dead letters%s%s\n", purge ? "purged" : "requeued", count,
                   backend ? " of " : "", backend ? backend : "");
    }
    wal_close(w);
    return rc;
}
