/* The CLI's store (influx-wal replay, ephemeral backends): a fixed range of the log, the
 * position in memory only (no cursor is created, moved or forgotten, so a log opened
 * read-only works), and refused lines handed to the caller's callback instead of the dead
 * letters. Loop thread only. */
#include "replay/replay_int.h"

#include "common/err.h"
#include "common/log.h"

#include <inttypes.h>

/* Ephemeral: fix the range from the options and the log as it is now; nothing is stored. */
static void memory_start(struct sender *s, int latest)
{
    const struct sender_conf *c = s->conf;
    (void)latest; /* it never gives up */
    uint64_t after = c->from_seq > 0 ? c->from_seq - 1 : 0, first = 0, last = 0, high = 0;
    int rc = wal_reader_begin(s->reader);
    if (rc == 0) {
        if (c->from_seq == 0)
            rc = wal_reader_cursor(s->reader, s->source, &after);
        if (rc == 0)
            rc = wal_reader_bounds(s->reader, &first, &last, &high);
        wal_reader_end(s->reader);
    }
    if (rc == IWR_ENOTFOUND) {
        log_error("event=range_failed backend=%s source=%s err=\"no cursor for the source\"",
                  c->name, s->source);
        s->range.rc = rc;
        s->range.done = 1; /* and it stays STARTING, with nothing due */
        return;
    }
    if (rc != 0) {
        log_warn("event=read_failed backend=%s err=\"%s\"", c->name, iwr_strerror(rc));
        sender_schedule_backoff(s);
        return;
    }
    s->range.started = 1;
    s->range.after_seq = after;
    s->range.to_seq = c->to_seq > 0 && c->to_seq < high ? c->to_seq : high;
    s->range.position = after;
    s->high_seen = high;
    log_info("event=range_started backend=%s source=%s after=%" PRIu64 " through=%" PRIu64,
             c->name, s->source, after, s->range.to_seq);
    sender_begin_from(s, after);
}

static int memory_stored(struct sender *s, uint64_t *at)
{
    (void)s;
    (void)at;
    return 1;
}

/* Ephemeral: the position is ours alone, so it moves at once; done at the range's end. */
static void memory_advance(struct sender *s)
{
    if (s->target > s->acked)
        s->acked = s->target;
    s->range.position = s->acked;
    if (s->range.done || !s->range.started || s->head != NULL || s->acked < s->range.to_seq)
        return;
    s->range.done = 1;
    log_info("event=range_done backend=%s after=%" PRIu64 " through=%" PRIu64
             " points=%" PRIu64 " refused_lines=%" PRIu64,
             s->conf->name, s->range.after_seq, s->range.to_seq, s->st.sent_points_total,
             s->st.dead_letters_total);
}

/* Ephemeral: hand the refused lines to the caller instead of the log; the batch is done. */
static void memory_refuse(struct sender *s, struct batch *b)
{
    const struct sender_conf *c = s->conf;
    for (size_t i = 0; c->refused != NULL && i < b->n_segs; i++) {
        struct wal_record rec;
        batch_seg_record(b, i, &rec);
        c->refused(c->refused_arg, &rec, b->answer, b->answer_len);
    }
    char ans[300];
    log_quote(ans, sizeof(ans), b->answer, b->answer_len);
    log_warn("event=lines_refused backend=%s seq=%" PRIu64 " last_seq=%" PRIu64
             " lines=%zu answer=%s action=reported",
             c->name, b->segs[0].seq, b->segs[b->n_segs - 1].seq, b->lines, ans);
    s->st.dead_letters_total += b->lines;
    b->state = BATCH_DONE;
}

static int memory_forget(struct sender *s)
{
    (void)s;
    return 0; /* nothing was stored */
}

static uint64_t memory_end(const struct sender *s, uint64_t high)
{
    return s->range.to_seq < high ? s->range.to_seq : high;
}

static int memory_finished(const struct sender *s)
{
    return s->range.done;
}

static int memory_caught_up(const struct sender *s, int live)
{
    (void)live; /* caught up means the range is through */
    return s->range.done && s->range.rc == 0;
}

const struct sender_store sender_store_memory = {
    .start = memory_start,
    .stored = memory_stored,
    .advance = memory_advance,
    .refuse = memory_refuse,
    .forget = memory_forget,
    .end = memory_end,
    .finished = memory_finished,
    .caught_up = memory_caught_up,
};
