/* Table test of b64_decode (relay/auth.c), which reads "Authorization: Basic ...": both
 * alphabets, optional padding, and refusal of anything else; and of auth_verify's reading of
 * "Authorization: Token X" and "Bearer X" (a user's token, or user:password). */
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

static void test_tokens(void)
{
    static const struct relay_user users[] = {
        {"writer", "pw1", "tok-writer", 0},
        {"admin", "pw2", "tok-admin", 1},
        {"plain", "pw3", NULL, 0},
    };
    struct relay_options cfg = {.auth_enabled = 1, .users = users, .n_users = 3};
    static const struct {
        const char *header;
        int ok, have; /* have: credentials were readable (a token no user has is not: 401
                       * "unable to parse authentication credentials", as 1.8 answers) */
    } rows2[] = {
        {"Token tok-writer", 1, 1},
        {"Bearer tok-writer", 1, 1},
        {"bearer tok-admin", 1, 1},
        {"Token writer:pw1", 1, 1},
        {"Bearer plain:pw3", 1, 1},
        {"Token tok-writerX", 0, 0},
        {"Token tok-write", 0, 0},
        {"Bearer writer:pw2", 0, 1},
        {"Token pw1", 0, 0},
        {"Bearer ", 0, 0},
        {"Bearertok-writer", 0, 0},
        {"Basic dG9rLXdyaXRlcg==", 0, 0}, /* "tok-writer": a token is not Basic credentials */
    };
    for (size_t i = 0; i < sizeof(rows2) / sizeof(rows2[0]); i++) {
        struct http_req req;
        memset(&req, 0, sizeof(req));
        buf_init(&req.auth);
        buf_append_str(&req.auth, rows2[i].header);
        int have = -1;
        int ok = auth_verify(&cfg, &req, "", 0, &have);
        if (!CHECK(ok == rows2[i].ok && have == rows2[i].have, "'%s': %s", rows2[i].header,
                   rows2[i].ok ? "accepted" : "refused"))
            printf("#   ok=%d have=%d\n", ok, have);
        buf_deinit(&req.auth);
    }
}

int main(void)
{
    test_tokens();
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
