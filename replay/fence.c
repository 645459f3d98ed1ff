/* The statement barrier between relays that feed the same backends, each from its own log.
 * Only the leader (the lowest name among the relays that answer) commits statements; right
 * after committing statement N it asks every peer to commit a fence for it
 * (replay_peer_fence). Then, on each backend B:
 * - the leader's sender holds N (at the head of its window, everything before it done) until
 *   every peer's sender for B reports being at its fence for N, or past it
 *   (fence_barrier_ok): everything the peer committed before the fence is delivered to B;
 * - a peer's sender holds at the fence until the leader's cursor for B is at N or beyond
 *   (fence_may_pass): N was applied (or refused) on B, so nothing the peer committed after
 *   the fence reaches B before N.
 * It cannot deadlock while there is one leader: the leader's log holds no fences, a peer's no
 * statements. Each wait is bounded: it gives up after peer-timeout without an answer or any
 * progress (the peer's cursor for B, or the leader's, not moving), logs it and counts it.
 *
 * Owns the peers (their options as a sender_conf, each one's last status), the polls of
 * GET /api/peer/status on the engine's multi handle (every second, every 200 ms while a sender
 * waits) and the fence requests. Loop thread only. */
#include "replay/replay_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/name.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_POLL_MS 1000
#define PEER_POLL_WAITING_MS 200
#define PEER_DOWN_MS 3000 /* no answer for this long: not counted for the leader */
#define PEER_ANSWER_MAX (256 * 1024)
#define PEER_BACKENDS_MAX 64
#define FENCE_FAILED_RING 32

struct peer_backend {
    char name[REPLAY_NAME_MAX + 1];
    uint64_t cursor, lag_records, oldest_unacked_ns;
    uint64_t fence_wait_seq, fence_passed_seq;
    char fence_origin[REPLAY_NAME_MAX + 1], fence_passed_origin[REPLAY_NAME_MAX + 1];
};

struct peer {
    struct peer *next;
    struct replay *r;
    struct sender_conf *conf;
    int up, polled, polling;
    uint64_t last_ok_ms, last_ok_ns;
    struct buf answer;
    long status;
    struct peer_backend bk[PEER_BACKENDS_MAX];
    size_t n_bk;
    uint64_t failed[FENCE_FAILED_RING]; /* statements whose fence this peer did not commit */
    size_t failed_next;
    uint64_t polls_failed_total, fences_failed_total, barrier_timeouts_total;
};

/* A fence request in flight. */
struct fence_call {
    struct peer *p;
    uint64_t seq;
    long status;
};

/* ---- the fence record in a sender's stream ---------------------------------------------- */

/* "-- fence origin=R statement=N": R and N, or 0 when the body is not one. */
static int fence_parse(const char *body, size_t len, char *origin, size_t cap, uint64_t *seq)
{
    char text[160];
    if (len >= sizeof(text))
        return 0;
    memcpy(text, body, len);
    text[len] = '\0';
    char name[REPLAY_NAME_MAX + 1];
    unsigned long long n = 0;
    if (sscanf(text, "-- fence origin=%64[A-Za-z0-9_.-] statement=%llu", name, &n) != 2)
        return 0;
    snprintf(origin, cap, "%s", name);
    *seq = n;
    return 1;
}

struct batch *fence_batch(const struct wal_record *rec, uint64_t prev_end)
{
    struct batch *b = statement_batch(rec, prev_end);
    b->stmt = 0;
    b->fence = 1;
    if (!fence_parse(rec->body, rec->body_len, b->fence_origin, sizeof(b->fence_origin),
                     &b->fence_stmt)) {
        log_warn("event=fence_unreadable seq=%" PRIu64 " action=passed", rec->seq);
        b->fence_origin[0] = '\0';
        b->fence_stmt = 0;
    }
    return b;
}

static struct peer *peer_find(struct replay *r, const char *name)
{
    for (struct peer *p = r->peers; p != NULL; p = p->next)
        if (strcmp(p->conf->name, name) == 0)
            return p;
    return NULL;
}

static const struct peer_backend *peer_backend(const struct peer *p, const char *name)
{
    for (size_t i = 0; i < p->n_bk; i++)
        if (strcmp(p->bk[i].name, name) == 0)
            return &p->bk[i];
    return NULL;
}

static int fence_failed(const struct peer *p, uint64_t seq)
{
    for (size_t i = 0; i < FENCE_FAILED_RING; i++)
        if (p->failed[i] == seq)
            return 1;
    return 0;
}

/* Start or continue the wait of 's' for record 'seq' (a fence: for the origin's statement
 * 'stmt'); 'mark' is the progress figure. 1 when the wait timed out. */
static int wait_step(struct sender *s, uint64_t seq, int fence, uint64_t stmt, uint64_t mark)
{
    struct replay *r = s->r;
    uint64_t now = replay_now_ms(r);
    if (s->fw_seq != seq || s->fw_fence != fence) {
        s->fw_seq = seq;
        s->fw_fence = fence;
        s->fw_since_ms = s->fw_progress_ms = now;
        s->fw_mark = mark;
        if (fence) {
            /* The origin's statement, as fence_passed_seq: what peer_ready on the origin
             * compares with its own sequence (this log's own sequence of the fence is not). */
            s->st.fence_wait_seq = stmt;
        } else {
            s->st.barrier_wait_seq = seq;
            s->st.barrier_wait_since_ns = wal_now_ns();
        }
        if (r->peer_due_ms == 0 || r->peer_due_ms > now + PEER_POLL_WAITING_MS) {
            r->peer_due_ms = now + PEER_POLL_WAITING_MS; /* poll sooner */
            replay_rearm(r);
        }
        return 0;
    }
    if (mark != s->fw_mark) {
        s->fw_mark = mark;
        s->fw_progress_ms = now;
    }
    return now - s->fw_progress_ms >= r->peer_timeout_ms;
}

static void wait_end(struct sender *s)
{
    s->fw_seq = 0;
    s->st.fence_wait_seq = 0;
    s->st.fence_origin[0] = '\0';
    s->st.barrier_wait_seq = 0;
    s->st.barrier_wait_since_ns = 0;
}

int fence_may_pass(struct sender *s, struct batch *b)
{
    struct replay *r = s->r;
    const char *me = s->conf->name;
    struct peer *p = b->fence_origin[0] != '\0' ? peer_find(r, b->fence_origin) : NULL;
    int pass = s->conf->ephemeral || p == NULL; /* an origin we do not know cannot be waited for */
    const struct peer_backend *pb = p != NULL ? peer_backend(p, me) : NULL;
    if (!pass && pb == NULL && p->polled && p->up)
        pass = 1; /* the origin does not feed this backend: nothing to order */
    if (!pass && pb != NULL && pb->cursor >= b->fence_stmt)
        pass = 1;
    if (!pass) {
        snprintf(s->st.fence_origin, sizeof(s->st.fence_origin), "%s", b->fence_origin);
        if (!wait_step(s, b->segs[0].seq, 1, b->fence_stmt, pb != NULL ? pb->cursor : 0))
            return 0;
        s->st.fence_timeouts_total++;
        log_warn("event=peer_fence_timeout backend=%s seq=%" PRIu64 " origin=%s statement=%" PRIu64
                 " waited_ms=%" PRIu64 " action=passed",
                 me, b->segs[0].seq, b->fence_origin, b->fence_stmt,
                 replay_now_ms(r) - s->fw_since_ms);
    }
    wait_end(s);
    s->st.fence_passed_seq = b->fence_stmt;
    snprintf(s->st.fence_passed_origin, sizeof(s->st.fence_passed_origin), "%s", b->fence_origin);
    return 1;
}

/* Whether peer 'p' is where statement 'seq' needs it on backend 'name'. */
static int peer_ready(const struct replay *r, const struct peer *p, const char *name, uint64_t seq,
                      uint64_t *mark)
{
    if (fence_failed(p, seq))
        return 1; /* it has no fence for it: nothing to wait for */
    const struct peer_backend *pb = peer_backend(p, name);
    if (pb == NULL)
        return p->polled && p->up; /* it does not feed this backend */
    *mark += pb->cursor;
    return (strcmp(pb->fence_origin, r->self) == 0 && pb->fence_wait_seq >= seq) ||
           (strcmp(pb->fence_passed_origin, r->self) == 0 && pb->fence_passed_seq >= seq);
}

int fence_barrier_ok(struct sender *s, struct batch *b)
{
    struct replay *r = s->r;
    if (r->peers == NULL || s->conf->ephemeral)
        return 1;
    uint64_t seq = b->segs[0].seq;
    uint64_t mark = 0;
    int ok = 1;
    for (struct peer *p = r->peers; p != NULL; p = p->next)
        if (!peer_ready(r, p, s->conf->name, seq, &mark))
            ok = 0;
    if (!ok && !wait_step(s, seq, 0, 0, mark))
        return 0;
    if (!ok) {
        s->st.barrier_timeouts_total++;
        for (struct peer *p = r->peers; p != NULL; p = p->next) {
            uint64_t m = 0;
            if (peer_ready(r, p, s->conf->name, seq, &m))
                continue;
            p->barrier_timeouts_total++;
            log_warn("event=peer_barrier_timeout backend=%s seq=%" PRIu64 " peer=%s"
                     " waited_ms=%" PRIu64 " action=sent",
                     s->conf->name, seq, p->conf->name, replay_now_ms(r) - s->fw_since_ms);
        }
    }
    wait_end(s);
    return 1;
}

/* ---- polling the peers ------------------------------------------------------------------ */

/* The unsigned number after "\"key\":" in [p, end), or 0. */
static uint64_t json_u64(const char *p, const char *end, const char *key)
{
    char k[48];
    int n = snprintf(k, sizeof(k), "\"%s\":", key);
    const char *at = memmem(p, (size_t)(end - p), k, (size_t)n);
    if (at == NULL)
        return 0;
    return strtoull(at + n, NULL, 10);
}

static int char_ok(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

/* The name (of [A-Za-z0-9_.-]) after "\"key\":\"" in [p, end), or "". */
static void json_name(const char *p, const char *end, const char *key, char *out, size_t cap)
{
    char k[48];
    int n = snprintf(k, sizeof(k), "\"%s\":\"", key);
    out[0] = '\0';
    const char *at = memmem(p, (size_t)(end - p), k, (size_t)n);
    if (at == NULL)
        return;
    at += n;
    size_t i = 0;
    while (at < end && *at != '"' && i + 1 < cap && char_ok((unsigned char)*at))
        out[i++] = *at++;
    out[i] = '\0';
}

/* Our own /api/peer/status answer (relay/peer.c): {"name":..,"backends":[{..},..]}. Each
 * backend object is flat, so its end is the next '}'. */
static void parse_status(struct peer *p)
{
    const char *d = p->answer.data;
    const char *end = d + p->answer.len;
    const char *at = memmem(d, p->answer.len, "\"backends\":[", 12);
    p->n_bk = 0;
    while (at != NULL && p->n_bk < PEER_BACKENDS_MAX) {
        const char *o = memchr(at, '{', (size_t)(end - at));
        if (o == NULL)
            break;
        const char *c = memchr(o, '}', (size_t)(end - o));
        if (c == NULL)
            break;
        struct peer_backend *b = &p->bk[p->n_bk];
        memset(b, 0, sizeof(*b));
        json_name(o, c, "name", b->name, sizeof(b->name));
        b->cursor = json_u64(o, c, "cursor");
        b->lag_records = json_u64(o, c, "lag_records");
        b->oldest_unacked_ns = json_u64(o, c, "oldest_unacked_ns");
        b->fence_wait_seq = json_u64(o, c, "fence_wait_seq");
        b->fence_passed_seq = json_u64(o, c, "fence_passed_seq");
        json_name(o, c, "fence_origin", b->fence_origin, sizeof(b->fence_origin));
        json_name(o, c, "fence_passed_origin", b->fence_passed_origin,
                  sizeof(b->fence_passed_origin));
        if (b->name[0] != '\0')
            p->n_bk++;
        at = c + 1;
    }
}

static void poll_head(void *arg, long status, const char *headers, size_t len)
{
    struct peer *p = arg;
    (void)headers;
    (void)len;
    p->status = status;
}

static int poll_data(void *arg, const char *d, size_t len)
{
    struct peer *p = arg;
    if (p->answer.len + len > PEER_ANSWER_MAX)
        return -1;
    buf_append(&p->answer, d, len);
    return 0;
}

static void kick_waiting(struct replay *r)
{
    if (r->stopping)
        return;
    for (struct sender *s = r->senders; s != NULL; s = s->next)
        if (s->fw_seq != 0)
            sender_pump(s);
}

static void poll_done(void *arg, int rc, const char *err)
{
    struct peer *p = arg;
    struct replay *r = p->r;
    p->polling = 0;
    uint64_t now = replay_now_ms(r);
    if (rc == 0 && p->status == 200) {
        parse_status(p);
        if (!p->up)
            log_info("event=peer_up peer=%s", p->conf->name);
        p->up = p->polled = 1;
        p->last_ok_ms = now;
        p->last_ok_ns = wal_now_ns();
    } else {
        p->polls_failed_total++;
        if (p->up && (p->last_ok_ms == 0 || now - p->last_ok_ms >= PEER_DOWN_MS)) {
            log_warn("event=peer_down peer=%s http=%ld err=\"%s\"", p->conf->name,
                     rc == 0 ? p->status : (long)rc, err != NULL ? err : "");
            p->up = 0;
        }
        if (p->last_ok_ms == 0)
            p->up = 0;
    }
    buf_clear(&p->answer);
    kick_waiting(r);
}

static void poll_peer(struct peer *p)
{
    static const char target[] = "/api/peer/status";
    struct replay_query_req q = {.backend = p->conf->name,
                                 .target = target,
                                 .target_len = sizeof(target) - 1,
                                 .headers = "",
                                 .headers_len = 0};
    static const struct replay_query_cbs cbs = {poll_head, poll_data, poll_done};
    struct replay_query *h = NULL;
    p->status = 0;
    buf_clear(&p->answer);
    if (query_start_conf(p->r, p->conf, &q, 1, &cbs, p, &h) == 0)
        p->polling = 1;
}

void fence_tick(struct replay *r)
{
    uint64_t now = replay_now_ms(r);
    int waiting = 0;
    for (struct sender *s = r->senders; s != NULL; s = s->next)
        waiting |= s->fw_seq != 0;
    r->peer_due_ms = now + (waiting ? PEER_POLL_WAITING_MS : PEER_POLL_MS);
    for (struct peer *p = r->peers; p != NULL; p = p->next)
        if (!p->polling)
            poll_peer(p);
    kick_waiting(r); /* the timeouts are checked there */
}

/* ---- fence requests ----------------------------------------------------------------------- */

static void fence_head(void *arg, long status, const char *headers, size_t len)
{
    struct fence_call *f = arg;
    (void)headers;
    (void)len;
    f->status = status;
}

static int fence_data(void *arg, const char *d, size_t len)
{
    (void)arg;
    (void)d;
    (void)len;
    return 0;
}

static void fence_done(void *arg, int rc, const char *err)
{
    struct fence_call *f = arg;
    struct peer *p = f->p;
    if (rc == 0 && f->status == 200) {
        log_info("event=peer_fenced peer=%s statement=%" PRIu64, p->conf->name, f->seq);
    } else {
        /* Not waited for at this statement: its writes may land on either side of it. */
        p->fences_failed_total++;
        p->failed[p->failed_next++ % FENCE_FAILED_RING] = f->seq;
        log_warn("event=peer_fence_failed peer=%s statement=%" PRIu64 " http=%ld err=\"%s\"",
                 p->conf->name, f->seq, rc == 0 ? f->status : (long)rc, err != NULL ? err : "");
        kick_waiting(p->r);
    }
    free(f);
}

void replay_peer_fence(struct replay *r, uint64_t seq)
{
    for (struct peer *p = r->peers; p != NULL; p = p->next) {
        char target[200];
        int n = snprintf(target, sizeof(target), "/api/peer/fence?origin=%s&seq=%" PRIu64, r->self,
                         seq);
        struct replay_query_req q = {.backend = p->conf->name,
                                     .post = 1,
                                     .target = target,
                                     .target_len = (size_t)n,
                                     .headers = "",
                                     .headers_len = 0,
                                     .body = "",
                                     .body_len = 0};
        static const struct replay_query_cbs cbs = {fence_head, fence_data, fence_done};
        struct fence_call *f = xcalloc(1, sizeof(*f));
        f->p = p;
        f->seq = seq;
        struct replay_query *h = NULL;
        if (query_start_conf(r, p->conf, &q, 1, &cbs, f, &h) != 0)
            fence_done(f, 503, "the relay is stopping");
    }
}

/* ---- the API -------------------------------------------------------------------------------- */

int replay_set_peers(struct replay *r, const char *self, const struct replay_peer_opts *o,
                     size_t n, uint64_t timeout_ms)
{
    if (r->stopping)
        return IWR_ESTOPPED;
    if (r->peers != NULL || !name_valid(self))
        return IWR_EINVAL; /* set once, at start */
    for (size_t i = 0; i < n; i++)
        if (!name_valid(o[i].name) || !replay_url_valid(o[i].url))
            return IWR_EINVAL;
    snprintf(r->self, sizeof(r->self), "%s", self);
    r->peer_timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    struct peer **tail = &r->peers;
    for (size_t i = 0; i < n; i++) {
        struct replay_backend_opts b;
        replay_backend_opts_defaults(&b);
        b.name = o[i].name;
        b.url = o[i].url;
        b.username = o[i].username;
        b.password = o[i].password;
        b.ca_file = o[i].ca_file;
        /* A fence or a poll that takes longer than the barrier's own bound is of no use. */
        b.timeout_ms = r->peer_timeout_ms < 10000 ? r->peer_timeout_ms : 10000;
        struct peer *p = xcalloc(1, sizeof(*p));
        p->r = r;
        p->conf = sender_conf_new(&b);
        p->up = 1; /* until a first poll fails: a relay starting does not take the lead */
        buf_init(&p->answer);
        *tail = p;
        tail = &p->next;
    }
    if (n > 0) {
        r->peer_due_ms = replay_now_ms(r) + 1;
        replay_rearm(r);
    }
    return 0;
}

const char *replay_peer_leader(struct replay *r)
{
    const char *best = NULL;
    uint64_t now = replay_now_ms(r);
    for (struct peer *p = r->peers; p != NULL; p = p->next) {
        if (p->up && p->last_ok_ms != 0 && now - p->last_ok_ms >= PEER_DOWN_MS)
            p->up = 0; /* its polls hang */
        if (p->up && strcmp(p->conf->name, r->self) < 0 &&
            (best == NULL || strcmp(p->conf->name, best) < 0))
            best = p->conf->name;
    }
    return best;
}

int replay_peer_query(struct replay *r, const char *peer, const struct replay_query_req *q,
                      const struct replay_query_cbs *cb, void *arg, struct replay_query **out)
{
    struct peer *p = peer_find(r, peer);
    if (p == NULL)
        return IWR_ENOTFOUND;
    return query_start_conf(r, p->conf, q, 0, cb, arg, out);
}

void replay_peer_status(struct replay *r, struct replay_peer_status **out, size_t *n)
{
    size_t count = 0;
    for (struct peer *p = r->peers; p != NULL; p = p->next)
        count++;
    *n = count;
    *out = count > 0 ? xcalloc(count, sizeof(**out)) : NULL;
    size_t i = 0;
    for (struct peer *p = r->peers; p != NULL; p = p->next, i++) {
        struct replay_peer_status *st = &(*out)[i];
        snprintf(st->name, sizeof(st->name), "%s", p->conf->name);
        snprintf(st->url, sizeof(st->url), "%s", p->conf->display_url);
        st->up = p->up;
        st->last_ok_ns = p->last_ok_ns;
        st->polls_failed_total = p->polls_failed_total;
        st->fences_failed_total = p->fences_failed_total;
        st->barrier_timeouts_total = p->barrier_timeouts_total;
        for (size_t j = 0; j < p->n_bk; j++) {
            const struct peer_backend *b = &p->bk[j];
            if (b->lag_records > st->max_lag_records)
                st->max_lag_records = b->lag_records;
            if (b->oldest_unacked_ns != 0 &&
                (st->oldest_unacked_ns == 0 || b->oldest_unacked_ns < st->oldest_unacked_ns))
                st->oldest_unacked_ns = b->oldest_unacked_ns;
        }
    }
}

int replay_peer_pair_lag(struct replay *r, const char *a, const char *b, uint64_t *lag,
                         uint64_t *oldest_ns)
{
    int unknown = 0;
    *lag = 0;
    *oldest_ns = 0;
    for (struct peer *p = r->peers; p != NULL; p = p->next) {
        if (!p->polled || !p->up) {
            unknown = 1;
            continue;
        }
        for (size_t j = 0; j < p->n_bk; j++) {
            const struct peer_backend *x = &p->bk[j];
            if (strcmp(x->name, a) != 0 && strcmp(x->name, b) != 0)
                continue;
            if (x->lag_records > *lag)
                *lag = x->lag_records;
            if (x->oldest_unacked_ns != 0 && (*oldest_ns == 0 || x->oldest_unacked_ns < *oldest_ns))
                *oldest_ns = x->oldest_unacked_ns;
        }
    }
    return unknown;
}

void fence_stop(struct replay *r)
{
    r->peer_due_ms = 0;
    while (r->peers != NULL) {
        struct peer *p = r->peers;
        r->peers = p->next;
        sender_conf_unref(p->conf);
        buf_deinit(&p->answer);
        free(p);
    }
}
