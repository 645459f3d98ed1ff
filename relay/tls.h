/* TLS for the relay's HTTP listeners: OpenSSL over memory BIOs, so that the libuv loop does all
 * socket I/O and nothing here ever blocks. A struct tls_ctx is one listener's certificate, key
 * and optional client CA; a struct tls_conn is one connection's session. The connection code
 * (http.c) feeds it the ciphertext it read and sends the ciphertext it drains; plain listeners
 * have no tls_conn at all. Loop thread only, except tls_ctx_new and tls_ctx_free (any thread,
 * one at a time). */
#ifndef IWR_TLS_H
#define IWR_TLS_H

#include "relay/relay.h"

#include <stddef.h>

struct tls_ctx;
struct tls_conn;

/* Load the certificate chain, the key (from opts->cert_file when key_file is NULL), check that
 * they match, and the client CA when given (then a client must present a certificate it
 * signed). 0, or IWR_EINVAL with "FILE: reason" in 'err' (one line). 'opts' is borrowed. */
int tls_ctx_new(struct tls_ctx **out, const struct relay_tls *opts, char *err, size_t err_cap);
/* Drop the caller's reference: sessions made from it keep it alive until they end, so a
 * reload can swap contexts under open connections. NULL is fine. */
void tls_ctx_free(struct tls_ctx *t);

/* A server session on 't' (which it references). Never NULL (allocation failure aborts). */
struct tls_conn *tls_conn_new(struct tls_ctx *t);
void tls_conn_free(struct tls_conn *tc);

/* Results of tls_conn_read. */
enum { TLS_WANT = 0, TLS_FAILED = -1, TLS_CLOSED = -2 };

/* Hand over 'len' bytes of ciphertext read from the socket (copied). */
void tls_conn_feed(struct tls_conn *tc, const char *data, size_t len);
/* Run the handshake and decrypt: > 0 bytes of plaintext in 'out'; TLS_WANT when more
 * ciphertext is needed; TLS_CLOSED on the peer's close_notify; TLS_FAILED on a protocol or
 * certificate error (the reason via tls_conn_why; an alert may wait in the output). Any call
 * may leave ciphertext to send: drain it with tls_conn_take after each. */
int tls_conn_read(struct tls_conn *tc, char *out, size_t cap);
/* Encrypt 'len' bytes of plaintext into the output. 0; TLS_CLOSED after tls_conn_shutdown
 * (nothing can follow a close_notify: the bytes are dropped); or TLS_FAILED (the session is
 * unusable: close the connection). Only after the handshake. */
int tls_conn_write(struct tls_conn *tc, const char *data, size_t len);
/* Queue a close_notify (once; a no-op before the handshake completed). */
void tls_conn_shutdown(struct tls_conn *tc);
/* How many bytes of ciphertext wait to be sent. */
size_t tls_conn_pending(const struct tls_conn *tc);
/* Move the first 'len' (at most tls_conn_pending) bytes of it into 'out'. */
void tls_conn_take(struct tls_conn *tc, char *out, size_t len);
/* 1 once the handshake completed. */
int tls_conn_established(const struct tls_conn *tc);
/* Why the last TLS_FAILED happened (static or owned by 'tc'; never NULL). */
const char *tls_conn_why(const struct tls_conn *tc);

#endif
