/* What a sender does with a backend's answer to a write: a pure function of the transfer's
 * CURLcode, the HTTP status and the response body. No state, no I/O: any thread. */
#ifndef IWR_REPLAY_CLASSIFY_H
#define IWR_REPLAY_CLASSIFY_H

#include <curl/curl.h>
#include <stddef.h>

enum replay_action {
    REPLAY_ACK = 0, /* 2xx: the backend has every line; move the cursor past the batch */
    REPLAY_RETRY,   /* refused connection, timeout, 5xx, 408, 429: resend the same batch later
                     * with backoff; order is kept */
    REPLAY_SPLIT,   /* 400, 413 and other 4xx a retry cannot fix: some lines are refused; halve
                     * the batch and resend until those lines are isolated (a single refused line
                     * goes to the dead letters) */
    REPLAY_DEAD,    /* the whole batch is refused for a reason every line of it shares (its
                     * retention policy or database name): all of it goes to the dead letters
                     * without splitting, which could not isolate anything */
    REPLAY_HOLD,    /* 401, 403, 404, 3xx, a TLS or URL problem: the data is fine but the
                     * backend's configuration is not; keep the data, retry with backoff, warn */
};

struct replay_verdict {
    enum replay_action action;
    int down;       /* unreachable or failing as a whole: mark it down and probe /ping */
    int db_missing; /* "database not found": a CREATE DATABASE may fix it */
};

/* Classify one answer. 'result' is the transfer's CURLcode (a transport failure when not
 * CURLE_OK, then 'http_status' is ignored), 'body' the first bytes of the response (may be
 * NULL when 'body_len' is 0). */
struct replay_verdict replay_classify(CURLcode result, long http_status, const char *body,
                                      size_t body_len);

/* The same for the answer to a logged statement (POST /query): 2xx without an "error" in the
 * body is ack; 2xx with one, and a 4xx other than 401, 403, 408, 429, is dead (refused: a dead
 * letter, never split); 401/403 hold; 408/429/5xx and transport failures as for a write. */
struct replay_verdict replay_classify_statement(CURLcode result, long http_status,
                                                const char *body, size_t body_len);

/* The first 'needle' (a C string) in body[0, body_len), which need not be NUL-terminated and
 * may be NULL when 'body_len' is 0; NULL when it is not there. Answers are read with it here
 * and in generation.c. */
const char *replay_body_find(const char *body, size_t body_len, const char *needle);

/* "ack", "retry", "split", "dead", "hold". */
const char *replay_action_name(enum replay_action a);

#endif
