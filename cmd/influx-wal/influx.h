/* The CLI's client of an influxd's HTTP API and the backends it talks to, shared by audit,
 * scrub and rebuild: backends resolved by name (backends.c), /query answers read chunked and
 * handed over one statement result at a time, /write (query.c). One thread; libcurl easy, one
 * blocking request at a time. */
#ifndef IWR_INFLUX_H
#define IWR_INFLUX_H

#include "cmd/influx-wal/cli.h"

#include "common/buf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A backend as the CLI reaches it: the daemon's settings for it by name, or a URL given with
 * --url NAME=URL. Owns its strings (cli_backend_deinit). */
struct cli_backend {
    char name[WAL_NAME_MAX + 1];
    char *url;                 /* base URL, trailing slashes removed; may hold user:password@ */
    char *username, *password; /* NULL: none (Basic auth) */
    char *token;               /* NULL: none ("Authorization: Token ..."; wins over u/p) */
    char *ca_file;             /* NULL: system CAs */
    int insecure_skip_verify;
    uint64_t timeout_ms; /* one request; 0: 60 s */
    const char *from;    /* what it came from, for messages: "--url" or the config path */
};

/* Remove every "OPT VALUE" from cli->argv and put the values in vals (at most 'max'), so that
 * cli_parse sees the rest; for options given several times (--url, --backend). 0, or 2 after a
 * usage message (a missing value, more than 'max'). backends.c. */
int cli_take_all(struct cli *cli, const char *opt, const char **vals, size_t max, size_t *n);

/* Find backend 'name': first among 'urls' ("NAME=URL" each, from --url; checked as cli_url
 * checks), else in the daemon's config: 'config_path', or when NULL the packaged config if it
 * is readable. Credentials, CA file, TLS check and timeout come from the config; a --url
 * carries only what its URL holds. 0; 2 after a usage message (a bad --url); 1 after a message:
 * "no backend 'x' in FILE and no --url x=...", or a config that does not load. Fills 'out';
 * the caller frees it with cli_backend_deinit. backends.c. */
int cli_backend_resolve(struct cli *cli, const char *config_path, const char *const *urls,
                        size_t n_urls, const char *name, struct cli_backend *out);
void cli_backend_deinit(struct cli_backend *b);

struct influx;

/* A client of backend 'b' (borrowed for the client's life). 0, or 1 after a message. */
int influx_open(struct cli *cli, const struct cli_backend *b, struct influx **out);
void influx_close(struct influx *c);
/* Called with each statement result of the answer ({"statement_id":..,"series":[..]} or
 * {"error":..}), chunk by chunk: a long answer is never held whole. Returns 0 to go on, or a
 * value that stops the transfer and is returned by influx_query. */
typedef int influx_result_fn(void *arg, const json_t *result);
/* POST 'q' to /query with db (NULL: none), epoch=ns and chunked=true. 0, fn's value, or 1 after
 * a message (transport error, HTTP status not 200, an answer that is not JSON or has a
 * top-level "error"). */
int influx_query(struct influx *c, const char *db, const char *q, influx_result_fn *fn, void *arg);
/* POST line protocol (ns timestamps) to /write?db=&rp= (rp NULL or "": the default). 0, or 1
 * after a message with influxd's answer. */
int influx_write(struct influx *c, const char *db, const char *rp, const char *body, size_t len);
/* The backend's name, and its URL without user:password@ (url_display), for messages. */
const char *influx_name(const struct influx *c);
const char *influx_shown(const struct influx *c);

/* An InfluxQL identifier in double quotes; an InfluxQL string in single quotes. */
void influx_quote_ident(struct buf *b, const char *s);
void influx_quote_string(struct buf *b, const char *s);
/* The string value of o[key], or NULL. */
const char *influx_str_at(const json_t *o, const char *key);

/* Whether statement result 'res' of a query on 'c' is an error: 0 when it is not (read it).
 * Else 1, and *rc is what the result callback returns: 0 when the error says "not found" (no
 * such database, retention policy or measurement on this side: nothing there), else 1 after
 * the message "NAME: ERROR". */
int influx_result_error(const struct influx *c, const json_t *res, int *rc);
/* Each row of each series of statement result 'res' whose first column is a string (a name, as
 * SHOW statements answer them) to 'fn', with that string. Stops at fn's first non-zero value
 * and returns it; 0 otherwise. */
typedef int influx_row_fn(void *arg, const json_t *row, const char *first);
int influx_rows(const json_t *res, influx_row_fn *fn, void *arg);

/* CREATE DATABASE 'db' on 'c'; CREATE RETENTION POLICY 'rp' ON 'db' with the durations as SHOW
 * RETENTION POLICIES gives them (Go's "168h0m0s"; 0: infinite), replication 1, DEFAULT when
 * 'is_default'. influxd keeps a database or policy that exists; an error inside the answer
 * (a policy that exists with other settings) is not looked at: the writes that follow tell.
 * 0, or 1 after a message. */
int influx_create_database(struct influx *c, const char *db);
int influx_create_rp(struct influx *c, const char *db, const char *rp, const char *duration,
                     const char *shard_duration, int is_default);

#endif
