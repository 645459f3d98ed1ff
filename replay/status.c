/* A sender's status: the figures /health, /metrics and the CLI show (answers by code, write
 * durations, lag), its last error with credentials scrubbed, and the snapshot replay_status
 * copies out. Loop thread only. */
#include "replay/replay_int.h"
#include "replay/generation.h"

#include "common/err.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Upper bounds (seconds) of the write-duration buckets. */
static const double duration_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,   0.25,   0.5,   1,    2.5,   10};

void sender_status_init(struct sender *s)
{
    hist_init(&s->st.duration, duration_bounds, sizeof(duration_bounds) / sizeof(*duration_bounds));
}

void sender_quote(char *out, size_t cap, const char *s)
{
    log_quote(out, cap, s, strlen(s));
}

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

void sender_set_error(struct sender *s, const char *fmt, ...)
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
void sender_describe(struct sender *s, const struct request *q, CURLcode result, long http)
{
    const char *what = q->kind == REQ_PING ? "ping" : q->kind == REQ_CREATE_DB ? "create" : "write";
    if (result != CURLE_OK)
        sender_set_error(s, "%s: curl %d: %s", what, (int)result,
                  q->errbuf[0] ? q->errbuf : curl_easy_strerror(result));
    else
        sender_set_error(s, "%s: http %ld: %.*s", what, http, (int)(q->resp.len > 200 ? 200 : q->resp.len),
                  q->resp.data ? q->resp.data : "");
}

static void count_code(struct sender *s, long code)
{
    size_t i;
    for (i = 0; i < REPLAY_CODES; i++) {
        if (s->st.code_counts[i] > 0 && s->st.codes[i] == code)
            break;
        if (s->st.code_counts[i] == 0) {
            s->st.codes[i] = code;
            break;
        }
    }
    if (i == REPLAY_CODES) /* every slot taken: count it with its class */
        for (i = 0; i < REPLAY_CODES && s->st.codes[i] / 100 != code / 100; i++)
            ;
    if (i < REPLAY_CODES)
        s->st.code_counts[i]++;
}

void sender_observe(struct sender *s, long code, uint64_t duration_us)
{
    count_code(s, code);
    hist_observe(&s->st.duration, (double)duration_us / 1e6);
}

/* A sharded sender's lag counts only the records it would send (those with a part for its
 * shard, and those without parts). That needs a walk from the cursor, so it is bounded: the
 * first SHARD_LAG_SCAN records after the cursor are counted exactly, the rest (if any) as if
 * they were all ours, an upper bound. */
#define SHARD_LAG_SCAN 4096

static int str_eq(const char *s, const char *p, size_t n)
{
    return strlen(s) == n && memcmp(s, p, n) == 0;
}

static void shard_lag(struct sender *s, uint64_t end)
{
    uint64_t at = s->acked, records = 0, bytes = 0, oldest = 0, scanned = 0;
    struct wal_record rec, part;
    while (at < end && scanned < SHARD_LAG_SCAN) {
        int rc = wal_reader_next(s->reader, at, &rec);
        if (rc == IWR_ENOTFOUND || (rc == 0 && rec.seq > end))
            break;
        at = rec.seq;
        scanned++;
        if (rc != 0 || !wal_record_part(&rec, s->conf->shard, &part))
            continue;
        if (part.target_len > 0 && !str_eq(s->source, part.target, part.target_len))
            continue;
        records++;
        bytes += part.body_len;
        if (oldest == 0)
            oldest = part.recv_ns;
    }
    if (at < end && scanned == SHARD_LAG_SCAN)
        records += end - at;
    s->st.lag_records = records;
    s->st.lag_bytes = bytes;
    s->oldest_unacked_ns = oldest;
}

/* Lag from two lookups: the first record after the cursor (its receive time and offset) and
 * the last one (the head's offset). */
void sender_refresh_lag(struct sender *s)
{
    if (wal_reader_begin(s->reader) != 0)
        return;
    uint64_t first, last, high;
    if (wal_reader_bounds(s->reader, &first, &last, &high) == 0) {
        if (high > s->high_seen)
            s->high_seen = high;
        uint64_t end = s->store->end(s, high);
        s->st.lag_records = end > s->acked ? end - s->acked : 0;
        struct wal_record a, z;
        if (s->conf->shard != NULL) {
            shard_lag(s, end);
        } else if (last > s->acked && wal_reader_next(s->reader, s->acked, &a) == 0 &&
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

void sender_status(const struct sender *s, uint64_t head, struct replay_backend_status *out)
{
    *out = s->st;
    snprintf(out->name, sizeof(out->name), "%s", s->conf->name);
    snprintf(out->url, sizeof(out->url), "%s", s->conf->display_url);
    snprintf(out->shard, sizeof(out->shard), "%s", s->conf->shard ? s->conf->shard : "");
    snprintf(out->kind, sizeof(out->kind), "%s", replay_api_name(s->conf->api));
    out->cursor = s->acked;
    out->rebuilding = s->rb.active;
    out->rebuild_lost = s->rb.lost;
    out->rebuild_from_seq = s->rb.from_seq;
    out->rebuild_started_ns = s->rb.started_ns;
    snprintf(out->rebuild_source, sizeof(out->rebuild_source), "%s", s->rb.source);
    out->caught_up = (s->mode == MODE_UP || s->mode == MODE_DOWN || s->mode == MODE_HOLD) &&
                     s->head == NULL && !s->move_pending && s->acked == s->target && s->read_all &&
                     !s->fill_wanted && s->acked >= s->high_seen;
    out->caught_up = s->store->caught_up(s, out->caught_up);
    /* The lag was measured at the last tick; the position and the log's head are fresher (the
     * head as of the last commit, which precedes any cursor move reported here). */
    if (!out->caught_up && s->conf->shard == NULL) { /* a shard's lag needs the walk */
        uint64_t end = s->store->end(s, head > s->high_seen ? head : s->high_seen);
        out->lag_records = end > out->cursor ? end - out->cursor : 0;
    }
    out->oldest_unacked_ns = s->oldest_unacked_ns;
    out->in_flight = s->sending;
    out->in_flight_limit = s->ad.in_flight;
    out->batch_bytes_limit = s->ad.batch_bytes;
    out->in_flight_raises_total = s->ad.in_flight_raises;
    out->in_flight_cuts_total = s->ad.in_flight_cuts;
    out->batch_bytes_raises_total = s->ad.batch_raises;
    out->batch_bytes_cuts_total = s->ad.batch_cuts;
    if (out->caught_up || out->lag_records == 0) {
        out->lag_records = out->lag_bytes = 0;
        out->lag_seconds = 0;
        out->oldest_unacked_ns = 0;
    }
}
