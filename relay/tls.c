/* TLS sessions over memory BIOs (see tls.h). Owns the OpenSSL objects; OpenSSL's own reference
 * count on SSL_CTX is what lets a reload drop a context that live sessions still use. Loop
 * thread only for sessions. OpenSSL errors are translated here, once, into a "file: reason" or
 * a reason string. */
#include "relay/tls.h"

#include "common/err.h"
#include "common/xalloc.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

struct tls_ctx {
    SSL_CTX *ssl_ctx;
};

struct tls_conn {
    SSL *ssl;
    BIO *rbio; /* ciphertext from the socket; owned by 'ssl' */
    BIO *wbio; /* ciphertext for the socket; owned by 'ssl' */
    int shut;
    char why[160];
};

/* The oldest queued OpenSSL reason, without the library's error-code prefix; the queue is
 * cleared so that the next call starts clean. */
static const char *ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, cap, "%s", r != NULL ? r : "unknown TLS error");
    ERR_clear_error();
    return buf;
}

static int ctx_fail(char *err, size_t err_cap, const char *file, const char *what)
{
    char reason[128];
    ssl_reason(reason, sizeof(reason));
    snprintf(err, err_cap, "%s: %s (%s)", file, what, reason);
    return IWR_EINVAL;
}

/* fopen first: "No such file or directory" says more than OpenSSL's "system lib". */
static int readable(const char *file, char *err, size_t err_cap)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        snprintf(err, err_cap, "%s: %s", file, strerror(errno));
        return IWR_EINVAL;
    }
    fclose(f);
    return 0;
}

int tls_ctx_new(struct tls_ctx **out, const struct relay_tls *opts, char *err, size_t err_cap)
{
    *out = NULL;
    const char *key = opts->key_file != NULL ? opts->key_file : opts->cert_file;
    int rc = readable(opts->cert_file, err, err_cap);
    if (rc == 0)
        rc = readable(key, err, err_cap);
    if (rc == 0 && opts->client_ca_file != NULL)
        rc = readable(opts->client_ca_file, err, err_cap);
    if (rc != 0)
        return rc;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return ctx_fail(err, err_cap, opts->cert_file, "cannot create a TLS context");
    SSL_CTX_set_min_proto_version(ctx, opts->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    /* No renegotiation (a client-driven CPU cost with no use here); no stateful session cache
     * to grow with clients (tickets still resume sessions). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* Release the per-session buffers while idle: many kept-alive clients stay cheap. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, opts->cert_file) != 1)
        rc = ctx_fail(err, err_cap, opts->cert_file, "not a PEM certificate chain");
    else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        rc = ctx_fail(err, err_cap, key, "not a usable PEM private key");
    else if (SSL_CTX_check_private_key(ctx) != 1)
        rc = ctx_fail(err, err_cap, key, "the private key does not match the certificate");
    if (rc == 0 && opts->client_ca_file != NULL) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(opts->client_ca_file);
        if (SSL_CTX_load_verify_locations(ctx, opts->client_ca_file, NULL) != 1 || names == NULL) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            rc = ctx_fail(err, err_cap, opts->client_ca_file, "not a PEM CA certificate");
        } else {
            SSL_CTX_set_client_CA_list(ctx, names); /* takes 'names' */
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
    }
    if (rc != 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    struct tls_ctx *t = xcalloc(1, sizeof(*t));
    t->ssl_ctx = ctx;
    *out = t;
    return 0;
}

void tls_ctx_free(struct tls_ctx *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ssl_ctx); /* sessions still open hold their own references */
    free(t);
}

struct tls_conn *tls_conn_new(struct tls_ctx *t)
{
    struct tls_conn *tc = xcalloc(1, sizeof(*tc));
    tc->ssl = SSL_new(t->ssl_ctx);
    tc->rbio = BIO_new(BIO_s_mem());
    tc->wbio = BIO_new(BIO_s_mem());
    /* OpenSSL fails these only without memory: as with xmalloc, that is a sick host. */
    IWR_ASSERT(tc->ssl != NULL && tc->rbio != NULL && tc->wbio != NULL);
    /* An empty read BIO means "wait for more", not end of file. */
    BIO_set_mem_eof_return(tc->rbio, -1);
    BIO_set_mem_eof_return(tc->wbio, -1);
    SSL_set_bio(tc->ssl, tc->rbio, tc->wbio); /* takes both */
    SSL_set_accept_state(tc->ssl);
    return tc;
}

void tls_conn_free(struct tls_conn *tc)
{
    if (tc == NULL)
        return;
    SSL_free(tc->ssl);
    free(tc);
}

void tls_conn_feed(struct tls_conn *tc, const char *data, size_t len)
{
    /* A memory BIO grows to take everything; the caller bounds how much it reads before the
     * plaintext is consumed. */
    while (len > 0) {
        int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
        int n = BIO_write(tc->rbio, data, chunk);
        IWR_ASSERT(n > 0); /* a memory BIO refuses only without memory */
        data += n;
        len -= (size_t)n;
    }
}

static int session_error(struct tls_conn *tc, int ret)
{
    int e = SSL_get_error(tc->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return TLS_WANT;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return TLS_CLOSED;
    }
    if (e == SSL_ERROR_SSL) {
        long v = SSL_get_verify_result(tc->ssl);
        ssl_reason(tc->why, sizeof(tc->why));
        if (v != X509_V_OK) {
            size_t l = strlen(tc->why);
            snprintf(tc->why + l, sizeof(tc->why) - l, ": %s", X509_verify_cert_error_string(v));
        }
    } else {
        snprintf(tc->why, sizeof(tc->why), "TLS session error %d", e);
        ERR_clear_error();
    }
    return TLS_FAILED;
}

int tls_conn_read(struct tls_conn *tc, char *out, size_t cap)
{
    int chunk = cap > (1u << 30) ? 1 << 30 : (int)cap;
    ERR_clear_error();
    int n = SSL_read(tc->ssl, out, chunk);
    return n > 0 ? n : session_error(tc, n);
}

int tls_conn_write(struct tls_conn *tc, const char *data, size_t len)
{
    if (tc->shut)
        return TLS_CLOSED;
    ERR_clear_error();
    while (len > 0) {
        int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
        int n = SSL_write(tc->ssl, data, chunk);
        if (n <= 0) {
            session_error(tc, n);
            return TLS_FAILED;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

void tls_conn_shutdown(struct tls_conn *tc)
{
    if (tc->shut || !SSL_is_init_finished(tc->ssl))
        return;
    tc->shut = 1;
    ERR_clear_error();
    SSL_shutdown(tc->ssl); /* sends ours; the peer's is not waited for */
    ERR_clear_error();
}

size_t tls_conn_pending(const struct tls_conn *tc)
{
    return BIO_ctrl_pending(tc->wbio);
}

void tls_conn_take(struct tls_conn *tc, char *out, size_t len)
{
    IWR_ASSERT(len <= BIO_ctrl_pending(tc->wbio) && len <= INT_MAX);
    int got = len > 0 ? BIO_read(tc->wbio, out, (int)len) : 0;
    IWR_ASSERT(got == (int)len);
}

int tls_conn_established(const struct tls_conn *tc)
{
    return SSL_is_init_finished(tc->ssl);
}

const char *tls_conn_why(const struct tls_conn *tc)
{
    return tc->why[0] ? tc->why : "TLS error";
}
