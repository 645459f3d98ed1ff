/* Whole-log inspection for the CLI: the integrity check and the compacted copy. Read
 * transactions only; any thread. */
#include "wal/wal_int.h"

#include "common/err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void say(void (*problem)(void *, const char *), void *arg, long *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(void (*problem)(void *, const char *), void *arg, long *n, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    (*n)++;
    if (problem)
        problem(arg, line);
}

long wal_verify(struct wal *w, void (*problem)(void *arg, const char *line), void *arg,
                struct wal_verify_summary *sum)
{
    memset(sum, 0, sizeof(*sum));
    MDB_txn *txn;
    int rc = wal_txn_begin_read(w, &txn);
    if (rc != 0)
        return rc;
    long n = 0;
    uint64_t format = 0, offset = 0;
    if (wal_meta_get64(txn, w, "format", &format) != 0 || format == 0 ||
        format > WAL_FORMAT_VERSION)
        say(problem, arg, &n, "meta: format is %" PRIu64 ", expected %d", format,
            WAL_FORMAT_VERSION);
    if (wal_meta_get64(txn, w, "high", &sum->high_seq) != 0)
        say(problem, arg, &n, "meta: highest sequence unreadable");
    if (wal_meta_get64(txn, w, "offset", &offset) != 0)
        say(problem, arg, &n, "meta: byte offset unreadable");

    MDB_cursor *c;
    MDB_val k, d;
    uint64_t prev = 0, end_offset = 0;
    rc = mdb_cursor_open(txn, w->log, &c);
    for (int mrc = rc ? rc : mdb_cursor_get(c, &k, &d, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        size_t seq;
        memcpy(&seq, k.mv_data, sizeof(seq));
        struct wal_record rec;
        if (wal_record_decode(d.mv_data, d.mv_size, seq, &rec) != 0) {
            sum->corrupt++;
            say(problem, arg, &n, "record %zu: checksum or framing mismatch (%zu bytes)", seq,
                d.mv_size);
        } else {
            if (rec.offset < end_offset)
                say(problem, arg, &n, "record %zu: offset %" PRIu64 " goes back (after %" PRIu64
                    ")", seq, rec.offset, end_offset);
            end_offset = rec.offset + rec.body_len;
        }
        if (sum->records == 0)
            sum->first_seq = seq;
        else if (seq != prev + 1)
            say(problem, arg, &n, "records %" PRIu64 "..%zu missing (sequence gap)", prev + 1,
                seq - 1);
        prev = seq;
        sum->records++;
        wal_map_touched(w, d.mv_size + WAL_MAP_FAULT_AROUND); /* the whole log, read in place */
    }
    if (rc == 0)
        mdb_cursor_close(c);
    sum->last_seq = prev;
    if (prev > sum->high_seq)
        say(problem, arg, &n, "record %" PRIu64 " is above the highest sequence %" PRIu64, prev,
            sum->high_seq);
    if (end_offset > offset)
        say(problem, arg, &n, "records end at byte %" PRIu64 ", beyond the log's offset %" PRIu64,
            end_offset, offset);

    if (mdb_cursor_open(txn, w->cursors, &c) == 0) {
        for (int mrc = mdb_cursor_get(c, &k, &d, MDB_FIRST); mrc == 0;
             mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
            sum->cursors++;
            int nl = (int)(k.mv_size > WAL_NAME_MAX ? WAL_NAME_MAX : k.mv_size);
            if (d.mv_size != 16) {
                say(problem, arg, &n, "cursor %.*s: %zu bytes, expected 16", nl,
                    (char *)k.mv_data, d.mv_size);
                continue;
            }
            uint64_t s = wal_get64(d.mv_data);
            if (s > sum->high_seq)
                say(problem, arg, &n, "cursor %.*s: %" PRIu64 " is beyond the highest sequence %"
                    PRIu64, nl, (char *)k.mv_data, s, sum->high_seq);
            else if (sum->records > 0 && s + 1 < sum->first_seq)
                say(problem, arg, &n, "cursor %.*s: %" PRIu64 " is behind the oldest record %"
                    PRIu64 " (records %" PRIu64 "..%" PRIu64 " were deleted before it saw them)",
                    nl, (char *)k.mv_data, s, sum->first_seq, s + 1, sum->first_seq - 1);
        }
        mdb_cursor_close(c);
    }
    if (mdb_cursor_open(txn, w->dead, &c) == 0) {
        for (int mrc = mdb_cursor_get(c, &k, &d, MDB_FIRST); mrc == 0;
             mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
            struct wal_dead_letter dl;
            sum->dead_letters++;
            if (wal_dead_decode(&k, &d, &dl) != 0)
                say(problem, arg, &n, "dead letter %" PRIu64 ": unreadable", sum->dead_letters);
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return n;
}

int wal_compact(struct wal *w, const char *dir)
{
    int rc = mdb_env_copy2(w->env, dir, MDB_CP_COMPACT);
    if (rc == ENOENT || rc == EACCES || rc == EEXIST || rc == ENOTDIR)
        return -rc;
    return wal_err(rc, "compact");
}
