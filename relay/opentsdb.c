/* OpenTSDB telnet lines and /api/put JSON bodies converted as influxd 1.6.7's opentsdb service
 * converts them (see opentsdb.h for its quirks, kept on purpose). The JSON reader is a small
 * recursive-descent one that accepts what Go's encoding/json accepts for influxd's point
 * struct and fails where it fails. Pure; any thread. */
#include "relay/opentsdb.h"

#include "common/err.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "relay/lpwrite.h"

#include <stdlib.h>
#include <string.h>

/* influxd's models.MinNanoTime and MaxNanoTime, as whole seconds that stay inside them (the
 * nanoseconds added to such a second never cross either bound). */
#define SEC_MIN INT64_C(-9223372036)
#define SEC_MAX INT64_C(9223372036)
#define JSON_DEPTH_MAX 1000

static const struct lpw_span value_field = {"value", 5};

/* A tag with where it came from, so that the last of two with one key wins (Go's map). */
struct otag {
    struct lpw_tag t;
    size_t order;
};

static int otag_cmp(const void *x, const void *y)
{
    const struct otag *a = x, *b = y;
    size_t n = a->t.key.n < b->t.key.n ? a->t.key.n : b->t.key.n;
    int c = memcmp(a->t.key.p, b->t.key.p, n);
    if (c != 0)
        return c;
    if (a->t.key.n != b->t.key.n)
        return a->t.key.n < b->t.key.n ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Sort 'ot', keep the last of each key in 'out'; returns how many. */
static size_t tags_dedup(struct otag *ot, size_t n, struct lpw_tag *out)
{
    qsort(ot, n, sizeof(*ot), otag_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && ot[i + 1].t.key.n == ot[i].t.key.n &&
            memcmp(ot[i + 1].t.key.p, ot[i].t.key.p, ot[i].t.key.n) == 0)
            continue;
        out[k++] = ot[i].t;
    }
    return k;
}

/* time.Unix(sec, nsec) as nanoseconds, or -1 when models.CheckTime refuses it. */
static int unix_ns(int64_t sec, int64_t nsec, int64_t *out)
{
    if (sec < SEC_MIN || sec > SEC_MAX)
        return -1;
    *out = sec * INT64_C(1000000000) + nsec;
    return 0;
}

static int span_is(struct lpw_span s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* The point: tags deduplicated, then models.NewPoint's checks (lpw_point). */
static int emit(struct buf *out, struct lpw_span metric, struct otag *ot, size_t n_tags,
                double value, int64_t ts_ns, const char **why)
{
    struct lpw_tag *tags = xcalloc(n_tags ? n_tags : 1, sizeof(*tags));
    size_t n = tags_dedup(ot, n_tags, tags);
    int rc = memchr(metric.p, '\n', metric.n) != NULL ? -1 : 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (memchr(tags[i].key.p, '\n', tags[i].key.n) ||
            memchr(tags[i].value.p, '\n', tags[i].value.n))
            rc = -1;
    if (rc != 0)
        *why = "a newline in a name line protocol cannot carry";
    /* influxd's shard drops a series with a "time" tag (the /write parser refuses it too). */
    for (size_t i = 0; i < n && rc == 0; i++)
        if (tags[i].value.n > 0 && span_is(tags[i].key, "time")) {
            *why = "a \"time\" tag is illegal";
            rc = -1;
        }
    if (rc == 0)
        rc = lpw_point(out, metric, tags, n, value_field, value, ts_ns, why);
    free(tags);
    return rc == 0 ? 0 : IWR_EPARSE;
}

/* ---- telnet -------------------------------------------------------------------------------- */

/* Go's strconv.ParseInt(s, 10, 64) for at most 13 characters (no overflow possible). */
static int parse_int13(struct lpw_span s, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (s.n > 0 && (s.p[0] == '+' || s.p[0] == '-')) {
        neg = s.p[0] == '-';
        i = 1;
    }
    if (i >= s.n)
        return -1;
    int64_t v = 0;
    for (; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        v = v * 10 + (s.p[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

int opentsdb_line(const char *line, size_t len, struct buf *out, const char **why)
{
    size_t nf = lpw_fields(line, len, NULL, 0);
    if (nf == 0)
        return OPENTSDB_EMPTY;
    struct lpw_span *f = xcalloc(nf, sizeof(*f));
    lpw_fields(line, len, f, nf);
    int rc = IWR_EPARSE;
    struct otag *ot = NULL;
    if (nf == 1 && span_is(f[0], "version")) {
        rc = OPENTSDB_VERSION;
        goto out;
    }
    if (nf < 4 || !span_is(f[0], "put")) {
        *why = "malformed line";
        goto out;
    }
    int64_t ts = 0, ns = 0;
    /* influxd counts a timestamp that is not a number and goes on with 0. */
    if (f[2].n > 13 || parse_int13(f[2], &ts) != 0)
        ts = 0;
    int bad_time;
    if (f[2].n == 10) {
        bad_time = unix_ns(ts, 0, &ns);
    } else if (f[2].n == 13) {
        bad_time = unix_ns(ts / 1000, (ts % 1000) * 1000, &ns);
    } else {
        *why = "time must be 10 or 13 chars";
        goto out;
    }
    size_t n_tags = 0;
    ot = xcalloc(nf - 4 ? nf - 4 : 1, sizeof(*ot));
    for (size_t i = 4; i < nf; i++) {
        const char *eq = memchr(f[i].p, '=', f[i].n);
        if (eq == NULL || eq == f[i].p || eq == f[i].p + f[i].n - 1)
            continue; /* influxd: "Malformed tag data", the tag skipped */
        ot[n_tags].t.key = (struct lpw_span){f[i].p, (size_t)(eq - f[i].p)};
        ot[n_tags].t.value = (struct lpw_span){eq + 1, f[i].n - (size_t)(eq - f[i].p) - 1};
        ot[n_tags].order = n_tags;
        n_tags++;
    }
    double v;
    if (lpw_parse_float(f[3].p, f[3].n, &v) != 0) {
        *why = "bad float";
        goto out;
    }
    if (bad_time) {
        *why = "time outside range";
        goto out;
    }
    rc = emit(out, f[1], ot, n_tags, v, ns, why);
out:
    free(ot);
    free(f);
    return rc;
}

int opentsdb_is_http(const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    const char *sp1 = memchr(line, ' ', len);
    if (sp1 == NULL || sp1 == line)
        return 0;
    for (const char *p = line; p < sp1; p++)
        if (*p <= ' ' || *p >= 0x7f)
            return 0;
    const char *rest = sp1 + 1, *end = line + len;
    const char *sp2 = memchr(rest, ' ', (size_t)(end - rest));
    if (sp2 == NULL || sp2 == rest)
        return 0;
    const char *v = sp2 + 1;
    return end - v == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' &&
           v[6] == '.' && v[7] >= '0' && v[7] <= '9';
}

/* ---- JSON ---------------------------------------------------------------------------------- */

struct jp {
    const char *p, *end;
    int depth;
};

/* One point being read: its strings live in 'str' (offsets, since it grows). */
struct jpoint {
    struct buf str;
    size_t metric_off, metric_len;
    int64_t time;
    double value;
    struct {
        size_t koff, klen, voff, vlen;
    } * tags;
    size_t n_tags, cap_tags;
};

static void ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int lit(struct jp *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return -1;
    j->p += n;
    return 0;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

/* A string at j->p (its opening quote), decoded into 'dst' (NULL: checked only). */
static int jstring(struct jp *j, struct buf *dst)
{
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (j->end - j->p < 2)
                return -1;
            char e = j->p[1];
            j->p += 2;
            unsigned cp;
            switch (e) {
            case '"':
                cp = '"';
                break;
            case '\\':
                cp = '\\';
                break;
            case '/':
                cp = '/';
                break;
            case 'b':
                cp = '\b';
                break;
            case 'f':
                cp = '\f';
                break;
            case 'n':
                cp = '\n';
                break;
            case 'r':
                cp = '\r';
                break;
            case 't':
                cp = '\t';
                break;
            case 'u':
                if (j->end - j->p < 4 || hex4(j->p, &cp) != 0)
                    return -1;
                j->p += 4;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    unsigned lo;
                    /* Go: a high surrogate joins a following \u low one; alone it is U+FFFD
                     * and the next escape is read on its own. */
                    if (j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u' &&
                        hex4(j->p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        j->p += 6;
                    } else {
                        cp = 0xFFFD;
                    }
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    cp = 0xFFFD;
                }
                break;
            default:
                return -1;
            }
            if (dst)
                utf8_put(dst, cp);
            continue;
        }
        size_t n = utf8_valid_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
        if (dst) {
            if (n == 0)
                buf_append(dst, "\xEF\xBF\xBD", 3);
            else
                buf_append(dst, j->p, n);
        }
        j->p += n ? n : 1;
    }
    return -1;
}

/* A number literal by JSON's grammar; its text in *s. */
static int jnumber(struct jp *j, struct lpw_span *s)
{
    const char *p = j->p, *e = j->end;
    if (p < e && *p == '-')
        p++;
    if (p >= e)
        return -1;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    } else {
        return -1;
    }
    if (p < e && *p == '.') {
        p++;
        if (p >= e || *p < '0' || *p > '9')
            return -1;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return -1;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    *s = (struct lpw_span){j->p, (size_t)(p - j->p)};
    j->p = p;
    return 0;
}

/* After a member or element: whitespace, then ',' (1: another follows) or 'close' (0: the
 * container ends, its 'close' taken); -1 for anything else or the end of the input. */
static int jnext(struct jp *j, char close)
{
    ws(j);
    if (j->p >= j->end)
        return -1;
    if (*j->p == ',') {
        j->p++;
        return 1;
    }
    if (*j->p != close)
        return -1;
    j->p++;
    return 0;
}

/* Between a member's name and its value: whitespace, ':' and whitespace. 0, or -1 without
 * the ':'. */
static int jcolon(struct jp *j)
{
    ws(j);
    if (j->p >= j->end || *j->p != ':')
        return -1;
    j->p++;
    ws(j);
    return 0;
}

static int jskip(struct jp *j);

static int jskip_container(struct jp *j, char close, int object)
{
    if (++j->depth > JSON_DEPTH_MAX)
        return -1;
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return 0;
    }
    for (;;) {
        ws(j);
        if (object) {
            if (jstring(j, NULL) != 0)
                return -1;
            if (jcolon(j) != 0)
                return -1;
        }
        if (jskip(j) != 0)
            return -1;
        int more = jnext(j, close);
        if (more < 0)
            return -1;
        if (more == 0) {
            j->depth--;
            return 0;
        }
    }
}

/* Any value, checked and passed over. */
static int jskip(struct jp *j)
{
    struct lpw_span s;
    if (j->p >= j->end)
        return -1;
    switch (*j->p) {
    case '{':
        return jskip_container(j, '}', 1);
    case '[':
        return jskip_container(j, ']', 0);
    case '"':
        return jstring(j, NULL);
    case 't':
        return lit(j, "true");
    case 'f':
        return lit(j, "false");
    case 'n':
        return lit(j, "null");
    default:
        return jnumber(j, &s);
    }
}

/* Go's case folding for struct member names: ASCII in any case, and the Kelvin sign (U+212A)
 * and the long s (U+017F) for k and s, which Go's EqualFold treats as the same letters. */
static int name_is(const char *k, size_t n, const char *name)
{
    size_t i = 0;
    for (; *name; name++) {
        char c = *name;
        if (i < n && (k[i] | 0x20) == c && (unsigned char)k[i] < 0x80) {
            i++;
        } else if (c == 's' && n - i >= 2 && memcmp(k + i, "\xC5\xBF", 2) == 0) {
            i += 2;
        } else if (c == 'k' && n - i >= 3 && memcmp(k + i, "\xE2\x84\xAA", 3) == 0) {
            i += 3;
        } else {
            return 0;
        }
    }
    return i == n;
}

static int is_null(struct jp *j)
{
    if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
        j->p += 4;
        return 1;
    }
    return 0;
}

/* The '{' of an object and the whitespace after it: 1 when members follow, 0 for an empty
 * object (its '}' taken too), -1 when there is no object here. */
static int jobject_open(struct jp *j)
{
    if (j->p >= j->end || *j->p != '{')
        return -1;
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    return 1;
}

/* "tags": an object of strings (null members are ""), added to what the point has. */
static int jtags(struct jp *j, struct jpoint *pt)
{
    if (is_null(j)) {
        pt->n_tags = 0; /* Go sets the map to nil */
        return 0;
    }
    int members = jobject_open(j);
    if (members <= 0)
        return members;
    for (;;) {
        ws(j);
        if (pt->n_tags == pt->cap_tags) {
            pt->cap_tags = pt->cap_tags ? pt->cap_tags * 2 : 8;
            pt->tags = xrealloc(pt->tags, pt->cap_tags * sizeof(*pt->tags));
        }
        size_t koff = pt->str.len;
        if (jstring(j, &pt->str) != 0)
            return -1;
        size_t klen = pt->str.len - koff;
        if (jcolon(j) != 0)
            return -1;
        size_t voff = pt->str.len;
        if (!is_null(j) && jstring(j, &pt->str) != 0)
            return -1; /* a number or anything else into a string: Go's type error */
        pt->tags[pt->n_tags].koff = koff;
        pt->tags[pt->n_tags].klen = klen;
        pt->tags[pt->n_tags].voff = voff;
        pt->tags[pt->n_tags].vlen = pt->str.len - voff;
        pt->n_tags++;
        int more = jnext(j, '}');
        if (more <= 0)
            return more;
    }
}

/* One member's value into the point. */
static int jmember(struct jp *j, struct jpoint *pt, const char *k, size_t kn)
{
    struct lpw_span num;
    if (name_is(k, kn, "metric")) {
        if (is_null(j))
            return 0;
        size_t off = pt->str.len;
        if (jstring(j, &pt->str) != 0)
            return -1;
        pt->metric_off = off;
        pt->metric_len = pt->str.len - off;
        return 0;
    }
    if (name_is(k, kn, "timestamp") || name_is(k, kn, "value")) {
        int is_time = name_is(k, kn, "timestamp");
        if (is_null(j))
            return 0;
        if (jnumber(j, &num) != 0)
            return -1;
        if (is_time) {
            /* Go's ParseInt of the literal: no fraction, no exponent, no overflow. */
            size_t i = num.p[0] == '-';
            if (num.n - i > 19)
                return -1;
            uint64_t v = 0;
            for (; i < num.n; i++) {
                if (num.p[i] < '0' || num.p[i] > '9')
                    return -1;
                v = v * 10 + (uint64_t)(num.p[i] - '0');
            }
            int neg = num.p[0] == '-';
            if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
                return -1;
            pt->time = neg ? (int64_t)(0 - v) : (int64_t)v;
            return 0;
        }
        return lpw_parse_float(num.p, num.n, &pt->value);
    }
    if (name_is(k, kn, "tags"))
        return jtags(j, pt);
    return jskip(j);
}

/* Convert the point read (influxd's loop over dps). */
static void jpoint_emit(struct jpoint *pt, struct buf *acc, size_t *points, size_t *dropped)
{
    int64_t ns;
    int bad = pt->time < INT64_C(10000000000)
                  ? unix_ns(pt->time, 0, &ns)
                  : unix_ns(pt->time / 1000, (pt->time % 1000) * 1000, &ns);
    struct otag *ot = xcalloc(pt->n_tags ? pt->n_tags : 1, sizeof(*ot));
    for (size_t i = 0; i < pt->n_tags; i++) {
        ot[i].t.key = (struct lpw_span){pt->str.data + pt->tags[i].koff, pt->tags[i].klen};
        ot[i].t.value = (struct lpw_span){pt->str.data + pt->tags[i].voff, pt->tags[i].vlen};
        ot[i].order = i;
    }
    struct lpw_span metric = {pt->str.data ? pt->str.data + pt->metric_off : "", pt->metric_len};
    const char *why;
    if (!bad && emit(acc, metric, ot, pt->n_tags, pt->value, ns, &why) == 0)
        (*points)++;
    else
        (*dropped)++;
    free(ot);
}

/* One point object (or null: the zero point). */
static int jobject(struct jp *j, struct jpoint *pt)
{
    if (is_null(j))
        return 0;
    int members = jobject_open(j);
    if (members <= 0)
        return members;
    struct buf key;
    buf_init(&key);
    int rc = -1;
    for (;;) {
        ws(j);
        buf_clear(&key);
        if (jstring(j, &key) != 0)
            break;
        if (jcolon(j) != 0)
            break;
        if (jmember(j, pt, key.data ? key.data : "", key.len) != 0)
            break;
        int more = jnext(j, '}');
        if (more > 0)
            continue;
        if (more == 0)
            rc = 0;
        break;
    }
    buf_deinit(&key);
    return rc;
}

static void jpoint_reset(struct jpoint *pt)
{
    buf_clear(&pt->str);
    pt->metric_off = pt->metric_len = 0;
    pt->time = 0;
    pt->value = 0;
    pt->n_tags = 0;
}

int opentsdb_json(const char *body, size_t len, struct buf *out, size_t *points, size_t *dropped,
                  const char **why)
{
    *points = *dropped = 0;
    if (len == 0) {
        *why = "peek error: EOF";
        return IWR_EPARSE;
    }
    /* influxd looks at the first byte as it is, white space included. */
    int multi = body[0] == '[';
    if (body[0] != '{' && !multi) {
        *why = "expected JSON array or hash";
        return IWR_EPARSE;
    }
    struct jp j = {body, body + len, 0};
    struct jpoint pt;
    memset(&pt, 0, sizeof(pt));
    buf_init(&pt.str);
    struct buf acc;
    buf_init(&acc);
    int rc = -1;
    if (!multi) {
        rc = jobject(&j, &pt);
        if (rc == 0)
            jpoint_emit(&pt, &acc, points, dropped);
    } else {
        j.p++;
        ws(&j);
        if (j.p < j.end && *j.p == ']') {
            rc = 0;
        } else {
            for (;;) {
                ws(&j);
                jpoint_reset(&pt);
                if (jobject(&j, &pt) != 0)
                    break;
                jpoint_emit(&pt, &acc, points, dropped);
                ws(&j);
                if (j.p >= j.end)
                    break;
                if (*j.p == ',') {
                    j.p++;
                    continue;
                }
                if (*j.p == ']')
                    rc = 0;
                break;
            }
        }
    }
    if (rc == 0) {
        buf_append(out, acc.data, acc.len);
    } else {
        *points = *dropped = 0;
        *why = multi ? "json array decode error" : "json object decode error";
    }
    buf_deinit(&acc);
    buf_deinit(&pt.str);
    free(pt.tags);
    return rc == 0 ? 0 : IWR_EPARSE;
}
