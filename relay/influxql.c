/* InfluxQL tokenizer, statement splitter and classifier, and the now() and password rewrites
 * (see influxql.h for what is followed exactly and where it is approximated). Pure: owns nothing
 * beyond the token vector of the statement being classified, freed before returning; any
 * thread. */
#include "relay/influxql.h"

#include "common/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static const char *const kw_names[K_COUNT] = {
    "", "ALL", "ALTER", "ANALYZE", "ANY", "AS", "ASC", "BEGIN", "BY", "CARDINALITY",
    "CREATE", "CONTINUOUS", "DATABASE", "DATABASES", "DEFAULT", "DELETE", "DESC",
    "DESTINATIONS", "DIAGNOSTICS", "DISTINCT", "DROP", "DURATION", "END", "EVERY", "EXACT",
    "EXPLAIN", "FIELD", "FOR", "FROM", "GRANT", "GRANTS", "GROUP", "GROUPS", "IN", "INF",
    "INSERT", "INTO", "KEY", "KEYS", "KILL", "LIMIT", "MEASUREMENT", "MEASUREMENTS", "NAME",
    "OFFSET", "ON", "ORDER", "PASSWORD", "POLICY", "POLICIES", "PRIVILEGES", "QUERIES",
    "QUERY", "READ", "REPLICATION", "RESAMPLE", "RETENTION", "REVOKE", "SELECT", "SERIES",
    "SET", "SHOW", "SHARD", "SHARDS", "SLIMIT", "SOFFSET", "STATS", "SUBSCRIPTION",
    "SUBSCRIPTIONS", "TAG", "TO", "USER", "USERS", "VALUES", "WHERE", "WITH", "WRITE",
    "AND", "OR", "TRUE", "FALSE",
};

/* ---- characters, as influxd's scanner sees them ---- */

static int is_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_ident_char(unsigned char c)
{
    return is_letter(c) || is_digit(c) || c == '_';
}

/* CR and CRLF read as LF in influxd's reader. */
static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_mu(const char *s, size_t len, size_t i)
{
    return i + 1 < len && (unsigned char)s[i] == 0xC2 && (unsigned char)s[i + 1] == 0xB5;
}

/* Length of the UTF-8 sequence at s[i] (1 for an invalid one: Go reads it as U+FFFD, 1 byte). */
static size_t utf8_len(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                            : (c & 0xF8) == 0xF0 ? 4 : 1;
    if (n == 1 || i + n > len)
        return 1;
    for (size_t k = 1; k < n; k++)
        if (((unsigned char)s[i + k] & 0xC0) != 0x80)
            return 1;
    return n;
}

/* A newline as the reader delivers it: LF, CR or CRLF; returns its length or 0. */
static size_t newline_at(const char *s, size_t len, size_t i)
{
    if (s[i] == '\n')
        return 1;
    if (s[i] == '\r')
        return i + 1 < len && s[i + 1] == '\n' ? 2 : 1;
    return 0;
}

/* ---- the scanner ---- */

/* Within a string or regex, at s[j]: where the token ends if it ends here, with *tok set (the end
 * of the input or a NUL, or a newline: 'bad'; the 'close' character: 'good'), else 0. */
static size_t delimited_end(const char *s, size_t len, size_t j, char close, enum tk good,
                            enum tk bad, enum tk *tok)
{
    if (j >= len || s[j] == '\0') {
        *tok = bad;
        return j >= len ? len : j + 1;
    }
    if (s[j] == close) {
        *tok = good;
        return j + 1;
    }
    size_t nl = newline_at(s, len, j);
    if (nl) {
        *tok = bad;
        return j + nl;
    }
    return 0;
}

/* A quoted string or identifier from s[i] (the quote). influxd's ScanString: escapes \n \\ \"
 * \' only, a newline or the end is a bad string, another escape a bad escape ending after it. */
static size_t scan_quoted(const char *s, size_t len, size_t i, enum tk *tok)
{
    char q = s[i];
    size_t j = i + 1;
    for (;;) {
        size_t end = delimited_end(s, len, j, q, TK_STRING, TK_BADSTRING, tok);
        if (end != 0)
            return end;
        if (s[j] == '\\') {
            if (j + 1 >= len) {
                *tok = TK_BADESCAPE;
                return len;
            }
            char e = s[j + 1];
            if (e != 'n' && e != '\\' && e != '"' && e != '\'') {
                *tok = TK_BADESCAPE;
                return j + 1 + utf8_len(s, len, j + 1);
            }
            j += 2;
            continue;
        }
        j++;
    }
}

/* An identifier from s[i] (a letter, '_' or '"'), or a bound parameter's name: influxd's
 * scanIdent, which glues bare runs and stops after the first quoted part. */
static size_t scan_ident(const char *s, size_t len, size_t i, enum tk *tok, int *quoted)
{
    size_t j = i;
    *quoted = 0;
    *tok = TK_IDENT;
    for (;;) {
        if (j < len && s[j] == '"') {
            enum tk q;
            j = scan_quoted(s, len, j, &q);
            *quoted = 1;
            if (q != TK_STRING)
                *tok = q;
            return j;
        }
        if (j < len && is_ident_char((unsigned char)s[j])) {
            while (j < len && is_ident_char((unsigned char)s[j]))
                j++;
            continue;
        }
        return j;
    }
}

static int keyword_lookup(const char *s, size_t n)
{
    if (n < 2 || n > 13)
        return K_NONE;
    for (int k = 1; k < K_COUNT; k++)
        if (strlen(kw_names[k]) == n && strncasecmp(kw_names[k], s, n) == 0)
            return k;
    return K_NONE;
}

static size_t scan_number(const char *s, size_t len, size_t i, enum tk *tok)
{
    size_t j = i;
    while (j < len && is_digit((unsigned char)s[j]))
        j++;
    if (j < len && s[j] == '.') {
        /* influxd consumes the '.' even when no digit follows ("1." is the number 1). */
        j++;
        while (j < len && is_digit((unsigned char)s[j]))
            j++;
        *tok = TK_NUMBER;
        return j;
    }
    if (j < len && (is_letter((unsigned char)s[j]) || is_mu(s, len, j))) {
        while (j < len) {
            if (is_mu(s, len, j))
                j += 2;
            else if (is_letter((unsigned char)s[j]) || is_digit((unsigned char)s[j]))
                j++;
            else
                break;
        }
        *tok = TK_DURATION;
        return j;
    }
    *tok = TK_INTEGER;
    return j;
}

/* A regex from s[i] (the '/'): only "\/" escapes; a backslash before anything else stays and
 * that character is read again (so "\\/" escapes the slash). A newline or the end is bad. */
static size_t scan_regex(const char *s, size_t len, size_t i, enum tk *tok)
{
    size_t j = i + 1;
    for (;;) {
        size_t end = delimited_end(s, len, j, '/', TK_REGEX, TK_BADREGEX, tok);
        if (end != 0)
            return end;
        if (s[j] == '\\') {
            if (j + 1 >= len) {
                *tok = TK_BADREGEX;
                return len;
            }
            j += s[j + 1] == '/' ? 2 : 1;
            continue;
        }
        j++;
    }
}

/* The comparison and cast operators, each two-character one before the one-character one it
 * starts with; a lone '!' is none of them. */
static const struct {
    char op[3];
    enum tk tk;
} operators[] = {
    {"=~", TK_EQREGEX}, {"=", TK_EQ},
    {"!=", TK_NEQ},     {"!~", TK_NEQREGEX},
    {">=", TK_GTE},     {">", TK_GT},
    {"<=", TK_LTE},     {"<>", TK_NEQ},      {"<", TK_LT},
    {"::", TK_DCOLON},  {":", TK_COLON},
};

/* The operator at s[i]: its end, with *tok set, or 0 where none starts there. */
static size_t scan_operator(const char *s, size_t len, size_t i, enum tk *tok)
{
    for (size_t n = 0; n < sizeof(operators) / sizeof(operators[0]); n++) {
        const char *op = operators[n].op;
        if (s[i] != op[0])
            continue;
        if (op[1] == '\0' || (i + 1 < len && s[i + 1] == op[1])) {
            *tok = operators[n].tk;
            return op[1] == '\0' ? i + 1 : i + 2;
        }
    }
    return 0;
}

struct tok {
    enum tk tk;
    int kw;
    size_t off, len;
    int quoted;   /* an identifier or parameter with a "quoted" part */
    int sep;      /* what came before it: 0 nothing, 1 whitespace first, 2 a comment first */
};

static size_t scan(const char *s, size_t len, size_t i, int regex_ok, struct tok *t)
{
    memset(t, 0, sizeof(*t));
    t->off = i;
    if (i >= len) {
        t->tk = TK_EOF;
        return i;
    }
    unsigned char c = (unsigned char)s[i];
    size_t j = i + 1;
    enum tk k = TK_ILLEGAL;
    if (is_ws(c)) {
        while (j < len && is_ws((unsigned char)s[j]))
            j++;
        k = TK_WS;
    } else if (is_letter(c) || c == '_' || c == '"') {
        j = scan_ident(s, len, i, &k, &t->quoted);
        if (k == TK_IDENT && !t->quoted && (t->kw = keyword_lookup(s + i, j - i)) != K_NONE)
            k = TK_KEYWORD;
    } else if (is_digit(c) || (c == '.' && j < len && is_digit((unsigned char)s[j]))) {
        j = scan_number(s, len, i, &k);
    } else if (c == '/' && j < len && s[j] == '*') {
        /* Block comment; a regex position reads it as one too (see influxql.h). */
        const char *end = NULL;
        for (size_t p = i + 2; p + 1 < len; p++)
            if (s[p] == '*' && s[p + 1] == '/') {
                end = s + p + 2;
                break;
            }
        if (end == NULL) {
            k = TK_ILLEGAL;
            j = len;
        } else {
            k = TK_COMMENT;
            j = (size_t)(end - s);
        }
    } else if (c == '/' && regex_ok) {
        j = scan_regex(s, len, i, &k);
    } else {
        switch (c) {
        case '\'':
            j = scan_quoted(s, len, i, &k);
            break;
        case '$':
            j = scan_ident(s, len, i + 1, &k, &t->quoted);
            if (k == TK_IDENT)
                k = TK_BOUNDPARAM;
            break;
        case '-':
            if (j < len && s[j] == '-') {
                while (j < len && s[j] != '\0') {
                    size_t nl = newline_at(s, len, j);
                    if (nl) {
                        j += nl;
                        break;
                    }
                    j++;
                }
                if (j < len && s[j] == '\0')
                    j++;
                k = TK_COMMENT;
            } else {
                k = TK_SUB;
            }
            break;
        case '+': k = TK_ADD; break;
        case '*': k = TK_MUL; break;
        case '/': k = TK_DIV; break;
        case '%': k = TK_MOD; break;
        case '&': k = TK_BAND; break;
        case '|': k = TK_BOR; break;
        case '^': k = TK_BXOR; break;
        case '(': k = TK_LPAREN; break;
        case ')': k = TK_RPAREN; break;
        case ',': k = TK_COMMA; break;
        case ';': k = TK_SEMI; break;
        case '.': k = TK_DOT; break;
        default:
            j = scan_operator(s, len, i, &k);
            if (j == 0)
                j = i + utf8_len(s, len, i);
            break;
        }
    }
    t->tk = k;
    t->len = j - i;
    return j;
}

/* After these a '/' starts a regex: every place influxd's parser calls parseRegex. */
static int regex_trigger(const struct tok *t)
{
    switch (t->tk) {
    case TK_COMMA: case TK_LPAREN: case TK_EQ: case TK_NEQ: case TK_EQREGEX: case TK_NEQREGEX:
    case TK_DOT:
        return 1;
    case TK_KEYWORD:
        return t->kw == K_SELECT || t->kw == K_FROM || t->kw == K_BY;
    default:
        return 0;
    }
}

size_t iql_scan(const char *s, size_t len, size_t pos, int regex_ok, struct iql_token *out)
{
    struct tok t;
    size_t end = scan(s, len, pos, regex_ok, &t);
    static const enum iql_tok map[] = {
        [TK_EOF] = IQL_T_EOF, [TK_WS] = IQL_T_WS, [TK_COMMENT] = IQL_T_COMMENT,
        [TK_IDENT] = IQL_T_IDENT, [TK_KEYWORD] = IQL_T_KEYWORD,
        [TK_BOUNDPARAM] = IQL_T_BOUNDPARAM, [TK_NUMBER] = IQL_T_NUMBER,
        [TK_INTEGER] = IQL_T_INTEGER, [TK_DURATION] = IQL_T_DURATION,
        [TK_STRING] = IQL_T_STRING, [TK_REGEX] = IQL_T_REGEX, [TK_LPAREN] = IQL_T_PUNCT,
        [TK_RPAREN] = IQL_T_PUNCT, [TK_COMMA] = IQL_T_PUNCT, [TK_COLON] = IQL_T_PUNCT,
        [TK_DCOLON] = IQL_T_PUNCT, [TK_DOT] = IQL_T_PUNCT, [TK_SEMI] = IQL_T_SEMICOLON,
        [TK_BADSTRING] = IQL_T_BADSTRING, [TK_BADESCAPE] = IQL_T_BADESCAPE,
        [TK_BADREGEX] = IQL_T_BADREGEX, [TK_ILLEGAL] = IQL_T_ILLEGAL,
    };
    out->tok = t.tk >= TK_ADD && t.tk <= TK_GTE ? IQL_T_OP : map[t.tk];
    out->off = t.off;
    out->len = t.len;
    out->kw = t.tk == TK_KEYWORD ? t.kw : 0;
    return end;
}

/* ---- pieces: the tokens up to a ';' ---- */

struct piece {
    size_t off, end;       /* bytes, the ';' included */
    struct tok *v;         /* significant tokens (no whitespace, comments or ';') */
    size_t n, cap;
    unsigned flags;        /* IQL_F_REGEX_COMMENT */
};

/* Scan one piece from 'pos'; keeps the tokens when p->v is used (cap > 0 or v == NULL with
 * keep). Returns the end of the piece. */
static size_t piece_scan(const char *s, size_t len, size_t pos, struct piece *p, int keep)
{
    p->off = pos;
    p->n = 0;
    p->flags = 0;
    int regex_ok = 0, sep = 0;
    for (;;) {
        struct tok t;
        size_t next = scan(s, len, pos, regex_ok, &t);
        if (t.tk == TK_EOF) {
            p->end = pos;
            return pos;
        }
        pos = next;
        if (t.tk == TK_SEMI) {
            p->end = pos;
            return pos;
        }
        if (t.tk == TK_WS) {
            if (sep == 0)
                sep = 1;
            continue;
        }
        if (t.tk == TK_COMMENT) {
            if (regex_ok && s[t.off] == '/')
                p->flags |= IQL_F_REGEX_COMMENT;
            if (sep == 0)
                sep = 2;
            regex_ok = 0;
            continue;
        }
        t.sep = sep;
        sep = 0;
        regex_ok = regex_trigger(&t);
        if (keep) {
            if (p->n == p->cap) {
                p->cap = p->cap ? p->cap * 2 : 32;
                p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
            }
            p->v[p->n] = t;
        }
        p->n++;
    }
}

/* ---- grammar checks (parser.go), on a piece's tokens ---- */

struct parser {
    const char *s;
    const struct tok *v;
    size_t n, i;
    int depth;
};

#define DEPTH_MAX 200

static const struct tok *peek(struct parser *p)
{
    static const struct tok eof = {.tk = TK_EOF};
    return p->i < p->n ? &p->v[p->i] : &eof;
}

static int accept_kw(struct parser *p, int kw)
{
    const struct tok *t = peek(p);
    if (t->tk == TK_KEYWORD && t->kw == kw) {
        p->i++;
        return 1;
    }
    return 0;
}

static int accept(struct parser *p, enum tk tk)
{
    if (peek(p)->tk == tk) {
        p->i++;
        return 1;
    }
    return 0;
}

static int at_end(struct parser *p)
{
    return p->i == p->n;
}

static int ident(struct parser *p)
{
    return accept(p, TK_IDENT);
}

static int string_lit(struct parser *p)
{
    return accept(p, TK_STRING);
}

/* strconv.ParseUint(lit, 10, 64) succeeds. */
static int uint64_ok(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}

/* ParseDuration: digit runs each followed by a unit (ns u µ ms s m h d w), int64 arithmetic
 * that wraps as Go's does, refused if the total ends up negative. */
static int duration_ok(const char *s, size_t n)
{
    size_t i = 0;
    uint64_t d = 0;
    if (n < 2)
        return 0;
    while (i < n) {
        size_t start = i;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
        uint64_t v;
        if (i >= n || i == start || !uint64_ok(s + start, i - start, &v) || v > INT64_MAX)
            return 0;
        uint64_t unit;
        if (s[i] == 'n') {
            if (i + 1 >= n || s[i + 1] != 's')
                return 0;
            unit = 1;
            i += 2;
        } else if (s[i] == 'u') {
            unit = 1000;
            i++;
        } else if (is_mu(s, n, i)) {
            unit = 1000;
            i += 2;
        } else if (s[i] == 'm') {
            if (i + 1 < n && s[i + 1] == 's') {
                unit = 1000000;
                i += 2;
            } else {
                unit = UINT64_C(60000000000);
                i++;
            }
        } else if (s[i] == 's') {
            unit = UINT64_C(1000000000);
            i++;
        } else if (s[i] == 'h') {
            unit = UINT64_C(3600000000000);
            i++;
        } else if (s[i] == 'd') {
            unit = UINT64_C(86400000000000);
            i++;
        } else if (s[i] == 'w') {
            unit = UINT64_C(604800000000000);
            i++;
        } else {
            return 0;
        }
        d += v * unit;
    }
    return (int64_t)d >= 0;
}

static int tok_duration_ok(struct parser *p, const struct tok *t)
{
    return t->tk == TK_DURATION && duration_ok(p->s + t->off, t->len);
}

/* DURATION value: a valid duration or INF (when inf_ok). */
static int duration_val(struct parser *p, int inf_ok)
{
    const struct tok *t = peek(p);
    if (t->tk == TK_KEYWORD && t->kw == K_INF) {
        p->i++;
        return inf_ok;
    }
    if (!tok_duration_ok(p, t))
        return 0;
    p->i++;
    return 1;
}

/* ParseInt(1, MaxInt32). */
static int replication_val(struct parser *p)
{
    const struct tok *t = peek(p);
    uint64_t v;
    if (t->tk != TK_INTEGER || !uint64_ok(p->s + t->off, t->len, &v) || v < 1 || v > INT32_MAX)
        return 0;
    p->i++;
    return 1;
}

static int uint64_val(struct parser *p)
{
    const struct tok *t = peek(p);
    uint64_t v;
    if (t->tk != TK_INTEGER || !uint64_ok(p->s + t->off, t->len, &v))
        return 0;
    p->i++;
    return 1;
}

/* strconv.ParseFloat accepts it: only an overflow to infinity fails (the scanner allows no
 * exponent, so that takes more than 308 integer digits). */
static int number_ok(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    while (i < n && s[i] == '0')
        i++;
    while (i < n && is_digit((unsigned char)s[i])) {
        i++;
        digits++;
    }
    if (digits < 309)
        return 1;
    if (digits > 309 || n > 1024)
        return 0;
    char tmp[1025];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    double x = strtod(tmp, NULL);
    return !(errno == ERANGE && x > 1.0);
}

static int expr(struct parser *p);

static int glued(const struct parser *p)
{
    return p->i < p->n && p->v[p->i].sep == 0;
}

/* A call's arguments, after "name(": regex or expression, comma-separated, then ')'. */
static int call_args(struct parser *p)
{
    if (accept(p, TK_RPAREN))
        return 1;
    for (;;) {
        if (!accept(p, TK_REGEX) && !expr(p))
            return 0;
        if (!accept(p, TK_COMMA))
            break;
    }
    return accept(p, TK_RPAREN);
}

/* parseSegmentedIdents then an optional ::type (ParseVarRef). The IDENT is consumed. */
static int var_ref(struct parser *p)
{
    size_t segs = 1;
    while (glued(p) && peek(p)->tk == TK_DOT) {
        p->i++;
        const struct tok *t = peek(p);
        if (glued(p) && (t->tk == TK_REGEX || t->tk == TK_COLON || t->tk == TK_DCOLON))
            break;
        if (glued(p) && t->tk == TK_DOT) {
            segs++;
            continue;
        }
        if (!ident(p))
            return 0;
        segs++;
    }
    if (segs > 3)
        return 0;
    if (glued(p) && accept(p, TK_DCOLON)) {
        const struct tok *t = peek(p);
        if (!glued(p))
            return 0;
        if (t->tk == TK_KEYWORD && (t->kw == K_FIELD || t->kw == K_TAG)) {
            p->i++;
            return 1;
        }
        static const char *const types[] = {"float", "integer", "unsigned", "string", "boolean"};
        if (t->tk != TK_IDENT || t->quoted)
            return 0;
        for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
            if (strlen(types[k]) == t->len && strncasecmp(types[k], p->s + t->off, t->len) == 0) {
                p->i++;
                return 1;
            }
        return 0;
    }
    return 1;
}

static int unary(struct parser *p)
{
    const struct tok *t = peek(p);
    if (++p->depth > DEPTH_MAX)
        return 0;
    int ok = 0;
    switch (t->tk) {
    case TK_LPAREN:
        p->i++;
        ok = expr(p) && accept(p, TK_RPAREN);
        break;
    case TK_IDENT:
        p->i++;
        if (glued(p) && accept(p, TK_LPAREN))
            ok = call_args(p);
        else
            ok = var_ref(p);
        break;
    case TK_KEYWORD:
        p->i++;
        if (t->kw == K_TRUE || t->kw == K_FALSE)
            ok = 1;
        else if (t->kw == K_DISTINCT) {
            if (glued(p) && accept(p, TK_LPAREN))
                ok = call_args(p);
            else
                ok = peek(p)->sep == 1 && ident(p);
        }
        break;
    case TK_STRING:
    case TK_REGEX:
        p->i++;
        ok = 1;
        break;
    case TK_NUMBER:
        p->i++;
        ok = number_ok(p->s + t->off, t->len);
        break;
    case TK_INTEGER: {
        uint64_t v;
        p->i++;
        ok = uint64_ok(p->s + t->off, t->len, &v);
        break;
    }
    case TK_DURATION:
        p->i++;
        ok = tok_duration_ok(p, t);
        break;
    case TK_BOUNDPARAM:
        p->i++;
        ok = t->len > 1;
        break;
    case TK_MUL:
        p->i++;
        ok = 1;
        if (glued(p) && accept(p, TK_DCOLON)) {
            const struct tok *u = peek(p);
            ok = glued(p) && u->tk == TK_KEYWORD && (u->kw == K_FIELD || u->kw == K_TAG);
            p->i += ok;
        }
        break;
    case TK_ADD:
    case TK_SUB: {
        p->i++;
        enum tk n = peek(p)->tk;
        ok = (n == TK_NUMBER || n == TK_INTEGER || n == TK_DURATION || n == TK_LPAREN ||
              n == TK_IDENT) && unary(p);
        break;
    }
    default:
        break;
    }
    p->depth--;
    return ok;
}

static int is_binary_op(const struct tok *t)
{
    if (t->tk == TK_KEYWORD)
        return t->kw == K_AND || t->kw == K_OR;
    return t->tk >= TK_ADD && t->tk <= TK_GTE;
}

/* ParseExpr: unary (op unary)*, the operand of =~ and !~ a regex. */
static int expr(struct parser *p)
{
    if (!unary(p))
        return 0;
    while (is_binary_op(peek(p))) {
        enum tk op = peek(p)->tk;
        p->i++;
        if (op == TK_EQREGEX || op == TK_NEQREGEX) {
            if (!accept(p, TK_REGEX))
                return 0;
        } else if (!unary(p)) {
            return 0;
        }
    }
    return 1;
}

/* FROM list of DELETE and DROP SERIES: regexes or plain measurement names (no database or
 * retention policy: influxd refuses them while parsing). */
static int delete_sources(struct parser *p)
{
    do {
        if (accept(p, TK_REGEX))
            continue;
        if (!ident(p))
            return 0;
        if (glued(p) && peek(p)->tk == TK_DOT)
            return 0;
    } while (accept(p, TK_COMMA));
    return 1;
}

static int v_delete(struct parser *p)
{
    int from = accept_kw(p, K_FROM);
    if (from && !delete_sources(p))
        return 0;
    int where = accept_kw(p, K_WHERE);
    if (where && !expr(p))
        return 0;
    return (from || where) && at_end(p);
}

static int v_ident(struct parser *p)
{
    return ident(p) && at_end(p);
}

static int v_ident_on_ident(struct parser *p)
{
    return ident(p) && accept_kw(p, K_ON) && ident(p) && at_end(p);
}

static int v_create_database(struct parser *p)
{
    if (!ident(p))
        return 0;
    if (accept_kw(p, K_WITH)) {
        const struct tok *t = peek(p);
        if (t->tk != TK_KEYWORD || (t->kw != K_DURATION && t->kw != K_NAME &&
                                    t->kw != K_REPLICATION && t->kw != K_SHARD))
            return 0;
        if (accept_kw(p, K_DURATION) && !duration_val(p, 1))
            return 0;
        if (accept_kw(p, K_REPLICATION) && !replication_val(p))
            return 0;
        if (accept_kw(p, K_SHARD) && !(accept_kw(p, K_DURATION) && duration_val(p, 1)))
            return 0;
        if (accept_kw(p, K_NAME) && !ident(p))
            return 0;
    }
    return at_end(p);
}

static int v_create_rp(struct parser *p)
{
    if (!(ident(p) && accept_kw(p, K_ON) && ident(p) && accept_kw(p, K_DURATION) &&
          duration_val(p, 1) && accept_kw(p, K_REPLICATION) && replication_val(p)))
        return 0;
    if (accept_kw(p, K_SHARD) && !(accept_kw(p, K_DURATION) && duration_val(p, 0)))
        return 0;
    accept_kw(p, K_DEFAULT);
    return at_end(p);
}

static int v_alter_rp(struct parser *p)
{
    if (!(accept_kw(p, K_DEFAULT) || ident(p)) || !accept_kw(p, K_ON) || !ident(p))
        return 0;
    unsigned seen = 0, bit;
    for (;;) {
        const struct tok *t = peek(p);
        if (t->tk != TK_KEYWORD)
            break;
        if (t->kw == K_DURATION)
            bit = 1;
        else if (t->kw == K_REPLICATION)
            bit = 2;
        else if (t->kw == K_SHARD)
            bit = 4;
        else if (t->kw == K_DEFAULT)
            bit = 8;
        else
            break;
        if (seen & bit)
            return 0;
        seen |= bit;
        p->i++;
        if (bit == 1 && !duration_val(p, 1))
            return 0;
        if (bit == 2 && !replication_val(p))
            return 0;
        if (bit == 4 && !(accept_kw(p, K_DURATION) && duration_val(p, 0)))
            return 0;
    }
    return seen != 0 && at_end(p);
}

static int v_create_user(struct parser *p)
{
    if (!(ident(p) && accept_kw(p, K_WITH) && accept_kw(p, K_PASSWORD) && string_lit(p)))
        return 0;
    if (accept_kw(p, K_WITH) && !(accept_kw(p, K_ALL) && accept_kw(p, K_PRIVILEGES)))
        return 0;
    return at_end(p);
}

static int v_set_password(struct parser *p)
{
    return ident(p) && accept(p, TK_EQ) && string_lit(p) && at_end(p);
}

/* GRANT/REVOKE priv ON db TO|FROM user, or ALL [PRIVILEGES] TO|FROM user. */
static int grant_revoke(struct parser *p, int to_kw)
{
    int all = 0;
    if (accept_kw(p, K_ALL)) {
        all = 1;
        accept_kw(p, K_PRIVILEGES);
    } else if (!accept_kw(p, K_READ) && !accept_kw(p, K_WRITE)) {
        return 0;
    }
    if (accept_kw(p, K_ON))
        return ident(p) && accept_kw(p, to_kw) && ident(p) && at_end(p);
    return all && accept_kw(p, to_kw) && ident(p) && at_end(p);
}

static int v_grant(struct parser *p)
{
    return grant_revoke(p, K_TO);
}

static int v_revoke(struct parser *p)
{
    return grant_revoke(p, K_FROM);
}

static int v_drop_shard(struct parser *p)
{
    return uint64_val(p) && at_end(p);
}

static int v_kill_query(struct parser *p)
{
    if (!uint64_val(p))
        return 0;
    if (accept_kw(p, K_ON) && !ident(p))
        return 0;
    return at_end(p);
}

/* The shape of a SELECT after its SELECT keyword, up to 'end' tokens: parentheses balance and
 * INTO (when 'into') and then FROM appear at the top level. */
static int select_shape(struct parser *p, size_t end, int into)
{
    int depth = 0, seen_into = !into, seen_from = 0;
    if (p->i >= end)
        return 0;
    for (; p->i < end; p->i++) {
        const struct tok *t = &p->v[p->i];
        if (t->tk == TK_LPAREN)
            depth++;
        else if (t->tk == TK_RPAREN && --depth < 0)
            return 0;
        else if (depth == 0 && t->tk == TK_KEYWORD && t->kw == K_INTO) {
            if (p->i + 1 >= end || p->v[p->i + 1].tk != TK_IDENT)
                return 0; /* INTO takes a measurement name */
            seen_into = 1;
        }
        else if (depth == 0 && t->tk == TK_KEYWORD && t->kw == K_FROM && seen_into)
            seen_from = 1;
        else if (t->tk == TK_KEYWORD && (t->kw == K_END || t->kw == K_BEGIN))
            return 0;
    }
    return depth == 0 && seen_into && seen_from;
}

static int v_create_cq(struct parser *p)
{
    if (!(ident(p) && accept_kw(p, K_ON) && ident(p)))
        return 0;
    if (accept_kw(p, K_RESAMPLE)) {
        int every = 0, for_ = 0;
        if (accept_kw(p, K_EVERY)) {
            if (!tok_duration_ok(p, peek(p)))
                return 0;
            p->i++;
            every = 1;
        }
        if (accept_kw(p, K_FOR)) {
            if (!tok_duration_ok(p, peek(p)))
                return 0;
            p->i++;
            for_ = 1;
        }
        if (!every && !for_)
            return 0;
    }
    if (!(accept_kw(p, K_BEGIN) && accept_kw(p, K_SELECT)))
        return 0;
    const struct tok *last = &p->v[p->n - 1];
    if (last->tk != TK_KEYWORD || last->kw != K_END || p->n - 1 <= p->i)
        return 0;
    return select_shape(p, p->n - 1, 1);
}

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
    {{K_DELETE}, IQL_WRITE, 0, v_delete, "DELETE"},
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
    {{K_CREATE, K_CONTINUOUS, K_QUERY}, IQL_WRITE, 0, v_create_cq, "CREATE CONTINUOUS QUERY"},
    {{K_CREATE, K_DATABASE}, IQL_WRITE, 0, v_create_database, "CREATE DATABASE"},
    {{K_CREATE, K_USER}, IQL_WRITE, IQL_F_USER | IQL_F_SECRET, v_create_user, "CREATE USER"},
    {{K_CREATE, K_RETENTION, K_POLICY}, IQL_WRITE, 0, v_create_rp, "CREATE RETENTION POLICY"},
    {{K_CREATE, K_SUBSCRIPTION}, IQL_PER_SERVER, IQL_F_SECRET, NULL, "CREATE SUBSCRIPTION"},
    {{K_DROP, K_CONTINUOUS, K_QUERY}, IQL_WRITE, 0, v_ident_on_ident, "DROP CONTINUOUS QUERY"},
    {{K_DROP, K_DATABASE}, IQL_WRITE, 0, v_ident, "DROP DATABASE"},
    {{K_DROP, K_MEASUREMENT}, IQL_WRITE, 0, v_ident, "DROP MEASUREMENT"},
    {{K_DROP, K_RETENTION, K_POLICY}, IQL_WRITE, 0, v_ident_on_ident, "DROP RETENTION POLICY"},
    {{K_DROP, K_SERIES}, IQL_WRITE, 0, v_delete, "DROP SERIES"},
    {{K_DROP, K_SHARD}, IQL_PER_SERVER, 0, v_drop_shard, "DROP SHARD"},
    {{K_DROP, K_SUBSCRIPTION}, IQL_PER_SERVER, 0, NULL, "DROP SUBSCRIPTION"},
    {{K_DROP, K_USER}, IQL_WRITE, IQL_F_USER, v_ident, "DROP USER"},
    {{K_GRANT}, IQL_WRITE, IQL_F_USER, v_grant, "GRANT"},
    {{K_REVOKE}, IQL_WRITE, IQL_F_USER, v_revoke, "REVOKE"},
    {{K_ALTER, K_RETENTION, K_POLICY}, IQL_WRITE, 0, v_alter_rp, "ALTER RETENTION POLICY"},
    {{K_SET, K_PASSWORD, K_FOR}, IQL_WRITE, IQL_F_USER | IQL_F_SECRET, v_set_password,
     "SET PASSWORD"},
    {{K_KILL, K_QUERY}, IQL_PER_SERVER, 0, v_kill_query, "KILL QUERY"},
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
            accept_kw(&p, K_ANALYZE);
            if (!accept_kw(&p, K_SELECT))
                return;
        }
        if (!select_shape(&p, pc->n, 1))
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
        pos = piece_scan(q, len, pos, &pc, 1);
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
    piece_scan(s, len, 0, &pc, 1);
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
        pos = piece_scan(s, len, pos, &pc, 1);
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
        pos = piece_scan(s, len, pos, &pc, 1);
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
