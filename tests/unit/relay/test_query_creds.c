/* Table tests of relay/query_creds.c: a client's u and p left out of a read's target and form
 * body, its Authorization header out of the forwarded headers, everything else kept in order. */
#include "tests/unit/tap.h"

#include "relay/query_creds.h"

struct row {
    const char *name;
    const char *in;
    const char *out;
    size_t dropped;
};

static const struct row targets[] = {
    {"no query", "/query", "/query", 0},
    {"nothing to drop", "/query?db=x&q=SELECT+1", "/query?db=x&q=SELECT+1", 0},
    {"u and p dropped", "/query?u=me&db=x&p=secret&q=SELECT+1", "/query?db=x&q=SELECT+1", 2},
    {"only credentials: no '?'", "/query?u=me&p=pw", "/query", 2},
    {"names compared whole", "/query?up=1&pp=2&u=3", "/query?up=1&pp=2", 1},
    {"a bare p without '='", "/query?p&db=x", "/query?db=x", 1},
    {"empty pieces dropped", "/query?&&db=x&&", "/query?db=x", 0},
    {"upper case is another name", "/query?U=me&P=pw", "/query?U=me&P=pw", 0},
    {"an encoded name is another name", "/query?%75=me", "/query?%75=me", 0},
    {"an empty query", "/query?", "/query", 0},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        const struct row *r = &targets[i];
        struct buf out;
        buf_init(&out);
        size_t n = qc_target_without_credentials(r->in, strlen(r->in), &out);
        int ok = n == r->dropped && out.len == strlen(r->out) &&
                 memcmp(out.data != NULL ? out.data : "", r->out, out.len) == 0;
        if (!CHECK(ok, "target: %s", r->name))
            printf("#   got '%.*s' (%zu dropped)\n", (int)out.len, out.data ? out.data : "", n);
        buf_deinit(&out);
    }

    struct buf out;
    buf_init(&out);
    size_t n = qc_drop_credentials("q=SELECT+v+FROM+m&db=db&u=reader&p=pw", 37, &out);
    CHECK(n == 2 && out.len == 23 && memcmp(out.data, "q=SELECT+v+FROM+m&db=db", 23) == 0,
          "form body: u and p dropped");
    buf_clear(&out);
    CHECK(qc_drop_credentials("", 0, &out) == 0 && out.len == 0, "an empty form body");
    buf_clear(&out);
    CHECK(qc_drop_credentials("db=x&p=abcdef", 5, &out) == 0 && out.len == 4,
          "reads 'len' bytes only");

    static const char h[] = "Content-Type: text/plain\r\nauthorization: Basic eDp5\r\n"
                            "Accept: application/json\r\nAuthorization-X: keep\r\n";
    static const char want[] = "Content-Type: text/plain\r\nAccept: application/json\r\n"
                               "Authorization-X: keep\r\n";
    buf_clear(&out);
    qc_drop_header(h, sizeof(h) - 1, "Authorization", &out);
    CHECK(out.len == sizeof(want) - 1 && memcmp(out.data, want, out.len) == 0,
          "headers: Authorization dropped in any case, a longer name kept");
    buf_clear(&out);
    qc_drop_header("Accept: x\r\nAuthorization: Token t", 33, "Authorization", &out);
    CHECK(out.len == 11 && memcmp(out.data, "Accept: x\r\n", 11) == 0,
          "headers: a last line without CRLF dropped too");
    buf_deinit(&out);
    return tap_done();
}
