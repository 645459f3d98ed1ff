/* Request dispatch: path and method to handler, /ping, and the query-string reader. Loop thread
 * only. Unknown paths get 404 and known paths with a wrong method 405, each with a JSON error
 * body. */
#include "relay/relay_int.h"

#include "common/err.h"

#include <string.h>

const char *const endpoint_names[EP_COUNT] = {"write",   "api_v2_write", "ping",
                                              "health",  "metrics",      "query",
                                              "status",  "api_v1_prom_write",
                                              "api_v3_write_lp", "other"};
const int counted_codes[CODE_SLOTS] = {200, 204, 400, 401, 404, 405,
                                       408, 413, 431, 500, 502, 503};
const double request_duration_bounds[DURATION_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

/* Percent-decoding as Go's url.ParseQuery does it ('+' is a space); a bad escape is kept as
 * it is. */
static void url_decode(const char *s, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
            ch = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
            i += 2;
        }
        buf_append(out, &ch, 1);
    }
}

int query_get(const char *q, size_t qlen, const char *key, struct buf *out)
{
    buf_clear(out);
    size_t klen = strlen(key);
    size_t i = 0;
    while (i < qlen) {
        size_t end = i;
        while (end < qlen && q[end] != '&')
            end++;
        const char *eq = memchr(q + i, '=', end - i);
        size_t name_len = eq ? (size_t)(eq - (q + i)) : end - i;
        struct buf name;
        buf_init(&name);
        url_decode(q + i, name_len, &name);
        int match = name.len == klen && memcmp(name.data, key, klen) == 0;
        buf_deinit(&name);
        if (match) {
            if (eq)
                url_decode(eq + 1, (size_t)(q + end - (eq + 1)), out);
            buf_reserve(out, 1)[0] = '\0';
            return 1;
        }
        i = end + 1;
    }
    buf_reserve(out, 1)[0] = '\0';
    return 0;
}

const char *req_query(const struct http_req *req, size_t *qlen)
{
    size_t n = req->url.len - req->path_len;
    *qlen = n > 0 ? n - 1 : 0;
    return req->url.data + req->path_len + (n > 0);
}

static void ping_handle(struct conn *c, struct http_req *req)
{
    size_t qlen;
    const char *q = req_query(req, &qlen);
    struct buf v;
    buf_init(&v);
    int verbose = query_get(q, qlen, "verbose", &v) && v.len > 0 &&
                  (strcmp(v.data, "true") == 0 || strcmp(v.data, "1") == 0);
    buf_deinit(&v);
    if (verbose) {
        static const char body[] = "{\"version\":\"1.8.10\",\"relay\":\"influx-wal-relay/" IWR_VERSION
                                   "\"}\n";
        http_respond(c, 200, NULL, body, sizeof(body) - 1);
    } else {
        http_respond(c, 204, NULL, NULL, 0);
    }
}

int req_path_is(const struct http_req *req, const char *p)
{
    size_t n = strlen(p);
    if (req->path_len == n && memcmp(req->url.data, p, n) == 0)
        return 1;
    /* A trailing slash is tolerated, as InfluxDB's router does. */
    return req->path_len == n + 1 && memcmp(req->url.data, p, n) == 0 &&
           req->url.data[n] == '/';
}

static void method_not_allowed(struct conn *c, const char *allow)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
    static const char body[] = "{\"error\":\"method not allowed\"}\n";
    http_respond(c, 405, hdr, body, sizeof(body) - 1);
}

void relay_route(struct conn *c, struct http_req *req)
{
    int get = req->method == HTTP_GET, head = req->method == HTTP_HEAD;
    int post = req->method == HTTP_POST;
    if (req_path_is(req, "/write")) {
        req->ep = EP_WRITE;
        if (post)
            write_handle(c, req, 0);
        else
            method_not_allowed(c, "POST");
    } else if (req_path_is(req, "/api/v2/write")) {
        req->ep = EP_WRITE_V2;
        struct buf org;
        buf_init(&org);
        size_t qlen;
        const char *q = req_query(req, &qlen);
        /* A 2.x client names its org (its libraries refuse an empty one); 1.8's clients need
         * not, and 1.8 ignores it. */
        int v2_client = query_get(q, qlen, "org", &org) && org.len > 0;
        buf_deinit(&org);
        if (!post)
            method_not_allowed(c, "POST");
        else if (v2_client)
            write_v2_org_handle(c, req);
        else
            write_handle(c, req, 1);
    } else if (req_path_is(req, "/api/v3/write_lp")) {
        req->ep = EP_WRITE_V3;
        if (post)
            write_v3_handle(c, req);
        else
            method_not_allowed(c, "POST");
    } else if (req_path_is(req, "/api/v1/prom/write")) {
        req->ep = EP_PROM_WRITE;
        if (post)
            promwrite_handle(c, req);
        else
            method_not_allowed(c, "POST");
    } else if (req_path_is(req, "/ping")) {
        req->ep = EP_PING;
        if (get || head)
            ping_handle(c, req);
        else
            method_not_allowed(c, "GET, HEAD");
    } else if (req_path_is(req, "/health") || (req->path_len > 16 &&
                                           memcmp(req->url.data, "/health/backend/", 16) == 0)) {
        req->ep = EP_HEALTH;
        if (get || head)
            health_handle(c, req);
        else
            method_not_allowed(c, "GET, HEAD");
    } else if (req_path_is(req, "/query")) {
        req->ep = EP_QUERY;
        if (get || post)
            query_handle(c, req);
        else
            method_not_allowed(c, "GET, POST");
    } else if (req_path_is(req, "/metrics")) {
        req->ep = EP_METRICS;
        if (get || head)
            metrics_handle(c, req);
        else
            method_not_allowed(c, "GET, HEAD");
    } else if (req_path_is(req, "/") || req_path_is(req, "/status") || req_path_is(req, "/status.json")) {
        req->ep = EP_STATUS;
        if (get || head)
            status_handle(c, req, req_path_is(req, "/status.json"));
        else
            method_not_allowed(c, "GET, HEAD");
    } else if (req_path_is(req, "/api/rebuild") || req_path_is(req, "/api/rebuild/start") ||
               req_path_is(req, "/api/rebuild/finish") || req_path_is(req, "/api/rebuild/abort")) {
        req->ep = EP_OTHER; /* counted with the others in /metrics */
        int status_only = req_path_is(req, "/api/rebuild");
        if (status_only ? get || head : post)
            admin_rebuild_handle(c, req);
        else
            method_not_allowed(c, status_only ? "GET, HEAD" : "POST");
    } else if (req_path_is(req, "/api/shards") || req_path_is(req, "/api/shards/activate") ||
               req_path_is(req, "/api/shards/drop")) {
        req->ep = EP_OTHER;
        int status_only = req_path_is(req, "/api/shards");
        if (status_only ? get || head : post)
            admin_shards_handle(c, req);
        else
            method_not_allowed(c, status_only ? "GET, HEAD" : "POST");
    } else if (req_path_is(req, "/api/peer/status") || req_path_is(req, "/api/peer/fence")) {
        req->ep = EP_OTHER;
        int status_only = req_path_is(req, "/api/peer/status");
        if (status_only ? get || head : post)
            peer_handle(c, req);
        else
            method_not_allowed(c, status_only ? "GET, HEAD" : "POST");
    } else {
        req->ep = EP_OTHER;
        static const char body[] = "{\"error\":\"not found\"}\n";
        http_respond(c, 404, NULL, body, sizeof(body) - 1);
    }
}
