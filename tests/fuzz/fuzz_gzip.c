/* libFuzzer target: the bounded gzip inflation of request bodies (gzip_inflate in relay/write.c),
 * the one decoder that turns few outside bytes into many. The first byte picks the bound, the
 * rest is the body. Checks, against zlib driven independently (one member after another, as
 * Go's gzip reader and so InfluxDB read them):
 * - success means the output is exactly what zlib gives and within the bound;
 * - IWR_EFULL means zlib's output really is larger than the bound (never a false 413);
 * - IWR_EPARSE comes with a reason, and only for input zlib cannot read whole;
 * - memory stays within twice the bound (a gzip bomb is cut off, not inflated).
 * Seeds: corpus/fuzz_gzip. */
#include "common/buf.h"
#include "common/err.h"
#include "relay/relay_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reference: every member inflated into 'out' up to 'cap' bytes. 0 ok, 1 more than 'cap', -1
 * not readable. */
static int reference(const unsigned char *in, size_t len, size_t cap, struct buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (len < 2 || in[0] != 0x1f || in[1] != 0x8b)
        return -1;
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        abort();
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    int rc = -1;
    unsigned char chunk[4096];
    for (;;) {
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        int z = inflate(&zs, Z_NO_FLUSH);
        size_t got = sizeof(chunk) - zs.avail_out;
        if (out->len + got > cap) {
            rc = 1;
            break;
        }
        buf_append(out, chunk, got);
        if (z == Z_STREAM_END) {
            if (zs.avail_in == 0) {
                rc = 0;
                break;
            }
            if (inflateReset(&zs) != Z_OK)
                break;
            continue;
        }
        if (z != Z_OK && !(z == Z_BUF_ERROR && got > 0))
            break; /* corrupt, or the input ended inside a member */
        if (z == Z_OK && got == 0 && zs.avail_in == 0)
            break;
    }
    inflateEnd(&zs);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t bounds[] = {1, 16, 100, 4096, 65536, 1 << 20};
    size_t max = bounds[data[0] % 6];
    size_t len = size - 1;
    char *in = malloc(len ? len : 1);
    memcpy(in, data + 1, len);

    struct buf out, ref;
    buf_init(&out);
    buf_init(&ref);
    const char *err = NULL;
    int rc = gzip_inflate(in, len, max, &out, &err);
    /* The reference may inflate a little past the bound: what it reads there only decides
     * between "too large" and "corrupt later on", which both are refusals. */
    int want = reference((const unsigned char *)in, len, max, &ref);
    if (out.len > max || out.cap > 2 * max + 512 * 1024)
        abort();
    if (rc == 0) {
        if (err != NULL || want != 0 || ref.len != out.len ||
            (out.len > 0 && memcmp(ref.data, out.data, out.len) != 0))
            abort();
    } else if (rc == IWR_EFULL) {
        if (want != 1)
            abort();
    } else if (rc == IWR_EPARSE) {
        if (err == NULL || want == 0)
            abort();
    } else {
        abort();
    }
    buf_deinit(&out);
    buf_deinit(&ref);
    free(in);
    return 0;
}
