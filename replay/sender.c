/* One backend's sender: reads the log after its cursor (sender_read.c), keeps a window of
 * batches, sends them through the engine's multi handle, acts on each answer (replay_classify)
 * and moves its cursor in log order. Owns its reader, its batches, its requests and its
 * options (shared with the requests by reference). Loop thread only.
 *
 * States (enum sender_mode): STARTING until its cursor is found or created; UP sends; DOWN
 * (refused, timeouts, 5xx) sends nothing and probes /ping after a backoff; HOLD (401, 403, 404)
 * resends the first batch after a backoff; GIVEN_UP has forgotten its cursor and probes /ping
 * to resume at the end; PAUSED (a rebuild from another backend, rebuild.c) reads and sends
 * nothing, its cursor held where the rebuild started; STOPPED waits for its last log callbacks
 * before it is freed.
 *
 * Where its position lives and where refused lines go is its store (struct sender_store): the
 * log's cursor and dead letters for the daemon (cursor.c, dead.c), memory and a callback over
 * a fixed range for influx-wal replay (range.c). The machine is the same for both.
 *
 * Invariants:
 * - The cursor only moves in log order: past the prefix of the window whose batches are done
 *   (acknowledged, or their refused lines stored as dead letters), with expect = the last value
 *   we know. At most one move is in flight.
 * - Dead letters are submitted before the move that passes their record, and the writer
 *   applies ops in order, so no refused line is ever lost between the two.
 * - No read transaction is held outside sender_fill() (sender_read.c) and tick(): batches
 *   are copies.
 * - Memory is bounded by max_in_flight batches of batch_max_bytes (splitting only cuts them).
 * - Batches go out in log order, at most the adaptive window (s->ad, adapt.h) at once, cut to
 *   its batch size first; a batch waits while one before it that is not done holds a point
 *   of the same series and timestamp (batch_overlap), so a resend never lands over a newer
 *   value of its own point. Statements and fences keep their barrier (statement.c). */
#include "replay/replay_int.h"

#include "replay/generation.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#define BACKOFF_START_MS 100
#define PING_TIMEOUT_MS 2000
/* Liveness: a backend not heard from for this long gets a /ping, so that /health and
 * influx_wal_backend_up follow a stop or a hang within a few seconds even when idle; and a
 * backend that is down is probed this often, whatever the write backoff has grown to. */
#define LIVENESS_MS 2000
#define PROBE_MS 1000
#define RATE_ALPHA 0.2 /* weight of the newest 1 s sample in the drain rate */

static void send_ping(struct sender *s);

/* ---- the window -------------------------------------------------------------------------------
 */

void sender_queue_push(struct sender *s, struct batch *b)
{
    b->next = NULL;
    if (s->tail != NULL)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
    s->n_batches++;
}

/* Put 'first' and 'second' where 'b' was. */
static void queue_replace(struct sender *s, struct batch *b, struct batch *first,
                          struct batch *second)
{
    struct batch **pp = &s->head, *prev = NULL;
    while (*pp != b) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    first->next = second;
    second->next = b->next;
    *pp = first;
    if (s->tail == b)
        s->tail = second;
    (void)prev;
    s->n_batches++;
}

/* Drop every batch; those with dead letters in flight are freed by their last callback. */
static void drop_batches(struct sender *s)
{
    struct batch *b = s->head;
    while (b != NULL) {
        struct batch *next = b->next;
        if (b->dead_pending > 0)
            b->orphan = 1;
        else
            batch_free(b);
        b = next;
    }
    s->head = s->tail = NULL;
    s->n_batches = 0;
    s->sending = 0;
}

/* Start over from 'cursor': what is queued or in flight is dropped (resent if still after it). */
void sender_resync(struct sender *s, uint64_t cursor)
{
    request_abort_all(s, REQ_WRITE);
    drop_batches(s);
    s->acked = s->target = s->read_seq = cursor;
    s->part_seq = 0;
    s->part_off = 0;
    s->move_blocked = 0;
    s->read_all = 0;
}

/* ---- retrying ---------------------------------------------------------------------------------
 */

void sender_schedule_backoff(struct sender *s)
{
    if (s->waiting)
        return;
    unsigned shift = s->fails < 20 ? s->fails : 20;
    uint64_t d = (uint64_t)BACKOFF_START_MS << shift;
    if (d > s->conf->retry_max_delay_ms)
        d = s->conf->retry_max_delay_ms;
    /* Jitter: somewhere in [d/2, d], so that relays do not retry in step. */
    d = d / 2 + replay_random(s->r) % (d / 2 + 1);
    s->fails++;
    s->waiting = 1;
    s->due_ms = replay_now_ms(s->r) + (d > 0 ? d : 1);
    replay_rearm(s->r);
}

/* The backend is reachable (a 2xx from /ping): leave DOWN, but keep the failure count, so a
 * server that answers /ping and fails every write still backs off further each time. */
static void backend_reachable(struct sender *s)
{
    if (s->mode == MODE_DOWN) {
        log_info("event=backend_reachable backend=%s down_ms=%" PRIu64, s->conf->name,
                 (wal_now_ns() - s->st.down_since_ns) / 1000000);
        s->mode = MODE_UP;
    }
    s->st.up = 1;
}

/* A write was answered in a way that needs no backoff: acknowledged, or some lines refused
 * (the server is fine, the data is not). */
static void backend_answered(struct sender *s)
{
    s->last_contact_ms = replay_now_ms(s->r);
    s->fails = 0;
    if (s->mode == MODE_DOWN || s->mode == MODE_HOLD) {
        log_info("event=backend_up backend=%s down_ms=%" PRIu64, s->conf->name,
                 s->st.down_since_ns ? (wal_now_ns() - s->st.down_since_ns) / 1000000 : 0);
        s->mode = MODE_UP;
    }
    s->hold_code = 0;
    s->st.up = 1;
    s->st.down_since_ns = 0;
}

static void backend_ok(struct sender *s)
{
    backend_answered(s);
    s->st.last_error[0] = '\0';
    s->st.last_ok_ns = wal_now_ns();
}

static void backend_down(struct sender *s)
{
    if (s->mode != MODE_DOWN) {
        char url[300], err[300];
        sender_quote(url, sizeof(url), s->conf->display_url);
        sender_quote(err, sizeof(err), s->st.last_error);
        log_warn("event=backend_down backend=%s url=%s err=%s", s->conf->name, url, err);
        s->mode = MODE_DOWN;
    }
    s->st.up = 0;
    if (s->st.down_since_ns == 0)
        s->st.down_since_ns = wal_now_ns();
    sender_schedule_backoff(s);
}

static void send_create_db(struct sender *s, const char *db);

static void backend_hold(struct sender *s, long http, const char *db_missing)
{
    if (s->mode != MODE_HOLD || s->hold_code != http) {
        char url[300], err[300];
        sender_quote(url, sizeof(url), s->conf->display_url);
        sender_quote(err, sizeof(err), s->st.last_error);
        log_warn("event=backend_hold backend=%s url=%s http=%ld err=%s action=keep_data_and_retry",
                 s->conf->name, url, http, err);
    }
    s->mode = MODE_HOLD;
    s->hold_code = http;
    s->st.up = 0;
    if (s->st.down_since_ns == 0)
        s->st.down_since_ns = wal_now_ns();
    if (db_missing != NULL && s->conf->create_database && !s->create_inflight &&
        (s->created_db == NULL || strcmp(s->created_db, db_missing) != 0))
        send_create_db(s, db_missing);
    sender_schedule_backoff(s);
}

/* ---- requests ------------------------------------------------------------------------------ */

static void send_batch(struct sender *s, struct batch *b)
{
    struct request *q = b->stmt ? request_statement(s, b) : request_write(s, b);
    if (q == NULL) { /* a statement a v2/v3 backend has no equivalent of */
        statement_unsupported(s, b);
        return;
    }
    b->state = BATCH_SENDING;
    s->sending++;
    if (!b->stmt)
        b->ticket = adapt_sent(&s->ad, s->sending);
    replay_add_request(s->r, q);
}

/* The adaptive controller's bounds from the options. */
static void adapt_bounds_of(const struct sender_conf *c, struct adapt_bounds *b)
{
    *b = (struct adapt_bounds){c->min_in_flight, c->max_in_flight, c->batch_min_bytes,
                               c->batch_max_bytes, c->timeout_ms};
}

static void send_ping(struct sender *s)
{
    if (s->ping_inflight)
        return;
    uint64_t t = s->conf->timeout_ms < PING_TIMEOUT_MS ? s->conf->timeout_ms : PING_TIMEOUT_MS;
    struct request *q = request_ping(s, t);
    s->ping_inflight = 1;
    replay_add_request(s->r, q);
}

static void send_create_db(struct sender *s, const char *db)
{
    struct request *q = request_create_db(s, db);
    free(s->created_db);
    s->created_db = xstrdup(db);
    s->create_inflight = 1;
    log_info("event=create_database backend=%s db=%s", s->conf->name, db);
    replay_add_request(s->r, q);
}

static void advance(struct sender *s);

/* Pass the fences at the head of the window that may pass (fence.c): 1 when one did. */
static int pass_fences(struct sender *s)
{
    int passed = 0;
    while (s->head != NULL && s->head->fence && s->head->state == BATCH_QUEUED &&
           s->sending == 0 && fence_may_pass(s, s->head)) {
        s->head->state = BATCH_DONE;
        advance(s);
        passed = 1;
    }
    return passed;
}

static void queue_replace(struct sender *s, struct batch *b, struct batch *first,
                          struct batch *second);

/* Whether a batch before 'b' in the window that is not done (in flight, or waiting to be sent
 * again) may hold a point of the same series and timestamp: then 'b' waits, so that the older
 * value can never land after the newer one. */
static int overlaps_earlier(struct sender *s, struct batch *b)
{
    for (struct batch *x = s->head; x != NULL && x != b; x = x->next) {
        if (x->stmt || x->fence || (x->state != BATCH_SENDING && x->state != BATCH_QUEUED))
            continue; /* done, or its lines go to the dead letters, not to the backend */
        if (batch_overlap(x, b))
            return 1;
    }
    return 0;
}

/* A queued batch larger than the batch size now (the size came down after it was cut, a
 * timeout for one): its first part that fits takes its place, the rest follows it. */
static struct batch *fit_batch(struct sender *s, struct batch *b)
{
    if (b->stmt || b->fence || b->lines < 2 || b->body.len <= s->ad.batch_bytes)
        return b;
    size_t want = batch_lines_within(b, s->ad.batch_bytes);
    if (want >= b->lines)
        return b;
    struct batch *first, *second;
    batch_split_at(b, want, &first, &second);
    log_debug("event=batch_cut backend=%s seq=%" PRIu64 " lines=%zu bytes=%zu limit=%zu",
              s->conf->name, b->segs[0].seq, b->lines, b->body.len, s->ad.batch_bytes);
    queue_replace(s, b, first, second);
    batch_free(b);
    return first;
}

/* Send the queued batches, in log order, up to the window. After a failure, only the first
 * goes (it is the probe), so a backend on hold does not get the whole window refused again. */
static void send_ready(struct sender *s)
{
    if (s->waiting || (s->mode != MODE_UP && s->mode != MODE_HOLD))
        return;
    while (pass_fences(s)) { /* the window has room again: read on */
        sender_fill(s);
        if (s->mode != MODE_UP && s->mode != MODE_HOLD)
            return;
        advance(s);
    }
    size_t window = s->fails > 0 ? 1 : s->ad.in_flight;
    int stop = 0;
    for (struct batch *b = s->head; b != NULL && !stop && s->sending < window; b = b->next) {
        if (!statement_may_send(s, b, &stop)) /* a statement goes alone, in its place */
            continue;
        if (b->stmt && !fence_barrier_ok(s, b)) /* the other relays first (fence.c) */
            break;
        b = fit_batch(s, b);
        if (!b->stmt && overlaps_earlier(s, b))
            break; /* in order: nothing after it goes before it */
        send_batch(s, b);
    }
}

/* ---- refused lines ------------------------------------------------------------------------- */

static void dead_letter(struct sender *s, struct batch *b, long http, const struct request *q)
{
    struct buf a;
    buf_init(&a);
    buf_printf(&a, "%ld ", http);
    buf_append(&a, q->resp.data, q->resp.len);
    free(b->answer);
    b->answer_len = a.len;
    b->answer = buf_steal(&a);
    s->store->refuse(s, b);
}

/* Split in halves, or after 'want' lines when the answer said where the refused line is. */
static void split_batch(struct sender *s, struct batch *b, size_t want)
{
    struct batch *first, *second;
    batch_split_at(b, want > 0 && want < b->lines ? want : b->lines / 2, &first, &second);
    log_debug("event=batch_split backend=%s seq=%" PRIu64 " lines=%zu", s->conf->name,
              b->segs[0].seq, b->lines);
    queue_replace(s, b, first, second);
    batch_free(b);
}

/* 3.x with accept_partial stored every line of 'b' but those its answer lists: those become
 * dead letters one by one, the runs between them are done without being sent again. After the
 * last listed line the rest is done too when the answer is whole (not cut at resp_max, fewer
 * errors than 3.x lists at most); otherwise it is sent again (a point written twice with the
 * same series and time is one point). A cut answer loses the last errors only: 3.x lists them
 * in line order. 1 when 'b' was settled so, 0 when the answer lists
 * nothing usable (the caller splits as usual). */
#define V3_LISTED_MAX 100 /* 3.x reports at most this many rejected lines */
static int settle_partial(struct sender *s, struct batch *b, long http, const struct request *q)
{
    size_t bad[V3_LISTED_MAX];
    size_t n = gen_v3_partial_lines(q->resp.data, q->resp.len, b->lines, bad, V3_LISTED_MAX);
    if (n == 0)
        return 0;
    int whole = q->resp.len < q->resp_max && n < V3_LISTED_MAX;
    struct batch *rest = b, *first, *second;
    size_t base = 0; /* lines of b before 'rest' */
    for (size_t i = 0; i < n && rest != NULL; i++) {
        size_t rel = bad[i] - base; /* the refused line's place in 'rest', from 1 */
        if (rel > 1) {             /* the stored lines before it */
            batch_split_at(rest, rel - 1, &first, &second);
            queue_replace(s, rest, first, second);
            batch_free(rest); /* 'b' too: the request only borrows it */
            first->state = BATCH_DONE;
            s->st.sent_points_total += first->lines;
            rest = second;
        }
        struct batch *refused = rest;
        if (rest->lines > 1) {
            batch_split_at(rest, 1, &first, &second);
            queue_replace(s, rest, first, second);
            batch_free(rest); /* 'b' too: the request only borrows it */
            refused = first;
            rest = second;
        } else {
            rest = NULL;
        }
        dead_letter(s, refused, http, q);
        base = bad[i];
    }
    if (rest != NULL && whole) {
        rest->state = BATCH_DONE;
        s->st.sent_points_total += rest->lines;
    }
    return 1;
}

/* ---- the position ---------------------------------------------------------------------------- */

/* A done batch's body buffer, kept for a later batch of this sender: at most
 * SENDER_SPARE_BODIES, none larger than twice the largest batch, and no more than the window
 * has room for, so that the bodies held (the window's and the spare ones) are never more than a
 * full window holds. */
static void keep_body(struct sender *s, struct batch *b)
{
    if (s->n_spare == SENDER_SPARE_BODIES || s->n_batches + s->n_spare >= s->ad.in_flight ||
        b->body.cap == 0 || b->body.cap > 2 * s->conf->batch_max_bytes)
        return;
    s->spare[s->n_spare] = b->body;
    s->spare[s->n_spare++].len = 0;
    buf_init(&b->body);
}

/* An idle sender holds no spare bodies. */
static void drop_spare_bodies(struct sender *s)
{
    while (s->n_spare > 0)
        buf_deinit(&s->spare[--s->n_spare]);
}

/* Pop the done prefix of the window and move the cursor past it. */
static void advance(struct sender *s)
{
    uint64_t t = s->target;
    while (s->head != NULL && s->head->state == BATCH_DONE) {
        struct batch *b = s->head;
        s->head = b->next;
        if (s->head == NULL)
            s->tail = NULL;
        s->n_batches--;
        t = b->end_seq > t ? b->end_seq : t;
        keep_body(s, b);
        batch_free(b);
    }
    /* An empty window: everything read (sent or skipped) is done. */
    if (s->head == NULL && s->read_seq > t)
        t = s->read_seq;
    s->target = t;
    s->store->advance(s);
}

/* ---- the state machine ------------------------------------------------------------------------
 */

void sender_pump(struct sender *s)
{
    if (s->mode != MODE_UP && s->mode != MODE_DOWN && s->mode != MODE_HOLD)
        return;
    if (s->store->finished(s))
        return;
    dead_retry(s);
    advance(s);
    sender_fill(s);
    if (s->mode == MODE_STARTING) /* fill found the cursor gone */
        return;
    advance(s);
    send_ready(s);
}

void sender_begin_from(struct sender *s, uint64_t cursor)
{
    sender_resync(s, cursor);
    s->mode = MODE_UP;
    s->fails = 0;
    s->waiting = 0;
    char url[300];
    sender_quote(url, sizeof(url), s->conf->display_url);
    if (s->st.given_up) {
        log_warn("event=backend_resumed backend=%s url=%s cursor=%" PRIu64 " missed_after=%" PRIu64
                 " missed_through=%" PRIu64,
                 s->conf->name, url, cursor, s->given_up_from, cursor);
        s->st.given_up = 0;
    } else {
        log_info("event=replay_started backend=%s url=%s cursor=%" PRIu64, s->conf->name, url,
                 cursor);
    }
    s->rate_cursor = cursor;
    s->rate_ms = replay_now_ms(s->r);
    if (!s->st.up)
        send_ping(s);
    sender_pump(s);
}

void sender_start_at(struct sender *s, int latest)
{
    s->mode = MODE_STARTING;
    s->waiting = 0;
    s->store->start(s, latest);
}

void sender_start(struct sender *s)
{
    sender_start_at(s, 0);
}

void sender_restart(struct sender *s)
{
    request_abort_all(s, REQ_WRITE);
    drop_batches(s);
    sender_start_at(s, 0);
}

static void give_up(struct sender *s, const char *reason)
{
    log_error("event=backend_given_up backend=%s reason=%s cursor=%" PRIu64 " lag_records=%" PRIu64
              " lag_bytes=%" PRIu64 " lag_seconds=%.0f"
              " action=cursor_forgotten hint=\"replay the range with influx-wal replay\"",
              s->conf->name, reason, s->acked, s->st.lag_records, s->st.lag_bytes,
              s->st.lag_seconds);
    s->given_up_from = s->acked;
    request_abort_all(s, REQ_WRITE);
    request_abort_all(s, REQ_CREATE_DB);
    drop_batches(s);
    s->mode = MODE_GIVEN_UP;
    s->st.given_up = 1;
    s->st.lag_records = s->st.lag_bytes = 0;
    s->st.lag_seconds = 0;
    s->oldest_unacked_ns = 0;
    s->store->forget(s);
    s->waiting = 0;
    sender_schedule_backoff(s);
}

/* ---- answers ----------------------------------------------------------------------------------
 */

/* Tell the controller how the backend answered a write: an answer is capacity, a timeout,
 * 5xx, 408, 429 or a transport failure is overload, a 413 says the batch is too large; a
 * hold (credentials, a missing database) says nothing about capacity. */
static void adapt_observe(struct sender *s, const struct batch *b, struct replay_verdict v,
                          CURLcode result, long http, uint64_t us)
{
    enum adapt_outcome o;
    if (result == CURLE_OPERATION_TIMEDOUT)
        o = ADAPT_TIMEOUT;
    else if (v.action == REPLAY_RETRY)
        o = ADAPT_OVERLOAD;
    else if (v.action == REPLAY_HOLD)
        return;
    else if (result == CURLE_OK && http == 413)
        o = ADAPT_TOO_LARGE;
    else
        o = ADAPT_OK;
    size_t in_flight = s->ad.in_flight, batch_bytes = s->ad.batch_bytes;
    int full = b->body.len * 2 >= batch_bytes || b->lines * 2 >= s->conf->batch_max_points;
    adapt_answer(&s->ad, b->ticket, o, b->body.len, full, us, uv_hrtime() / 1000);
    if (s->ad.in_flight != in_flight || s->ad.batch_bytes != batch_bytes)
        log_debug("event=adapt backend=%s outcome=%d latency_ms=%" PRIu64 " in_flight=%zu"
                  " batch_bytes=%zu",
                  s->conf->name, (int)o, us / 1000, s->ad.in_flight, s->ad.batch_bytes);
}

static void write_done(struct sender *s, struct request *q, CURLcode result, long http, uint64_t us)
{
    struct batch *b = q->batch;
    s->sending--;
    b->state = BATCH_QUEUED;
    sender_observe(s, result == CURLE_OK ? http : 0, us);
    if (b->stmt && s->conf->api == REPLAY_API_V2 && statement_next_step(s, b, q, result, http)) {
        request_free(q);
        send_batch(s, b); /* its second step, at once: still alone at the head */
        return;
    }
    size_t split_after = 0;
    struct replay_verdict v;
    if (b->stmt)
        v = statement_answered(s, b, q, result, http);
    else if (s->conf->api == REPLAY_API_V3)
        v = gen_classify_v3(result, http, q->resp.data, q->resp.len, b->lines, &split_after);
    else if (s->conf->api == REPLAY_API_V2)
        v = gen_classify_v2(result, http, q->resp.data, q->resp.len);
    else
        v = replay_classify(result, http, q->resp.data, q->resp.len);
    if (!b->stmt)
        adapt_observe(s, b, v, result, http, us);
    switch (v.action) {
    case REPLAY_ACK:
        b->state = BATCH_DONE;
        s->st.sent_points_total += b->stmt ? 0 : b->lines;
        s->st.sent_batches_total++;
        backend_ok(s);
        if (s->created_db != NULL && strcmp(s->created_db, b->db) == 0) {
            free(s->created_db); /* so a later DROP DATABASE is fixed again */
            s->created_db = NULL;
        }
        break;
    case REPLAY_RETRY:
        s->st.retries_total++;
        sender_describe(s, q, result, http);
        if (v.down)
            backend_down(s);
        else
            sender_schedule_backoff(s);
        break;
    case REPLAY_HOLD:
        s->st.retries_total++;
        sender_describe(s, q, result, http);
        backend_hold(s, result != CURLE_OK ? -(long)result : http, v.db_missing ? b->db : NULL);
        break;
    case REPLAY_SPLIT:
    case REPLAY_DEAD:
        /* It answered: reachable, and nothing to back off from. */
        sender_describe(s, q, result, http);
        backend_answered(s);
        int settled = v.action == REPLAY_SPLIT && s->conf->api == REPLAY_API_V3 &&
                      s->conf->accept_partial && settle_partial(s, b, http, q);
        if (settled)
            break; /* line by line from 3.x's answer */
        if (v.action == REPLAY_SPLIT && b->lines > 1)
            split_batch(s, b, split_after);
        else
            dead_letter(s, b, http, q);
        break;
    }
    request_free(q);
    sender_pump(s);
}

/* While down: probe /ping every PROBE_MS (with a little jitter), not on the write backoff, so
 * a returning backend is seen within a second or two. */
static void schedule_probe(struct sender *s)
{
    if (s->waiting)
        return;
    s->waiting = 1;
    s->due_ms = replay_now_ms(s->r) + PROBE_MS + replay_random(s->r) % (PROBE_MS / 4 + 1);
    replay_rearm(s->r);
}

static void ping_done(struct sender *s, struct request *q, CURLcode result, long http)
{
    s->ping_inflight = 0;
    int ok = result == CURLE_OK && http >= 200 && http < 300;
    if (ok)
        s->last_contact_ms = replay_now_ms(s->r);
    if (!ok)
        sender_describe(s, q, result, http);
    request_free(q);
    switch (s->mode) {
    case MODE_GIVEN_UP:
        if (ok) {
            s->st.up = 1;
            sender_start_at(s, 1);
        } else {
            s->st.up = 0;
            sender_schedule_backoff(s);
        }
        return;
    case MODE_DOWN:
        if (ok)
            backend_reachable(s);
        else
            schedule_probe(s);
        break;
    case MODE_UP:
    case MODE_HOLD: /* the first ping after start */
        if (ok && s->mode == MODE_UP)
            s->st.up = 1;
        else if (!ok)
            backend_down(s);
        break;
    default:
        s->st.up = ok;
        return;
    }
    sender_pump(s);
}

static void create_done(struct sender *s, struct request *q, CURLcode result, long http)
{
    s->create_inflight = 0;
    int ok = result == CURLE_OK && http >= 200 && http < 300 && q->resp.data != NULL &&
             memmem(q->resp.data, q->resp.len, "\"error\"", 7) == NULL;
    if (ok) {
        log_info("event=database_created backend=%s db=%s", s->conf->name,
                 s->created_db != NULL ? s->created_db : "");
        /* Resend now instead of after the backoff. */
        if (s->waiting) {
            s->due_ms = replay_now_ms(s->r) + 1;
            replay_rearm(s->r);
        }
    } else {
        char err[300];
        sender_describe(s, q, result, http);
        sender_quote(err, sizeof(err), s->st.last_error);
        log_warn("event=create_database_failed backend=%s err=%s", s->conf->name, err);
    }
    request_free(q);
}

void sender_request_done(struct request *q, CURLcode result, long http_status, uint64_t duration_us)
{
    struct sender *s = q->s;
    switch (q->kind) {
    case REQ_WRITE:
        write_done(s, q, result, http_status, duration_us);
        break;
    case REQ_PING:
        ping_done(s, q, result, http_status);
        break;
    case REQ_CREATE_DB:
        create_done(s, q, result, http_status);
        break;
    case REQ_QUERY: /* request_done sends those to query.c */
        IWR_ASSERT(0);
        break;
    }
}

/* ---- the engine's calls -----------------------------------------------------------------------
 */

struct sender *sender_new(struct replay *r, struct sender_conf *conf)
{
    struct sender *s = xcalloc(1, sizeof(*s));
    s->r = r;
    s->conf = conf;
    s->mode = MODE_STARTING;
    struct adapt_bounds ab;
    adapt_bounds_of(conf, &ab);
    adapt_init(&s->ad, &ab);
    sender_status_init(s);
    s->store = conf->ephemeral ? &sender_store_memory : &sender_store_log;
    snprintf(s->source, sizeof(s->source), "%s", conf->ephemeral ? conf->source : conf->name);
    wal_reader_new(r->w, &s->reader);
    return s;
}

void sender_reconfigure(struct sender *s, struct sender_conf *conf)
{
    if (strcmp(s->conf->url, conf->url) != 0) {
        char from[300], to[300];
        sender_quote(from, sizeof(from), s->conf->display_url);
        sender_quote(to, sizeof(to), conf->display_url);
        log_info("event=backend_url_changed backend=%s from=%s to=%s", s->conf->name, from, to);
    }
    sender_conf_unref(s->conf);
    s->conf = conf;
    conf->refs++;
    struct adapt_bounds ab;
    adapt_bounds_of(conf, &ab);
    adapt_set_bounds(&s->ad, &ab);
}

void sender_stop(struct sender *s, int forget)
{
    request_abort_all(s, -1);
    drop_batches(s);
    s->mode = MODE_STOPPED;
    s->retired = 1;
    s->due_ms = 0;
    s->waiting = 0;
    if (forget)
        rebuild_forget(s);
    if (forget && s->store->forget(s))
        log_info("event=backend_removed backend=%s action=cursor_forgotten", s->conf->name);
}

int sender_idle(const struct sender *s)
{
    return s->retired && s->wal_ops == 0;
}

void sender_free(struct sender *s)
{
    IWR_ASSERT(s->reqs == NULL && s->head == NULL && s->wal_ops == 0);
    wal_reader_free(s->reader);
    drop_spare_bodies(s);
    sender_conf_unref(s->conf);
    free(s->created_db);
    free(s);
}

void sender_kick(struct sender *s)
{
    if (s->mode == MODE_PAUSED)
        rebuild_check(s);
    if (s->fill_wanted && s->mode == MODE_UP)
        sender_pump(s);
}

void sender_due(struct sender *s)
{
    s->due_ms = 0;
    s->waiting = 0;
    s->move_blocked = 0;
    switch (s->mode) {
    case MODE_STARTING:
        sender_start_at(s, s->st.given_up);
        break;
    case MODE_DOWN:
    case MODE_GIVEN_UP:
        send_ping(s);
        break;
    case MODE_UP:
    case MODE_HOLD:
        sender_pump(s);
        break;
    case MODE_PAUSED: /* a rebuild: nothing until it finishes (rebuild.c) */
    case MODE_STOPPED:
        break;
    }
}

void sender_tick(struct sender *s)
{
    if (s->mode == MODE_PAUSED) {
        rebuild_tick(s);
        return;
    }
    if (s->mode == MODE_STARTING || s->mode == MODE_STOPPED || s->mode == MODE_GIVEN_UP)
        return;
    sender_refresh_lag(s);
    if (s->head == NULL)
        drop_spare_bodies(s);
    uint64_t now = replay_now_ms(s->r);
    if (now > s->rate_ms) {
        double inst = s->acked > s->rate_cursor ? (double)(s->acked - s->rate_cursor) * 1000.0 /
                                                      (double)(now - s->rate_ms)
                                                : 0;
        s->st.drain_records_per_second =
            RATE_ALPHA * inst + (1 - RATE_ALPHA) * s->st.drain_records_per_second;
        s->rate_cursor = s->acked;
        s->rate_ms = now;
    }
    const struct sender_conf *c = s->conf;
    if (c->give_up_after_ms > 0 && s->oldest_unacked_ns != 0 &&
        wal_now_ns() - s->oldest_unacked_ns > c->give_up_after_ms * 1000000u) {
        give_up(s, "give_up_after");
        return;
    }
    if (c->give_up_bytes > 0 && s->st.lag_bytes > c->give_up_bytes) {
        give_up(s, "give_up_bytes");
        return;
    }
    /* Not heard from lately (idle, or a write hanging): ask /ping; a failure marks it down
     * while any write in flight runs to its own timeout. */
    if (s->mode == MODE_UP && !s->ping_inflight && now - s->last_contact_ms >= LIVENESS_MS)
        send_ping(s);
    /* Idle: look again, for records appended by another process (influx-wal dead requeue) and
     * for a cursor the CLI moved. */
    if (s->mode == MODE_UP && s->head == NULL && !s->move_pending)
        sender_pump(s);
}
