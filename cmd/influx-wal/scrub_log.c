/* influx-wal scrub, the log side: which windows are still in flight. For each log given with
 * --data-dir (every relay's, when several feed the same backends) and each of the two
 * backends, the records after that backend's cursor (those it has not acknowledged, for it or
 * for every backend) are read back with the relay's line-protocol scanner, and the window of
 * each point (database, retention policy as the record names it, "" for the default,
 * measurement, hour of its timestamp) goes into s->in_flight with the side that lacks it. A
 * log that does not know a backend holds nothing for it. Read-only, in bounded read
 * transactions (cli_scan). */
#include "cmd/influx-wal/scrub.h"

#include "common/err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct flight_scan {
    struct scrub *s;
    int side;
    struct buf db;
};

static int flight_visit(void *arg, const struct wal_record *rec)
{
    struct flight_scan *f = arg;
    struct scrub *s = f->s;
    s->in_flight_records++;
    buf_clear(&f->db);
    buf_append(&f->db, rec->db, rec->db_len);
    buf_append(&f->db, "", 1);
    if (s->database != NULL && strcmp(f->db.data, s->database) != 0)
        return 0;
    scrub_record_windows(rec, 1, &s->in_flight, 1u << f->side);
    return 0;
}

/* One log: both backends' backlogs. 0, or 1 after a message. */
static int read_log(struct scrub *s, const char *dir)
{
    const char *saved = s->cli->data_dir;
    s->cli->data_dir = dir;
    struct wal *w;
    int rc = cli_open(s->cli, 0, &w);
    s->cli->data_dir = saved;
    if (rc != 0)
        return rc;
    for (int side = 0; side < 2 && rc == 0; side++) {
        const char *name = s->be[side].name;
        struct wal_reader *r;
        wal_reader_new(w, &r);
        uint64_t cursor = 0;
        rc = wal_reader_begin(r);
        if (rc == 0)
            rc = wal_reader_cursor(r, name, &cursor);
        wal_reader_end(r);
        wal_reader_free(r);
        if (rc == IWR_ENOTFOUND) {
            rc = 0; /* this log does not feed that backend */
            continue;
        }
        if (rc != 0)
            break;
        struct flight_scan f = {s, side, {0}};
        rc = cli_scan(w, name, cursor, 0, flight_visit, &f, NULL, NULL);
        buf_deinit(&f.db);
    }
    wal_close(w);
    if (rc != 0)
        return cli_fail(s->cli, "reading the log in %s: %s", dir, iwr_strerror(rc));
    s->logs_read++;
    return 0;
}

int scrub_read_logs(struct scrub *s)
{
    struct cli *cli = s->cli;
    s->logs_read = 0;
    if (cli->n_data_dirs == 0) {
        /* No --data-dir: the default log when there is one, else none. */
        struct stat st;
        char path[4200];
        snprintf(path, sizeof(path), "%s/data.mdb", cli->data_dir);
        if (stat(path, &st) != 0)
            return 0;
        return read_log(s, cli->data_dir);
    }
    int rc = 0;
    for (size_t i = 0; i < cli->n_data_dirs && rc == 0; i++)
        rc = read_log(s, cli->data_dirs[i]);
    return rc;
}
