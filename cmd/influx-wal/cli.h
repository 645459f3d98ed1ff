/* The CLI's shared pieces: the command table, option parsing, messages and opening the log. */
#ifndef IWR_CLI_H
#define IWR_CLI_H

#include "wal/wal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct cli;

struct cli_command {
    const char *name;
    int (*run)(struct cli *cli);
    const char *usage;
    const char *help;
};

struct cli {
    const struct cli_command *cmd;
    const char *data_dir;
    const char **data_dirs; /* every --data-dir given, in order (data_dir is the last); n 0:
                             * none given, data_dir is the default */
    size_t n_data_dirs;
    int argc;
    char **argv; /* the command's own arguments, --data-dir removed */
};

/* One option of a command: "--name" with a value (val) or a flag (flag). */
struct cli_opt {
    const char *name;
    const char **val;
    int *flag;
};

/* Fill the options from cli->argv; positional arguments go to pos (at most max_pos).
 * 0, or 2 after a usage message. */
int cli_parse(struct cli *cli, const struct cli_opt *opts, const char **pos, size_t max_pos,
              size_t *n_pos);
/* A sequence number; 0 or 2 after a usage message. */
int cli_seq(struct cli *cli, const char *what, const char *s, uint64_t *out);
/* A time: RFC 3339 UTC ("2026-11-25T10:00:00Z"), a duration ago ("90m", "2h"), or Unix ns.
 * 0 or 2 after a usage message. */
int cli_time(struct cli *cli, const char *what, const char *s, uint64_t *out_ns);
/* 'url' for option 'opt' is a backend URL the daemon would take (config_url_why: http or
 * https, a host, a valid port, no query or fragment) of at most 200 bytes. 0, or 2 after a
 * usage message with the reason. url.c. */
int cli_url(struct cli *cli, const char *opt, const char *url);

/* Visit the records in (after, to] (to 0: to the end) that 'backend' gets (no target, or its
 * own; backend NULL: every record), in bounded read transactions. 'fn' returns 0 to go on, or
 * a value that stops the scan and is returned. Corrupt records are skipped, counted in
 * *corrupt (may be NULL) and, with 'say' (a command name), named on stderr. 0, fn's value, or
 * a negative error. */
typedef int cli_visit_fn(void *arg, const struct wal_record *rec);
int cli_scan(struct wal *w, const char *backend, uint64_t after, uint64_t to, cli_visit_fn *fn,
             void *arg, uint64_t *corrupt, const char *say);

/* A statement record (WAL_REC_STATEMENT) for display: "# statement seq=N db=D rp=R: TEXT"
 * with its passwords masked (iql_redact) and each further line of TEXT as a "# " line, so
 * that the output stays line protocol with comments. Never print a statement's body raw. */
void cli_print_statement(FILE *f, const struct wal_record *rec);
/* A record's body as shown: line protocol as stored, a statement as above. 0 or -1 (write
 * failed). */
int cli_print_body(FILE *f, const struct wal_record *rec);

int cli_usage(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Open the log: read-only, or as a writer next to the daemon. 0 or 1 after a message. */
int cli_open(const struct cli *cli, int write, struct wal **w);

int cmd_status(struct cli *cli);
int cmd_cat(struct cli *cli);
int cmd_export(struct cli *cli);
int cmd_replay(struct cli *cli);
int cmd_rewind(struct cli *cli);
int cmd_skip(struct cli *cli);
int cmd_dead(struct cli *cli);
int cmd_verify(struct cli *cli);
int cmd_audit(struct cli *cli);
int cmd_compact(struct cli *cli);
int cmd_scrub(struct cli *cli);
int cmd_rebuild(struct cli *cli);
int cmd_reshard(struct cli *cli);

#endif
