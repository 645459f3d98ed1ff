/* The stored form of a record, and its checksum. Pure: any thread.
 *
 * Layout (little-endian, no padding), the value under the record's sequence key:
 *   0 u32 crc32 of bytes [4, len)     20 u8 format       24 u16 flags     32 u32 points
 *   4 u64 seq                         21 u8 precision    26 u16 db_len    36 u32 body_len
 *  12 u64 offset                      22 u8 consistency  28 u16 rp_len    40 u64 recv_ns
 *                                     23 u8 n_parts      30 u16 target_len
 *  48 db, rp, target, [parts table,] body
 * Format 1 (byte 20) has n_parts 0 and no table; format 2 has n_parts 1..255 and the table
 * (struct wal_record in wal.h). Unsharded records are written in format 1, so a log that never
 * had shards reads the same to older tools record by record.
 * The sequence is inside the checksum so a value found under the wrong key is caught. The part
 * after the sequence and offset is checksummed once by the submitter (wal_record_prepare); the
 * writer thread only folds in seq and offset with crc32_combine, so it never rereads the body. */
#include "wal/wal_int.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/name.h"
#include "common/xalloc.h"

#include <isa-l/crc.h>
#include <string.h>
#include <zlib.h>

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void wal_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t wal_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

size_t wal_record_encoded_size(const struct wal_record *rec)
{
    size_t parts = rec->n_parts > 0 ? rec->parts_len : 0;
    return WAL_REC_HDR + rec->db_len + rec->rp_len + rec->target_len + parts + rec->body_len;
}

size_t wal_part_encode(unsigned char *out, const char *shard, uint32_t body_len, uint32_t points)
{
    size_t n = strlen(shard);
    out[0] = (unsigned char)n;
    memcpy(out + 1, shard, n);
    put32(out + 1 + n, body_len);
    put32(out + 5 + n, points);
    return n + 9;
}

/* Walk a part table of 'n' entries in p[0, cap): its length, or 0 when it is malformed or its
 * parts do not add up to 'body_len' bytes and 'points'. */
static size_t parts_check(const unsigned char *p, size_t cap, unsigned n, size_t body_len,
                          uint32_t points)
{
    size_t at = 0, bytes = 0;
    uint64_t pts = 0;
    for (unsigned i = 0; i < n; i++) {
        if (at >= cap)
            return 0;
        size_t nl = p[at];
        if (nl == 0 || nl > WAL_NAME_MAX || cap - at < nl + 9)
            return 0;
        bytes += get32(p + at + 1 + nl);
        pts += get32(p + at + 5 + nl);
        at += nl + 9;
    }
    return bytes == body_len && pts == points ? at : 0;
}

int wal_record_part(const struct wal_record *rec, const char *shard, struct wal_record *view)
{
    *view = *rec;
    if (rec->n_parts == 1 && rec->parts_len > sizeof(WAL_PART_MARK) &&
        rec->parts[0] == sizeof(WAL_PART_MARK) - 1 &&
        memcmp(rec->parts + 1, WAL_PART_MARK, sizeof(WAL_PART_MARK) - 1) == 0) {
        view->body_len = 0;
        view->points = 0;
        return 0;
    }
    if (rec->n_parts == 0 || shard == NULL)
        return 1;
    view->n_parts = 0;
    view->parts = NULL;
    view->parts_len = 0;
    size_t n = strlen(shard), at = 0, off = 0;
    for (unsigned i = 0; i < rec->n_parts && at < rec->parts_len; i++) {
        const unsigned char *e = rec->parts + at;
        size_t nl = e[0];
        uint32_t len = get32(e + 1 + nl), pts = get32(e + 5 + nl);
        if (nl == n && memcmp(e + 1, shard, n) == 0) {
            view->body = rec->body + off;
            view->body_len = len;
            view->points = pts;
            return 1;
        }
        off += len;
        at += nl + 9;
    }
    view->body_len = 0;
    view->points = 0;
    return 0;
}

/* The CRC-32 zlib's crc32() gives (gzip's, reflected 0xEDB88320), by ISA-L's
 * crc32_gzip_refl: the same value, chosen at run time for the CPU (carry-less multiplication
 * folding on x86-64 and arm64, a table elsewhere), about 15 times zlib's speed here. */
static uLong crc_of(uLong crc, const unsigned char *p, size_t n)
{
    return crc32_gzip_refl((uint32_t)crc, p, n);
}

int wal_record_prepare(const struct wal_record *rec, struct wal_encoded *enc)
{
    if (rec->db_len > UINT16_MAX || rec->rp_len > UINT16_MAX ||
        rec->target_len > UINT16_MAX || rec->body_len > UINT32_MAX)
        return IWR_EINVAL;
    if (rec->n_parts > 0 && parts_check(rec->parts, rec->parts_len, rec->n_parts, rec->body_len,
                                        rec->points) != rec->parts_len)
        return IWR_EINVAL;
    size_t len = wal_record_encoded_size(rec);
    unsigned char *v = xmalloc(len);
    memset(v, 0, WAL_REC_HDR);
    v[20] = rec->n_parts > 0 ? 2 : 1;
    v[23] = rec->n_parts;
    v[21] = rec->precision;
    v[22] = rec->consistency;
    put16(v + 24, rec->flags);
    put16(v + 26, (uint16_t)rec->db_len);
    put16(v + 28, (uint16_t)rec->rp_len);
    put16(v + 30, (uint16_t)rec->target_len);
    put32(v + 32, rec->points);
    put32(v + 36, (uint32_t)rec->body_len);
    wal_put64(v + 40, rec->recv_ns);
    unsigned char *p = v + WAL_REC_HDR;
    if (rec->db_len)
        memcpy(p, rec->db, rec->db_len);
    p += rec->db_len;
    if (rec->rp_len)
        memcpy(p, rec->rp, rec->rp_len);
    p += rec->rp_len;
    if (rec->target_len)
        memcpy(p, rec->target, rec->target_len);
    p += rec->target_len;
    if (rec->n_parts > 0) {
        memcpy(p, rec->parts, rec->parts_len);
        p += rec->parts_len;
    }
    if (rec->body_len)
        memcpy(p, rec->body, rec->body_len);
    enc->val = v;
    enc->len = len;
    enc->body_len = rec->body_len;
    enc->tail_crc = (uint32_t)crc_of(0, v + 20, len - 20);
    return 0;
}

void wal_record_seal(struct wal_encoded *enc, uint64_t seq, uint64_t offset)
{
    unsigned char *v = enc->val;
    wal_put64(v + 4, seq);
    wal_put64(v + 12, offset);
    uLong head = crc_of(0, v + 4, 16);
    put32(v, (uint32_t)crc32_combine(head, enc->tail_crc, (z_off_t)(enc->len - 20)));
}

char *wal_record_encode(const struct wal_record *rec, uint64_t seq, size_t *len)
{
    struct wal_encoded enc;
    if (wal_record_prepare(rec, &enc) != 0)
        return NULL;
    wal_record_seal(&enc, seq, rec->offset);
    *len = enc.len;
    return (char *)enc.val;
}

int wal_record_decode(const void *val, size_t len, uint64_t seq, struct wal_record *rec)
{
    const unsigned char *v = val;
    memset(rec, 0, sizeof(*rec));
    rec->seq = seq;
    /* Format 1 has no parts (byte 23 is 0), format 2 has some. */
    if (len < WAL_REC_HDR || (v[20] != 1 && v[20] != 2) || (v[20] == 1) != (v[23] == 0))
        return IWR_ECORRUPT;
    size_t db_len = get16(v + 26), rp_len = get16(v + 28), target_len = get16(v + 30);
    size_t body_len = get32(v + 36), parts_len = 0;
    size_t fixed = WAL_REC_HDR + db_len + rp_len + target_len;
    if (fixed > len || len - fixed < body_len)
        return IWR_ECORRUPT;
    if (v[23] > 0) {
        parts_len = parts_check(v + fixed, len - fixed - body_len, v[23], body_len,
                                get32(v + 32));
        if (parts_len == 0)
            return IWR_ECORRUPT;
    }
    if (fixed + parts_len + body_len != len)
        return IWR_ECORRUPT;
    if (wal_get64(v + 4) != seq)
        return IWR_ECORRUPT;
    if ((uint32_t)crc_of(0, v + 4, len - 4) != get32(v))
        return IWR_ECORRUPT;
    rec->offset = wal_get64(v + 12);
    rec->precision = v[21];
    rec->consistency = v[22];
    rec->flags = get16(v + 24);
    rec->points = get32(v + 32);
    rec->recv_ns = wal_get64(v + 40);
    const char *p = (const char *)v + WAL_REC_HDR;
    rec->db = p;
    rec->db_len = db_len;
    p += db_len;
    rec->rp = p;
    rec->rp_len = rp_len;
    p += rp_len;
    rec->target = p;
    rec->target_len = target_len;
    p += target_len;
    rec->n_parts = v[23];
    rec->parts = parts_len > 0 ? (const unsigned char *)p : NULL;
    rec->parts_len = parts_len;
    p += parts_len;
    rec->body = p;
    rec->body_len = body_len;
    return 0;
}

uint64_t wal_record_peek_recv_ns(const void *val, size_t len)
{
    return len >= WAL_REC_HDR ? wal_get64((const unsigned char *)val + 40) : 0;
}

uint64_t wal_record_peek_offset(const void *val, size_t len)
{
    return len >= WAL_REC_HDR ? wal_get64((const unsigned char *)val + 12) : 0;
}

/* Decode a dead letter's value: its time, the backend's answer and the record (a view). */
int wal_dead_decode(const MDB_val *k, const MDB_val *d, struct wal_dead_letter *dl)
{
    const unsigned char *v = d->mv_data;
    if (k->mv_size < 10 || k->mv_size > WAL_NAME_MAX + 9 || d->mv_size < WAL_DEAD_HDR + 8)
        return IWR_ECORRUPT;
    size_t alen = (size_t)v[8] | (size_t)v[9] << 8 | (size_t)v[10] << 16 | (size_t)v[11] << 24;
    if (alen > d->mv_size - WAL_DEAD_HDR - 8 || d->mv_size - WAL_DEAD_HDR - alen < WAL_REC_HDR)
        return IWR_ECORRUPT;
    const unsigned char *rv = v + WAL_DEAD_HDR + alen;
    size_t rlen = d->mv_size - WAL_DEAD_HDR - alen;
    memcpy(dl->backend, k->mv_data, k->mv_size - 9);
    dl->backend[k->mv_size - 9] = '\0';
    const unsigned char *kid = (const unsigned char *)k->mv_data + k->mv_size - 8;
    dl->id = 0;
    for (int i = 0; i < 8; i++)
        dl->id = dl->id << 8 | kid[i];
    dl->time_ns = wal_get64(v);
    dl->answer = (const char *)v + WAL_DEAD_HDR;
    dl->answer_len = alen;
    return wal_record_decode(rv, rlen, wal_get64(rv + 4), &dl->rec);
}

int wal_name_valid(const char *name)
{
    _Static_assert(WAL_NAME_MAX == NAME_LEN_MAX, "the log stores names by common/name.h's rule");
    return name_valid(name);
}

uint64_t wal_now_ns(void)
{
    return clock_realtime_ns();
}
