/* The merge of several shards' answers to one read (see relay/shard_merge.h): which SHOW
 * statements merge exactly, the plan for a SELECT, and the merge itself over jansson: the
 * series of every shard grouped by name, tags and columns (one sort, merge_groups) and put in
 * influxd's order (name, then tags); a SHOW's groups made one with their values sorted and
 * unique, a SELECT's with their rows merged in time order or combined bucket by bucket. Pure;
 * owns nothing past a call. */
#include "relay/shard_merge.h"

#include "relay/influxql.h"

#include "common/err.h"
#include "common/xalloc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

static int word_is(const char *q, const struct iql_token *t, const char *w)
{
    return iql_token_is(q, t, IQL_T_KEYWORD, w);
}

/* One statement (no ';'): SHOW, one of the merged kinds, and none of the words that page or
 * count. */
static int stmt_mergeable(const char *q, size_t len)
{
    static const char *const kinds[][2] = {
        {"MEASUREMENTS", NULL}, {"DATABASES", NULL}, {"SERIES", NULL},    {"TAG", "KEYS"},
        {"TAG", "VALUES"},      {"FIELD", "KEYS"},  {"RETENTION", "POLICIES"},
    };
    static const char *const refused[] = {"CARDINALITY", "LIMIT", "OFFSET", "SLIMIT", "SOFFSET",
                                          "EXACT"};
    struct iql_token t;
    struct iql_token lead[3];
    size_t nlead = 0;
    for (size_t at = 0; at < len;) {
        at = iql_scan(q, len, at, 0, &t);
        if (t.tok == IQL_T_WS || t.tok == IQL_T_COMMENT)
            continue;
        if (t.tok == IQL_T_KEYWORD) {
            for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
                if (word_is(q, &t, refused[i]))
                    return 0;
        }
        if (nlead < 3)
            lead[nlead++] = t;
    }
    if (nlead < 2 || !word_is(q, &lead[0], "SHOW"))
        return 0;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (!word_is(q, &lead[1], kinds[i][0]))
            continue;
        if (kinds[i][1] == NULL || (nlead > 2 && word_is(q, &lead[2], kinds[i][1])))
            return 1;
    }
    return 0;
}

int shard_merge_mergeable(const char *q, size_t len)
{
    size_t n = iql_split(q, len, NULL, 0);
    if (n == 0)
        return 0;
    struct iql_stmt *pieces = xcalloc(n, sizeof(*pieces));
    iql_split(q, len, pieces, n);
    int ok = 1, any = 0;
    for (size_t i = 0; ok && i < n; i++) {
        if (pieces[i].kind == IQL_EMPTY)
            continue;
        any = 1;
        ok = pieces[i].kind == IQL_READ &&
             stmt_mergeable(q + pieces[i].text_off, pieces[i].text_len);
    }
    free(pieces);
    return ok && any;
}

/* obj[key] = arr when arr has an entry (influxd leaves empty "values" and "series" out);
 * takes 'arr'. */
static void set_nonempty(json_t *obj, const char *key, json_t *arr)
{
    if (json_array_size(arr) > 0)
        json_object_set_new(obj, key, arr);
    else
        json_decref(arr);
}

struct row {
    char *text; /* the value's compact JSON */
    json_t *v;  /* borrowed from its answer */
};

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct row *)a)->text, ((const struct row *)b)->text);
}

/* Every row ("values" entry) of the series same[0, n), in their order, their number in *k; the
 * rows are borrowed from the series, the array is the caller's to free. */
static json_t **rows_of(json_t **same, size_t n, size_t *k)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += json_array_size(json_object_get(same[i], "values"));
    json_t **rows = xcalloc(total > 0 ? total : 1, sizeof(*rows));
    *k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *vals = json_object_get(same[i], "values");
        for (size_t j = 0; j < json_array_size(vals); j++)
            rows[(*k)++] = json_array_get(vals, j);
    }
    return rows;
}

/* The values of 'series' (an array of series objects, same name, tags and columns: the first
 * is copied) made one series, sorted and unique. */
static json_t *merge_one(json_t **same, size_t n)
{
    size_t k;
    json_t **all = rows_of(same, n, &k);
    struct row *rows = xcalloc(k > 0 ? k : 1, sizeof(*rows));
    for (size_t i = 0; i < k; i++) {
        rows[i].v = all[i];
        rows[i].text = json_dumps(rows[i].v, JSON_COMPACT | JSON_ENCODE_ANY);
        IWR_ASSERT(rows[i].text != NULL); /* only fails out of memory */
    }
    free(all);
    qsort(rows, k, sizeof(*rows), row_cmp);
    json_t *out = json_deep_copy(same[0]);
    json_t *vals = json_array();
    for (size_t i = 0; i < k; i++) {
        if (i == 0 || strcmp(rows[i].text, rows[i - 1].text) != 0)
            json_array_append(vals, rows[i].v);
    }
    for (size_t i = 0; i < k; i++)
        free(rows[i].text);
    free(rows);
    set_nonempty(out, "values", vals);
    return out;
}

/* ---- the plan for a SELECT ------------------------------------------------------------------ */

static const char merge_fns[] = "only count(), sum(), min() and max() merge exactly";

static int refuse(struct shard_merge_plan *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int refuse(struct shard_merge_plan *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof(p->why), fmt, ap);
    va_end(ap);
    return 0;
}

int shard_merge_plan_select(const struct iql_select *s, const char *const *key_tags,
                            const size_t *key_tag_lens, size_t n, struct shard_merge_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->kind = SHARD_MERGE_SERIES;
    p->desc = s->desc;
    p->widen_columns = s->wildcard || s->call_wildcard;
    p->widen_tags = s->group_all;
    if (s->explain)
        return refuse(p, "EXPLAIN cannot be merged across shards: it shows one server's plan; "
                         "run it on a backend of each shard");
    if (s->subquery)
        return refuse(p, "a subquery cannot be merged across shards: the relay cannot tell which "
                         "shards it reads; query each shard's backends directly");
    if (s->slimit > 0 || s->soffset > 0)
        return refuse(p, "SLIMIT and SOFFSET cannot be merged across shards: each shard would "
                         "count only its own series");
    /* A key tag that GROUP BY does not name: one output series can hold points of several
     * shards. GROUP BY * names every tag; a GROUP BY regex may or may not. */
    int tag = -1;
    for (size_t i = 0; i < n && tag < 0 && !s->group_all; i++)
        if (s->group_regex || !iql_select_groups_by(s, key_tags[i], key_tag_lens[i]))
            tag = (int)i;
    if (tag < 0)
        return 1;
    const char *t = key_tags[tag];
    int tl = (int)key_tag_lens[tag];
    int aggregate = s->n_calls > 0 || s->call_expr || s->calls_overflow;
    if (!aggregate) {
        p->kind = SHARD_MERGE_POINTS;
        p->limit = s->limit;
        if (s->offset > 0)
            return refuse(p,
                          "OFFSET cannot be merged across shards: the shard key's tag %.*s "
                          "is not in GROUP BY, so a series' points are on several shards "
                          "and each would skip its own (use LIMIT alone, or GROUP BY %.*s)",
                          tl, t, tl, t);
        return 1;
    }
    if (s->call_expr || s->calls_overflow)
        return refuse(p,
                      "an expression over aggregates cannot be merged across shards: the "
                      "shard key's tag %.*s is not in GROUP BY, so a series' points are on "
                      "several shards; %s, each alone (or add GROUP BY %.*s)",
                      tl, t, merge_fns, tl, t);
    int minmax = 0;
    p->kind = SHARD_MERGE_BUCKETS;
    for (size_t i = 0; i < s->n_calls; i++) {
        const char *f = s->calls[i];
        enum shard_merge_op op = strcmp(f, "count") == 0 || strcmp(f, "sum") == 0 ? SHARD_OP_ADD
                                 : strcmp(f, "min") == 0                          ? SHARD_OP_MIN
                                 : strcmp(f, "max") == 0                          ? SHARD_OP_MAX
                                                                                  : SHARD_OP_KEEP;
        if (op == SHARD_OP_KEEP)
            return refuse(p,
                          "%s() cannot be merged across shards: the shard key's tag %.*s is "
                          "not in GROUP BY, so a series' points are on several shards; %s "
                          "(or add GROUP BY %.*s)",
                          f, tl, t, merge_fns, tl, t);
        minmax |= op != SHARD_OP_ADD;
        p->ops[p->n_ops++] = op;
    }
    if (s->fill == IQL_FILL_PREVIOUS || s->fill == IQL_FILL_LINEAR || s->fill == IQL_FILL_NUMBER ||
        (s->fill == IQL_FILL_ZERO && minmax))
        return refuse(p,
                      "this fill() cannot be merged across shards: the shard key's tag %.*s "
                      "is not in GROUP BY, so each shard would fill its own gaps; fill(null) "
                      "and fill(none) merge, and fill(0) with count() and sum()",
                      tl, t);
    if (s->offset > 0)
        return refuse(p,
                      "OFFSET cannot be merged across shards: the shard key's tag %.*s is "
                      "not in GROUP BY, so a series' buckets are on several shards and each "
                      "would skip its own (use LIMIT alone, or GROUP BY %.*s)",
                      tl, t, tl, t);
    if (s->call_wildcard && (s->n_calls != 1 || minmax))
        return refuse(p,
                      "a wildcard call other than count(*) or sum(*) alone cannot be merged "
                      "across shards: the shard key's tag %.*s is not in GROUP BY; name the "
                      "field (or add GROUP BY %.*s)",
                      tl, t, tl, t);
    p->op_all = s->call_wildcard;
    p->select_row = s->n_calls == 1 && minmax;
    if (s->raw_fields && !p->select_row) {
        /* influxd refuses fields beside aggregates itself; only its error is passed on. */
        p->kind = SHARD_MERGE_ERROR;
        return refuse(p, "fields beside aggregates cannot be merged across shards");
    }
    p->one_row = !s->group_time;
    p->limit = s->limit;
    return 1;
}

/* ---- the merge of SELECT answers ------------------------------------------------------------ */

/* A JSON string's text, "" for anything else. */
static const char *str_of(json_t *v)
{
    const char *s = json_string_value(v);
    return s != NULL ? s : "";
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* A row's time: an integer (epoch=...) as it is, or influxd's RFC 3339 text in UTC with up to
 * nine fraction digits, in nanoseconds. 0 on success. */
static int row_time(json_t *row, int64_t *t)
{
    json_t *v = json_array_get(row, 0);
    if (json_is_integer(v)) {
        *t = (int64_t)json_integer_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    int y, mo, d, h, mi, sec, used = 0;
    if (s == NULL ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
        used != 19 || mo < 1 || mo > 12)
        return -1;
    int64_t frac = 0;
    int digits = 0;
    const char *p = s + 19;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 9)
                frac = frac * 10 + (*p - '0');
    if (strcmp(p, "Z") != 0)
        return -1;
    for (; digits < 9; digits++)
        frac *= 10;
    *t = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec) *
          1000000000) +
         frac;
    return 0;
}

/* The keys of object 'obj' (none for anything else) in byte order, their number in *n; the
 * keys are borrowed from 'obj', the array is the caller's to free. */
static const char **sorted_keys(json_t *obj, size_t *n)
{
    size_t k = 0;
    *n = json_object_size(obj);
    const char **keys = xcalloc(*n > 0 ? *n : 1, sizeof(*keys));
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        (void)val;
        keys[k++] = key;
    }
    qsort(keys, *n, sizeof(*keys), name_cmp);
    return keys;
}

/* influxd's tag set identity: the keys in order, each ended by a 0 byte, then the values
 * joined by 0 bytes (the bytes it sorts series by). */
static void tags_id(json_t *series, struct buf *out)
{
    json_t *tags = json_object_get(series, "tags");
    size_t n;
    const char **keys = sorted_keys(tags, &n);
    for (size_t i = 0; i < n; i++)
        buf_append(out, keys[i], strlen(keys[i]) + 1);
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(tags, keys[i]));
        buf_append_str(out, v != NULL ? v : "");
        if (i + 1 < n)
            buf_append(out, "", 1);
    }
    free(keys);
}

/* A series with what it is sorted and grouped by: name, then tag set identity, then columns
 * (their compact JSON), then 'exact', then arrival (shard order). */
struct ordered {
    json_t *series;
    struct buf id;
    char *cols;
    char *exact; /* name, tags and columns as they are (compact, keys sorted): equal exactly
                  * when json_equal finds them so, which the readings above need not be */
    size_t at;
};

static int ordered_cmp_key(const struct ordered *x, const struct ordered *y)
{
    int c = strcmp(str_of(json_object_get(x->series, "name")),
                   str_of(json_object_get(y->series, "name")));
    if (c != 0)
        return c;
    size_t n = x->id.len < y->id.len ? x->id.len : y->id.len;
    c = n > 0 ? memcmp(x->id.data, y->id.data, n) : 0;
    if (c != 0)
        return c;
    if (x->id.len != y->id.len)
        return x->id.len < y->id.len ? -1 : 1;
    c = strcmp(x->cols, y->cols);
    return c != 0 ? c : strcmp(x->exact, y->exact);
}

static int ordered_cmp(const void *a, const void *b)
{
    const struct ordered *x = a, *y = b;
    int c = ordered_cmp_key(x, y);
    return c != 0 ? c : (x->at > y->at) - (x->at < y->at);
}

/* Every series of 'all' gets the union of their columns, "time" first and the rest sorted,
 * with null in the new ones (each is replaced by a widened copy owned by 'owned'). */
static void widen_columns(json_t **all, size_t n, json_t *owned)
{
    json_t *set = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *cols = json_object_get(all[i], "columns");
        if (!json_is_array(cols) || strcmp(str_of(json_array_get(cols, 0)), "time") != 0) {
            json_decref(set);
            return; /* not a SELECT's series: left as they came */
        }
        for (size_t c = 1; c < json_array_size(cols); c++)
            if (json_is_string(json_array_get(cols, c)))
                json_object_set_new(set, json_string_value(json_array_get(cols, c)), json_true());
    }
    size_t nc;
    const char **names = sorted_keys(set, &nc);
    json_t *cols = json_array();
    json_array_append_new(cols, json_string("time"));
    for (size_t c = 0; c < nc; c++)
        json_array_append_new(cols, json_string(names[c]));
    for (size_t i = 0; i < n; i++) {
        json_t *old = json_object_get(all[i], "columns");
        if (json_equal(old, cols))
            continue;
        json_t *copy = json_copy(all[i]); /* shallow: values are replaced */
        json_object_set(copy, "columns", cols);
        size_t *from = xcalloc(nc + 1, sizeof(*from)); /* new column -> old index + 1, 0 none */
        from[0] = 1;
        for (size_t c = 0; c < nc; c++)
            for (size_t o = 1; o < json_array_size(old); o++)
                if (strcmp(str_of(json_array_get(old, o)), names[c]) == 0)
                    from[c + 1] = o + 1;
        json_t *vals = json_object_get(all[i], "values"), *nv = json_array();
        for (size_t r = 0; r < json_array_size(vals); r++) {
            json_t *row = json_array_get(vals, r), *nr = json_array();
            for (size_t c = 0; c <= nc; c++) {
                json_t *x = from[c] > 0 ? json_array_get(row, from[c] - 1) : NULL;
                json_array_append(nr, x != NULL ? x : json_null());
            }
            json_array_append_new(nv, nr);
        }
        if (json_object_get(all[i], "values") != NULL)
            json_object_set_new(copy, "values", nv);
        else
            json_decref(nv);
        free(from);
        json_array_append_new(owned, copy);
        all[i] = copy;
    }
    json_decref(cols);
    free(names);
    json_decref(set);
}

/* GROUP BY *: every series of a measurement gets the union of its tag keys ("" when absent). */
static void widen_tags(json_t **all, size_t n, json_t *owned)
{
    json_t *keys = json_object(); /* measurement -> {tag key: true} */
    for (size_t i = 0; i < n; i++) {
        json_t *tags = json_object_get(all[i], "tags");
        if (!json_is_object(tags))
            continue;
        const char *name = str_of(json_object_get(all[i], "name"));
        json_t *set = json_object_get(keys, name);
        if (set == NULL) {
            set = json_object();
            json_object_set_new(keys, name, set);
        }
        const char *key;
        json_t *val;
        json_object_foreach(tags, key, val)
        {
            (void)val;
            json_object_set(set, key, json_true());
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *set = json_object_get(keys, str_of(json_object_get(all[i], "name")));
        json_t *tags = json_object_get(all[i], "tags");
        if (set == NULL || json_object_size(tags) == json_object_size(set))
            continue;
        json_t *copy = json_copy(all[i]);
        json_t *nt = tags != NULL ? json_copy(tags) : json_object();
        const char *key;
        json_t *val;
        json_object_foreach(set, key, val)
        {
            (void)val;
            if (json_object_get(nt, key) == NULL)
                json_object_set_new(nt, key, json_string(""));
        }
        json_object_set_new(copy, "tags", nt);
        json_array_append_new(owned, copy);
        all[i] = copy;
    }
    json_decref(keys);
}

struct prow {
    json_t *row;
    int64_t t;
    size_t order; /* arrival: shard, then row; ties keep it */
    int desc;
};

static int prow_cmp(const void *a, const void *b)
{
    const struct prow *x = a, *y = b;
    if (x->t != y->t)
        return (x->t < y->t) != x->desc ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* a vs b for MIN/MAX: whether b beats a (null never does; a null a always loses). */
static int beats(json_t *a, json_t *b, enum shard_merge_op op)
{
    if (!json_is_number(b))
        return 0;
    if (!json_is_number(a))
        return 1;
    double x = json_number_value(a), y = json_number_value(b);
    if (json_is_integer(a) && json_is_integer(b))
        return op == SHARD_OP_MIN ? json_integer_value(b) < json_integer_value(a)
                                  : json_integer_value(b) > json_integer_value(a);
    return op == SHARD_OP_MIN ? y < x : y > x;
}

/* rows[0, n) (one bucket, or a whole series with one_row) made one row, appended to 'out'. */
static void combine(const struct shard_merge_plan *p, struct prow *rows, size_t n, json_t *out)
{
    if (p->select_row) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++) {
            json_t *a = json_array_get(rows[best].row, 1), *b = json_array_get(rows[i].row, 1);
            int b_wins = beats(a, b, p->ops[0]);
            int tie = !b_wins && json_is_number(a) && json_is_number(b) && !beats(b, a, p->ops[0]);
            if (b_wins || (tie && rows[i].t < rows[best].t)) /* influxd: the earlier wins */
                best = i;
        }
        json_array_append(out, rows[best].row);
        return;
    }
    json_t *row = json_array();
    size_t width = json_array_size(rows[0].row);
    json_array_append(row, json_array_get(rows[0].row, 0));
    for (size_t c = 1; c < width; c++) {
        enum shard_merge_op op = p->op_all          ? p->ops[0]
                                 : c - 1 < p->n_ops ? p->ops[c - 1]
                                                    : SHARD_OP_KEEP;
        json_t *acc = json_array_get(rows[0].row, c);
        uint64_t isum = 0;
        double rsum = 0;
        int any = 0, real = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(rows[i].row, c);
            if (op == SHARD_OP_ADD && json_is_number(v)) {
                any = 1;
                real |= json_is_real(v);
                rsum += json_number_value(v);
                if (json_is_integer(v)) /* wraps as influxd's int64 sum does */
                    isum += (uint64_t)json_integer_value(v);
            } else if ((op == SHARD_OP_MIN || op == SHARD_OP_MAX) && beats(acc, v, op)) {
                acc = v;
            } else if (op == SHARD_OP_KEEP && !json_is_number(acc) && json_is_number(v)) {
                acc = v;
            }
        }
        if (op == SHARD_OP_ADD)
            json_array_append_new(row, !any   ? json_null()
                                       : real ? json_real(rsum)
                                              : json_integer((json_int_t)isum));
        else
            json_array_append(row, acc != NULL ? acc : json_null());
    }
    json_array_append_new(out, row);
}

/* The series same[0, n) (same name, tags and columns, in shard order) made one. NULL with
 * 'err' set when a row's time cannot be read. */
static json_t *merge_rows(const struct shard_merge_plan *p, json_t **same, size_t n,
                          struct buf *err)
{
    size_t k;
    json_t **all = rows_of(same, n, &k);
    struct prow *rows = xcalloc(k > 0 ? k : 1, sizeof(*rows));
    for (size_t i = 0; i < k; i++) {
        rows[i].row = all[i];
        rows[i].order = i;
        rows[i].desc = p->desc;
        if (!json_is_array(rows[i].row) || row_time(rows[i].row, &rows[i].t) != 0) {
            /* every series of a group has the same name */
            buf_printf(err, "a row of series %s has no time the relay can read",
                       str_of(json_object_get(same[0], "name")));
            free(all);
            free(rows);
            return NULL;
        }
    }
    free(all);
    qsort(rows, k, sizeof(*rows), prow_cmp);
    json_t *vals = json_array();
    if (p->kind != SHARD_MERGE_BUCKETS) {
        for (size_t i = 0; i < k; i++)
            json_array_append(vals, rows[i].row);
    } else {
        for (size_t i = 0; i < k;) {
            size_t j = i + 1;
            while (j < k && (p->one_row || rows[j].t == rows[i].t))
                j++;
            combine(p, rows + i, j - i, vals);
            i = j;
        }
    }
    free(rows);
    if (p->limit > 0 && json_array_size(vals) > (size_t)p->limit) {
        json_t *cut = json_array();
        for (size_t i = 0; i < (size_t)p->limit; i++)
            json_array_append(cut, json_array_get(vals, i));
        json_decref(vals);
        vals = cut;
    }
    json_t *out = json_copy(same[0]);
    set_nonempty(out, "values", vals);
    return out;
}

/* A JSON value's compact text, keys sorted ("" for none). Caller frees. */
static char *text_of(json_t *v)
{
    char *t = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    return t != NULL ? t : xstrdup("");
}

/* The series all[0, n) (every shard's, in shard order) grouped by name, tags and columns, each
 * group made one (SHOW: plan NULL, values sorted and unique; SELECT: by plan 'p'), into a new
 * array in influxd's order: by name, then tags, then columns. NULL with 'err' set when a
 * SELECT's rows cannot be merged. */
static json_t *merge_groups(const struct shard_merge_plan *p, json_t **all, size_t n,
                            struct buf *err)
{
    /* Sorted by name, tags, columns and arrival, the series to be made one are neighbours, in
     * shard order: n log n, where comparing every pair was n squared. */
    struct ordered *ord = xcalloc(n > 0 ? n : 1, sizeof(*ord));
    json_t *key = json_object();
    for (size_t i = 0; i < n; i++) {
        ord[i].series = all[i];
        ord[i].at = i;
        buf_init(&ord[i].id);
        tags_id(all[i], &ord[i].id);
        json_t *cols = json_object_get(all[i], "columns");
        ord[i].cols = cols != NULL ? text_of(cols) : xstrdup("");
        json_object_clear(key);
        static const char *const parts[] = {"name", "tags", "columns"};
        for (size_t k = 0; k < 3; k++)
            if (json_object_get(all[i], parts[k]) != NULL)
                json_object_set(key, parts[k], json_object_get(all[i], parts[k]));
        ord[i].exact = text_of(key);
    }
    json_decref(key);
    qsort(ord, n, sizeof(*ord), ordered_cmp);
    json_t **same = xcalloc(n > 0 ? n : 1, sizeof(*same));
    json_t *merged = json_array();
    for (size_t a = 0; a < n && merged != NULL;) {
        size_t b = a + 1;
        while (b < n && ordered_cmp_key(&ord[a], &ord[b]) == 0)
            b++;
        for (size_t k = a; k < b; k++)
            same[k - a] = ord[k].series;
        json_t *one = p == NULL    ? merge_one(same, b - a)
                      : b - a == 1 ? json_incref(same[0])
                                   : merge_rows(p, same, b - a, err);
        if (one == NULL) {
            json_decref(merged);
            merged = NULL;
        } else {
            json_array_append_new(merged, one);
        }
        a = b;
    }
    for (size_t i = 0; i < n; i++) {
        buf_deinit(&ord[i].id);
        free(ord[i].cols);
        free(ord[i].exact);
    }
    free(ord);
    free(same);
    return merged;
}

/* The series of every shard's result (in 'all') merged, as a SHOW's (plan NULL) or by SELECT
 * plan 'p', into 'out' (a copy of the first answer's result without its series). 0, or -1 with
 * 'err'. */
static int merge_series(const struct shard_merge_plan *p, json_t **all, size_t n_all, json_t *out,
                        struct buf *err)
{
    json_t *owned = json_array(); /* widened copies, freed at the end */
    if (p != NULL && p->widen_tags)
        widen_tags(all, n_all, owned);
    if (p != NULL && p->widen_columns)
        widen_columns(all, n_all, owned);
    json_t *merged = merge_groups(p, all, n_all, err);
    if (merged != NULL && p != NULL && p->desc) { /* series in reverse order too */
        size_t ns = json_array_size(merged);
        json_t *rev = json_array();
        for (size_t i = ns; i > 0; i--)
            json_array_append(rev, json_array_get(merged, i - 1));
        json_decref(merged);
        merged = rev;
    }
    int rc = merged != NULL ? 0 : -1;
    set_nonempty(out, "series", merged);
    json_decref(owned);
    return rc;
}

/* Result 'i' of every answer, merged by plan 'p' (NULL: as a SHOW). NULL with 'err' set when
 * a SELECT's rows cannot be merged. */
static json_t *merge_result(json_t **docs, size_t n, size_t i, const struct shard_merge_plan *p,
                            struct buf *err)
{
    json_t **all = NULL;
    size_t n_all = 0, cap = 0;
    for (size_t d = 0; d < n; d++) {
        json_t *r = json_array_get(json_object_get(docs[d], "results"), i);
        if (json_object_get(r, "error") != NULL) {
            free(all);
            return json_deep_copy(r);
        }
        json_t *series = json_object_get(r, "series");
        for (size_t j = 0; j < json_array_size(series); j++) {
            if (n_all == cap) {
                cap = cap ? cap * 2 : 16;
                all = xrealloc(all, cap * sizeof(*all));
            }
            all[n_all++] = json_array_get(series, j);
        }
    }
    json_t *out = json_deep_copy(json_array_get(json_object_get(docs[0], "results"), i));
    if (!json_is_object(out)) { /* a result that is not an object: kept as it came */
        free(all);
        return out != NULL ? out : json_object();
    }
    json_object_del(out, "series");
    if (p != NULL && p->kind == SHARD_MERGE_ERROR) {
        json_object_set_new(out, "error", json_string(p->why));
        free(all);
        return out;
    }
    int rc = merge_series(p != NULL && p->kind != SHARD_MERGE_SHOW ? p : NULL, all, n_all, out, err);
    free(all);
    if (rc != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

int shard_merge_answers_plan(const char *const *bodies, const size_t *lens, size_t n,
                             const struct shard_merge_plan *plans, size_t n_plans, struct buf *out,
                             struct buf *err)
{
    json_t **docs = xcalloc(n > 0 ? n : 1, sizeof(*docs));
    int rc = 0;
    size_t n_results = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_error_t je;
        docs[i] = json_loadb(bodies[i], lens[i], 0, &je);
        json_t *res = json_object_get(docs[i], "results");
        if (docs[i] == NULL || !json_is_array(res)) {
            buf_printf(err, "answer %zu is not a JSON {\"results\":[...]}", i + 1);
            rc = IWR_EPARSE;
        } else if (i == 0) {
            n_results = json_array_size(res);
        } else if (json_array_size(res) != n_results) {
            buf_printf(err, "the shards' answers hold different numbers of results");
            rc = IWR_EPARSE;
        }
    }
    if (rc == 0 && n > 0) {
        json_t *doc = json_object();
        json_t *results = json_array();
        for (size_t i = 0; i < n_results && rc == 0; i++) {
            json_t *r0 = json_array_get(json_object_get(docs[0], "results"), i);
            json_t *sid = json_object_get(r0, "statement_id");
            size_t k = json_is_integer(sid) && json_integer_value(sid) >= 0
                           ? (size_t)json_integer_value(sid)
                           : i;
            json_t *m = merge_result(docs, n, i, k < n_plans ? &plans[k] : NULL, err);
            if (m == NULL)
                rc = IWR_EPARSE;
            else
                json_array_append_new(results, m);
        }
        json_object_set_new(doc, "results", results);
        if (rc == 0) {
            char *text = json_dumps(doc, JSON_COMPACT);
            IWR_ASSERT(text != NULL);
            buf_append_str(out, text);
            buf_append(out, "\n", 1);
            free(text);
        }
        json_decref(doc);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(docs[i]);
    free(docs);
    return rc;
}

int shard_merge_answers(const char *const *bodies, const size_t *lens, size_t n, struct buf *out,
                        struct buf *err)
{
    return shard_merge_answers_plan(bodies, lens, n, NULL, 0, out, err);
}
