/* influx-wal: the operator's CLI over a log directory, also while the daemon runs (LMDB readers
 * in another process; writes take LMDB's writer lock). This file parses the command line and
 * dispatches; the subcommands are in the files next to it, the work in wal/ and replay/.
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 bad usage. */
#include "cmd/influx-wal/cli.h"

#include "common/err.h"
#include "common/log.h"
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PACKAGED_CONFIG "/etc/influx-wal-relay/relay.toml"

static const struct cli_command commands[] = {
    {"status", cmd_status, "status [--json] [--config FILE]", "the log's bounds and size; each backend's kind (v1, v2, v3; from the config), cursor, lag and dead letters"},
    {"cat", cmd_cat, "cat [--from SEQ] [--to SEQ] [--backend NAME] [--headers]", "records as line protocol"},
    {"export", cmd_export, "export --backend NAME --output FILE [--from SEQ] [--to SEQ]", "a backlog as a file `influx -import` loads"},
    {"replay", cmd_replay, "replay --backend NAME --to URL [--config FILE] [--from SEQ] [--to-seq SEQ] [--timeout SEC] [--dry-run]",
     "send a backlog or range to any InfluxDB\n"
     "Sends the records of backend NAME (those for every backend or requeued for NAME) after its\n"
     "cursor, or --from SEQ, through --to-seq SEQ or the log's last sequence, to URL, with the\n"
     "daemon's batching, retries and splitting of refused batches. NAME's cursor does not move\n"
     "and nothing is written to the log (it is opened read-only). A database URL lacks is\n"
     "created. Credentials: http://user:password@host:8086. Lines URL refuses are shown on\n"
     "stderr. --dry-run shows the records, points and bytes per database and retention policy\n"
     "instead. Exit 0 once everything was acknowledged, 1 when lines were refused or --timeout\n"
     "(default 300 s) ran out; run it again to resend: a resent point overwrites itself.\n"
     "Timeouts, batch sizes, batches in flight, the retry cap, gzip and TLS settings are NAME's\n"
     "in the daemon's --config FILE when given (its credentials are not sent to URL), else the\n"
     "daemon's built-in defaults."},
    {"rewind", cmd_rewind, "rewind --backend NAME (--to SEQ | --since TIME)", "move a cursor back: the backend gets those records again"},
    {"skip", cmd_skip, "skip --backend NAME --to SEQ --yes", "move a cursor forward: the backend never gets the records skipped"},
    {"dead", cmd_dead, "dead list|requeue|purge [--backend NAME] [--lines] [--yes]", "lines backends refused"},
    {"verify", cmd_verify, "verify", "checksums, sequence continuity, cursors within bounds"},
    {"audit", cmd_audit, "audit --backend NAME --url URL [--since TIME]",
     "compare what the log holds with what the backend has, per hour\n"
     "For the records backend NAME acknowledged that the log still holds (a retain window keeps\n"
     "them), counts per database, retention policy, measurement and hour the points of each\n"
     "field, and compares with SELECT count(*) ... GROUP BY time(1h) on URL. Lists the windows\n"
     "where URL has fewer points with the sequences to resend (replay --from --to-seq). Points\n"
     "overwritten by a later write of the same series and timestamp are one point on the\n"
     "backend but several lines in the log: they are counted once (the output says how many);\n"
     "an overwrite the log does not hold cannot be seen. More points on the backend (other\n"
     "relays, records already trimmed, direct writes) are listed but are no loss. Lines in\n"
     "NAME's dead letters are not expected. --since TIME: only points from that hour on.\n"
     "Exit 0 when no window has fewer points on the backend, 1 otherwise."},
    {"compact", cmd_compact, "compact --output DIR", "a compacted copy of the log"},
    {"scrub", cmd_scrub,
     "scrub --backend A --backend B [--config FILE] [--url NAME=URL]... [--database DB] "
     "[--since TIME] [--until TIME] [--json] [--repair]",
     "prove two mirrored backends hold the same data, per hour\n"
     "Compares A and B per database, retention policy, measurement, field and hour: the count\n"
     "of points, and for float and integer fields their sum (string and boolean fields: the\n"
     "count). The schema (SHOW DATABASES, RETENTION POLICIES, MEASUREMENTS, FIELD KEYS) is read\n"
     "on both sides; a database, retention policy, measurement or field on one side only is a\n"
     "difference. Default range: all time; --since/--until TIME narrow it. Windows whose points\n"
     "the log (--data-dir, repeatable: every relay's log) still holds for A or B, not yet\n"
     "acknowledged, are in flight: listed, not differences. Backends are found by name: --url\n"
     "NAME=URL, else the [[backend]] of that name in --config FILE (default the packaged\n"
     "config), with its credentials. --repair copies each differing window from the side that\n"
     "holds every point of the other (same series, time and value) to the other, and refuses\n"
     "a window where neither does. Exit 0 when they agree (or every difference was repaired),\n"
     "1 when not."},
    {"rebuild", cmd_rebuild,
     "rebuild --backend NAME --from NAME [--config FILE] [--url NAME=URL]... [--relay URL]... "
     "[--from-rpc HOST:PORT] [--rpc HOST:PORT] [--state-dir DIR] [--influxd PATH]",
     "make an empty backend hold what another holds, while writes flow\n"
     "Checks that the source answers and the target holds no database but _internal (else exit\n"
     "1), tells every relay (--relay URL, repeatable; default the daemon's listen address from\n"
     "its config) to pause the target's sender and hold its cursor at the source's position,\n"
     "copies the source with influxd backup -portable and influxd restore -portable (the RPC\n"
     "addresses: --from-rpc/--rpc, default the URL's host with port 8088), tells the relays to\n"
     "resume the target after that position, and verifies once it caught up: retention\n"
     "policies, measurements, field keys and field counts equal. Interrupted, the same command\n"
     "continues (state in --state-dir, default DATA_DIR/rebuild/NAME, which also holds the\n"
     "backup: put it where there is room for a copy of the source). Exit 0 when done and\n"
     "equal, 1 on an error."},
    {"reshard", cmd_reshard,
     "reshard (--plan | --apply) --config FILE [--relay URL]... [--url NAME=URL]... [--json] "
     "[--keep-old] [--timeout SEC]",
     "move the measurements a shard added to the config takes, while writes flow\n"
     "The relays (--relay URL, repeatable: name every relay; default the daemon's listen\n"
     "address) route with a ring over their active shards; the target ring is over every\n"
     "[[shard]] in --config FILE. --plan prints each measurement that moves, one line each:\n"
     "\"move db=D measurement=M from=S to=T points=N\" (N: SELECT count(*) on a backend of S\n"
     "that is caught up on every relay, the largest count of any field, default retention\n"
     "policy), then \"plan active=.. target=.. measurements=K points=P\"; --json one object.\n"
     "--apply copies them into every backend of the new shard, switches every relay to the\n"
     "new ring, waits until every relay's senders for the old shards passed the switch, copies\n"
     "what reached the old shard before it, checks that the new shard lacks nothing the old one\n"
     "has (a value the new shard holds is never overwritten), then deletes the moved\n"
     "measurements from the old shard through the first relay's log (not with --keep-old).\n"
     "Interrupted, --apply again resumes (state in FILE.reshard). --timeout SEC (default 300)\n"
     "bounds each wait. Exit 0 when done, 1 on an error."},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: influx-wal COMMAND [--data-dir DIR] [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %.*s\n", commands[i].name, (int)strcspn(commands[i].help, "\n"),
                commands[i].help);
    fprintf(f, "\n--data-dir defaults to the data dir of %s, else ./data.\n"
               "influx-wal COMMAND --help shows a command's options.\n",
            PACKAGED_CONFIG);
}

/* The packaged config's data dir when it is readable, else ./data. */
static const char *default_data_dir(char *buf, size_t cap)
{
    if (access(PACKAGED_CONFIG, R_OK) == 0) {
        struct config c;
        char err[256];
        config_defaults(&c);
        if (config_load_file(&c, PACKAGED_CONFIG, err, sizeof(err)) == 0 && c.data_dir) {
            snprintf(buf, cap, "%s", c.data_dir);
            config_deinit(&c);
            return buf;
        }
        config_deinit(&c);
    }
    return "./data";
}

int main(int argc, char **argv)
{
    log_set_level(LOG_ERROR);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("influx-wal %s\n", IWR_VERSION);
        return 0;
    }
    const struct cli_command *cmd = NULL;
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (cmd == NULL) {
        fprintf(stderr, "influx-wal: unknown command '%s'; valid commands:", argv[1]);
        for (size_t i = 0; i < N_COMMANDS; i++)
            fprintf(stderr, " %s", commands[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    struct cli cli = {0};
    cli.cmd = cmd;
    char dirbuf[4096];
    /* Pull --data-dir and --help out; the rest is the command's. */
    cli.argv = calloc((size_t)argc, sizeof(char *));
    cli.data_dirs = calloc((size_t)argc, sizeof(char *));
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: influx-wal %s [--data-dir DIR]\n%s\n", cmd->usage, cmd->help);
            free(cli.argv);
            free(cli.data_dirs);
            return 0;
        }
        if (strcmp(argv[i], "--data-dir") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "influx-wal: --data-dir needs a directory\n");
                free(cli.argv);
                free(cli.data_dirs);
                return 2;
            }
            cli.data_dir = argv[++i];
            cli.data_dirs[cli.n_data_dirs++] = cli.data_dir;
            continue;
        }
        cli.argv[cli.argc++] = argv[i];
    }
    if (cli.data_dir == NULL)
        cli.data_dir = default_data_dir(dirbuf, sizeof(dirbuf));
    int rc = cmd->run(&cli);
    free(cli.argv);
    free(cli.data_dirs);
    return rc;
}

/* ---- helpers the commands share ------------------------------------------------------------ */

int cli_usage(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "influx-wal %s: ", cli->cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nusage: influx-wal %s\n", cli->cmd->usage);
    va_end(ap);
    return 2;
}

int cli_fail(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "influx-wal %s: ", cli->cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

int cli_open(const struct cli *cli, int write, struct wal **w)
{
    struct wal_options o = {0};
    o.dir = cli->data_dir;
    o.readonly = !write;
    o.adopt = write;
    /* The log would add its own line for a failed open: the message below is the one. */
    log_set_level(LOG_OFF);
    int rc = wal_open(w, &o);
    log_set_level(LOG_ERROR);
    if (rc == -ENOENT)
        return cli_fail(cli, "no log in %s (is --data-dir right?)", cli->data_dir);
    if (rc == -EACCES)
        return cli_fail(cli, "%s: permission denied", cli->data_dir);
    if (rc == IWR_ECORRUPT)
        return cli_fail(cli, "%s/data.mdb is not a log or is damaged beyond opening",
                        cli->data_dir);
    if (rc != 0)
        return cli_fail(cli, "cannot open the log in %s: %s", cli->data_dir, iwr_strerror(rc));
    return 0;
}
