/* Batches: runs of line-protocol lines with one db, rp and precision, built from records and
 * split in halves to isolate the lines a backend refuses; plus the bytes of a request (URL,
 * gzip, the CREATE DATABASE form). Pure: no I/O and no globals, any thread. A batch owns its
 * strings, body and segments; the sender that queues it owns the batch.
 *
 * A segment remembers which record its lines came from, so that the cursor never passes a
 * record with lines still unsent (end_seq) and so that refused lines go to the dead letters
 * under their own record's sequence. */
#include "replay/replay_int.h"

#include "replay/generation.h"

#include "common/err.h"
#include "common/precision.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct batch *batch_new(const struct wal_record *rec)
{
    struct batch *b = xcalloc(1, sizeof(*b));
    b->db = xstrndup(rec->db != NULL ? rec->db : "", rec->db_len);
    b->rp = xstrndup(rec->rp != NULL ? rec->rp : "", rec->rp_len);
    b->precision = rec->precision;
    buf_init(&b->body);
    return b;
}

void batch_free(struct batch *b)
{
    if (b == NULL)
        return;
    free(b->db);
    free(b->rp);
    buf_deinit(&b->body);
    free(b->segs);
    free(b->gz);
    free(b->answer);
    free(b->keys);
    free(b->iv);
    free(b);
}

static int str_eq(const char *s, const char *p, size_t n)
{
    return strlen(s) == n && (n == 0 || memcmp(s, p, n) == 0);
}

int batch_same_key(const struct batch *b, const struct wal_record *rec)
{
    return b->precision == rec->precision && str_eq(b->db, rec->db, rec->db_len) &&
           str_eq(b->rp, rec->rp, rec->rp_len);
}

static struct batch_seg *seg_push(struct batch *b)
{
    if (b->n_segs == b->cap_segs) {
        b->cap_segs = b->cap_segs ? b->cap_segs * 2 : 4;
        b->segs = xrealloc(b->segs, b->cap_segs * sizeof(*b->segs));
    }
    struct batch_seg *g = &b->segs[b->n_segs++];
    memset(g, 0, sizeof(*g));
    return g;
}

/* A new segment for the lines of 'rec' just appended at body offset 'start'. */
static struct batch_seg *seg_of_record(struct batch *b, const struct wal_record *rec, size_t start,
                                       size_t lines, int64_t t_lo, int64_t t_hi, uint8_t t_wild)
{
    struct batch_seg *g = seg_push(b);
    g->seq = rec->seq;
    g->recv_ns = rec->recv_ns;
    g->offset = rec->offset;
    g->flags = rec->flags;
    g->consistency = rec->consistency;
    g->off = start;
    g->len = b->body.len - start;
    g->lines = lines;
    g->t_lo = t_lo;
    g->t_hi = t_hi;
    g->t_wild = t_wild;
    return g;
}

/* Defined with the series and times below. */
static int line_time_raw(const char *line, size_t len, int64_t *t);

/* Widen g's time range by the line [line, line + len) (no '\n'). */
static void seg_time_add(struct batch_seg *g, const char *line, size_t len)
{
    int64_t t;
    if (!line_time_raw(line, len, &t)) {
        g->t_wild = 1;
        return;
    }
    g->t_lo = t < g->t_lo ? t : g->t_lo;
    g->t_hi = t > g->t_hi ? t : g->t_hi;
}

/* batch_add; *clean set to 0 when it skipped an empty line or gave the last line its '\n'. */
static size_t add_lines(struct batch *b, const struct wal_record *rec, size_t from,
                        const struct batch_limits *lim, int *clean)
{
    const char *body = rec->body;
    size_t len = rec->body_len, at = from;
    size_t start = b->body.len, lines = 0;
    size_t bytes = b->body.len; /* the body's length once the pending run is copied */
    size_t run = at;            /* lines [run, at) are taken and not yet copied: one copy */
    struct batch_seg t = {.t_lo = INT64_MAX, .t_hi = INT64_MIN};
    while (at < len) {
        const char *nl = memchr(body + at, '\n', len - at);
        size_t end = nl != NULL ? (size_t)(nl - body) + 1 : len; /* one past the line */
        size_t line_len = end - at;
        size_t text_len = nl != NULL ? line_len - 1 : line_len;
        if (text_len == 0) { /* an empty line: nothing to send */
            *clean = 0;
            buf_append(&b->body, body + run, at - run);
            at = run = end;
            continue;
        }
        /* The first line of an empty batch always fits: one long line travels alone. */
        if (b->lines > 0 &&
            (bytes + text_len + 1 > lim->max_bytes || b->lines + 1 > lim->max_points))
            break;
        seg_time_add(&t, body + at, text_len);
        if (nl == NULL) { /* the last line, without its '\n' */
            *clean = 0;
            buf_append(&b->body, body + run, end - run);
            buf_append(&b->body, "\n", 1);
            run = end;
        }
        bytes += text_len + 1;
        b->lines++;
        lines++;
        at = end;
    }
    buf_append(&b->body, body + run, at - run);
    if (lines > 0) {
        struct batch_seg *g = seg_of_record(b, rec, start, lines, t.t_lo, t.t_hi, t.t_wild);
        /* Trailing empty lines belong to nobody: skip them so the record counts as done. */
        size_t rest = at;
        while (rest < len && body[rest] == '\n')
            rest++;
        if (rest == len)
            at = len;
        g->rec_end = at == len;
    } else if (b->lines == 0) {
        at = len; /* nothing but empty lines left */
    }
    return at - from;
}

size_t batch_add(struct batch *b, const struct wal_record *rec, size_t from,
                 const struct batch_limits *lim)
{
    int clean = 1;
    return add_lines(b, rec, from, lim, &clean);
}

/* Up to 8 bytes of p as a word, zero-padded. */
static uint64_t word_of(const char *p, size_t n)
{
    uint64_t w = 0;
    memcpy(&w, p, n < 8 ? n : 8);
    return w;
}

size_t batch_add_known(struct batch *b, const struct wal_record *rec, size_t from,
                       const struct batch_limits *lim, struct batch_known *k)
{
    if (k == NULL || from != 0 || rec->body_len == 0)
        return batch_add(b, rec, from, lim);
    size_t len = rec->body_len;
    uint64_t head = word_of(rec->body, len),
             tail = word_of(rec->body + (len > 8 ? len - 8 : 0), len);
    if (k->seq == rec->seq && k->body_len == len && k->head == head && k->tail == tail &&
        k->clean &&
        ((b->body.len + len <= lim->max_bytes && b->lines + k->lines <= lim->max_points) ||
         (b->lines == 0 && k->lines == 1))) {
        /* What add_lines would do, line by line: every line fits, none is empty. */
        size_t start = b->body.len;
        buf_append(&b->body, rec->body, len);
        seg_of_record(b, rec, start, k->lines, k->t_lo, k->t_hi, k->t_wild)->rec_end = 1;
        b->lines += k->lines;
        return len;
    }
    int clean = 1;
    size_t segs = b->n_segs, took = add_lines(b, rec, 0, lim, &clean);
    if (took == len && b->n_segs == segs + 1) { /* taken whole, as one segment */
        const struct batch_seg *g = &b->segs[segs];
        *k = (struct batch_known){.seq = rec->seq,
                                  .body_len = len,
                                  .lines = g->lines,
                                  .head = head,
                                  .tail = tail,
                                  .t_lo = g->t_lo,
                                  .t_hi = g->t_hi,
                                  .t_wild = g->t_wild,
                                  .clean = (uint8_t)(clean && g->len == len)};
    }
    return took;
}

uint64_t batch_seal(struct batch *b, uint64_t prev_end)
{
    uint64_t end = prev_end;
    if (b->n_segs > 0) {
        const struct batch_seg *g = &b->segs[b->n_segs - 1];
        uint64_t mine = g->rec_end ? g->seq : g->seq - 1;
        end = mine > end ? mine : end;
    }
    b->end_seq = end;
    return end;
}

/* A batch with b's key holding body bytes [from, to) of b, cut on line boundaries. */
static struct batch *batch_slice(const struct batch *b, size_t from, size_t to)
{
    struct batch *n = xcalloc(1, sizeof(*n));
    n->db = xstrdup(b->db);
    n->rp = xstrdup(b->rp);
    n->precision = b->precision;
    buf_init(&n->body);
    buf_append(&n->body, b->body.data + from, to - from);
    for (size_t i = 0; i < b->n_segs; i++) {
        const struct batch_seg *g = &b->segs[i];
        size_t lo = g->off > from ? g->off : from;
        size_t hi = g->off + g->len < to ? g->off + g->len : to;
        if (lo >= hi)
            continue;
        struct batch_seg *s = seg_push(n);
        *s = *g;
        s->off = lo - from;
        s->len = hi - lo;
        /* The piece's lines, each ending in '\n', and their times. */
        s->lines = 0;
        s->t_lo = INT64_MAX;
        s->t_hi = INT64_MIN;
        s->t_wild = 0;
        for (size_t k = lo; k < hi;) {
            const char *p = b->body.data + k;
            const char *nl = memchr(p, '\n', hi - k);
            size_t line = nl != NULL ? (size_t)(nl - p) : hi - k;
            seg_time_add(s, p, line);
            s->lines++;
            k += line + 1;
        }
        /* A piece cut off before the segment's end leaves lines of the record for later. */
        s->rec_end = g->rec_end && hi == g->off + g->len;
        n->lines += s->lines;
    }
    return n;
}

void batch_split(const struct batch *b, struct batch **first, struct batch **second)
{
    batch_split_at(b, b->lines / 2, first, second);
}

void batch_split_at(const struct batch *b, size_t want, struct batch **first,
                    struct batch **second)
{
    IWR_ASSERT(b->lines >= 2 && want >= 1 && want < b->lines);
    size_t seen = 0, cut = 0;
    for (size_t i = 0; i < b->body.len; i++) {
        if (b->body.data[i] == '\n' && ++seen == want) {
            cut = i + 1;
            break;
        }
    }
    IWR_ASSERT(cut > 0 && cut < b->body.len);
    *first = batch_slice(b, 0, cut);
    *second = batch_slice(b, cut, b->body.len);
    /* Whatever came before b is done when b's first half is: the cursor may already sit at
     * the record before b's first line, never lower. */
    uint64_t before = b->n_segs > 0 ? b->segs[0].seq - 1 : b->end_seq;
    batch_seal(*first, before);
    (*second)->end_seq = b->end_seq;
}

size_t batch_lines_within(const struct batch *b, size_t max_bytes)
{
    size_t lines = 0;
    const char *p = b->body.data, *end = p + b->body.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t upto = nl != NULL ? (size_t)(nl - b->body.data) + 1 : b->body.len;
        if (lines > 0 && upto > max_bytes)
            break;
        lines++;
        p = b->body.data + upto;
    }
    return lines;
}

/* ---- series and times -------------------------------------------------------------------- */

/* splitmix64's finalizer: every bit of the input moves every bit of the output. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* 'n' bytes, eight at a time (a multiply per word, not per byte), finished with one more
 * multiply: enough spread for summing (line_series mixes the sum again). Bytes up to 'end' may
 * be read: a tail with 8 of them left is one load, masked to its bytes (the value a copy of the
 * tail into a zeroed word gives, without the copy's stall). */
static inline uint64_t hash_bytes(const char *p, size_t n, uint64_t seed, const char *end)
{
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    if (n > 0) {
        uint64_t w = 0;
        if (end - p >= 8) {
            memcpy(&w, p, 8);
            w = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? w & ((1ULL << (8 * n)) - 1)
                                                          : w & ~((1ULL << (8 * (8 - n))) - 1);
        } else {
            memcpy(&w, p, n);
        }
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

/* The value of 8 ASCII digits (checked by the caller), most significant first, without a
 * multiply per digit: pairs, then fours, then the eight. */
static uint64_t digits8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    w -= 0x3030303030303030ULL;
    w = (w * 10 + (w >> 8)) & 0x00ff00ff00ff00ffULL;
    w = (w * 100 + (w >> 16)) & 0x0000ffff0000ffffULL;
    return (w * 10000 + (w >> 32)) & 0xffffffffULL;
}

/* The timestamp at the end of a stored line (every stored line has one: the relay stamps those
 * that came without), as written, in the batch's precision; 0 when it cannot be read there. */
static int line_time_raw(const char *line, size_t len, int64_t *t)
{
    /* Eight bytes at a time while they are all digits: a byte that is not one sets a high bit
     * in the sum with 0x46 (from ':' to 0xb9) or in the difference with 0x30 (below '0', or
     * 0xb0 and up), and digits neither carry nor borrow, so the mask is 0 exactly when all
     * eight are digits. */
    size_t i = len;
    while (i >= 8 && len - i <= 12) {
        uint64_t w;
        memcpy(&w, line + i - 8, 8);
        if (((w + 0x4646464646464646ULL) | (w - 0x3030303030303030ULL)) & 0x8080808080808080ULL)
            break;
        i -= 8;
    }
    size_t digits = len - i;
    while (i > 0 && (unsigned char)(line[i - 1] - '0') < 10 && digits < 20) {
        i--;
        digits++;
    }
    if (digits == 0 || digits > 19)
        return 0;
    size_t first = i;
    int neg = i > 0 && line[i - 1] == '-';
    if (neg)
        i--;
    if (i == 0 || line[i - 1] != ' ')
        return 0;
    uint64_t v = 0;
    size_t k = first;
    for (; digits % 8 != 0; digits--)
        v = v * 10 + (uint64_t)(line[k++] - '0');
    for (; digits > 0; digits -= 8, k += 8)
        v = v * 100000000ULL + digits8(line + k);
    if (v > (uint64_t)INT64_MAX)
        return 0;
    *t = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

/* A time in units of 'unit_ns' in ns. Saturates: two times that saturate alike may be taken
 * for one, which only costs concurrency, never order; and it keeps order, so the ends of a
 * range stay its ends. */
static int64_t time_ns(int64_t t, int64_t unit_ns)
{
    if (t > INT64_MAX / unit_ns)
        return INT64_MAX;
    if (t < INT64_MIN / unit_ns)
        return INT64_MIN;
    return t * unit_ns;
}

/* Whether any byte of 'w' is ',', ' ' or '\\' (the classic test for a zero byte, on w XOR
 * each of them). */
static int word_has_delim(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t a = w ^ (ones * ','), b = w ^ (ones * ' '), c = w ^ (ones * '\\');
    return (((a - ones) & ~a) | ((b - ones) & ~b) | ((c - ones) & ~c)) & highs ? 1 : 0;
}

/* The series of a line as influxd keys it: the measurement and the set of tags, whatever their
 * order (each tag is hashed alone and the hashes added), up to the first unescaped space. The
 * names are hashed as written, escapes included. Not mixed: batch_keys mixes it with the time. */
static uint64_t line_series(const char *line, size_t len)
{
    uint64_t sum = 0;
    size_t start = 0, i = 0;
    int measurement = 1;
    while (i < len) {
        if (i + 8 <= len) { /* eight bytes without a delimiter at once */
            uint64_t w;
            memcpy(&w, line + i, 8);
            if (!word_has_delim(w)) {
                i += 8;
                continue;
            }
        }
        char c = line[i];
        if (c == '\\') { /* an escaped character is part of the name */
            i += 2;
            continue;
        }
        if (c != ',' && c != ' ') {
            i++;
            continue;
        }
        uint64_t part =
            hash_bytes(line + start, i - start, measurement ? 0x51ed27 : 0x7a9, line + len);
        sum += measurement ? part * 3 : part;
        measurement = 0;
        if (c == ' ')
            return sum;
        start = ++i;
    }
    return sum + hash_bytes(line + start, (i < len ? i : len) - start, 1, line + len);
}

/* The body's lines, one at a time: [*at, *at + *len) without the '\n'. 0 at the end. */
static int next_line(const struct batch *b, size_t *pos, const char **at, size_t *len)
{
    if (*pos >= b->body.len)
        return 0;
    const char *p = b->body.data + *pos;
    const char *nl = memchr(p, '\n', b->body.len - *pos);
    size_t n = nl != NULL ? (size_t)(nl - p) : b->body.len - *pos;
    *at = p;
    *len = n;
    *pos += n + 1;
    return 1;
}

static int range_cmp(const void *x, const void *y)
{
    const struct time_range *a = x, *b = y;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* The segments' time ranges in ns, sorted by their start and merged where they meet, so that
 * two batches compare in one pass over both (keys_made 1). Records come in time order more
 * often than not, and then there is nothing to sort. */
static void batch_ranges(struct batch *b)
{
    if (b->keys_made >= 1)
        return;
    int64_t unit = lp_precision_ns((enum lp_precision)b->precision);
    struct time_range *r = xmalloc((b->n_segs > 0 ? b->n_segs : 1) * sizeof(*r));
    size_t n = 0;
    int sorted = 1;
    for (size_t i = 0; i < b->n_segs; i++) {
        const struct batch_seg *g = &b->segs[i];
        if (g->t_wild)
            b->keys_wild = 1;
        if (g->t_wild || g->lines == 0 || g->t_lo > g->t_hi)
            continue;
        r[n] = (struct time_range){time_ns(g->t_lo, unit), time_ns(g->t_hi, unit)};
        if (n > 0 && r[n].lo < r[n - 1].lo)
            sorted = 0;
        n++;
    }
    if (!sorted)
        qsort(r, n, sizeof(*r), range_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && r[i].lo <= r[k - 1].hi)
            r[k - 1].hi = r[i].hi > r[k - 1].hi ? r[i].hi : r[k - 1].hi;
        else
            r[k++] = r[i];
    }
    b->iv = r;
    b->n_iv = k;
    b->keys_made = 1;
}

/* Whether some time range of 'a' meets one of 'b': both lists sorted and disjoint. */
static int ranges_meet(const struct batch *a, const struct batch *b)
{
    size_t i = 0, j = 0;
    while (i < a->n_iv && j < b->n_iv) {
        if (a->iv[i].hi < b->iv[j].lo)
            i++;
        else if (b->iv[j].hi < a->iv[i].lo)
            j++;
        else
            return 1;
    }
    return 0;
}

/* Sort 'n' keys: least significant byte first, eight stable counting passes ('tmp' holds n). */
static void radix_sort(uint64_t *k, uint64_t *tmp, size_t n)
{
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((k[i] >> shift) & 0xff) + 1]++;
        for (size_t d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++)
            tmp[count[(k[i] >> shift) & 0xff]++] = k[i];
        uint64_t *t = k;
        k = tmp;
        tmp = t;
    }
    /* Eight passes: the sorted keys are back in the first array. */
}

/* One sorted 64-bit key per line: its series and its time (keys_made 2). Only for a batch
 * without unreadable times (batch_ranges found none). */
static void batch_keys(struct batch *b)
{
    if (b->keys_made >= 2)
        return;
    int64_t unit = lp_precision_ns((enum lp_precision)b->precision);
    size_t cap = b->lines > 0 ? b->lines : 1, pos = 0, n, k = 0;
    b->keys = xmalloc(cap * sizeof(*b->keys));
    const char *l;
    while (k < cap && next_line(b, &pos, &l, &n)) {
        int64_t t = 0;
        line_time_raw(l, n, &t);
        b->keys[k++] =
            mix64(line_series(l, n) + (uint64_t)time_ns(t, unit) * 0x9e3779b97f4a7c15ULL);
    }
    uint64_t *tmp = xmalloc(cap * sizeof(*tmp));
    radix_sort(b->keys, tmp, k);
    free(tmp);
    b->n_keys = k;
    b->keys_made = 2;
}

int batch_overlap(struct batch *a, struct batch *b)
{
    batch_ranges(a);
    batch_ranges(b);
    if (a->keys_wild || b->keys_wild)
        return 1;
    if (!ranges_meet(a, b))
        return 0;
    batch_keys(a);
    batch_keys(b);
    size_t i = 0, j = 0;
    while (i < a->n_keys && j < b->n_keys) {
        if (a->keys[i] == b->keys[j])
            return 1;
        if (a->keys[i] < b->keys[j])
            i++;
        else
            j++;
    }
    return 0;
}

void batch_seg_record(const struct batch *b, size_t i, struct wal_record *rec)
{
    const struct batch_seg *g = &b->segs[i];
    memset(rec, 0, sizeof(*rec));
    rec->seq = g->seq;
    rec->recv_ns = g->recv_ns;
    rec->offset = g->offset;
    rec->points = (uint32_t)g->lines;
    rec->precision = b->precision;
    rec->consistency = g->consistency;
    rec->flags = g->flags;
    rec->db = b->db;
    rec->db_len = strlen(b->db);
    rec->rp = b->rp;
    rec->rp_len = strlen(b->rp);
    rec->target = "";
    rec->body = b->body.data + g->off;
    rec->body_len = g->len;
}

int batch_gzip(const char *in, size_t len, char **out, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* 15 + 16: a gzip header and trailer, which is what Content-Encoding: gzip means. Level 1:
     * line protocol compresses well even so, and the loop thread pays for it. */
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    size_t cap = deflateBound(&z, (uLong)len) + 32;
    char *o = xmalloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)o;
    z.avail_out = (uInt)cap;
    int zrc = len > UINT32_MAX ? Z_BUF_ERROR : deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    if (zrc != Z_STREAM_END) {
        free(o);
        return -EINVAL;
    }
    *out = o;
    *out_len = n;
    return 0;
}

static void append_escaped(struct buf *out, const char *s)
{
    gen_append_escaped(out, s, strlen(s));
}

void batch_statement_form(struct buf *out, const char *q, size_t q_len, const char *db,
                          const char *rp)
{
    buf_append_str(out, "q=");
    gen_append_escaped(out, q, q_len);
    if (db[0] != '\0') {
        buf_append_str(out, "&db=");
        append_escaped(out, db);
    }
    if (rp[0] != '\0') {
        buf_append_str(out, "&rp=");
        append_escaped(out, rp);
    }
}

const char *batch_precision_name(uint8_t precision)
{
    return lp_precision_v1_name(precision);
}

void batch_write_url(struct buf *out, const char *base, const char *db, const char *rp,
                     uint8_t precision)
{
    buf_append_str(out, base);
    buf_append_str(out, "/write?db=");
    append_escaped(out, db);
    if (rp[0] != '\0') {
        buf_append_str(out, "&rp=");
        append_escaped(out, rp);
    }
    buf_append_str(out, "&precision=");
    buf_append_str(out, batch_precision_name(precision));
}

void batch_create_db_form(struct buf *out, const char *db)
{
    /* An InfluxQL identifier in double quotes: backslash and quote are escaped inside. */
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "CREATE DATABASE \"");
    for (const char *p = db; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            buf_append(&q, "\\", 1);
        buf_append(&q, p, 1);
    }
    buf_append(&q, "\"", 2); /* with the NUL, for append_escaped */
    buf_append_str(out, "q=");
    append_escaped(out, q.data);
    buf_deinit(&q);
}
