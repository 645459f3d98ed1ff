/* gzip_inflate (relay/write.c), the bound on gzip request bodies: a body inflating to exactly
 * the limit passes, one byte more is IWR_EFULL, a bomb stops at the limit without holding more
 * than it, and truncated, corrupt or non-gzip input is IWR_EPARSE with influxd's text. */
#include "tests/unit/tap.h"

#include "common/err.h"
#include "relay/relay_int.h"

#include <zlib.h>

/* One gzip member holding 'n' bytes of 'data'; caller frees. */
static unsigned char *gz(const void *data, size_t n, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    unsigned char *out = malloc(cap);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (out == NULL || deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

/* Inflate 'in' under 'max'; 'out' is left for the caller to inspect and free. */
static int inflate_into(const unsigned char *in, size_t len, size_t max, struct buf *out,
                        const char **err)
{
    buf_init(out);
    return gzip_inflate((const char *)in, len, max, out, err);
}

static void test_bound(void)
{
    enum { N = 100000 };
    char *text = malloc(N);
    for (size_t i = 0; i < N; i++)
        text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    size_t zlen;
    unsigned char *z = gz(text, N, &zlen);
    struct buf out;
    const char *err;

    int rc = inflate_into(z, zlen, N, &out, &err);
    CHECK(rc == 0 && out.len == N && memcmp(out.data, text, N) == 0,
          "a body inflating to exactly the bound: taken, every byte");
    buf_deinit(&out);
    rc = inflate_into(z, zlen, N - 1, &out, &err);
    CHECK_EQ_INT(rc, IWR_EFULL, "one byte over the bound: IWR_EFULL");
    CHECK(out.len <= N - 1, "one byte over the bound: no more than the bound kept");
    buf_deinit(&out);
    rc = inflate_into(z, zlen, 2 * N, &out, &err);
    CHECK(rc == 0 && out.len == N, "well under the bound: taken");
    buf_deinit(&out);

    /* Two members (concatenated gzip is valid): the bound is on their sum. */
    unsigned char *two = malloc(2 * zlen);
    memcpy(two, z, zlen);
    memcpy(two + zlen, z, zlen);
    rc = inflate_into(two, 2 * zlen, 2 * N, &out, &err);
    CHECK(rc == 0 && out.len == 2 * N && memcmp(out.data + N, text, N) == 0,
          "two members, exactly the bound together: both taken");
    buf_deinit(&out);
    rc = inflate_into(two, 2 * zlen, 2 * N - 1, &out, &err);
    CHECK_EQ_INT(rc, IWR_EFULL, "two members, one byte over together: IWR_EFULL");
    buf_deinit(&out);
    free(two);

    size_t elen;
    unsigned char *empty = gz("", 0, &elen);
    rc = inflate_into(empty, elen, 0, &out, &err);
    CHECK(rc == 0 && out.len == 0, "an empty member under a bound of 0: taken");
    buf_deinit(&out);
    free(empty);
    free(z);
    free(text);
}

static void test_bomb(void)
{
    size_t n = (size_t)64 << 20, max = (size_t)1 << 20;
    char *zeros = calloc(1, n);
    size_t zlen;
    unsigned char *z = gz(zeros, n, &zlen);
    free(zeros);
    struct buf out;
    const char *err;
    int rc = inflate_into(z, zlen, max, &out, &err);
    CHECK_EQ_INT(rc, IWR_EFULL, "a 64 MiB bomb under a 1 MiB bound: IWR_EFULL");
    CHECK(out.len <= max && out.cap <= max + 512 * 1024,
          "the bomb: output and its buffer stay near the bound (len %zu, cap %zu)", out.len,
          out.cap);
    buf_deinit(&out);
    free(z);
}

static void test_bad_input(void)
{
    const char *text = "cpu,host=a value=1 1\ncpu,host=b value=2 2\n";
    size_t zlen;
    unsigned char *z = gz(text, strlen(text), &zlen);
    struct buf out;
    const char *err;

    int rc = inflate_into(z, zlen - 6, 1 << 20, &out, &err);
    CHECK(rc == IWR_EPARSE && err && strcmp(err, "unexpected EOF") == 0,
          "truncated in the trailer: IWR_EPARSE, \"unexpected EOF\"");
    buf_deinit(&out);
    rc = inflate_into(z, zlen / 2, 1 << 20, &out, &err);
    CHECK(rc == IWR_EPARSE && err && strcmp(err, "unexpected EOF") == 0,
          "truncated in the data: IWR_EPARSE, \"unexpected EOF\"");
    buf_deinit(&out);
    rc = inflate_into(z, 10, 1 << 20, &out, &err);
    CHECK(rc == IWR_EPARSE && err != NULL, "only the header: IWR_EPARSE");
    buf_deinit(&out);

    unsigned char *bad = malloc(zlen);
    memcpy(bad, z, zlen);
    bad[zlen - 8] ^= 0xff; /* the CRC-32 of the trailer */
    rc = inflate_into(bad, zlen, 1 << 20, &out, &err);
    CHECK(rc == IWR_EPARSE && err && strcmp(err, "gzip: invalid checksum") == 0,
          "a wrong CRC-32: IWR_EPARSE, \"gzip: invalid checksum\"");
    buf_deinit(&out);
    memcpy(bad, z, zlen);
    memset(bad + 12, 0xff, zlen - 20); /* the deflate data */
    rc = inflate_into(bad, zlen, 1 << 20, &out, &err);
    CHECK(rc == IWR_EPARSE && err != NULL, "corrupt deflate data: IWR_EPARSE (%s)",
          err ? err : "no text");
    buf_deinit(&out);
    free(bad);

    rc = inflate_into((const unsigned char *)text, strlen(text), 1 << 20, &out, &err);
    CHECK(rc == IWR_EPARSE && err && strcmp(err, "gzip: invalid header") == 0,
          "plain text: IWR_EPARSE, \"gzip: invalid header\"");
    buf_deinit(&out);
    rc = inflate_into(z, 1, 1 << 20, &out, &err);
    CHECK(rc == IWR_EPARSE && err && strcmp(err, "gzip: invalid header") == 0,
          "one byte: IWR_EPARSE, \"gzip: invalid header\"");
    buf_deinit(&out);
    rc = inflate_into(z, 0, 1 << 20, &out, &err);
    CHECK(rc == IWR_EPARSE, "no bytes: IWR_EPARSE");
    buf_deinit(&out);
    free(z);
}

int main(void)
{
    test_bound();
    test_bomb();
    test_bad_input();
    return tap_done();
}
