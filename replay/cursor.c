/* The daemon's store: a sender's position is its cursor in the log, moved through the log's
 * writer (wal_cursor_move with the last value we know, so a move by the CLI is noticed), and
 * refused lines go to the dead letters (dead.c). Loop thread only. */
#include "replay/replay_int.h"

#include "common/err.h"
#include "common/log.h"

#include <inttypes.h>
#include <string.h>

static void move_done(void *arg, int rc, uint64_t seq)
{
    struct sender *s = arg;
    s->wal_ops--;
    s->move_pending = 0;
    if (s->retired) {
        replay_reap_retired(s->r);
        return;
    }
    /* Given up (or starting over) meanwhile: the forget or create after this op decides; a
     * rebuild paused the sender and set the cursor itself. */
    if (s->mode == MODE_GIVEN_UP || s->mode == MODE_STARTING || s->mode == MODE_PAUSED)
        return;
    switch (rc) {
    case 0:
        s->acked = seq;
        break;
    case IWR_ECONFLICT:
        log_info("event=cursor_moved_elsewhere backend=%s expected=%" PRIu64 " found=%" PRIu64,
                 s->conf->name, s->acked, seq);
        sender_resync(s, seq);
        break;
    case IWR_EINVAL:
        log_error("event=cursor_move_refused backend=%s to=%" PRIu64 " stored=%" PRIu64,
                  s->conf->name, s->target, seq);
        sender_resync(s, seq);
        break;
    case IWR_ENOTFOUND:
        log_warn("event=cursor_missing backend=%s action=recreate", s->conf->name);
        sender_restart(s);
        return;
    case IWR_ESTOPPED:
        return;
    default:
        log_warn("event=cursor_move_failed backend=%s to=%" PRIu64 " err=\"%s\"", s->conf->name,
                 s->target, iwr_strerror(rc));
        s->move_blocked = 1;
        sender_schedule_backoff(s);
        return;
    }
    sender_pump(s);
}

static void start_done(void *arg, int rc, uint64_t seq)
{
    struct sender *s = arg;
    s->wal_ops--;
    if (s->retired) {
        replay_reap_retired(s->r);
        return;
    }
    if (rc != 0) {
        log_warn("event=cursor_create_failed backend=%s err=\"%s\"", s->conf->name,
                 iwr_strerror(rc));
        sender_schedule_backoff(s);
        return;
    }
    sender_begin_from(s, seq);
}

/* Find the cursor, or create it: at the highest sequence ever assigned, or before the first
 * record kept with start = earliest ('latest' forces the end: resuming after a give-up). */
static void log_start(struct sender *s, int latest)
{
    /* A forget of this name still on its way to the log (ours after a give-up, or a removed
     * sender's of the same name) would land after our read: wait for it. */
    int forgetting = s->forget_pending;
    for (struct sender *o = s->r->retired; o != NULL; o = o->next)
        forgetting |= o->forget_pending && strcmp(o->conf->name, s->conf->name) == 0;
    if (forgetting) {
        sender_schedule_backoff(s);
        return;
    }
    if (rebuild_restore(s))
        return;
    int rc = wal_reader_begin(s->reader);
    uint64_t cur = 0, first = 0, last = 0, high = 0;
    if (rc == 0) {
        rc = wal_reader_cursor(s->reader, s->conf->name, &cur);
        if (rc == IWR_ENOTFOUND)
            rc = wal_reader_bounds(s->reader, &first, &last, &high) == 0 ? IWR_ENOTFOUND : -1;
        wal_reader_end(s->reader);
    }
    if (rc == 0) {
        sender_begin_from(s, cur);
        return;
    }
    if (rc != IWR_ENOTFOUND) {
        log_warn("event=cursor_read_failed backend=%s err=\"%s\"", s->conf->name, iwr_strerror(rc));
        sender_schedule_backoff(s);
        return;
    }
    uint64_t at = high;
    if (!latest && s->conf->start == REPLAY_START_EARLIEST && first > 0)
        at = first - 1;
    s->high_seen = high;
    s->wal_ops++;
    wal_cursor_move(s->r->w, s->conf->name, WAL_SEQ_ANY, at, start_done, s);
}

static int log_stored(struct sender *s, uint64_t *at)
{
    return wal_reader_cursor(s->reader, s->conf->name, at);
}

static void log_advance(struct sender *s)
{
    if (s->move_pending || s->move_blocked || s->target <= s->acked)
        return;
    s->move_pending = 1;
    s->wal_ops++;
    wal_cursor_move(s->r->w, s->conf->name, s->acked, s->target, move_done, s);
}

static void forget_done(void *arg, int rc, uint64_t seq)
{
    struct sender *s = arg;
    (void)seq;
    s->wal_ops--;
    s->forget_pending = 0;
    if (rc != 0 && rc != IWR_ENOTFOUND)
        log_warn("event=cursor_forget_failed backend=%s err=\"%s\"", s->conf->name,
                 iwr_strerror(rc));
    if (s->retired)
        replay_reap_retired(s->r);
}

static int log_forget(struct sender *s)
{
    s->wal_ops++;
    s->forget_pending = 1;
    wal_cursor_forget(s->r->w, s->conf->name, forget_done, s);
    return 1;
}

static uint64_t log_end(const struct sender *s, uint64_t high)
{
    (void)s;
    return high;
}

static int log_finished(const struct sender *s)
{
    (void)s;
    return 0;
}

static int log_caught_up(const struct sender *s, int live)
{
    (void)s;
    return live;
}

const struct sender_store sender_store_log = {
    .start = log_start,
    .stored = log_stored,
    .advance = log_advance,
    .refuse = dead_submit,
    .forget = log_forget,
    .end = log_end,
    .finished = log_finished,
    .caught_up = log_caught_up,
};
