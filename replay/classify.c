/* The outcome table of a write: (CURLcode, HTTP status, response body) -> ack, retry, split,
 * dead letter or hold. Pure; owns nothing; any thread.
 *
 * The body matters in three places, all InfluxDB 1.x texts:
 * - 500 "retention policy not found: x" names the data, not a sick server: resending it never
 *   works, so it is treated like a 4xx. Every line of a batch shares its rp, so it goes to the
 *   dead letters whole instead of being split line by line.
 * - 400 "database is required" (an empty db in the record) likewise refuses the whole batch.
 * - 404 "database not found" is a configuration problem (hold), that CREATE DATABASE can fix. */
#include "replay/classify.h"

#include <string.h>

const char *replay_body_find(const char *body, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (body == NULL || len < n)
        return NULL;
    return memmem(body, len, needle, n);
}

static int body_has(const char *body, size_t len, const char *needle)
{
    return replay_body_find(body, len, needle) != NULL;
}

/* Transport failures an operator has to fix (a bad URL, TLS set up wrong): hold rather than
 * plain retry, so the log says so. Anything else from curl is the backend being unreachable,
 * slow or dropping connections. */
static int curl_needs_operator(CURLcode c)
{
    switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_LOGIN_DENIED:
        return 1;
    default:
        return 0;
    }
}

struct replay_verdict replay_classify(CURLcode result, long http_status, const char *body,
                                      size_t body_len)
{
    struct replay_verdict v = {REPLAY_RETRY, 1, 0};
    if (result != CURLE_OK) {
        if (curl_needs_operator(result))
            v.action = REPLAY_HOLD;
        return v;
    }
    if (http_status >= 200 && http_status < 300) {
        v.action = REPLAY_ACK;
        v.down = 0;
        return v;
    }
    if (http_status < 200) /* no final answer: a broken server or proxy */
        return v;
    if (http_status < 400) { /* a redirect we do not follow: the URL is wrong */
        v.action = REPLAY_HOLD;
        v.down = 0;
        return v;
    }
    if (http_status >= 500) {
        if (body_has(body, body_len, "retention policy not found")) {
            v.action = REPLAY_DEAD;
            v.down = 0;
        } else if (body_has(body, body_len, "database not found")) {
            v.action = REPLAY_HOLD;
            v.down = 0;
            v.db_missing = 1;
        }
        return v;
    }
    v.down = 0;
    switch (http_status) {
    case 401:
    case 403:
        v.action = REPLAY_HOLD;
        return v;
    case 404:
        v.action = REPLAY_HOLD;
        v.db_missing = body_has(body, body_len, "database not found");
        return v;
    case 408: /* a proxy's request timeout */
    case 429: /* throttled */
        v.action = REPLAY_RETRY;
        return v;
    case 400:
        if (body_has(body, body_len, "retention policy not found") ||
            body_has(body, body_len, "database is required")) {
            v.action = REPLAY_DEAD;
            return v;
        }
        v.action = REPLAY_SPLIT;
        return v;
    default: /* 413 and the other 4xx: something in the lines, not in the server */
        v.action = REPLAY_SPLIT;
        return v;
    }
}

/* influxd answers a /query with 200 even when a statement failed: the failure is an "error"
 * member in its result (or at the top, for a query it could not run at all). */
struct replay_verdict replay_classify_statement(CURLcode result, long http_status,
                                                const char *body, size_t body_len)
{
    struct replay_verdict v = replay_classify(result, http_status, body, body_len);
    v.db_missing = 0;
    if (result != CURLE_OK)
        return v; /* transport: retry, or hold for a TLS or URL problem, as for writes */
    if (http_status >= 200 && http_status < 300) {
        if (body_has(body, body_len, "\"error\""))
            v.action = REPLAY_DEAD;
        return v;
    }
    if (http_status >= 500) { /* whatever the text: the server, not the statement */
        v.action = REPLAY_RETRY;
        v.down = 1;
        return v;
    }
    if (http_status < 400)
        return v; /* 1xx retry, 3xx hold: the same as a write */
    switch (http_status) {
    case 401:
    case 403: /* the backend's credentials: an operator fixes them, the statement waits */
        v.action = REPLAY_HOLD;
        break;
    case 408:
    case 429:
        v.action = REPLAY_RETRY;
        break;
    default: /* influxd refused the statement itself: a parse error, a bad option, ... */
        v.action = REPLAY_DEAD;
        break;
    }
    return v;
}

const char *replay_action_name(enum replay_action a)
{
    switch (a) {
    case REPLAY_ACK:
        return "ack";
    case REPLAY_RETRY:
        return "retry";
    case REPLAY_SPLIT:
        return "split";
    case REPLAY_DEAD:
        return "dead";
    case REPLAY_HOLD:
        return "hold";
    }
    return "?";
}
