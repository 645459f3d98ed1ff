/* InfluxQL statement splitter and classifier, and the now() and password rewrites (see
 * influxql.h for what is followed exactly and where it is approximated): the statement table
 * that maps influxd's parse tree onto our kinds, over the scanner (influxql_scan.c) and the
 * grammar checks (influxql_grammar.c). Pure: owns nothing beyond the token vector of the
 * statement being classified, freed before returning; any thread. */
#include "relay/influxql_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the statement table: influxd's parse tree, leaf by leaf ---- */

struct stmt_def {
    unsigned char kw[4];
    enum iql_kind kind;
    unsigned flags;
    int (*check)(struct parser *p); /* logged and per-server kinds; NULL for reads */
    const char *name;
};

static const struct stmt_def defs[] = {
    {{K_SELECT}, IQL_READ, 0, NULL, "SELECT"},
    {{K_DELETE}, IQL_WRITE, 0, iql_check_delete, "DELETE"},
    {{K_EXPLAIN}, IQL_READ, 0, NULL, "EXPLAIN"},
    {{K_SHOW, K_CONTINUOUS, K_QUERIES}, IQL_READ, 0, NULL, "SHOW CONTINUOUS QUERIES"},
    {{K_SHOW, K_DATABASES}, IQL_READ, 0, NULL, "SHOW DATABASES"},
    {{K_SHOW, K_DIAGNOSTICS}, IQL_READ, 0, NULL, "SHOW DIAGNOSTICS"},
    {{K_SHOW, K_FIELD, K_KEY}, IQL_READ, 0, NULL, "SHOW FIELD KEY CARDINALITY"},
    {{K_SHOW, K_FIELD, K_KEYS}, IQL_READ, 0, NULL, "SHOW FIELD KEYS"},
    {{K_SHOW, K_GRANTS, K_FOR}, IQL_READ, 0, NULL, "SHOW GRANTS"},
    {{K_SHOW, K_MEASUREMENT, K_EXACT}, IQL_READ, 0, NULL, "SHOW MEASUREMENT EXACT CARDINALITY"},
    {{K_SHOW, K_MEASUREMENT, K_CARDINALITY}, IQL_READ, 0, NULL, "SHOW MEASUREMENT CARDINALITY"},
    {{K_SHOW, K_MEASUREMENTS}, IQL_READ, 0, NULL, "SHOW MEASUREMENTS"},
    {{K_SHOW, K_QUERIES}, IQL_READ, 0, NULL, "SHOW QUERIES"},
    {{K_SHOW, K_RETENTION, K_POLICIES}, IQL_READ, 0, NULL, "SHOW RETENTION POLICIES"},
    {{K_SHOW, K_SERIES}, IQL_READ, 0, NULL, "SHOW SERIES"},
    {{K_SHOW, K_SHARD, K_GROUPS}, IQL_READ, 0, NULL, "SHOW SHARD GROUPS"},
    {{K_SHOW, K_SHARDS}, IQL_READ, 0, NULL, "SHOW SHARDS"},
    {{K_SHOW, K_STATS}, IQL_READ, 0, NULL, "SHOW STATS"},
    {{K_SHOW, K_SUBSCRIPTIONS}, IQL_READ, 0, NULL, "SHOW SUBSCRIPTIONS"},
    {{K_SHOW, K_TAG, K_KEY}, IQL_READ, 0, NULL, "SHOW TAG KEY CARDINALITY"},
    {{K_SHOW, K_TAG, K_KEYS}, IQL_READ, 0, NULL, "SHOW TAG KEYS"},
    {{K_SHOW, K_TAG, K_VALUES}, IQL_READ, 0, NULL, "SHOW TAG VALUES"},
    {{K_SHOW, K_USERS}, IQL_READ, 0, NULL, "SHOW USERS"},
    {{K_CREATE, K_CONTINUOUS, K_QUERY}, IQL_WRITE, 0, iql_check_create_cq, "CREATE CONTINUOUS QUERY"},
    {{K_CREATE, K_DATABASE}, IQL_WRITE, 0, iql_check_create_database, "CREATE DATABASE"},
    {{K_CREATE, K_USER}, IQL_WRITE, IQL_F_USER | IQL_F_SECRET, iql_check_create_user, "CREATE USER"},
    {{K_CREATE, K_RETENTION, K_POLICY}, IQL_WRITE, 0, iql_check_create_rp, "CREATE RETENTION POLICY"},
    {{K_CREATE, K_SUBSCRIPTION}, IQL_PER_SERVER, IQL_F_SECRET, NULL, "CREATE SUBSCRIPTION"},
    {{K_DROP, K_CONTINUOUS, K_QUERY}, IQL_WRITE, 0, iql_check_ident_on_ident, "DROP CONTINUOUS QUERY"},
    {{K_DROP, K_DATABASE}, IQL_WRITE, 0, iql_check_ident, "DROP DATABASE"},
    {{K_DROP, K_MEASUREMENT}, IQL_WRITE, 0, iql_check_ident, "DROP MEASUREMENT"},
    {{K_DROP, K_RETENTION, K_POLICY}, IQL_WRITE, 0, iql_check_ident_on_ident, "DROP RETENTION POLICY"},
    {{K_DROP, K_SERIES}, IQL_WRITE, 0, iql_check_delete, "DROP SERIES"},
    {{K_DROP, K_SHARD}, IQL_PER_SERVER, 0, iql_check_drop_shard, "DROP SHARD"},
    {{K_DROP, K_SUBSCRIPTION}, IQL_PER_SERVER, 0, NULL, "DROP SUBSCRIPTION"},
    {{K_DROP, K_USER}, IQL_WRITE, IQL_F_USER, iql_check_ident, "DROP USER"},
    {{K_GRANT}, IQL_WRITE, IQL_F_USER, iql_check_grant, "GRANT"},
    {{K_REVOKE}, IQL_WRITE, IQL_F_USER, iql_check_revoke, "REVOKE"},
    {{K_ALTER, K_RETENTION, K_POLICY}, IQL_WRITE, 0, iql_check_alter_rp, "ALTER RETENTION POLICY"},
    {{K_SET, K_PASSWORD, K_FOR}, IQL_WRITE, IQL_F_USER | IQL_F_SECRET, iql_check_set_password,
     "SET PASSWORD"},
    {{K_KILL, K_QUERY}, IQL_PER_SERVER, 0, iql_check_kill_query, "KILL QUERY"},
};

static int is_kw(const struct tok *t, int kw)
{
    return t->tk == TK_KEYWORD && t->kw == kw;
}

/* now() as influxd 1.6.7 parses a call without arguments: the identifier "now" (any case, bare
 * or the quoted part) glued to '(', then ')' (whitespace allowed before it: "now( )" is a call,
 * "now ()" is not). i indexes a piece's tokens. */
static int is_now_call(const char *s, const struct tok *v, size_t n, size_t i)
{
    const struct tok *t = &v[i];
    if (t->tk != TK_IDENT || i + 2 >= n)
        return 0;
    if (v[i + 1].tk != TK_LPAREN || v[i + 1].sep != 0 || v[i + 2].tk != TK_RPAREN)
        return 0;
    const char *name = s + t->off;
    size_t nlen = t->len;
    if (t->quoted) {
        const char *q = memchr(name, '"', nlen);
        nlen -= (size_t)(q - name) + 2;
        name = q + 1;
    }
    return nlen == 3 && strncasecmp(name, "now", 3) == 0;
}

/* Secret: user statements and subscriptions, and to be safe any piece whose bytes name a
 * password anywhere (a broken quote can move one out of its statement). */
static int piece_secret(const char *s, const struct piece *pc)
{
    for (size_t i = pc->off; i + 8 <= pc->end; i++)
        if ((s[i] | 0x20) == 'p' && strncasecmp(s + i, "password", 8) == 0)
            return 1;
    if (pc->n == 0)
        return 0;
    if (is_kw(&pc->v[0], K_SET))
        return 1;
    for (size_t i = 0; i < pc->n; i++)
        if (is_kw(&pc->v[i], K_PASSWORD) || is_kw(&pc->v[i], K_SUBSCRIPTION) ||
            (i == 1 && is_kw(&pc->v[0], K_CREATE) && is_kw(&pc->v[1], K_USER)))
            return 1;
    return 0;
}

static void classify_piece(const char *s, const struct piece *pc, int has_nul, struct iql_stmt *st)
{
    st->off = pc->off;
    st->len = pc->end - pc->off;
    st->flags = pc->flags;
    st->name = "";
    st->text_off = pc->off;
    st->text_len = 0;
    if (pc->n == 0) {
        st->kind = has_nul ? IQL_UNKNOWN : IQL_EMPTY;
        return;
    }
    const struct tok *first = &pc->v[0], *last = &pc->v[pc->n - 1];
    st->text_off = first->off;
    st->text_len = last->off + last->len - first->off;
    st->kind = IQL_UNKNOWN;
    if (piece_secret(s, pc))
        st->flags |= IQL_F_SECRET;
    if (has_nul)
        return;
    int into = 0;
    for (size_t i = 0; i < pc->n; i++) {
        enum tk k = pc->v[i].tk;
        if (k == TK_BADSTRING || k == TK_BADESCAPE || k == TK_BADREGEX || k == TK_ILLEGAL)
            return;
        if (is_kw(&pc->v[i], K_INTO))
            into = 1;
    }
    const struct stmt_def *d = NULL;
    size_t k = 0;
    for (size_t j = 0; j < sizeof(defs) / sizeof(defs[0]) && d == NULL; j++) {
        for (k = 0; k < 4 && defs[j].kw[k] != 0; k++)
            if (k >= pc->n || !is_kw(&pc->v[k], defs[j].kw[k]))
                break;
        if (k == 4 || defs[j].kw[k] == 0)
            d = &defs[j];
    }
    if (d == NULL)
        return;
    st->name = d->name;
    st->flags |= d->flags;
    struct parser p = {.s = s, .v = pc->v, .n = pc->n, .i = k};
    enum iql_kind kind = d->kind;
    if ((d->kw[0] == K_SELECT || d->kw[0] == K_EXPLAIN) && into) {
        /* EXPLAIN [ANALYZE] SELECT ... INTO: as the SELECT it runs. */
        if (d->kw[0] == K_EXPLAIN) {
            iql_accept_kw(&p, K_ANALYZE);
            if (!iql_accept_kw(&p, K_SELECT))
                return;
        }
        if (!iql_select_shape(&p, pc->n, 1))
            return;
        kind = IQL_SELECT_INTO;
    } else if (d->check != NULL && !d->check(&p)) {
        return;
    }
    st->kind = kind;
    /* A continuous query evaluates now() each time it runs: never rewritten, not flagged. */
    if (!(d->kw[0] == K_CREATE && d->kw[1] == K_CONTINUOUS))
        for (size_t i = 0; i < pc->n; i++)
            if (is_now_call(s, pc->v, pc->n, i)) {
                st->flags |= IQL_F_NOW;
                break;
            }
    if ((st->flags & IQL_F_REGEX_COMMENT) && kind != IQL_READ)
        st->kind = IQL_UNKNOWN;
}

size_t iql_split(const char *q, size_t len, struct iql_stmt *out, size_t max)
{
    struct piece pc = {0};
    int has_nul = memchr(q, '\0', len) != NULL;
    size_t count = 0, pos = 0;
    while (pos < len) {
        pos = iql_piece_scan(q, len, pos, &pc, 1);
        if (count < max)
            classify_piece(q, &pc, has_nul, &out[count]);
        count++;
    }
    free(pc.v);
    return count;
}

void iql_classify(const char *s, size_t len, struct iql_stmt *out)
{
    struct piece pc = {0};
    iql_piece_scan(s, len, 0, &pc, 1);
    classify_piece(s, &pc, memchr(s, '\0', len) != NULL, out);
    free(pc.v);
}

const char *iql_kind_name(enum iql_kind k)
{
    switch (k) {
    case IQL_EMPTY: return "empty";
    case IQL_READ: return "read";
    case IQL_WRITE: return "write";
    case IQL_SELECT_INTO: return "select-into";
    case IQL_PER_SERVER: return "per-server";
    case IQL_UNKNOWN: return "unknown";
    }
    return "?";
}

/* A byte that would merge with a number written next to it. */
static int merges(unsigned char c)
{
    return is_ident_char(c) || c == '.' || c == '"' || c == '$' || c >= 0x80;
}

size_t iql_rewrite_now(const char *s, size_t len, int64_t now_ns, struct buf *out)
{
    struct piece pc = {0};
    size_t pos = 0, copied = 0, count = 0;
    while (pos < len) {
        pos = iql_piece_scan(s, len, pos, &pc, 1);
        if (pc.n >= 2 && is_kw(&pc.v[0], K_CREATE) && is_kw(&pc.v[1], K_CONTINUOUS))
            continue;
        for (size_t i = 0; i < pc.n; i++) {
            if (!is_now_call(s, pc.v, pc.n, i))
                continue;
            size_t start = pc.v[i].off, end = pc.v[i + 2].off + 1; /* "now( )" goes whole */
            buf_append(out, s + copied, start - copied);
            if (start > 0 && merges((unsigned char)s[start - 1]))
                buf_append(out, " ", 1);
            buf_append_i64(out, now_ns);
            if (end < len && merges((unsigned char)s[end]))
                buf_append(out, " ", 1);
            copied = end;
            count++;
            i += 2;
        }
    }
    buf_append(out, s + copied, len - copied);
    free(pc.v);
    return count;
}

size_t iql_redact(const char *s, size_t len, struct buf *out)
{
    struct piece pc = {0};
    size_t pos = 0, copied = 0, count = 0;
    while (pos < len) {
        pos = iql_piece_scan(s, len, pos, &pc, 1);
        if (!piece_secret(s, &pc))
            continue;
        for (size_t i = 0; i < pc.n; i++) {
            const struct tok *t = &pc.v[i];
            if (t->tk == TK_STRING) {
                buf_append(out, s + copied, t->off - copied);
                buf_append_str(out, IQL_REDACTED);
                copied = t->off + t->len;
                count++;
            } else if (t->tk == TK_BADSTRING || t->tk == TK_BADESCAPE ||
                       t->tk == TK_ILLEGAL || t->tk == TK_BADREGEX) {
                /* Where a string went wrong the rest may be password: hide all of it. */
                buf_append(out, s + copied, t->off - copied);
                buf_append_str(out, IQL_REDACTED);
                free(pc.v);
                return count + 1;
            }
        }
    }
    buf_append(out, s + copied, len - copied);
    free(pc.v);
    return count;
}

static void quote_with(struct buf *b, const char *s, char q)
{
    buf_append(b, &q, 1);
    for (; *s != '\0'; s++) {
        if (*s == q || *s == '\\')
            buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
    buf_append(b, &q, 1);
}

void iql_quote_ident(struct buf *b, const char *s)
{
    quote_with(b, s, '"');
}

void iql_quote_string(struct buf *b, const char *s)
{
    quote_with(b, s, '\'');
}
