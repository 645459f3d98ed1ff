/* libFuzzer target for reading stored lines back (lp_line_next, lp_line_next_tag,
 * lp_line_next_field). The first byte picks the precision (low 3 bits); the rest is the body.
 * Checks:
 * - any body reads without a crash; it reads at least the lines lp_normalize accepts (with
 *   unsigned fields) and refuses at most those it rejects;
 * - what lp_normalize stored reads back line for line: as many lines as points, each with a
 *   timestamp, the spans in order and inside the line, the body consumed. */
#include "common/buf.h"
#include "common/err.h"
#include "relay/lineproto.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_NS INT64_C(1700000123456789012)

static void require(int cond)
{
    if (!cond)
        abort();
}

/* Read every line of body[0, len); counts of lines read and refused. */
static void read_all(const char *body, size_t len, enum lp_precision p, int stored, size_t *read,
                     size_t *refused)
{
    struct buf key;
    buf_init(&key);
    size_t pos = 0;
    struct lp_line ln;
    int rc;
    *read = *refused = 0;
    while ((rc = lp_line_next(body, len, &pos, p, &ln)) != 0) {
        require(pos <= len + 1);
        if (rc < 0) {
            require(rc == IWR_EPARSE);
            (*refused)++;
            continue;
        }
        (*read)++;
        require(ln.line >= body && ln.line + ln.len <= body + len);
        require(ln.measurement_len > 0 && ln.measurement_len <= ln.key_len);
        require(ln.key_len < ln.fields_start && ln.fields_start < ln.fields_end);
        require(ln.fields_end <= ln.len);
        require(!stored || ln.has_ts);
        const char *tag;
        size_t tpos = 0, tlen, tags = 0;
        while (lp_line_next_tag(&ln, &tpos, &tag, &tlen)) {
            require(tag > ln.line && tag + tlen <= ln.line + ln.key_len && tags++ < ln.key_len);
        }
        size_t fpos = 0, fields = 0;
        while (lp_line_next_field(&ln, &fpos, &key)) {
            require(key.len <= ln.fields_end - ln.fields_start && fields++ < ln.len);
        }
    }
    require(pos >= len);
    buf_deinit(&key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum lp_precision p = (enum lp_precision)((data[0] & 7) % (LP_H + 1));
    /* A copy of exactly 'size - 1' bytes, so that ASan sees any read past the body. */
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    require(body != NULL);
    memcpy(body, data + 1, len);

    struct lp_options opt = {.allow_unsigned = 1, .max_errors = 1};
    struct buf out;
    struct lp_result res;
    buf_init(&out);
    lp_result_init(&res);
    require(lp_normalize(body, len, p, NOW_NS, &opt, &out, &res) == 0);

    size_t n_read, n_refused;
    read_all(body, len, p, 0, &n_read, &n_refused);
    /* Lines without a timestamp read too; "ambiguous" lines read but are rejected. */
    require(n_read >= res.points && n_refused <= res.rejected);

    char *stored = malloc(out.len ? out.len : 1);
    require(stored != NULL);
    memcpy(stored, out.data ? out.data : "", out.len);
    read_all(stored, out.len, LP_NS, 1, &n_read, &n_refused);
    require(n_read == res.points && n_refused == 0);

    free(stored);
    lp_result_deinit(&res);
    buf_deinit(&out);
    free(body);
    return 0;
}
