/* Internals shared by the files of wal/: the environment struct, the op queue, the state of
 * one write transaction, the codec's halves, and what each file offers the others. Not for use
 * outside wal/.
 *
 *   env.c     open/close, LMDB setup, tables, meta values, reader check, the fatal state
 *   submit.c  the submit queue, completions (wal_complete), the sync helpers, counters out
 *   writer.c  the writer thread: take the queue, one transaction, commit, hand back
 *   apply.c   the operations applied inside a write transaction (append, cursors, dead letters,
 *             drop-oldest, truncation)
 *   space.c   space accounting: the size limit, the filesystem reserve, writability
 *   read.c, inspect.c, record.c  readers, verify/compact, the record codec */
#ifndef IWR_WAL_INT_H
#define IWR_WAL_INT_H

#include "wal/wal.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

_Static_assert(sizeof(size_t) == 8, "log keys are size_t with MDB_INTEGERKEY");

#define WAL_REC_HDR 48
/* A dead letter's value: u64 time_ns, u32 answer_len, answer, then the encoded record. */
#define WAL_DEAD_HDR 12

/* A record encoded on the submitting thread, sealed with its sequence by the writer. */
struct wal_encoded {
    unsigned char *val;
    size_t len;
    size_t body_len;
    uint32_t tail_crc; /* crc32 of bytes [20, len) */
};

int wal_record_prepare(const struct wal_record *rec, struct wal_encoded *enc);
void wal_record_seal(struct wal_encoded *enc, uint64_t seq, uint64_t offset);
uint64_t wal_record_peek_recv_ns(const void *val, size_t len);
uint64_t wal_record_peek_offset(const void *val, size_t len);
/* A dead letter's key and value decoded; the record is checked. 0 or IWR_ECORRUPT. */
int wal_dead_decode(const MDB_val *k, const MDB_val *d, struct wal_dead_letter *dl);
void wal_put64(unsigned char *p, uint64_t v);
uint64_t wal_get64(const unsigned char *p);

enum wal_op_kind {
    OP_APPEND,
    OP_CURSOR_MOVE,
    OP_CURSOR_FORGET,
    OP_DEAD_ADD,
    OP_DEAD_REQUEUE,
    OP_DEAD_PURGE,
    OP_STATE_SET,
};

struct wal_op {
    struct wal_op *next;
    enum wal_op_kind kind;
    wal_done_cb *done;
    void *arg;
    int rc;
    uint64_t result;
    int settled; /* rc is final; skip when a transaction is retried */
    struct wal_encoded enc;          /* APPEND, DEAD_ADD (sealed with the source seq) */
    uint64_t src_seq;                /* DEAD_ADD */
    char *answer;                    /* DEAD_ADD; STATE_SET: the value (NULL: delete) */
    size_t answer_len;
    char name[WAL_NAME_MAX + 1];     /* cursor and dead ops; "" = all for dead ops */
    uint64_t expect, to;             /* CURSOR_MOVE */
};

/* Writability as the writer last saw it (space.c): updated after each commit with appends,
 * judged against the clock when the counters are read. Guarded by stats_mu. */
struct wal_space_state {
    uint64_t fs_bytes;        /* size of the log's filesystem at open; 0 if unknown */
    int refusing;             /* the latest commit with appends refused some */
    enum wal_full_reason reason; /* why, for the latest refusal */
    uint64_t refused_ns;      /* monotonic time of that commit */
    uint64_t accepted_ns;     /* monotonic time of the latest commit whose appends all went in */
};

struct wal {
    MDB_env *env;
    MDB_dbi log, cursors, dead, meta;
    struct wal_options opt;
    char *dir;
    int lock_fd;              /* the daemon's hold on WAL_LOCK_FILE; -1 for the CLI */
    size_t psize;
    uintptr_t map_lo, map_hi; /* our mapping of data.mdb, from /proc/self/maps; 0 if unknown */
    atomic_size_t map_touched; /* bytes of the map faulted in since the last release, at most */

    pthread_t writer;
    int writer_started;
    pthread_mutex_t mu;
    pthread_cond_t work;      /* writer waits for ops */
    pthread_cond_t done_cv;   /* wal_complete_wait waits for completions */
    struct wal_op *queue, **queue_tail;
    struct wal_op *done, **done_tail;
    int stopping;
    int fatal;                /* IWR_EFATAL once the environment is unusable; guarded by mu */
    void (*on_commit)(void *arg); /* wal_on_commit: the owner thread reads and writes it */
    void *on_commit_arg;
    int committed;            /* records were committed since the last wal_complete; mu */

    pthread_mutex_t stats_mu; /* guards what follows; the writer updates, anyone reads */
    struct wal_counters counters;
    struct hist hist_seconds, hist_records;
    struct wal_space_state space;
};

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

/* env.c */
/* Translate an LMDB or errno code into ours (logging unexpected LMDB failures once). */
int wal_err(int mdb_rc, const char *what);
/* A panic, a remap or EIO leaves the environment unusable: the first one seen is logged, the
 * log enters the fatal state (every later submit fails with IWR_EFATAL, the wake hook fires so
 * the owner learns of it) and IWR_EFATAL is returned. Otherwise returns 0. Any thread. */
int wal_fatal_check(struct wal *w, int mdb_rc, const char *what);
int wal_is_fatal(struct wal *w);
int wal_txn_begin_read(struct wal *w, MDB_txn **txn);
int wal_meta_get64(MDB_txn *txn, struct wal *w, const char *key, uint64_t *v);
int wal_meta_put64(MDB_txn *txn, struct wal *w, const char *key, uint64_t v);
/* Clear reader slots of dead processes (a killed CLI must not pin pages). */
void wal_reader_check(struct wal *w);

/* The most a read of one value through the map can make resident beyond the value itself: the
 * kernel maps the page-cache pages around a faulting address too (fault-around, 64 KiB by
 * default). */
#define WAL_MAP_FAULT_AROUND ((size_t)64 << 10)
/* Note that this thread read about 'bytes' of the map (a value's length and the fault-around
 * windows its reading may map besides); when the total since the last release passes the
 * budget, release the whole map (wal_map_release). Any thread. */
void wal_map_touched(struct wal *w, size_t bytes);
/* Drop every page of the map from the process's resident set. Safe while any thread reads it:
 * the map is a read-only shared mapping of the file, so a page dropped is faulted back in from
 * the page cache, unchanged, when next read. Any thread. */
void wal_map_release(struct wal *w);

/* submit.c */
/* Writer: move a committed batch to the done list ('committed': it appended records) and wake
 * the owner. */
void wal_hand_back(struct wal *w, struct wal_op *batch, int committed);

/* writer.c */
void *wal_writer_main(void *arg);

/* apply.c: each returns an LMDB code (fatal to the transaction) and sets op->rc. */
int wal_apply_op(struct wal *w, struct wtx *t, struct wal_op *op);
/* Truncation: delete up to trim_chunk records that every known cursor is past and that are
 * older than the retention window. Sets *more when it stopped at the chunk bound. */
int wal_trim_chunk(struct wal *w, struct wtx *t, int *more);

/* space.c */
/* Bytes of the pages the log's records use, in 'txn'. */
size_t wal_log_bytes(struct wal *w, MDB_txn *txn);
/* Pages a value of 'len' bytes takes, in bytes. */
size_t wal_pages_for(struct wal *w, size_t len);
/* At open, a daemon's: size the filesystem, settle the reserve and the limit in force. */
void wal_space_init(struct wal *w);
/* Whether the filesystem has room for an append of 'need' page bytes now: 0, or IWR_ERESERVE.
 * The size limit is the caller's (apply.c). */
int wal_room_check(struct wal *w, struct wtx *t, size_t need);

/* A commit's error, with LMDB's "short write" EIO on a (nearly) full filesystem read as the
 * ENOSPC it is. */
int wal_commit_err(struct wal *w, int mdb_rc);
/* After a commit: note what its appends met, 'refused' counted by enum wal_full_reason with
 * [0] the total (stats_mu held). Logs when the log starts refusing, naming the limit, and when
 * it takes writes again. */
void wal_space_note(struct wal *w, uint64_t appended, const uint64_t *refused);
/* Fill the writability fields of 'c' from the state and the clock (stats_mu held). */
void wal_space_judge(struct wal *w, struct wal_counters *c);

#endif
