/* Table test of replay_classify: every answer a backend (or the network) can give a write,
 * and what the sender must do with it. */
#include "tests/unit/tap.h"

#include "replay/classify.h"

#include <string.h>

struct row {
    const char *name;
    CURLcode result;
    long http;
    const char *body;
    enum replay_action action;
    int down;
    int db_missing;
};

static const struct row rows[] = {
    /* Acknowledged. */
    {"204 no content", CURLE_OK, 204, "", REPLAY_ACK, 0, 0},
    {"200 ok", CURLE_OK, 200, "{}", REPLAY_ACK, 0, 0},
    {"299 still 2xx", CURLE_OK, 299, NULL, REPLAY_ACK, 0, 0},
    /* The network: the backend is down, retry with backoff. */
    {"connection refused", CURLE_COULDNT_CONNECT, 0, NULL, REPLAY_RETRY, 1, 0},
    {"timeout", CURLE_OPERATION_TIMEDOUT, 0, NULL, REPLAY_RETRY, 1, 0},
    {"host not resolved", CURLE_COULDNT_RESOLVE_HOST, 0, NULL, REPLAY_RETRY, 1, 0},
    {"empty reply", CURLE_GOT_NOTHING, 0, NULL, REPLAY_RETRY, 1, 0},
    {"connection reset on receive", CURLE_RECV_ERROR, 0, NULL, REPLAY_RETRY, 1, 0},
    {"send failed", CURLE_SEND_ERROR, 0, NULL, REPLAY_RETRY, 1, 0},
    {"a status is ignored on transport failure", CURLE_PARTIAL_FILE, 204, NULL, REPLAY_RETRY, 1, 0},
    /* Transport failures only an operator can fix: hold, still down. */
    {"TLS peer not verified", CURLE_PEER_FAILED_VERIFICATION, 0, NULL, REPLAY_HOLD, 1, 0},
    {"bad CA file", CURLE_SSL_CACERT_BADFILE, 0, NULL, REPLAY_HOLD, 1, 0},
    {"malformed URL", CURLE_URL_MALFORMAT, 0, NULL, REPLAY_HOLD, 1, 0},
    {"unsupported scheme", CURLE_UNSUPPORTED_PROTOCOL, 0, NULL, REPLAY_HOLD, 1, 0},
    /* 5xx: down, retry. */
    {"500 timeout", CURLE_OK, 500, "{\"error\":\"timeout\"}", REPLAY_RETRY, 1, 0},
    {"500 cache full", CURLE_OK, 500, "{\"error\":\"engine: cache-max-memory-size exceeded\"}",
     REPLAY_RETRY, 1, 0},
    {"502 bad gateway", CURLE_OK, 502, "<html>", REPLAY_RETRY, 1, 0},
    {"503 unavailable", CURLE_OK, 503, "", REPLAY_RETRY, 1, 0},
    {"504 gateway timeout", CURLE_OK, 504, NULL, REPLAY_RETRY, 1, 0},
    /* A 500 that names the data is not retried forever. */
    {"500 retention policy not found", CURLE_OK, 500,
     "{\"error\":\"retention policy not found: norp\"}", REPLAY_DEAD, 0, 0},
    {"500 database not found", CURLE_OK, 500, "{\"error\":\"database not found: \\\"x\\\"\"}",
     REPLAY_HOLD, 0, 1},
    /* 400 and the like: split to isolate the refused lines. */
    {"400 field type conflict", CURLE_OK, 400,
     "{\"error\":\"partial write: field type conflict: input field \\\"v\\\" on measurement "
     "\\\"m\\\" is type float, already exists as type string dropped=1\"}",
     REPLAY_SPLIT, 0, 0},
    {"400 unable to parse", CURLE_OK, 400,
     "{\"error\":\"partial write: unable to parse 'n v=': missing field value dropped=0\"}",
     REPLAY_SPLIT, 0, 0},
    {"400 beyond retention", CURLE_OK, 400,
     "{\"error\":\"partial write: points beyond retention policy dropped=3\"}", REPLAY_SPLIT, 0, 0},
    {"400 without a body", CURLE_OK, 400, NULL, REPLAY_SPLIT, 0, 0},
    {"413 too large", CURLE_OK, 413, "{\"error\":\"Request Entity Too Large\"}", REPLAY_SPLIT, 0,
     0},
    {"405 method", CURLE_OK, 405, "", REPLAY_SPLIT, 0, 0},
    {"422 unprocessable", CURLE_OK, 422, "", REPLAY_SPLIT, 0, 0},
    /* 400s every line of the batch shares: dead letters without splitting. */
    {"400 retention policy not found", CURLE_OK, 400,
     "{\"error\":\"retention policy not found: x\"}", REPLAY_DEAD, 0, 0},
    {"400 database is required", CURLE_OK, 400, "{\"error\":\"database is required\"}", REPLAY_DEAD,
     0, 0},
    /* Configuration: keep the data, hold. */
    {"401 unauthorized", CURLE_OK, 401, "{\"error\":\"authorization failed\"}", REPLAY_HOLD, 0, 0},
    {"403 forbidden", CURLE_OK, 403, "{\"error\":\"user is not authorized to write\"}", REPLAY_HOLD,
     0, 0},
    {"404 database not found", CURLE_OK, 404, "{\"error\":\"database not found: \\\"nodb\\\"\"}",
     REPLAY_HOLD, 0, 1},
    {"404 wrong path", CURLE_OK, 404, "404 page not found", REPLAY_HOLD, 0, 0},
    {"301 redirect", CURLE_OK, 301, "", REPLAY_HOLD, 0, 0},
    {"307 redirect", CURLE_OK, 307, "", REPLAY_HOLD, 0, 0},
    /* Throttling and proxies' timeouts: retry, but the backend is not down. */
    {"429 too many requests", CURLE_OK, 429, "", REPLAY_RETRY, 0, 0},
    {"408 request timeout", CURLE_OK, 408, "", REPLAY_RETRY, 0, 0},
    /* Nonsense from a broken server or proxy: retry as down. */
    {"status 0 without a transport error", CURLE_OK, 0, NULL, REPLAY_RETRY, 1, 0},
    {"100 as a final answer", CURLE_OK, 100, NULL, REPLAY_RETRY, 1, 0},
    {"600", CURLE_OK, 600, NULL, REPLAY_RETRY, 1, 0},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *t = &rows[i];
        struct replay_verdict v =
            replay_classify(t->result, t->http, t->body, t->body ? strlen(t->body) : 0);
        int ok = v.action == t->action && v.down == t->down && v.db_missing == t->db_missing;
        if (!CHECK(ok, "%s -> %s%s%s", t->name, replay_action_name(t->action),
                   t->down ? " down" : "", t->db_missing ? " db_missing" : ""))
            printf("#   got %s down=%d db_missing=%d\n", replay_action_name(v.action), v.down,
                   v.db_missing);
    }
    /* The body is not NUL-terminated: a match must not read past body_len. */
    const char cut[] = "retention policy not foundXXXX";
    struct replay_verdict v = replay_classify(CURLE_OK, 500, cut, 20);
    CHECK_EQ_INT(v.action, REPLAY_RETRY, "a body cut before the phrase does not match it");
    v = replay_classify(CURLE_OK, 500, cut, 26);
    CHECK_EQ_INT(v.action, REPLAY_DEAD, "the phrase ending exactly at body_len matches");
    /* A logged statement's answer (POST /query). */
    static const struct row stmt_rows[] = {
        {"200 applied", CURLE_OK, 200, "{\"results\":[{\"statement_id\":0}]}", REPLAY_ACK, 0, 0},
        {"200 with an error in a result", CURLE_OK, 200,
         "{\"results\":[{\"statement_id\":0,\"error\":\"retention policy not found: x\"}]}",
         REPLAY_DEAD, 0, 0},
        {"400 parse error", CURLE_OK, 400, "{\"error\":\"error parsing query: found X\"}",
         REPLAY_DEAD, 0, 0},
        {"404 database not found: refused, not held", CURLE_OK, 404,
         "{\"error\":\"database not found: \\\"x\\\"\"}", REPLAY_DEAD, 0, 0},
        {"401", CURLE_OK, 401, "{\"error\":\"authorization failed\"}", REPLAY_HOLD, 0, 0},
        {"403", CURLE_OK, 403, "{\"error\":\"requires admin privilege\"}", REPLAY_HOLD, 0, 0},
        {"429", CURLE_OK, 429, "", REPLAY_RETRY, 0, 0},
        {"500 whatever the text", CURLE_OK, 500, "retention policy not found", REPLAY_RETRY, 1, 0},
        {"503", CURLE_OK, 503, "", REPLAY_RETRY, 1, 0},
        {"connection refused", CURLE_COULDNT_CONNECT, 0, NULL, REPLAY_RETRY, 1, 0},
        {"TLS problem", CURLE_PEER_FAILED_VERIFICATION, 0, NULL, REPLAY_HOLD, 1, 0},
        {"307", CURLE_OK, 307, "", REPLAY_HOLD, 0, 0},
    };
    for (size_t i = 0; i < sizeof(stmt_rows) / sizeof(stmt_rows[0]); i++) {
        const struct row *t = &stmt_rows[i];
        v = replay_classify_statement(t->result, t->http, t->body, t->body ? strlen(t->body) : 0);
        int ok = v.action == t->action && v.down == t->down && v.db_missing == t->db_missing;
        if (!CHECK(ok, "statement: %s -> %s%s", t->name, replay_action_name(t->action),
                   t->down ? " down" : ""))
            printf("#   got %s down=%d db_missing=%d\n", replay_action_name(v.action), v.down,
                   v.db_missing);
    }
    CHECK_EQ_STR(replay_action_name(REPLAY_SPLIT), "split", "action names");
    CHECK_EQ_STR(replay_action_name(REPLAY_HOLD), "hold", "action names (hold)");
    return tap_done();
}
