/* Reading a read SELECT's shape (relay/influxql_select.h) from its tokens (iql_scan): the field
 * list split at its top-level commas into calls, fields and wildcards; the sources of FROM;
 * then the clauses influxd 1.6 allows after them (WHERE, GROUP BY, fill, ORDER BY, LIMIT,
 * OFFSET, SLIMIT, SOFFSET, tz), each read for what a merge needs. Pure; owns only the names
 * buffer of the struct it fills. */
#include "relay/influxql_select.h"

#include "relay/influxql.h"

#include "common/err.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

struct toks {
    const char *q;
    struct iql_token *t;
    size_t n;
};

static int is_tok(const struct toks *v, size_t i, enum iql_tok kind, const char *text)
{
    return i < v->n && iql_token_is(v->q, &v->t[i], kind, text);
}

static int is_kw(const struct toks *v, size_t i, const char *w)
{
    return is_tok(v, i, IQL_T_KEYWORD, w);
}

static int is_punct(const struct toks *v, size_t i, const char *p)
{
    return is_tok(v, i, IQL_T_PUNCT, p);
}

/* A bare identifier (not quoted) spelled 'w' in any case: time, fill, tz. */
static int is_word(const struct toks *v, size_t i, const char *w)
{
    return is_tok(v, i, IQL_T_IDENT, w);
}

/* The tokens of q[0, len) but whitespace and comments; IWR_EPARSE on a bad token or a ';'. */
static int tokenize(const char *q, size_t len, struct toks *v)
{
    size_t cap = 0;
    struct iql_token t, prev = {.tok = IQL_T_EOF};
    v->q = q;
    v->t = NULL;
    v->n = 0;
    for (size_t at = 0; at < len;) {
        at = iql_scan(q, len, at, prev.regex_next, &t);
        if (t.tok == IQL_T_WS)
            continue;
        prev = t;
        switch (t.tok) {
        case IQL_T_COMMENT:
            continue;
        case IQL_T_BADSTRING:
        case IQL_T_BADESCAPE:
        case IQL_T_BADREGEX:
        case IQL_T_ILLEGAL:
        case IQL_T_SEMICOLON:
        case IQL_T_EOF:
            return IWR_EPARSE;
        default:
            break;
        }
        if (v->n == cap) {
            cap = cap ? cap * 2 : 32;
            v->t = xrealloc(v->t, cap * sizeof(*v->t));
        }
        v->t[v->n++] = t;
    }
    return 0;
}

/* The value of identifier token i appended to 'out' (iql_ident_value; 'lp': escaped as line
 * protocol's); 0 for one not mapped. */
static int ident_value(const struct toks *v, size_t i, struct buf *out, int lp)
{
    return i < v->n && iql_ident_value(v->q, &v->t[i], lp, out);
}

/* The index of the ')' closing the '(' at i, or v->n. */
static size_t closing(const struct toks *v, size_t i)
{
    int depth = 0;
    for (size_t k = i; k < v->n; k++) {
        if (is_punct(v, k, "("))
            depth++;
        else if (is_punct(v, k, ")") && --depth == 0)
            return k;
    }
    return v->n;
}

/* Whether token k names a function: an identifier, or DISTINCT (a keyword), before '('. */
static int is_callee(const struct toks *v, size_t k)
{
    return (v->t[k].tok == IQL_T_IDENT || is_kw(v, k, "DISTINCT")) && is_punct(v, k + 1, "(");
}

/* Whether tokens [a, b) hold a call, or DISTINCT (count(DISTINCT n) is distinct's count). */
static int has_call(const struct toks *v, size_t a, size_t b)
{
    for (size_t k = a; k < b; k++)
        if ((k + 1 < b && is_callee(v, k)) || is_kw(v, k, "DISTINCT"))
            return 1;
    return 0;
}

/* One entry [a, b) of the field list. */
static int read_field(const struct toks *v, size_t a, size_t b, struct iql_select *s)
{
    if (b >= a + 3 && is_kw(v, b - 2, "AS") && v->t[b - 1].tok == IQL_T_IDENT)
        b -= 2;
    if (b >= a + 3 && is_punct(v, b - 2, "::") && v->t[b - 1].tok == IQL_T_IDENT)
        b -= 2;
    if (b <= a)
        return IWR_EPARSE;
    if (b == a + 1) {
        if (is_tok(v, a, IQL_T_OP, "*") || v->t[a].tok == IQL_T_REGEX)
            s->wildcard = 1;
        else
            s->raw_fields = 1;
        return 0;
    }
    if (is_callee(v, a) && closing(v, a + 1) == b - 1) {
        if (has_call(v, a + 2, b - 1))
            s->call_expr = 1;
        if (b == a + 4 && (is_tok(v, a + 2, IQL_T_OP, "*") || v->t[a + 2].tok == IQL_T_REGEX))
            s->call_wildcard = 1;
        if (s->n_calls == IQL_SEL_CALLS_MAX) {
            s->calls_overflow = 1;
            return 0;
        }
        char *name = s->calls[s->n_calls++];
        size_t n = v->t[a].len < IQL_SEL_NAME_MAX - 1 ? v->t[a].len : IQL_SEL_NAME_MAX - 1;
        for (size_t k = 0; k < n; k++)
            name[k] = (char)tolower((unsigned char)v->q[v->t[a].off + k]);
        name[n] = '\0';
        return 0;
    }
    if (has_call(v, a, b))
        s->call_expr = 1;
    else
        s->raw_fields = 1;
    return 0;
}

/* One source [a, b) of FROM: a subquery, or up to three '.'-separated parts (db.rp.m, rp.m,
 * db..m, m) whose last is the measurement or a regex. */
static int read_source(const struct toks *v, size_t a, size_t b, struct iql_select *s)
{
    if (is_punct(v, a, "(")) {
        s->subquery = s->sources_unknown = 1;
        return closing(v, a) == b - 1 ? 0 : IWR_EPARSE;
    }
    size_t part[3] = {0}, n_parts = 0;
    int have = 0;
    for (size_t k = a; k < b; k++) {
        if (is_punct(v, k, ".")) {
            if (n_parts == 2)
                return IWR_EPARSE;
            part[n_parts++] = have ? k - 1 : (size_t)-1;
            have = 0;
        } else if ((v->t[k].tok == IQL_T_IDENT || v->t[k].tok == IQL_T_REGEX) && !have) {
            have = 1;
        } else {
            return IWR_EPARSE;
        }
    }
    if (!have)
        return IWR_EPARSE;
    part[n_parts++] = b - 1;
    if (v->t[b - 1].tok == IQL_T_REGEX) {
        s->sources_unknown = 1;
        return 0;
    }
    for (size_t k = 0; k + 1 < n_parts; k++)
        if (part[k] != (size_t)-1 && v->t[part[k]].tok != IQL_T_IDENT)
            return IWR_EPARSE;
    if (s->n_sources == IQL_SEL_SOURCES_MAX) {
        s->sources_unknown = 1;
        return 0;
    }
    struct iql_source *src = &s->sources[s->n_sources];
    src->db_off = s->names.len;
    if (n_parts == 3 && part[0] != (size_t)-1) {
        if (!ident_value(v, part[0], &s->names, 0))
            return IWR_EPARSE;
        src->has_db = 1;
    }
    src->db_len = s->names.len - src->db_off;
    src->m_off = s->names.len;
    if (!ident_value(v, b - 1, &s->names, 1))
        return IWR_EPARSE;
    src->m_len = s->names.len - src->m_off;
    s->n_sources++;
    return 0;
}

/* Whether token i starts a clause that ends FROM, WHERE or GROUP BY. */
static int clause_start(const struct toks *v, size_t i)
{
    static const char *const kws[] = {"WHERE",  "GROUP",  "ORDER",  "LIMIT",
                                      "OFFSET", "SLIMIT", "SOFFSET"};
    for (size_t k = 0; k < sizeof(kws) / sizeof(kws[0]); k++)
        if (is_kw(v, i, kws[k]))
            return 1;
    return (is_word(v, i, "fill") || is_word(v, i, "tz")) && is_punct(v, i + 1, "(");
}

/* The end of the clause starting after i: the next top-level clause_start, or v->n. */
static size_t clause_end(const struct toks *v, size_t i)
{
    int depth = 0;
    for (size_t k = i; k < v->n; k++) {
        if (is_punct(v, k, "("))
            depth++;
        else if (is_punct(v, k, ")"))
            depth--;
        else if (depth == 0 && clause_start(v, k))
            return k;
    }
    return v->n;
}

/* Split [a, b) at its top-level commas and call 'each' on every entry. */
static int each_entry(const struct toks *v, size_t a, size_t b, struct iql_select *s,
                      int (*each)(const struct toks *, size_t, size_t, struct iql_select *))
{
    int depth = 0;
    size_t start = a;
    for (size_t k = a; k <= b; k++) {
        if (k < b && is_punct(v, k, "(")) {
            depth++;
        } else if (k < b && is_punct(v, k, ")")) {
            depth--;
        } else if (k == b || (depth == 0 && is_punct(v, k, ","))) {
            if (k == start)
                return IWR_EPARSE;
            int rc = each(v, start, k, s);
            if (rc != 0)
                return rc;
            start = k + 1;
        }
    }
    return 0;
}

static int read_dimension(const struct toks *v, size_t a, size_t b, struct iql_select *s)
{
    if (is_word(v, a, "time") && is_punct(v, a + 1, "(") && closing(v, a + 1) == b - 1) {
        s->group_time = 1;
    } else if (b == a + 1 && is_tok(v, a, IQL_T_OP, "*")) {
        s->group_all = 1;
    } else if (b == a + 1 && v->t[a].tok == IQL_T_REGEX) {
        s->group_regex = 1;
    } else if (b == a + 1 && v->t[a].tok == IQL_T_IDENT) {
        if (s->n_group_tags == IQL_SEL_TAGS_MAX) {
            s->group_regex = 1;
            return 0;
        }
        size_t off = s->names.len;
        if (!ident_value(v, a, &s->names, 0))
            return IWR_EPARSE;
        s->group_tags[s->n_group_tags][0] = off;
        s->group_tags[s->n_group_tags][1] = s->names.len - off;
        s->n_group_tags++;
    } else {
        return IWR_EPARSE;
    }
    return 0;
}

static int read_fill(const struct toks *v, size_t a, size_t b, struct iql_select *s)
{
    /* a is "fill", a + 1 its '(' */
    if (b != closing(v, a + 1) + 1)
        return IWR_EPARSE;
    size_t x = a + 2, end = b - 1;
    if (end == x + 1 && v->t[x].tok == IQL_T_IDENT) {
        static const char *const words[] = {"null", "none", "previous", "linear"};
        static const enum iql_fill fills[] = {IQL_FILL_NULL, IQL_FILL_NONE, IQL_FILL_PREVIOUS,
                                              IQL_FILL_LINEAR};
        for (size_t k = 0; k < 4; k++)
            if (is_word(v, x, words[k])) {
                s->fill = fills[k];
                return 0;
            }
        return IWR_EPARSE;
    }
    int neg = end == x + 2 && is_tok(v, x, IQL_T_OP, "-");
    size_t nt = neg ? x + 1 : x;
    if (nt + 1 != end || (v->t[nt].tok != IQL_T_INTEGER && v->t[nt].tok != IQL_T_NUMBER))
        return IWR_EPARSE;
    char num[64];
    size_t n = v->t[nt].len < sizeof(num) - 1 ? v->t[nt].len : sizeof(num) - 1;
    memcpy(num, v->q + v->t[nt].off, n);
    num[n] = '\0';
    s->fill = strtod(num, NULL) == 0.0 && !neg ? IQL_FILL_ZERO : IQL_FILL_NUMBER;
    return 0;
}

static int read_integer(const struct toks *v, size_t i, int64_t *out)
{
    if (i >= v->n || v->t[i].tok != IQL_T_INTEGER || v->t[i].len > 18)
        return IWR_EPARSE;
    int64_t x = 0;
    for (size_t k = 0; k < v->t[i].len; k++)
        x = x * 10 + (v->q[v->t[i].off + k] - '0');
    *out = x;
    return 0;
}

/* The clauses after FROM's sources, from token i. */
static int read_clauses(const struct toks *v, size_t i, struct iql_select *s)
{
    while (i < v->n) {
        size_t end = clause_end(v, i + 1);
        int rc = 0;
        if (is_kw(v, i, "WHERE")) {
            rc = end > i + 1 ? 0 : IWR_EPARSE;
        } else if (is_kw(v, i, "GROUP") && is_kw(v, i + 1, "BY")) {
            rc = each_entry(v, i + 2, end, s, read_dimension);
        } else if (is_word(v, i, "fill")) {
            rc = read_fill(v, i, end, s);
        } else if (is_word(v, i, "tz")) {
            rc = end == i + 4 && v->t[i + 2].tok == IQL_T_STRING ? 0 : IWR_EPARSE;
        } else if (is_kw(v, i, "ORDER") && is_kw(v, i + 1, "BY")) {
            /* influxd orders by time only: "time", "time ASC", "time DESC" */
            if (!is_word(v, i + 2, "time") || end > i + 4 ||
                (end == i + 4 && !is_kw(v, i + 3, "ASC") && !is_kw(v, i + 3, "DESC")))
                rc = IWR_EPARSE;
            s->desc = end == i + 4 && is_kw(v, i + 3, "DESC");
        } else {
            static const char *const kws[] = {"LIMIT", "OFFSET", "SLIMIT", "SOFFSET"};
            int64_t *dst[] = {&s->limit, &s->offset, &s->slimit, &s->soffset};
            rc = IWR_EPARSE;
            for (size_t k = 0; k < 4; k++)
                if (is_kw(v, i, kws[k]) && end == i + 2)
                    rc = read_integer(v, i + 1, dst[k]);
        }
        if (rc != 0)
            return rc;
        i = end;
    }
    return 0;
}

int iql_select_read(const char *q, size_t len, struct iql_select *s)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->names);
    struct toks v;
    int rc = tokenize(q, len, &v);
    size_t i = 0;
    if (rc == 0 && is_kw(&v, i, "EXPLAIN")) {
        s->explain = 1;
        i += is_kw(&v, i + 1, "ANALYZE") ? 2 : 1;
    }
    if (rc == 0 && !is_kw(&v, i, "SELECT"))
        rc = IWR_EPARSE;
    size_t from = v.n;
    int depth = 0;
    for (size_t k = i + 1; rc == 0 && k < v.n; k++) {
        if (is_punct(&v, k, "("))
            depth++;
        else if (is_punct(&v, k, ")"))
            depth--;
        else if (depth == 0 && is_kw(&v, k, "INTO"))
            rc = IWR_EPARSE; /* a SELECT INTO writes: not a read */
        else if (depth == 0 && is_kw(&v, k, "FROM") && from == v.n)
            from = k;
    }
    if (rc == 0 && (from == v.n || from == i + 1))
        rc = IWR_EPARSE;
    if (rc == 0)
        rc = each_entry(&v, i + 1, from, s, read_field);
    size_t end = rc == 0 ? clause_end(&v, from + 1) : 0;
    if (rc == 0)
        rc = end > from + 1 ? each_entry(&v, from + 1, end, s, read_source) : IWR_EPARSE;
    if (rc == 0)
        rc = read_clauses(&v, end, s);
    free(v.t);
    return rc;
}

void iql_select_deinit(struct iql_select *s)
{
    buf_deinit(&s->names);
}

int iql_select_groups_by(const struct iql_select *s, const char *tag, size_t tag_len)
{
    for (size_t i = 0; i < s->n_group_tags; i++)
        if (s->group_tags[i][1] == tag_len &&
            memcmp(s->names.data + s->group_tags[i][0], tag, tag_len) == 0)
            return 1;
    return 0;
}
