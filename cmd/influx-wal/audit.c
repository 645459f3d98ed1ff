/* influx-wal audit: compare what the log holds for a backend with what that backend has, per
 * database, retention policy, measurement and hour, and list the windows where the backend has
 * fewer points, with the sequences to resend them (influx-wal replay --from/--to-seq).
 *
 * The log side: every record up to the backend's cursor (those it acknowledged: with a
 * retention window the log keeps them a while), its lines parsed for measurement, tags, fields
 * and timestamp. Per window and field it counts the distinct points (series and timestamp)
 * that have the field: a point written twice counts once, as the backend keeps only the last
 * write; lines the backend refused (its dead letters) are left out. The backend side: one
 * SELECT count(*) ... GROUP BY time(1h) per measurement (and at most MAX_QUERY_HOURS), which
 * gives one count per field. A window differs when some field has fewer points on the backend.
 * More on the backend is normal (other relays, records already trimmed, direct writes) and
 * only reported. The log is opened read-only; HTTP is libcurl easy, one blocking request at a
 * time. Memory: one 64-bit hash per distinct point (bounded by MAX_POINTS). */
#include "cmd/influx-wal/cli.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/xalloc.h"
#include "relay/lineproto.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define HOUR_NS (3600 * (int64_t)1000000000)
#define MAX_QUERY_HOURS 1000         /* GROUP BY time(1h) buckets per query */
#define MAX_POINTS ((size_t)1 << 24) /* distinct points held in memory */
#define MAX_RESPONSE ((size_t)64 << 20)
#define QUERY_TIMEOUT_MS 60000L
#define CONNECT_TIMEOUT_MS 5000L
#define JSON_MAX_DEPTH 32

/* ---- hashing ------------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    /* splitmix64's finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    h ^= 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return mix64(h ^ n);
}

/* A set of 64-bit hashes (0 stands for itself through a substitute); open addressing. */
struct hset {
    uint64_t *slots;
    size_t cap, n;
};

static void hset_deinit(struct hset *s)
{
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

static int hset_has(const struct hset *s, uint64_t h)
{
    h = h ? h : 1;
    for (size_t i = h & (s->cap - 1); s->cap > 0 && s->slots[i] != 0; i = (i + 1) & (s->cap - 1))
        if (s->slots[i] == h)
            return 1;
    return 0;
}

/* 1 if added, 0 if it was there. */
static int hset_add(struct hset *s, uint64_t h)
{
    h = h ? h : 1;
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *slots = xcalloc(cap, sizeof(*slots));
        for (size_t j = 0; j < s->cap; j++) {
            if (s->slots[j] == 0)
                continue;
            size_t i = s->slots[j] & (cap - 1);
            while (slots[i] != 0)
                i = (i + 1) & (cap - 1);
            slots[i] = s->slots[j];
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t i = h & (s->cap - 1);
    while (s->slots[i] != 0) {
        if (s->slots[i] == h)
            return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i] = h;
    s->n++;
    return 1;
}

/* Interned strings: each distinct byte string gets an id (its index). */
struct strtab {
    char **str;
    size_t *len;
    uint64_t *hash;
    size_t n, cap;
    uint32_t *slots; /* id + 1; 0: empty */
    size_t n_slots;
};

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
    uint64_t h = hash_bytes(0, s, len);
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

/* ---- line protocol ------------------------------------------------------------------------- */

/* One stored line, as far as the audit needs it. The key scanners treat a byte after a
 * backslash as escaped and the field scanner skips it, as influxd's do. */
struct lp_point {
    const char *m; /* measurement, escaped */
    size_t m_len;
    uint64_t tags_hash; /* order-independent: the same series in any tag order */
    const char *fields;
    size_t fields_len;
    int64_t ts;
};

static int parse_line(const char *p, size_t n, struct lp_point *pt)
{
    size_t i = 0;
    while (i < n && !((p[i] == ',' || p[i] == ' ') && (i == 0 || p[i - 1] != '\\')))
        i++;
    pt->m = p;
    pt->m_len = i;
    pt->tags_hash = 0;
    while (i < n && p[i] == ',') {
        size_t start = ++i;
        while (i < n && !((p[i] == ',' || p[i] == ' ') && p[i - 1] != '\\'))
            i++;
        pt->tags_hash += hash_bytes(0x7461677300000000ull, p + start, i - start);
    }
    if (i >= n || p[i] != ' ' || pt->m_len == 0)
        return -1;
    size_t start = ++i;
    int quoted = 0;
    while (i < n && (quoted || p[i] != ' ')) {
        if (p[i] == '\\') {
            i += 2;
            continue;
        }
        if (p[i] == '"')
            quoted = !quoted;
        i++;
    }
    if (i > n)
        i = n;
    pt->fields = p + start;
    pt->fields_len = i - start;
    while (i < n && p[i] == ' ')
        i++;
    /* Stored lines always carry a timestamp (the relay stamps those without one). */
    char *end;
    char num[24];
    size_t len = n - i;
    if (len == 0 || len >= sizeof(num))
        return -1;
    memcpy(num, p + i, len);
    num[len] = '\0';
    long long v = strtoll(num, &end, 10);
    if (end == num || (*end != '\0' && *end != '\r'))
        return -1;
    pt->ts = v;
    return 0;
}

/* Call fn for each field key of a field set (unescaped into 'key'). */
static void each_field(const char *f, size_t n, struct buf *key,
                       void (*fn)(void *arg, const char *k, size_t klen), void *arg)
{
    size_t i = 0;
    while (i < n) {
        buf_clear(key);
        while (i < n && !(f[i] == '=' && (i == 0 || f[i - 1] != '\\'))) {
            if (f[i] == '\\' && i + 1 < n &&
                (f[i + 1] == ',' || f[i + 1] == '=' || f[i + 1] == ' ')) {
                i++;
            }
            buf_append(key, f + i, 1);
            i++;
        }
        fn(arg, key->data ? key->data : "", key->len);
        int quoted = 0;
        while (i < n && (quoted || f[i] != ',')) {
            if (f[i] == '\\') {
                i += 2;
                continue;
            }
            if (f[i] == '"')
                quoted = !quoted;
            i++;
        }
        i++;
    }
}

/* ---- the windows --------------------------------------------------------------------------- */

struct field_count {
    size_t field; /* id in the field table */
    uint64_t log, backend;
};

struct window {
    size_t group; /* db, rp and measurement: id in the group table */
    int64_t hour; /* ns, a multiple of HOUR_NS */
    struct field_count *fields;
    size_t n_fields;
    uint64_t dups, refused;
    uint64_t min_seq, max_seq;
    int state; /* 0 match, 1 fewer on the backend, 2 more on the backend */
};

struct audit {
    struct cli *cli;
    const char *backend;
    const char *url;
    int64_t since_hour;
    int have_since;
    struct strtab groups; /* "db\0rp\0measurement" (measurement unescaped) */
    struct strtab field_names;
    struct window *win;
    size_t n_win, cap_win;
    uint32_t *win_slots; /* index + 1 */
    size_t n_win_slots;
    struct hset points, refused;
    uint64_t records, lines, unparsed, dups, refused_lines, pending, corrupt;
    uint64_t first_seq, last_seq;
    struct buf key, scratch;
    /* The line being counted. */
    struct window *cur;
    int too_many;
};

static uint64_t win_hash(size_t group, int64_t hour)
{
    return mix64(((uint64_t)group * 0x9e3779b97f4a7c15ull) ^ (uint64_t)hour);
}

static void win_place(struct audit *a, size_t idx)
{
    size_t i = win_hash(a->win[idx].group, a->win[idx].hour) & (a->n_win_slots - 1);
    while (a->win_slots[i] != 0)
        i = (i + 1) & (a->n_win_slots - 1);
    a->win_slots[i] = (uint32_t)idx + 1;
}

static struct window *window_get(struct audit *a, size_t group, int64_t hour)
{
    uint64_t h = win_hash(group, hour);
    for (size_t i = h & (a->n_win_slots - 1); a->n_win_slots > 0 && a->win_slots[i] != 0;
         i = (i + 1) & (a->n_win_slots - 1)) {
        struct window *w = &a->win[a->win_slots[i] - 1];
        if (w->group == group && w->hour == hour)
            return w;
    }
    if (a->n_win == a->cap_win) {
        a->cap_win = a->cap_win ? a->cap_win * 2 : 256;
        a->win = xrealloc(a->win, a->cap_win * sizeof(*a->win));
    }
    struct window *w = &a->win[a->n_win++];
    memset(w, 0, sizeof(*w));
    w->group = group;
    w->hour = hour;
    if (a->n_win * 2 > a->n_win_slots) {
        free(a->win_slots);
        a->n_win_slots = a->n_win_slots ? a->n_win_slots * 2 : 1024;
        a->win_slots = xcalloc(a->n_win_slots, sizeof(*a->win_slots));
        for (size_t j = 0; j < a->n_win; j++)
            win_place(a, j);
    } else {
        win_place(a, a->n_win - 1);
    }
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

static void count_field(void *arg, const char *k, size_t klen)
{
    struct audit *a = arg;
    window_field(a->cur, strtab_id(&a->field_names, k, klen))->log++;
}

/* The group of db, rp and the unescaped measurement. */
static size_t group_of(struct audit *a, const struct wal_record *rec, const struct lp_point *pt)
{
    struct buf *g = &a->scratch;
    buf_clear(g);
    buf_append(g, rec->db, rec->db_len);
    buf_append(g, "", 1);
    buf_append(g, rec->rp, rec->rp_len);
    buf_append(g, "", 1);
    for (size_t i = 0; i < pt->m_len; i++) {
        if (pt->m[i] == '\\' && i + 1 < pt->m_len && (pt->m[i + 1] == ',' || pt->m[i + 1] == ' '))
            i++;
        buf_append(g, pt->m + i, 1);
    }
    return strtab_id(&a->groups, g->data, g->len);
}

static uint64_t point_key(size_t group, const struct lp_point *pt, int64_t ts_ns)
{
    return mix64(win_hash(group, ts_ns) ^ pt->tags_hash);
}

/* The start of the hour holding 'ts' (towards the past, also before 1970). */
static int64_t hour_of(int64_t ts)
{
    int64_t q = ts / HOUR_NS;
    if (ts % HOUR_NS != 0 && ts < 0)
        q--;
    return q * HOUR_NS;
}

/* Each point of 'rec' with its window; 'refused_pass' only collects the keys of dead letters. */
static void scan_record(struct audit *a, const struct wal_record *rec, int refused_pass)
{
    int64_t mult = rec->precision <= LP_H ? lp_precision_ns((enum lp_precision)rec->precision) : 1;
    const char *p = rec->body, *end = rec->body + rec->body_len;
    while (p < end && !a->too_many) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        p += len + 1;
        if (len == 0)
            continue;
        struct lp_point pt;
        int64_t ts, hour;
        if (parse_line(line, len, &pt) != 0 || __builtin_mul_overflow(pt.ts, mult, &ts)) {
            a->unparsed += !refused_pass;
            continue;
        }
        hour = hour_of(ts);
        if (a->have_since && hour < a->since_hour)
            continue;
        size_t group = group_of(a, rec, &pt);
        uint64_t key = point_key(group, &pt, ts);
        if (refused_pass) {
            hset_add(&a->refused, key);
            continue;
        }
        struct window *w = window_get(a, group, hour);
        if (w->min_seq == 0 || rec->seq < w->min_seq)
            w->min_seq = rec->seq;
        if (rec->seq > w->max_seq)
            w->max_seq = rec->seq;
        a->lines++;
        if (a->refused.n > 0 && hset_has(&a->refused, key)) {
            w->refused++;
            a->refused_lines++;
            continue;
        }
        if (!hset_add(&a->points, key)) {
            w->dups++;
            a->dups++;
            continue;
        }
        if (a->points.n > MAX_POINTS) {
            a->too_many = 1;
            break;
        }
        a->cur = w;
        each_field(pt.fields, pt.fields_len, &a->key, count_field, a);
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
static int scan_log(struct audit *a, struct wal *w)
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
        rc = cli_scan(w, a->backend, first > 0 ? first - 1 : 0, cursor, audit_visit, a,
                      &a->corrupt, NULL);
    if (rc > 0)
        rc = 0; /* stopped at MAX_POINTS: too_many says so below */
    if (rc != 0)
        return cli_fail(a->cli, "reading the log: %s", iwr_strerror(rc));
    if (a->too_many)
        return cli_fail(a->cli, "more than %zu distinct points: narrow the audit with --since",
                        MAX_POINTS);
    return 0;
}

/* ---- a minimal JSON reader (InfluxDB's /query answers) ------------------------------------- */

enum jtype { J_NULL = 0, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct json {
    enum jtype type;
    int64_t i; /* J_NUM: integral value (is_int), else d */
    int is_int;
    double d;
    char *s; /* J_STR */
    size_t len;
    struct json *items; /* J_ARR, J_OBJ (values) */
    char **keys;        /* J_OBJ */
    size_t n;
};

struct jparser {
    const char *p, *end;
};

static void json_free(struct json *j)
{
    free(j->s);
    for (size_t i = 0; i < j->n; i++) {
        json_free(&j->items[i]);
        if (j->keys != NULL)
            free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    memset(j, 0, sizeof(*j));
}

static void jskip(struct jparser *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\n' || *jp->p == '\r' || *jp->p == '\t'))
        jp->p++;
}

static int hexval(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void utf8_put(struct buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(b, u, n);
}

static int jstring(struct jparser *jp, char **out, size_t *len)
{
    if (jp->p >= jp->end || *jp->p != '"')
        return -1;
    jp->p++;
    struct buf b;
    buf_init(&b);
    while (jp->p < jp->end && *jp->p != '"') {
        char c = *jp->p++;
        if (c != '\\') {
            buf_append(&b, &c, 1);
            continue;
        }
        if (jp->p >= jp->end)
            break;
        c = *jp->p++;
        unsigned cp, lo;
        switch (c) {
        case 'b':
            buf_append(&b, "\b", 1);
            break;
        case 'f':
            buf_append(&b, "\f", 1);
            break;
        case 'n':
            buf_append(&b, "\n", 1);
            break;
        case 'r':
            buf_append(&b, "\r", 1);
            break;
        case 't':
            buf_append(&b, "\t", 1);
            break;
        case 'u':
            if (jp->end - jp->p < 4 || hexval(jp->p, &cp) != 0)
                goto fail;
            jp->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && jp->end - jp->p >= 6 && jp->p[0] == '\\' &&
                jp->p[1] == 'u' && hexval(jp->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                jp->p += 6;
            }
            utf8_put(&b, cp);
            break;
        default:
            buf_append(&b, &c, 1);
        }
    }
    if (jp->p >= jp->end)
        goto fail;
    jp->p++;
    *len = b.len;
    buf_append(&b, "", 1);
    *out = buf_steal(&b);
    return 0;
fail:
    buf_deinit(&b);
    return -1;
}

static int jvalue(struct jparser *jp, struct json *j, int depth)
{
    memset(j, 0, sizeof(*j));
    jskip(jp);
    if (jp->p >= jp->end || depth > JSON_MAX_DEPTH)
        return -1;
    char c = *jp->p;
    if (c == '"') {
        j->type = J_STR;
        return jstring(jp, &j->s, &j->len);
    }
    if (c == '[' || c == '{') {
        int obj = c == '{';
        j->type = obj ? J_OBJ : J_ARR;
        jp->p++;
        jskip(jp);
        if (jp->p < jp->end && *jp->p == (obj ? '}' : ']')) {
            jp->p++;
            return 0;
        }
        size_t cap = 0;
        for (;;) {
            if (j->n == cap) {
                cap = cap ? cap * 2 : 4;
                j->items = xrealloc(j->items, cap * sizeof(*j->items));
                if (obj)
                    j->keys = xrealloc(j->keys, cap * sizeof(*j->keys));
            }
            char *key = NULL;
            size_t klen;
            jskip(jp);
            if (obj) {
                if (jstring(jp, &key, &klen) != 0)
                    return -1;
                jskip(jp);
                if (jp->p >= jp->end || *jp->p != ':') {
                    free(key);
                    return -1;
                }
                jp->p++;
            }
            int rc = jvalue(jp, &j->items[j->n], depth + 1);
            if (obj)
                j->keys[j->n] = key;
            j->n++;
            if (rc != 0)
                return -1;
            jskip(jp);
            if (jp->p < jp->end && *jp->p == ',') {
                jp->p++;
                continue;
            }
            if (jp->p < jp->end && *jp->p == (obj ? '}' : ']')) {
                jp->p++;
                return 0;
            }
            return -1;
        }
    }
    if (jp->end - jp->p >= 4 && memcmp(jp->p, "null", 4) == 0) {
        jp->p += 4;
        return 0;
    }
    if (jp->end - jp->p >= 4 && memcmp(jp->p, "true", 4) == 0) {
        j->type = J_BOOL;
        j->i = 1;
        jp->p += 4;
        return 0;
    }
    if (jp->end - jp->p >= 5 && memcmp(jp->p, "false", 5) == 0) {
        j->type = J_BOOL;
        jp->p += 5;
        return 0;
    }
    char num[64];
    size_t n = 0;
    while (jp->p + n < jp->end && n < sizeof(num) - 1 && strchr("+-0123456789.eE", jp->p[n]))
        n++;
    if (n == 0)
        return -1;
    memcpy(num, jp->p, n);
    num[n] = '\0';
    jp->p += n;
    j->type = J_NUM;
    char *end;
    j->i = strtoll(num, &end, 10);
    j->is_int = *end == '\0';
    j->d = j->is_int ? (double)j->i : strtod(num, &end);
    return *end == '\0' ? 0 : -1;
}

static int json_parse(const char *p, size_t n, struct json *out)
{
    struct jparser jp = {p, p + n};
    int rc = jvalue(&jp, out, 0);
    jskip(&jp);
    if (rc != 0 || jp.p != jp.end) { /* "404 page not found" is no JSON number */
        json_free(out);
        return -1;
    }
    return 0;
}

static const struct json *jget(const struct json *o, const char *key)
{
    if (o == NULL || o->type != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return &o->items[i];
    return NULL;
}

static const struct json *jat(const struct json *a, size_t i)
{
    return a != NULL && a->type == J_ARR && i < a->n ? &a->items[i] : NULL;
}

/* ---- the backend --------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    if (b->len + size * n > MAX_RESPONSE)
        return 0; /* curl fails the transfer: an answer this large is not ours */
    buf_append(b, p, size * n);
    return size * n;
}

/* POST one query; the parsed answer into 'doc'. 0, or 1 after a message. */
static int query(struct audit *a, CURL *e, const char *db, const char *q, struct json *doc)
{
    struct buf url, form, resp;
    buf_init(&url);
    buf_init(&form);
    buf_init(&resp);
    buf_printf(&url, "%s/query", a->url);
    buf_append(&url, "", 1); /* a C string for curl */
    char *eq = curl_easy_escape(e, q, 0), *edb = curl_easy_escape(e, db, 0);
    IWR_ASSERT(eq != NULL && edb != NULL); /* only fails out of memory */
    buf_printf(&form, "q=%s&db=%s&epoch=ns", eq, edb);
    curl_free(eq);
    curl_free(edb);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, form.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(e);
    long http = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
    int rc = 0;
    if (cc != CURLE_OK)
        rc = cli_fail(a->cli, "querying %s: %s", a->url,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else if (json_parse(resp.data ? resp.data : "", resp.len, doc) != 0)
        rc = cli_fail(a->cli, "querying %s: http %ld, not JSON: %.*s", a->url, http,
                      (int)(resp.len < 200 ? resp.len : 200), resp.data ? resp.data : "");
    else if (http != 200 || jget(doc, "error") != NULL) {
        const struct json *err = jget(doc, "error");
        rc = cli_fail(a->cli, "querying %s: http %ld: %s", a->url, http,
                      err != NULL && err->type == J_STR ? err->s : "no error message");
        json_free(doc);
    }
    buf_deinit(&url);
    buf_deinit(&form);
    buf_deinit(&resp);
    return rc;
}

/* An InfluxQL identifier in double quotes. */
static void quote_ident(struct buf *b, const char *s)
{
    buf_append(b, "\"", 1);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
    buf_append(b, "\"", 1);
}

/* Windows [lo, hi) of one group (sorted by hour, all within MAX_QUERY_HOURS): their backend
 * counts. 0, or 1 after a message. 'missing' collects "database not found" and the like. */
static int fetch_counts(struct audit *a, CURL *e, struct window *lo, struct window *hi,
                        struct buf *notes)
{
    const char *g = a->groups.str[lo->group];
    const char *db = g, *rp = db + strlen(db) + 1, *m = rp + strlen(rp) + 1;
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "SELECT count(*) FROM ");
    if (rp[0] != '\0') {
        quote_ident(&q, rp);
        buf_append(&q, ".", 1);
    }
    quote_ident(&q, m);
    buf_printf(&q, " WHERE time >= %" PRId64 " AND time < %" PRId64 " GROUP BY time(1h)", lo->hour,
               (hi - 1)->hour + HOUR_NS);
    buf_append(&q, "", 1);
    struct json doc;
    int rc = query(a, e, db, q.data, &doc);
    buf_deinit(&q);
    if (rc != 0)
        return rc;
    const struct json *res = jat(jget(&doc, "results"), 0);
    const struct json *err = jget(res, "error");
    if (err != NULL && err->type == J_STR) {
        /* Nothing there: every count is 0. Anything else is a failure. */
        if (strstr(err->s, "not found") == NULL) {
            rc = cli_fail(a->cli, "querying %s (db %s): %s", a->url, db, err->s);
        } else if (notes->len == 0 || strstr(notes->data, err->s) == NULL) {
            buf_printf(notes, "note: the backend answered \"%s\": its counts are 0\n", err->s);
        }
        json_free(&doc);
        return rc;
    }
    const struct json *series = jat(jget(res, "series"), 0);
    const struct json *cols = jget(series, "columns"), *vals = jget(series, "values");
    for (size_t r = 0; vals != NULL && r < vals->n; r++) {
        const struct json *row = jat(vals, r), *t = jat(row, 0);
        if (t == NULL || t->type != J_NUM)
            continue;
        struct window *w = lo;
        while (w < hi && w->hour != t->i)
            w++;
        if (w == hi)
            continue;
        for (size_t c = 1; cols != NULL && c < cols->n && c < row->n; c++) {
            const struct json *name = jat(cols, c), *v = jat(row, c);
            if (name == NULL || name->type != J_STR || v == NULL || v->type != J_NUM ||
                strncmp(name->s, "count_", 6) != 0)
                continue;
            for (size_t f = 0; f < w->n_fields; f++) {
                size_t id = w->fields[f].field;
                if (a->field_names.len[id] == name->len - 6 &&
                    memcmp(a->field_names.str[id], name->s + 6, name->len - 6) == 0)
                    w->fields[f].backend = v->i > 0 ? (uint64_t)v->i : 0;
            }
        }
    }
    json_free(&doc);
    return 0;
}

/* ---- output -------------------------------------------------------------------------------- */

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

static void print_window(const struct audit *a, const struct window *w, const char *what)
{
    const char *db = a->groups.str[w->group], *rp = db + strlen(db) + 1, *m = rp + strlen(rp) + 1;
    uint64_t log = 0, back = 0, short_by = 0;
    for (size_t i = 0; i < w->n_fields; i++) {
        const struct field_count *f = &w->fields[i];
        log = f->log > log ? f->log : log;
        back = f->backend > back ? f->backend : back;
        if (f->log > f->backend && f->log - f->backend > short_by)
            short_by = f->log - f->backend;
    }
    time_t secs = (time_t)(w->hour / 1000000000);
    struct tm tm;
    char when[40];
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-7s db=%s rp=%s measurement=%s hour=%s log=%" PRIu64 " backend=%" PRIu64, what, db, rp,
           m, when, log, back);
    if (w->state == 1) {
        printf(" missing=%" PRIu64 " fields=", short_by);
        for (size_t i = 0, k = 0; i < w->n_fields; i++)
            if (w->fields[i].log > w->fields[i].backend)
                printf("%s%s", k++ ? "," : "", a->field_names.str[w->fields[i].field]);
    }
    printf(" sequences=%" PRIu64 "..%" PRIu64 "\n", w->min_seq, w->max_seq);
}

static int compare_and_print(struct audit *a)
{
    uint64_t match = 0, fewer = 0, more = 0;
    for (size_t i = 0; i < a->n_win; i++) {
        struct window *w = &a->win[i];
        for (size_t f = 0; f < w->n_fields; f++) {
            if (w->fields[f].backend < w->fields[f].log)
                w->state = 1;
            else if (w->fields[f].backend > w->fields[f].log && w->state == 0)
                w->state = 2;
        }
        match += w->state == 0;
        fewer += w->state == 1;
        more += w->state == 2;
    }
    for (size_t i = 0; i < a->n_win; i++)
        if (a->win[i].state == 1)
            print_window(a, &a->win[i], "differs");
    for (size_t i = 0; i < a->n_win; i++)
        if (a->win[i].state == 2)
            print_window(a, &a->win[i], "more");
    printf("windows %zu: %" PRIu64 " match, %" PRIu64
           " differ (fewer points on the backend), %" PRIu64
           " with more on the backend (other relays, trimmed records or direct writes: no loss)\n",
           a->n_win, match, fewer, more);
    for (size_t i = 0; i < a->n_win; i++)
        if (a->win[i].state == 1)
            printf("resend: influx-wal replay --backend %s --to %s --from %" PRIu64
                   " --to-seq %" PRIu64 "\n",
                   a->backend, a->url, a->win[i].min_seq, a->win[i].max_seq);
    return fewer > 0;
}

static void audit_deinit(struct audit *a)
{
    for (size_t i = 0; i < a->n_win; i++)
        free(a->win[i].fields);
    free(a->win);
    free(a->win_slots);
    strtab_deinit(&a->groups);
    strtab_deinit(&a->field_names);
    hset_deinit(&a->points);
    hset_deinit(&a->refused);
    buf_deinit(&a->key);
    buf_deinit(&a->scratch);
}

static int query_all(struct audit *a, struct buf *notes)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return cli_fail(a->cli, "cannot initialise libcurl");
    CURL *e = curl_easy_init();
    IWR_ASSERT(e != NULL); /* only fails out of memory, like xmalloc */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, QUERY_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    int rc = 0;
    for (size_t i = 0; i < a->n_win && rc == 0;) {
        size_t j = i + 1;
        while (j < a->n_win && a->win[j].group == a->win[i].group &&
               a->win[j].hour - a->win[i].hour < MAX_QUERY_HOURS * HOUR_NS)
            j++;
        rc = fetch_counts(a, e, &a->win[i], &a->win[j], notes);
        i = j;
    }
    curl_easy_cleanup(e);
    return rc;
}

int cmd_audit(struct cli *cli)
{
    const char *backend = NULL, *url = NULL, *since_s = NULL;
    const struct cli_opt opts[] = {{"--backend", &backend, NULL},
                                   {"--url", &url, NULL},
                                   {"--since", &since_s, NULL},
                                   {NULL, NULL, NULL}};
    int rc = cli_parse(cli, opts, NULL, 0, NULL);
    if (rc != 0)
        return rc;
    if (backend == NULL || url == NULL)
        return cli_usage(cli, "--backend and --url are required");
    if (!wal_name_valid(backend))
        return cli_usage(cli, "'%s' is not a backend name", backend);
    if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strlen(url) > 200 || strcspn(url, " \t\r\n") != strlen(url))
        return cli_usage(cli, "--url: '%s' is not an http:// or https:// URL", url);
    struct audit a;
    memset(&a, 0, sizeof(a));
    a.cli = cli;
    a.backend = backend;
    char *base = xstrdup(url);
    for (size_t n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
        base[n - 1] = '\0';
    a.url = base;
    uint64_t since = 0;
    if (since_s != NULL && cli_time(cli, "--since", since_s, &since) != 0) {
        free(base);
        return 2;
    }
    if (since_s != NULL) {
        a.have_since = 1;
        a.since_hour = (int64_t)(since - since % (uint64_t)HOUR_NS);
    }
    buf_init(&a.key);
    buf_init(&a.scratch);
    struct wal *w;
    rc = cli_open(cli, 0, &w);
    if (rc == 0) {
        rc = scan_log(&a, w);
        wal_close(w);
    }
    struct buf notes;
    buf_init(&notes);
    if (rc == 0) {
        qsort_r(a.win, a.n_win, sizeof(*a.win), window_cmp, &a.groups);
        rc = query_all(&a, &notes);
    }
    if (rc == 0) {
        printf("audit of backend %s at %s: ", backend, a.url);
        if (a.records > 0)
            printf("%" PRIu64 " records (sequences %" PRIu64 "..%" PRIu64 ") it acknowledged, ",
                   a.records, a.first_seq, a.last_seq);
        else
            printf("no record it acknowledged is in the log (retain keeps them a while), ");
        printf("%" PRIu64 " lines%s%s\n", a.lines, since_s ? " with timestamps since " : "",
               since_s ? since_s : "");
        printf("compared: per database, retention policy, measurement and hour, the points of "
               "each field (count(*) on the backend); shown: the largest per-field count\n");
        rc = compare_and_print(&a);
        printf("note: a point written more than once (same series and timestamp) is one point on "
               "the backend, and counted once here: %" PRIu64 " such lines\n",
               a.dups);
        if (a.refused_lines > 0)
            printf("note: %" PRIu64 " lines %s refused (influx-wal dead list) are not expected "
                   "on it\n",
                   a.refused_lines, backend);
        if (a.pending > 0)
            printf("note: %" PRIu64 " later records are not acknowledged yet: not compared\n",
                   a.pending);
        if (a.unparsed > 0)
            printf("note: %" PRIu64 " lines could not be read as line protocol: not compared\n",
                   a.unparsed);
        if (a.corrupt > 0) {
            printf("note: %" PRIu64 " corrupt records skipped (influx-wal verify names them)\n",
                   a.corrupt);
            rc = 1;
        }
        fwrite(notes.data ? notes.data : "", 1, notes.len, stdout);
    }
    buf_deinit(&notes);
    audit_deinit(&a);
    free(base);
    return rc;
}
