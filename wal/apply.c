/* The operations the writer applies inside one write transaction: appends (with drop-oldest
 * making room), cursor moves and forgets, dead letters added, requeued and purged, and the
 * bounded chunk of truncation each commit carries.
 *
 * Owns nothing: each function works in the caller's transaction ('struct wtx'), returns an
 * LMDB code (nonzero poisons the transaction: the caller aborts it) and sets op->rc to the
 * op's own outcome. Writer thread only. */
#include "wal/wal_int.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    while (wal_log_bytes(w, t->txn) + need > w->opt.max_bytes) {
        rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
        if (rc != 0)
            break;
        memcpy(&last, k.mv_data, 8);
        rc = mdb_cursor_del(c, 0);
        if (rc != 0)
            break;
        t->dropped++;
        t->dropped_now++;
        /* Freeing a large value reads its first page through the map. */
        wal_map_touched(w, WAL_MAP_FAULT_AROUND);
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
    size_t need = wal_pages_for(w, op->enc.len);
    op->rc = wal_room_check(w, t, need);
    if (op->rc != 0)
        return 0;
    if (wal_log_bytes(w, t->txn) + need > w->opt.max_bytes) {
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

/* Meta key "state:NAME": names hold no ':', the log's own meta keys none either. */
static int apply_state_set(struct wal *w, struct wtx *t, struct wal_op *op)
{
    char key[WAL_NAME_MAX + 8];
    int n = snprintf(key, sizeof(key), "state:%s", op->name);
    MDB_val k = {(size_t)n, key};
    int rc;
    if (op->answer == NULL) {
        rc = mdb_del(t->txn, w->meta, &k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    } else {
        MDB_val d = {op->answer_len, op->answer};
        rc = mdb_put(t->txn, w->meta, &k, &d, 0);
    }
    if (rc == 0)
        op->rc = 0;
    return rc;
}

int wal_apply_op(struct wal *w, struct wtx *t, struct wal_op *op)
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
    case OP_STATE_SET:
        return apply_state_set(w, t, op);
    }
    return EINVAL;
}

int wal_trim_chunk(struct wal *w, struct wtx *t, int *more)
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
    /* Each record looked at had its first page read through the map (its receive time; LMDB
     * reads a large value's page count to free it). */
    wal_map_touched(w, (n + 1) * WAL_MAP_FAULT_AROUND);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
