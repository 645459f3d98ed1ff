/* InfluxQL's scanner as influxd 1.6.7's: the token at a position (identifiers, keywords,
 * strings, numbers, durations, regexes where the parser would ask for one, operators, comments),
 * iql_scan for the tests, the fuzz target and the readers of a statement's shape (with a token's
 * identifier value: iql_ident_value), and the tokens of one statement up to its ';'.
 * Pure: owns nothing beyond the token vector the caller passes in; any thread. */
#include "relay/influxql_int.h"

#include "common/xalloc.h"

#include <string.h>
#include <strings.h>

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

/* CR and CRLF read as LF in influxd's reader. */
static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
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


size_t iql_tok_scan(const char *s, size_t len, size_t i, int regex_ok, struct tok *t)
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
    size_t end = iql_tok_scan(s, len, pos, regex_ok, &t);
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
    out->regex_next = regex_trigger(&t);
    return end;
}

int iql_token_is(const char *s, const struct iql_token *t, enum iql_tok kind, const char *text)
{
    size_t n = strlen(text);
    return t->tok == kind && t->len == n && strncasecmp(s + t->off, text, n) == 0;
}

int iql_ident_value(const char *s, const struct iql_token *t, int lp_escape, struct buf *out)
{
    if (t->tok != IQL_T_IDENT)
        return 0;
    const char *p = s + t->off;
    size_t n = t->len;
    int quoted = n >= 2 && p[0] == '"' && p[n - 1] == '"';
    if (quoted) {
        p++;
        n -= 2;
    } else if (memchr(p, '"', n) != NULL) {
        return 0; /* abc"def": influxd's value is the quoted part; not worth mapping */
    }
    for (size_t k = 0; k < n; k++) {
        char ch = p[k];
        if (quoted && ch == '\\' && k + 1 < n) {
            ch = p[++k];
            if (ch == 'n')
                return 0;
        }
        if (ch == '\n')
            return 0;
        if (lp_escape && (ch == ' ' || ch == ','))
            buf_append(out, "\\", 1);
        buf_append(out, &ch, 1);
    }
    return n > 0;
}


/* ---- pieces: the tokens up to a ';' ---- */

/* Scan one piece from 'pos'; keeps the tokens when p->v is used (cap > 0 or v == NULL with
 * keep). Returns the end of the piece. */
size_t iql_piece_scan(const char *s, size_t len, size_t pos, struct piece *p, int keep)
{
    p->off = pos;
    p->n = 0;
    p->flags = 0;
    int regex_ok = 0, sep = 0;
    for (;;) {
        struct tok t;
        size_t next = iql_tok_scan(s, len, pos, regex_ok, &t);
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
