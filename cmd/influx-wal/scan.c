/* The one loop over the log's records that every CLI command uses, and how a record's body
 * is shown (statements redacted). */
#include "cmd/influx-wal/cli.h"

#include "common/buf.h"
#include "common/err.h"
#include "relay/influxql.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Records per read transaction: a long scan must not pin the daemon's pages for long. */
#define SCAN_TXN_RECORDS 1024

int cli_scan(struct wal *w, const char *backend, uint64_t after, uint64_t to, cli_visit_fn *fn,
             void *arg, uint64_t *corrupt, const char *say)
{
    struct wal_reader *r;
    wal_reader_new(w, &r);
    int rc = wal_reader_begin(r);
    size_t in_txn = 0, blen = backend ? strlen(backend) : 0;
    while (rc == 0) {
        struct wal_record rec;
        int nrc = wal_reader_next(r, after, &rec);
        if (nrc == IWR_ENOTFOUND || (to > 0 && (nrc == 0 || nrc == IWR_ECORRUPT) && rec.seq > to))
            break;
        if (nrc != 0 && nrc != IWR_ECORRUPT) {
            rc = nrc;
            break;
        }
        after = rec.seq;
        if (nrc == IWR_ECORRUPT) {
            if (corrupt)
                (*corrupt)++;
            if (say)
                fprintf(stderr, "influx-wal %s: record %" PRIu64 " is corrupt: skipped\n", say,
                        rec.seq);
            continue;
        }
        int mine = backend == NULL || rec.target_len == 0 ||
                   (rec.target_len == blen && memcmp(rec.target, backend, blen) == 0);
        if (mine && (rc = fn(arg, &rec)) != 0)
            break;
        if (++in_txn == SCAN_TXN_RECORDS) {
            in_txn = 0;
            wal_reader_end(r);
            rc = wal_reader_begin(r);
        }
    }
    wal_reader_end(r);
    wal_reader_free(r);
    return rc;
}

void cli_print_statement(FILE *f, const struct wal_record *rec)
{
    struct buf t;
    buf_init(&t);
    iql_redact(rec->body, rec->body_len, &t);
    fprintf(f, "# statement seq=%" PRIu64 " db=%.*s rp=%.*s: ", rec->seq, (int)rec->db_len,
            rec->db, (int)rec->rp_len, rec->rp);
    for (size_t i = 0; i < t.len; i++) {
        char ch = t.data[i];
        if (ch == '\r')
            continue;
        fputc(ch, f);
        if (ch == '\n' && i + 1 < t.len)
            fputs("# ", f);
    }
    if (t.len == 0 || t.data[t.len - 1] != '\n')
        fputc('\n', f);
    buf_deinit(&t);
}

int cli_print_body(FILE *f, const struct wal_record *rec)
{
    if (rec->flags & WAL_REC_STATEMENT) {
        cli_print_statement(f, rec);
        return ferror(f) ? -1 : 0;
    }
    return fwrite(rec->body, 1, rec->body_len, f) == rec->body_len ? 0 : -1;
}
