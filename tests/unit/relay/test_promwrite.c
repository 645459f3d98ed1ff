/* Table tests for relay/promwrite.c. The protobuf is built here byte by byte; the expected
 * answers are influxd 1.6.7's (prometheus/converters.go, the Unmarshal gogo generates for its
 * remote.proto, models.NewPoint); tests/integ/test_promwrite.py compares the error texts with a
 * running influxd. Every converted body must also pass lp_normalize untouched. */
#include "tests/unit/tap.h"

#include "common/buf.h"
#include "common/err.h"
#include "relay/lineproto.h"
#include "relay/promwrite.h"

#include <math.h>
#include <snappy-c.h>
#include <stdint.h>
#include <string.h>

/* ---- a protobuf writer ---- */

static void pb_varint(struct buf *b, uint64_t v)
{
    while (v >= 0x80) {
        char ch = (char)(v | 0x80);
        buf_append(b, &ch, 1);
        v >>= 7;
    }
    char ch = (char)v;
    buf_append(b, &ch, 1);
}

static void pb_bytes(struct buf *b, int field, const char *s, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    buf_append(b, s, n);
}

static void pb_label(struct buf *ts, const char *name, const char *value)
{
    struct buf l;
    buf_init(&l);
    pb_bytes(&l, 1, name, strlen(name));
    pb_bytes(&l, 2, value, strlen(value));
    pb_bytes(ts, 1, l.data, l.len);
    buf_deinit(&l);
}

static void pb_sample(struct buf *ts, double v, int64_t ms)
{
    struct buf s;
    buf_init(&s);
    pb_varint(&s, 1 << 3 | 1);
    uint64_t bits;
    memcpy(&bits, &v, 8);
    for (int k = 0; k < 8; k++) {
        char ch = (char)(bits >> (8 * k));
        buf_append(&s, &ch, 1);
    }
    pb_varint(&s, 2 << 3 | 0);
    pb_varint(&s, (uint64_t)ms);
    pb_bytes(ts, 2, s.data, s.len);
    buf_deinit(&s);
}

/* Wrap the series 'ts' into the request 'req' and clear it. */
static void pb_series_end(struct buf *req, struct buf *ts)
{
    pb_bytes(req, 1, ts->data ? ts->data : "", ts->len);
    buf_clear(ts);
}

/* Convert 'req'; on success also check that lp_normalize keeps every line as it is. */
static int convert(const struct buf *req, struct buf *out, struct pw_result *res)
{
    memset(res, 0, sizeof(*res));
    buf_clear(out);
    int rc = pw_convert(req->data ? req->data : "", req->len, out, res);
    if (rc == 0 && out->len > 0) {
        struct buf norm;
        struct lp_result lr;
        buf_init(&norm);
        lp_result_init(&lr);
        lp_normalize(out->data, out->len, LP_NS, 0, NULL, &norm, &lr);
        CHECK(lr.rejected == 0 && norm.len == out->len && memcmp(norm.data, out->data, out->len) == 0,
              "lp_normalize keeps the converted body as it is");
        buf_deinit(&norm);
        lp_result_deinit(&lr);
    }
    buf_append(out, "", 1);
    out->len--;
    return rc;
}

static void test_basic(void)
{
    struct buf req, ts, out;
    struct pw_result res;
    buf_init(&req);
    buf_init(&ts);
    buf_init(&out);
    pb_label(&ts, "__name__", "up");
    pb_label(&ts, "job", "prometheus");
    pb_label(&ts, "instance", "localhost:9090");
    pb_sample(&ts, 1, 1700000000123);
    pb_sample(&ts, NAN, 1700000001123);
    pb_sample(&ts, 0.1, 1700000002123);
    pb_series_end(&req, &ts);
    pb_label(&ts, "le", "+Inf");
    pb_label(&ts, "code", "");
    pb_label(&ts, "odd key", "a b,c=d");
    pb_sample(&ts, 1e20, -5);
    pb_sample(&ts, -2.5e-300, 0);
    pb_series_end(&req, &ts);
    CHECK_EQ_INT(convert(&req, &out, &res), 0, "basic: converted");
    CHECK_EQ_STR(out.data,
                 "up,__name__=up,instance=localhost:9090,job=prometheus value=1 1700000000123000000\n"
                 "up,__name__=up,instance=localhost:9090,job=prometheus value=0.1 1700000002123000000\n"
                 "prom_metric_not_specified,le=+Inf,odd\\ key=a\\ b\\,c\\=d value=1e+20 -5000000\n"
                 "prom_metric_not_specified,le=+Inf,odd\\ key=a\\ b\\,c\\=d value=-2.5e-300 0\n",
                 "basic: lines, __name__ kept as a tag, tags sorted and escaped, ms to ns");
    CHECK_EQ_INT(res.points, 4, "basic: points");
    CHECK_EQ_INT(res.nan_dropped, 1, "basic: NaN skipped");
    CHECK_EQ_INT(res.label_dropped, 1, "basic: empty label value left out");

    /* A repeated label: the last one wins, __name__ too; a value that needs 17 digits. */
    buf_clear(&req);
    pb_label(&ts, "__name__", "first");
    pb_label(&ts, "a", "1");
    pb_label(&ts, "__name__", "second");
    pb_label(&ts, "a", "2");
    pb_sample(&ts, 0.30000000000000004, 1);
    pb_series_end(&req, &ts);
    CHECK_EQ_INT(convert(&req, &out, &res), 0, "repeated labels: converted");
    CHECK_EQ_STR(out.data, "second,__name__=second,a=2 value=0.30000000000000004 1000000\n",
                 "repeated labels: the last wins; shortest exact float");

    /* Empty request, a series without samples, unknown fields (skipped as gogo skips them). */
    buf_clear(&req);
    CHECK_EQ_INT(convert(&req, &out, &res), 0, "empty request");
    CHECK_EQ_INT(res.points, 0, "empty request: no points");
    pb_label(&ts, "__name__", "x");
    pb_varint(&ts, 7 << 3 | 0);
    pb_varint(&ts, 300);
    pb_series_end(&req, &ts);
    pb_varint(&req, 9 << 3 | 5);
    buf_append(&req, "abcd", 4);
    pb_varint(&req, 10 << 3 | 3); /* a group, skipped to its end */
    pb_varint(&req, 1 << 3 | 0);
    pb_varint(&req, 1);
    pb_varint(&req, 10 << 3 | 4);
    CHECK_EQ_INT(convert(&req, &out, &res), 0, "unknown fields skipped");
    CHECK_EQ_INT(res.points, 0, "no samples, no points");

    /* Go's int64 product wraps: 9223372036855 ms is past the largest time in ns. */
    buf_clear(&req);
    pb_label(&ts, "__name__", "w");
    pb_sample(&ts, 1, INT64_C(9223372036855));
    pb_series_end(&req, &ts);
    CHECK_EQ_INT(convert(&req, &out, &res), 0, "wrapping time: converted");
    CHECK_EQ_STR(out.data, "w,__name__=w value=1 -9223372036854551616\n", "wrapping time: as Go");

    buf_deinit(&req);
    buf_deinit(&ts);
    buf_deinit(&out);
}

struct ecase {
    const char *name;
    const char *pb;
    size_t len;
    const char *err;
};

static void test_errors(void)
{
    static const struct ecase cases[] = {
        {"wrong wire type, request", "\x08\x01", 2, "proto: wrong wireType = 0 for field Timeseries"},
        {"wrong wire type, series", "\x0a\x02\x10\x01", 4, "proto: wrong wireType = 0 for field Samples"},
        {"wrong wire type, label", "\x0a\x04\x0a\x02\x08\x01", 6, "proto: wrong wireType = 0 for field Name"},
        {"wrong wire type, sample value", "\x0a\x04\x12\x02\x08\x01", 6, "proto: wrong wireType = 0 for field Value"},
        {"wrong wire type, timestamp", "\x0a\x04\x12\x02\x12\x00", 6, "proto: wrong wireType = 2 for field TimestampMs"},
        {"truncated length", "\x0a\x05\x00", 3, "unexpected EOF"},
        {"truncated key", "\x0a\x01\x8a", 3, "unexpected EOF"},
        {"truncated double", "\x0a\x05\x12\x03\x09\x00\x00", 7, "unexpected EOF"},
        {"illegal tag 0", "\x00", 1, "proto: WriteRequest: illegal tag 0 (wire type 0)"},
        {"illegal tag 0, wire 2", "\x0a\x02\x02\x00", 4, "proto: TimeSeries: illegal tag 0 (wire type 2)"},
        {"end group", "\x0c", 1, "proto: WriteRequest: wiretype end group for non-group"},
        {"end group in a label", "\x0a\x03\x0a\x01\x0c", 5, "proto: LabelPair: wiretype end group for non-group"},
        {"illegal wire type", "\x1e", 1, "proto: illegal wireType 6"},
        {"skipped field past the end", "\x19\x00", 2, "unexpected EOF"},
        {"overflowing varint", "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, "proto: integer overflow"},
        {"negative length", "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, "proto: negative length found during unmarshaling"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf out;
        struct pw_result res;
        buf_init(&out);
        memset(&res, 0, sizeof(res));
        int rc = pw_convert(cases[i].pb, cases[i].len, &out, &res);
        CHECK_EQ_INT(rc, IWR_EPARSE, cases[i].name);
        CHECK_EQ_STR(res.err, cases[i].err, cases[i].name);
        buf_deinit(&out);
    }

    /* Refusals of models.NewPoint: the whole request, in the order influxd checks. */
    struct buf req, ts, out;
    struct pw_result res;
    buf_init(&req);
    buf_init(&ts);
    buf_init(&out);
    pb_label(&ts, "__name__", "ok");
    pb_sample(&ts, 1, 1);
    pb_series_end(&req, &ts);
    pb_label(&ts, "__name__", "inf");
    pb_sample(&ts, -INFINITY, 1);
    pb_series_end(&req, &ts);
    CHECK_EQ_INT(convert(&req, &out, &res), IWR_EPARSE, "-Inf refused");
    CHECK_EQ_STR(res.err, "+/-Inf is an unsupported value for field value", "-Inf: influxd's text");

    buf_clear(&req);
    char *big = calloc(1, 65600);
    memset(big, 'v', 65520);
    pb_label(&ts, "__name__", "k");
    pb_label(&ts, "big", big);
    pb_sample(&ts, 1, 1);
    pb_series_end(&req, &ts);
    CHECK_EQ_INT(convert(&req, &out, &res), IWR_EPARSE, "long key refused");
    CHECK_EQ_STR(res.err, "max key length exceeded: 65546 > 65535", "long key: influxd's text");
    free(big);

    buf_clear(&req);
    pb_label(&ts, "__name__", "nl");
    pb_label(&ts, "v", "a\nb");
    pb_sample(&ts, 1, 1);
    pb_series_end(&req, &ts);
    pb_label(&ts, "__name__", "fine");
    pb_sample(&ts, 1, 1);
    pb_series_end(&req, &ts);
    pb_label(&ts, "__name__", "");
    pb_sample(&ts, 1, 1);
    pb_series_end(&req, &ts);
    pb_label(&ts, "__name__", "bs");
    pb_label(&ts, "v", "a\\,b");
    pb_sample(&ts, 1, 1);
    pb_series_end(&req, &ts);
    pb_label(&ts, "__name__", "bs2");
    pb_label(&ts, "v", "C:\\dir\\\\x");
    pb_sample(&ts, 1, 1);
    pb_series_end(&req, &ts);
    CHECK_EQ_INT(convert(&req, &out, &res), 0, "unconvertible series left out (ours)");
    CHECK_EQ_INT(res.unconvertible, 3, "unconvertible: newline, empty name, backslash before ','");
    CHECK_EQ_STR(res.reason, "unable to convert series to line protocol: a label cannot be written "
                 "as line protocol", "unconvertible: the first one's reason");
    CHECK_EQ_STR(out.data, "fine,__name__=fine value=1 1000000\nbs2,__name__=bs2,v=C:\\dir\\\\x value=1 1000000\n",
                 "unconvertible: the rest converted; other backslashes kept");

    buf_clear(&req);
    pb_label(&ts, "__name__", "nl");
    pb_label(&ts, "v", "a\nb");
    pb_sample(&ts, NAN, 1);
    pb_series_end(&req, &ts);
    CHECK_EQ_INT(convert(&req, &out, &res), 0, "newline in a series of NaNs only: nothing to write");
    CHECK_EQ_INT(res.unconvertible, 0, "newline in a series of NaNs only: nothing refused");
    buf_deinit(&req);
    buf_deinit(&ts);
    buf_deinit(&out);
}

static void test_snappy(void)
{
    const char *text = "hello hello hello hello hello hello";
    size_t clen = snappy_max_compressed_length(strlen(text));
    char *comp = malloc(clen);
    CHECK(snappy_compress(text, strlen(text), comp, &clen) == SNAPPY_OK, "snappy: compressed");
    struct buf raw;
    struct pw_result res;
    buf_init(&raw);
    memset(&res, 0, sizeof(res));
    CHECK_EQ_INT(pw_inflate(comp, clen, 1024, &raw, &res), 0, "snappy: inflated");
    CHECK(raw.len == strlen(text) && memcmp(raw.data, text, raw.len) == 0, "snappy: round trip");
    CHECK_EQ_INT(pw_inflate(comp, clen - 1, 1024, &raw, &res), IWR_EPARSE, "snappy: truncated");
    CHECK_EQ_STR(res.err, "snappy: corrupt input", "snappy: truncated, Go's text");
    CHECK_EQ_INT(pw_inflate(comp, clen, strlen(text) - 1, &raw, &res), IWR_EFULL,
                 "snappy: over the bound");
    CHECK_EQ_INT(pw_inflate("", 0, 1024, &raw, &res), IWR_EPARSE, "snappy: empty body");
    CHECK_EQ_INT(pw_inflate("\x00", 1, 1024, &raw, &res), 0, "snappy: empty block");
    CHECK_EQ_INT(raw.len, 0, "snappy: empty block is empty");
    buf_deinit(&raw);

    /* A claimed 4 GiB: refused before anything is allocated. */
    struct buf fresh;
    buf_init(&fresh);
    CHECK_EQ_INT(pw_inflate("\xff\xff\xff\xff\x0f\x00", 6, 1 << 20, &fresh, &res), IWR_EFULL,
                 "snappy: claimed 4 GiB over the bound");
    CHECK_EQ_INT(fresh.cap, 0, "snappy: nothing allocated for it");
    CHECK_EQ_INT(pw_inflate("\xff\xff\xff\xff\x1f", 5, 1 << 20, &fresh, &res), IWR_EPARSE,
                 "snappy: a length past 32 bits is corrupt");
    buf_deinit(&fresh);
    free(comp);
}

int main(void)
{
    test_basic();
    test_errors();
    test_snappy();
    return tap_done();
}
