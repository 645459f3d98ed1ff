/* Space accounting: how many bytes of pages the records use (against the size limit), what an
 * append needs, the filesystem's free-space reserve (statvfs, min-free), a commit's ENOSPC in
 * disguise, and whether the log is writable (what /metrics and /health show).
 *
 * Owns the writability state (struct wal_space_state, under stats_mu). The room checks run on
 * the writer thread inside its transaction; wal_space_judge on any thread that reads the
 * counters. */
#include "wal/wal_int.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/statvfs.h>

/* Room for a few large requests: below it, the next append may be refused. */
#define WRITABLE_MARGIN ((uint64_t)1024 * 1024)
/* Refusals seen this recently make the log "not writable" even when it looks roomy (the disk
 * reserve, a commit error). Bounded, so that a relay a load balancer took out of its pool for
 * it gets tried again. */
#define REFUSED_HOLD_NS (10ull * 1000000000ull)

size_t wal_log_bytes(struct wal *w, MDB_txn *txn)
{
    MDB_stat st;
    if (mdb_stat(txn, w->log, &st) != 0)
        return 0;
    return (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * w->psize;
}

/* Pages a value of 'len' bytes takes: large values get their own overflow pages. */
size_t wal_pages_for(struct wal *w, size_t len)
{
    return ((len + 16 + w->psize - 1) / w->psize) * w->psize;
}

/* Bytes of pages the data file already has but no table uses (LMDB's free list, as of this
 * transaction). LMDB reuses them before it grows the file, and the file never shrinks: once a
 * log that hit the reserve has drained, appends that fit there take no disk space at all. */
static size_t file_free_bytes(struct wal *w, MDB_txn *txn)
{
    MDB_envinfo info;
    MDB_stat st;
    MDB_dbi dbis[] = {0 /* free list */, 1 /* main */, w->log, w->cursors, w->dead, w->meta};
    size_t used = 2; /* the meta pages */
    if (mdb_env_info(w->env, &info) != 0)
        return 0;
    for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++) {
        if (mdb_stat(txn, dbis[i], &st) != 0)
            return 0;
        used += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    }
    size_t pages = (size_t)info.me_last_pgno + 1;
    return pages > used ? (pages - used) * w->psize : 0;
}

int wal_room_check(struct wal *w, struct wtx *t, size_t need)
{
    if (w->opt.min_free_bytes == 0)
        return 0;
    struct statvfs sv;
    if (!t->room_checked) {
        t->room_checked = 1;
        t->room_ok = statvfs(w->dir, &sv) != 0 ||
                     (uint64_t)sv.f_bavail * sv.f_frsize >= w->opt.min_free_bytes;
    }
    if (t->room_ok)
        return 0;
    /* Below the reserve, what fits in the file's free pages (with a margin for the pages the
     * commit copies) still goes in: it does not use the disk. */
    if (need + 64 * w->psize <= file_free_bytes(w, t->txn))
        return 0;
    if (!t->room_warned && statvfs(w->dir, &sv) == 0)
        log_warn("event=wal_disk_reserve_reached dir=%s free_bytes=%llu min_free_bytes=%zu",
                 w->dir, (unsigned long long)sv.f_bavail * sv.f_frsize, w->opt.min_free_bytes);
    t->room_warned = 1;
    return IWR_ERESERVE;
}

/* LMDB reports a short page write as EIO ("short write, filesystem full?"). The pages are
 * written before the meta page, so the environment is still sound after such a failure: when
 * the file system is (nearly) out of space, it is ENOSPC in all but name, "full" and not fatal.
 * Any other EIO (a failed fdatasync on a sick disk) stays fatal. */
int wal_commit_err(struct wal *w, int rc)
{
    struct statvfs sv;
    if (rc == EIO && statvfs(w->dir, &sv) == 0 &&
        (uint64_t)sv.f_bavail * sv.f_frsize < ((uint64_t)1 << 20))
        return ENOSPC;
    return rc;
}

void wal_space_init(struct wal *w)
{
    struct wal_space_state *s = &w->space;
    size_t reserve = w->opt.min_free_bytes;
    struct statvfs sv;
    if (statvfs(w->dir, &sv) != 0) {
        /* Unknown size: the default is its cap; the room check will not see it either. */
        if (reserve == WAL_MIN_FREE_DEFAULT)
            w->opt.min_free_bytes = WAL_MIN_FREE_DEFAULT_CAP;
        return;
    }
    uint64_t fs = (uint64_t)sv.f_blocks * sv.f_frsize;
    s->fs_bytes = fs;
    uint64_t dflt = fs / 20 < WAL_MIN_FREE_DEFAULT_CAP ? fs / 20 : WAL_MIN_FREE_DEFAULT_CAP;
    if (reserve == WAL_MIN_FREE_DEFAULT) {
        reserve = (size_t)dflt;
    } else if (reserve > 0 && reserve >= fs) {
        log_warn("event=wal_min_free_too_large dir=%s min_free_bytes=%zu filesystem_bytes=%" PRIu64
                 " using_bytes=%" PRIu64 " note=\"the reserve is larger than the filesystem\"",
                 w->dir, reserve, fs, dflt);
        reserve = (size_t)dflt;
    }
    w->opt.min_free_bytes = reserve;
    if (w->opt.max_bytes + (uint64_t)reserve > fs) {
        uint64_t limit = fs - reserve;
        log_warn("event=wal_limit_reduced dir=%s max_size_bytes=%zu min_free_bytes=%zu "
                 "filesystem_bytes=%" PRIu64 " limit_bytes=%" PRIu64
                 " note=\"max-size and the reserve do not fit the filesystem\"",
                 w->dir, w->opt.max_bytes, reserve, fs, limit);
        w->opt.max_bytes = (size_t)limit;
    }
}

enum wal_full_reason wal_full_reason_of(int rc)
{
    switch (rc) {
    case IWR_EFULL:
        return WAL_FULL_MAX_SIZE;
    case IWR_ERESERVE:
        return WAL_FULL_RESERVE;
    case IWR_ENOSPACE:
        return WAL_FULL_DISK;
    default:
        return WAL_FULL_NONE;
    }
}

const char *wal_full_reason_name(enum wal_full_reason reason)
{
    switch (reason) {
    case WAL_FULL_MAX_SIZE:
        return "max-size";
    case WAL_FULL_RESERVE:
        return "min-free";
    case WAL_FULL_DISK:
        return "filesystem";
    case WAL_FULL_NONE:
        break;
    }
    return "";
}

const char *wal_full_reason_text(enum wal_full_reason reason)
{
    switch (reason) {
    case WAL_FULL_MAX_SIZE:
        return "the log's max-size is reached";
    case WAL_FULL_RESERVE:
        return "the filesystem is down to its free-space reserve (min-free)";
    case WAL_FULL_DISK:
        return "the filesystem is full (ENOSPC)";
    case WAL_FULL_NONE:
        break;
    }
    return "";
}

void wal_space_note(struct wal *w, uint64_t appended, const uint64_t *refused)
{
    struct wal_space_state *s = &w->space;
    uint64_t now = clock_monotonic_ns();
    /* A commit that both took and refused appends leaves the log refusing: the refusal may
     * well be the later of the two (the reserve is checked once per transaction). */
    if (refused[0] > 0) {
        enum wal_full_reason reason = refused[WAL_FULL_DISK]      ? WAL_FULL_DISK
                                      : refused[WAL_FULL_RESERVE] ? WAL_FULL_RESERVE
                                                                  : WAL_FULL_MAX_SIZE;
        if (!s->refusing || s->reason != reason)
            log_warn("event=wal_refusing_writes limit=%s limit_bytes=%zu min_free_bytes=%zu "
                     "reason=\"%s\"",
                     wal_full_reason_name(reason), w->opt.max_bytes, w->opt.min_free_bytes,
                     wal_full_reason_text(reason));
        s->refusing = 1;
        s->reason = reason;
        s->refused_ns = now;
    } else if (appended > 0) {
        if (s->refusing)
            log_info("event=wal_writable_again");
        s->refusing = 0;
        s->accepted_ns = now;
    }
}
void wal_space_judge(struct wal *w, struct wal_counters *c)
{
    struct wal_space_state *s = &w->space;
    uint64_t now = clock_monotonic_ns();
    c->limit_bytes = w->opt.max_bytes;
    c->min_free_bytes = w->opt.min_free_bytes;
    c->full_policy = w->opt.full_policy;
    c->full_reason = WAL_FULL_NONE;
    if (c->fatal != 0) {
        c->writable = 0;
        return;
    }
    if (s->refusing && now - s->refused_ns > REFUSED_HOLD_NS)
        s->refusing = 0;
    if (s->refusing) {
        c->writable = 0;
        c->full_reason = s->reason;
        return;
    }
    uint64_t max = c->limit_bytes;
    int roomy = c->log_bytes + WRITABLE_MARGIN <= max || c->log_bytes + max / 8 <= max;
    c->writable = roomy || c->full_policy == WAL_FULL_DROP_OLDEST ||
                  (s->accepted_ns != 0 && now - s->accepted_ns <= REFUSED_HOLD_NS);
    if (!c->writable)
        c->full_reason = WAL_FULL_MAX_SIZE;
}
