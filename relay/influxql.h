/* InfluxQL statement classification for the /query endpoint, following influxd 1.6's scanner
 * and parse tree (github.com/influxdata/influxql, v1.0 line): which statements read, which change
 * schema or data and must go through the log, which only make sense on one server, and which
 * influxd could not parse. Also the two rewrites a logged statement needs: now() replaced by the
 * commit time, and passwords masked for anything that is printed or stored as a log line.
 *
 * Pure: no I/O, no globals that change, any thread. Inputs are borrowed (need not be
 * NUL-terminated); outputs go into caller-owned storage.
 *
 * How faithful it is:
 * - The tokenizer is influxd's: whitespace is only space, tab, LF and CR (CR and CRLF read as
 *   LF); identifiers are [A-Za-z_][A-Za-z0-9_]* or "double-quoted" (escapes \n \\ \" \'), and a
 *   bare run glued to a quote (abc"def") is one identifier token whose value is the quoted part,
 *   as in influxd; keywords are case-insensitive; 'strings' take the same four escapes, any
 *   other escape is a bad-escape token, a newline or the end inside one is a bad string;
 *   numbers, durations (digits then letters, µ and digits), $params, operators, `-- line` and
 *   `/ * block * /` comments (an unterminated block comment is illegal). Any other byte outside
 *   a string or quoted identifier (non-ASCII included) is illegal.
 * - Regex literals /.../ exist only where the parser asks for one. influxd decides that while
 *   parsing; here a '/' starts a regex when the previous token, ignoring whitespace but not
 *   comments, is SELECT, FROM, BY, ',', '(', '=', '!=', '=~', '!~' or '.', which covers every
 *   place influxd 1.6 reads a regex (fields, sources, GROUP BY, call arguments, =~ operands,
 *   WITH MEASUREMENT / WITH KEY) and otherwise only places where a '/' is a parse error anyway.
 *   Inside a regex only "\/" escapes; a newline or the end makes it a bad regex. "/ *" in such a
 *   position is read as a comment (influxd reads it as a regex that Go's regexp always
 *   rejects), and marks the statement: a logged kind with one is UNKNOWN.
 * - influxd parses the whole q= before running any of it, so one unparseable statement fails the
 *   whole query: a caller must refuse the whole query if any statement is IQL_UNKNOWN.
 * - READ statements are classified by their leading keywords only (influxd answers a malformed
 *   one with its parse error, nothing changes). Logged kinds are checked against the grammar in
 *   full (identifiers, durations and their units, integer ranges, option order, WHERE
 *   expressions), except that the SELECT inside CREATE CONTINUOUS QUERY and a SELECT ... INTO
 *   are checked for shape only (balanced parentheses, INTO, FROM, END). Regex syntax (Go's
 *   regexp) and what influxd checks at execution (database exists, no time in DROP SERIES
 *   WHERE, ...) are not checked: a backend may still refuse a logged statement.
 * - A NUL byte: influxd's scanner reads it as the end of input in some states and not in
 *   others. Every statement of a query holding one is IQL_UNKNOWN (refuse, do not guess).
 *
 * Per-server statements (refused through the relay; run them on each server):
 *   DROP SHARD (shard ids differ per server), KILL QUERY (query ids are per process),
 *   CREATE/DROP SUBSCRIPTION (a subscription forwards the writes one server receives; created
 *   on every backend it would deliver every point once per backend).
 *   SHOW QUERIES, SHOW SHARDS, SHOW STATS, SHOW DIAGNOSTICS ... are reads: any backend answers. */
#ifndef IWR_INFLUXQL_H
#define IWR_INFLUXQL_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

/* ---- tokens ---- */

enum iql_tok {
    IQL_T_EOF = 0,
    IQL_T_WS,
    IQL_T_COMMENT,
    IQL_T_IDENT,      /* bare or "quoted" (not a keyword) */
    IQL_T_KEYWORD,    /* bare identifier that is an InfluxQL keyword (incl. AND OR TRUE FALSE) */
    IQL_T_BOUNDPARAM, /* $name or $"name" */
    IQL_T_NUMBER,     /* 1.5, .5, 1. */
    IQL_T_INTEGER,
    IQL_T_DURATION,   /* 10m, 1h30m, 5µs (units unchecked here) */
    IQL_T_STRING,
    IQL_T_REGEX,
    IQL_T_OP,         /* + - * / % & | ^ = != <> =~ !~ < <= > >= */
    IQL_T_PUNCT,      /* ( ) , : :: . */
    IQL_T_SEMICOLON,
    IQL_T_BADSTRING,  /* unterminated string or quoted identifier, or a newline inside */
    IQL_T_BADESCAPE,  /* a backslash escape influxd refuses; the token ends after it */
    IQL_T_BADREGEX,
    IQL_T_ILLEGAL,    /* any other byte, a lone '!', an unterminated block comment, NUL */
};

struct iql_token {
    enum iql_tok tok;
    size_t off, len; /* bytes of the input */
    int kw;          /* for IQL_T_KEYWORD: internal keyword number (> 0); else 0 */
    int regex_next;  /* a '/' after it (whitespace between) starts a regex (see above): the
                      * next iql_scan's regex_ok when it is the previous token but whitespace */
};

/* Scan one token of s[0, len) starting at 'pos' (< len; at len it returns IQL_T_EOF with
 * len 0). 'regex_ok': a '/' here starts a regex (see above). Returns pos + t->len; every token
 * but EOF is at least one byte long. */
size_t iql_scan(const char *s, size_t len, size_t pos, int regex_ok, struct iql_token *t);

/* Whether token 't' of s is of kind 'kind' and spelled 'text' in any case. */
int iql_token_is(const char *s, const struct iql_token *t, enum iql_tok kind, const char *text);

/* 's' appended to 'b' as an InfluxQL identifier in double quotes, or as a string in single
 * quotes: the quote and '\\' escaped, what the scanner reads back as 's'. */
void iql_quote_ident(struct buf *b, const char *s);
void iql_quote_string(struct buf *b, const char *s);

/* The value of identifier token 't' of s appended to 'out': unquoted, escapes undone, and with
 * 'lp_escape' in line protocol's escaped form (' ' and ',' after a backslash, as a series key
 * has them). Returns 0 for a token that is not an identifier or one not mapped here (empty, a
 * bare run glued to a quote, a newline or \n in the name); 'out' may then hold a part. */
int iql_ident_value(const char *s, const struct iql_token *t, int lp_escape, struct buf *out);

/* ---- statements ---- */

enum iql_kind {
    IQL_EMPTY = 0,    /* only whitespace, comments or nothing before ';' (influxd skips it) */
    IQL_READ,         /* SELECT without INTO, SHOW ..., EXPLAIN [ANALYZE] SELECT */
    IQL_WRITE,        /* changes schema, data or users: commit to the log */
    IQL_SELECT_INTO,  /* SELECT ... INTO (also EXPLAIN ... INTO): writes points */
    IQL_PER_SERVER,   /* DROP SHARD, KILL QUERY, CREATE/DROP SUBSCRIPTION */
    IQL_UNKNOWN,      /* influxd cannot parse it (or a NUL in the query) */
};

#define IQL_F_USER 1u     /* a user or privilege statement (CREATE/DROP USER, SET PASSWORD,
                           * GRANT, REVOKE) */
#define IQL_F_SECRET 2u   /* holds a password or credentials (CREATE USER, SET PASSWORD, and
                           * CREATE SUBSCRIPTION's destination URLs): print only iql_redact() */
#define IQL_F_NOW 4u      /* calls now(): iql_rewrite_now() before committing */
#define IQL_F_REGEX_COMMENT 8u /* a comment where influxd expects a regex (see above) */

struct iql_stmt {
    size_t off, len;           /* the piece of the input: pieces tile it exactly, each ending
                                * after its ';' (the last one at the end of the input) */
    size_t text_off, text_len; /* first to last token of the statement, no ';' (0 when EMPTY) */
    enum iql_kind kind;
    unsigned flags;            /* IQL_F_* */
    const char *name;          /* static: "DROP DATABASE", "SELECT", "SHOW QUERIES", "" */
};

/* Split q[0, len) into its ';'-separated pieces and classify each. Fills out[0, max) and returns
 * how many pieces there are (possibly more than max; len 0 gives 0). */
size_t iql_split(const char *q, size_t len, struct iql_stmt *out, size_t max);

/* Classify one statement (or a whole query: then the result is its first piece). */
void iql_classify(const char *s, size_t len, struct iql_stmt *out);

const char *iql_kind_name(enum iql_kind k); /* "empty", "read", "write", ... */

/* ---- rewrites ---- */

/* Append s[0, len) to 'out' with every call now() (an identifier, bare or quoted, whose value is
 * "now" in any case, glued to '(' as influxd requires for a call; "now( )" is one too)
 * replaced by the integer 'now_ns' (influxd reads an integer as nanoseconds wherever it compares
 * with time, and "integer - duration" as a time, so WHERE time < now() - 1h keeps its meaning).
 * A space is added where the number would otherwise merge with a neighbouring token. Pieces
 * that are CREATE CONTINUOUS QUERY are copied unchanged: a CQ evaluates now() at each run.
 * Returns the number of replacements; with none, 'out' receives exactly s. */
size_t iql_rewrite_now(const char *s, size_t len, int64_t now_ns, struct buf *out);

#define IQL_REDACTED "'[REDACTED]'"
/* Append s[0, len) (a statement or a whole query) to 'out' with every string literal of a piece
 * flagged IQL_F_SECRET replaced by IQL_REDACTED; if such a piece holds a bad string, bad escape
 * or illegal token (where a password could end or hide), everything from there to the end of
 * the input is replaced by IQL_REDACTED. Other pieces are copied as they are. Returns how many
 * replacements were made. */
size_t iql_redact(const char *s, size_t len, struct buf *out);

#endif
