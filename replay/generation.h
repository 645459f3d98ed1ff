/* What differs between the InfluxDB generations a backend can be (api = "v1" | "v2" | "v3"):
 * the write URL and its parameters, the liveness path, how 3.x's answers to a write are read,
 * and which logged statements have an equivalent. Pure: no state, no I/O; any thread. */
#ifndef IWR_REPLAY_GENERATION_H
#define IWR_REPLAY_GENERATION_H

#include "common/buf.h"
#include "replay/classify.h"
#include "replay/replay.h"

#include <stddef.h>
#include <stdint.h>

/* "v1", "v2", "v3". */
const char *replay_api_name(enum replay_api api);
/* 0 with *out set for "v1", "v2", "v3"; IWR_EINVAL otherwise. */
int replay_api_parse(const char *s, enum replay_api *out);

/* Where one backend's writes go: borrowed strings, NULL templates take the defaults. */
struct gen_target {
    enum replay_api api;
    const char *base;              /* no trailing '/' */
    const char *org;               /* v2 */
    const char *bucket_template;   /* v2; NULL: "{db}/{rp}" */
    const char *database_template; /* v3; NULL: "{db}" */
    int accept_partial, no_sync;   /* v3 */
};

/* Append s[0, n) percent-encoded for a URL query or a form body: RFC 3986's unreserved
 * characters (A-Z a-z 0-9 - . _ ~) as they are, every other byte %XX in upper case, as
 * curl_easy_escape writes it. */
void gen_append_escaped(struct buf *out, const char *s, size_t n);
/* Append 'tmpl' with {db} and {rp} replaced ({rp} of an empty rp: "autogen"); other text is
 * copied as written. */
void gen_expand(struct buf *out, const char *tmpl, const char *db, const char *rp);
/* The name a record of db/rp is written to: v1 the db, v2 the bucket, v3 the database. */
void gen_target_name(struct buf *out, const struct gen_target *t, const char *db, const char *rp);
/* The whole write URL for a batch of db/rp in 'precision' (lp's enum), NUL-terminated:
 * v1 /write?db=&rp=&precision=, v2 /api/v2/write?org=&bucket=&precision=,
 * v3 /api/v3/write_lp?db=&precision=&accept_partial=&no_sync=. */
void gen_write_url(struct buf *out, const struct gen_target *t, const char *db, const char *rp,
                   uint8_t precision);
/* The liveness path: "/ping" (v1), "/health" (v2, v3). */
const char *gen_ping_path(enum replay_api api);

/* A 3.x answer to a write. As replay_classify, and further: a 400 whose JSON body lists
 * per-line errors ("data":[{"line_number":N,...}]) is split where the first refused line is:
 * *split_after is the number of lines to put in the first part (0: halve as usual); a batch of
 * one line it names is dead. A 400 without per-line errors refuses the whole batch (dead).
 * 'lines' is the batch's line count. */
struct replay_verdict gen_classify_v3(CURLcode result, long http, const char *body, size_t len,
                                      size_t lines, size_t *split_after);
/* The line numbers (1-based, at most 'lines') a 3.x partial-write answer lists, sorted, without
 * repeats, the smallest 'cap' of them, into 'out'; how many. 0 when the body is not 3.x's partial
 * write ("partial write of line protocol occurred": the valid lines were stored). */
size_t gen_v3_partial_lines(const char *body, size_t len, size_t lines, size_t *out, size_t cap);
/* The same for 2.x: replay_classify, without the 1.x texts (a 404 is a bucket not found, which
 * no CREATE DATABASE fixes). */
struct replay_verdict gen_classify_v2(CURLcode result, long http, const char *body, size_t len);

/* A logged statement mapped for a v2 or v3 backend. */
enum gen_stmt {
    GEN_STMT_UNSUPPORTED = 0, /* no equivalent: a counted 'unsupported' dead letter */
    GEN_STMT_CREATE_DATABASE,
    GEN_STMT_DROP_DATABASE,
    GEN_STMT_DELETE, /* DELETE [FROM m] [WHERE ...]: 2.x's /api/v2/delete (gen_v2_delete_body) */
};
/* Read InfluxQL statement 'q': CREATE DATABASE <name> (without WITH) and DROP DATABASE <name>
 * give the database's name in 'db' (caller's buffer, NUL-terminated); anything else is
 * unsupported here (a DELETE is gen_v2_delete_body's: GEN_STMT_DELETE when it maps). */
/* A 3.x answer to a mapped statement: 2xx applied, and also 409 to CREATE DATABASE (it
 * exists) and 404 to DROP DATABASE (it does not), as 1.x takes both; 401/403 hold; 408, 429,
 * 5xx and transport failures retry; another 4xx refused (dead). */
struct replay_verdict gen_classify_v3_statement(CURLcode result, long http, enum gen_stmt kind);
/* A 2.x answer to a mapped statement's step ('step' 0: the ID lookup, answered 200 without
 * the ID: applied for DROP, there being nothing to drop, refused for CREATE; 1: the buckets
 * call): 2xx applied, and 422 to CREATE (the bucket exists) and 404 to DROP's DELETE and to
 * a DELETE's /api/v2/delete (no such bucket: nothing to delete);
 * otherwise as gen_classify_v3_statement. */
struct replay_verdict gen_classify_v2_statement(CURLcode result, long http, enum gen_stmt kind,
                                                int step);
enum gen_stmt gen_statement_kind(const char *q, size_t len, char *db, size_t db_cap);
/* The JSON body of 2.x's POST /api/v2/delete for InfluxQL DELETE statement 'q', appended to
 * 'out': {"start","stop"} (RFC 3339 with nanoseconds, both inclusive as 2.x reads them; an
 * open side is 2.x's earliest or latest time) and, when there is one, "predicate" (
 * _measurement="m" for FROM m, and key="value" for each tag compared with = to a string, joined
 * by AND). 'q' is one statement: DELETE FROM m, DELETE [FROM m] WHERE c [AND c ...] where each
 * c is time >|>=|<|<= (an integer in nanoseconds or a time string, optionally +/- a duration)
 * or tag = 'value'. 0, or IWR_EINVAL for anything else (OR, !=, =~, a regex or several
 * measurements, a field, an empty range): no equivalent, and 'out' is unchanged. */
int gen_v2_delete_body(struct buf *out, const char *q, size_t len);

#endif
