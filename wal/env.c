/* The log's environment: opening and closing it, LMDB setup (map size, tables, the format
 * and the values recorded in meta), the reader-slot check, LMDB's codes translated into ours,
 * and the fatal state (an environment that must not be used again).
 *
 * Owns the MDB_env and the struct wal itself, and keeps the map's resident pages bounded
 * (wal_map_touched). wal_open and wal_close run on the owner thread; wal_err, wal_fatal_check,
 * wal_txn_begin_read, the map helpers and the meta helpers on any thread (the writer, readers). */
#include "wal/wal_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define WAL_DEFAULT_MAX_BYTES ((size_t)1 << 30)
#define WAL_DEFAULT_TRIM_CHUNK 4096
/* Map bytes read between two releases: small next to the 64 MB the daemon's whole RSS must stay
 * under, large enough that a release (a page-table walk and a TLB flush) stays rare: a sender
 * catching up 2 M points/s in 80 KB records counts about 400 MB/s with the fault-around
 * windows, some 50 releases a second. */
#define WAL_MAP_BUDGET_BYTES ((size_t)8 << 20)

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

/* Panics and remaps leave the environment unusable, and so does an I/O error LMDB could not
 * recover from: the process must restart (systemd does) and a restart loses nothing
 * committed. Deciding that is the owner's: the log only stops using the environment. */
int wal_fatal_check(struct wal *w, int rc, const char *what)
{
    if (rc != MDB_PANIC && rc != MDB_MAP_RESIZED && rc != EIO)
        return 0;
    pthread_mutex_lock(&w->mu);
    int first = w->fatal == 0;
    w->fatal = IWR_EFATAL;
    pthread_mutex_unlock(&w->mu);
    if (first) {
        log_error("event=wal_fatal op=%s err=\"%s\"", what, mdb_strerror(rc));
        pthread_mutex_lock(&w->stats_mu);
        w->counters.fatal = IWR_EFATAL;
        pthread_mutex_unlock(&w->stats_mu);
        if (w->opt.wake != NULL)
            w->opt.wake(w->opt.wake_arg);
    }
    return IWR_EFATAL;
}

int wal_is_fatal(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    int f = w->fatal;
    pthread_mutex_unlock(&w->mu);
    return f;
}

int wal_txn_begin_read(struct wal *w, MDB_txn **txn)
{
    if (wal_is_fatal(w))
        return IWR_EFATAL;
    int rc = mdb_txn_begin(w->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_READERS_FULL) {
        wal_reader_check(w);
        rc = mdb_txn_begin(w->env, NULL, MDB_RDONLY, txn);
    }
    if (wal_fatal_check(w, rc, "txn_begin_read") != 0)
        return IWR_EFATAL;
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

int wal_meta_put64(MDB_txn *txn, struct wal *w, const char *key, uint64_t v)
{
    unsigned char b[8];
    wal_put64(b, v);
    MDB_val k = {strlen(key), (void *)key}, d = {8, b};
    return mdb_put(txn, w->meta, &k, &d, 0);
}

void wal_reader_check(struct wal *w)
{
    int dead = 0;
    mdb_reader_check(w->env, &dead);
    if (dead > 0)
        log_info("event=wal_stale_readers_cleared count=%d", dead);
}

/* ---- opening and closing ---------------------------------------------------------------- */

/* The daemon's exclusive hold on the directory. flock, not fcntl: LMDB's own fcntl locks on
 * lock.mdb and ours must not meet, and a flock belongs to this open file, not to every
 * descriptor the process has on it. O_CLOEXEC: a child must not keep the log held. */
static int lock_take(struct wal *w)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", w->dir, WAL_LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK ? IWR_ELOCKED : -errno;
        close(fd);
        return rc;
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    w->lock_fd = fd;
    return 0;
}

long wal_lock_holder(const char *dir)
{
    char path[4096], buf[32];
    snprintf(path, sizeof(path), "%s/%s", dir, WAL_LOCK_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

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
    uint64_t want = w->opt.format > 1 ? (uint64_t)w->opt.format : 1;
    if (rc == 0 && format < want && !w->opt.readonly)
        rc = wal_err(wal_meta_put64(txn, w, "format", want), "meta_put");
    /* The daemon records its limit so that the CLI, which does not read the config, can show
     * it. */
    /* Likewise the retention window: every process that commits also trims, and a CLI opened
     * next to the daemon must not trim what the daemon is configured to keep. */
    uint64_t limit = 0, retain = 0;
    if (rc == 0 && !w->opt.readonly && !w->opt.adopt) {
        rc = wal_err(wal_meta_put64(txn, w, "max_bytes", w->opt.max_bytes), "meta_put");
        if (rc == 0)
            rc = wal_err(wal_meta_put64(txn, w, "retain_ns", w->opt.retain_ns), "meta_put");
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

/* Records are read in place from LMDB's file mapping (no MDB_WRITEMAP: the writer writes with
 * pwrite, the map is read-only), by the senders and by the writer's trimming, and every page
 * read stays in the resident set until the kernel wants the memory: without a release, catching
 * up a backlog would grow the daemon by the backlog's size. Counting bytes read, not tracking
 * which pages, keeps this right whichever thread read what, and pages the kernel mapped around
 * a fault included. Hot pages (the B-tree's branches, meta) fault back in at once, a few dozen. */
void wal_map_touched(struct wal *w, size_t bytes)
{
    if (bytes == 0 || w->map_hi <= w->map_lo)
        return;
    size_t n = atomic_fetch_add_explicit(&w->map_touched, bytes, memory_order_relaxed) + bytes;
    /* The exchange elects one releaser when two threads cross the budget together. */
    if (n >= WAL_MAP_BUDGET_BYTES &&
        atomic_exchange_explicit(&w->map_touched, 0, memory_order_relaxed) >= WAL_MAP_BUDGET_BYTES)
        wal_map_release(w);
}

void wal_map_release(struct wal *w)
{
    if (w->map_hi <= w->map_lo)
        return;
    atomic_store_explicit(&w->map_touched, 0, memory_order_relaxed);
    madvise((void *)w->map_lo, w->map_hi - w->map_lo, MADV_DONTNEED);
}

int wal_open(struct wal **out, const struct wal_options *o)
{
    struct wal *w = xcalloc(1, sizeof(*w));
    w->lock_fd = -1;
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
    hist_init(&w->hist_seconds, wal_commit_seconds_bounds, WAL_HIST_BUCKETS);
    hist_init(&w->hist_records, wal_commit_records_bounds, WAL_HIST_BUCKETS);
    w->queue_tail = &w->queue;
    w->done_tail = &w->done;

    int rc = 0;
    if (!w->opt.readonly && !w->opt.adopt && mkdir(w->dir, 0750) != 0 && errno != EEXIST)
        rc = -errno;
    if ((w->opt.readonly || w->opt.adopt) && w->opt.min_free_bytes == WAL_MIN_FREE_DEFAULT)
        w->opt.min_free_bytes = 0; /* the daemon's default rule needs the daemon's open */
    /* The lock before anything else touches the directory's contents. */
    if (rc == 0 && !w->opt.readonly && !w->opt.adopt)
        rc = lock_take(w);
    if (rc == 0 && !w->opt.readonly && !w->opt.adopt)
        wal_space_init(w);
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
    wal_reader_check(w); /* a killed CLI must not pin pages */
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
        if (pthread_create(&w->writer, NULL, wal_writer_main, w) != 0) {
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
    if (w->lock_fd >= 0)
        close(w->lock_fd);
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
    if (w->lock_fd >= 0)
        close(w->lock_fd); /* after the environment: the next daemon finds it closed */
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done_cv);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->stats_mu);
    free(w->dir);
    free(w);
}
