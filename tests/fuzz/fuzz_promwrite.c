/* libFuzzer target: the Prometheus remote write decoder (relay/promwrite.c), outside bytes all
 * the way to line protocol. The first byte picks the inflation bound and whether the rest is a
 * snappy block (as the endpoint takes it) or the protobuf itself (to reach the decoder without
 * the fuzzer having to learn snappy). Checks:
 * - pw_inflate never holds more than its bound, and IWR_EFULL only when the block claims more;
 * - pw_convert either refuses with a text, or writes lines that lp_normalize takes as they
 *   are (nothing malformed reaches the log), one per point it counts; the only lines it may
 *   refuse are those influxd's shard refuses too (a tag "time") or 1.6.7's parser crashes on
 *   (100, 200, 400 tags): see lineproto.h;
 * - a refusal leaves no half-request behind for the caller to commit: the answer is the same
 *   when the input is converted twice.
 * Seeds: corpus/fuzz_promwrite (tests/tools/gen_promwrite_corpus.py). */
#include "common/buf.h"
#include "common/err.h"
#include "relay/lineproto.h"
#include "relay/promwrite.h"

#include <snappy-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_convert(const char *pb, size_t len)
{
    struct buf out, again, norm;
    struct pw_result res, res2;
    buf_init(&out);
    buf_init(&again);
    buf_init(&norm);
    memset(&res, 0, sizeof(res));
    memset(&res2, 0, sizeof(res2));
    int rc = pw_convert(pb, len, &out, &res);
    int rc2 = pw_convert(pb, len, &again, &res2);
    if (rc != rc2 || res.points != res2.points)
        abort();
    if (rc == 0) {
        if (res.err != NULL || (res.unconvertible > 0 && res.reason[0] == '\0'))
            abort();
        if (out.len != again.len || (out.len && memcmp(out.data, again.data, out.len) != 0))
            abort();
        struct lp_result lr;
        lp_result_init(&lr);
        lp_normalize(out.data ? out.data : "", out.len, LP_NS, 0, NULL, &norm, &lr);
        if (lr.rejected != 0) {
            static const char time_tag[] = "invalid tag key: input tag \"time\"";
            static const char crash[] = "runtime error";
            if (memmem(lr.errors.data, lr.errors.len, time_tag, sizeof(time_tag) - 1) == NULL &&
                memmem(lr.errors.data, lr.errors.len, crash, sizeof(crash) - 1) == NULL)
                abort();
        } else if (lr.points != res.points || norm.len != out.len ||
                   (out.len && memcmp(norm.data, out.data, out.len) != 0)) {
            abort();
        }
        lp_result_deinit(&lr);
    } else if (rc == IWR_EPARSE) {
        if (res.err == NULL || res.err[0] == '\0' || strcmp(res.err, res2.err) != 0)
            abort();
    } else {
        abort();
    }
    buf_deinit(&out);
    buf_deinit(&again);
    buf_deinit(&norm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t bounds[] = {0, 16, 4096, 1 << 20};
    size_t max = bounds[data[0] & 3];
    int raw_pb = data[0] & 4;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    if (raw_pb) {
        check_convert(in, len);
        return 0;
    }
    struct buf raw;
    struct pw_result res;
    buf_init(&raw);
    memset(&res, 0, sizeof(res));
    int rc = pw_inflate(in, len, max, &raw, &res);
    size_t claimed = 0;
    int claim_ok = snappy_uncompressed_length(in, len, &claimed) == SNAPPY_OK;
    if (raw.len > max || raw.cap > 2 * max + 256)
        abort();
    if (rc == IWR_EFULL) {
        if (!claim_ok || claimed <= max)
            abort();
    } else if (rc == IWR_EPARSE) {
        if (res.err == NULL || strcmp(res.err, "snappy: corrupt input") != 0)
            abort();
    } else if (rc == 0) {
        if (!claim_ok || claimed != raw.len)
            abort();
        check_convert(raw.data ? raw.data : "", raw.len);
    } else {
        abort();
    }
    buf_deinit(&raw);
    return 0;
}
