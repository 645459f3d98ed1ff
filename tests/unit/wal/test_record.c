/* The record codec (wal/record.c): what wal_record_encode stores, wal_record_decode gives back
 * field for field; every single corrupt byte of a stored value is caught (checksum, sequence,
 * lengths, format, reserved byte), and so are a value under the wrong key, a short or long
 * value, and fields too long to store; the checksum is zlib's crc32. */
#include "tests/unit/tap.h"

#include "common/err.h"
#include "wal/wal.h"
#include "wal/wal_int.h"

#include <stdlib.h>
#include <zlib.h>

static struct wal_record sample(const char *body)
{
    struct wal_record r;
    memset(&r, 0, sizeof(r));
    r.recv_ns = 1700000000123456789ull;
    r.offset = 987654321ull;
    r.points = 3;
    r.precision = 2;
    r.consistency = 4;
    r.flags = 0x1234;
    r.db = "telegraf";
    r.db_len = 8;
    r.rp = "autogen";
    r.rp_len = 7;
    r.target = "b";
    r.target_len = 1;
    r.body = body;
    r.body_len = strlen(body);
    return r;
}

/* memcmp that allows empty views with a NULL pointer (memcmp's arguments must not be NULL). */
static int bytes_eq(const void *a, const void *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static int same(const struct wal_record *a, const struct wal_record *b)
{
    return a->recv_ns == b->recv_ns && a->offset == b->offset && a->points == b->points &&
           a->precision == b->precision && a->consistency == b->consistency &&
           a->flags == b->flags && a->db_len == b->db_len && a->rp_len == b->rp_len &&
           a->target_len == b->target_len && a->body_len == b->body_len &&
           bytes_eq(a->db, b->db, a->db_len) && bytes_eq(a->rp, b->rp, a->rp_len) &&
           bytes_eq(a->target, b->target, a->target_len) && bytes_eq(a->body, b->body, a->body_len);
}

/* Rewrite the checksum so that only the byte changed on purpose is wrong. */
static void reseal(unsigned char *v, size_t len)
{
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), v + 4, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        v[i] = (unsigned char)(crc >> (8 * i));
}

/* The stored checksum is zlib's crc32 over [4, len) whatever computes it (ISA-L today): logs
 * written by 0.1 read back, and what is written now reads in them. Bodies of every length up
 * to 300 and a large one (the folding paths and their tails). */
static void test_checksum_is_zlibs(void)
{
    size_t big = (size_t)1 << 20;
    char *body = malloc(big + 1);
    uint32_t x = 12345;
    for (size_t i = 0; i < big; i++) {
        x = x * 1103515245u + 12345u;
        body[i] = (char)('a' + (x >> 16) % 26);
    }
    body[big] = '\0';
    int bad = 0;
    for (size_t n = 0; n <= 301; n++) {
        size_t blen = n == 301 ? big : n;
        char save = body[blen];
        body[blen] = '\0';
        struct wal_record in = sample(body);
        size_t len;
        unsigned char *v = (unsigned char *)wal_record_encode(&in, 7 + n, &len);
        uint32_t want = (uint32_t)crc32(crc32(0L, Z_NULL, 0), v + 4, (uInt)(len - 4));
        uint32_t got = (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
                       (uint32_t)v[3] << 24;
        bad += got != want;
        free(v);
        body[blen] = save;
    }
    CHECK_EQ_INT(bad, 0, "the checksum is zlib's crc32 of bytes [4, len), bodies of 0..300 "
                         "bytes and 1 MiB");
    free(body);
}

static void test_round_trip(void)
{
    const char *body = "cpu,host=a v=1 1\ncpu,host=b v=2 2\ncpu,host=c v=3 3\n";
    struct wal_record in = sample(body), out;
    size_t len;
    char *v = wal_record_encode(&in, 42, &len);
    CHECK(v != NULL && len == WAL_REC_HDR + 8 + 7 + 1 + strlen(body) &&
              len == wal_record_encoded_size(&in),
          "encode: header plus db, rp, target and body");
    CHECK_EQ_INT(wal_record_decode(v, len, 42, &out), 0, "decode of what was encoded: 0");
    CHECK(same(&in, &out) && out.seq == 42, "round trip: every field and the sequence");
    CHECK(out.body == v + len - in.body_len, "decode is a view into the stored value");
    CHECK(wal_record_peek_recv_ns(v, len) == in.recv_ns &&
              wal_record_peek_offset(v, len) == in.offset,
          "peek: receive time and offset without decoding");
    CHECK_EQ_INT(wal_record_decode(v, len, 43, &out), IWR_ECORRUPT,
                 "a value under another sequence's key: IWR_ECORRUPT");
    free(v);

    struct wal_record bare;
    memset(&bare, 0, sizeof(bare));
    bare.db = "d";
    bare.db_len = 1;
    v = wal_record_encode(&bare, 1, &len);
    CHECK(v != NULL && len == WAL_REC_HDR + 1 && wal_record_decode(v, len, 1, &out) == 0 &&
              same(&bare, &out),
          "round trip of a record with no rp, target or body");
    free(v);
}

static void test_corruption(void)
{
    struct wal_record in = sample("m v=1i 1\n"), out;
    size_t len;
    unsigned char *v = (unsigned char *)wal_record_encode(&in, 7, &len);
    unsigned char *copy = malloc(len);
    size_t missed = 0, first_missed = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, v, len);
            copy[i] ^= (unsigned char)(1u << bit);
            if (wal_record_decode(copy, len, 7, &out) != IWR_ECORRUPT) {
                if (missed++ == 0)
                    first_missed = i;
            }
        }
    }
    if (!CHECK(missed == 0, "each of the %zu single-bit flips in a %zu-byte value is caught",
               len * 8, len))
        printf("#   %zu missed, the first at byte %zu\n", missed, first_missed);

    memcpy(copy, v, len);
    copy[23] = 1;
    reseal(copy, len);
    CHECK_EQ_INT(wal_record_decode(copy, len, 7, &out), IWR_ECORRUPT,
                 "reserved byte 23 not 0, checksum valid: IWR_ECORRUPT");
    memcpy(copy, v, len);
    copy[20] = WAL_FORMAT_VERSION + 1;
    reseal(copy, len);
    CHECK_EQ_INT(wal_record_decode(copy, len, 7, &out), IWR_ECORRUPT,
                 "another format version, checksum valid: IWR_ECORRUPT");
    memcpy(copy, v, len);
    copy[36]++; /* body_len one more than stored */
    reseal(copy, len);
    CHECK_EQ_INT(wal_record_decode(copy, len, 7, &out), IWR_ECORRUPT,
                 "lengths that do not add up, checksum valid: IWR_ECORRUPT");
    memcpy(copy, v, len);
    reseal(copy, len);
    CHECK_EQ_INT(wal_record_decode(copy, len, 7, &out), 0, "resealing alone changes nothing");

    CHECK_EQ_INT(wal_record_decode(v, len - 1, 7, &out), IWR_ECORRUPT,
                 "one byte short: IWR_ECORRUPT");
    CHECK_EQ_INT(wal_record_decode(v, WAL_REC_HDR - 1, 7, &out), IWR_ECORRUPT,
                 "shorter than the header: IWR_ECORRUPT");
    CHECK_EQ_INT(wal_record_decode(v, 0, 7, &out), IWR_ECORRUPT, "empty: IWR_ECORRUPT");
    unsigned char *longer = calloc(1, len + 1);
    memcpy(longer, v, len);
    CHECK_EQ_INT(wal_record_decode(longer, len + 1, 7, &out), IWR_ECORRUPT,
                 "one byte more: IWR_ECORRUPT");
    free(longer);
    free(copy);
    free(v);
}

static void test_limits(void)
{
    static char big[UINT16_MAX + 1];
    memset(big, 'x', sizeof(big));
    struct wal_record in = sample("m v=1i 1\n");
    size_t len = 0;
    in.db = big;
    in.db_len = UINT16_MAX;
    char *v = wal_record_encode(&in, 1, &len);
    struct wal_record out;
    CHECK(v != NULL && wal_record_decode(v, len, 1, &out) == 0 && out.db_len == UINT16_MAX,
          "a database name of 65535 bytes is stored");
    free(v);
    in.db_len = UINT16_MAX + 1;
    CHECK(wal_record_encode(&in, 1, &len) == NULL, "a database name of 65536 bytes is refused");
    in.db_len = 8;
    in.rp = big;
    in.rp_len = UINT16_MAX + 1;
    CHECK(wal_record_encode(&in, 1, &len) == NULL, "an rp of 65536 bytes is refused");
    in.rp_len = 0;
    in.target = big;
    in.target_len = UINT16_MAX + 1;
    CHECK(wal_record_encode(&in, 1, &len) == NULL, "a target of 65536 bytes is refused");
}

/* Shard parts (format 2): the table round-trips, each shard's view is its slice, a record
 * without a part for a shard is not its, and a table that does not add up is refused. */
static void test_parts(void)
{
    unsigned char table[2 * WAL_PART_ENTRY_MAX];
    size_t tl = wal_part_encode(table, "s1", 6, 1);
    tl += wal_part_encode(table + tl, "s2", 12, 2);
    struct wal_record rec = {.recv_ns = 5, .points = 3, .db = "db", .db_len = 2,
                             .body = "a v=1\nb v=2\nc v=3\n", .body_len = 18, .n_parts = 2,
                             .parts = table, .parts_len = tl};
    size_t len = 0;
    unsigned char *v = (unsigned char *)wal_record_encode(&rec, 9, &len);
    CHECK(v != NULL && v[20] == 2 && v[23] == 2, "a record with parts is format 2");
    struct wal_record out, view;
    CHECK_EQ_INT(wal_record_decode(v, len, 9, &out), 0, "it decodes");
    CHECK(out.n_parts == 2 && out.parts_len == tl && memcmp(out.parts, table, tl) == 0 &&
              out.body_len == 18 && memcmp(out.body, rec.body, 18) == 0,
          "table and body round-trip");
    CHECK(wal_record_part(&out, "s1", &view) == 1 && view.body_len == 6 &&
              memcmp(view.body, "a v=1\n", 6) == 0 && view.points == 1 && view.n_parts == 0,
          "s1's view is its part");
    CHECK(wal_record_part(&out, "s2", &view) == 1 && view.body_len == 12 &&
              memcmp(view.body, "b v=2\nc v=3\n", 12) == 0 && view.points == 2,
          "s2's view is its part");
    CHECK(wal_record_part(&out, "s3", &view) == 0 && view.body_len == 0, "s3 has no part");
    CHECK(wal_record_part(&out, NULL, &view) == 1 && view.body_len == 18, "unsharded: all");
    struct wal_record plain = {.points = 1, .db = "db", .db_len = 2, .body = "a v=1\n",
                               .body_len = 6};
    unsigned char *pv = (unsigned char *)wal_record_encode(&plain, 3, &len);
    CHECK(pv != NULL && pv[20] == 1 && pv[23] == 0, "a record without parts stays format 1");
    CHECK(wal_record_decode(pv, len, 3, &out) == 0 && wal_record_part(&out, "s3", &view) == 1 &&
              view.body_len == 6,
          "a format-1 record is every shard's");
    free(pv);
    rec.points = 4; /* the parts hold 3 */
    CHECK(wal_record_encode(&rec, 9, &len) == NULL, "parts not adding up: refused");
    rec.points = 3;
    rec.body_len = 17;
    CHECK(wal_record_encode(&rec, 9, &len) == NULL, "part bytes not adding up: refused");
    free(v);
    /* A marker (one part named WAL_PART_MARK) is nobody's, not even an unsharded reader's. */
    unsigned char me[WAL_PART_ENTRY_MAX];
    struct wal_record mark = {.flags = WAL_REC_STATEMENT, .db = "", .body = "-- shards",
                              .body_len = 9, .n_parts = 1, .parts = me};
    mark.parts_len = wal_part_encode(me, WAL_PART_MARK, 9, 0);
    char *mv = wal_record_encode(&mark, 4, &len);
    CHECK(mv != NULL && wal_record_decode(mv, len, 4, &out) == 0 &&
              wal_record_part(&out, "s1", &view) == 0 && wal_record_part(&out, NULL, &view) == 0 &&
              view.body_len == 0,
          "a marker record is sent to no one");
    free(mv);
}

int main(void)
{
    test_round_trip();
    test_checksum_is_zlibs();
    test_corruption();
    test_limits();
    test_parts();
    return tap_done();
}
