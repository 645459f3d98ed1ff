/* One sender's reading (sender.c is the rest of it): the records after its position, read
 * through its wal reader in one read transaction, cut into batches of at most the adaptive
 * size and queued up to the adaptive window; statements and fences get batches of their own,
 * records for another backend or another shard are passed. A record for every backend is
 * read line by line once, by the first sender to take it whole (batch_add_known, the engine's
 * 'known' table). Loop thread only. */
#include "replay/replay_int.h"

#include "common/err.h"
#include "common/log.h"

#include <inttypes.h>
#include <string.h>

static int str_eq(const char *s, const char *p, size_t n)
{
    return strlen(s) == n && memcmp(s, p, n) == 0;
}

/* Read records after the cursor into batches until the window is full or the log ends. Also
 * with a full window, and on hold, before anything queued is (re)sent: look at the cursor. */
void sender_fill(struct sender *s)
{
    struct sender_conf *c = s->conf;
    if (s->mode != MODE_UP && s->mode != MODE_HOLD)
        return;
    int rc = wal_reader_begin(s->reader);
    if (rc != 0) {
        log_warn("event=read_failed backend=%s err=\"%s\"", c->name, iwr_strerror(rc));
        sender_schedule_backoff(s);
        return;
    }
    /* Re-read the stored position in this transaction: the CLI may have moved the cursor
     * (rewind, skip), and batches read before that, queued while the backend was down, must
     * not go out. With a move of ours in flight the stored value is in between, so check
     * later. */
    uint64_t stored = 0;
    rc = s->store->stored(s, &stored);
    if (rc == IWR_ENOTFOUND && !s->move_pending) {
        wal_reader_end(s->reader);
        log_warn("event=cursor_missing backend=%s action=recreate", c->name);
        sender_restart(s);
        return;
    }
    if (rc == 0 && !s->move_pending && stored != s->acked) {
        log_info("event=cursor_moved_elsewhere backend=%s expected=%" PRIu64 " found=%" PRIu64,
                 c->name, s->acked, stored);
        sender_resync(s, stored);
    }
    size_t window = s->ad.in_flight; /* batches read ahead: the adaptive window */
    if (s->mode != MODE_UP || s->n_batches >= window) {
        wal_reader_end(s->reader);
        return;
    }
    s->fill_wanted = 0;
    uint64_t first = 0, last = 0, high = 0;
    if (wal_reader_bounds(s->reader, &first, &last, &high) == 0 && high > s->high_seen)
        s->high_seen = high;
    /* A range reads nothing past its end. */
    uint64_t end = s->store->end(s, high);
    const char *who = s->source;
    struct batch_limits lim = {s->ad.batch_bytes, c->batch_max_points};
    uint64_t prev_end = s->tail != NULL ? s->tail->end_seq : s->target;
    struct batch *open = NULL;
    int full = 0;
    s->read_all = 0;
    while (!full) {
        struct wal_record rec;
        rc = wal_reader_next(s->reader, s->read_seq, &rec);
        if ((rc == 0 || rc == IWR_ECORRUPT) && rec.seq > end)
            rc = IWR_ENOTFOUND;
        if (rc == IWR_ENOTFOUND) {
            /* Nothing after read_seq in this snapshot (or in the range): whatever sequences up
             * to 'end' are missing were trimmed or dropped, so the cursor may pass them (a
             * rewind by the CLI to before the first record kept lands here). */
            if (end > s->read_seq && s->part_seq == 0)
                s->read_seq = end;
            s->read_all = 1;
            break;
        }
        if (rc == IWR_ECORRUPT) {
            log_error("event=record_corrupt backend=%s seq=%" PRIu64 " action=skipped", c->name,
                      rec.seq);
            s->st.corrupt_records_total++;
            s->read_seq = rec.seq;
            s->part_seq = 0;
            continue;
        }
        if (rc != 0) {
            log_warn("event=read_failed backend=%s err=\"%s\"", c->name, iwr_strerror(rc));
            break;
        }
        size_t from = 0;
        if (s->part_seq != 0 && s->part_seq == rec.seq)
            from = s->part_off;
        s->part_seq = 0;
        /* A record requeued for another backend is not ours; an empty one has nothing; one
         * of a kind this build does not know (a reserved flag) is not line protocol. */
        int skip = rec.target_len > 0 && !str_eq(who, rec.target, rec.target_len);
        /* With shards, only this backend's shard's part is ours (rec becomes a view of it);
         * a record with parts but none for our shard is passed like a requeue for another
         * backend, so the cursor moves past it. A record without parts is everyone's. */
        int whole = rec.n_parts == 0; /* the same bytes for every sender (batch_known) */
        struct wal_record part;
        if (!skip && !wal_record_part(&rec, c->shard, &part))
            skip = 1;
        else if (!skip)
            rec = part;
        if (!skip && (rec.flags & ~WAL_REC_KNOWN) != 0) {
            log_error("event=record_unknown_kind backend=%s seq=%" PRIu64 " flags=%u"
                      " action=skipped",
                      c->name, rec.seq, (unsigned)rec.flags);
            skip = 1;
        }
        if (!skip && (rec.flags & WAL_REC_STATEMENT) != 0) {
            /* A statement or a fence: a batch of its own, after what is open (statement.c,
             * fence.c). */
            if (open != NULL) {
                prev_end = batch_seal(open, prev_end);
                sender_queue_push(s, open);
                open = NULL;
            }
            if (s->n_batches >= window) {
                full = 1;
                break;
            }
            struct batch *sb = (rec.flags & WAL_REC_FENCE) != 0 ? fence_batch(&rec, prev_end)
                                                                : statement_batch(&rec, prev_end);
            prev_end = sb->end_seq;
            sender_queue_push(s, sb);
            s->read_seq = rec.seq;
            s->range.records++;
            continue;
        }
        while (!skip && from < rec.body_len) {
            if (open != NULL && !batch_same_key(open, &rec)) {
                prev_end = batch_seal(open, prev_end);
                sender_queue_push(s, open);
                open = NULL;
            }
            if (open == NULL) {
                if (s->n_batches >= window) {
                    s->part_seq = from > 0 ? rec.seq : 0;
                    s->part_off = from;
                    full = 1;
                    break;
                }
                open = batch_new(&rec);
                if (s->n_spare > 0) /* batch_new's body is empty: nothing to free */
                    open->body = s->spare[--s->n_spare];
            }
            /* A record for every backend, read from its start: what another sender learnt
             * of it, or what this one learns for the others. */
            struct batch_known *k = from == 0 && whole && rec.target_len == 0 && rec.body_len > 0
                                        ? &s->r->known[rec.seq % REPLAY_KNOWN]
                                        : NULL;
            from += batch_add_known(open, &rec, from, &lim, k);
            if (from < rec.body_len) { /* the batch is full */
                prev_end = batch_seal(open, prev_end);
                sender_queue_push(s, open);
                open = NULL;
            }
        }
        if (!full) {
            s->read_seq = rec.seq;
            if (!skip)
                s->range.records++; /* the memory store's progress; unused by the log's */
        }
    }
    if (open != NULL) {
        batch_seal(open, prev_end);
        sender_queue_push(s, open);
    }
    wal_reader_end(s->reader);
}
