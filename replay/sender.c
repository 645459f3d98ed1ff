/* One backend's sender: reads the log after its cursor, keeps a window of batches, sends them
 * through the engine's multi handle, acts on each answer (replay_classify) and moves its
 * cursor in log order. Owns its reader, its batches, its requests and its options (shared with
 * the requests by reference). Loop thread only.
 *
 * States (enum sender_mode): STARTING until its cursor is found or created; UP sends; DOWN
 * (refused, timeouts, 5xx) sends nothing and probes /ping after a backoff; HOLD (401, 403, 404)
 * resends the first batch after a backoff; GIVEN_UP has forgotten its cursor and probes /ping
 * to resume at the end; STOPPED waits for its last log callbacks before it is freed.
 *
 * Ephemeral senders (influx-wal replay) run the same machine over a fixed range of the log:
 * their cursor lives in memory only (no wal_cursor_move or wal_cursor_forget), refused lines
 * go to a callback instead of the dead letters, and they never give up. Every difference is
 * behind conf->ephemeral.
 *
 * Invariants:
 * - The cursor only moves in log order: past the prefix of the window whose batches are done
 *   (acknowledged, or their refused lines stored as dead letters), with expect = the last value
 *   we know. At most one move is in flight.
 * - Dead letters are submitted before the move that passes their record, and the writer
 *   applies ops in order, so no refused line is ever lost between the two.
 * - No read transaction is held outside fill() and tick(): batches are copies.
 * - Memory is bounded by max_in_flight batches of batch_max_bytes (splitting only cuts them). */
#include "replay/replay_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define BACKOFF_START_MS 100
#define PING_TIMEOUT_MS 2000
/* Liveness: a backend not heard from for this long gets a /ping, so that /health and
 * influx_wal_backend_up follow a stop or a hang within a few seconds even when idle; and a
 * backend that is down is probed this often, whatever the write backoff has grown to. */
#define LIVENESS_MS 2000
#define PROBE_MS 1000
#define RATE_ALPHA 0.2 /* weight of the newest 1 s sample in the drain rate */

static void pump(struct sender *s);
static void fill(struct sender *s);
static void send_ping(struct sender *s);
static void start_at(struct sender *s, int latest);

/* ---- options ----------------------------------------------------------------------------------
 */

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

/* The URL without "user:password@", for status and logs. */
static char *strip_userinfo(const char *url)
{
    const char *scheme = strstr(url, "://");
    if (scheme == NULL)
        return xstrdup(url);
    const char *host = scheme + 3;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    if (at == NULL)
        return xstrdup(url);
    size_t head = (size_t)(host - url);
    char *out = xmalloc(strlen(url) + 1);
    memcpy(out, url, head);
    strcpy(out + head, at + 1);
    return out;
}

struct sender_conf *sender_conf_new(const struct replay_backend_opts *o)
{
    struct replay_backend_opts d; /* zero numbers take the defaults */
    replay_backend_opts_defaults(&d);
    struct sender_conf *c = xcalloc(1, sizeof(*c));
    c->refs = 1;
    c->name = xstrdup(o->name);
    size_t n = strlen(o->url);
    while (n > 0 && o->url[n - 1] == '/')
        n--;
    c->url = xstrndup(o->url, n);
    c->display_url = strip_userinfo(c->url);
    c->username = dup_or_null(o->username);
    c->password = o->password != NULL ? xstrdup(o->password) : NULL;
    c->token = dup_or_null(o->token);
    c->ca_file = dup_or_null(o->ca_file);
    c->insecure_skip_verify = o->insecure_skip_verify;
    c->gzip = o->gzip;
    c->create_database = o->create_database;
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : d.timeout_ms;
    c->connect_timeout_ms =
        o->connect_timeout_ms ? o->connect_timeout_ms : d.connect_timeout_ms;
    c->retry_max_delay_ms = o->retry_max_delay_ms ? o->retry_max_delay_ms : d.retry_max_delay_ms;
    if (c->retry_max_delay_ms < BACKOFF_START_MS)
        c->retry_max_delay_ms = BACKOFF_START_MS;
    c->give_up_after_ms = o->ephemeral ? 0 : o->give_up_after_ms;
    c->give_up_bytes = o->ephemeral ? 0 : o->give_up_bytes;
    c->batch_max_bytes = o->batch_max_bytes ? o->batch_max_bytes : d.batch_max_bytes;
    c->batch_max_points = o->batch_max_points ? o->batch_max_points : d.batch_max_points;
    c->max_in_flight = o->max_in_flight ? o->max_in_flight : d.max_in_flight;
    c->start = o->start;
    c->ephemeral = o->ephemeral;
    c->source = o->ephemeral && o->source != NULL ? xstrdup(o->source) : NULL;
    c->from_seq = o->from_seq;
    c->to_seq = o->to_seq;
    c->refused = o->refused;
    c->refused_arg = o->refused_arg;

    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: text/plain; charset=utf-8");
    /* No "Expect: 100-continue" round trip before large bodies. */
    h = curl_slist_append(h, "Expect:");
    if (c->gzip)
        h = curl_slist_append(h, "Content-Encoding: gzip");
    struct curl_slist *ctl = NULL;
    if (c->token != NULL) {
        size_t len = strlen(c->token) + 32;
        char *line = xmalloc(len);
        snprintf(line, len, "Authorization: Token %s", c->token);
        h = curl_slist_append(h, line);
        ctl = curl_slist_append(ctl, line);
        free(line);
    }
    IWR_ASSERT(h != NULL && (c->token == NULL || ctl != NULL)); /* only fails out of memory */
    c->write_headers = h;
    c->ctl_headers = ctl;
    return c;
}

void sender_conf_unref(struct sender_conf *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    free(c->name);
    free(c->url);
    free(c->display_url);
    free(c->username);
    if (c->password != NULL) {
        memset(c->password, 0, strlen(c->password));
        free(c->password);
    }
    if (c->token != NULL) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    free(c->ca_file);
    free(c->source);
    curl_slist_free_all(c->write_headers);
    curl_slist_free_all(c->ctl_headers);
    free(c);
}

/* ---- status helpers ---------------------------------------------------------------------------
 */

/* Replace every occurrence of 'secret' in 'text' by "***": an answer or a curl message must
 * never carry a credential into the status or the logs. */
static void scrub(char *text, const char *secret)
{
    if (secret == NULL || strlen(secret) < 3)
        return;
    size_t n = strlen(secret);
    char *p;
    while ((p = strstr(text, secret)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + n, strlen(p + n) + 1);
    }
}

__attribute__((format(printf, 2, 3))) static void set_error(struct sender *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->st.last_error, sizeof(s->st.last_error), fmt, ap);
    va_end(ap);
    for (char *p = s->st.last_error; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    scrub(s->st.last_error, s->conf->password);
    scrub(s->st.last_error, s->conf->token);
}

/* Describe a failed request in last_error. */
static void describe(struct sender *s, const struct request *q, CURLcode result, long http)
{
    const char *what = q->kind == REQ_PING ? "ping" : q->kind == REQ_CREATE_DB ? "create" : "write";
    if (result != CURLE_OK)
        set_error(s, "%s: curl %d: %s", what, (int)result,
                  q->errbuf[0] ? q->errbuf : curl_easy_strerror(result));
    else
        set_error(s, "%s: http %ld: %.*s", what, http, (int)(q->resp.len > 200 ? 200 : q->resp.len),
                  q->resp.data ? q->resp.data : "");
}

static void count_code(struct sender *s, long code)
{
    size_t i;
    for (i = 0; i < STATUS_CODES; i++) {
        if (s->st.code_counts[i] > 0 && s->st.codes[i] == code)
            break;
        if (s->st.code_counts[i] == 0) {
            s->st.codes[i] = code;
            break;
        }
    }
    if (i == STATUS_CODES) /* every slot taken: count it with its class */
        for (i = 0; i < STATUS_CODES && s->st.codes[i] / 100 != code / 100; i++)
            ;
    if (i < STATUS_CODES)
        s->st.code_counts[i]++;
}

static void observe_duration(struct sender *s, uint64_t us)
{
    double sec = (double)us / 1e6;
    size_t i = 0;
    while (i < 12 && sec > status_duration_bounds[i])
        i++;
    if (i < 12)
        s->st.duration_buckets[i]++;
    s->st.duration_sum += sec;
    s->st.duration_count++;
}

static void quote(char *out, size_t cap, const char *s)
{
    log_quote(out, cap, s, strlen(s));
}

/* ---- the window -------------------------------------------------------------------------------
 */

static void queue_push(struct sender *s, struct batch *b)
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

static void request_unlink(struct request *q)
{
    struct request **pp = &q->s->reqs;
    while (*pp != NULL && *pp != q)
        pp = &(*pp)->next;
    if (*pp == q)
        *pp = q->next;
}

void request_free(struct request *q)
{
    request_unlink(q);
    if (q->easy != NULL)
        curl_easy_cleanup(q->easy);
    buf_deinit(&q->resp);
    sender_conf_unref(q->conf);
    free(q);
}

/* Abort the transfers of 'kind' (-1: all). */
static void abort_requests(struct sender *s, int kind)
{
    struct request *q = s->reqs;
    while (q != NULL) {
        struct request *next = q->next;
        if (kind < 0 || (int)q->kind == kind) {
            if (q->kind == REQ_PING)
                s->ping_inflight = 0;
            if (q->kind == REQ_CREATE_DB)
                s->create_inflight = 0;
            replay_abort_request(s->r, q);
        }
        q = next;
    }
}

/* Start over from 'cursor': what is queued or in flight is dropped (resent if still after it). */
static void resync(struct sender *s, uint64_t cursor)
{
    abort_requests(s, REQ_WRITE);
    drop_batches(s);
    s->acked = s->target = s->read_seq = cursor;
    s->part_seq = 0;
    s->part_off = 0;
    s->move_blocked = 0;
    s->read_all = 0;
}

/* ---- retrying ---------------------------------------------------------------------------------
 */

static void schedule_backoff(struct sender *s)
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
        quote(url, sizeof(url), s->conf->display_url);
        quote(err, sizeof(err), s->st.last_error);
        log_warn("event=backend_down backend=%s url=%s err=%s", s->conf->name, url, err);
        s->mode = MODE_DOWN;
    }
    s->st.up = 0;
    if (s->st.down_since_ns == 0)
        s->st.down_since_ns = wal_now_ns();
    schedule_backoff(s);
}

static void send_create_db(struct sender *s, const char *db);

static void backend_hold(struct sender *s, long http, const char *db_missing)
{
    if (s->mode != MODE_HOLD || s->hold_code != http) {
        char url[300], err[300];
        quote(url, sizeof(url), s->conf->display_url);
        quote(err, sizeof(err), s->st.last_error);
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
    schedule_backoff(s);
}

/* ---- requests ---------------------------------------------------------------------------------
 */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct request *q = arg;
    size_t len = size * n;
    if (q->resp.len < REPLAY_RESP_MAX) {
        size_t take = REPLAY_RESP_MAX - q->resp.len;
        buf_append(&q->resp, p, len < take ? len : take);
    }
    return len; /* the rest is dropped, not an error */
}

static struct request *request_new(struct sender *s, enum req_kind kind, const char *url,
                                   uint64_t timeout_ms)
{
    struct sender_conf *c = s->conf;
    struct request *q = xcalloc(1, sizeof(*q));
    q->s = s;
    q->conf = c;
    c->refs++;
    q->kind = kind;
    buf_init(&q->resp);
    q->easy = curl_easy_init();
    IWR_ASSERT(q->easy != NULL); /* only fails out of memory, like xmalloc */
    CURL *e = q->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->username != NULL) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->password != NULL ? c->password : "");
    }
    if (c->ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, kind == REQ_WRITE ? c->write_headers : c->ctl_headers);
    q->next = s->reqs;
    s->reqs = q;
    return q;
}

static void send_batch(struct sender *s, struct batch *b)
{
    struct sender_conf *c = s->conf;
    struct buf url;
    buf_init(&url);
    batch_write_url(&url, c->url, b->db, b->rp, b->precision);
    buf_append(&url, "", 1);
    struct request *q = request_new(s, REQ_WRITE, url.data, c->timeout_ms);
    buf_deinit(&url);
    q->batch = b;
    b->state = BATCH_SENDING;
    s->sending++;
    const char *body = b->body.data;
    size_t len = b->body.len;
    if (c->gzip) {
        /* Only fails out of memory or beyond 4 GiB, and batches are far below that. */
        int zrc = b->gz != NULL ? 0 : batch_gzip(b->body.data, b->body.len, &b->gz, &b->gz_len);
        IWR_ASSERT(zrc == 0);
        body = b->gz;
        len = b->gz_len;
    }
    /* Borrowed, not copied: the batch outlives its request (it is freed only after the request
     * finished or was aborted). */
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, body);
    replay_add_request(s->r, q);
}

static void send_ping(struct sender *s)
{
    if (s->ping_inflight)
        return;
    struct buf url;
    buf_init(&url);
    buf_append_str(&url, s->conf->url);
    buf_append(&url, "/ping", 6);
    uint64_t t = s->conf->timeout_ms < PING_TIMEOUT_MS ? s->conf->timeout_ms : PING_TIMEOUT_MS;
    struct request *q = request_new(s, REQ_PING, url.data, t);
    buf_deinit(&url);
    s->ping_inflight = 1;
    replay_add_request(s->r, q);
}

static void send_create_db(struct sender *s, const char *db)
{
    struct buf url, form;
    buf_init(&url);
    buf_init(&form);
    buf_append_str(&url, s->conf->url);
    buf_append(&url, "/query", 7);
    batch_create_db_form(&form, db);
    struct request *q = request_new(s, REQ_CREATE_DB, url.data, s->conf->timeout_ms);
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
    curl_easy_setopt(q->easy, CURLOPT_COPYPOSTFIELDS, form.data);
    buf_deinit(&url);
    buf_deinit(&form);
    free(s->created_db);
    s->created_db = xstrdup(db);
    s->create_inflight = 1;
    log_info("event=create_database backend=%s db=%s", s->conf->name, db);
    replay_add_request(s->r, q);
}

/* Send the queued batches, in log order, up to the window. After a failure, only the first
 * goes (it is the probe), so a backend on hold does not get the whole window refused again. */
static void send_ready(struct sender *s)
{
    if (s->waiting || (s->mode != MODE_UP && s->mode != MODE_HOLD))
        return;
    size_t window = s->fails > 0 ? 1 : s->conf->max_in_flight;
    for (struct batch *b = s->head; b != NULL && s->sending < window; b = b->next)
        if (b->state == BATCH_QUEUED)
            send_batch(s, b);
}

/* ---- dead letters -----------------------------------------------------------------------------
 */

static void dead_done(void *arg, int rc, uint64_t id)
{
    struct batch *b = arg;
    struct sender *s = (struct sender *)b->owner;
    (void)id;
    s->wal_ops--;
    b->dead_pending--;
    if (rc != 0)
        b->dead_failed = rc;
    int settled = b->dead_pending == 0;
    if (settled && b->orphan) {
        batch_free(b);
    } else if (settled && b->dead_failed != 0) {
        log_warn("event=dead_letter_failed backend=%s seq=%" PRIu64 " err=\"%s\"", s->conf->name,
                 b->segs[0].seq, iwr_strerror(b->dead_failed));
        b->state = BATCH_DEAD_RETRY;
        if (!s->retired)
            schedule_backoff(s);
    } else if (settled) {
        char ans[300];
        log_quote(ans, sizeof(ans), b->answer, b->answer_len);
        log_warn("event=dead_letter backend=%s seq=%" PRIu64 " last_seq=%" PRIu64
                 " lines=%zu answer=%s",
                 s->conf->name, b->segs[0].seq, b->segs[b->n_segs - 1].seq, b->lines, ans);
        s->st.dead_letters_total += b->lines;
        b->state = BATCH_DONE;
    }
    if (s->retired) {
        replay_reap_retired(s->r);
        return;
    }
    if (settled)
        pump(s);
}

static void submit_dead(struct sender *s, struct batch *b)
{
    b->state = BATCH_DEAD;
    b->dead_failed = 0;
    b->dead_pending = b->n_segs;
    b->owner = s;
    for (size_t i = 0; i < b->n_segs; i++) {
        struct wal_record rec;
        batch_seg_record(b, i, &rec);
        s->wal_ops++;
        wal_dead_add(s->r->w, s->conf->name, &rec, b->answer, b->answer_len, dead_done, b);
    }
}

/* Ephemeral: hand the refused lines to the caller instead of the log; the batch is done. */
static void refuse(struct sender *s, struct batch *b)
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

static void dead_letter(struct sender *s, struct batch *b, long http, const struct request *q)
{
    struct buf a;
    buf_init(&a);
    buf_printf(&a, "%ld ", http);
    buf_append(&a, q->resp.data, q->resp.len);
    free(b->answer);
    b->answer_len = a.len;
    b->answer = buf_steal(&a);
    if (s->conf->ephemeral)
        refuse(s, b);
    else
        submit_dead(s, b);
}

static void split_batch(struct sender *s, struct batch *b)
{
    struct batch *first, *second;
    batch_split(b, &first, &second);
    log_debug("event=batch_split backend=%s seq=%" PRIu64 " lines=%zu", s->conf->name,
              b->segs[0].seq, b->lines);
    queue_replace(s, b, first, second);
    batch_free(b);
}

/* ---- the cursor -------------------------------------------------------------------------------
 */

static void move_done(void *arg, int rc, uint64_t seq)
{
    struct sender *s = arg;
    s->wal_ops--;
    s->move_pending = 0;
    if (s->retired) {
        replay_reap_retired(s->r);
        return;
    }
    /* Given up (or starting over) meanwhile: the forget or create after this op decides. */
    if (s->mode == MODE_GIVEN_UP || s->mode == MODE_STARTING)
        return;
    switch (rc) {
    case 0:
        s->acked = seq;
        break;
    case IWR_ECONFLICT:
        log_info("event=cursor_moved_elsewhere backend=%s expected=%" PRIu64 " found=%" PRIu64,
                 s->conf->name, s->acked, seq);
        resync(s, seq);
        break;
    case IWR_EINVAL:
        log_error("event=cursor_move_refused backend=%s to=%" PRIu64 " stored=%" PRIu64,
                  s->conf->name, s->target, seq);
        resync(s, seq);
        break;
    case IWR_ENOTFOUND:
        log_warn("event=cursor_missing backend=%s action=recreate", s->conf->name);
        abort_requests(s, REQ_WRITE);
        drop_batches(s);
        start_at(s, 0);
        return;
    case IWR_ESTOPPED:
        return;
    default:
        log_warn("event=cursor_move_failed backend=%s to=%" PRIu64 " err=\"%s\"", s->conf->name,
                 s->target, iwr_strerror(rc));
        s->move_blocked = 1;
        schedule_backoff(s);
        return;
    }
    pump(s);
}

/* Ephemeral: the position is ours alone, so it moves at once; done at the range's end. */
static void range_advance(struct sender *s)
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
        batch_free(b);
    }
    /* An empty window: everything read (sent or skipped) is done. */
    if (s->head == NULL && s->read_seq > t)
        t = s->read_seq;
    s->target = t;
    if (s->conf->ephemeral) {
        range_advance(s);
        return;
    }
    if (s->move_pending || s->move_blocked || s->target <= s->acked)
        return;
    s->move_pending = 1;
    s->wal_ops++;
    wal_cursor_move(s->r->w, s->conf->name, s->acked, s->target, move_done, s);
}

/* ---- reading ----------------------------------------------------------------------------------
 */

static int str_eq(const char *s, const char *p, size_t n)
{
    return strlen(s) == n && memcmp(s, p, n) == 0;
}

/* Read records after the cursor into batches until the window is full or the log ends. Also
 * with a full window, and on hold, before anything queued is (re)sent: look at the cursor. */
static void fill(struct sender *s)
{
    struct sender_conf *c = s->conf;
    if (s->mode != MODE_UP && s->mode != MODE_HOLD)
        return;
    int rc = wal_reader_begin(s->reader);
    if (rc != 0) {
        log_warn("event=read_failed backend=%s err=\"%s\"", c->name, iwr_strerror(rc));
        schedule_backoff(s);
        return;
    }
    /* Re-read the cursor in this transaction: the CLI may have moved it (rewind, skip), and
     * batches read before that, queued while the backend was down, must not go out. With a
     * move of ours in flight the stored value is in between, so check later. An ephemeral
     * sender has no stored cursor. */
    uint64_t stored = 0;
    rc = c->ephemeral ? IWR_ENOTFOUND : wal_reader_cursor(s->reader, c->name, &stored);
    if (!c->ephemeral && rc == IWR_ENOTFOUND && !s->move_pending) {
        wal_reader_end(s->reader);
        log_warn("event=cursor_missing backend=%s action=recreate", c->name);
        abort_requests(s, REQ_WRITE);
        drop_batches(s);
        start_at(s, 0);
        return;
    }
    if (rc == 0 && !s->move_pending && stored != s->acked) {
        log_info("event=cursor_moved_elsewhere backend=%s expected=%" PRIu64 " found=%" PRIu64,
                 c->name, s->acked, stored);
        resync(s, stored);
    }
    if (s->mode != MODE_UP || s->n_batches >= c->max_in_flight) {
        wal_reader_end(s->reader);
        return;
    }
    s->fill_wanted = 0;
    uint64_t first = 0, last = 0, high = 0;
    if (wal_reader_bounds(s->reader, &first, &last, &high) == 0 && high > s->high_seen)
        s->high_seen = high;
    /* An ephemeral sender reads nothing past its range. */
    uint64_t end = c->ephemeral && s->range.to_seq < high ? s->range.to_seq : high;
    const char *who = c->ephemeral ? s->source : c->name;
    struct batch_limits lim = {c->batch_max_bytes, c->batch_max_points};
    uint64_t prev_end = s->tail != NULL ? s->tail->end_seq : s->target;
    struct batch *open = NULL;
    int full = 0;
    s->read_all = 0;
    while (!full) {
        struct wal_record rec;
        rc = wal_reader_next(s->reader, s->read_seq, &rec);
        if ((rc == 0 || rc == IWR_ECORRUPT) && c->ephemeral && rec.seq > end)
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
            s->corrupt_total++;
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
        /* A record requeued for another backend is not ours; an empty one has nothing. */
        int skip = rec.target_len > 0 && !str_eq(who, rec.target, rec.target_len);
        while (!skip && from < rec.body_len) {
            if (open != NULL && !batch_same_key(open, &rec)) {
                prev_end = batch_seal(open, prev_end);
                queue_push(s, open);
                open = NULL;
            }
            if (open == NULL) {
                if (s->n_batches >= c->max_in_flight) {
                    s->part_seq = from > 0 ? rec.seq : 0;
                    s->part_off = from;
                    full = 1;
                    break;
                }
                open = batch_new(&rec);
            }
            from += batch_add(open, &rec, from, &lim);
            if (from < rec.body_len) { /* the batch is full */
                prev_end = batch_seal(open, prev_end);
                queue_push(s, open);
                open = NULL;
            }
        }
        if (!full) {
            s->read_seq = rec.seq;
            if (c->ephemeral && !skip)
                s->range.records++;
        }
    }
    if (open != NULL) {
        batch_seal(open, prev_end);
        queue_push(s, open);
    }
    wal_reader_end(s->reader);
}

/* ---- the state machine ------------------------------------------------------------------------
 */

static void retry_dead(struct sender *s)
{
    if (s->waiting)
        return;
    for (struct batch *b = s->head; b != NULL; b = b->next)
        if (b->state == BATCH_DEAD_RETRY)
            submit_dead(s, b);
}

static void pump(struct sender *s)
{
    if (s->mode != MODE_UP && s->mode != MODE_DOWN && s->mode != MODE_HOLD)
        return;
    if (s->range.done)
        return;
    retry_dead(s);
    advance(s);
    fill(s);
    if (s->mode == MODE_STARTING) /* fill found the cursor gone */
        return;
    advance(s);
    send_ready(s);
}

static void begin_from(struct sender *s, uint64_t cursor)
{
    resync(s, cursor);
    s->mode = MODE_UP;
    s->fails = 0;
    s->waiting = 0;
    char url[300];
    quote(url, sizeof(url), s->conf->display_url);
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
    pump(s);
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
        schedule_backoff(s);
        return;
    }
    begin_from(s, seq);
}

/* Ephemeral: fix the range from the options and the log as it is now; nothing is stored. */
static void start_range(struct sender *s)
{
    const struct sender_conf *c = s->conf;
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
        schedule_backoff(s);
        return;
    }
    s->range.started = 1;
    s->range.after_seq = after;
    s->range.to_seq = c->to_seq > 0 && c->to_seq < high ? c->to_seq : high;
    s->range.position = after;
    s->high_seen = high;
    log_info("event=range_started backend=%s source=%s after=%" PRIu64 " through=%" PRIu64,
             c->name, s->source, after, s->range.to_seq);
    begin_from(s, after);
}

/* Find the cursor, or create it: at the highest sequence ever assigned, or before the first
 * record kept with start = earliest ('latest' forces the end: resuming after a give-up). */
static void start_at(struct sender *s, int latest)
{
    s->mode = MODE_STARTING;
    s->waiting = 0;
    if (s->conf->ephemeral) {
        start_range(s);
        return;
    }
    /* A forget of this name still on its way to the log (ours after a give-up, or a removed
     * sender's of the same name) would land after our read: wait for it. */
    int forgetting = s->forget_pending;
    for (struct sender *o = s->r->retired; o != NULL; o = o->next)
        forgetting |= o->forget_pending && strcmp(o->conf->name, s->conf->name) == 0;
    if (forgetting) {
        schedule_backoff(s);
        return;
    }
    int rc = wal_reader_begin(s->reader);
    uint64_t cur = 0, first = 0, last = 0, high = 0;
    if (rc == 0) {
        rc = wal_reader_cursor(s->reader, s->conf->name, &cur);
        if (rc == IWR_ENOTFOUND)
            rc = wal_reader_bounds(s->reader, &first, &last, &high) == 0 ? IWR_ENOTFOUND : -1;
        wal_reader_end(s->reader);
    }
    if (rc == 0) {
        begin_from(s, cur);
        return;
    }
    if (rc != IWR_ENOTFOUND) {
        log_warn("event=cursor_read_failed backend=%s err=\"%s\"", s->conf->name, iwr_strerror(rc));
        schedule_backoff(s);
        return;
    }
    uint64_t at = high;
    if (!latest && s->conf->start == REPLAY_START_EARLIEST && first > 0)
        at = first - 1;
    s->high_seen = high;
    s->wal_ops++;
    wal_cursor_move(s->r->w, s->conf->name, WAL_SEQ_ANY, at, start_done, s);
}

void sender_start(struct sender *s)
{
    start_at(s, 0);
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

static void give_up(struct sender *s, const char *reason)
{
    log_error("event=backend_given_up backend=%s reason=%s cursor=%" PRIu64 " lag_records=%" PRIu64
              " lag_bytes=%" PRIu64 " lag_seconds=%.0f"
              " action=cursor_forgotten hint=\"replay the range with influx-wal replay\"",
              s->conf->name, reason, s->acked, s->st.lag_records, s->st.lag_bytes,
              s->st.lag_seconds);
    s->given_up_from = s->acked;
    abort_requests(s, REQ_WRITE);
    abort_requests(s, REQ_CREATE_DB);
    drop_batches(s);
    s->mode = MODE_GIVEN_UP;
    s->st.given_up = 1;
    s->st.lag_records = s->st.lag_bytes = 0;
    s->st.lag_seconds = 0;
    s->oldest_unacked_ns = 0;
    s->wal_ops++;
    s->forget_pending = 1;
    wal_cursor_forget(s->r->w, s->conf->name, forget_done, s);
    s->waiting = 0;
    schedule_backoff(s);
}

/* ---- answers ----------------------------------------------------------------------------------
 */

static void write_done(struct sender *s, struct request *q, CURLcode result, long http, uint64_t us)
{
    struct batch *b = q->batch;
    s->sending--;
    b->state = BATCH_QUEUED;
    count_code(s, result == CURLE_OK ? http : 0);
    observe_duration(s, us);
    struct replay_verdict v = replay_classify(result, http, q->resp.data, q->resp.len);
    switch (v.action) {
    case REPLAY_ACK:
        b->state = BATCH_DONE;
        s->st.sent_points_total += b->lines;
        s->st.sent_batches_total++;
        backend_ok(s);
        if (s->created_db != NULL && strcmp(s->created_db, b->db) == 0) {
            free(s->created_db); /* so a later DROP DATABASE is fixed again */
            s->created_db = NULL;
        }
        break;
    case REPLAY_RETRY:
        s->st.retries_total++;
        describe(s, q, result, http);
        if (v.down)
            backend_down(s);
        else
            schedule_backoff(s);
        break;
    case REPLAY_HOLD:
        s->st.retries_total++;
        describe(s, q, result, http);
        backend_hold(s, result != CURLE_OK ? -(long)result : http, v.db_missing ? b->db : NULL);
        break;
    case REPLAY_SPLIT:
    case REPLAY_DEAD:
        /* It answered: reachable, and nothing to back off from. */
        describe(s, q, result, http);
        backend_answered(s);
        if (v.action == REPLAY_SPLIT && b->lines > 1)
            split_batch(s, b);
        else
            dead_letter(s, b, http, q);
        break;
    }
    request_free(q);
    pump(s);
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
        describe(s, q, result, http);
    request_free(q);
    switch (s->mode) {
    case MODE_GIVEN_UP:
        if (ok) {
            s->st.up = 1;
            start_at(s, 1);
        } else {
            s->st.up = 0;
            schedule_backoff(s);
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
    pump(s);
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
        describe(s, q, result, http);
        quote(err, sizeof(err), s->st.last_error);
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
    if (conf->ephemeral)
        snprintf(s->source, sizeof(s->source), "%s", conf->source);
    wal_reader_new(r->w, &s->reader);
    return s;
}

void sender_reconfigure(struct sender *s, struct sender_conf *conf)
{
    if (strcmp(s->conf->url, conf->url) != 0) {
        char from[300], to[300];
        quote(from, sizeof(from), s->conf->display_url);
        quote(to, sizeof(to), conf->display_url);
        log_info("event=backend_url_changed backend=%s from=%s to=%s", s->conf->name, from, to);
    }
    sender_conf_unref(s->conf);
    s->conf = conf;
    conf->refs++;
}

void sender_stop(struct sender *s, int forget)
{
    abort_requests(s, -1);
    drop_batches(s);
    s->mode = MODE_STOPPED;
    s->retired = 1;
    s->due_ms = 0;
    s->waiting = 0;
    if (forget && !s->conf->ephemeral) {
        log_info("event=backend_removed backend=%s action=cursor_forgotten", s->conf->name);
        s->wal_ops++;
        s->forget_pending = 1;
        wal_cursor_forget(s->r->w, s->conf->name, forget_done, s);
    }
}

int sender_idle(const struct sender *s)
{
    return s->retired && s->wal_ops == 0;
}

void sender_free(struct sender *s)
{
    IWR_ASSERT(s->reqs == NULL && s->head == NULL && s->wal_ops == 0);
    wal_reader_free(s->reader);
    sender_conf_unref(s->conf);
    free(s->created_db);
    free(s);
}

void sender_kick(struct sender *s)
{
    if (s->fill_wanted && s->mode == MODE_UP)
        pump(s);
}

void sender_due(struct sender *s)
{
    s->due_ms = 0;
    s->waiting = 0;
    s->move_blocked = 0;
    switch (s->mode) {
    case MODE_STARTING:
        start_at(s, s->st.given_up);
        break;
    case MODE_DOWN:
    case MODE_GIVEN_UP:
        send_ping(s);
        break;
    case MODE_UP:
    case MODE_HOLD:
        pump(s);
        break;
    case MODE_STOPPED:
        break;
    }
}

/* Lag from two lookups: the first record after the cursor (its receive time and offset) and
 * the last one (the head's offset). */
static void refresh_lag(struct sender *s)
{
    if (wal_reader_begin(s->reader) != 0)
        return;
    uint64_t first, last, high;
    if (wal_reader_bounds(s->reader, &first, &last, &high) == 0) {
        if (high > s->high_seen)
            s->high_seen = high;
        uint64_t end = s->conf->ephemeral ? s->range.to_seq : high;
        s->st.lag_records = end > s->acked ? end - s->acked : 0;
        struct wal_record a, z;
        if (last > s->acked && wal_reader_next(s->reader, s->acked, &a) == 0 &&
            wal_reader_next(s->reader, last - 1, &z) == 0) {
            uint64_t head = z.offset + z.body_len;
            s->st.lag_bytes = head > a.offset ? head - a.offset : 0;
            s->oldest_unacked_ns = a.recv_ns;
        } else if (last <= s->acked) {
            s->st.lag_bytes = 0;
            s->oldest_unacked_ns = 0;
        }
        uint64_t now = wal_now_ns();
        s->st.lag_seconds = s->oldest_unacked_ns != 0 && now > s->oldest_unacked_ns
                                ? (double)(now - s->oldest_unacked_ns) / 1e9
                                : 0;
    }
    wal_reader_end(s->reader);
}

void sender_tick(struct sender *s)
{
    if (s->mode == MODE_STARTING || s->mode == MODE_STOPPED || s->mode == MODE_GIVEN_UP)
        return;
    refresh_lag(s);
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
        pump(s);
}

void sender_status(const struct sender *s, struct backend_status *out)
{
    *out = s->st;
    snprintf(out->name, sizeof(out->name), "%s", s->conf->name);
    snprintf(out->url, sizeof(out->url), "%s", s->conf->display_url);
    out->cursor = s->acked;
    out->caught_up = (s->mode == MODE_UP || s->mode == MODE_DOWN || s->mode == MODE_HOLD) &&
                     s->head == NULL && !s->move_pending && s->acked == s->target && s->read_all &&
                     !s->fill_wanted && s->acked >= s->high_seen;
    if (s->conf->ephemeral)
        out->caught_up = s->range.done && s->range.rc == 0;
    if (out->caught_up) {
        out->lag_records = out->lag_bytes = 0;
        out->lag_seconds = 0;
    }
}
