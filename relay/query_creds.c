/* Leaving a client's credentials out of a read that goes to a 2.x or 3.x backend: those
 * backends know tokens, not the relay's users, so the relay checks the client and sends the
 * backend's token instead (relay/query.c). Pure; any thread. */
#include "relay/query_creds.h"

#include <string.h>
#include <strings.h>

static int is_credential(const char *p, size_t n)
{
    const char *eq = memchr(p, '=', n);
    size_t name = eq != NULL ? (size_t)(eq - p) : n;
    return name == 1 && (p[0] == 'u' || p[0] == 'p');
}

size_t qc_drop_credentials(const char *s, size_t len, struct buf *out)
{
    size_t dropped = 0;
    int first = 1;
    const char *end = s + len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        size_t n = amp != NULL ? (size_t)(amp - s) : (size_t)(end - s);
        if (n > 0) {
            if (is_credential(s, n)) {
                dropped++;
            } else {
                if (!first)
                    buf_append(out, "&", 1);
                buf_append(out, s, n);
                first = 0;
            }
        }
        s += n + (amp != NULL);
    }
    return dropped;
}

size_t qc_target_without_credentials(const char *t, size_t len, struct buf *out)
{
    const char *qm = memchr(t, '?', len);
    if (qm == NULL) {
        buf_append(out, t, len);
        return 0;
    }
    buf_append(out, t, (size_t)(qm - t));
    struct buf q;
    buf_init(&q);
    size_t dropped = qc_drop_credentials(qm + 1, len - (size_t)(qm + 1 - t), &q);
    if (q.len > 0) {
        buf_append(out, "?", 1);
        buf_append(out, q.data, q.len);
    }
    buf_deinit(&q);
    return dropped;
}

void qc_drop_header(const char *h, size_t len, const char *name, struct buf *out)
{
    size_t nlen = strlen(name);
    const char *end = h + len;
    while (h < end) {
        const char *eol = memchr(h, '\n', (size_t)(end - h));
        size_t n = eol != NULL ? (size_t)(eol - h) + 1 : (size_t)(end - h);
        int drop = n > nlen && h[nlen] == ':' && strncasecmp(h, name, nlen) == 0;
        if (!drop)
            buf_append(out, h, n);
        h += n;
    }
}
