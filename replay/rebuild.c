/* Rebuilding a backend from another: the sender of the backend being rebuilt is paused
 * (MODE_PAUSED), its cursor held at the source's position P when the rebuild started, and the
 * rebuild recorded in the log as the backend's state (wal_state_set), so that a restart finds
 * it paused again. Meanwhile the CLI restores a snapshot of the source, taken after P was
 * recorded, into the backend; FINISH resumes the sender after P, and the records logged since
 * are replayed onto the restored data (writes with explicit timestamps and statements are
 * idempotent, so what the snapshot already held is written again with the same values).
 *
 * A rebuild never makes the log refuse writes: while paused, once a second, a log past 90% of
 * its limit, or a cursor someone else moved (drop-oldest raises it), loses the start point:
 * the cursor is forgotten and the state says "lost"; FINISH then refuses and a new START takes
 * a new P (the CLI makes a new snapshot).
 *
 * The state is one line of text: "rebuild from=SOURCE seq=P started_ns=T lost=0|1". Owns
 * nothing beyond the calls in flight. Loop thread only. */
#include "replay/replay_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define NEAR_FULL_PERCENT 90

/* One START, FINISH or ABORT waiting for its log operations. */
struct rb_call {
    struct sender *s;
    enum replay_rebuild_op op;
    replay_rebuild_cb *done;
    void *arg;
    int pending; /* log operations not completed yet */
    int rc;      /* the first failure among them */
};

static struct sender *find(struct replay *r, const char *name)
{
    for (struct sender *s = r->senders; s != NULL; s = s->next)
        if (name != NULL && strcmp(s->conf->name, name) == 0)
            return s;
    return NULL;
}

static uint64_t head_seq(struct replay *r)
{
    struct wal_counters wc;
    wal_counters_get(r->w, &wc);
    return wc.last_seq;
}

static void info_of(const struct sender *s, struct replay_rebuild_info *info)
{
    *info = s->rb;
    snprintf(info->backend, sizeof(info->backend), "%s", s->conf->name);
    info->head_seq = head_seq(s->r);
}

static void state_text(const struct sender *s, char *out, size_t cap)
{
    snprintf(out, cap, "rebuild from=%s seq=%" PRIu64 " started_ns=%" PRIu64 " lost=%d",
             s->rb.source, s->rb.from_seq, s->rb.started_ns, s->rb.lost);
}

/* Parse a state written by state_text. 0, or IWR_EPARSE. */
static int state_parse(const char *text, struct replay_rebuild_info *rb)
{
    char src[REPLAY_NAME_MAX + 1];
    uint64_t seq = 0, started = 0;
    int lost = 0;
    if (sscanf(text, "rebuild from=%64s seq=%" SCNu64 " started_ns=%" SCNu64 " lost=%d", src, &seq,
               &started, &lost) != 4)
        return IWR_EPARSE;
    memset(rb, 0, sizeof(*rb));
    snprintf(rb->source, sizeof(rb->source), "%s", src);
    rb->active = 1;
    rb->lost = lost != 0;
    rb->from_seq = seq;
    rb->started_ns = started;
    return 0;
}

/* Nothing read or sent from here on: what is queued or in flight is dropped (it stays in the
 * log), and the position is 'at'. */
static void pause_at(struct sender *s, uint64_t at)
{
    request_abort_all(s, REQ_CREATE_DB);
    sender_resync(s, at);
    s->mode = MODE_PAUSED;
    s->waiting = 0;
    s->due_ms = 0;
    s->fails = 0;
}

/* A log operation of a call completed. The call ends when the last one did. */
static void call_step(void *arg, int rc, uint64_t seq)
{
    struct rb_call *c = arg;
    struct sender *s = c->s;
    (void)seq;
    s->wal_ops--;
    s->rb_ops--;
    if (rc != 0 && c->rc == 0)
        c->rc = rc;
    if (--c->pending > 0)
        return;
    if (s->retired) {
        c->done(c->arg, IWR_ESTOPPED, NULL, "the backend was removed");
        free(c);
        replay_reap_retired(s->r);
        return;
    }
    struct replay_rebuild_info info;
    if (c->rc != 0) {
        log_warn("event=rebuild_state_failed backend=%s err=\"%s\"", s->conf->name,
                 iwr_strerror(c->rc));
        /* A start half written: the next START takes a new point rather than trusting it. */
        if (c->op == REPLAY_REBUILD_START)
            s->rb.lost = 1;
        info_of(s, &info);
        c->done(c->arg, c->rc, &info, iwr_strerror(c->rc));
        free(c);
        return;
    }
    if (c->op == REPLAY_REBUILD_START) {
        log_info("event=rebuild_started backend=%s from=%s seq=%" PRIu64, s->conf->name,
                 s->rb.source, s->rb.from_seq);
        info_of(s, &info);
        c->done(c->arg, 0, &info, NULL);
    } else {
        info_of(s, &info);
        info.active = 0;
        log_info("event=rebuild_%s backend=%s from=%s seq=%" PRIu64 " lost=%d",
                 c->op == REPLAY_REBUILD_FINISH ? "finished" : "aborted", s->conf->name,
                 s->rb.source, s->rb.from_seq, s->rb.lost);
        memset(&s->rb, 0, sizeof(s->rb));
        c->done(c->arg, 0, &info, NULL);
        /* Find the cursor again (P, or none when the start point was lost) and send after it. */
        sender_start_at(s, 0);
    }
    free(c);
}

static struct rb_call *call_new(struct sender *s, enum replay_rebuild_op op,
                                replay_rebuild_cb *done, void *arg)
{
    struct rb_call *c = xcalloc(1, sizeof(*c));
    c->s = s;
    c->op = op;
    c->done = done;
    c->arg = arg;
    return c;
}

static void submit_state(struct sender *s, wal_done_cb *cb, void *arg)
{
    char text[WAL_STATE_MAX + 1];
    state_text(s, text, sizeof(text));
    s->wal_ops++;
    s->rb_ops++;
    wal_state_set(s->r->w, s->conf->name, text, strlen(text), cb, arg);
}

static void start(struct replay *r, struct sender *s, const char *source, replay_rebuild_cb *done,
                  void *arg)
{
    struct sender *from = find(r, source);
    struct replay_rebuild_info info;
    if (from == NULL) {
        done(arg, IWR_ENOTFOUND, NULL, "no such source backend");
        return;
    }
    if (from == s || from->conf->ephemeral) {
        done(arg, IWR_EINVAL, NULL, "the source must be another configured backend");
        return;
    }
    if (from->rb.active) {
        done(arg, IWR_EINVAL, NULL, "the source is itself being rebuilt");
        return;
    }
    if (s->rb_ops > 0) {
        done(arg, IWR_EINVAL, NULL, "a rebuild change of this backend is in progress");
        return;
    }
    if (s->rb.active && strcmp(s->rb.source, source) != 0 && !s->rb.lost) {
        done(arg, IWR_EINVAL, NULL, "a rebuild from another source is under way: abort it");
        return;
    }
    if (s->rb.active && !s->rb.lost) {
        info_of(s, &info);
        info.resumed = 1;
        done(arg, 0, &info, NULL);
        return;
    }
    if (s->mode == MODE_STARTING || s->mode == MODE_STOPPED) {
        done(arg, IWR_EINVAL, NULL, "the backend's sender is starting: try again in a second");
        return;
    }
    /* P: what the source has applied, as the log stores it (its acknowledged cursor). */
    uint64_t p = 0;
    int rc = wal_reader_begin(s->reader);
    if (rc == 0) {
        rc = wal_reader_cursor(s->reader, from->conf->name, &p);
        wal_reader_end(s->reader);
    }
    if (rc != 0) {
        done(arg, rc, NULL, "the source's position cannot be read from the log");
        return;
    }
    pause_at(s, p);
    memset(&s->rb, 0, sizeof(s->rb));
    s->rb.active = 1;
    snprintf(s->rb.source, sizeof(s->rb.source), "%s", from->conf->name);
    s->rb.from_seq = p;
    s->rb.started_ns = wal_now_ns();
    log_info("event=rebuild_pausing backend=%s from=%s seq=%" PRIu64, s->conf->name, s->rb.source,
             p);
    /* The cursor first, then the state: the writer applies them in this order, and a crash
     * between the two leaves an ordinary cursor at P (the CLI, having no answer, starts
     * again). */
    struct rb_call *c = call_new(s, REPLAY_REBUILD_START, done, arg);
    c->pending = 2;
    s->wal_ops++;
    s->rb_ops++;
    wal_cursor_move(r->w, s->conf->name, WAL_SEQ_ANY, p, call_step, c);
    submit_state(s, call_step, c);
}

void replay_rebuild(struct replay *r, enum replay_rebuild_op op, const char *backend,
                    const char *source, replay_rebuild_cb *done, void *arg)
{
    struct sender *s = find(r, backend);
    if (r->stopping) {
        done(arg, IWR_ESTOPPED, NULL, "the daemon is stopping");
        return;
    }
    if (s == NULL) {
        done(arg, IWR_ENOTFOUND, NULL, "no such backend");
        return;
    }
    if (s->conf->ephemeral) {
        done(arg, IWR_EINVAL, NULL, "an ephemeral backend cannot be rebuilt");
        return;
    }
    if (op == REPLAY_REBUILD_START) {
        /* influxd backup and restore -portable are 1.x tools: a 2.x or 3.x backend is filled
         * from the log only. */
        const struct sender *src = source != NULL ? find(r, source) : NULL;
        if (s->conf->api != REPLAY_API_V1 || (src != NULL && src->conf->api != REPLAY_API_V1)) {
            done(arg, IWR_EINVAL, NULL, "rebuild is for v1 (InfluxDB 1.x) backends only");
            return;
        }
        start(r, s, source, done, arg);
        return;
    }
    if (!s->rb.active) {
        done(arg, IWR_EINVAL, NULL, "the backend is not being rebuilt");
        return;
    }
    if (s->rb_ops > 0) {
        done(arg, IWR_EINVAL, NULL, "a rebuild change of this backend is in progress");
        return;
    }
    if (op == REPLAY_REBUILD_FINISH && s->rb.lost) {
        struct replay_rebuild_info info;
        info_of(s, &info);
        done(arg, IWR_ECONFLICT, &info,
             "the start point was lost (the log neared its limit): start the rebuild again");
        return;
    }
    struct rb_call *c = call_new(s, op, done, arg);
    c->pending = 1;
    s->wal_ops++;
    s->rb_ops++;
    wal_state_set(r->w, s->conf->name, NULL, 0, call_step, c);
}

int replay_rebuild_status(struct replay *r, const char *backend, struct replay_rebuild_info *info)
{
    struct sender *s = find(r, backend);
    if (s == NULL)
        return IWR_ENOTFOUND;
    info_of(s, info);
    return 0;
}

int rebuild_restore(struct sender *s)
{
    char text[WAL_STATE_MAX + 1];
    uint64_t cur = 0, first = 0, last = 0, high = 0;
    int rc = wal_reader_begin(s->reader);
    if (rc != 0)
        return 0;
    rc = wal_reader_state(s->reader, s->conf->name, text, sizeof(text));
    int has_cursor = rc == 0 && wal_reader_cursor(s->reader, s->conf->name, &cur) == 0;
    wal_reader_bounds(s->reader, &first, &last, &high);
    wal_reader_end(s->reader);
    if (rc != 0)
        return 0;
    struct replay_rebuild_info rb;
    if (state_parse(text, &rb) != 0) {
        log_warn("event=rebuild_state_unreadable backend=%s action=ignored", s->conf->name);
        return 0;
    }
    s->rb = rb;
    s->high_seen = high;
    pause_at(s, has_cursor ? cur : rb.from_seq);
    log_warn("event=rebuild_paused backend=%s from=%s seq=%" PRIu64 " lost=%d"
             " hint=\"run influx-wal rebuild again to finish it, or abort it\"",
             s->conf->name, rb.source, rb.from_seq, rb.lost);
    return 1;
}

static void op_done(void *arg, int rc, uint64_t seq)
{
    struct sender *s = arg;
    (void)seq;
    s->wal_ops--;
    s->rb_ops--;
    if (rc != 0 && rc != IWR_ENOTFOUND)
        log_warn("event=rebuild_state_failed backend=%s err=\"%s\"", s->conf->name,
                 iwr_strerror(rc));
    if (s->retired)
        replay_reap_retired(s->r);
}

/* Let the start point go: the cursor no longer holds truncation back. */
static void lose(struct sender *s, const char *why, int forget)
{
    log_warn("event=rebuild_start_point_lost backend=%s from=%s seq=%" PRIu64 " reason=%s"
             " action=cursor_forgotten hint=\"run influx-wal rebuild again: it takes a new "
             "starting point\"",
             s->conf->name, s->rb.source, s->rb.from_seq, why);
    s->rb.lost = 1;
    if (forget) {
        s->wal_ops++;
        s->rb_ops++;
        wal_cursor_forget(s->r->w, s->conf->name, op_done, s);
    }
    submit_state(s, op_done, s);
}

/* The log past NEAR_FULL_PERCENT of its limit: let the start point go. Counters only. 1 when
 * it did. */
static int near_full(struct sender *s)
{
    struct wal_counters wc;
    wal_counters_get(s->r->w, &wc);
    if (wc.limit_bytes == 0 || wc.log_bytes * 100 < (uint64_t)wc.limit_bytes * NEAR_FULL_PERCENT)
        return 0;
    lose(s, "log_near_limit", 1);
    return 1;
}

void rebuild_check(struct sender *s)
{
    if (s->rb.active && !s->rb.lost && s->rb_ops == 0)
        near_full(s);
}

void rebuild_tick(struct sender *s)
{
    if (!s->rb.active || s->rb.lost || s->rb_ops > 0)
        return;
    sender_refresh_lag(s);
    if (near_full(s))
        return;
    uint64_t cur = 0;
    int rc = wal_reader_begin(s->reader);
    if (rc != 0)
        return;
    rc = wal_reader_cursor(s->reader, s->conf->name, &cur);
    wal_reader_end(s->reader);
    if (rc == IWR_ENOTFOUND)
        lose(s, "cursor_gone", 0);
    else if (rc == 0 && cur != s->rb.from_seq)
        lose(s, "cursor_moved", 1);
}

void rebuild_forget(struct sender *s)
{
    if (!s->rb.active)
        return;
    s->wal_ops++;
    s->rb_ops++;
    wal_state_set(s->r->w, s->conf->name, NULL, 0, op_done, s);
}
