/* The replay engine: one CURLM driven by the libuv loop (curl_multi_socket_action with a
 * uv_poll per socket and one uv_timer), and the list of senders, one per backend. Owns the
 * multi handle, the timer, the socket watches and the senders. Loop thread only.
 *
 * The one timer serves everything timed: curl's timeout, the coalesced kick (1 ms after the
 * first replay_kick, so a burst of appends becomes one read), the 1 s tick (lag, drain rate,
 * give-up, idle re-read) and each sender's backoff. It is always re-armed for the earliest of
 * them, never below 1 ms: libuv before 1.48 runs a 0 ms timer started from a timer callback in
 * the same pass, which spins.
 *
 * Nothing here calls into curl from inside a curl callback: transfers are started from our
 * own callbacks, and a transfer that cannot be added is finished from the next timer pass. */
#include "replay/replay_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 1000

struct watch { /* one per socket curl asked us to watch */
    uv_poll_t poll;
    curl_socket_t fd;
    struct replay *rp;
    struct watch *next, **pprev;
};

static void on_timer(uv_timer_t *t);

uint64_t replay_now_ms(struct replay *r)
{
    return uv_now(r->loop);
}

uint64_t replay_random(struct replay *r)
{
    /* xorshift64*: jitter only, nothing secret. */
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return r->rng * 2685821657736338717ull;
}

static void maybe_finish_stop(struct replay *r)
{
    if (!r->stopping || r->done_called || r->handles_open > 0 || r->senders != NULL ||
        r->retired != NULL)
        return;
    r->done_called = 1;
    if (r->done != NULL)
        r->done(r->done_arg);
}

void replay_reap_retired(struct replay *r)
{
    struct sender **pp = &r->retired;
    while (*pp != NULL) {
        struct sender *s = *pp;
        if (sender_idle(s)) {
            *pp = s->next;
            sender_free(s);
        } else {
            pp = &s->next;
        }
    }
    maybe_finish_stop(r);
}

void replay_rearm(struct replay *r)
{
    if (r->stopping)
        return;
    uint64_t due = UINT64_MAX;
    if (r->curl_due_ms != 0 && r->curl_due_ms < due)
        due = r->curl_due_ms;
    if (r->kick_due_ms != 0 && r->kick_due_ms < due)
        due = r->kick_due_ms;
    if (r->tick_due_ms != 0 && r->tick_due_ms < due)
        due = r->tick_due_ms;
    if (r->peer_due_ms != 0 && r->peer_due_ms < due)
        due = r->peer_due_ms;
    for (struct sender *s = r->senders; s != NULL; s = s->next)
        if (s->due_ms != 0 && s->due_ms < due)
            due = s->due_ms;
    if (due == UINT64_MAX) {
        uv_timer_stop(&r->timer);
        return;
    }
    uint64_t now = uv_now(r->loop);
    uv_timer_start(&r->timer, on_timer, due > now ? due - now : 1, 0);
}

/* ---- socket watches ----------------------------------------------------------------------- */

static void watch_closed(uv_handle_t *h)
{
    struct watch *w = h->data;
    struct replay *r = w->rp;
    *w->pprev = w->next;
    if (w->next != NULL)
        w->next->pprev = w->pprev;
    free(w);
    r->handles_open--;
    maybe_finish_stop(r);
}

static void watch_close(struct watch *w)
{
    if (uv_is_closing((uv_handle_t *)&w->poll))
        return;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, watch_closed);
}

static void reap(struct replay *r, CURLMcode mc);

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct watch *w = h->data;
    struct replay *r = w->rp;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        flags |= (events & UV_READABLE) ? CURL_CSELECT_IN : 0;
        flags |= (events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0;
    }
    int running = 0;
    /* 'w' may be closed (CURL_POLL_REMOVE) inside this call: do not touch it afterwards. */
    CURLMcode mc = curl_multi_socket_action(r->multi, w->fd, flags, &running);
    reap(r, mc);
}

static struct watch *watch_new(struct replay *r, curl_socket_t fd)
{
    struct watch *w = xcalloc(1, sizeof(*w));
    if (uv_poll_init_socket(r->loop, &w->poll, fd) != 0) {
        free(w);
        return NULL;
    }
    w->poll.data = w;
    w->fd = fd;
    w->rp = r;
    w->next = r->watches;
    if (w->next != NULL)
        w->next->pprev = &w->next;
    w->pprev = &r->watches;
    r->watches = w;
    r->handles_open++;
    curl_multi_assign(r->multi, fd, w);
    return w;
}

static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
    struct replay *r = arg;
    struct watch *w = sockp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (w != NULL) /* stop before curl closes fd; freed in watch_closed */
            watch_close(w);
        return 0;
    }
    if (w == NULL) {
        w = watch_new(r, fd);
        if (w == NULL)
            return -1; /* curl then fails the transfers on this multi */
    }
    int ev = (what & CURL_POLL_IN) ? UV_READABLE : 0;
    ev |= (what & CURL_POLL_OUT) ? UV_WRITABLE : 0;
    return uv_poll_start(&w->poll, ev, on_poll) == 0 ? 0 : -1;
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *arg)
{
    struct replay *r = arg;
    (void)m;
    if (timeout_ms < 0)
        r->curl_due_ms = 0;
    else
        r->curl_due_ms = uv_now(r->loop) + (uint64_t)(timeout_ms < 1 ? 1 : timeout_ms);
    replay_rearm(r);
    return 0;
}

static CURLM *multi_new(struct replay *r)
{
    CURLM *m = curl_multi_init();
    IWR_ASSERT(m != NULL); /* only fails out of memory, like xmalloc */
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, r);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, r);
    return m;
}

/* Keep enough idle connections for every sender's window and its /ping. */
static void multi_size(struct replay *r)
{
    long n = 4;
    for (struct sender *s = r->senders; s != NULL; s = s->next)
        n += (long)s->conf->max_in_flight + 1;
    curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, n);
}

/* ---- transfers ---------------------------------------------------------------------------- */

static void fail_later(struct replay *r, struct request *q)
{
    q->failed = 1;
    q->fail_next = r->failed;
    r->failed = q;
    if (r->kick_due_ms == 0)
        r->kick_due_ms = uv_now(r->loop) + 1;
    replay_rearm(r);
}

void replay_add_request(struct replay *r, struct request *q)
{
    CURLMcode mc = r->multi != NULL ? curl_multi_add_handle(r->multi, q->easy) : CURLM_BAD_HANDLE;
    if (mc == CURLM_OK) {
        q->added = 1;
        return;
    }
    log_error("event=curl_add_failed backend=%s err=\"%s\"", q->conf->name,
              curl_multi_strerror(mc));
    fail_later(r, q);
}

void replay_detach_request(struct replay *r, struct request *q)
{
    if (q->added && r->multi != NULL)
        curl_multi_remove_handle(r->multi, q->easy);
    q->added = 0;
    if (q->failed) {
        struct request **pp = &r->failed;
        while (*pp != q)
            pp = &(*pp)->fail_next;
        *pp = q->fail_next;
        q->failed = 0;
    }
}

void replay_abort_request(struct replay *r, struct request *q)
{
    replay_detach_request(r, q);
    request_free(q);
}

/* A CURLMcode other than OK leaves the multi handle unusable: take every transfer off it, make
 * a new one, and fail those transfers (their batches are still in the log and resent). */
static void fail_list(struct replay *r, struct request *list)
{
    for (struct request *q = list; q != NULL; q = q->next) {
        if (!q->added)
            continue;
        curl_multi_remove_handle(r->multi, q->easy);
        q->added = 0;
        fail_later(r, q);
    }
}

static void multi_rebuild(struct replay *r)
{
    for (struct sender *s = r->senders; s != NULL; s = s->next)
        fail_list(r, s->reqs);
    fail_list(r, r->queries);
    curl_multi_cleanup(r->multi);
    for (struct watch *w = r->watches; w != NULL; w = w->next)
        watch_close(w);
    r->curl_due_ms = 0;
    r->multi = multi_new(r);
    multi_size(r);
}

static void reap(struct replay *r, CURLMcode mc)
{
    if (mc != CURLM_OK && mc != CURLM_BAD_SOCKET) {
        /* BAD_SOCKET is an event for a socket curl already let go of: harmless. */
        log_error("event=curl_multi_failed err=\"%s\" action=rebuild", curl_multi_strerror(mc));
        multi_rebuild(r);
        return;
    }
    CURLMsg *m;
    int left;
    while (r->multi != NULL && (m = curl_multi_info_read(r->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        /* Copy what we need: the message dies with curl_multi_remove_handle. */
        CURL *e = m->easy_handle;
        CURLcode result = m->data.result;
        struct request *q = NULL;
        long http = 0;
        curl_off_t us = 0;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&q);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
        curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us);
        curl_multi_remove_handle(r->multi, e);
        q->added = 0;
        request_done(q, result, http, us > 0 ? (uint64_t)us : 0);
    }
}

static void on_timer(uv_timer_t *t)
{
    struct replay *r = t->data;
    uint64_t now = uv_now(r->loop);
    if (r->curl_due_ms != 0 && r->curl_due_ms <= now && r->multi != NULL) {
        r->curl_due_ms = 0;
        int running = 0;
        CURLMcode mc = curl_multi_socket_action(r->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        reap(r, mc);
    }
    if (r->kick_due_ms != 0 && r->kick_due_ms <= now) {
        r->kick_due_ms = 0;
        while (r->failed != NULL) {
            struct request *q = r->failed;
            r->failed = q->fail_next;
            q->failed = 0;
            snprintf(q->errbuf, sizeof(q->errbuf), "the transfer could not be started");
            request_done(q, CURLE_FAILED_INIT, 0, 0);
        }
        for (struct sender *s = r->senders; s != NULL; s = s->next)
            sender_kick(s);
    }
    if (r->tick_due_ms != 0 && r->tick_due_ms <= now) {
        r->tick_due_ms = now + TICK_MS;
        for (struct sender *s = r->senders; s != NULL; s = s->next)
            sender_tick(s);
    }
    for (struct sender *s = r->senders; s != NULL; s = s->next)
        if (s->due_ms != 0 && s->due_ms <= now)
            sender_due(s);
    if (r->peer_due_ms != 0 && r->peer_due_ms <= now)
        fence_tick(r);
    replay_rearm(r);
}

/* ---- the API ------------------------------------------------------------------------------ */

static void on_wal_commit(void *arg)
{
    replay_kick(arg);
}

int replay_new(struct replay **out, uv_loop_t *loop, struct wal *w)
{
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return -ENOMEM;
        curl_ready = 1;
    }
    struct replay *r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->w = w;
    r->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)r;
    if (r->rng == 0)
        r->rng = 1;
    int rc = uv_timer_init(loop, &r->timer);
    if (rc != 0) {
        free(r);
        return rc;
    }
    r->timer.data = r;
    r->handles_open = 1;
    r->multi = multi_new(r);
    wal_on_commit(w, on_wal_commit, r); /* new records: kick the senders */
    *out = r;
    return 0;
}

static int opts_valid(struct replay *r, const struct replay_backend_opts *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *u = b[i].url;
        if (b[i].name == NULL || !wal_name_valid(b[i].name) || u == NULL)
            return 0;
        if (b[i].ephemeral && (b[i].source == NULL || !wal_name_valid(b[i].source)))
            return 0;
        /* A running sender cannot change its kind: its position is stored or it is not. */
        for (struct sender *s = r->senders; s != NULL; s = s->next)
            if (strcmp(s->conf->name, b[i].name) == 0 && !s->conf->ephemeral != !b[i].ephemeral)
                return 0;
        if (!replay_url_valid(u))
            return 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(b[i].name, b[j].name) == 0)
                return 0;
    }
    return 1;
}

int replay_set_backends(struct replay *r, const struct replay_backend_opts *b, size_t n)
{
    if (r->stopping)
        return IWR_ESTOPPED;
    if (!opts_valid(r, b, n)) {
        log_error("event=replay_config_invalid reason=\"bad or duplicate backend name or URL\"");
        return IWR_EINVAL;
    }
    /* Stop the backends that are gone: they no longer hold the log back. */
    struct sender **pp = &r->senders;
    while (*pp != NULL) {
        struct sender *s = *pp;
        size_t i = 0;
        while (i < n && strcmp(b[i].name, s->conf->name) != 0)
            i++;
        if (i < n) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        sender_stop(s, 1);
        s->next = r->retired;
        r->retired = s;
    }
    for (size_t i = 0; i < n; i++) {
        struct sender_conf *c = sender_conf_new(&b[i]);
        if (c->insecure_skip_verify)
            log_warn("event=tls_verify_disabled backend=%s", c->name);
        struct sender *s = r->senders;
        while (s != NULL && strcmp(s->conf->name, c->name) != 0)
            s = s->next;
        if (s != NULL) {
            sender_reconfigure(s, c);
            sender_conf_unref(c);
            continue;
        }
        s = sender_new(r, c);
        /* Append: status lists backends in configuration order. */
        struct sender **tail = &r->senders;
        while (*tail != NULL)
            tail = &(*tail)->next;
        *tail = s;
        sender_start(s);
    }
    multi_size(r);
    if (r->senders != NULL && r->tick_due_ms == 0)
        r->tick_due_ms = uv_now(r->loop) + TICK_MS;
    replay_rearm(r);
    replay_reap_retired(r);
    return 0;
}

void replay_kick(struct replay *r)
{
    if (r->stopping)
        return;
    for (struct sender *s = r->senders; s != NULL; s = s->next)
        s->fill_wanted = 1;
    if (r->kick_due_ms == 0) {
        r->kick_due_ms = uv_now(r->loop) + 1;
        replay_rearm(r);
    }
}

void replay_status(struct replay *r, struct replay_backend_status **out, size_t *n)
{
    size_t count = 0;
    for (struct sender *s = r->senders; s != NULL; s = s->next)
        count++;
    *n = count;
    *out = NULL;
    if (count == 0)
        return;
    struct replay_backend_status *st = xcalloc(count, sizeof(*st));
    struct wal_counters wc;
    wal_counters_get(r->w, &wc);
    size_t i = 0;
    for (struct sender *s = r->senders; s != NULL; s = s->next)
        sender_status(s, wc.last_seq, &st[i++]);
    *out = st;
}

int replay_range_status(struct replay *r, const char *name, struct replay_range_status *out)
{
    for (struct sender *s = r->senders; s != NULL; s = s->next) {
        if (!s->conf->ephemeral || strcmp(s->conf->name, name) != 0)
            continue;
        *out = s->range;
        out->points = s->st.sent_points_total;
        out->batches = s->st.sent_batches_total;
        out->refused_lines = s->st.dead_letters_total;
        out->corrupt_records = s->st.corrupt_records_total;
        return 0;
    }
    return IWR_ENOTFOUND;
}

static void timer_closed(uv_handle_t *h)
{
    struct replay *r = h->data;
    r->handles_open--;
    maybe_finish_stop(r);
}

void replay_stop(struct replay *r, void (*done)(void *arg), void *arg)
{
    IWR_ASSERT(!r->stopping);
    r->done = done;
    r->done_arg = arg;
    /* Senders first: they take their transfers off the multi handle. */
    while (r->senders != NULL) {
        struct sender *s = r->senders;
        r->senders = s->next;
        sender_stop(s, 0);
        s->next = r->retired;
        r->retired = s;
    }
    query_abort_all(r);
    statement_stop(r);
    r->stopping = 1;
    fence_stop(r);
    wal_on_commit(r->w, NULL, NULL);
    IWR_ASSERT(r->failed == NULL); /* every failed transfer belonged to a sender or a query */
    /* Cleanup may still call on_curl_socket (CURL_POLL_REMOVE): the watches close there. */
    curl_multi_cleanup(r->multi);
    r->multi = NULL;
    for (struct watch *w = r->watches; w != NULL; w = w->next)
        watch_close(w);
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, timer_closed);
    replay_reap_retired(r);
}

void replay_free(struct replay *r)
{
    if (r == NULL)
        return;
    IWR_ASSERT(r->done_called);
    free(r);
}
