/* Ingest's half of sharding: each normalised line goes to the shard the ring gives its key
 * (relay/shard_ring.h), and a request's lines become one record whose parts are the shards'
 * (wal_record.parts), so a request is still one transaction, acknowledged once. Owns the
 * ring and one scratch buffer per shard, reused across requests. Loop thread only. */
#include "relay/shard_split.h"

#include "relay/influxql.h"
#include "relay/relay_int.h"
#include "relay/shard_ring.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

enum key_kind { KEY_DATABASE, KEY_MEASUREMENT, KEY_TAG };

struct key_elem {
    enum key_kind kind;
    char *tag; /* KEY_TAG: the tag's name */
    size_t tag_len;
};

struct shard_split {
    struct shard_ring *ring;
    char **names;
    size_t n_shards;
    struct key_elem *key;
    size_t n_key;
    struct buf *bodies;  /* one per shard: the lines of the request being split */
    uint32_t *points;    /* one per shard */
    struct buf scratch;  /* the key of the line at hand */
};

struct shard_split *shard_split_new(const char *const *shards, size_t n_shards,
                                    const char *const *key, size_t n_key)
{
    if (n_shards == 0)
        return NULL;
    IWR_ASSERT(n_shards <= WAL_PARTS_MAX);
    struct shard_split *s = xcalloc(1, sizeof(*s));
    s->ring = shard_ring_new(shards, n_shards);
    s->n_shards = n_shards;
    s->names = xcalloc(n_shards, sizeof(*s->names));
    s->bodies = xcalloc(n_shards, sizeof(*s->bodies));
    s->points = xcalloc(n_shards, sizeof(*s->points));
    for (size_t i = 0; i < n_shards; i++) {
        s->names[i] = xstrdup(shards[i]);
        buf_init(&s->bodies[i]);
    }
    s->key = xcalloc(n_key ? n_key : 1, sizeof(*s->key));
    s->n_key = n_key;
    for (size_t i = 0; i < n_key; i++) {
        if (strcmp(key[i], "database") == 0) {
            s->key[i].kind = KEY_DATABASE;
        } else if (strncmp(key[i], "tag:", 4) == 0) {
            s->key[i].kind = KEY_TAG;
            s->key[i].tag = xstrdup(key[i] + 4);
            s->key[i].tag_len = strlen(key[i] + 4);
        } else {
            s->key[i].kind = KEY_MEASUREMENT;
        }
    }
    buf_init(&s->scratch);
    return s;
}

void shard_split_free(struct shard_split *s)
{
    if (s == NULL)
        return;
    shard_ring_free(s->ring);
    for (size_t i = 0; i < s->n_shards; i++) {
        free(s->names[i]);
        buf_deinit(&s->bodies[i]);
    }
    for (size_t i = 0; i < s->n_key; i++)
        free(s->key[i].tag);
    free(s->names);
    free(s->bodies);
    free(s->points);
    free(s->key);
    buf_deinit(&s->scratch);
    free(s);
}

/* The end of the token starting at p[at]: the first unescaped byte of 'stops' (or of ' ' and
 * '\n', which end the series key), or 'len'. */
static size_t token_end(const char *p, size_t at, size_t len, const char *stops)
{
    while (at < len) {
        char ch = p[at];
        if (ch == '\\' && at + 1 < len) {
            at += 2;
            continue;
        }
        if (ch == ' ' || ch == '\n' || strchr(stops, ch) != NULL)
            return at;
        at++;
    }
    return len;
}

/* The value of tag 'name' in the line's tag set (from 'at', just past the measurement), as
 * written; empty when the line has no such tag. */
static void tag_value(const char *p, size_t at, size_t len, const struct key_elem *k,
                      size_t *vstart, size_t *vlen)
{
    *vstart = *vlen = 0;
    while (at < len && p[at] == ',') {
        size_t ks = at + 1, ke = token_end(p, ks, len, "=,");
        size_t ve = ke < len && p[ke] == '=' ? token_end(p, ke + 1, len, ",") : ke;
        if (ke - ks == k->tag_len && memcmp(p + ks, k->tag, k->tag_len) == 0 && ve > ke) {
            *vstart = ke + 1;
            *vlen = ve - ke - 1;
            return;
        }
        at = ve;
    }
}

size_t shard_split_line(struct shard_split *s, const char *db, size_t db_len, const char *line,
                        size_t len)
{
    size_t m_end = token_end(line, 0, len, ",");
    s->scratch.len = 0;
    for (size_t i = 0; i < s->n_key; i++) {
        const struct key_elem *k = &s->key[i];
        if (k->kind == KEY_DATABASE) {
            buf_append(&s->scratch, db, db_len);
        } else if (k->kind == KEY_MEASUREMENT) {
            buf_append(&s->scratch, line, m_end);
        } else {
            size_t vs, vl;
            tag_value(line, m_end, len, k, &vs, &vl);
            buf_append(&s->scratch, line + vs, vl);
        }
        buf_append(&s->scratch, "", 1); /* each element ends in a 0 byte */
    }
    return shard_ring_lookup(s->ring, s->scratch.data, s->scratch.len);
}

/* Skip spaces; then whether the next word is 'w' (any case), stepping past it. */
static int word(const char *p, size_t len, size_t *at, const char *w)
{
    while (*at < len && (p[*at] == ' ' || p[*at] == '\t' || p[*at] == '\n' || p[*at] == '\r'))
        (*at)++;
    size_t n = strlen(w);
    if (len - *at < n || strncasecmp(p + *at, w, n) != 0)
        return 0;
    if (*at + n < len && p[*at + n] != ' ' && p[*at + n] != '\t' && p[*at + n] != '\n')
        return 0;
    *at += n;
    return 1;
}

int shard_split_statement_measurement(const char *q, size_t len, struct buf *m)
{
    size_t at = 0;
    m->len = 0;
    int drop = word(q, len, &at, "DROP") && word(q, len, &at, "MEASUREMENT");
    if (!drop) {
        at = 0;
        if (!(word(q, len, &at, "DELETE") && word(q, len, &at, "FROM")))
            return 0;
    }
    while (at < len && q[at] == ' ')
        at++;
    size_t start = at, end;
    if (at < len && q[at] == '"') { /* a quoted identifier without escapes */
        const char *close = memchr(q + at + 1, '"', len - at - 1);
        if (close == NULL || memchr(q + at + 1, '\\', (size_t)(close - q) - at - 1) != NULL)
            return 0;
        start = at + 1;
        end = (size_t)(close - q);
        at = end + 1;
    } else {
        while (at < len && (q[at] == '_' || (q[at] >= '0' && q[at] <= '9') ||
                            ((q[at] | 0x20) >= 'a' && (q[at] | 0x20) <= 'z')))
            at++;
        end = at;
    }
    /* Nothing may follow but a ';': a WHERE, a second statement or anything else makes it
     * unknown (every shard). */
    while (at < len && (q[at] == ' ' || q[at] == '\n' || q[at] == ';'))
        at++;
    if (end == start || at != len)
        return 0;
    for (size_t i = start; i < end; i++) { /* line protocol's escapes, as the key has them */
        if (q[i] == ' ' || q[i] == ',')
            buf_append(m, "\\", 1);
        buf_append(m, q + i, 1);
    }
    return 1;
}

int shard_split_read_measurement(const char *q, size_t len, struct buf *m)
{
    m->len = 0;
    struct iql_token t, prev = {.tok = IQL_T_EOF};
    int depth = 0, froms = 0, after_from = 0, named = 0;
    for (size_t at = 0; at < len;) {
        at = iql_scan(q, len, at, prev.regex_next, &t);
        if (t.tok == IQL_T_WS)
            continue;
        switch (t.tok) {
        case IQL_T_BADSTRING:
        case IQL_T_BADESCAPE:
        case IQL_T_BADREGEX:
        case IQL_T_ILLEGAL:
        case IQL_T_SEMICOLON:
            return 0;
        default:
            break;
        }
        if (after_from) { /* the token right after the top-level FROM */
            after_from = 0;
            if (!iql_ident_value(q, &t, 1, m))
                return 0;
            named = 1;
        } else if (named == 1) { /* the token after the name: no '.', no second source */
            named = 2;
            if (iql_token_is(q, &t, IQL_T_PUNCT, ".") || iql_token_is(q, &t, IQL_T_PUNCT, ","))
                return 0;
        }
        if (iql_token_is(q, &t, IQL_T_PUNCT, "(")) {
            depth++;
        } else if (iql_token_is(q, &t, IQL_T_PUNCT, ")")) {
            depth--;
        } else if (depth == 0 && iql_token_is(q, &t, IQL_T_KEYWORD, "FROM")) {
            froms++;
            after_from = 1;
        } else if (depth == 0 && iql_token_is(q, &t, IQL_T_KEYWORD, "ON")) {
            return 0;
        }
        prev = t;
    }
    if (froms != 1 || named == 0) {
        m->len = 0;
        return 0;
    }
    return 1;
}

int shard_split_measurement_shard(struct shard_split *s, const char *db, size_t db_len,
                                  const char *m, size_t m_len)
{
    for (size_t i = 0; i < s->n_key; i++)
        if (s->key[i].kind == KEY_TAG)
            return -1;
    /* As a line: the measurement ends where the series key's tags would start. */
    struct buf line;
    buf_init(&line);
    buf_append(&line, m, m_len);
    buf_append(&line, " ", 1);
    size_t i = shard_split_line(s, db != NULL ? db : "", db_len, line.data, line.len);
    buf_deinit(&line);
    return (int)i;
}

size_t shard_split_key_tags(const struct shard_split *s, const char **tags, size_t *lens,
                            size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_key; i++) {
        if (s->key[i].kind != KEY_TAG)
            continue;
        if (n < max) {
            tags[n] = s->key[i].tag;
            lens[n] = s->key[i].tag_len;
        }
        n++;
    }
    return n;
}

size_t shard_split_count(const struct shard_split *s)
{
    return s->n_shards;
}

const char *shard_split_name(const struct shard_split *s, size_t i)
{
    IWR_ASSERT(i < s->n_shards);
    return s->names[i];
}

/* A DROP MEASUREMENT or DELETE FROM of one measurement goes to the shard holding it when the
 * key is database and measurement only; every other statement goes to every shard. */
static void statement_append(struct relay *r, const struct wal_record *rec, wal_done_cb *done,
                             void *arg)
{
    struct shard_split *s = r->split;
    int keyed = (rec->flags & WAL_REC_FENCE) == 0;
    for (size_t i = 0; keyed && i < s->n_key; i++)
        keyed = s->key[i].kind != KEY_TAG;
    struct buf m;
    buf_init(&m);
    if (!keyed || !shard_split_statement_measurement(rec->body, rec->body_len, &m) ||
        rec->body_len > UINT32_MAX) {
        buf_deinit(&m);
        wal_append(r->wal, rec, done, arg);
        return;
    }
    buf_append(&m, " ", 1); /* the measurement ends where the series key's tags would start */
    size_t i = shard_split_line(s, rec->db, rec->db_len, m.data, m.len);
    unsigned char e[WAL_PART_ENTRY_MAX];
    struct wal_record one = *rec;
    one.n_parts = 1;
    one.parts = e;
    one.parts_len = wal_part_encode(e, s->names[i], (uint32_t)rec->body_len, 0);
    wal_append(r->wal, &one, done, arg);
    buf_deinit(&m);
}

void shard_split_append(struct relay *r, const struct wal_record *rec, wal_done_cb *done,
                        void *arg)
{
    struct shard_split *s = r->split;
    if (s != NULL && (rec->flags & WAL_REC_STATEMENT) != 0 && rec->body_len > 0) {
        statement_append(r, rec, done, arg);
        return;
    }
    if (s == NULL || rec->body_len == 0 || (rec->flags & WAL_REC_STATEMENT) != 0) {
        wal_append(r->wal, rec, done, arg);
        return;
    }
    /* Most requests' lines all go to one shard (one measurement, or one shard in all): then
     * the record is the body as it came with one part, and nothing is copied here. The lines
     * are sorted into the shards' buffers only from the first line that goes elsewhere. */
    size_t first = SIZE_MAX;
    int mixed = 0;
    uint32_t lines = 0;
    for (size_t at = 0; at < rec->body_len;) {
        const char *nl = memchr(rec->body + at, '\n', rec->body_len - at);
        size_t end = nl != NULL ? (size_t)(nl - rec->body) + 1 : rec->body_len;
        size_t i = s->n_shards == 1 ? 0 : shard_split_line(s, rec->db, rec->db_len,
                                                           rec->body + at, end - at);
        if (first == SIZE_MAX)
            first = i;
        if (!mixed && i != first) {
            mixed = 1;
            for (size_t k = 0; k < s->n_shards; k++) {
                s->bodies[k].len = 0;
                s->points[k] = 0;
            }
            buf_append(&s->bodies[first], rec->body, at);
            s->points[first] = lines;
        }
        if (mixed) {
            buf_append(&s->bodies[i], rec->body + at, end - at);
            s->points[i]++; /* a normalised line is one point */
        }
        lines++;
        at = end;
    }
    if (!mixed) {
        unsigned char e[WAL_PART_ENTRY_MAX];
        struct wal_record one = *rec;
        one.n_parts = 1;
        one.parts = e;
        one.parts_len = wal_part_encode(e, s->names[first], (uint32_t)rec->body_len, lines);
        one.points = lines;
        wal_append(r->wal, &one, done, arg); /* copies the record */
        return;
    }
    struct buf body, table;
    buf_init(&body);
    buf_init(&table);
    struct wal_record split = *rec;
    split.n_parts = 0;
    for (size_t i = 0; i < s->n_shards; i++) {
        if (s->bodies[i].len == 0)
            continue;
        unsigned char *e = (unsigned char *)buf_reserve(&table, WAL_PART_ENTRY_MAX);
        table.len += wal_part_encode(e, s->names[i], (uint32_t)s->bodies[i].len, s->points[i]);
        buf_append(&body, s->bodies[i].data, s->bodies[i].len);
        split.n_parts++;
    }
    split.body = body.data;
    split.body_len = body.len;
    split.parts = (const unsigned char *)table.data;
    split.parts_len = table.len;
    /* The record's count is the lines', which is what the parts add up to. */
    split.points = 0;
    for (size_t i = 0; i < s->n_shards; i++)
        split.points += s->points[i];
    wal_append(r->wal, &split, done, arg); /* copies the record */
    buf_deinit(&body);
    buf_deinit(&table);
}
