/* Tests of the pure half of replay/: building batches from records under the byte and point
 * caps, the cursor value each batch allows (end_seq), halving to isolate refused lines, the
 * dead-letter view of a segment, gzip, and the request URLs and forms. */
#include "tests/unit/tap.h"

#include "replay/replay_int.h"

#include "common/precision.h"

#include <zlib.h>

static struct wal_record rec(uint64_t seq, const char *db, const char *rp, const char *body)
{
    struct wal_record r = {0};
    r.seq = seq;
    r.recv_ns = 1000 + seq;
    r.offset = 100 * seq;
    r.db = db;
    r.db_len = strlen(db);
    r.rp = rp;
    r.rp_len = strlen(rp);
    r.target = "";
    r.body = body;
    r.body_len = strlen(body);
    r.consistency = 2;
    return r;
}

static int body_is(const struct batch *b, const char *want)
{
    return b->body.len == strlen(want) && memcmp(b->body.data, want, b->body.len) == 0;
}

static void test_add_and_caps(void)
{
    struct batch_limits lim = {1 << 20, 3};
    struct wal_record r1 = rec(5, "db", "", "a v=1 1\nb v=2 2\n");
    struct wal_record r2 = rec(6, "db", "", "c v=3 3\nd v=4 4\n");
    struct batch *b = batch_new(&r1);
    CHECK_EQ_INT(batch_add(b, &r1, 0, &lim), r1.body_len, "a record that fits is consumed whole");
    CHECK(batch_same_key(b, &r2), "same db/rp/precision joins");
    size_t n = batch_add(b, &r2, 0, &lim);
    CHECK_EQ_INT(n, 8, "the point cap stops after one more line");
    CHECK_EQ_INT(b->lines, 3, "three lines");
    CHECK_EQ_INT(b->n_segs, 2, "two segments");
    CHECK(b->segs[0].rec_end && !b->segs[1].rec_end, "the cut record is not ended");
    CHECK_EQ_INT(batch_seal(b, 4), 5, "end_seq stops before the cut record");
    struct batch *c = batch_new(&r2);
    CHECK_EQ_INT(batch_add(c, &r2, n, &lim), 8, "the rest of the record continues");
    CHECK(c->segs[0].rec_end, "and ends it");
    CHECK_EQ_INT(batch_seal(c, b->end_seq), 6, "end_seq of the batch that ends it");
    CHECK(body_is(c, "d v=4 4\n"), "continuation body");
    batch_free(b);
    batch_free(c);

    struct wal_record other = rec(7, "db", "rp1", "x v=1 1\n");
    struct wal_record other2 = rec(8, "db2", "", "x v=1 1\n");
    struct wal_record other3 = rec(9, "db", "", "x v=1 1\n");
    other3.precision = 3;
    b = batch_new(&r1);
    CHECK(!batch_same_key(b, &other), "another rp does not join");
    CHECK(!batch_same_key(b, &other2), "another db does not join");
    CHECK(!batch_same_key(b, &other3), "another precision does not join");
    struct wal_record dbprefix = rec(9, "d", "", "x\n");
    CHECK(!batch_same_key(b, &dbprefix), "a db that is a prefix does not join");
    batch_free(b);

    /* Byte cap: "a v=1 1\n" is 8 bytes. */
    struct batch_limits small = {12, 100};
    b = batch_new(&r1);
    CHECK_EQ_INT(batch_add(b, &r1, 0, &small), 8, "the byte cap stops after one line");
    batch_free(b);
    struct wal_record big = rec(10, "db", "", "a very long line that is over the cap 1\nz 1\n");
    b = batch_new(&big);
    CHECK_EQ_INT(batch_add(b, &big, 0, &small), 40, "a line over the cap travels alone");
    CHECK_EQ_INT(b->lines, 1, "one line");
    batch_free(b);
}

static void test_odd_bodies(void)
{
    struct batch_limits lim = {1 << 20, 100};
    struct wal_record r = rec(3, "db", "", "\n\na v=1 1\n\nb v=2 2");
    struct batch *b = batch_new(&r);
    CHECK_EQ_INT(batch_add(b, &r, 0, &lim), r.body_len, "empty lines skipped, all consumed");
    CHECK(body_is(b, "a v=1 1\nb v=2 2\n"), "a last line without newline gets one");
    CHECK_EQ_INT(b->lines, 2, "two lines counted");
    CHECK(b->segs[0].rec_end, "record ended");
    batch_free(b);

    struct wal_record e = rec(4, "db", "", "\n\n");
    b = batch_new(&e);
    CHECK_EQ_INT(batch_add(b, &e, 0, &lim), 2, "a record of empty lines is consumed");
    CHECK_EQ_INT(b->n_segs, 0, "and adds no segment");
    CHECK_EQ_INT(batch_seal(b, 2), 2, "an empty batch keeps the previous end");
    batch_free(b);

    /* Trailing empty lines after a cut still count as the record's end. */
    struct batch_limits two = {1 << 20, 2};
    struct wal_record t = rec(5, "db", "", "a 1\nb 2\n\n\n");
    b = batch_new(&t);
    CHECK_EQ_INT(batch_add(b, &t, 0, &two), t.body_len, "trailing empty lines consumed");
    CHECK(b->segs[0].rec_end, "so the record is ended");
    batch_free(b);
}

static void test_split(void)
{
    struct batch_limits lim = {1 << 20, 100};
    struct wal_record r1 = rec(10, "db", "rp", "l1 1\nl2 2\nl3 3\n");
    struct wal_record r2 = rec(12, "db", "rp", "l4 4\nl5 5\n");
    struct batch *b = batch_new(&r1);
    batch_add(b, &r1, 0, &lim);
    batch_add(b, &r2, 0, &lim);
    batch_seal(b, 9);
    CHECK_EQ_INT(b->end_seq, 12, "the whole batch passes both records");
    struct batch *x, *y;
    batch_split(b, &x, &y);
    CHECK_EQ_INT(x->lines, 2, "first half: 5/2 = 2 lines");
    CHECK_EQ_INT(y->lines, 3, "second half: 3 lines");
    CHECK(body_is(x, "l1 1\nl2 2\n"), "first half body");
    CHECK(body_is(y, "l3 3\nl4 4\nl5 5\n"), "second half body");
    CHECK_EQ_INT(x->n_segs, 1, "first half has the start of record 10");
    CHECK(!x->segs[0].rec_end, "which is not ended there");
    CHECK_EQ_INT(x->end_seq, 9, "so the first half only allows the cursor before it");
    CHECK_EQ_INT(y->n_segs, 2, "second half: end of record 10 and record 12");
    CHECK(y->segs[0].seq == 10 && y->segs[0].off == 0 && y->segs[0].len == 5 &&
              y->segs[0].lines == 1,
          "segment offsets rebased");
    CHECK(y->segs[0].rec_end && y->segs[1].rec_end, "both ended");
    CHECK_EQ_INT(y->end_seq, 12, "second half passes both");
    CHECK_EQ_STR(x->db, "db", "halves keep the db");
    CHECK_EQ_STR(y->rp, "rp", "halves keep the rp");

    /* Keep halving down to single lines: every line is found exactly once. */
    struct batch *p, *q;
    batch_split(y, &p, &q);
    CHECK(body_is(p, "l3 3\n") && body_is(q, "l4 4\nl5 5\n"), "halving again");
    CHECK_EQ_INT(p->end_seq, 10, "a whole record in the first half allows passing it");
    struct batch *s1, *s2;
    batch_split(q, &s1, &s2);
    CHECK(body_is(s1, "l4 4\n") && body_is(s2, "l5 5\n"), "single lines");
    CHECK_EQ_INT(s1->end_seq, 11, "mid-record: the seq before it");
    CHECK_EQ_INT(s2->end_seq, 12, "the last line ends record 12");

    struct wal_record dl;
    batch_seg_record(s1, 0, &dl);
    CHECK(dl.seq == 12 && dl.recv_ns == 1012 && dl.offset == 1200 && dl.points == 1 &&
              dl.consistency == 2,
          "a segment as a record keeps its record's fields");
    CHECK(dl.body_len == 5 && memcmp(dl.body, "l4 4\n", 5) == 0, "and only its lines");
    CHECK(dl.db_len == 2 && memcmp(dl.db, "db", 2) == 0 && dl.rp_len == 2 && dl.target_len == 0,
          "db, rp, no target");
    batch_free(b);
    batch_free(x);
    batch_free(y);
    batch_free(p);
    batch_free(q);
    batch_free(s1);
    batch_free(s2);
}

static void test_gzip(void)
{
    const char *text = "cpu,host=a usage=1 1000000000\ncpu,host=a usage=2 2000000000\n";
    char *gz;
    size_t gz_len;
    CHECK_EQ_INT(batch_gzip(text, strlen(text), &gz, &gz_len), 0, "gzip succeeds");
    CHECK(gz_len > 18 && (unsigned char)gz[0] == 0x1f && (unsigned char)gz[1] == 0x8b,
          "gzip magic");
    char out[256];
    z_stream z;
    memset(&z, 0, sizeof(z));
    inflateInit2(&z, 15 + 16);
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)gz_len;
    z.next_out = (Bytef *)out;
    z.avail_out = sizeof(out);
    int zrc = inflate(&z, Z_FINISH);
    size_t n = sizeof(out) - z.avail_out;
    inflateEnd(&z);
    CHECK(zrc == Z_STREAM_END && n == strlen(text) && memcmp(out, text, n) == 0,
          "gzip round-trips");
    free(gz);
    CHECK_EQ_INT(batch_gzip("", 0, &gz, &gz_len), 0, "gzip of nothing");
    free(gz);
}

static void test_urls(void)
{
    struct buf u;
    buf_init(&u);
    batch_write_url(&u, "http://h:8086", "db", "", 0);
    buf_append(&u, "", 1);
    CHECK_EQ_STR(u.data, "http://h:8086/write?db=db&precision=ns", "no rp: left out");
    buf_clear(&u);
    batch_write_url(&u, "https://h", "my db&x=1", "r/p", 2);
    buf_append(&u, "", 1);
    CHECK_EQ_STR(u.data, "https://h/write?db=my%20db%26x%3D1&rp=r%2Fp&precision=ms",
                 "values percent-encoded, precision named");
    buf_clear(&u);
    batch_create_db_form(&u, "we\"ird db");
    buf_append(&u, "", 1);
    CHECK_EQ_STR(u.data, "q=CREATE%20DATABASE%20%22we%5C%22ird%20db%22",
                 "CREATE DATABASE form: identifier quoted and escaped");
    buf_deinit(&u);
    buf_init(&u);
    batch_statement_form(&u, "DELETE FROM \"m\" WHERE time < 5; x", 30, "d b", "");
    buf_append(&u, "", 1);
    CHECK_EQ_STR(u.data, "q=DELETE%20FROM%20%22m%22%20WHERE%20time%20%3C%205&db=d%20b",
                 "statement form: q cut at its length, db encoded, empty rp left out");
    buf_clear(&u);
    batch_statement_form(&u, "CREATE DATABASE x", 17, "", "r&p");
    buf_append(&u, "", 1);
    CHECK_EQ_STR(u.data, "q=CREATE%20DATABASE%20x&rp=r%26p", "statement form: no db, an rp");
    buf_deinit(&u);
    CHECK_EQ_STR(batch_precision_name(0), "ns", "precision 0 is ns");
    CHECK_EQ_STR(batch_precision_name(1), "u", "precision 1 is u");
    CHECK_EQ_STR(batch_precision_name(5), "h", "precision 5 is h");
    CHECK_EQ_STR(batch_precision_name(77), "ns", "unknown precision falls back to ns");
}

/* A batch of 'body' (precision ns unless set after). */
static struct batch *batch_of(uint64_t seq, const char *body)
{
    static const struct batch_limits lim = {1 << 20, 100000};
    struct wal_record r = rec(seq, "db", "", body);
    struct batch *b = batch_new(&r);
    batch_add(b, &r, 0, &lim);
    batch_seal(b, seq - 1);
    return b;
}

/* batch_overlap of two batches of one body each, both ways round. */
static int overlap_of(const char *x, const char *y)
{
    struct batch *a = batch_of(1, x), *b = batch_of(2, y);
    int o = batch_overlap(a, b);
    CHECK(batch_overlap(b, a) == o, "overlap is symmetric");
    batch_free(a);
    batch_free(b);
    return o;
}

static void test_overlap(void)
{
    CHECK(!overlap_of("cpu,host=a v=1 10\ncpu,host=a v=2 20\n", "cpu,host=a v=3 30\n"),
          "times apart: no overlap");
    CHECK(overlap_of("cpu,host=a v=1 10\ncpu,host=a v=2 20\n", "cpu,host=a v=9 20\n"),
          "the same series and time: overlap");
    CHECK(!overlap_of("cpu,host=a v=1 10\ncpu,host=b v=2 20\n", "cpu,host=c v=9 20\n"),
          "the same time, another series: none");
    CHECK(!overlap_of("cpu,host=a v=1 20\n", "mem,host=a v=1 20\n"),
          "another measurement: none");
    CHECK(overlap_of("cpu,host=a,dc=x v=1 20\n", "cpu,dc=x,host=a u=2 20\n"),
          "tags in another order are the same series");
    CHECK(!overlap_of("cpu,host=a,dc=x v=1 20\n", "cpu,host=x,dc=a v=1 20\n"),
          "values swapped between tags: another series");
    CHECK(overlap_of("c\\ pu,host=a\\,b v=1 20\n", "c\\ pu,host=a\\,b w=1 20\n"),
          "escaped spaces and commas are part of the names");
    CHECK(!overlap_of("c\\ pu,host=a\\,b v=1 20\n", "c\\ pu,host=a,b v=1 20\n"),
          "... and not a separator");
    CHECK(!overlap_of("cpu,host=a s=\"x 20\" 10\n", "cpu,host=a v=1 20\n"),
          "the time is the last word, not one inside a string field");
    CHECK(overlap_of("cpu,host=a v=1 -5\n", "cpu,host=a v=1 -5\n"), "negative times are read");
    CHECK(overlap_of("cpu,host=a v=1\n", "mem v=1 5\n"),
          "a line without a readable time overlaps anything");
    /* Times read eight digits at a time, then one by one: every length up to 19 digits. */
    CHECK(overlap_of("c v=1 1600000000123456789\n", "c v=2 1600000000123456789\n"),
          "19 digits: the same time");
    CHECK(!overlap_of("c v=1 1600000000123456789\n", "c v=2 1600000000123456788\n"),
          "19 digits: one apart");
    CHECK(!overlap_of("c v=1 1234567890123456\n", "c v=2 1234567890123457\n"),
          "16 digits: one apart");
    CHECK(!overlap_of("c v=1 12345678\n", "c v=2 12345679\n"), "8 digits: one apart");
    CHECK(!overlap_of("c 1\n", "c 2\n"), "a line shorter than a word");
    CHECK(overlap_of("c v=1 9223372036854775807\n", "d v=1 1\n") == 0, "the largest time is read");
    CHECK(overlap_of("c v=1 9223372036854775808\n", "d v=1 1\n"),
          "one past it is not: it overlaps anything");
    CHECK(overlap_of("c v=1 12345678901234567890\n", "d v=1 1\n"),
          "20 digits are not a time either");
    CHECK(overlap_of("c v=1 x12345678\n", "d v=1 1\n"), "digits not after a space are not a time");
    CHECK(overlap_of("c v=1 123:45678\n", "d v=1 1\n") && overlap_of("c v=1 123/45678\n", "d 1\n"),
          "a byte just above or below the digits ends them (no time)");

    /* Precisions: 2 s and 2000000000 ns are one time. */
    struct batch *a = batch_of(1, "cpu v=1 2\n"), *b = batch_of(2, "cpu v=2 2000000000\n");
    a->precision = LP_S;
    CHECK(batch_overlap(a, b), "times compared in ns across precisions");
    batch_free(a);
    batch_free(b);

    /* Many lines: the halves of one batch, each half's series and times. */
    struct buf body;
    buf_init(&body);
    for (int i = 0; i < 2000; i++)
        buf_printf(&body, "m,host=h%d v=%di %d\n", i % 37, i, 1000 + i / 37);
    buf_append(&body, "", 1);
    struct batch *w = batch_of(1, body.data), *x, *y;
    batch_split_at(w, 1000, &x, &y);
    CHECK(!batch_overlap(x, y), "2000 distinct points split in two: the halves do not overlap");
    struct batch *z = batch_of(3, "m,host=h5 v=0i 1027\n");
    int in_x = 0, in_y = 0; /* the point of host h5 at time 1027: i = 27 * 37 + 5 = 1004 */
    in_x = batch_overlap(x, z);
    in_y = batch_overlap(y, z);
    CHECK(!in_x && in_y, "a point of the second half is found in it only");
    batch_free(w);
    batch_free(x);
    batch_free(y);
    batch_free(z);
    buf_deinit(&body);
}

/* A batch of several records, one segment each (records 'seq'..). */
static struct batch *batch_of_records(uint64_t seq, const char *const *bodies, size_t n)
{
    static const struct batch_limits lim = {1 << 20, 100000};
    struct wal_record r = rec(seq, "db", "", bodies[0]);
    struct batch *b = batch_new(&r);
    for (size_t i = 0; i < n; i++) {
        r = rec(seq + i, "db", "", bodies[i]);
        batch_add(b, &r, 0, &lim);
    }
    batch_seal(b, seq - 1);
    return b;
}

/* Each record's own times: two batches whose records interleave in time (two writers) but
 * never meet are told apart without reading a line's series; where a record's range meets
 * one of the other batch, the keys decide. */
static void test_overlap_by_record(void)
{
    static const char *const x[] = {"cpu,host=a v=1 10\ncpu,host=a v=1 19\n",
                                    "cpu,host=b v=1 50\ncpu,host=b v=1 59\n"};
    static const char *const y[] = {"cpu,host=a v=2 30\ncpu,host=a v=2 39\n",
                                    "cpu,host=b v=2 70\n"};
    static const char *const z[] = {"cpu,host=b v=3 55\n", "cpu,host=c v=3 15\n"};
    static const char *const w[] = {"cpu,host=b v=4 59\n", "cpu,host=c v=4 12\n"};
    static const char *const v[] = {"m v=1 10\nm v=1 30\n", "m v=1 20\nm v=1 40\n", "m v=1 41\n"};
    struct batch *a = batch_of_records(1, x, 2), *b = batch_of_records(3, y, 2);
    CHECK_EQ_INT(a->n_segs, 2, "one segment a record");
    CHECK(a->segs[0].t_lo == 10 && a->segs[0].t_hi == 19 && a->segs[1].t_lo == 50 &&
              a->segs[1].t_hi == 59,
          "each segment keeps its records' times");
    CHECK(!batch_overlap(a, b) && !batch_overlap(b, a), "interleaved ranges that never meet");
    CHECK(a->keys == NULL && b->keys == NULL, "... decided without the keys");
    struct batch *c = batch_of_records(5, z, 2);
    CHECK(!batch_overlap(a, c), "ranges meet, other series or times: no overlap");
    CHECK(a->keys != NULL && c->keys != NULL, "... which the keys decide");
    struct batch *d = batch_of_records(7, w, 2);
    CHECK(batch_overlap(a, d) && batch_overlap(d, a),
          "the same series and time in the second record");
    CHECK(d->n_iv == 2 && d->iv[0].lo == 12 && d->iv[1].lo == 59, "the ranges sorted");
    struct batch *m = batch_of_records(9, v, 3);
    CHECK(!batch_overlap(m, d), "another measurement at 12: no overlap");
    CHECK(m->n_iv == 2 && m->iv[0].lo == 10 && m->iv[0].hi == 40 && m->iv[1].lo == 41,
          "ranges that meet are merged, those that touch are not");
    batch_free(m);
    batch_free(a);
    batch_free(b);
    batch_free(c);
    batch_free(d);

    /* A split keeps each half's own times. */
    struct batch *e = batch_of(9, "m v=1 100\nm v=1 200\nm v=1 300\nm v=1 400\n"), *e1, *e2;
    batch_split(e, &e1, &e2);
    CHECK(e1->segs[0].t_lo == 100 && e1->segs[0].t_hi == 200 && e2->segs[0].t_lo == 300 &&
              e2->segs[0].t_hi == 400,
          "the halves' times");
    CHECK(!batch_overlap(e1, e2) && e1->keys == NULL, "the halves are apart by time alone");
    batch_free(e);
    batch_free(e1);
    batch_free(e2);
}

/* Whether two batches hold the same bytes and segments. */
static int same_batch(const struct batch *x, const struct batch *y)
{
    if (x->lines != y->lines || x->n_segs != y->n_segs || x->body.len != y->body.len ||
        memcmp(x->body.data, y->body.data, x->body.len) != 0)
        return 0;
    for (size_t i = 0; i < x->n_segs; i++) {
        const struct batch_seg *a = &x->segs[i], *b = &y->segs[i];
        if (a->seq != b->seq || a->off != b->off || a->len != b->len || a->lines != b->lines ||
            a->rec_end != b->rec_end || a->t_lo != b->t_lo || a->t_hi != b->t_hi ||
            a->t_wild != b->t_wild)
            return 0;
    }
    return 1;
}

/* batch_add_known: the second sender to take a record copies it whole, and the batch is what
 * batch_add makes, whatever the record and the limits. */
static void test_add_known(void)
{
    static const char *const bodies[] = {
        "cpu,host=a v=1 30\ncpu,host=b v=2 10\n", /* clean */
        "cpu v=1 5\n\ncpu v=2 6\n",               /* an empty line */
        "cpu v=1 7\ncpu v=2 8",                   /* no final '\n' */
        "cpu v=1\n",                              /* no time */
    };
    struct batch_limits lims[] = {{1 << 20, 1000}, {40, 1000}, {1 << 20, 1}, {10, 1}};
    for (size_t l = 0; l < sizeof(lims) / sizeof(lims[0]); l++) {
        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
            struct batch_known k = {0};
            struct wal_record r0 = rec(1, "db", "", "m v=0 1\n"), r = rec(2, "db", "", bodies[i]);
            struct batch *want = batch_new(&r), *first = batch_new(&r), *second = batch_new(&r);
            /* Each batch already holds a line, so the limits bite as they would mid-batch. */
            batch_add(want, &r0, 0, &lims[l]);
            batch_add(first, &r0, 0, &lims[l]);
            batch_add(second, &r0, 0, &lims[l]);
            size_t w = batch_add(want, &r, 0, &lims[l]);
            size_t f = batch_add_known(first, &r, 0, &lims[l], &k);
            size_t g = batch_add_known(second, &r, 0, &lims[l], &k);
            CHECK(w == f && w == g && same_batch(want, first) && same_batch(want, second),
                  "limits %zu, body %zu: the same batch whether the record was known or not", l, i);
            if (l == 0)
                CHECK(k.seq == 2 && k.clean == (i == 0 || i == 3),
                      "body %zu: known, and clean only without empty lines and with its '\\n'", i);
            batch_free(want);
            batch_free(first);
            batch_free(second);
        }
    }
    /* The same seq with other bytes (never in one log, checked anyway): read again. */
    struct batch_known k = {0};
    struct wal_record a = rec(3, "db", "", "cpu v=1 1\n"), b = rec(3, "db", "", "mem v=2 2\n");
    struct batch *x = batch_new(&a), *y = batch_new(&b);
    static const struct batch_limits lim = {1 << 20, 1000};
    batch_add_known(x, &a, 0, &lim, &k);
    batch_add_known(y, &b, 0, &lim, &k);
    CHECK(body_is(y, "mem v=2 2\n") && y->segs[0].t_lo == 2, "other bytes under a known seq are read");
    batch_free(x);
    batch_free(y);
}

static void test_lines_within(void)
{
    struct batch *b = batch_of(1, "a v=1 1\nb v=2 2\nc v=3 3\n"); /* 8 bytes a line */
    CHECK_EQ_INT(batch_lines_within(b, 16), 2, "two lines in 16 bytes");
    CHECK_EQ_INT(batch_lines_within(b, 17), 2, "... and in 17");
    CHECK_EQ_INT(batch_lines_within(b, 3), 1, "at least one line");
    CHECK_EQ_INT(batch_lines_within(b, 1000), 3, "every line when it fits");
    batch_free(b);
}

int main(void)
{
    test_overlap();
    test_overlap_by_record();
    test_add_known();
    test_lines_within();
    test_add_and_caps();
    test_odd_bodies();
    test_split();
    test_gzip();
    test_urls();
    return tap_done();
}
