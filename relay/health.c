/* GET /health (the relay as a whole) and GET /health/backend/NAME (one backend, for an HAProxy
 * http-check on a read pool). Reads only counters and a status snapshot: no LMDB access, no
 * write. Loop thread only.
 *
 * status: "pass" when the log is writable and every backend is up and caught up; "warn" when
 * a backend is down or behind but nothing is lost (the log holds it); "fail" when the log is
 * not writable (writes get 503). 200 for pass and warn, 503 for fail. */
#include "relay/relay_int.h"

#include "common/xalloc.h"

#include <inttypes.h>
#include <string.h>

/* Room for a few large requests: below it, the next append may be refused. */
#define WRITABLE_MARGIN (1024 * 1024)

int relay_wal_writable(struct relay *r, const struct wal_counters *wc)
{
    size_t max = r->cfg_limits.max_bytes;
    return wc->log_bytes + WRITABLE_MARGIN <= max || wc->log_bytes + max / 8 <= max;
}

static void backend_json(struct buf *b, const struct backend_status *s)
{
    buf_append_str(b, "{\"name\":\"");
    buf_append_json_str(b, s->name, strlen(s->name));
    buf_append_str(b, "\",\"url\":\"");
    buf_append_json_str(b, s->url, strlen(s->url));
    buf_printf(b,
               "\",\"up\":%s,\"caught_up\":%s,\"given_up\":%s,\"cursor\":%" PRIu64
               ",\"lag_records\":%" PRIu64 ",\"lag_bytes\":%" PRIu64
               ",\"lag_seconds\":%.3f,\"dead_letters\":%" PRIu64 ",\"last_error\":\"",
               s->up ? "true" : "false", s->caught_up ? "true" : "false",
               s->given_up ? "true" : "false", s->cursor, s->lag_records, s->lag_bytes,
               s->lag_seconds, s->dead_letters_total);
    buf_append_json_str(b, s->last_error, strlen(s->last_error));
    buf_append_str(b, "\"}");
}

static void backends_of(struct relay *r, struct backend_status **st, size_t *n)
{
    *st = NULL;
    *n = 0;
    if (r->hooks.backends)
        r->hooks.backends(r->hooks.arg, st, n);
}

void health_handle(struct conn *c, struct http_req *req)
{
    struct relay *r = c->relay;
    struct backend_status *st;
    size_t n;
    backends_of(r, &st, &n);
    struct buf b;
    buf_init(&b);
    if (req->path_len > 16 && memcmp(req->url.data, "/health/backend/", 16) == 0) {
        const char *name = req->url.data + 16;
        size_t nlen = req->path_len - 16;
        const struct backend_status *s = NULL;
        for (size_t i = 0; i < n; i++)
            if (strlen(st[i].name) == nlen && memcmp(st[i].name, name, nlen) == 0)
                s = &st[i];
        if (s == NULL) {
            static const char msg[] = "no such backend";
            http_respond_error(c, 404, msg, sizeof(msg) - 1);
        } else {
            backend_json(&b, s);
            buf_append_str(&b, "\n");
            http_respond(c, s->up && s->caught_up ? 200 : 503, NULL, b.data, b.len);
        }
        free(st);
        buf_deinit(&b);
        return;
    }
    struct wal_counters wc;
    wal_counters_get(r->wal, &wc);
    int writable = relay_wal_writable(r, &wc);
    int all_current = 1;
    for (size_t i = 0; i < n; i++)
        all_current &= st[i].up && st[i].caught_up;
    const char *status = !writable ? "fail" : all_current ? "pass" : "warn";
    buf_printf(&b,
               "{\"name\":\"influx-wal-relay\",\"version\":\"%s\",\"status\":\"%s\","
               "\"wal\":{\"writable\":%s,\"first_sequence\":%" PRIu64
               ",\"last_sequence\":%" PRIu64 ",\"records\":%" PRIu64 ",\"bytes\":%" PRIu64
               ",\"limit_bytes\":%zu,\"dropped_records\":%" PRIu64 "},\"backends\":[",
               IWR_VERSION, status, writable ? "true" : "false", wc.first_seq, wc.last_seq,
               wc.records, wc.log_bytes, r->cfg_limits.max_bytes, wc.dropped_records);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_append_str(&b, ",");
        backend_json(&b, &st[i]);
    }
    buf_append_str(&b, "]}\n");
    http_respond(c, writable ? 200 : 503, NULL, b.data, b.len);
    free(st);
    buf_deinit(&b);
}
