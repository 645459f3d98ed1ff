/* Prometheus remote write 1.0 (a snappy block holding a protobuf WriteRequest) to line
 * protocol, converted as influxd 1.6.7 converts it. The protobuf is read by a small decoder of
 * our own that walks the bytes in the order, and with the checks, of the Unmarshal code gogo
 * generates for influxd's remote.proto, so that every refusal carries influxd's text (a
 * general-purpose decoder such as protobuf-c only says that decoding failed). It never
 * allocates per message: labels are spans into the inflated buffer. Pure, any thread. */
#include "relay/promwrite.h"

#include "common/err.h"

#include <inttypes.h>
#include <math.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PW_MEASUREMENT_DEFAULT "prom_metric_not_specified"
#define PW_MAX_KEY 65535

/* ---- snappy -------------------------------------------------------------------------------- */

int pw_inflate(const char *in, size_t len, size_t max, struct buf *raw, struct pw_result *res)
{
    buf_clear(raw);
    res->err = NULL;
    size_t want = 0;
    if (snappy_uncompressed_length(in, len, &want) != SNAPPY_OK) {
        res->err = "snappy: corrupt input";
        return IWR_EPARSE;
    }
    if (want > max)
        return IWR_EFULL;
    if (want == 0) {
        /* snappy_uncompress wants room for something; an empty block is one varint byte 0. */
        if (len != 1) {
            res->err = "snappy: corrupt input";
            return IWR_EPARSE;
        }
        return 0;
    }
    char *dst = buf_reserve(raw, want);
    size_t got = want;
    if (snappy_uncompress(in, len, dst, &got) != SNAPPY_OK || got != want) {
        res->err = "snappy: corrupt input";
        return IWR_EPARSE;
    }
    raw->len = want;
    return 0;
}

/* ---- the protobuf, as gogo's generated Unmarshal reads it ----------------------------------- */

enum pw_msg { MSG_WRITE_REQUEST, MSG_TIME_SERIES, MSG_LABEL, MSG_SAMPLE };

struct pw_field {
    int wire_type; /* the one gogo accepts */
    const char *name;
    int sub;       /* for wire type 2: the message inside, or -1 for a string */
};

struct pw_desc {
    const char *name;
    struct pw_field f[2]; /* field numbers 1 and 2 */
    int n_fields;
};

static const struct pw_desc descs[] = {
    [MSG_WRITE_REQUEST] = {"WriteRequest", {{2, "Timeseries", MSG_TIME_SERIES}}, 1},
    [MSG_TIME_SERIES] = {"TimeSeries", {{2, "Labels", MSG_LABEL}, {2, "Samples", MSG_SAMPLE}}, 2},
    [MSG_LABEL] = {"LabelPair", {{2, "Name", -1}, {2, "Value", -1}}, 2},
    [MSG_SAMPLE] = {"Sample", {{1, "Value", -1}, {0, "TimestampMs", -1}}, 2},
};

enum { PW_OK = 0, PW_EOF = 1, PW_OVERFLOW = 2, PW_NEGATIVE = 3, PW_TEXT = 4 };

struct pw_walk {
    const uint8_t *p;
    char *errbuf;
    size_t errbuf_len;
};

static int rd_varint(const uint8_t *p, size_t l, size_t *i, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (shift >= 64)
            return PW_OVERFLOW;
        if (*i >= l)
            return PW_EOF;
        uint8_t b = p[(*i)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80)
            return PW_OK;
    }
}

/* A length (gogo reads it into a Go int): negative is its own error; one past the end of the
 * buffer is "unexpected EOF" (also where Go's sum would overflow). */
static int rd_len(const uint8_t *p, size_t l, size_t *i, size_t *n)
{
    uint64_t v;
    int rc = rd_varint(p, l, i, &v);
    if (rc != PW_OK)
        return rc;
    if ((int64_t)v < 0)
        return PW_NEGATIVE;
    if (v > l - *i)
        return PW_EOF;
    *n = (size_t)v;
    return PW_OK;
}

/* skipRemote: the length of the field at p[0, l), key included; SIZE_MAX-ish values past 'l'
 * are possible (the caller says EOF). */
static int skip_field(struct pw_walk *w, const uint8_t *p, size_t l, size_t *out)
{
    size_t i = 0;
    uint64_t key;
    int rc = rd_varint(p, l, &i, &key);
    if (rc != PW_OK)
        return rc;
    switch ((int)(key & 7)) {
    case 0: {
        uint64_t v;
        rc = rd_varint(p, l, &i, &v);
        if (rc != PW_OK)
            return rc;
        *out = i;
        return PW_OK;
    }
    case 1:
        *out = i + 8;
        return PW_OK;
    case 2: {
        uint64_t v;
        rc = rd_varint(p, l, &i, &v);
        if (rc != PW_OK)
            return rc;
        if ((int64_t)v < 0)
            return PW_NEGATIVE;
        *out = v > l ? l + 1 : i + (size_t)v;
        return PW_OK;
    }
    case 3:
        for (;;) {
            size_t start = i;
            uint64_t inner;
            rc = rd_varint(p, l, &i, &inner);
            if (rc != PW_OK)
                return rc;
            if ((inner & 7) == 4)
                break;
            size_t next;
            rc = skip_field(w, p + start, l - start, &next);
            if (rc != PW_OK)
                return rc;
            if (next > l - start)
                return PW_EOF; /* the next key read would be past the end */
            i = start + next;
        }
        *out = i;
        return PW_OK;
    case 4:
        *out = i;
        return PW_OK;
    case 5:
        *out = i + 4;
        return PW_OK;
    default:
        snprintf(w->errbuf, w->errbuf_len, "proto: illegal wireType %d", (int)(key & 7));
        return PW_TEXT;
    }
}

/* Called for each field 1 or 2 of a message, after its checks: the span of its payload. */
typedef int pw_visit_cb(void *arg, int msg, int field, const uint8_t *v, size_t n);

/* Walk message 'msg' at p[0, l): validate as gogo does, descending into sub-messages when
 * 'deep', calling 'visit' (may be NULL) for the fields of this message. */
static int walk(struct pw_walk *w, int msg, const uint8_t *p, size_t l, int deep,
                pw_visit_cb *visit, void *arg)
{
    const struct pw_desc *d = &descs[msg];
    size_t i = 0;
    while (i < l) {
        size_t pre = i;
        uint64_t key;
        int rc = rd_varint(p, l, &i, &key);
        if (rc != PW_OK)
            return rc;
        int32_t num = (int32_t)(uint32_t)(key >> 3);
        int wt = (int)(key & 7);
        if (wt == 4) {
            snprintf(w->errbuf, w->errbuf_len, "proto: %s: wiretype end group for non-group",
                     d->name);
            return PW_TEXT;
        }
        if (num <= 0) {
            snprintf(w->errbuf, w->errbuf_len, "proto: %s: illegal tag %" PRId32
                     " (wire type %" PRIu64 ")", d->name, num, key);
            return PW_TEXT;
        }
        if (num <= d->n_fields) {
            const struct pw_field *f = &d->f[num - 1];
            if (wt != f->wire_type) {
                snprintf(w->errbuf, w->errbuf_len, "proto: wrong wireType = %d for field %s", wt,
                         f->name);
                return PW_TEXT;
            }
            const uint8_t *v = p + i;
            size_t n;
            if (wt == 2) {
                rc = rd_len(p, l, &i, &n);
                if (rc != PW_OK)
                    return rc;
                v = p + i;
                i += n;
                if (deep && f->sub >= 0) {
                    rc = walk(w, f->sub, v, n, 1, NULL, NULL);
                    if (rc != PW_OK)
                        return rc;
                }
            } else if (wt == 1) {
                if (l - i < 8)
                    return PW_EOF;
                n = 8;
                i += 8;
            } else {
                uint64_t ignored;
                rc = rd_varint(p, l, &i, &ignored);
                if (rc != PW_OK)
                    return rc;
                n = (size_t)(p + i - v);
            }
            if (visit != NULL) {
                rc = visit(arg, msg, num, v, n);
                if (rc != PW_OK)
                    return rc;
            }
        } else {
            size_t skip;
            rc = skip_field(w, p + pre, l - pre, &skip);
            if (rc != PW_OK)
                return rc;
            if (skip > l - pre)
                return PW_EOF;
            i = pre + skip;
        }
    }
    return PW_OK;
}

static const char *walk_text(struct pw_walk *w, int rc)
{
    switch (rc) {
    case PW_EOF:
        return "unexpected EOF";
    case PW_OVERFLOW:
        return "proto: integer overflow";
    case PW_NEGATIVE:
        return "proto: negative length found during unmarshaling";
    default:
        return w->errbuf;
    }
}

/* ---- conversion ----------------------------------------------------------------------------- */

struct pw_label {
    const char *name, *value;
    size_t name_len, value_len;
    size_t order;
};

struct pw_series {
    struct pw_walk *w;
    struct buf labels;    /* struct pw_label[] of the series being read */
    size_t n_labels;
    struct pw_label cur;  /* the label being read */
    double value;         /* the sample being read */
    uint64_t ts_ms;
};

static uint64_t rd_fixed64(const uint8_t *v)
{
    uint64_t x = 0;
    for (int k = 7; k >= 0; k--)
        x = (x << 8) | v[k];
    return x;
}

static uint64_t rd_varint_value(const uint8_t *v, size_t n)
{
    size_t i = 0;
    uint64_t x = 0;
    rd_varint(v, n, &i, &x);
    return x;
}

static int visit_label(void *arg, int msg, int field, const uint8_t *v, size_t n)
{
    struct pw_series *s = arg;
    (void)msg;
    if (field == 1) {
        s->cur.name = (const char *)v;
        s->cur.name_len = n;
    } else {
        s->cur.value = (const char *)v;
        s->cur.value_len = n;
    }
    return PW_OK;
}

static int visit_sample(void *arg, int msg, int field, const uint8_t *v, size_t n)
{
    struct pw_series *s = arg;
    (void)msg;
    if (field == 1) {
        uint64_t bits = rd_fixed64(v);
        memcpy(&s->value, &bits, sizeof(s->value));
    } else {
        s->ts_ms = rd_varint_value(v, n);
    }
    return PW_OK;
}

static int visit_series_labels(void *arg, int msg, int field, const uint8_t *v, size_t n)
{
    struct pw_series *s = arg;
    (void)msg;
    if (field != 1)
        return PW_OK;
    memset(&s->cur, 0, sizeof(s->cur));
    s->cur.name = s->cur.value = "";
    walk(s->w, MSG_LABEL, v, n, 0, visit_label, s);
    s->cur.order = s->n_labels;
    memcpy(buf_reserve(&s->labels, sizeof(s->cur)), &s->cur, sizeof(s->cur));
    s->labels.len += sizeof(s->cur);
    s->n_labels++;
    return PW_OK;
}

static int label_cmp(const void *a, const void *b)
{
    const struct pw_label *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c == 0 && x->name_len != y->name_len)
        c = x->name_len < y->name_len ? -1 : 1;
    if (c == 0)
        c = x->order < y->order ? -1 : (x->order > y->order);
    return c;
}

static int label_is(const struct pw_label *l, const char *name)
{
    return l->name_len == strlen(name) && memcmp(l->name, name, l->name_len) == 0;
}

/* Line-protocol escaping, as influxd's models escape a series key: the measurement's commas
 * and spaces, a tag's commas, equals signs and spaces. */
static void append_escaped(struct buf *out, const char *s, size_t n, int tag)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == ',' || ch == ' ' || (tag && ch == '=')) {
            buf_append(out, s + run, i - run);
            buf_append(out, "\\", 1);
            run = i;
        }
    }
    buf_append(out, s + run, n - run);
}

/* What line protocol cannot carry as it is: a newline, a backslash before a character that
 * escaping prefixes with one (the pair would be read as an escaped backslash and the character
 * left bare) or at the end (it would escape the separator after it). A measurement also must not
 * start with what a line's start drops or reads as a comment. */
static int lp_unsafe(const char *s, size_t n, int measurement)
{
    if (memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL)
        return 1;
    if (measurement && n > 0 && (s[0] == '#' || s[0] == '\t' || s[0] == '\0'))
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\')
            continue;
        if (i + 1 == n)
            return 1;
        char next = s[i + 1];
        if (next == ',' || next == ' ' || (!measurement && next == '='))
            return 1;
    }
    return 0;
}

static void append_float(struct buf *out, double v)
{
    char tmp[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    buf_append(out, tmp, (size_t)n);
}

struct pw_conv {
    struct pw_walk w;
    struct pw_series s;
    struct buf key;       /* the series' line prefix: measurement and tags */
    struct buf *out;
    struct pw_result *res;
    int key_ok;           /* 'key' holds this series' prefix and it is convertible */
    const char *unsafe;   /* why this series cannot be written as line protocol, or NULL */
};

static int convert_sample(struct pw_conv *cv, const uint8_t *v, size_t n)
{
    struct pw_series *s = &cv->s;
    s->value = 0;
    s->ts_ms = 0;
    walk(&cv->w, MSG_SAMPLE, v, n, 0, visit_sample, s);
    if (isnan(s->value)) {
        cv->res->nan_dropped++;
        return PW_OK;
    }
    /* Go's int64 product wraps; so does this one. */
    int64_t ns = (int64_t)(s->ts_ms * UINT64_C(1000000));
    if (ns < INT64_MIN + 2 || ns > INT64_MAX - 1) {
        snprintf(cv->w.errbuf, cv->w.errbuf_len,
                 "time outside range %" PRId64 " - %" PRId64, INT64_MIN + 2, INT64_MAX - 1);
        return PW_TEXT;
    }
    if (isinf(s->value)) {
        snprintf(cv->w.errbuf, cv->w.errbuf_len, "+/-Inf is an unsupported value for field value");
        return PW_TEXT;
    }
    /* The series key influxd checks: the key, a 4-byte separator and the field's name. */
    if (cv->key.len + 4 + 5 > PW_MAX_KEY) {
        snprintf(cv->w.errbuf, cv->w.errbuf_len, "max key length exceeded: %zu > %d",
                 cv->key.len + 4 + 5, PW_MAX_KEY);
        return PW_TEXT;
    }
    if (cv->unsafe != NULL) {
        if (cv->res->unconvertible++ == 0)
            snprintf(cv->res->reason, sizeof(cv->res->reason),
                     "unable to convert series to line protocol: %s", cv->unsafe);
        return PW_OK;
    }
    buf_append(cv->out, cv->key.data, cv->key.len);
    buf_append_str(cv->out, " value=");
    append_float(cv->out, s->value);
    char ts[24];
    int tn = snprintf(ts, sizeof(ts), " %" PRId64 "\n", ns);
    buf_append(cv->out, ts, (size_t)tn);
    cv->res->points++;
    return PW_OK;
}

static int visit_series_samples(void *arg, int msg, int field, const uint8_t *v, size_t n)
{
    struct pw_conv *cv = arg;
    (void)msg;
    if (field != 2)
        return PW_OK;
    return convert_sample(cv, v, n);
}

/* The series' labels are in cv->s.labels: sort them, keep the last of each name, build the key. */
static void series_key(struct pw_conv *cv)
{
    struct pw_series *s = &cv->s;
    struct pw_label *ls = (struct pw_label *)(void *)s->labels.data;
    size_t n = s->n_labels;
    const char *meas = PW_MEASUREMENT_DEFAULT;
    size_t meas_len = strlen(meas);
    size_t last_name_order = 0;
    int have_name = 0;
    for (size_t i = 0; i < n; i++) {
        if (label_is(&ls[i], "__name__") && (!have_name || ls[i].order >= last_name_order)) {
            meas = ls[i].value;
            meas_len = ls[i].value_len;
            last_name_order = ls[i].order;
            have_name = 1;
        }
    }
    if (n > 1)
        qsort(ls, n, sizeof(*ls), label_cmp);
    buf_clear(&cv->key);
    cv->unsafe = NULL;
    if (meas_len == 0)
        cv->unsafe = "empty measurement name";
    else if (lp_unsafe(meas, meas_len, 1))
        cv->unsafe = "measurement name cannot be written as line protocol";
    append_escaped(&cv->key, meas, meas_len, 0);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && ls[i + 1].name_len == ls[i].name_len &&
            memcmp(ls[i + 1].name, ls[i].name, ls[i].name_len) == 0)
            continue; /* a later label of the same name wins */
        if (ls[i].value_len == 0 || ls[i].name_len == 0) {
            cv->res->label_dropped++;
            continue;
        }
        if (cv->unsafe == NULL &&
            (lp_unsafe(ls[i].name, ls[i].name_len, 0) || lp_unsafe(ls[i].value, ls[i].value_len, 0)))
            cv->unsafe = "a label cannot be written as line protocol";
        buf_append(&cv->key, ",", 1);
        append_escaped(&cv->key, ls[i].name, ls[i].name_len, 1);
        buf_append(&cv->key, "=", 1);
        append_escaped(&cv->key, ls[i].value, ls[i].value_len, 1);
    }
}

static int visit_request(void *arg, int msg, int field, const uint8_t *v, size_t n)
{
    struct pw_conv *cv = arg;
    (void)msg;
    (void)field;
    buf_clear(&cv->s.labels);
    cv->s.n_labels = 0;
    walk(&cv->w, MSG_TIME_SERIES, v, n, 0, visit_series_labels, &cv->s);
    series_key(cv);
    return walk(&cv->w, MSG_TIME_SERIES, v, n, 0, visit_series_samples, cv);
}

int pw_convert(const char *pb, size_t len, struct buf *out, struct pw_result *res)
{
    res->err = NULL;
    struct pw_conv cv;
    memset(&cv, 0, sizeof(cv));
    cv.w.p = (const uint8_t *)pb;
    cv.w.errbuf = res->errbuf;
    cv.w.errbuf_len = sizeof(res->errbuf);
    cv.s.w = &cv.w;
    cv.out = out;
    cv.res = res;
    /* First the whole message, as proto.Unmarshal reads it before anything is converted. */
    int rc = walk(&cv.w, MSG_WRITE_REQUEST, (const uint8_t *)pb, len, 1, NULL, NULL);
    if (rc == PW_OK) {
        buf_init(&cv.s.labels);
        buf_init(&cv.key);
        rc = walk(&cv.w, MSG_WRITE_REQUEST, (const uint8_t *)pb, len, 0, visit_request, &cv);
        buf_deinit(&cv.s.labels);
        buf_deinit(&cv.key);
    }
    if (rc != PW_OK) {
        res->err = walk_text(&cv.w, rc);
        return IWR_EPARSE;
    }
    return 0;
}
