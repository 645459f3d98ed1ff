/* Credentials on the write endpoints, as InfluxDB 1.x takes them: u/p in the query string,
 * "Authorization: Basic ...", or "Authorization: Token user:password" (1.8's v2 compatibility
 * form); and as 2.x and 3.x clients send them: "Authorization: Token X" or "Bearer X", X a
 * user's token ([[auth.user]] token) or "user:password". Passwords and tokens are compared in
 * constant time and never logged. Loop thread only. */
#include "relay/relay_int.h"

#include "common/log.h"

#include <stdio.h>
#include <string.h>

/* 1 when equal; the time taken depends only on the lengths. */
static int equal_const_time(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    size_t n = alen > blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0;
        unsigned char y = i < blen ? (unsigned char)b[i] : 0;
        diff |= x ^ y;
    }
    return diff == 0;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard base64 (padding optional); 0 or -1. */
int b64_decode(const char *s, size_t n, struct buf *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=')
            break;
        int v = b64val(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char ch = (char)((acc >> bits) & 0xff);
            buf_append(out, &ch, 1);
        }
    }
    return 0;
}

static int user_ok(const struct relay_options *cfg, const char *user, size_t ulen, const char *pass,
                   size_t plen, int *admin)
{
    int ok = 0;
    *admin = 0;
    /* Every user is compared, so the time does not tell which name exists. */
    for (size_t i = 0; i < cfg->n_users; i++) {
        const struct relay_user *u = &cfg->users[i];
        int name_eq = equal_const_time(user, ulen, u->name, strlen(u->name));
        int pass_eq = equal_const_time(pass, plen, u->password ? u->password : "",
                                       u->password ? strlen(u->password) : 0);
        ok |= name_eq & pass_eq;
        *admin |= name_eq & pass_eq & (u->admin != 0);
    }
    return ok;
}

/* 1 when 'tok' is some user's token; *admin says whether that user is marked admin. Every user
 * is compared, as in user_ok. */
static int token_ok(const struct relay_options *cfg, const char *tok, size_t tlen, int *admin)
{
    int ok = 0;
    *admin = 0;
    for (size_t i = 0; i < cfg->n_users; i++) {
        const struct relay_user *u = &cfg->users[i];
        if (u->token == NULL)
            continue;
        int eq = equal_const_time(tok, tlen, u->token, strlen(u->token));
        ok |= eq;
        *admin |= eq & (u->admin != 0);
    }
    return ok;
}

/* auth_verify, and *admin_out: whether the user is marked admin. */
static int verify_user(const struct relay_options *cfg, const struct http_req *req, const char *q,
                       size_t qlen, int *have_out, int *admin_out)
{
    struct buf user, pass, creds;
    buf_init(&user);
    buf_init(&pass);
    buf_init(&creds);
    int have = 0;
    const char *a = req->auth.data;
    size_t alen = req->auth.len;
    if (query_get(q, qlen, "u", &user)) {
        query_get(q, qlen, "p", &pass);
        have = 1;
    } else if (alen > 6 && strncasecmp(a, "Basic ", 6) == 0) {
        have = b64_decode(a + 6, alen - 6, &creds) == 0;
    } else if ((alen > 6 && strncasecmp(a, "Token ", 6) == 0) ||
               (alen > 7 && strncasecmp(a, "Bearer ", 7) == 0)) {
        /* 2.x and 3.x clients send a token; 1.8's compatibility form is "user:password". */
        size_t skip = a[0] == 'T' || a[0] == 't' ? 6 : 7;
        int tok_admin = 0;
        if (token_ok(cfg, a + skip, alen - skip, &tok_admin)) {
            buf_deinit(&user);
            buf_deinit(&pass);
            buf_deinit(&creds);
            *have_out = 1;
            *admin_out = tok_admin;
            return 1;
        }
        buf_append(&creds, a + skip, alen - skip);
        have = 1;
    }
    if (have && creds.len > 0) {
        const char *colon = memchr(creds.data, ':', creds.len);
        have = colon != NULL;
        if (have) {
            buf_append(&user, creds.data, (size_t)(colon - creds.data));
            buf_append(&pass, colon + 1, creds.len - (size_t)(colon - creds.data) - 1);
        }
    }
    int admin = 0;
    int ok = have && user_ok(cfg, user.data ? user.data : "", user.len,
                             pass.data ? pass.data : "", pass.len, &admin);
    *admin_out = ok && admin;
    buf_deinit(&user);
    buf_deinit(&pass);
    buf_deinit(&creds);
    *have_out = have;
    return ok;
}

int auth_verify(const struct relay_options *cfg, const struct http_req *req, const char *q,
                size_t qlen, int *have_out)
{
    int admin;
    return verify_user(cfg, req, q, qlen, have_out, &admin);
}

int auth_check(struct conn *c, struct http_req *req, const char *q, size_t qlen)
{
    int admin;
    return auth_check_admin(c, req, q, qlen, &admin);
}

int auth_check_admin(struct conn *c, struct http_req *req, const char *q, size_t qlen,
                     int *admin)
{
    const struct relay_options *cfg = &c->relay->cfg_limits;
    *admin = 0;
    if (!cfg->auth_enabled)
        return 0;
    int have = 0;
    if (verify_user(cfg, req, q, qlen, &have, admin))
        return 0;
    static const char nocreds[] = "unable to parse authentication credentials";
    static const char failed[] = "authorization failed";
    if (!have)
        http_respond_error(c, 401, nocreds, sizeof(nocreds) - 1);
    else
        http_respond_error(c, 401, failed, sizeof(failed) - 1);
    log_info("event=auth_failed endpoint=%s reason=%s", endpoint_names[req->ep],
             have ? "bad_credentials" : "no_credentials");
    return -1;
}

int auth_require_admin(struct conn *c, struct http_req *req, const char *q, size_t qlen,
                       const char *what)
{
    int admin = 0;
    if (auth_check_admin(c, req, q, qlen, &admin) != 0)
        return -1;
    if (c->relay->cfg_limits.auth_enabled && !admin) {
        char msg[160];
        int n = snprintf(msg, sizeof(msg), "%s need a relay user with admin = true", what);
        http_respond_error(c, 403, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
        return -1;
    }
    return 0;
}
