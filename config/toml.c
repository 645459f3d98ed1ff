/* The TOML subset parser; see toml.h. One pass over the text with a cursor; values are built
 * bottom-up and then hung into the tree, so a failure only has to free what it holds plus the
 * tree. The redefinition rules follow TOML 1.0, strictly where the spec is vague:
 *   - a [header] may pass through any table except an inline one, and may define a table that
 *     so far exists only because a deeper header named it; defining one twice is an error;
 *   - dotted keys may only pass through tables that dotted keys created, so they can neither
 *     reopen a [header] table nor add to an inline table;
 *   - [[header]] appends only to arrays that [[header]] created.
 * The owner of the input calls it once per load, on any thread. */
#include "config/toml.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/hash.h"
#include "common/utf8.h"
#include "common/xalloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    NODE_EXPLICIT = 1, /* table defined by [header], [[header]] or as an inline table */
    NODE_DOTTED = 2,   /* table created and defined by dotted keys */
    NODE_INLINE = 4,   /* inline table: closed for good once its '}' is read */
    NODE_AOT = 8,      /* array made by [[header]]; a literal array is closed */
};

/* Longest number or keyword token: no valid integer comes near it, and it bounds the copy
 * handed to strtod. */
#define TOKEN_MAX 128

struct keypath {
    char *part[TOML_MAX_DEPTH];
    int n;
};

struct parser {
    const char *name;
    const char *p;
    const char *end;
    int line;
    size_t n_nodes;
    struct toml_node *root;
    struct toml_node *cur; /* the table that key/value lines go to */
    char *err;
    size_t err_cap;
};

static int toml_verror(char *err, size_t err_cap, const char *name, int line, const char *fmt,
                       va_list ap) __attribute__((format(printf, 5, 0)));

static int toml_verror(char *err, size_t err_cap, const char *name, int line, const char *fmt,
                       va_list ap)
{
    if (err == NULL || err_cap == 0)
        return IWR_EPARSE;
    int n = snprintf(err, err_cap, "%s:%d: ", name, line);
    if (n >= 0 && (size_t)n < err_cap)
        vsnprintf(err + n, err_cap - (size_t)n, fmt, ap);
    /* Names and quoted keys come from outside: keep the message on one line. */
    for (char *q = err; *q != '\0'; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
    return IWR_EPARSE;
}

int toml_error(char *err, size_t err_cap, const char *name, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = toml_verror(err, err_cap, name, line, fmt, ap);
    va_end(ap);
    return rc;
}

__attribute__((format(printf, 3, 4))) static int fail(struct parser *ps, int line, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = toml_verror(ps->err, ps->err_cap, ps->name, line, fmt, ap);
    va_end(ap);
    return rc;
}

const char *toml_type_name(enum toml_type t)
{
    switch (t) {
    case TOML_TABLE:
        return "a table";
    case TOML_ARRAY:
        return "an array";
    case TOML_STRING:
        return "a string";
    case TOML_INT:
        return "an integer";
    case TOML_FLOAT:
        return "a float";
    case TOML_BOOL:
        return "a boolean";
    }
    return "a value";
}

/* ---- the tree ---------------------------------------------------------------------------- */

/* Compared before the keys themselves: a table holds up to TOML_MAX_KEYS keys, scanned often.
 * Any hash serves; the project's one (common/hash.h), its low bits. */
static uint32_t key_hash(const char *s)
{
    return (uint32_t)hash_fnv1a(HASH_FNV_OFFSET, s, strlen(s));
}

void toml_free(struct toml_node *n)
{
    if (n == NULL)
        return;
    /* Recursion is bounded by TOML_MAX_DEPTH, which node_new enforces. */
    for (size_t i = 0; i < n->n_kids; i++)
        toml_free(n->kids[i]);
    free(n->kids);
    free(n->key);
    free(n->str);
    free(n);
}

static struct toml_node *lookup(const struct toml_node *t, const char *key)
{
    uint32_t h = key_hash(key);
    for (size_t i = 0; i < t->n_kids; i++)
        if (t->kids[i]->key_hash == h && strcmp(t->kids[i]->key, key) == 0)
            return t->kids[i];
    return NULL;
}

const struct toml_node *toml_get(const struct toml_node *table, const char *key)
{
    if (table == NULL || table->type != TOML_TABLE)
        return NULL;
    return lookup(table, key);
}

static int node_new(struct parser *ps, enum toml_type type, int depth, int line,
                    struct toml_node **out)
{
    *out = NULL;
    if (depth > TOML_MAX_DEPTH)
        return fail(ps, line, "nesting deeper than %d levels", TOML_MAX_DEPTH);
    if (ps->n_nodes >= TOML_MAX_NODES)
        return fail(ps, line, "more than %d values", TOML_MAX_NODES);
    ps->n_nodes++;
    struct toml_node *n = xcalloc(1, sizeof(*n));
    n->type = type;
    n->line = line;
    n->depth = depth;
    *out = n;
    return 0;
}

/* Hang 'kid' under 'parent'; a table kid must already have its key. Takes 'kid' only on
 * success. */
static int node_add(struct parser *ps, struct toml_node *parent, struct toml_node *kid)
{
    if (parent->type == TOML_TABLE) {
        if (parent->n_kids >= TOML_MAX_KEYS)
            return fail(ps, kid->line, "more than %d keys in one table", TOML_MAX_KEYS);
        kid->key_hash = key_hash(kid->key);
    }
    if (parent->n_kids == parent->cap_kids) {
        parent->cap_kids = parent->cap_kids ? parent->cap_kids * 2 : 4;
        parent->kids = xrealloc(parent->kids, parent->cap_kids * sizeof(*parent->kids));
    }
    parent->kids[parent->n_kids++] = kid;
    return 0;
}

/* A new table named 'key' (copied) under 'parent'. */
static int table_add(struct parser *ps, struct toml_node *parent, const char *key, unsigned flags,
                     int line, struct toml_node **out)
{
    int rc = node_new(ps, TOML_TABLE, parent->depth + 1, line, out);
    if (rc != 0)
        return rc;
    (*out)->flags = flags;
    (*out)->key = xstrdup(key);
    rc = node_add(ps, parent, *out);
    if (rc != 0) {
        toml_free(*out);
        *out = NULL;
    }
    return rc;
}

static void keypath_free(struct keypath *kp)
{
    for (int i = 0; i < kp->n; i++)
        free(kp->part[i]);
    kp->n = 0;
}

/* "a.b.c" from the first 'upto' parts, for messages; cut to fit. */
static const char *keypath_str(const struct keypath *kp, int upto, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < upto && kp->part[i] != NULL; i++) {
        int n = snprintf(out + o, cap - o, "%s%s", i ? "." : "", kp->part[i]);
        if (n < 0 || (size_t)n >= cap - o)
            break;
        o += (size_t)n;
    }
    return out;
}

/* ---- characters and lines ---------------------------------------------------------------- */

static int is_bare(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static int is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
        ps->p++;
}

/* At '#': skip to the end of the line (not past it). */
static int skip_comment(struct parser *ps)
{
    if (ps->p == ps->end || *ps->p != '#')
        return 0;
    for (ps->p++; ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r'; ps->p++)
        if (is_control((unsigned char)*ps->p))
            return fail(ps, ps->line, "control character U+%04X in a comment",
                        (unsigned char)*ps->p);
    return 0;
}

/* Consume one newline ("\n" or "\r\n"): 1 if there was one, 0 if not, or IWR_EPARSE. */
static int eat_newline(struct parser *ps)
{
    if (ps->p < ps->end && *ps->p == '\n') {
        ps->p++;
        ps->line++;
        return 1;
    }
    if (ps->p < ps->end && *ps->p == '\r') {
        if (ps->end - ps->p < 2 || ps->p[1] != '\n')
            return fail(ps, ps->line, "carriage return without a line feed");
        ps->p += 2;
        ps->line++;
        return 1;
    }
    return 0;
}

/* Spaces, comments and newlines, as allowed between array elements. */
static int skip_blank(struct parser *ps)
{
    for (;;) {
        skip_ws(ps);
        int rc = skip_comment(ps);
        if (rc == 0)
            rc = eat_newline(ps);
        if (rc <= 0)
            return rc;
    }
}

/* After a statement: optional spaces and comment, then a newline or the end of the text. */
static int finish_line(struct parser *ps, const char *after)
{
    skip_ws(ps);
    int rc = skip_comment(ps);
    if (rc != 0)
        return rc;
    if (ps->p == ps->end)
        return 0;
    rc = eat_newline(ps);
    if (rc == 0)
        return fail(ps, ps->line, "expected the end of the line after %s", after);
    return rc < 0 ? rc : 0;
}

/* TOML text is UTF-8; checking it once up front lets everything else work on bytes. */
static int check_utf8(struct parser *ps)
{
    int line = 1;
    const unsigned char *s = (const unsigned char *)ps->p, *e = (const unsigned char *)ps->end;
    while (s < e) {
        if (*s < 0x80) {
            line += *s++ == '\n';
            continue;
        }
        size_t n = utf8_valid_len(s, (size_t)(e - s));
        if (n == 0)
            return fail(ps, line, "invalid UTF-8");
        s += n;
    }
    return 0;
}

/* ---- strings and keys -------------------------------------------------------------------- */

/* At '\\' in a basic string: append what the escape means. */
static int parse_escape(struct parser *ps, struct buf *out)
{
    ps->p++;
    if (ps->p == ps->end)
        return fail(ps, ps->line, "unterminated string");
    char c = *ps->p++;
    /* The one-character escapes: each letter, then the byte it stands for. */
    static const char simple[] = "b\bt\tn\nf\fr\r\"\"\\\\";
    for (size_t k = 0; k + 1 < sizeof(simple); k += 2) {
        if (c == simple[k]) {
            buf_append(out, &simple[k + 1], 1);
            return 0;
        }
    }
    switch (c) {
    case 'u':
    case 'U': {
        int digits = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int i = 0; i < digits; i++) {
            int v = ps->p < ps->end ? hex_digit(*ps->p) : -1;
            if (v < 0)
                return fail(ps, ps->line, "\\%c needs %d hex digits", c, digits);
            cp = (cp << 4) | (uint32_t)v;
            ps->p++;
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return fail(ps, ps->line, "\\%c%0*X is not a Unicode scalar value", c, digits,
                        (unsigned)cp);
        if (cp == 0)
            return fail(ps, ps->line, "\\%c%0*X (NUL) is not allowed in strings", c, digits,
                        (unsigned)cp);
        utf8_put(out, cp);
        return 0;
    }
    default:
        if (c > 0x20 && c < 0x7f)
            return fail(ps, ps->line, "invalid escape '\\%c' in a string", c);
        return fail(ps, ps->line, "invalid escape in a string");
    }
}

/* At '"' or '\'': a one-line basic or literal string, appended to 'out'. */
static int parse_string(struct parser *ps, struct buf *out)
{
    char quote = *ps->p;
    if (ps->end - ps->p >= 3 && ps->p[1] == quote && ps->p[2] == quote)
        return fail(ps, ps->line, "multi-line strings are not supported");
    ps->p++;
    for (;;) {
        if (ps->p == ps->end || *ps->p == '\n' || *ps->p == '\r')
            return fail(ps, ps->line, "unterminated string");
        unsigned char c = (unsigned char)*ps->p;
        if (c == (unsigned char)quote) {
            ps->p++;
            return 0;
        }
        if (c == '\\' && quote == '"') {
            int rc = parse_escape(ps, out);
            if (rc != 0)
                return rc;
            continue;
        }
        if (is_control(c))
            return fail(ps, ps->line, "control character U+%04X in a string", c);
        /* Copy a run of ordinary bytes at once. */
        const char *start = ps->p;
        ps->p++;
        while (ps->p < ps->end && *ps->p != quote && !(*ps->p == '\\' && quote == '"') &&
               !is_control((unsigned char)*ps->p))
            ps->p++;
        buf_append(out, start, (size_t)(ps->p - start));
    }
}

static int parse_simple_key(struct parser *ps, char **out)
{
    struct buf b;
    buf_init(&b);
    if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
        int rc = parse_string(ps, &b);
        if (rc != 0) {
            buf_deinit(&b);
            return rc;
        }
    } else {
        const char *start = ps->p;
        while (ps->p < ps->end && is_bare(*ps->p))
            ps->p++;
        if (ps->p == start)
            return fail(ps, ps->line, "expected a key");
        buf_append(&b, start, (size_t)(ps->p - start));
    }
    *out = buf_steal(&b);
    return 0;
}

/* key ( '.' key )*, with spaces allowed around the dots. */
static int parse_key(struct parser *ps, struct keypath *kp)
{
    kp->n = 0;
    for (;;) {
        if (kp->n == TOML_MAX_DEPTH)
            return fail(ps, ps->line, "key has more than %d parts", TOML_MAX_DEPTH);
        int rc = parse_simple_key(ps, &kp->part[kp->n]);
        if (rc != 0)
            return rc;
        kp->n++;
        skip_ws(ps);
        if (ps->p == ps->end || *ps->p != '.')
            return 0;
        ps->p++;
        skip_ws(ps);
    }
}

/* ---- scalars ----------------------------------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_digit_base(char c, int base)
{
    int v = hex_digit(c);
    return v >= 0 && v < base;
}

/* Digits of 'base' with single underscores between them; returns the length or 0 for none. */
static size_t digit_run(const char *s, size_t n, int base)
{
    size_t i = 0;
    if (n == 0 || !is_digit_base(s[0], base))
        return 0;
    for (i = 1; i < n; i++) {
        if (s[i] == '_') {
            if (i + 1 >= n || !is_digit_base(s[i + 1], base))
                return 0;
            continue;
        }
        if (!is_digit_base(s[i], base))
            break;
    }
    return i;
}

/* Accumulate the digits in s[0..n) (underscores skipped); 0, or -1 on overflow of 'max'. */
static int digits_value(const char *s, size_t n, int base, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_')
            continue;
        uint64_t d = (uint64_t)hex_digit(s[i]);
        if (v > (max - d) / (uint64_t)base)
            return -1;
        v = v * (uint64_t)base + d;
    }
    *out = v;
    return 0;
}

static int looks_like_date(const char *s, size_t n)
{
    if (memchr(s, ':', n) != NULL)
        return 1;
    return n >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) &&
           s[4] == '-';
}

/* A token that is not a string, array or inline table: boolean, integer or float. */
static int parse_scalar_token(struct parser *ps, const char *s, size_t n, struct toml_node *v)
{
    int line = v->line;
    if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
        v->type = TOML_BOOL;
        v->b = n == 4;
        return 0;
    }
    if (looks_like_date(s, n))
        return fail(ps, line, "dates and times are not supported");
    if (n > TOKEN_MAX)
        return fail(ps, line, "invalid value '%.32s...'", s);

    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (n - i == 3 && (memcmp(s + i, "inf", 3) == 0 || memcmp(s + i, "nan", 3) == 0)) {
        v->type = TOML_FLOAT;
        v->f = s[i] == 'i' ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
        return 0;
    }
    /* 0x, 0o, 0b: no sign, no leading underscore. */
    if (i == 0 && n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
        int base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
        size_t d = digit_run(s + 2, n - 2, base);
        uint64_t u;
        if (d != n - 2)
            return fail(ps, line, "invalid number '%.*s'", (int)n, s);
        if (digits_value(s + 2, d, base, INT64_MAX, &u) != 0)
            return fail(ps, line, "integer '%.*s' is out of range", (int)n, s);
        v->type = TOML_INT;
        v->i = (int64_t)u;
        return 0;
    }
    size_t int_start = i, d = digit_run(s + i, n - i, 10);
    if (d == 0 || (s[i] == '0' && d > 1))
        return fail(ps, line, "invalid number '%.*s'", (int)n, s);
    i += d;
    if (i == n) {
        uint64_t u;
        uint64_t max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (digits_value(s + int_start, d, 10, max, &u) != 0)
            return fail(ps, line, "integer '%.*s' is out of range", (int)n, s);
        v->type = TOML_INT;
        v->i = neg ? (int64_t)(0 - u) : (int64_t)u;
        return 0;
    }
    if (s[i] == '.') {
        size_t f = digit_run(s + i + 1, n - i - 1, 10);
        if (f == 0)
            return fail(ps, line, "invalid number '%.*s'", (int)n, s);
        i += 1 + f;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e = digit_run(s + i, n - i, 10);
        if (e == 0)
            return fail(ps, line, "invalid number '%.*s'", (int)n, s);
        i += e;
    }
    if (i != n)
        return fail(ps, line, "invalid number '%.*s'", (int)n, s);
    char tmp[TOKEN_MAX + 1];
    size_t o = 0;
    for (size_t k = 0; k < n; k++)
        if (s[k] != '_')
            tmp[o++] = s[k];
    tmp[o] = '\0';
    double x = strtod(tmp, NULL);
    if (isinf(x))
        return fail(ps, line, "float '%.*s' is out of range", (int)n, s);
    v->type = TOML_FLOAT;
    v->f = x;
    return 0;
}

/* ---- values ------------------------------------------------------------------------------ */

static int parse_value(struct parser *ps, int depth, struct toml_node **out);
static int parse_keyval(struct parser *ps, struct toml_node *table);

/* How an array or an inline table lists its elements: what closes it, whether it must close on
 * the line it opened on, and what is said when it does not. */
struct element_list {
    char close;
    int one_line;
    const char *unterminated;
    const char *expected;
};

static const struct element_list ARRAY_LIST = {']', 0, "unterminated array",
                                               "expected ',' or ']' in an array"};
static const struct element_list INLINE_TABLE_LIST = {
    '}', 1, "unterminated inline table (it must close on the same line)",
    "expected ',' or '}' in an inline table"};

/* After an element of a list opened on `line`: 1 at its close (left for the caller), 0 past the
 * ',' before the next, or fail()'s error. */
static int next_element(struct parser *ps, int line, const struct element_list *el)
{
    if (ps->p == ps->end || (el->one_line && (*ps->p == '\n' || *ps->p == '\r')))
        return fail(ps, line, "%s", el->unterminated);
    if (*ps->p == el->close)
        return 1;
    if (*ps->p != ',')
        return fail(ps, ps->line, "%s", el->expected);
    ps->p++;
    return 0;
}

static int parse_array(struct parser *ps, int depth, struct toml_node **out)
{
    int line = ps->line;
    struct toml_node *arr;
    int rc = node_new(ps, TOML_ARRAY, depth, line, &arr);
    if (rc != 0)
        return rc;
    ps->p++;
    for (;;) {
        rc = skip_blank(ps);
        if (rc != 0)
            goto out_free;
        if (ps->p == ps->end) {
            rc = fail(ps, line, "unterminated array");
            goto out_free;
        }
        if (*ps->p == ']')
            break;
        struct toml_node *kid;
        rc = parse_value(ps, depth + 1, &kid);
        if (rc == 0) {
            rc = node_add(ps, arr, kid);
            if (rc != 0)
                toml_free(kid);
        }
        if (rc == 0)
            rc = skip_blank(ps);
        if (rc != 0)
            goto out_free;
        rc = next_element(ps, line, &ARRAY_LIST);
        if (rc == 1)
            break;
        if (rc != 0)
            goto out_free;
    }
    ps->p++;
    *out = arr;
    return 0;
out_free:
    toml_free(arr);
    return rc;
}

static int parse_inline_table(struct parser *ps, int depth, struct toml_node **out)
{
    int line = ps->line;
    struct toml_node *t;
    int rc = node_new(ps, TOML_TABLE, depth, line, &t);
    if (rc != 0)
        return rc;
    t->flags = NODE_EXPLICIT | NODE_INLINE;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        *out = t;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        rc = parse_keyval(ps, t);
        if (rc != 0)
            goto out_free;
        skip_ws(ps);
        rc = next_element(ps, line, &INLINE_TABLE_LIST);
        if (rc == 1)
            break;
        if (rc != 0)
            goto out_free;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '}') {
            rc = fail(ps, ps->line, "trailing comma in an inline table");
            goto out_free;
        }
    }
    ps->p++;
    *out = t;
    return 0;
out_free:
    toml_free(t);
    return rc;
}

/* Any value, as a node at 'depth'; the caller sets its key and hangs it in the tree. */
static int parse_value(struct parser *ps, int depth, struct toml_node **out)
{
    *out = NULL;
    if (ps->p == ps->end || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '#')
        return fail(ps, ps->line, "expected a value");
    char c = *ps->p;
    if (c == '[')
        return parse_array(ps, depth, out);
    if (c == '{')
        return parse_inline_table(ps, depth, out);
    struct toml_node *v;
    int rc = node_new(ps, TOML_STRING, depth, ps->line, &v);
    if (rc != 0)
        return rc;
    if (c == '"' || c == '\'') {
        struct buf b;
        buf_init(&b);
        rc = parse_string(ps, &b);
        v->str_len = b.len;
        v->str = buf_steal(&b);
    } else {
        const char *start = ps->p;
        while (ps->p < ps->end &&
               (is_bare(*ps->p) || *ps->p == '+' || *ps->p == '.' || *ps->p == ':'))
            ps->p++;
        if (ps->p == start)
            rc = fail(ps, ps->line, "expected a value");
        else
            rc = parse_scalar_token(ps, start, (size_t)(ps->p - start), v);
    }
    if (rc != 0) {
        toml_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* ---- statements -------------------------------------------------------------------------- */

/* Put 'val' at the dotted path 'kp' under 'table', creating tables on the way. Takes 'val' only
 * on success. */
static int insert_dotted(struct parser *ps, struct toml_node *table, struct keypath *kp,
                         struct toml_node *val)
{
    char full[256], path[256];
    int line = val->line;
    struct toml_node *t = table;
    keypath_str(kp, kp->n, full, sizeof(full));
    for (int i = 0; i < kp->n - 1; i++) {
        struct toml_node *kid = lookup(t, kp->part[i]);
        int rc = 0;
        keypath_str(kp, i + 1, path, sizeof(path));
        if (kid == NULL)
            rc = table_add(ps, t, kp->part[i], NODE_DOTTED, line, &kid);
        else if (kid->type == TOML_TABLE && (kid->flags & NODE_INLINE))
            rc = fail(ps, line, "key '%s': inline table '%s' (line %d) cannot be extended", full,
                      path, kid->line);
        else if (kid->type == TOML_TABLE && !(kid->flags & NODE_DOTTED))
            rc = fail(ps, line, "key '%s': dotted keys cannot extend table '%s' (line %d)", full,
                      path, kid->line);
        else if (kid->type != TOML_TABLE)
            rc = fail(ps, line, "key '%s': '%s' is %s (line %d), not a table", full, path,
                      toml_type_name(kid->type), kid->line);
        if (rc != 0)
            return rc;
        t = kid;
    }
    struct toml_node *old = lookup(t, kp->part[kp->n - 1]);
    if (old != NULL)
        return fail(ps, line, "duplicate key '%s' (first on line %d)", full, old->line);
    val->key = kp->part[kp->n - 1];
    int rc = node_add(ps, t, val);
    if (rc != 0) {
        val->key = NULL;
        return rc;
    }
    kp->part[--kp->n] = NULL;
    return 0;
}

/* key = value, into 'table'. */
static int parse_keyval(struct parser *ps, struct toml_node *table)
{
    struct keypath kp = {.n = 0};
    int rc = parse_key(ps, &kp);
    if (rc == 0) {
        skip_ws(ps);
        if (ps->p == ps->end || *ps->p != '=') {
            char path[256];
            rc = fail(ps, ps->line, "expected '=' after the key '%s'",
                      keypath_str(&kp, kp.n, path, sizeof(path)));
        }
    }
    struct toml_node *val = NULL;
    if (rc == 0) {
        ps->p++;
        skip_ws(ps);
        rc = parse_value(ps, table->depth + kp.n, &val);
    }
    if (rc == 0) {
        rc = insert_dotted(ps, table, &kp, val);
        if (rc != 0)
            toml_free(val);
    }
    keypath_free(&kp);
    return rc;
}

/* A static array is "an array value" in messages, to tell it from an array of tables. */
static const char *what_is(const struct toml_node *n)
{
    if (n->type == TOML_ARRAY && !(n->flags & NODE_AOT))
        return "an array value";
    if (n->type == TOML_ARRAY)
        return "an array of tables";
    return toml_type_name(n->type);
}

/* Walk a header's path to its parent table: missing tables are created (not yet defined),
 * arrays of tables lead to their last element. 'hdr' is the header as written, for messages. */
static int header_walk(struct parser *ps, const struct keypath *kp, const char *hdr, int line,
                       struct toml_node **out)
{
    char path[256];
    struct toml_node *t = ps->root;
    for (int i = 0; i < kp->n - 1; i++) {
        struct toml_node *kid = lookup(t, kp->part[i]);
        int rc = 0;
        keypath_str(kp, i + 1, path, sizeof(path));
        if (kid == NULL)
            rc = table_add(ps, t, kp->part[i], 0, line, &kid);
        else if (kid->type == TOML_TABLE && (kid->flags & NODE_INLINE))
            rc = fail(ps, line, "%s: inline table '%s' (line %d) cannot be extended", hdr, path,
                      kid->line);
        else if (kid->type == TOML_ARRAY && (kid->flags & NODE_AOT))
            kid = kid->kids[kid->n_kids - 1];
        else if (kid->type != TOML_TABLE)
            rc = fail(ps, line, "%s: '%s' is %s (line %d), not a table", hdr, path, what_is(kid),
                      kid->line);
        if (rc != 0)
            return rc;
        t = kid;
    }
    *out = t;
    return 0;
}

/* [a.b] */
static int define_table(struct parser *ps, const struct keypath *kp, int line)
{
    char path[256], hdr[260];
    struct toml_node *parent, *t;
    keypath_str(kp, kp->n, path, sizeof(path));
    snprintf(hdr, sizeof(hdr), "[%s]", path);
    int rc = header_walk(ps, kp, hdr, line, &parent);
    if (rc != 0)
        return rc;
    t = lookup(parent, kp->part[kp->n - 1]);
    if (t == NULL) {
        rc = table_add(ps, parent, kp->part[kp->n - 1], NODE_EXPLICIT, line, &t);
        if (rc != 0)
            return rc;
    } else if (t->type == TOML_TABLE && (t->flags & NODE_INLINE)) {
        return fail(ps, line, "table %s is already defined inline on line %d", hdr, t->line);
    } else if (t->type == TOML_TABLE && (t->flags & NODE_DOTTED)) {
        return fail(ps, line, "table %s is already defined by dotted keys on line %d", hdr,
                    t->line);
    } else if (t->type == TOML_TABLE && (t->flags & NODE_EXPLICIT)) {
        return fail(ps, line, "table %s is already defined on line %d", hdr, t->line);
    } else if (t->type == TOML_TABLE) {
        /* Named so far only as the parent of a deeper header: this defines it. */
        t->flags |= NODE_EXPLICIT;
        t->line = line;
    } else {
        return fail(ps, line, "%s: '%s' is %s (line %d), not a table", hdr, path, what_is(t),
                    t->line);
    }
    ps->cur = t;
    return 0;
}

/* [[a.b]] */
static int append_table(struct parser *ps, const struct keypath *kp, int line)
{
    char path[256], hdr[260];
    struct toml_node *parent, *arr, *t;
    keypath_str(kp, kp->n, path, sizeof(path));
    snprintf(hdr, sizeof(hdr), "[[%s]]", path);
    int rc = header_walk(ps, kp, hdr, line, &parent);
    if (rc != 0)
        return rc;
    arr = lookup(parent, kp->part[kp->n - 1]);
    if (arr == NULL) {
        rc = node_new(ps, TOML_ARRAY, parent->depth + 1, line, &arr);
        if (rc != 0)
            return rc;
        arr->flags = NODE_AOT;
        arr->key = xstrdup(kp->part[kp->n - 1]);
        rc = node_add(ps, parent, arr);
        if (rc != 0) {
            toml_free(arr);
            return rc;
        }
    } else if (arr->type != TOML_ARRAY || !(arr->flags & NODE_AOT)) {
        return fail(ps, line, "%s: '%s' is %s (line %d), not an array of tables", hdr, path,
                    what_is(arr), arr->line);
    }
    rc = node_new(ps, TOML_TABLE, arr->depth + 1, line, &t);
    if (rc != 0)
        return rc;
    t->flags = NODE_EXPLICIT;
    rc = node_add(ps, arr, t);
    if (rc != 0) {
        toml_free(t);
        return rc;
    }
    ps->cur = t;
    return 0;
}

/* At '[': a [table] or [[array of tables]] header line. */
static int parse_header(struct parser *ps)
{
    int line = ps->line;
    int aot = 0;
    ps->p++;
    if (ps->p < ps->end && *ps->p == '[') {
        aot = 1;
        ps->p++;
    }
    skip_ws(ps);
    struct keypath kp = {.n = 0};
    int rc = parse_key(ps, &kp);
    if (rc == 0) {
        skip_ws(ps);
        if (aot && (ps->end - ps->p < 2 || ps->p[0] != ']' || ps->p[1] != ']'))
            rc = fail(ps, line, "expected ']]' to close the [[table]] header");
        else if (!aot && (ps->p == ps->end || *ps->p != ']'))
            rc = fail(ps, line, "expected ']' to close the [table] header");
    }
    if (rc == 0) {
        ps->p += aot ? 2 : 1;
        rc = finish_line(ps, "the table header");
    }
    if (rc == 0)
        rc = aot ? append_table(ps, &kp, line) : define_table(ps, &kp, line);
    keypath_free(&kp);
    return rc;
}

int toml_parse(const char *name, const char *text, size_t len, struct toml_node **out, char *err,
               size_t err_cap)
{
    struct parser ps = {
        .name = name, .p = text, .end = text + len, .line = 1, .err = err, .err_cap = err_cap};
    *out = NULL;
    if (err != NULL && err_cap > 0)
        err[0] = '\0';
    if (len > TOML_MAX_INPUT)
        return fail(&ps, 1, "file is larger than %d bytes", TOML_MAX_INPUT);
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        ps.p += 3; /* a byte order mark, as some editors write */
    int rc = check_utf8(&ps);
    if (rc != 0)
        return rc;
    rc = node_new(&ps, TOML_TABLE, 0, 1, &ps.root);
    if (rc != 0)
        return rc;
    ps.root->flags = NODE_EXPLICIT;
    ps.cur = ps.root;
    while (rc == 0) {
        skip_ws(&ps);
        if (ps.p == ps.end)
            break;
        if (*ps.p == '#' || *ps.p == '\n' || *ps.p == '\r') {
            rc = finish_line(&ps, "a comment");
        } else if (*ps.p == '[') {
            rc = parse_header(&ps);
        } else {
            rc = parse_keyval(&ps, ps.cur);
            if (rc == 0)
                rc = finish_line(&ps, "the value");
        }
    }
    if (rc != 0) {
        toml_free(ps.root);
        return rc;
    }
    *out = ps.root;
    return 0;
}
