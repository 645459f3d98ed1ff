/* influx-wal audit, the log side: the records a backend acknowledged, their lines read back
 * with the relay's own line-protocol scanner (relay/lineproto.h), counted per window (database,
 * retention policy, measurement, hour) and field as distinct points (series and timestamp): a
 * point written twice counts once, as the backend keeps only the last write, and the points of
 * the backend's dead letters are left out. Memory: one 64-bit hash per distinct point (bounded
 * by MAX_POINTS) and one entry per window and field. */
#include "cmd/influx-wal/audit.h"

#include "common/err.h"
#include "common/hash.h"
#include "common/xalloc.h"
#include "relay/lineproto.h"
#include "scrub/window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- interned strings ------------------------------------------------------------------- */

static void strtab_deinit(struct strtab *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->str[i]);
    free(t->str);
    free(t->len);
    free(t->hash);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static void strtab_place(struct strtab *t, size_t id)
{
    size_t i = t->hash[id] & (t->n_slots - 1);
    while (t->slots[i] != 0)
        i = (i + 1) & (t->n_slots - 1);
    t->slots[i] = (uint32_t)id + 1;
}

static size_t strtab_id(struct strtab *t, const char *s, size_t len)
{
    uint64_t h = scrub_hash(0, s, len);
    for (size_t i = h & (t->n_slots - 1); t->n_slots > 0 && t->slots[i] != 0;
         i = (i + 1) & (t->n_slots - 1)) {
        size_t id = t->slots[i] - 1;
        if (t->hash[id] == h && t->len[id] == len && memcmp(t->str[id], s, len) == 0)
            return id;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->str = xrealloc(t->str, t->cap * sizeof(*t->str));
        t->len = xrealloc(t->len, t->cap * sizeof(*t->len));
        t->hash = xrealloc(t->hash, t->cap * sizeof(*t->hash));
    }
    size_t id = t->n++;
    t->str[id] = xstrndup(s, len);
    t->len[id] = len;
    t->hash[id] = h;
    if (t->n * 2 > t->n_slots) {
        free(t->slots);
        t->n_slots = t->n_slots ? t->n_slots * 2 : 128;
        t->slots = xcalloc(t->n_slots, sizeof(*t->slots));
        for (size_t j = 0; j < t->n; j++)
            strtab_place(t, j);
    } else {
        strtab_place(t, id);
    }
    return id;
}

/* ---- the windows --------------------------------------------------------------------------- */

/* The window of 'group' and 'hour', added if new. Window ids are their strtab ids in a->win_ids
 * and their index in a->win until audit_sort_windows reorders a->win (counting is over then). */
static struct window *window_get(struct audit *a, size_t group, int64_t hour)
{
    uint64_t key[2] = {(uint64_t)group, (uint64_t)hour};
    size_t id = strtab_id(&a->win_ids, (const char *)key, sizeof(key));
    if (id < a->n_win)
        return &a->win[id];
    IWR_ASSERT(id == a->n_win);
    if (a->n_win == a->cap_win) {
        a->cap_win = a->cap_win ? a->cap_win * 2 : 256;
        a->win = xrealloc(a->win, a->cap_win * sizeof(*a->win));
    }
    struct window *w = &a->win[a->n_win++];
    memset(w, 0, sizeof(*w));
    w->group = group;
    w->hour = hour;
    return w;
}

static struct field_count *window_field(struct window *w, size_t field)
{
    for (size_t i = 0; i < w->n_fields; i++)
        if (w->fields[i].field == field)
            return &w->fields[i];
    w->fields = xrealloc(w->fields, (w->n_fields + 1) * sizeof(*w->fields));
    struct field_count *f = &w->fields[w->n_fields++];
    memset(f, 0, sizeof(*f));
    f->field = field;
    return f;
}

/* The group of db, rp and the measurement as influxd names it. */
static size_t group_of(struct audit *a, const struct wal_record *rec, const struct lp_line *ln)
{
    struct buf *g = &a->scratch;
    buf_clear(g);
    buf_append(g, rec->db, rec->db_len);
    buf_append(g, "", 1);
    buf_append(g, rec->rp, rec->rp_len);
    buf_append(g, "", 1);
    lp_unescape(g, ln->line, ln->measurement_len);
    return strtab_id(&a->groups, g->data, g->len);
}

/* The series' tags, in any order: the sum of each tag's hash (as sent). */
static uint64_t tags_hash(const struct lp_line *ln)
{
    uint64_t h = 0;
    const char *tag;
    size_t pos = 0, len;
    while (lp_line_next_tag(ln, &pos, &tag, &len))
        h += scrub_hash(0x7461677300000000ull, tag, len);
    return h;
}

/* One more point for each field of the line; a field given twice in it is one field. */
static void count_fields(struct audit *a, struct window *w, const struct lp_line *ln)
{
    size_t n = 0, pos = 0;
    while (lp_line_next_field(ln, &pos, &a->key)) {
        size_t id = strtab_id(&a->field_names, a->key.data ? a->key.data : "", a->key.len);
        size_t i = 0;
        while (i < n && a->line_fields[i] != id)
            i++;
        if (i < n)
            continue;
        if (n == a->line_fields_cap) {
            a->line_fields_cap = n ? n * 2 : 16;
            a->line_fields = xrealloc(a->line_fields, a->line_fields_cap * sizeof(size_t));
        }
        a->line_fields[n++] = id;
        window_field(w, id)->log++;
    }
}

/* Each point of 'rec' with its window; 'refused_pass' only collects the keys of dead letters. */
static void scan_record(struct audit *a, const struct wal_record *rec, int refused_pass)
{
    if (rec->flags & WAL_REC_STATEMENT) /* InfluxQL, no points */
        return;
    enum lp_precision prec = rec->precision <= LP_H ? (enum lp_precision)rec->precision : LP_NS;
    size_t pos = 0;
    struct lp_line ln;
    int rc;
    while (!a->too_many && (rc = lp_line_next(rec->body, rec->body_len, &pos, prec, &ln)) != 0) {
        /* Stored lines always carry a timestamp (the relay stamps those without one). */
        if (rc < 0 || !ln.has_ts) {
            a->unparsed += !refused_pass;
            continue;
        }
        int64_t hour = scrub_hour_of(ln.ts_ns);
        if (a->have_since && hour < a->since_hour)
            continue;
        size_t group = group_of(a, rec, &ln);
        uint64_t key = hash_mix64(((uint64_t)group * 0x9e3779b97f4a7c15ull) ^ (uint64_t)ln.ts_ns);
        key = hash_mix64(key ^ tags_hash(&ln));
        if (refused_pass) {
            scrub_hmap_add(&a->refused, key);
            continue;
        }
        struct window *w = window_get(a, group, hour);
        if (w->min_seq == 0 || rec->seq < w->min_seq)
            w->min_seq = rec->seq;
        if (rec->seq > w->max_seq)
            w->max_seq = rec->seq;
        a->lines++;
        if (a->refused.n > 0 && scrub_hmap_get(&a->refused, key, NULL)) {
            w->refused++;
            a->refused_lines++;
            continue;
        }
        if (!scrub_hmap_add(&a->points, key)) {
            w->dups++;
            a->dups++;
            continue;
        }
        if (a->points.n > MAX_POINTS) {
            a->too_many = 1;
            break;
        }
        count_fields(a, w, &ln);
    }
}

/* The dead letters of the backend: their points are not expected on it. */
static int scan_dead(struct audit *a, struct wal_reader *r)
{
    struct wal_dead_letter dl;
    char after[WAL_NAME_MAX + 1] = "";
    uint64_t after_id = 0;
    for (;;) {
        int rc = wal_reader_dead_next(r, a->backend, after[0] ? after : NULL, after_id, &dl);
        if (rc == IWR_ENOTFOUND)
            return 0;
        if (rc != 0)
            return rc;
        snprintf(after, sizeof(after), "%s", dl.backend);
        after_id = dl.id;
        scan_record(a, &dl.rec, 1);
    }
}

static int audit_visit(void *arg, const struct wal_record *rec)
{
    struct audit *a = arg;
    if (a->first_seq == 0)
        a->first_seq = rec->seq;
    a->last_seq = rec->seq;
    a->records++;
    scan_record(a, rec, 0);
    return a->too_many; /* 1 stops the scan */
}

/* Records up to the cursor of the backend (those it acknowledged). */
int audit_count_log(struct audit *a, struct wal *w)
{
    struct wal_reader *r;
    wal_reader_new(w, &r);
    uint64_t cursor = 0, first = 0, last = 0, high = 0;
    int rc = wal_reader_begin(r);
    if (rc == 0)
        rc = wal_reader_cursor(r, a->backend, &cursor);
    if (rc == 0)
        rc = wal_reader_bounds(r, &first, &last, &high);
    if (rc == 0)
        rc = scan_dead(a, r);
    if (rc == IWR_ENOTFOUND) {
        wal_reader_end(r);
        wal_reader_free(r);
        return cli_fail(a->cli, "no backend '%s' in this log", a->backend);
    }
    a->pending = high > cursor ? high - cursor : 0;
    wal_reader_end(r);
    wal_reader_free(r);
    /* cli_scan's 'to' of 0 means "to the end": a cursor at 0 has acknowledged nothing. */
    if (rc == 0 && cursor > 0)
        rc = cli_scan(w, a->backend, first > 0 ? first - 1 : 0, cursor, audit_visit, a, &a->corrupt,
                      NULL);
    if (rc > 0)
        rc = 0; /* stopped at MAX_POINTS: too_many says so below */
    if (rc != 0)
        return cli_fail(a->cli, "reading the log: %s", iwr_strerror(rc));
    if (a->too_many)
        return cli_fail(a->cli, "more than %zu distinct points: narrow the audit with --since",
                        MAX_POINTS);
    return 0;
}

static int window_cmp(const void *x, const void *y, void *arg)
{
    const struct window *a = x, *b = y;
    if (a->group != b->group) {
        const struct strtab *t = arg;
        size_t la = t->len[a->group], lb = t->len[b->group];
        int c = memcmp(t->str[a->group], t->str[b->group], la < lb ? la : lb);
        return c != 0 ? c : la < lb ? -1 : 1;
    }
    return a->hour < b->hour ? -1 : a->hour > b->hour;
}

void audit_sort_windows(struct audit *a)
{
    qsort_r(a->win, a->n_win, sizeof(*a->win), window_cmp, &a->groups);
}

void audit_deinit(struct audit *a)
{
    for (size_t i = 0; i < a->n_win; i++)
        free(a->win[i].fields);
    free(a->win);
    strtab_deinit(&a->win_ids);
    strtab_deinit(&a->groups);
    strtab_deinit(&a->field_names);
    scrub_hmap_deinit(&a->points);
    scrub_hmap_deinit(&a->refused);
    buf_deinit(&a->key);
    buf_deinit(&a->scratch);
    free(a->line_fields);
}
