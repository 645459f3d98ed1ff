/* Read views of the log: readers for the senders and the CLI, and the stats snapshot.
 *
 * A reader owns one read transaction, renewed by wal_reader_begin and reset by wal_reader_end,
 * so no snapshot pins old pages between uses. Records come back as views into LMDB's map,
 * checked against their checksum every time. A reader is used by one thread at a time. */
#include "wal/wal_int.h"

#include "common/err.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct wal_reader {
    struct wal *w;
    MDB_txn *txn;
    MDB_cursor *log;
    MDB_cursor *dead;
    int active;
    size_t touched; /* map bytes read since wal_reader_begin, for wal_map_touched */
};

int wal_reader_new(struct wal *w, struct wal_reader **out)
{
    struct wal_reader *r = xcalloc(1, sizeof(*r));
    r->w = w;
    *out = r;
    return 0;
}

void wal_reader_free(struct wal_reader *r)
{
    if (r == NULL)
        return;
    if (r->log != NULL)
        mdb_cursor_close(r->log);
    if (r->dead != NULL)
        mdb_cursor_close(r->dead);
    if (r->txn != NULL)
        mdb_txn_abort(r->txn);
    free(r);
}

int wal_reader_begin(struct wal_reader *r)
{
    IWR_ASSERT(!r->active);
    int rc;
    if (r->txn == NULL) {
        rc = wal_txn_begin_read(r->w, &r->txn);
        if (rc != 0)
            return rc;
        rc = wal_err(mdb_cursor_open(r->txn, r->w->log, &r->log), "cursor_open");
        if (rc == 0)
            rc = wal_err(mdb_cursor_open(r->txn, r->w->dead, &r->dead), "cursor_open");
    } else if (wal_is_fatal(r->w)) {
        return IWR_EFATAL;
    } else {
        rc = mdb_txn_renew(r->txn);
        rc = wal_fatal_check(r->w, rc, "txn_renew") ? IWR_EFATAL : wal_err(rc, "txn_renew");
        if (rc == 0)
            rc = wal_err(mdb_cursor_renew(r->txn, r->log), "cursor_renew");
        if (rc == 0)
            rc = wal_err(mdb_cursor_renew(r->txn, r->dead), "cursor_renew");
    }
    if (rc != 0)
        return rc;
    r->active = 1;
    return 0;
}

void wal_reader_end(struct wal_reader *r)
{
    if (r->active)
        mdb_txn_reset(r->txn);
    r->active = 0;
    /* Once per transaction, not per record: one atomic add for a whole fill. */
    wal_map_touched(r->w, r->touched);
    r->touched = 0;
}

int wal_reader_next(struct wal_reader *r, uint64_t after, struct wal_record *rec)
{
    IWR_ASSERT(r->active);
    if (after == UINT64_MAX)
        return IWR_ENOTFOUND;
    size_t key = after + 1;
    MDB_val k = {sizeof(key), &key}, d;
    int rc = mdb_cursor_get(r->log, &k, &d, MDB_SET_RANGE);
    if (rc != 0)
        return wal_err(rc, "log_get");
    memcpy(&key, k.mv_data, sizeof(key));
    rc = wal_record_decode(d.mv_data, d.mv_size, key, rec);
    rec->seq = key;
    /* Reading a value in place can map a fault-around window on either side of it. */
    r->touched += d.mv_size + 2 * WAL_MAP_FAULT_AROUND;
    return rc;
}

int wal_reader_cursor(struct wal_reader *r, const char *name, uint64_t *seq)
{
    IWR_ASSERT(r->active);
    MDB_val k = {strlen(name), (void *)name}, d;
    int rc = mdb_get(r->txn, r->w->cursors, &k, &d);
    if (rc != 0)
        return wal_err(rc, "cursor_get");
    if (d.mv_size < 8)
        return IWR_ECORRUPT;
    *seq = wal_get64(d.mv_data);
    return 0;
}

int wal_reader_state(struct wal_reader *r, const char *name, char *buf, size_t cap)
{
    IWR_ASSERT(r->active && cap > 0);
    buf[0] = '\0';
    if (!wal_name_valid(name))
        return IWR_EINVAL;
    char key[WAL_NAME_MAX + 8];
    int n = snprintf(key, sizeof(key), "state:%s", name);
    MDB_val k = {(size_t)n, key}, d;
    int rc = mdb_get(r->txn, r->w->meta, &k, &d);
    if (rc != 0)
        return wal_err(rc, "state_get");
    size_t len = d.mv_size < cap - 1 ? d.mv_size : cap - 1;
    memcpy(buf, d.mv_data, len);
    buf[len] = '\0';
    return 0;
}

int wal_reader_bounds(struct wal_reader *r, uint64_t *first, uint64_t *last, uint64_t *high)
{
    IWR_ASSERT(r->active);
    MDB_val k, d;
    size_t key;
    *first = *last = 0;
    int rc = mdb_cursor_get(r->log, &k, &d, MDB_FIRST);
    if (rc == 0) {
        memcpy(&key, k.mv_data, sizeof(key));
        *first = key;
        rc = mdb_cursor_get(r->log, &k, &d, MDB_LAST);
        if (rc == 0) {
            memcpy(&key, k.mv_data, sizeof(key));
            *last = key;
        }
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return wal_err(rc, "log_bounds");
    return wal_meta_get64(r->txn, r->w, "high", high);
}

int wal_reader_dead_next(struct wal_reader *r, const char *name, const char *after_backend,
                         uint64_t after_id, struct wal_dead_letter *d)
{
    IWR_ASSERT(r->active);
    unsigned char at[WAL_NAME_MAX + 9];
    MDB_val k, v;
    int rc;
    const char *from = after_backend != NULL ? after_backend : name;
    if (from != NULL) {
        size_t n = strlen(from);
        if (n > WAL_NAME_MAX)
            return IWR_EINVAL;
        memcpy(at, from, n + 1);
        uint64_t id = after_backend != NULL ? after_id + 1 : 0;
        for (int i = 0; i < 8; i++)
            at[n + 1 + i] = (unsigned char)(id >> (56 - 8 * i));
        k.mv_size = n + 9;
        k.mv_data = at;
        rc = after_backend != NULL && after_id == UINT64_MAX
                 ? MDB_NOTFOUND
                 : mdb_cursor_get(r->dead, &k, &v, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(r->dead, &k, &v, MDB_FIRST);
    }
    if (rc != 0)
        return wal_err(rc, "dead_get");
    r->touched += v.mv_size + WAL_MAP_FAULT_AROUND;
    if (name != NULL) {
        size_t n = strlen(name);
        if (k.mv_size != n + 9 || memcmp(k.mv_data, name, n + 1) != 0)
            return IWR_ENOTFOUND;
    }
    return wal_dead_decode(&k, &v, d);
}

/* Body bytes and receive time of the first record after 'seq', for a cursor's lag. */
static int lag_of(struct wal *w, MDB_cursor *c, uint64_t seq, uint64_t head_offset, uint64_t now,
                  struct wal_cursor_info *ci)
{
    size_t key = seq + 1;
    MDB_val k = {sizeof(key), &key}, d;
    int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    (void)w;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return wal_err(rc, "lag");
    uint64_t off = wal_record_peek_offset(d.mv_data, d.mv_size);
    uint64_t recv = wal_record_peek_recv_ns(d.mv_data, d.mv_size);
    ci->lag_bytes = head_offset > off ? head_offset - off : 0;
    ci->lag_ns = now > recv ? now - recv : 0;
    return 0;
}

int wal_stats(struct wal *w, struct wal_stats *st, struct wal_cursor_info **cursors,
              size_t *n_cursors)
{
    memset(st, 0, sizeof(*st));
    if (cursors != NULL) {
        *cursors = NULL;
        *n_cursors = 0;
    }
    struct wal_reader *r;
    wal_reader_new(w, &r);
    int rc = wal_reader_begin(r);
    if (rc != 0) {
        wal_reader_free(r);
        return rc;
    }
    uint64_t high = 0;
    rc = wal_reader_bounds(r, &st->first_seq, &high, &st->last_seq);
    st->records = st->first_seq ? high - st->first_seq + 1 : 0;
    if (rc == 0)
        rc = wal_meta_get64(r->txn, w, "offset", &st->head_offset);
    if (rc == 0)
        rc = wal_meta_get64(r->txn, w, "dropped", &st->dropped_records);
    MDB_stat ms;
    if (rc == 0 && mdb_stat(r->txn, w->log, &ms) == 0)
        st->log_bytes = (ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages) * w->psize;
    if (rc == 0 && mdb_stat(r->txn, w->dead, &ms) == 0)
        st->dead_letters = ms.ms_entries;
    st->max_bytes = w->opt.max_bytes;
    st->map_bytes = w->opt.map_bytes;
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/data.mdb", w->dir);
    if (stat(path, &sb) == 0)
        st->file_bytes = (size_t)sb.st_blocks * 512;

    struct wal_cursor_info *out = NULL;
    size_t n = 0, cap = 0;
    MDB_cursor *cc = NULL;
    if (rc == 0 && cursors != NULL)
        rc = wal_err(mdb_cursor_open(r->txn, w->cursors, &cc), "cursor_open");
    uint64_t now = wal_now_ns();
    MDB_val k, d;
    int mrc = cc ? mdb_cursor_get(cc, &k, &d, MDB_FIRST) : MDB_NOTFOUND;
    for (; rc == 0 && mrc == 0; mrc = mdb_cursor_get(cc, &k, &d, MDB_NEXT)) {
        if (k.mv_size > WAL_NAME_MAX || d.mv_size < 16)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            out = xrealloc(out, cap * sizeof(*out));
        }
        struct wal_cursor_info *ci = &out[n++];
        memset(ci, 0, sizeof(*ci));
        memcpy(ci->name, k.mv_data, k.mv_size);
        ci->seq = wal_get64(d.mv_data);
        ci->updated_ns = wal_get64((const unsigned char *)d.mv_data + 8);
        ci->lag_records = st->last_seq > ci->seq ? st->last_seq - ci->seq : 0;
        rc = lag_of(w, r->log, ci->seq, st->head_offset, now, ci);
        /* Dead letters of this backend: count its key range. */
        unsigned char at[WAL_NAME_MAX + 9];
        memcpy(at, ci->name, k.mv_size + 1);
        memset(at + k.mv_size + 1, 0, 8);
        MDB_val dk = {k.mv_size + 9, at}, dv;
        int drc = mdb_cursor_get(r->dead, &dk, &dv, MDB_SET_RANGE);
        while (drc == 0 && dk.mv_size == k.mv_size + 9 &&
               memcmp(dk.mv_data, ci->name, k.mv_size + 1) == 0) {
            ci->dead_letters++;
            drc = mdb_cursor_get(r->dead, &dk, &dv, MDB_NEXT);
        }
    }
    if (cc != NULL)
        mdb_cursor_close(cc);
    wal_reader_free(r);
    if (rc != 0) {
        free(out);
        return rc;
    }
    if (cursors != NULL) {
        *cursors = out;
        *n_cursors = n;
    }
    return 0;
}
