/* A client's read passed on to a 2.x or 3.x backend without the client's credentials
 * (relay/query_creds.c): the relay checks them itself and the backend gets its own token, so
 * what the client sent for the relay (u and p, an Authorization header) is left out. Pure: no
 * I/O, no globals; any thread. */
#ifndef IWR_QUERY_CREDS_H
#define IWR_QUERY_CREDS_H

#include "common/buf.h"

#include <stddef.h>

/* Append to 'out' the "&"-separated parameters s[0, len) without those named u or p (a name
 * compared as sent, before any %-decoding, as 1.x reads them), in their order, joined by "&";
 * empty pieces are dropped. Returns how many were left out. */
size_t qc_drop_credentials(const char *s, size_t len, struct buf *out);

/* Append to 'out' the request target t[0, len) ("path" or "path?query") with
 * qc_drop_credentials applied to its query; no "?" when nothing is left of it. Returns how many
 * parameters were left out. */
size_t qc_target_without_credentials(const char *t, size_t len, struct buf *out);

/* Append to 'out' the header block h[0, len) ("Name: value\r\n" each) without the lines whose
 * name is 'name' (case-insensitive). A last line without "\r\n" is kept as it is. */
void qc_drop_header(const char *h, size_t len, const char *name, struct buf *out);

#endif
