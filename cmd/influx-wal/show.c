/* The CLI's read commands: status, cat, export, verify, compact. Each opens the log read-only,
 * so it works on a live daemon's directory and never blocks its writes. */
#include "cmd/influx-wal/cli.h"

#include "common/buf.h"
#include "common/err.h"
#include "config/config.h"
#include "relay/shard_split.h"
#include "replay/generation.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PACKAGED_CONFIG "/etc/influx-wal-relay/relay.toml"

static void human_bytes(char *out, size_t cap, uint64_t b)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    size_t u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, cap, "%" PRIu64 " B", b);
    else
        snprintf(out, cap, "%.1f %s", v, units[u]);
}

static void json_str(FILE *f, const char *s)
{
    struct buf b;
    buf_init(&b);
    buf_append_json_str(&b, s, strlen(s));
    fprintf(f, "\"%.*s\"", (int)b.len, b.data ? b.data : "");
    buf_deinit(&b);
}

/* A backend's rebuild as its state in the log says (replay/rebuild.c writes it: "rebuild
 * from=A seq=P started_ns=T lost=0|1"). 1 when it is being rebuilt. */
struct rebuild_state {
    char from[WAL_NAME_MAX + 1];
    uint64_t seq;
    int lost;
};

static int rebuild_state(struct wal_reader *r, const char *name, struct rebuild_state *out)
{
    char text[WAL_STATE_MAX + 1];
    uint64_t started = 0;
    memset(out, 0, sizeof(*out));
    if (r == NULL || wal_reader_state(r, name, text, sizeof(text)) != 0)
        return 0;
    return sscanf(text, "rebuild from=%64s seq=%" SCNu64 " started_ns=%" SCNu64 " lost=%d",
                  out->from, &out->seq, &started, &out->lost) == 4;
}

/* The active shards as the log's state says (relay/shard_active.c), and the configured ones
 * that are not among them; printed as JSON ("shards":{...},) or as a line. Nothing when the
 * log has no such state. */
static void shards_state(struct wal_reader *r, const struct config *c, int loaded, int json)
{
    char text[WAL_STATE_MAX + 1];
    if (r == NULL || wal_reader_state(r, SHARD_ACTIVE_STATE, text, sizeof(text)) != 0 ||
        strncmp(text, "active=", 7) != 0)
        return;
    char *names = text + 7, *sp = strchr(names, ' ');
    uint64_t seq = 0;
    if (sp != NULL) {
        *sp = '\0';
        sscanf(sp + 1, "seq=%" SCNu64, &seq);
    }
    struct buf pending;
    buf_init(&pending);
    for (size_t i = 0; loaded && i < c->n_shards; i++) {
        int found = 0;
        for (char *p = names; *p != '\0' && !found;) {
            size_t n = strcspn(p, ",");
            found = n == strlen(c->shards[i].name) && strncmp(p, c->shards[i].name, n) == 0;
            p += n + (p[n] == ',');
        }
        if (!found) {
            if (pending.len > 0)
                buf_append_str(&pending, ",");
            buf_append_str(&pending, c->shards[i].name);
        }
    }
    buf_reserve(&pending, 1)[0] = '\0'; /* a C string below */
    if (json) {
        printf("\"shards\":{\"active\":[");
        for (char *p = names; *p != '\0';) {
            size_t n = strcspn(p, ",");
            printf("%s\"%.*s\"", p == names ? "" : ",", (int)n, p);
            p += n + (p[n] == ',');
        }
        printf("],\"pending\":[");
        for (const char *p = pending.data; p != NULL && *p != '\0';) {
            size_t n = strcspn(p, ",");
            printf("%s\"%.*s\"", p == pending.data ? "" : ",", (int)n, p);
            p += n + (p[n] == ',');
        }
        printf("],\"switch_seq\":%" PRIu64 "},", seq);
    } else {
        printf("shards      active %s", names);
        if (pending.len > 0)
            printf("; pending %s (no keys until `influx-wal reshard --apply`)", pending.data);
        if (seq > 0)
            printf("; switched at sequence %" PRIu64, seq);
        printf("\n");
    }
    buf_deinit(&pending);
}

/* The options (no positional arguments), then the log read-only: 0, or the exit status after
 * the message. */
static int parse_and_open(struct cli *cli, const struct cli_opt *opts, struct wal **w)
{
    int rc = cli_parse(cli, opts, NULL, 0, NULL);
    return rc != 0 ? rc : cli_open(cli, 0, w);
}

/* Each backend's kind (its api) as the daemon's config says: --config FILE, else the packaged
 * config when readable. 0, or the exit status after the message (a --config that does not
 * load); *loaded 0 when there was no config to read. */
static int status_config(struct cli *cli, const char *path, struct config *c, int *loaded)
{
    *loaded = 0;
    config_defaults(c);
    if (path == NULL && access(PACKAGED_CONFIG, R_OK) == 0)
        path = PACKAGED_CONFIG;
    if (path == NULL)
        return 0;
    char err[512];
    if (config_load_file(c, path, err, sizeof(err)) != 0) {
        config_deinit(c);
        config_defaults(c);
        return cli_fail(cli, "%s", err);
    }
    *loaded = 1;
    return 0;
}

/* "v1", "v2", "v3", or NULL for a backend the config does not name. */
static const char *status_kind(const struct config *c, int loaded, const char *name)
{
    const struct replay_backend_opts *b = loaded ? config_find_backend(c, name) : NULL;
    return b != NULL ? replay_api_name(b->api) : NULL;
}

int cmd_status(struct cli *cli)
{
    int json = 0;
    const char *config_path = NULL;
    const struct cli_opt opts[] = {
        {"--json", NULL, &json}, {"--config", &config_path, NULL}, {NULL, NULL, NULL}};
    struct wal *w = NULL;
    int rc = parse_and_open(cli, opts, &w);
    if (rc != 0)
        return rc;
    struct config cfg;
    int loaded = 0;
    rc = status_config(cli, config_path, &cfg, &loaded);
    if (rc != 0) {
        config_deinit(&cfg);
        wal_close(w);
        return rc;
    }
    struct wal_stats st;
    struct wal_cursor_info *ci = NULL;
    size_t n = 0;
    rc = wal_stats(w, &st, &ci, &n);
    if (rc != 0) {
        config_deinit(&cfg);
        wal_close(w);
        return cli_fail(cli, "cannot read the log: %s", iwr_strerror(rc));
    }
    struct wal_reader *rd = NULL;
    if (wal_reader_new(w, &rd) != 0 || wal_reader_begin(rd) != 0) {
        wal_reader_free(rd);
        rd = NULL;
    }
    struct rebuild_state rs;
    if (json) {
        printf("{\"wal\":{\"dir\":");
        json_str(stdout, cli->data_dir);
        printf(",\"first_sequence\":%" PRIu64 ",\"last_sequence\":%" PRIu64
               ",\"records\":%" PRIu64 ",\"bytes\":%zu,\"file_bytes\":%zu,\"limit_bytes\":%zu"
               ",\"dropped_records\":%" PRIu64 ",\"dead_letters\":%" PRIu64 "},",
               st.first_seq, st.last_seq, st.records, st.log_bytes, st.file_bytes, st.max_bytes,
               st.dropped_records, st.dead_letters);
        shards_state(rd, &cfg, loaded, 1);
        printf("\"backends\":[");
        for (size_t i = 0; i < n; i++) {
            printf("%s{\"name\":", i ? "," : "");
            json_str(stdout, ci[i].name);
            const char *kind = status_kind(&cfg, loaded, ci[i].name);
            printf(",\"kind\":");
            if (kind != NULL)
                json_str(stdout, kind);
            else
                printf("null");
            printf(",\"cursor\":%" PRIu64 ",\"lag_records\":%" PRIu64 ",\"lag_bytes\":%" PRIu64
                   ",\"lag_seconds\":%.3f,\"dead_letters\":%" PRIu64,
                   ci[i].seq, ci[i].lag_records, ci[i].lag_bytes, (double)ci[i].lag_ns / 1e9,
                   ci[i].dead_letters);
            int rb = rebuild_state(rd, ci[i].name, &rs);
            printf(",\"rebuilding\":%s", rb ? "true" : "false");
            if (rb) {
                printf(",\"rebuild\":{\"from\":");
                json_str(stdout, rs.from);
                printf(",\"from_seq\":%" PRIu64 ",\"start_point_lost\":%s}", rs.seq,
                       rs.lost ? "true" : "false");
            }
            printf("}");
        }
        printf("]}\n");
    } else {
        char used[32], limit[32], file[32];
        human_bytes(used, sizeof(used), st.log_bytes);
        human_bytes(limit, sizeof(limit), st.max_bytes);
        human_bytes(file, sizeof(file), st.file_bytes);
        printf("log %s\n", cli->data_dir);
        if (st.records > 0)
            printf("  records   %" PRIu64 " (sequences %" PRIu64 "..%" PRIu64 ")\n", st.records,
                   st.first_seq, st.first_seq + st.records - 1);
        else
            printf("  records   0\n");
        printf("  highest   %" PRIu64 "\n", st.last_seq);
        printf("  size      %s of %s limit (%.1f%%), file %s\n", used, limit,
               st.max_bytes ? 100.0 * (double)st.log_bytes / (double)st.max_bytes : 0.0, file);
        printf("  dropped   %" PRIu64 " records (drop-oldest)\n", st.dropped_records);
        printf("  dead      %" PRIu64 " letters\n", st.dead_letters);
        shards_state(rd, &cfg, loaded, 0);
        printf("backends    %zu\n", n);
        for (size_t i = 0; i < n; i++) {
            char lag[32];
            human_bytes(lag, sizeof(lag), ci[i].lag_bytes);
            /* The kind only when the config names the backend: the line is as before else. */
            const char *kind = status_kind(&cfg, loaded, ci[i].name);
            char named[WAL_NAME_MAX + 8];
            snprintf(named, sizeof(named), "%-16s%s%s", ci[i].name, kind != NULL ? " " : "",
                     kind != NULL ? kind : "");
            printf("  %-16s cursor %" PRIu64 "  lag %" PRIu64 " records, %s, %.1f s  dead %" PRIu64
                   "\n",
                   named, ci[i].seq, ci[i].lag_records, lag, (double)ci[i].lag_ns / 1e9,
                   ci[i].dead_letters);
            if (rebuild_state(rd, ci[i].name, &rs))
                printf("  %-16s rebuilding from %s since sequence %" PRIu64 "%s\n", "", rs.from,
                       rs.seq, rs.lost ? " (start point lost: run the rebuild again)" : "");
        }
    }
    if (rd != NULL)
        wal_reader_end(rd);
    wal_reader_free(rd);
    free(ci);
    config_deinit(&cfg);
    wal_close(w);
    return 0;
}

/* Visit the records in [from, to] (to 0: the end) that 'backend' (NULL: any) should get,
 * starting after its cursor when 'backend' is set and 'from' is 0. */
static int visit(struct cli *cli, struct wal *w, const char *backend, uint64_t from, uint64_t to,
                 cli_visit_fn *fn, void *arg)
{
    uint64_t after = from > 0 ? from - 1 : 0;
    int rc = 0;
    if (backend != NULL && from == 0) {
        struct wal_reader *r;
        wal_reader_new(w, &r);
        rc = wal_reader_begin(r);
        if (rc == 0)
            rc = wal_reader_cursor(r, backend, &after);
        wal_reader_end(r);
        wal_reader_free(r);
        if (rc == IWR_ENOTFOUND)
            return cli_fail(cli, "no backend '%s' in this log", backend);
    }
    if (rc == 0)
        rc = cli_scan(w, backend, after, to, fn, arg, NULL, cli->cmd->name);
    if (rc > 0)
        return rc;
    if (rc != 0)
        return cli_fail(cli, "reading the log: %s", iwr_strerror(rc));
    return 0;
}

struct cat_state {
    int headers;
};

static int cat_one(void *arg, const struct wal_record *rec)
{
    struct cat_state *cs = arg;
    if (cs->headers) {
        time_t secs = (time_t)(rec->recv_ns / 1000000000u);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char when[32];
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        printf("# seq=%" PRIu64 " db=%.*s rp=%.*s points=%" PRIu32 " received=%s.%09" PRIu64
               "Z%s%.*s\n",
               rec->seq, (int)rec->db_len, rec->db, (int)rec->rp_len, rec->rp, rec->points, when,
               rec->recv_ns % 1000000000u, rec->target_len ? " only=" : "", (int)rec->target_len,
               rec->target);
    }
    if (cli_print_body(stdout, rec) != 0)
        return 1;
    return 0;
}

/* The --from/--to range into *from, *to (0: open), then the log opened read-only into *w. 0, or
 * the exit status after a message. */
static int open_range(struct cli *cli, const char *from_s, const char *to_s, uint64_t *from,
                      uint64_t *to, struct wal **w)
{
    *from = *to = 0;
    if (from_s && cli_seq(cli, "--from", from_s, from) != 0)
        return 2;
    if (to_s && cli_seq(cli, "--to", to_s, to) != 0)
        return 2;
    if (*to > 0 && *from > *to)
        return cli_usage(cli, "--from %" PRIu64 " is after --to %" PRIu64, *from, *to);
    return cli_open(cli, 0, w);
}

int cmd_cat(struct cli *cli)
{
    const char *from_s = NULL, *to_s = NULL, *backend = NULL;
    struct cat_state cs = {0};
    const struct cli_opt opts[] = {{"--from", &from_s, NULL},
                                   {"--to", &to_s, NULL},
                                   {"--backend", &backend, NULL},
                                   {"--headers", NULL, &cs.headers},
                                   {NULL, NULL, NULL}};
    uint64_t from, to;
    int rc = cli_parse(cli, opts, NULL, 0, NULL);
    struct wal *w = NULL;
    if (rc == 0)
        rc = open_range(cli, from_s, to_s, &from, &to, &w);
    if (rc != 0)
        return rc;
    rc = visit(cli, w, backend, from, to, cat_one, &cs);
    if (fflush(stdout) != 0 && rc == 0)
        rc = cli_fail(cli, "writing: %s", strerror(errno));
    wal_close(w);
    return rc;
}

/* export: influx -import's format. The DDL names every database seen; the DML switches
 * context whenever the database or retention policy changes. */
struct export_state {
    FILE *f;
    struct buf dbs;     /* "\n"-separated names already in the DDL */
    struct buf cur_db, cur_rp;
    int started;
    uint64_t records, points;
    uint64_t last_seq; /* the first pass's end */
};

static int collect_db(void *arg, const struct wal_record *rec)
{
    struct export_state *es = arg;
    es->last_seq = rec->seq;
    if (rec->flags & WAL_REC_STATEMENT) /* only points name a database to create */
        return 0;
    struct buf needle;
    buf_init(&needle);
    buf_append(&needle, "\n", 1);
    buf_append(&needle, rec->db, rec->db_len);
    buf_append(&needle, "\n", 1);
    int seen = es->dbs.len && memmem(es->dbs.data, es->dbs.len, needle.data, needle.len) != NULL;
    if (!seen) {
        if (es->dbs.len == 0)
            buf_append(&es->dbs, "\n", 1);
        buf_append(&es->dbs, rec->db, rec->db_len);
        buf_append(&es->dbs, "\n", 1);
    }
    buf_deinit(&needle);
    return 0;
}

static int export_one(void *arg, const struct wal_record *rec)
{
    struct export_state *es = arg;
    if (rec->flags & WAL_REC_STATEMENT) {
        /* influx -import runs no queries in the DML: the statement is a comment in its place,
         * for whoever replays the export to apply by hand. */
        cli_print_statement(es->f, rec);
        es->records++;
        return ferror(es->f) ? 1 : 0;
    }
    if (!es->started || es->cur_db.len != rec->db_len ||
        memcmp(es->cur_db.data, rec->db, rec->db_len) != 0 || es->cur_rp.len != rec->rp_len ||
        (rec->rp_len && memcmp(es->cur_rp.data, rec->rp, rec->rp_len) != 0)) {
        fprintf(es->f, "# CONTEXT-DATABASE: %.*s\n", (int)rec->db_len, rec->db);
        fprintf(es->f, "# CONTEXT-RETENTION-POLICY: %.*s\n", (int)rec->rp_len, rec->rp);
        buf_clear(&es->cur_db);
        buf_append(&es->cur_db, rec->db, rec->db_len);
        buf_clear(&es->cur_rp);
        buf_append(&es->cur_rp, rec->rp, rec->rp_len);
        es->started = 1;
    }
    if (fwrite(rec->body, 1, rec->body_len, es->f) != rec->body_len)
        return 1;
    es->records++;
    es->points += rec->points;
    return 0;
}

int cmd_export(struct cli *cli)
{
    const char *from_s = NULL, *to_s = NULL, *backend = NULL, *output = NULL;
    const struct cli_opt opts[] = {{"--from", &from_s, NULL},
                                   {"--to", &to_s, NULL},
                                   {"--backend", &backend, NULL},
                                   {"--output", &output, NULL},
                                   {NULL, NULL, NULL}};
    uint64_t from, to;
    int rc = cli_parse(cli, opts, NULL, 0, NULL);
    if (rc == 0 && (backend == NULL || output == NULL))
        rc = cli_usage(cli, "--backend and --output are required");
    struct wal *w = NULL;
    if (rc == 0)
        rc = open_range(cli, from_s, to_s, &from, &to, &w);
    if (rc != 0)
        return rc;
    struct export_state es;
    memset(&es, 0, sizeof(es));
    /* Two passes over the same range: the databases first (the DDL comes first), then the
     * points. Records appended in between are not exported: the second pass stops at the
     * first pass's end. */
    rc = visit(cli, w, backend, from, to, collect_db, &es);
    if (rc == 0) {
        es.f = strcmp(output, "-") == 0 ? stdout : fopen(output, "w");
        if (es.f == NULL)
            rc = cli_fail(cli, "cannot write %s: %s", output, strerror(errno));
    }
    if (rc == 0) {
        fprintf(es.f, "# influx-wal export of %s for backend %s; timestamps in ns "
                      "(influx -import -precision ns)\n# DDL\n",
                cli->data_dir, backend);
        for (char *p = es.dbs.data, *end = es.dbs.data + es.dbs.len; p && p < end;) {
            char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
            if (nl == NULL)
                break;
            if (nl > p + 1)
                fprintf(es.f, "CREATE DATABASE \"%.*s\"\n", (int)(nl - p - 1), p + 1);
            p = nl;
        }
        fprintf(es.f, "# DML\n");
        if (es.last_seq > 0)
            rc = visit(cli, w, backend, from, es.last_seq, export_one, &es);
        if (es.f != stdout && fclose(es.f) != 0 && rc == 0)
            rc = cli_fail(cli, "writing %s: %s", output, strerror(errno));
        if (rc == 0)
            fprintf(stderr, "exported %" PRIu64 " records, %" PRIu64 " points to %s\n",
                    es.records, es.points, output);
    }
    buf_deinit(&es.dbs);
    buf_deinit(&es.cur_db);
    buf_deinit(&es.cur_rp);
    wal_close(w);
    return rc;
}

static void print_problem(void *arg, const char *line)
{
    (void)arg;
    printf("problem: %s\n", line);
}

int cmd_verify(struct cli *cli)
{
    struct wal *w = NULL;
    int rc = parse_and_open(cli, NULL, &w);
    if (rc != 0)
        return rc;
    struct wal_verify_summary sum;
    long problems = wal_verify(w, print_problem, NULL, &sum);
    wal_close(w);
    if (problems < 0)
        return cli_fail(cli, "cannot read the log: %s", iwr_strerror((int)problems));
    printf("%s: %" PRIu64 " records", problems ? "FAILED" : "ok", sum.records);
    if (sum.records)
        printf(" (sequences %" PRIu64 "..%" PRIu64 ")", sum.first_seq, sum.last_seq);
    printf(", %" PRIu64 " cursors, %" PRIu64 " dead letters, %ld problems\n", sum.cursors,
           sum.dead_letters, problems);
    if (problems)
        return cli_fail(cli, "%ld problems in %s", problems, cli->data_dir);
    return 0;
}

int cmd_compact(struct cli *cli)
{
    const char *output = NULL;
    const struct cli_opt opts[] = {{"--output", &output, NULL}, {NULL, NULL, NULL}};
    int rc = cli_parse(cli, opts, NULL, 0, NULL);
    if (rc == 0 && output == NULL)
        rc = cli_usage(cli, "--output is required");
    if (rc != 0)
        return rc;
    if (mkdir(output, 0750) != 0 && errno != EEXIST)
        return cli_fail(cli, "cannot create %s: %s", output, strerror(errno));
    char probe[4096];
    snprintf(probe, sizeof(probe), "%s/data.mdb", output);
    struct stat sb;
    if (stat(probe, &sb) == 0)
        return cli_fail(cli, "%s already holds a log: choose an empty directory", output);
    struct wal *w = NULL;
    rc = cli_open(cli, 0, &w);
    if (rc != 0)
        return rc;
    rc = wal_compact(w, output);
    wal_close(w);
    if (rc != 0)
        return cli_fail(cli, "compacting into %s: %s", output, iwr_strerror(rc));
    struct stat before, after;
    snprintf(probe, sizeof(probe), "%s/data.mdb", cli->data_dir);
    int have_before = stat(probe, &before) == 0;
    snprintf(probe, sizeof(probe), "%s/data.mdb", output);
    if (have_before && stat(probe, &after) == 0)
        printf("compacted %s (%lld bytes) into %s (%lld bytes)\n", cli->data_dir,
               (long long)before.st_size, output, (long long)after.st_size);
    return 0;
}
