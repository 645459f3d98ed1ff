/* Internals shared by the files of wal/: the environment struct, the op queue, the codec's
 * halves. Not for use outside wal/. */
#ifndef IWR_WAL_INT_H
#define IWR_WAL_INT_H

#include "wal/wal.h"

#include <lmdb.h>
#include <pthread.h>
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
    char *answer;                    /* DEAD_ADD */
    size_t answer_len;
    char name[WAL_NAME_MAX + 1];     /* cursor and dead ops; "" = all for dead ops */
    uint64_t expect, to;             /* CURSOR_MOVE */
};

struct wal {
    MDB_env *env;
    MDB_dbi log, cursors, dead, meta;
    struct wal_options opt;
    char *dir;
    size_t psize;
    uintptr_t map_lo, map_hi; /* our mapping of data.mdb, from /proc/self/maps; 0 if unknown */

    pthread_t writer;
    int writer_started;
    pthread_mutex_t mu;
    pthread_cond_t work;      /* writer waits for ops */
    pthread_cond_t done_cv;   /* wal_complete_wait waits for completions */
    struct wal_op *queue, **queue_tail;
    struct wal_op *done, **done_tail;
    int stopping;

    pthread_mutex_t stats_mu; /* guards what follows; the writer updates, anyone reads */
    struct wal_counters counters;
    struct wal_hist hist_seconds, hist_records;
};

/* Translate an LMDB or errno code into ours (logging unexpected LMDB failures once). */
int wal_err(int mdb_rc, const char *what);
int wal_txn_begin_read(struct wal *w, MDB_txn **txn);
int wal_meta_get64(MDB_txn *txn, struct wal *w, const char *key, uint64_t *v);

#endif
