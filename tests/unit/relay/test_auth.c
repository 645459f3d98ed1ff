/* Table test of b64_decode (relay/auth.c), which reads "Authorization: Basic ...": both
 * alphabets, optional padding, and refusal of anything else. */
#include "tests/unit/tap.h"

#include "relay/relay_int.h"

struct row {
    const char *name;
    const char *in;
    int rc;
    const char *out;
    size_t out_len;
};

static const struct row rows[] = {
    {"empty", "", 0, "", 0},
    {"user:pass", "dXNlcjpwYXNz", 0, "user:pass", 9},
    {"one byte, padded", "YQ==", 0, "a", 1},
    {"one byte, unpadded", "YQ", 0, "a", 1},
    {"two bytes, padded", "YWI=", 0, "ab", 2},
    {"two bytes, unpadded", "YWI", 0, "ab", 2},
    {"three bytes", "YWJj", 0, "abc", 3},
    {"binary, standard alphabet", "+/8A", 0, "\xfb\xff\x00", 3},
    {"binary, URL-safe alphabet", "-_8A", 0, "\xfb\xff\x00", 3},
    {"a colon in the password", "dTpwOnE=", 0, "u:p:q", 5},
    {"decoding stops at the padding", "YQ==YWJj", 0, "a", 1},
    {"a lone sixth bit group gives no byte", "YWJjZ", 0, "abc", 3},
    {"space refused", "dXNl cjpw", -1, NULL, 0},
    {"'.' refused", "dXNl.cjpw", -1, NULL, 0},
    {"a non-ASCII byte refused", "dXNl\xc3\xa9", -1, NULL, 0},
    {"newline refused", "YWJj\n", -1, NULL, 0},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct buf out;
        buf_init(&out);
        int rc = b64_decode(r->in, strlen(r->in), &out);
        int ok = rc == r->rc &&
                 (rc != 0 || (out.len == r->out_len &&
                               (r->out_len == 0 || memcmp(out.data, r->out, r->out_len) == 0)));
        if (!CHECK(ok, "%s", r->name))
            printf("#   rc=%d len=%zu\n", rc, out.len);
        buf_deinit(&out);
    }
    /* The length bounds the read, so the header value need not be NUL-terminated. */
    struct buf out;
    buf_init(&out);
    CHECK(b64_decode("YWJj!!!!", 4, &out) == 0 && out.len == 3 && memcmp(out.data, "abc", 3) == 0,
          "reads 'n' bytes only");
    buf_deinit(&out);
    return tap_done();
}
