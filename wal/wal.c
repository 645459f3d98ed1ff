/* The log's environment and its writer thread.
 *
 * Owns the MDB_env and every write transaction. Submitters (any thread) put ops on a queue
 * under 'mu'; the writer takes the whole queue, applies it in one transaction (appends, cursor
 * moves, dead letters, then a bounded chunk of truncation), commits with one fsync, and moves
 * the ops to the done list before calling the wake hook. While a commit syncs, the next batch
 * fills the queue: that is the group commit. Callbacks run in wal_complete() on the caller's
 * thread, never before the commit holding their op returned. */
#include "wal/wal_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <time.h>

const double wal_commit_seconds_bounds[WAL_HIST_BUCKETS] = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5};
const double wal_commit_records_bounds[WAL_HIST_BUCKETS] = {1,  2,   4,   8,   16,   32,
                                                            64, 128, 256, 512, 1024, 4096};

#define WAL_DEFAULT_MAX_BYTES ((size_t)1 << 30)
#define WAL_DEFAULT_TRIM_CHUNK 4096
#define WAL_READER_CHECK_NS (60ull * 1000000000ull)
#define WAL_RELEASE_NS (1000000000ull)

int wal_err(int rc, const char *what)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return IWR_ENOTFOUND;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case ENOSPC:
        return IWR_EFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        log_error("event=lmdb_error op=%s err=\"%s\"", what, mdb_strerror(rc));
        return IWR_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return IWR_EVERSION;
    default:
        if (rc > 0 && rc < 4096)
            return -rc;
        log_error("event=lmdb_error op=%s err=\"%s\"", what, mdb_strerror(rc));
        return IWR_ELMDB;
    }
}

/* LMDB reports a short page write as EIO ("short write, filesystem full?"). The pages are
 * written before the meta page, so the environment is still sound after such a failure: when
 * the file system is (nearly) out of space, it is ENOSPC in all but name, "full" and not fatal.
 * Any other EIO (a failed fdatasync on a sick disk) stays fatal. */
static int commit_err(struct wal *w, int rc)
{
    struct statvfs sv;
    if (rc == EIO && statvfs(w->dir, &sv) == 0 &&
        (uint64_t)sv.f_bavail * sv.f_frsize < ((uint64_t)1 << 20))
        return ENOSPC;
    return rc;
}

/* Panics and remaps leave the environment unusable: the process must restart (systemd does)
 * and a restart loses nothing committed. */
static void wal_check_fatal(int rc, const char *what)
{
    if (rc == MDB_PANIC || rc == MDB_MAP_RESIZED || rc == EIO) {
        log_error("event=wal_fatal op=%s err=\"%s\"", what, mdb_strerror(rc));
        exit(70);
    }
}

int wal_txn_begin_read(struct wal *w, MDB_txn **txn)
{
    int rc = mdb_txn_begin(w->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_READERS_FULL) {
        int dead = 0;
        mdb_reader_check(w->env, &dead);
        rc = mdb_txn_begin(w->env, NULL, MDB_RDONLY, txn);
    }
    wal_check_fatal(rc, "txn_begin_read");
    return wal_err(rc, "txn_begin_read");
}

int wal_meta_get64(MDB_txn *txn, struct wal *w, const char *key, uint64_t *v)
{
    MDB_val k = {strlen(key), (void *)key}, d;
    int rc = mdb_get(txn, w->meta, &k, &d);
    if (rc == MDB_NOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc != 0)
        return wal_err(rc, "meta_get");
    if (d.mv_size != 8)
        return IWR_ECORRUPT;
    *v = wal_get64(d.mv_data);
    return 0;
}

static int meta_put64(MDB_txn *txn, struct wal *w, const char *key, uint64_t v)
{
    unsigned char b[8];
    wal_put64(b, v);
    MDB_val k = {strlen(key), (void *)key}, d = {8, b};
    return mdb_put(txn, w->meta, &k, &d, 0);
}

/* ---- opening and closing ---------------------------------------------------------------- */

static int wal_open_tables(struct wal *w)
{
    MDB_txn *txn;
    unsigned int create = w->opt.readonly ? 0 : MDB_CREATE;
    int rc = mdb_txn_begin(w->env, NULL, w->opt.readonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0)
        return wal_err(rc, "txn_begin");
    rc = mdb_dbi_open(txn, "log", create | MDB_INTEGERKEY, &w->log);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "cursors", create, &w->cursors);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "dead", create, &w->dead);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", create, &w->meta);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        log_error("event=wal_open_failed dir=%s reason=\"not an influx-wal-relay log\"", w->dir);
        return IWR_ECORRUPT;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return wal_err(rc, "dbi_open");
    }
    uint64_t format = 0;
    rc = wal_meta_get64(txn, w, "format", &format);
    if (rc == 0 && format > WAL_FORMAT_VERSION) {
        log_error("event=wal_open_failed dir=%s reason=\"format %" PRIu64
                  " is newer than this build's %d\"",
                  w->dir, format, WAL_FORMAT_VERSION);
        rc = IWR_EVERSION;
    }
    if (rc == 0 && format == 0 && !w->opt.readonly)
        rc = wal_err(meta_put64(txn, w, "format", WAL_FORMAT_VERSION), "meta_put");
    /* The daemon records its limit so that the CLI, which does not read the config, can show
     * it. */
    /* Likewise the retention window: every process that commits also trims, and a CLI opened
     * next to the daemon must not trim what the daemon is configured to keep. */
    uint64_t limit = 0, retain = 0;
    if (rc == 0 && !w->opt.readonly && !w->opt.adopt) {
        rc = wal_err(meta_put64(txn, w, "max_bytes", w->opt.max_bytes), "meta_put");
        if (rc == 0)
            rc = wal_err(meta_put64(txn, w, "retain_ns", w->opt.retain_ns), "meta_put");
    } else if (rc == 0) {
        if (wal_meta_get64(txn, w, "max_bytes", &limit) == 0 && limit > 0)
            w->opt.max_bytes = limit;
        if (wal_meta_get64(txn, w, "retain_ns", &retain) == 0)
            w->opt.retain_ns = retain;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    /* Committed even when read-only: table handles opened in an aborted transaction close. */
    return wal_err(mdb_txn_commit(txn), "commit");
}

static void *writer_main(void *arg);

/* Where LMDB mapped data.mdb: LMDB does not say (mdb_env_info's address is the one recorded
 * for MDB_FIXEDMAP), so find the mapping of the file's inode in /proc/self/maps. */
static void find_map(struct wal *w)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/data.mdb", w->dir);
    struct stat sb;
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL || stat(path, &sb) != 0) {
        if (f)
            fclose(f);
        return;
    }
    char line[4096];
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long lo, hi, ino;
        unsigned maj, min;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s %*x %x:%x %lu", &lo, &hi, perms, &maj, &min, &ino) == 6 &&
            ino == (unsigned long)sb.st_ino && makedev(maj, min) == sb.st_dev &&
            hi - lo > w->map_hi - w->map_lo) {
            w->map_lo = lo;
            w->map_hi = hi;
        }
    }
    fclose(f);
}

int wal_open(struct wal **out, const struct wal_options *o)
{
    struct wal *w = xcalloc(1, sizeof(*w));
    w->opt = *o;
    w->dir = xstrdup(o->dir);
    w->opt.dir = w->dir;
    if (w->opt.max_bytes == 0)
        w->opt.max_bytes = WAL_DEFAULT_MAX_BYTES;
    if (w->opt.trim_chunk == 0)
        w->opt.trim_chunk = WAL_DEFAULT_TRIM_CHUNK;
    /* Headroom over the limit: deletes are copy-on-write too, and LMDB's free list and the
     * pages of a commit in progress live in the same map. */
    if (w->opt.map_bytes < w->opt.max_bytes + w->opt.max_bytes / 2 + (128u << 20))
        w->opt.map_bytes = w->opt.max_bytes + w->opt.max_bytes / 2 + (128u << 20);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done_cv, NULL);
    pthread_mutex_init(&w->stats_mu, NULL);
    w->queue_tail = &w->queue;
    w->done_tail = &w->done;

    int rc = 0;
    if (!w->opt.readonly && !w->opt.adopt && mkdir(w->dir, 0750) != 0 && errno != EEXIST)
        rc = -errno;
    if (w->opt.adopt || w->opt.readonly) {
        /* Never create a log where the operator pointed by mistake. */
        char path[4096];
        snprintf(path, sizeof(path), "%s/data.mdb", w->dir);
        struct stat sb;
        if (stat(path, &sb) != 0)
            rc = -errno;
    }
    if (rc == 0)
        rc = wal_err(mdb_env_create(&w->env), "env_create");
    if (rc != 0)
        goto out_free;
    rc = wal_err(mdb_env_set_maxdbs(w->env, 8), "set_maxdbs");
    /* The CLI never sets a map size: it adopts the file's, so it cannot shrink or grow it. */
    if (rc == 0 && !w->opt.readonly && !w->opt.adopt)
        rc = wal_err(mdb_env_set_mapsize(w->env, w->opt.map_bytes), "set_mapsize");
    if (rc != 0)
        goto out_close_env;
    unsigned int flags = MDB_NOTLS | MDB_NORDAHEAD;
    if (w->opt.readonly)
        flags |= MDB_RDONLY;
    if (w->opt.nosync)
        flags |= MDB_NOSYNC;
    rc = mdb_env_open(w->env, w->dir, flags, 0640);
    if (rc != 0) {
        if (rc == ENOENT || rc == EACCES)
            rc = -rc;
        else
            rc = wal_err(rc, "env_open");
        goto out_close_env;
    }
    int dead = 0;
    mdb_reader_check(w->env, &dead); /* a killed CLI must not pin pages */
    if (dead > 0)
        log_info("event=wal_stale_readers_cleared count=%d", dead);
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(w->env, &info);
    mdb_env_stat(w->env, &st);
    w->psize = st.ms_psize;
    w->opt.map_bytes = info.me_mapsize;
    find_map(w);
    rc = wal_open_tables(w);
    if (rc != 0)
        goto out_close_env;
    if (!w->opt.readonly) {
        if (pthread_create(&w->writer, NULL, writer_main, w) != 0) {
            rc = -EAGAIN;
            goto out_close_env;
        }
        w->writer_started = 1;
    }
    *out = w;
    return 0;
out_close_env:
    mdb_env_close(w->env);
out_free:
    free(w->dir);
    free(w);
    return rc;
}

void wal_close(struct wal *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    if (w->writer_started)
        pthread_join(w->writer, NULL);
    wal_complete(w);
    mdb_env_close(w->env);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done_cv);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->stats_mu);
    free(w->dir);
    free(w);
}

/* ---- submitting and completing ------------------------------------------------------------ */

static struct wal_op *op_new(enum wal_op_kind kind, wal_done_cb *done, void *arg)
{
    struct wal_op *op = xcalloc(1, sizeof(*op));
    op->kind = kind;
    op->done = done;
    op->arg = arg;
    return op;
}

static void op_free(struct wal_op *op)
{
    free(op->enc.val);
    free(op->answer);
    free(op);
}

/* Hand 'op' to the writer, or straight to the done list when it is already settled or the
 * writer is gone. */
static void op_submit(struct wal *w, struct wal_op *op)
{
    int wake = 0;
    pthread_mutex_lock(&w->mu);
    if (!op->settled && (w->stopping || !w->writer_started)) {
        op->rc = w->writer_started ? IWR_ESTOPPED : IWR_EINVAL;
        op->settled = 1;
    }
    if (op->settled) {
        *w->done_tail = op;
        w->done_tail = &op->next;
        pthread_cond_broadcast(&w->done_cv);
        wake = 1;
    } else {
        *w->queue_tail = op;
        w->queue_tail = &op->next;
        pthread_cond_signal(&w->work);
    }
    pthread_mutex_unlock(&w->mu);
    if (wake && w->opt.wake != NULL)
        w->opt.wake(w->opt.wake_arg);
}

void wal_append(struct wal *w, const struct wal_record *rec, wal_done_cb *done, void *arg)
{
    struct wal_op *op = op_new(OP_APPEND, done, arg);
    op->rc = wal_record_prepare(rec, &op->enc);
    op->settled = op->rc != 0;
    op_submit(w, op);
}

static struct wal_op *name_op(enum wal_op_kind kind, const char *name, int allow_all,
                              wal_done_cb *done, void *arg)
{
    struct wal_op *op = op_new(kind, done, arg);
    if (name == NULL && allow_all)
        return op;
    if (name == NULL || !wal_name_valid(name)) {
        op->rc = IWR_EINVAL;
        op->settled = 1;
        return op;
    }
    strcpy(op->name, name);
    return op;
}

void wal_cursor_move(struct wal *w, const char *name, uint64_t expect, uint64_t to,
                     wal_done_cb *done, void *arg)
{
    struct wal_op *op = name_op(OP_CURSOR_MOVE, name, 0, done, arg);
    op->expect = expect;
    op->to = to;
    op_submit(w, op);
}

void wal_cursor_forget(struct wal *w, const char *name, wal_done_cb *done, void *arg)
{
    op_submit(w, name_op(OP_CURSOR_FORGET, name, 0, done, arg));
}

void wal_dead_add(struct wal *w, const char *name, const struct wal_record *rec,
                  const char *answer, size_t answer_len, wal_done_cb *done, void *arg)
{
    struct wal_op *op = name_op(OP_DEAD_ADD, name, 0, done, arg);
    if (!op->settled) {
        op->rc = wal_record_prepare(rec, &op->enc);
        op->settled = op->rc != 0;
    }
    if (!op->settled) {
        wal_record_seal(&op->enc, rec->seq, rec->offset);
        op->src_seq = rec->seq;
        op->answer = xstrndup(answer, answer_len);
        op->answer_len = answer_len;
    }
    op_submit(w, op);
}

void wal_dead_requeue(struct wal *w, const char *name, wal_done_cb *done, void *arg)
{
    op_submit(w, name_op(OP_DEAD_REQUEUE, name, 1, done, arg));
}

void wal_dead_purge(struct wal *w, const char *name, wal_done_cb *done, void *arg)
{
    op_submit(w, name_op(OP_DEAD_PURGE, name, 1, done, arg));
}

size_t wal_complete(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    struct wal_op *list = w->done;
    w->done = NULL;
    w->done_tail = &w->done;
    pthread_mutex_unlock(&w->mu);
    size_t n = 0;
    while (list != NULL) {
        struct wal_op *op = list;
        list = op->next;
        if (op->done != NULL)
            op->done(op->arg, op->rc, op->result);
        op_free(op);
        n++;
    }
    return n;
}

size_t wal_complete_wait(struct wal *w, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (w->done == NULL) {
        if (pthread_cond_timedwait(&w->done_cv, &w->mu, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&w->mu);
    return wal_complete(w);
}

/* The synchronous helpers: submit, then complete until our op came back. Only for callers
 * that own the completions (no wake hook): the CLI and tests. */
struct sync_wait {
    int finished;
    int rc;
    uint64_t result;
};

static void sync_done(void *arg, int rc, uint64_t result)
{
    struct sync_wait *s = arg;
    s->finished = 1;
    s->rc = rc;
    s->result = result;
}

static int sync_wait_for(struct wal *w, struct sync_wait *s, uint64_t *result)
{
    while (!s->finished)
        wal_complete_wait(w, 1000);
    if (result != NULL)
        *result = s->result;
    return s->rc;
}

int wal_append_sync(struct wal *w, const struct wal_record *rec, uint64_t *seq)
{
    struct sync_wait s = {0};
    wal_append(w, rec, sync_done, &s);
    return sync_wait_for(w, &s, seq);
}

int wal_cursor_move_sync(struct wal *w, const char *name, uint64_t expect, uint64_t to)
{
    struct sync_wait s = {0};
    wal_cursor_move(w, name, expect, to, sync_done, &s);
    return sync_wait_for(w, &s, NULL);
}

int wal_cursor_forget_sync(struct wal *w, const char *name)
{
    struct sync_wait s = {0};
    wal_cursor_forget(w, name, sync_done, &s);
    return sync_wait_for(w, &s, NULL);
}

int wal_dead_add_sync(struct wal *w, const char *name, const struct wal_record *rec,
                      const char *answer, size_t answer_len)
{
    struct sync_wait s = {0};
    wal_dead_add(w, name, rec, answer, answer_len, sync_done, &s);
    return sync_wait_for(w, &s, NULL);
}

int wal_dead_requeue_sync(struct wal *w, const char *name, uint64_t *count)
{
    struct sync_wait s = {0};
    wal_dead_requeue(w, name, sync_done, &s);
    return sync_wait_for(w, &s, count);
}

int wal_dead_purge_sync(struct wal *w, const char *name, uint64_t *count)
{
    struct sync_wait s = {0};
    wal_dead_purge(w, name, sync_done, &s);
    return sync_wait_for(w, &s, count);
}

void wal_counters_get(struct wal *w, struct wal_counters *c)
{
    pthread_mutex_lock(&w->stats_mu);
    *c = w->counters;
    pthread_mutex_unlock(&w->stats_mu);
}

void wal_commit_hist_get(struct wal *w, struct wal_hist *seconds, struct wal_hist *records)
{
    pthread_mutex_lock(&w->stats_mu);
    *seconds = w->hist_seconds;
    *records = w->hist_records;
    pthread_mutex_unlock(&w->stats_mu);
}

/* ---- the writer thread ---------------------------------------------------------------------- */

/* State of one write transaction: the meta values it read and will write back. */
struct wtx {
    MDB_txn *txn;
    uint64_t high;      /* highest sequence ever assigned */
    uint64_t offset;    /* body bytes ever appended */
    uint64_t dropped;   /* records dropped by drop-oldest, ever */
    uint64_t dead_next; /* next dead-letter id */
    uint64_t dropped_now;
    int room_checked;   /* statvfs done for this transaction */
    int room_ok;
    int room_warned;    /* the refusal was logged for this transaction */
    uint64_t appended;
};

static size_t log_bytes(struct wal *w, MDB_txn *txn)
{
    MDB_stat st;
    if (mdb_stat(txn, w->log, &st) != 0)
        return 0;
    return (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * w->psize;
}

/* Pages a value of 'len' bytes takes: large values get their own overflow pages. */
static size_t pages_for(struct wal *w, size_t len)
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

static int disk_room_ok(struct wal *w, struct wtx *t, size_t need)
{
    if (w->opt.min_free_bytes == 0)
        return 1;
    struct statvfs sv;
    if (!t->room_checked) {
        t->room_checked = 1;
        t->room_ok = statvfs(w->dir, &sv) != 0 ||
                     (uint64_t)sv.f_bavail * sv.f_frsize >= w->opt.min_free_bytes;
    }
    if (t->room_ok)
        return 1;
    /* Below the reserve, what fits in the file's free pages (with a margin for the pages the
     * commit copies) still goes in: it does not use the disk. */
    if (need + 64 * w->psize <= file_free_bytes(w, t->txn))
        return 1;
    if (!t->room_warned && statvfs(w->dir, &sv) == 0)
        log_warn("event=wal_disk_reserve_reached dir=%s free_bytes=%llu min_free_bytes=%zu",
                 w->dir, (unsigned long long)sv.f_bavail * sv.f_frsize, w->opt.min_free_bytes);
    t->room_warned = 1;
    return 0;
}

/* Move every cursor below 'seq' up to it: the records they still wanted are gone. */
static int cursors_raise(struct wal *w, MDB_txn *txn, uint64_t seq)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, w->cursors, &c);
    if (rc != 0)
        return rc;
    MDB_val k, d;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (d.mv_size < 16 || wal_get64(d.mv_data) >= seq)
            continue;
        unsigned char v[16];
        wal_put64(v, seq);
        wal_put64(v + 8, wal_now_ns());
        MDB_val nd = {16, v};
        rc = mdb_cursor_put(c, &k, &nd, MDB_CURRENT);
        if (rc != 0)
            break;
        log_warn("event=wal_cursor_dropped backend=%.*s to=%" PRIu64, (int)k.mv_size,
                 (char *)k.mv_data, seq);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* drop-oldest: delete the oldest records until 'need' more bytes fit under the limit. */
static int drop_oldest(struct wal *w, struct wtx *t, size_t need)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, w->log, &c);
    if (rc != 0)
        return rc;
    MDB_val k, d;
    uint64_t last = 0;
    while (log_bytes(w, t->txn) + need > w->opt.max_bytes) {
        rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
        if (rc != 0)
            break;
        memcpy(&last, k.mv_data, 8);
        rc = mdb_cursor_del(c, 0);
        if (rc != 0)
            break;
        t->dropped++;
        t->dropped_now++;
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0 && last != 0)
        rc = cursors_raise(w, t->txn, last);
    return rc;
}

/* Append one encoded record; returns an LMDB code (txn-fatal) and sets op->rc. */
static int apply_append(struct wal *w, struct wtx *t, struct wal_op *op)
{
    size_t need = pages_for(w, op->enc.len);
    if (!disk_room_ok(w, t, need)) {
        op->rc = IWR_EFULL;
        return 0;
    }
    if (log_bytes(w, t->txn) + need > w->opt.max_bytes) {
        if (w->opt.full_policy != WAL_FULL_DROP_OLDEST || need > w->opt.max_bytes) {
            op->rc = IWR_EFULL;
            return 0;
        }
        int rc = drop_oldest(w, t, need);
        if (rc != 0)
            return rc;
    }
    uint64_t seq = t->high + 1;
    wal_record_seal(&op->enc, seq, t->offset);
    size_t key = seq;
    MDB_val k = {sizeof(key), &key}, d = {op->enc.len, op->enc.val};
    int rc = mdb_put(t->txn, w->log, &k, &d, MDB_APPEND);
    IWR_ASSERT(rc != MDB_KEYEXIST); /* sequences only grow: a clash is our bug */
    if (rc != 0)
        return rc;
    t->high = seq;
    t->offset += op->enc.body_len;
    t->appended++;
    op->result = seq;
    op->rc = 0;
    return 0;
}

static int apply_cursor_move(struct wal *w, struct wtx *t, struct wal_op *op)
{
    MDB_val k = {strlen(op->name), op->name}, d;
    int rc = mdb_get(t->txn, w->cursors, &k, &d);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    uint64_t cur = rc == 0 && d.mv_size >= 8 ? wal_get64(d.mv_data) : 0;
    if (op->expect != WAL_SEQ_ANY && (rc == MDB_NOTFOUND || cur != op->expect)) {
        op->rc = rc == MDB_NOTFOUND ? IWR_ENOTFOUND : IWR_ECONFLICT;
        op->result = cur;
        return 0;
    }
    if (op->to > t->high) {
        op->rc = IWR_EINVAL;
        op->result = cur;
        return 0;
    }
    unsigned char v[16];
    wal_put64(v, op->to);
    wal_put64(v + 8, wal_now_ns());
    MDB_val nd = {16, v};
    rc = mdb_put(t->txn, w->cursors, &k, &nd, 0);
    if (rc != 0)
        return rc;
    op->rc = 0;
    op->result = op->to;
    return 0;
}

/* Delete the dead letters of op->name ("" = all); with 'requeue', append each again first as
 * a record for its backend only. */
static int apply_dead_sweep(struct wal *w, struct wtx *t, struct wal_op *op, int requeue)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, w->dead, &c);
    if (rc != 0)
        return rc;
    size_t nlen = strlen(op->name);
    unsigned char at[WAL_NAME_MAX + 9]; /* keys are name, NUL, big-endian id */
    memcpy(at, op->name, nlen + 1);
    MDB_val k = {nlen + 1, at}, d;
    uint64_t count = 0;
    /* After each delete, seek again from the deleted key: the next one is what follows it. */
    rc = nlen ? mdb_cursor_get(c, &k, &d, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &d, MDB_FIRST);
    while (rc == 0) {
        if (nlen && (k.mv_size != nlen + 9 || memcmp(k.mv_data, op->name, nlen + 1) != 0))
            break;
        if (requeue) {
            struct wal_dead_letter dl;
            if (wal_dead_decode(&k, &d, &dl) != 0) {
                log_error("event=dead_letter_corrupt backend=%s", dl.backend);
                op->rc = IWR_ECORRUPT;
                break;
            }
            dl.rec.target = dl.backend;
            dl.rec.target_len = strlen(dl.backend);
            struct wal_op app = {0};
            if (wal_record_prepare(&dl.rec, &app.enc) != 0) {
                op->rc = IWR_ECORRUPT;
                break;
            }
            rc = apply_append(w, t, &app);
            free(app.enc.val);
            if (rc != 0)
                break;
            if (app.rc != 0) {
                op->rc = app.rc;
                break;
            }
        }
        size_t klen = k.mv_size < sizeof(at) ? k.mv_size : sizeof(at);
        memcpy(at, k.mv_data, klen);
        rc = mdb_cursor_del(c, 0);
        if (rc != 0)
            break;
        count++;
        k.mv_size = klen;
        k.mv_data = at;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0 && op->rc == 0)
        op->result = count;
    return rc;
}

static int apply_dead_add(struct wal *w, struct wtx *t, struct wal_op *op)
{
    size_t nlen = strlen(op->name);
    unsigned char key[WAL_NAME_MAX + 9];
    memcpy(key, op->name, nlen + 1);
    uint64_t id = ++t->dead_next;
    for (int i = 0; i < 8; i++) /* big-endian so a backend's letters sort by id */
        key[nlen + 1 + i] = (unsigned char)(id >> (56 - 8 * i));
    size_t len = WAL_DEAD_HDR + op->answer_len + op->enc.len;
    MDB_val k = {nlen + 9, key}, d = {len, NULL};
    int rc = mdb_put(t->txn, w->dead, &k, &d, MDB_RESERVE);
    if (rc != 0)
        return rc;
    unsigned char *v = d.mv_data;
    wal_put64(v, wal_now_ns());
    for (int i = 0; i < 4; i++)
        v[8 + i] = (unsigned char)(op->answer_len >> (8 * i));
    memcpy(v + WAL_DEAD_HDR, op->answer, op->answer_len);
    memcpy(v + WAL_DEAD_HDR + op->answer_len, op->enc.val, op->enc.len);
    op->rc = 0;
    op->result = id;
    return 0;
}

static int apply_cursor_forget(struct wal *w, struct wtx *t, struct wal_op *op)
{
    MDB_val k = {strlen(op->name), op->name};
    int rc = mdb_del(t->txn, w->cursors, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    int existed = rc == 0;
    rc = apply_dead_sweep(w, t, op, 0);
    if (rc == 0)
        op->rc = existed ? 0 : IWR_ENOTFOUND;
    return rc;
}

static int apply_op(struct wal *w, struct wtx *t, struct wal_op *op)
{
    switch (op->kind) {
    case OP_APPEND:
        return apply_append(w, t, op);
    case OP_CURSOR_MOVE:
        return apply_cursor_move(w, t, op);
    case OP_CURSOR_FORGET:
        return apply_cursor_forget(w, t, op);
    case OP_DEAD_ADD:
        return apply_dead_add(w, t, op);
    case OP_DEAD_REQUEUE:
        return apply_dead_sweep(w, t, op, 1);
    case OP_DEAD_PURGE:
        return apply_dead_sweep(w, t, op, 0);
    }
    return EINVAL;
}

/* Truncation: delete up to trim_chunk records that every known cursor is past and that are
 * older than the retention window. Sets *more when it stopped at the chunk bound. */
static int trim_chunk(struct wal *w, struct wtx *t, int *more)
{
    *more = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, w->cursors, &c);
    if (rc != 0)
        return rc;
    MDB_val k, d;
    uint64_t low = UINT64_MAX;
    int any = 0;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        uint64_t s = d.mv_size >= 8 ? wal_get64(d.mv_data) : 0;
        low = s < low ? s : low;
        any = 1;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return rc;
    if (!any) /* no backend known yet: a new one may still start at the beginning */
        return 0;
    uint64_t cutoff = UINT64_MAX;
    if (w->opt.retain_ns > 0) {
        uint64_t now = wal_now_ns();
        cutoff = now > w->opt.retain_ns ? now - w->opt.retain_ns : 0;
    }
    rc = mdb_cursor_open(t->txn, w->log, &c);
    if (rc != 0)
        return rc;
    size_t n = 0;
    while ((rc = mdb_cursor_get(c, &k, &d, MDB_FIRST)) == 0) {
        size_t seq;
        memcpy(&seq, k.mv_data, sizeof(seq));
        if (seq > low || wal_record_peek_recv_ns(d.mv_data, d.mv_size) >= cutoff)
            break;
        if (n == w->opt.trim_chunk) {
            *more = 1;
            break;
        }
        rc = mdb_cursor_del(c, 0);
        if (rc != 0)
            break;
        n++;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int wtx_begin(struct wal *w, struct wtx *t)
{
    memset(t, 0, sizeof(*t));
    int rc = mdb_txn_begin(w->env, NULL, 0, &t->txn);
    wal_check_fatal(rc, "txn_begin");
    if (rc != 0)
        return rc;
    if (wal_meta_get64(t->txn, w, "high", &t->high) != 0 ||
        wal_meta_get64(t->txn, w, "offset", &t->offset) != 0 ||
        wal_meta_get64(t->txn, w, "dropped", &t->dropped) != 0 ||
        wal_meta_get64(t->txn, w, "dead_next", &t->dead_next) != 0) {
        mdb_txn_abort(t->txn);
        return MDB_CORRUPTED;
    }
    return 0;
}

static int wtx_put_meta(struct wal *w, struct wtx *t)
{
    int rc = meta_put64(t->txn, w, "high", t->high);
    if (rc == 0)
        rc = meta_put64(t->txn, w, "offset", t->offset);
    if (rc == 0)
        rc = meta_put64(t->txn, w, "dropped", t->dropped);
    if (rc == 0)
        rc = meta_put64(t->txn, w, "dead_next", t->dead_next);
    return rc;
}

static void hist_add(struct wal_hist *h, const double *bounds, double v)
{
    size_t i = 0;
    while (i < WAL_HIST_BUCKETS && v > bounds[i])
        i++;
    h->count[i]++;
    h->sum += v;
    h->n++;
}

/* After a commit: refresh the counters /metrics reads, from the committed state. */
static void counters_refresh(struct wal *w, const struct wtx *t, size_t n_ops, uint64_t ns,
                             uint64_t rejected_full)
{
    MDB_txn *txn;
    uint64_t first = 0, last = 0, dead = 0;
    size_t bytes = 0;
    if (mdb_txn_begin(w->env, NULL, MDB_RDONLY, &txn) == 0) {
        MDB_cursor *c;
        MDB_val k, d;
        if (mdb_cursor_open(txn, w->log, &c) == 0) {
            if (mdb_cursor_get(c, &k, &d, MDB_FIRST) == 0)
                memcpy(&first, k.mv_data, 8);
            if (mdb_cursor_get(c, &k, &d, MDB_LAST) == 0)
                memcpy(&last, k.mv_data, 8);
            mdb_cursor_close(c);
        }
        bytes = log_bytes(w, txn);
        MDB_stat ds;
        if (mdb_stat(txn, w->dead, &ds) == 0)
            dead = ds.ms_entries;
        mdb_txn_abort(txn);
    }
    pthread_mutex_lock(&w->stats_mu);
    struct wal_counters *c = &w->counters;
    c->first_seq = first;
    c->last_seq = t->high;
    c->records = first ? last - first + 1 : 0;
    c->log_bytes = bytes;
    c->dropped_records = t->dropped;
    c->dead_letters = dead;
    c->appended += t->appended;
    c->rejected_full += rejected_full;
    if (n_ops > 0) {
        c->commits++;
        c->commit_ns_total += ns;
        hist_add(&w->hist_seconds, wal_commit_seconds_bounds, (double)ns / 1e9);
        hist_add(&w->hist_records, wal_commit_records_bounds, (double)n_ops);
    }
    pthread_mutex_unlock(&w->stats_mu);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Apply 'batch' in one transaction and commit it. An LMDB error inside the transaction poisons
 * it, so the op that caused it is failed and the rest are applied again in a fresh one.
 * Truncation runs in a nested transaction: if it cannot finish (a full map), the ops still
 * commit without it. */
static void commit_batch(struct wal *w, struct wal_op *batch, int *trim_more)
{
    uint64_t start = mono_ns();
    size_t n_ops = 0;
    for (struct wal_op *op = batch; op != NULL; op = op->next)
        n_ops++;
    struct wtx t;
    int rc;
    for (;;) {
        rc = wtx_begin(w, &t);
        if (rc != 0)
            break;
        struct wal_op *bad = NULL;
        for (struct wal_op *op = batch; op != NULL && bad == NULL; op = op->next) {
            if (op->settled)
                continue;
            op->rc = 0;
            rc = apply_op(w, &t, op);
            if (rc != 0)
                bad = op;
        }
        if (bad != NULL) {
            mdb_txn_abort(t.txn);
            wal_check_fatal(rc, "apply");
            bad->rc = wal_err(rc, "apply");
            bad->settled = 1;
            continue;
        }
        MDB_txn *parent = t.txn;
        if (mdb_txn_begin(w->env, parent, 0, &t.txn) == 0) {
            if (trim_chunk(w, &t, trim_more) == 0) {
                rc = mdb_txn_commit(t.txn);
            } else {
                mdb_txn_abort(t.txn);
                *trim_more = 0;
            }
        }
        t.txn = parent;
        rc = wtx_put_meta(w, &t);
        if (rc == 0)
            rc = commit_err(w, mdb_txn_commit(t.txn));
        else
            mdb_txn_abort(t.txn);
        wal_check_fatal(rc, "commit");
        break;
    }
    uint64_t rejected = 0;
    if (rc != 0) {
        int err = wal_err(rc, "commit");
        log_error("event=wal_commit_failed ops=%zu err=\"%s\"", n_ops, iwr_strerror(err));
        for (struct wal_op *op = batch; op != NULL; op = op->next)
            if (!op->settled)
                op->rc = err;
        t.appended = 0;
        t.dropped_now = 0;
        *trim_more = 0;
    }
    for (struct wal_op *op = batch; op != NULL; op = op->next)
        rejected += op->kind == OP_APPEND && op->rc == IWR_EFULL;
    if (t.dropped_now > 0)
        log_warn("event=wal_dropped_oldest records=%" PRIu64, t.dropped_now);
    counters_refresh(w, &t, n_ops, mono_ns() - start, rejected);
}

static void *writer_main(void *arg)
{
    struct wal *w = arg;
    int trim_more = 0;
    uint64_t last_reader_check = mono_ns(), last_release = mono_ns();
    /* Counters start out true, before the first commit. */
    struct wtx t;
    if (wtx_begin(w, &t) == 0) {
        mdb_txn_abort(t.txn);
        counters_refresh(w, &t, 0, 0, 0);
    }
    for (;;) {
        pthread_mutex_lock(&w->mu);
        if (w->queue == NULL && !w->stopping && !trim_more) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1; /* the retention window and reader checks need a tick */
            pthread_cond_timedwait(&w->work, &w->mu, &until);
        }
        struct wal_op *batch = w->queue;
        w->queue = NULL;
        w->queue_tail = &w->queue;
        int stopping = w->stopping;
        pthread_mutex_unlock(&w->mu);

        if (batch == NULL && stopping)
            break;
        commit_batch(w, batch, &trim_more);
        if (batch != NULL) {
            pthread_mutex_lock(&w->mu);
            *w->done_tail = batch;
            while (*w->done_tail != NULL)
                w->done_tail = &(*w->done_tail)->next;
            pthread_cond_broadcast(&w->done_cv);
            pthread_mutex_unlock(&w->mu);
            if (w->opt.wake != NULL)
                w->opt.wake(w->opt.wake_arg);
        }
        /* Pages read through the file mapping (by truncation, the B-tree walk, any reader)
         * stay in our resident set until the kernel wants the memory; drop them from the
         * mapping now and then so the daemon's RSS does not grow with the log it has read.
         * They stay in the page cache and fault back in on the next read. */
        if (w->map_hi > w->map_lo && mono_ns() - last_release > WAL_RELEASE_NS) {
            madvise((void *)w->map_lo, w->map_hi - w->map_lo, MADV_DONTNEED);
            last_release = mono_ns();
        }
        if (mono_ns() - last_reader_check > WAL_READER_CHECK_NS) {
            int dead = 0;
            mdb_reader_check(w->env, &dead);
            if (dead > 0)
                log_info("event=wal_stale_readers_cleared count=%d", dead);
            last_reader_check = mono_ns();
        }
    }
    return NULL;
}
