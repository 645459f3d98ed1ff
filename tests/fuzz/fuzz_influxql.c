/* libFuzzer target for relay/influxql. The input is a q= string. Checks:
 * - iql_split never crashes, its pieces tile the input exactly, and each statement's text lies
 *   inside its piece; iql_classify agrees with the first piece;
 * - every token iql_scan returns is at least one byte and stays inside the input;
 * - iql_rewrite_now copies the input unchanged when it replaces nothing, and no piece flagged
 *   IQL_F_NOW is left without a replacement;
 * - iql_redact copies the input unchanged when it replaces nothing, and a piece flagged
 *   IQL_F_SECRET, redacted on its own and scanned again, holds no string literal but the mask. */
#include "common/buf.h"
#include "relay/influxql.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
    if (!cond)
        abort();
}

/* The splitter's regex rule from the public tokens: after SELECT FROM BY , ( . = != =~ !~. */
static int triggers(const char *q, const struct iql_token *t, int was)
{
    const char *s = q + t->off;
    if (t->tok == IQL_T_WS)
        return was;
    if (t->tok == IQL_T_PUNCT)
        return t->len == 1 && (*s == ',' || *s == '(' || *s == '.');
    if (t->tok == IQL_T_OP)
        return (t->len == 1 && *s == '=') || (t->len == 2 && (s[1] == '~' || memcmp(s, "!=", 2) == 0));
    if (t->tok == IQL_T_KEYWORD)
        return (t->len == 6 && strncasecmp(s, "select", 6) == 0) ||
               (t->len == 4 && strncasecmp(s, "from", 4) == 0) ||
               (t->len == 2 && strncasecmp(s, "by", 2) == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly 'size' bytes, so that ASan sees any read past the end. */
    char *q = malloc(size ? size : 1);
    require(q != NULL);
    memcpy(q, data, size);

    size_t n = iql_split(q, size, NULL, 0);
    struct iql_stmt *st = malloc((n ? n : 1) * sizeof(*st));
    require(st != NULL);
    require(iql_split(q, size, st, n) == n);
    size_t pos = 0, nows = 0;
    for (size_t i = 0; i < n; i++) {
        require(st[i].off == pos && st[i].len > 0);
        require(st[i].text_off >= st[i].off &&
                st[i].text_off + st[i].text_len <= st[i].off + st[i].len);
        require(st[i].kind <= IQL_UNKNOWN && st[i].name != NULL);
        require((st[i].kind == IQL_EMPTY) == (st[i].text_len == 0) || st[i].kind == IQL_UNKNOWN);
        nows += (st[i].flags & IQL_F_NOW) != 0;
        pos += st[i].len;
    }
    require(pos == size);
    if (n > 0) {
        struct iql_stmt one;
        iql_classify(q, size, &one);
        require(one.kind == st[0].kind && one.off == 0 && one.len == st[0].len &&
                one.flags == st[0].flags);
    }

    for (size_t p = 0, k = 0; p < size && k < 4096; k++) {
        struct iql_token t;
        size_t next = iql_scan(q, size, p, (int)(k & 1), &t);
        require(t.off == p && t.len >= 1 && next == p + t.len && next <= size);
        p = next;
    }

    struct buf out;
    buf_init(&out);
    size_t r = iql_rewrite_now(q, size, INT64_C(1700000000123456789), &out);
    if (r == 0)
        require(out.len == size && (size == 0 || memcmp(out.data, q, size) == 0));
    require(r >= nows);

    buf_clear(&out);
    size_t m = iql_redact(q, size, &out);
    if (m == 0)
        require(out.len == size && (size == 0 || memcmp(out.data, q, size) == 0));
    /* A secret piece redacted on its own holds no string literal but the mask. */
    for (size_t i = 0; i < n; i++) {
        if (!(st[i].flags & IQL_F_SECRET))
            continue;
        buf_clear(&out);
        iql_redact(q + st[i].off, st[i].len, &out);
        int rx = 0;
        for (size_t p = 0; p < out.len;) {
            struct iql_token t;
            p = iql_scan(out.data, out.len, p, rx, &t);
            rx = triggers(out.data, &t, rx);
            if (t.tok == IQL_T_STRING)
                require(t.len == strlen(IQL_REDACTED) &&
                        memcmp(out.data + t.off, IQL_REDACTED, t.len) == 0);
        }
    }
    buf_deinit(&out);
    free(st);
    free(q);
    return 0;
}
