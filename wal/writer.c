/* The writer thread: it owns every write transaction. It takes the whole submit queue, applies
 * it in one transaction (appends, cursor moves, dead letters, then a bounded chunk of
 * truncation), commits with one fsync, refreshes the counters and hands the ops back to the
 * done list before waking the owner. While a commit syncs, the next batch fills the queue:
 * that is the group commit. Between batches it releases the mapping's resident pages and
 * clears stale reader slots.
 *
 * Owns the writer's transaction state and the commit histograms' updates. Writer thread only
 * (started and joined by env.c). */
#include "wal/wal_int.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

const double wal_commit_seconds_bounds[WAL_HIST_BUCKETS] = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5};
const double wal_commit_records_bounds[WAL_HIST_BUCKETS] = {1,  2,   4,   8,   16,   32,
                                                            64, 128, 256, 512, 1024, 4096};

#define WAL_READER_CHECK_NS (60ull * 1000000000ull)
#define WAL_RELEASE_NS (1000000000ull)

static int wtx_begin(struct wal *w, struct wtx *t)
{
    memset(t, 0, sizeof(*t));
    int rc = mdb_txn_begin(w->env, NULL, 0, &t->txn);
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
    int rc = wal_meta_put64(t->txn, w, "high", t->high);
    if (rc == 0)
        rc = wal_meta_put64(t->txn, w, "offset", t->offset);
    if (rc == 0)
        rc = wal_meta_put64(t->txn, w, "dropped", t->dropped);
    if (rc == 0)
        rc = wal_meta_put64(t->txn, w, "dead_next", t->dead_next);
    return rc;
}

/* After a commit: refresh the counters /metrics reads, from the committed state. */
static void counters_refresh(struct wal *w, const struct wtx *t, size_t n_ops, uint64_t ns,
                             const uint64_t *rejected)
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
        bytes = wal_log_bytes(w, txn);
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
    c->rejected_full += rejected[0];
    c->rejected_max_size += rejected[WAL_FULL_MAX_SIZE];
    c->rejected_reserve += rejected[WAL_FULL_RESERVE];
    c->rejected_disk += rejected[WAL_FULL_DISK];
    wal_space_note(w, t->appended, rejected);
    if (n_ops > 0) {
        c->commits++;
        c->commit_ns_total += ns;
        hist_observe(&w->hist_seconds, (double)ns / 1e9);
        hist_observe(&w->hist_records, (double)n_ops);
    }
    pthread_mutex_unlock(&w->stats_mu);
}

/* Apply 'batch' in one transaction and commit it. An LMDB error inside the transaction poisons
 * it, so the op that caused it is failed and the rest are applied again in a fresh one.
 * Truncation runs in a nested transaction: if it cannot finish (a full map), the ops still
 * commit without it. Once the environment is fatal, nothing touches it: every op gets
 * IWR_EFATAL. Returns whether records were appended. */
static int commit_batch(struct wal *w, struct wal_op *batch, int *trim_more)
{
    uint64_t start = clock_monotonic_ns();
    size_t n_ops = 0;
    for (struct wal_op *op = batch; op != NULL; op = op->next)
        n_ops++;
    struct wtx t;
    memset(&t, 0, sizeof(t));
    int rc = 0, err = wal_is_fatal(w);
    while (err == 0) {
        rc = wtx_begin(w, &t);
        if (rc != 0)
            break;
        struct wal_op *bad = NULL;
        for (struct wal_op *op = batch; op != NULL && bad == NULL; op = op->next) {
            if (op->settled)
                continue;
            op->rc = 0;
            rc = wal_apply_op(w, &t, op);
            if (rc != 0)
                bad = op;
        }
        if (bad != NULL) {
            mdb_txn_abort(t.txn);
            err = wal_fatal_check(w, rc, "apply");
            if (err != 0)
                break;
            bad->rc = wal_err(rc, "apply"); /* a stray MDB_MAP_FULL is IWR_EFULL: max-size */
            bad->settled = 1;
            continue;
        }
        MDB_txn *parent = t.txn;
        if (mdb_txn_begin(w->env, parent, 0, &t.txn) == 0) {
            if (wal_trim_chunk(w, &t, trim_more) == 0) {
                rc = mdb_txn_commit(t.txn);
            } else {
                mdb_txn_abort(t.txn);
                *trim_more = 0;
            }
        }
        t.txn = parent;
        rc = wtx_put_meta(w, &t);
        if (rc == 0)
            rc = wal_commit_err(w, mdb_txn_commit(t.txn));
        else
            mdb_txn_abort(t.txn);
        break;
    }
    if (err == 0 && rc != 0)
        err = wal_fatal_check(w, rc, "commit");
    if (err == 0 && rc != 0) {
        err = rc == ENOSPC ? IWR_ENOSPACE : wal_err(rc, "commit");
        log_error("event=wal_commit_failed ops=%zu err=\"%s\"", n_ops, iwr_strerror(err));
    }
    uint64_t rejected[4] = {0}; /* by enum wal_full_reason; [0]: all */
    if (err != 0) {
        for (struct wal_op *op = batch; op != NULL; op = op->next)
            if (!op->settled)
                op->rc = err;
        t.appended = 0;
        t.dropped_now = 0;
        *trim_more = 0;
    }
    for (struct wal_op *op = batch; op != NULL; op = op->next) {
        if (op->kind == OP_APPEND && iwr_is_full(op->rc)) {
            rejected[0]++;
            rejected[wal_full_reason_of(op->rc)]++;
        }
    }
    if (t.dropped_now > 0)
        log_warn("event=wal_dropped_oldest records=%" PRIu64, t.dropped_now);
    if (!wal_is_fatal(w))
        counters_refresh(w, &t, n_ops, clock_monotonic_ns() - start, rejected);
    return t.appended > 0;
}

void *wal_writer_main(void *arg)
{
    struct wal *w = arg;
    int trim_more = 0;
    /* A name top(1) and the benches can tell from the loop's (/proc/PID/task/TID/comm). */
    pthread_setname_np(pthread_self(), "wal-writer");
    uint64_t last_reader_check = clock_monotonic_ns(), last_release = clock_monotonic_ns();
    /* Counters start out true, before the first commit. */
    struct wtx t;
    if (wtx_begin(w, &t) == 0) {
        mdb_txn_abort(t.txn);
        uint64_t none[4] = {0};
        counters_refresh(w, &t, 0, 0, none);
    }
    for (;;) {
        pthread_mutex_lock(&w->mu);
        if (w->queue == NULL && !w->stopping && !trim_more) {
            struct timespec until;
            clock_deadline_ts(&until, 1000); /* the retention window and reader checks need a tick */
            pthread_cond_timedwait(&w->work, &w->mu, &until);
        }
        struct wal_op *batch = w->queue;
        w->queue = NULL;
        w->queue_tail = &w->queue;
        int stopping = w->stopping;
        pthread_mutex_unlock(&w->mu);

        if (batch == NULL && stopping)
            break;
        int committed = commit_batch(w, batch, &trim_more);
        if (batch != NULL)
            wal_hand_back(w, batch, committed);
        /* Reads of records are counted against a budget (wal_map_touched). Each transaction
         * also reads, through the map, the B-tree pages the previous commit wrote at new
         * places (copy on write), and the kernel maps their neighbours with them: about one
         * fault-around window a commit. The rest (pages read once in a while) goes once a
         * second. */
        if (batch != NULL)
            wal_map_touched(w, WAL_MAP_FAULT_AROUND);
        if (clock_monotonic_ns() - last_release > WAL_RELEASE_NS) {
            wal_map_release(w);
            last_release = clock_monotonic_ns();
        }
        if (clock_monotonic_ns() - last_reader_check > WAL_READER_CHECK_NS && !wal_is_fatal(w)) {
            wal_reader_check(w);
            last_reader_check = clock_monotonic_ns();
        }
    }
    return NULL;
}
