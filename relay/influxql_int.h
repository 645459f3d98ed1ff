/* The pieces of relay/influxql.c's work that its three files share, internal to them:
 * influxql_scan.c is influxd's scanner (characters, tokens, and the tokens of one statement up to
 * its ';'), influxql_grammar.c the grammar checks of the statements that are logged (parser.go's
 * rules, on a statement's tokens), influxql.c the statement table, the classifier and the two
 * rewrites. Pure, any thread; see influxql.h for the public contract. */
#ifndef IWR_INFLUXQL_INT_H
#define IWR_INFLUXQL_INT_H

#include "relay/influxql.h"

#include <stddef.h>
#include <stdint.h>

/* Internal token codes: finer than enum iql_tok (each operator and punctuation has its own). */
enum tk {
    TK_EOF, TK_WS, TK_COMMENT, TK_IDENT, TK_KEYWORD, TK_BOUNDPARAM, TK_NUMBER, TK_INTEGER,
    TK_DURATION, TK_STRING, TK_REGEX,
    TK_ADD, TK_SUB, TK_MUL, TK_DIV, TK_MOD, TK_BAND, TK_BOR, TK_BXOR,
    TK_EQ, TK_NEQ, TK_EQREGEX, TK_NEQREGEX, TK_LT, TK_LTE, TK_GT, TK_GTE,
    TK_LPAREN, TK_RPAREN, TK_COMMA, TK_COLON, TK_DCOLON, TK_DOT, TK_SEMI,
    TK_BADSTRING, TK_BADESCAPE, TK_BADREGEX, TK_ILLEGAL,
};

/* influxd 1.6's keywords (token.go), plus AND, OR, TRUE and FALSE which it also looks up. */
enum kw {
    K_NONE, K_ALL, K_ALTER, K_ANALYZE, K_ANY, K_AS, K_ASC, K_BEGIN, K_BY, K_CARDINALITY,
    K_CREATE, K_CONTINUOUS, K_DATABASE, K_DATABASES, K_DEFAULT, K_DELETE, K_DESC,
    K_DESTINATIONS, K_DIAGNOSTICS, K_DISTINCT, K_DROP, K_DURATION, K_END, K_EVERY, K_EXACT,
    K_EXPLAIN, K_FIELD, K_FOR, K_FROM, K_GRANT, K_GRANTS, K_GROUP, K_GROUPS, K_IN, K_INF,
    K_INSERT, K_INTO, K_KEY, K_KEYS, K_KILL, K_LIMIT, K_MEASUREMENT, K_MEASUREMENTS, K_NAME,
    K_OFFSET, K_ON, K_ORDER, K_PASSWORD, K_POLICY, K_POLICIES, K_PRIVILEGES, K_QUERIES,
    K_QUERY, K_READ, K_REPLICATION, K_RESAMPLE, K_RETENTION, K_REVOKE, K_SELECT, K_SERIES,
    K_SET, K_SHOW, K_SHARD, K_SHARDS, K_SLIMIT, K_SOFFSET, K_STATS, K_SUBSCRIPTION,
    K_SUBSCRIPTIONS, K_TAG, K_TO, K_USER, K_USERS, K_VALUES, K_WHERE, K_WITH, K_WRITE,
    K_AND, K_OR, K_TRUE, K_FALSE, K_COUNT
};

/* ---- characters, as influxd's scanner sees them ---- */

static inline int is_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline int is_ident_char(unsigned char c)
{
    return is_letter(c) || is_digit(c) || c == '_';
}

static inline int is_mu(const char *s, size_t len, size_t i)
{
    return i + 1 < len && (unsigned char)s[i] == 0xC2 && (unsigned char)s[i + 1] == 0xB5;
}

/* ---- tokens ---- */

struct tok {
    enum tk tk;
    int kw;
    size_t off, len;
    int quoted;   /* an identifier or parameter with a "quoted" part */
    int sep;      /* what came before it: 0 nothing, 1 whitespace first, 2 a comment first */
};

/* The token at s[i] into *t (after these a '/' starts a regex when regex_ok); returns its end. */
size_t iql_tok_scan(const char *s, size_t len, size_t i, int regex_ok, struct tok *t);

/* ---- pieces: the tokens up to a ';' ---- */

struct piece {
    size_t off, end;       /* bytes, the ';' included */
    struct tok *v;         /* significant tokens (no whitespace, comments or ';') */
    size_t n, cap;
    unsigned flags;        /* IQL_F_REGEX_COMMENT */
};

/* Scan one piece from 'pos'; keeps the tokens when p->v is used (cap > 0 or v == NULL with
 * keep): the caller frees p->v. Returns the end of the piece. */
size_t iql_piece_scan(const char *s, size_t len, size_t pos, struct piece *p, int keep);

/* ---- grammar checks (parser.go), on a piece's tokens ---- */

struct parser {
    const char *s;
    const struct tok *v;
    size_t n, i;
    int depth;
};

/* Each check starts after the statement's keywords (p->i) and says whether influxd 1.6.7 would
 * parse the rest: 1 yes, 0 no. */
int iql_check_delete(struct parser *p);
int iql_check_ident(struct parser *p);
int iql_check_ident_on_ident(struct parser *p);
int iql_check_create_database(struct parser *p);
int iql_check_create_rp(struct parser *p);
int iql_check_alter_rp(struct parser *p);
int iql_check_create_user(struct parser *p);
int iql_check_set_password(struct parser *p);
int iql_check_grant(struct parser *p);
int iql_check_revoke(struct parser *p);
int iql_check_drop_shard(struct parser *p);
int iql_check_kill_query(struct parser *p);
int iql_check_create_cq(struct parser *p);
/* Takes the next token if it is keyword 'kw': 1 taken, 0 not. */
int iql_accept_kw(struct parser *p, int kw);
/* The shape of a SELECT after its SELECT keyword, up to token 'end': parentheses balance, and
 * INTO (when 'into') and then FROM appear at the top level. 1 yes, 0 no. */
int iql_select_shape(struct parser *p, size_t end, int into);

#endif
