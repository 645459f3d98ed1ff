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
};
/* Read InfluxQL statement 'q': CREATE DATABASE <name> (without WITH) and DROP DATABASE <name>
 * give the database's name in 'db' (caller's buffer, NUL-terminated); anything else is
 * unsupported. */
/* A 3.x answer to a mapped statement: 2xx applied, and also 409 to CREATE DATABASE (it
 * exists) and 404 to DROP DATABASE (it does not), as 1.x takes both; 401/403 hold; 408, 429,
 * 5xx and transport failures retry; another 4xx refused (dead). */
struct replay_verdict gen_classify_v3_statement(CURLcode result, long http, enum gen_stmt kind);
/* A 2.x answer to a mapped statement's step ('step' 0: the ID lookup, answered 200 without
 * the ID: applied for DROP, there being nothing to drop, refused for CREATE; 1: the buckets
 * call): 2xx applied, and 422 to CREATE (the bucket exists) and 404 to DROP's DELETE;
 * otherwise as gen_classify_v3_statement. */
struct replay_verdict gen_classify_v2_statement(CURLcode result, long http, enum gen_stmt kind,
                                                int step);
enum gen_stmt gen_statement_kind(const char *q, size_t len, char *db, size_t db_cap);

#endif
