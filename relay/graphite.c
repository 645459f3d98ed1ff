/* Graphite plaintext to line protocol, as influxd 1.6.7's graphite input converts it (see
 * graphite.h). Templates are parsed once into a filter tree; a line is split into at most a few
 * fields, its name into parts, and the point written by lpwrite.c. Pure; any thread once built.
 *
 * influxd's behaviour kept on purpose: a filter tree searched without backtracking (an exact
 * child is taken even when only a wildcard sibling would match further down); a wildcard node
 * inherits the template its parent had when the node was made; the built-in template
 * "measurement*" joins with "." whatever the separator; a template's default tag is joined with
 * what the template extracts for the same tag; timestamps as float seconds, -1 meaning now,
 * fractions taken from the floor; 1901-12-13 .. 2038-01-19 only. */
#include "relay/graphite.h"

#include "common/err.h"
#include "common/xalloc.h"
#include "relay/lineproto.h"
#include "relay/lpwrite.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_PARTS_MAX 256 /* a name with more parts than this is refused */
#define TAGS_MAX 64        /* tags of one point: template ones and default ones together */
#define MIN_NS (INT64_C(-2147558400) * 1000000000) /* 1901-12-13T00:00:00Z */
#define MAX_NS (INT64_C(2147472000) * 1000000000)  /* 2038-01-19T00:00:00Z */

enum part_kind { P_SKIP, P_MEASUREMENT, P_MEASUREMENT_ALL, P_FIELD, P_FIELD_ALL, P_TAG };

struct tmpl_part {
    enum part_kind kind;
    char *tag; /* P_TAG */
};

struct kv {
    char *key, *value;
};

struct tmpl {
    struct tmpl_part *parts;
    size_t n_parts;
    struct kv *tags; /* default tags, sorted by key as influxd's models.Tags are */
    size_t n_tags;
    const char *sep; /* borrowed from struct graphite */
    int both_wildcards; /* field* and measurement*: every line it matches is refused */
};

struct node {
    char *value;
    struct node **kids; /* sorted: by value, "*" last */
    size_t n_kids;
    const struct tmpl *tmpl;
};

struct graphite {
    char *sep;
    struct tmpl **tmpls;
    size_t n_tmpls;
    struct tmpl dflt; /* "measurement*" with "." */
    struct tmpl_part dflt_part;
    const struct tmpl *fallback; /* a template without filter, else &dflt */
    struct node root;
    struct kv *tags; /* the section's default tags */
    size_t n_tags;
};

/* ---- building ---------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t cap, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return IWR_EPARSE;
}

/* 's' split at 'sep' (one byte) into new strings; the caller frees both levels. */
static char **split(const char *s, size_t n, char sep, size_t *count)
{
    size_t k = 1;
    for (size_t i = 0; i < n; i++)
        k += s[i] == sep;
    char **v = xcalloc(k, sizeof(*v));
    size_t j = 0, start = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || s[i] == sep) {
            v[j++] = xstrndup(s + start, i - start);
            start = i + 1;
        }
    *count = k;
    return v;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int kv_cmp(const void *x, const void *y)
{
    return strcmp(((const struct kv *)x)->key, ((const struct kv *)y)->key);
}

/* "k=v,k2=v2" (or one "k=v" when 'commas' is 0) as influxd validates it: exactly one '=',
 * both sides non-empty. Appends to *tags; a key given again replaces the value. */
static int parse_tags(const char *s, int commas, struct kv **tags, size_t *n_tags, char *err,
                      size_t cap)
{
    size_t n;
    char **items = commas ? split(s, strlen(s), ',', &n) : split(s, strlen(s), '\0', &n);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *eq = strchr(items[i], '=');
        if (eq == NULL || strchr(eq + 1, '=') != NULL || eq == items[i] || eq[1] == '\0') {
            rc = fail(err, cap, "invalid template tags: '%s'", items[i]);
            break;
        }
        char *key = xstrndup(items[i], (size_t)(eq - items[i]));
        size_t j = 0;
        while (j < *n_tags && strcmp((*tags)[j].key, key) != 0)
            j++;
        if (j < *n_tags) {
            free(key);
            free((*tags)[j].value);
        } else {
            if (*n_tags >= TAGS_MAX) {
                free(key);
                rc = fail(err, cap, "more than %d tags", TAGS_MAX);
                break;
            }
            *tags = xrealloc(*tags, (*n_tags + 1) * sizeof(**tags));
            (*tags)[(*n_tags)++].key = key;
        }
        (*tags)[j].value = xstrdup(eq + 1);
    }
    strv_free(items, n);
    if (rc == 0)
        qsort(*tags, *n_tags, sizeof(**tags), kv_cmp);
    return rc;
}

static void kv_free(struct kv *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].key);
        free(t[i].value);
    }
    free(t);
}

static void tmpl_free(struct tmpl *t)
{
    for (size_t i = 0; i < t->n_parts; i++)
        free(t->parts[i].tag);
    free(t->parts);
    kv_free(t->tags, t->n_tags);
    free(t);
}

static struct tmpl *tmpl_make(const char *pattern, const char *sep)
{
    struct tmpl *t = xcalloc(1, sizeof(*t));
    char **parts = split(pattern, strlen(pattern), '.', &t->n_parts);
    t->parts = xcalloc(t->n_parts, sizeof(*t->parts));
    int mall = 0, fall = 0;
    for (size_t i = 0; i < t->n_parts; i++) {
        const char *p = parts[i];
        struct tmpl_part *tp = &t->parts[i];
        if (strcmp(p, "measurement") == 0)
            tp->kind = P_MEASUREMENT;
        else if (strcmp(p, "measurement*") == 0)
            tp->kind = P_MEASUREMENT_ALL, mall = 1;
        else if (strcmp(p, "field") == 0)
            tp->kind = P_FIELD;
        else if (strcmp(p, "field*") == 0)
            tp->kind = P_FIELD_ALL, fall = 1;
        else if (p[0] != '\0')
            tp->kind = P_TAG, tp->tag = xstrdup(p);
    }
    t->both_wildcards = mall && fall;
    t->sep = sep;
    strv_free(parts, t->n_parts);
    return t;
}

static struct node *node_child(struct node *n, const char *value)
{
    for (size_t i = 0; i < n->n_kids; i++)
        if (strcmp(n->kids[i]->value, value) == 0)
            return n->kids[i];
    struct node *c = xcalloc(1, sizeof(*c));
    c->value = xstrdup(value);
    /* As influxd: a new wildcard node starts with its parent's template. */
    if (strcmp(value, "*") == 0)
        c->tmpl = n->tmpl;
    n->kids = xrealloc(n->kids, (n->n_kids + 1) * sizeof(*n->kids));
    size_t at = n->n_kids++;
    /* Keep the order: by value, "*" after everything. */
    while (at > 0) {
        const char *prev = n->kids[at - 1]->value;
        int prev_star = strcmp(prev, "*") == 0, star = strcmp(value, "*") == 0;
        if (prev_star ? star : (star || strcmp(prev, value) < 0))
            break;
        n->kids[at] = n->kids[at - 1];
        at--;
    }
    n->kids[at] = c;
    return c;
}

static void node_insert(struct node *root, const char *filter, const struct tmpl *t)
{
    size_t n;
    char **parts = split(filter, strlen(filter), '.', &n);
    struct node *cur = root;
    for (size_t i = 0; i < n; i++)
        cur = node_child(cur, parts[i]);
    cur->tmpl = t;
    strv_free(parts, n);
}

static void node_free_kids(struct node *n)
{
    for (size_t i = 0; i < n->n_kids; i++) {
        node_free_kids(n->kids[i]);
        free(n->kids[i]->value);
        free(n->kids[i]);
    }
    free(n->kids);
}

static int filter_ok(const char *f, char *err, size_t cap)
{
    size_t n;
    char **parts = split(f, strlen(f), '.', &n);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (parts[i][0] == '\0')
            rc = fail(err, cap, "filter contains blank section: %s", f);
        else if (strchr(parts[i], '*') != NULL && strcmp(parts[i], "*") != 0)
            rc = fail(err, cap, "invalid filter wildcard section: %s", f);
    }
    strv_free(parts, n);
    return rc;
}

static int template_has_measurement(const char *t)
{
    size_t n;
    char **parts = split(t, strlen(t), '.', &n);
    int ok = 0;
    for (size_t i = 0; i < n; i++)
        ok |= strcmp(parts[i], "measurement") == 0 || strcmp(parts[i], "measurement*") == 0;
    strv_free(parts, n);
    return ok;
}

/* One "[filter] template [tags]" entry, checked as influxd's config does and added. */
static int add_template(struct graphite *g, size_t pos, const char *entry, char ***filters,
                        char *err, size_t cap)
{
    struct lpw_span f[4];
    size_t n = lpw_fields(entry, strlen(entry), f, 4);
    if (n == 0)
        return fail(err, cap, "missing template at position: %zu", pos);
    if (n > 3)
        return fail(err, cap, "invalid template format: '%s'", entry);
    char *filter = xstrdup(""), *pattern, *tags = NULL;
    if (n == 1) {
        pattern = xstrdup(entry); /* influxd keeps the whole entry here, spaces included */
    } else if (memchr(f[1].p, '=', f[1].n) != NULL) {
        pattern = xstrndup(f[0].p, f[0].n);
        tags = xstrndup(f[n - 1].p, f[n - 1].n);
    } else {
        free(filter);
        filter = xstrndup(f[0].p, f[0].n);
        pattern = xstrndup(f[1].p, f[1].n);
        if (n == 3)
            tags = xstrndup(f[2].p, f[2].n);
    }
    int rc = 0;
    if (!template_has_measurement(pattern))
        rc = fail(err, cap, "no measurement in template `%s`", pattern);
    for (size_t i = 0; rc == 0 && i < pos; i++)
        if ((*filters)[i] != NULL && strcmp((*filters)[i], filter) == 0)
            rc = fail(err, cap, "duplicate filter '%s' found at position: %zu", filter, pos);
    if (rc == 0 && filter[0] != '\0')
        rc = filter_ok(filter, err, cap);
    struct tmpl *t = NULL;
    if (rc == 0) {
        t = tmpl_make(pattern, g->sep);
        if (tags != NULL)
            rc = parse_tags(tags, 1, &t->tags, &t->n_tags, err, cap);
    }
    if (rc == 0) {
        g->tmpls = xrealloc(g->tmpls, (g->n_tmpls + 1) * sizeof(*g->tmpls));
        g->tmpls[g->n_tmpls++] = t;
        if (filter[0] == '\0')
            g->fallback = t;
        else
            node_insert(&g->root, filter, t);
        (*filters)[pos] = filter;
        filter = NULL;
    } else if (t != NULL) {
        tmpl_free(t);
    }
    free(filter);
    free(pattern);
    free(tags);
    return rc;
}

int graphite_new(struct graphite **out, const struct graphite_opts *o, char *err, size_t err_cap)
{
    struct graphite *g = xcalloc(1, sizeof(*g));
    g->sep = xstrdup(o->separator != NULL && o->separator[0] != '\0' ? o->separator : ".");
    g->dflt_part.kind = P_MEASUREMENT_ALL;
    g->dflt.parts = &g->dflt_part;
    g->dflt.n_parts = 1;
    g->dflt.sep = ".";
    g->fallback = &g->dflt;
    char **filters = xcalloc(o->n_templates + 1, sizeof(*filters));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < o->n_templates; i++)
        rc = add_template(g, i, o->templates[i], &filters, err, err_cap);
    strv_free(filters, o->n_templates);
    for (size_t i = 0; rc == 0 && i < o->n_tags; i++)
        rc = parse_tags(o->tags[i], 0, &g->tags, &g->n_tags, err, err_cap);
    if (rc != 0) {
        graphite_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void graphite_free(struct graphite *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_tmpls; i++)
        tmpl_free(g->tmpls[i]);
    free(g->tmpls);
    node_free_kids(&g->root);
    kv_free(g->tags, g->n_tags);
    free(g->sep);
    free(g);
}

/* ---- converting -------------------------------------------------------------------------- */

static int span_eq(struct lpw_span a, const char *s)
{
    return a.n == strlen(s) && memcmp(a.p, s, a.n) == 0;
}

static int span_str_cmp(const char *s, struct lpw_span a)
{
    size_t m = strlen(s), n = m < a.n ? m : a.n;
    int c = memcmp(s, a.p, n);
    if (c != 0)
        return c;
    return m < a.n ? -1 : m > a.n;
}

/* influxd's node.search over the name's parts. */
static const struct tmpl *node_search(const struct node *n, const struct lpw_span *parts,
                                      size_t n_parts)
{
    while (n_parts > 0 && n->n_kids > 0) {
        size_t len = n->n_kids;
        const struct node *star = strcmp(n->kids[len - 1]->value, "*") == 0 ? n->kids[len - 1]
                                                                             : NULL;
        if (star != NULL)
            len--;
        size_t lo = 0, hi = len;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (span_str_cmp(n->kids[mid]->value, parts[0]) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < len && span_eq(parts[0], n->kids[lo]->value))
            n = n->kids[lo];
        else if (star != NULL)
            n = star;
        else
            return n->tmpl;
        parts++, n_parts--;
    }
    return n->tmpl;
}

/* A tag being built: its value is the template's default and the parts joined with the
 * separator, in the scratch buffer. */
struct tag_acc {
    const char *key;
    size_t key_len;
    size_t off, len; /* in scratch */
    int set;
};

static struct tag_acc *acc_find(struct tag_acc *acc, size_t *n, const char *key, size_t klen)
{
    for (size_t i = 0; i < *n; i++)
        if (acc[i].key_len == klen && memcmp(acc[i].key, key, klen) == 0)
            return &acc[i];
    if (*n >= TAGS_MAX)
        return NULL;
    acc[*n] = (struct tag_acc){key, klen, 0, 0, 0};
    return &acc[(*n)++];
}

/* Append 'p' to the value of 'a' (joined by 'sep'), keeping each value contiguous in 'scratch':
 * a value that is not last there is copied to the end first. */
static void acc_add(struct tag_acc *a, struct buf *scratch, const char *sep, struct lpw_span p)
{
    if (a->set && a->off + a->len != scratch->len) {
        size_t off = scratch->len;
        buf_reserve(scratch, a->len);
        memmove(scratch->data + off, scratch->data + a->off, a->len);
        scratch->len += a->len;
        a->off = off;
    }
    if (!a->set) {
        a->off = scratch->len;
        a->set = 1;
    } else {
        buf_append_str(scratch, sep);
        a->len += strlen(sep);
    }
    buf_append(scratch, p.p, p.n);
    a->len += p.n;
}

/* Whether 'line' (one point, ending in '\n') is read back by the line-protocol checker as
 * exactly that point, byte for byte. */
static int line_round_trips(const char *line, size_t len)
{
    struct lp_result res;
    struct buf again;
    lp_result_init(&res);
    buf_init(&again);
    struct lp_options lo = {0, 1};
    lp_normalize(line, len, LP_NS, 1, &lo, &again, &res);
    int ok = res.points == 1 && res.rejected == 0 && res.stamped == 0 && again.len == len &&
             memcmp(again.data, line, len) == 0;
    lp_result_deinit(&res);
    buf_deinit(&again);
    return ok;
}

int graphite_line(const struct graphite *g, const char *line, size_t len, int64_t now_ns,
                  struct buf *out, const char **why)
{
    struct lpw_span f[3];
    size_t nf = lpw_fields(line, len, f, 3);
    if (nf == 0)
        return GRAPHITE_EMPTY;
    if (nf != 2 && nf != 3) {
        *why = "the line does not have the required fields";
        return IWR_EPARSE;
    }
    struct lpw_span parts[NAME_PARTS_MAX];
    size_t np = 0, start = 0;
    for (size_t i = 0; i <= f[0].n; i++)
        if (i == f[0].n || f[0].p[i] == '.') {
            if (np >= NAME_PARTS_MAX) {
                *why = "the name has too many parts";
                return IWR_EPARSE;
            }
            parts[np++] = (struct lpw_span){f[0].p + start, i - start};
            start = i + 1;
        }
    const struct tmpl *t = node_search(&g->root, parts, np);
    if (t == NULL)
        t = g->fallback;
    if (t->both_wildcards) {
        *why = "either 'field*' or 'measurement*' can be used in each template";
        return IWR_EPARSE;
    }

    /* Apply the template. */
    struct buf scratch; /* measurement, field and tag values, built in pieces */
    buf_init(&scratch);
    struct tag_acc acc[TAGS_MAX];
    size_t n_acc = 0;
    int rc = 0;
    for (size_t i = 0; i < t->n_tags; i++) {
        struct tag_acc *a = acc_find(acc, &n_acc, t->tags[i].key, strlen(t->tags[i].key));
        acc_add(a, &scratch, t->sep, (struct lpw_span){t->tags[i].value, strlen(t->tags[i].value)});
    }
    int m_set = 0;
    struct buf mbuf, fbuf;
    buf_init(&mbuf);
    buf_init(&fbuf);
    for (size_t i = 0; rc == 0 && i < t->n_parts && i < np; i++) {
        const struct tmpl_part *tp = &t->parts[i];
        if (tp->kind == P_MEASUREMENT || tp->kind == P_MEASUREMENT_ALL) {
            size_t end = tp->kind == P_MEASUREMENT ? i + 1 : np;
            for (size_t j = i; j < end; j++) {
                if (m_set)
                    buf_append_str(&mbuf, t->sep);
                buf_append(&mbuf, parts[j].p, parts[j].n);
                m_set = 1;
            }
            if (tp->kind == P_MEASUREMENT_ALL)
                break;
        } else if (tp->kind == P_FIELD) {
            if (fbuf.len != 0) {
                *why = "'field' can only be used once in each template";
                rc = IWR_EPARSE;
                break;
            }
            buf_clear(&fbuf);
            buf_append(&fbuf, parts[i].p, parts[i].n);
        } else if (tp->kind == P_FIELD_ALL) {
            buf_clear(&fbuf);
            for (size_t j = i; j < np; j++) {
                if (j > i)
                    buf_append_str(&fbuf, t->sep);
                buf_append(&fbuf, parts[j].p, parts[j].n);
            }
            break;
        } else if (tp->kind == P_TAG) {
            struct tag_acc *a = acc_find(acc, &n_acc, tp->tag, strlen(tp->tag));
            if (a == NULL) {
                *why = "too many tags";
                rc = IWR_EPARSE;
                break;
            }
            acc_add(a, &scratch, t->sep, parts[i]);
        }
    }

    double v = 0;
    int64_t ts = now_ns;
    if (rc == 0 && lpw_parse_float(f[1].p, f[1].n, &v) != 0) {
        *why = "the value is not a number";
        rc = IWR_EPARSE;
    }
    if (rc == 0 && isnan(v))
        rc = GRAPHITE_NAN;
    else if (rc == 0 && isinf(v)) {
        *why = "+/-Inf is an unsupported value";
        rc = IWR_EPARSE;
    }
    if (rc == 0 && nf == 3) {
        double tsec;
        if (lpw_parse_float(f[2].p, f[2].n, &tsec) != 0) {
            *why = "the timestamp is not a number";
            rc = IWR_EPARSE;
        } else if (tsec != -1.0) {
            /* Go: time.Unix(int64(t), int64((t - floor(t)) * 1e9)); out of range refused. */
            if (!(tsec > -3e9 && tsec < 3e9)) {
                rc = IWR_EPARSE;
            } else {
                int64_t sec = (int64_t)tsec;
                int64_t nsec = (int64_t)((tsec - floor(tsec)) * 1e9);
                ts = sec * 1000000000 + nsec;
                if (ts < MIN_NS || ts > MAX_NS)
                    rc = IWR_EPARSE;
            }
            if (rc != 0)
                *why = "timestamp out of range";
        }
    }
    if (rc == 0) {
        struct lpw_tag tags[TAGS_MAX];
        size_t n_tags = 0;
        /* An empty scratch buffer has no storage yet: NULL + 0 is undefined behaviour. */
        const char *base = scratch.data != NULL ? scratch.data : "";
        for (size_t i = 0; i < n_acc; i++)
            tags[n_tags++] = (struct lpw_tag){{acc[i].key, acc[i].key_len},
                                              {base + acc[i].off, acc[i].len}};
        for (size_t i = 0; i < g->n_tags; i++) {
            size_t kl = strlen(g->tags[i].key), j = 0;
            while (j < n_acc && !(acc[j].key_len == kl && memcmp(acc[j].key, g->tags[i].key, kl) == 0))
                j++;
            if (j == n_acc && n_tags < TAGS_MAX)
                tags[n_tags++] = (struct lpw_tag){{g->tags[i].key, kl},
                                                  {g->tags[i].value, strlen(g->tags[i].value)}};
        }
        /* No measurement extracted: the whole name, as influxd does. */
        struct lpw_span m = mbuf.len > 0 ? (struct lpw_span){mbuf.data, mbuf.len} : f[0];
        struct lpw_span field = fbuf.len > 0 ? (struct lpw_span){fbuf.data, fbuf.len}
                                             : (struct lpw_span){"value", 5};
        /* influxd drops a field named "time"; the point's only field here, so the point. */
        if (field.n == 4 && memcmp(field.p, "time", 4) == 0) {
            *why = "invalid field name: time";
            rc = IWR_EPARSE;
        } else {
            size_t before = out->len;
            if (lpw_point(out, m, tags, n_tags, field, v, ts, why) != 0)
                rc = IWR_EPARSE;
            else if (!line_round_trips(out->data + before, out->len - before)) {
                /* A name the writer let through that line protocol reads otherwise: drop it
                 * rather than store a line the log's own reader would refuse or change. */
                out->len = before;
                *why = "a name line protocol cannot carry";
                rc = IWR_EPARSE;
            }
        }
    }
    buf_deinit(&scratch);
    buf_deinit(&mbuf);
    buf_deinit(&fbuf);
    return rc;
}
