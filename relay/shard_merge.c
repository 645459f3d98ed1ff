/* The merge of several shards' answers to one SHOW (see relay/shard_merge.h): which statements
 * merge exactly, and the merge itself over jansson. Pure; owns nothing past a call. */
#include "relay/shard_merge.h"

#include "relay/influxql.h"

#include "common/err.h"
#include "common/xalloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

static int word_is(const char *q, const struct iql_token *t, const char *w)
{
    size_t n = strlen(w);
    return t->tok == IQL_T_KEYWORD && t->len == n && strncasecmp(q + t->off, w, n) == 0;
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

struct row {
    char *text; /* the value's compact JSON */
    json_t *v;  /* borrowed from its answer */
};

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct row *)a)->text, ((const struct row *)b)->text);
}

/* The values of 'series' (an array of series objects, same name, tags and columns: the first
 * is copied) made one series, sorted and unique. */
static json_t *merge_one(json_t **same, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += json_array_size(json_object_get(same[i], "values"));
    struct row *rows = xcalloc(total > 0 ? total : 1, sizeof(*rows));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *vals = json_object_get(same[i], "values");
        for (size_t j = 0; j < json_array_size(vals); j++) {
            rows[k].v = json_array_get(vals, j);
            rows[k].text = json_dumps(rows[k].v, JSON_COMPACT | JSON_ENCODE_ANY);
            IWR_ASSERT(rows[k].text != NULL); /* only fails out of memory */
            k++;
        }
    }
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
    if (json_array_size(vals) > 0)
        json_object_set_new(out, "values", vals);
    else
        json_decref(vals);
    return out;
}

static int same_series(json_t *a, json_t *b)
{
    static const char *const keys[] = {"name", "tags", "columns"};
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
        if ((x == NULL) != (y == NULL) || (x != NULL && !json_equal(x, y)))
            return 0;
    }
    return 1;
}

/* Result 'i' of every answer, merged. */
static json_t *merge_result(json_t **docs, size_t n, size_t i)
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
    json_object_del(out, "series");
    json_t *merged = json_array();
    json_t **same = xcalloc(n_all > 0 ? n_all : 1, sizeof(*same));
    char *used = xcalloc(n_all > 0 ? n_all : 1, 1);
    for (size_t a = 0; a < n_all; a++) {
        if (used[a])
            continue;
        size_t k = 0;
        for (size_t b = a; b < n_all; b++) {
            if (!used[b] && same_series(all[a], all[b])) {
                used[b] = 1;
                same[k++] = all[b];
            }
        }
        json_array_append_new(merged, merge_one(same, k));
    }
    free(used);
    free(same);
    free(all);
    if (json_array_size(merged) > 0)
        json_object_set_new(out, "series", merged);
    else
        json_decref(merged);
    return out;
}

int shard_merge_answers(const char *const *bodies, const size_t *lens, size_t n, struct buf *out,
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
        for (size_t i = 0; i < n_results; i++)
            json_array_append_new(results, merge_result(docs, n, i));
        json_object_set_new(doc, "results", results);
        char *text = json_dumps(doc, JSON_COMPACT);
        IWR_ASSERT(text != NULL);
        buf_append_str(out, text);
        buf_append(out, "\n", 1);
        free(text);
        json_decref(doc);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(docs[i]);
    free(docs);
    return rc;
}
