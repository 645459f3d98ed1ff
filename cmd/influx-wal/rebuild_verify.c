/* influx-wal rebuild's last step: once the target caught up on every relay, compare source and
 * target (databases, retention policies, measurements, field keys, and per retention policy
 * the count of every field for points older than the verify's start less a margin), again
 * while writes in flight make them differ, up to a deadline. One thread. */
#include "cmd/influx-wal/rebuild.h"

#include "common/buf.h"
#include "common/clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VERIFY_TIMEOUT_S 120
#define VERIFY_MARGIN_S 10u

/* One comparison of A and B: 0 equal, 6 different (*what says where), 1 after a message. */
static int compare_once(struct rb *r, struct buf *what, uint64_t *points)
{
    struct names da, db_;
    int rc = rb_query_sorted(r, r->qs, NULL, "SHOW DATABASES", rb_collect_names, &da);
    if (rc != 0)
        return rc;
    rc = rb_query_sorted(r, r->qd, NULL, "SHOW DATABASES", rb_collect_names, &db_);
    if (rc != 0) {
        rb_names_free(&da);
        return rc;
    }
    buf_clear(what);
    *points = 0;
    int differ = 0;
    if (da.n != db_.n)
        differ = 1;
    for (size_t i = 0; i < da.n && !differ; i++)
        differ = strcmp(da.v[i], db_.v[i]) != 0;
    if (differ)
        buf_append_str(what, "the lists of databases");
    for (size_t i = 0; i < da.n && !differ && rc == 0; i++) {
        const char *db = da.v[i];
        if (strcmp(db, "_internal") == 0)
            continue;
        static const char *const qs[] = {"SHOW RETENTION POLICIES", "SHOW MEASUREMENTS",
                                         "SHOW FIELD KEYS"};
        for (size_t k = 0; k < 3 && !differ && rc == 0; k++) {
            struct names x, y;
            rc = rb_query_sorted(r, r->qs, db, qs[k], rb_collect_rows, &x);
            if (rc == 0 && (rc = rb_query_sorted(r, r->qd, db, qs[k], rb_collect_rows, &y)) == 0) {
                differ = x.n != y.n;
                for (size_t j = 0; j < x.n && !differ; j++)
                    differ = strcmp(x.v[j], y.v[j]) != 0;
                rb_names_free(&y);
            }
            if (rc == 0 && differ)
                buf_printf(what, "%s on %s", qs[k], db);
            /* Per retention policy, the count of every field of every measurement. */
            for (size_t j = 0; k == 0 && rc == 0 && !differ && j < x.n; j++) {
                /* A row is "|name=\"rp\"|duration=..": the name is its first column. */
                json_error_t jerr;
                const char *p = strstr(x.v[j], "|name=");
                const char *end = p != NULL ? strstr(p + 6, "|") : NULL;
                json_t *nj = p != NULL && end != NULL
                                 ? json_loadb(p + 6, (size_t)(end - p - 6), JSON_DECODE_ANY, &jerr)
                                 : NULL;
                const char *rp = json_string_value(nj);
                if (rp != NULL) {
                    struct buf q;
                    buf_init(&q);
                    buf_append_str(&q, "SELECT count(*) FROM ");
                    influx_quote_ident(&q, rp);
                    buf_printf(&q, "./.*/ WHERE time < %" PRIu64, r->verify_before_ns);
                    buf_append(&q, "", 1);
                    struct names ca, cb;
                    rc = rb_query_sorted(r, r->qs, db, q.data, rb_collect_rows, &ca);
                    if (rc == 0 &&
                        (rc = rb_query_sorted(r, r->qd, db, q.data, rb_collect_rows, &cb)) == 0) {
                        differ = ca.n != cb.n;
                        for (size_t m = 0; m < ca.n && !differ; m++)
                            differ = strcmp(ca.v[m], cb.v[m]) != 0;
                        for (size_t m = 0; m < cb.n; m++) {
                            /* The points of a measurement: its largest field count. */
                            uint64_t most = 0;
                            for (const char *c = strstr(cb.v[m], "="); c != NULL;
                                 c = strstr(c + 1, "=")) {
                                uint64_t v = strtoull(c + 1, NULL, 10);
                                most = v > most ? v : most;
                            }
                            *points += most;
                        }
                        if (differ)
                            buf_printf(what, "the field counts in %s.%s", db, rp);
                        rb_names_free(&cb);
                    }
                    rb_names_free(&ca);
                    buf_deinit(&q);
                }
                json_decref(nj);
            }
            rb_names_free(&x);
        }
    }
    rb_names_free(&da);
    rb_names_free(&db_);
    if (rc != 0)
        return rc;
    return differ ? 6 : 0;
}

/* After finish: wait for B to catch up on every relay, then compare, again while writes in
 * flight make them differ, up to VERIFY_TIMEOUT_S. 0 equal, 1 after a message. */
int rb_verify(struct rb *r, uint64_t *points)
{
    uint64_t deadline = clock_monotonic_ns() + (uint64_t)VERIFY_TIMEOUT_S * 1000000000u;
    /* Counts of points older than a little before now: writes keep coming (with the present
     * time, mostly), and both sides caught up after this moment hold every older point that
     * was logged before it. */
    r->verify_before_ns = clock_realtime_ns() - VERIFY_MARGIN_S * 1000000000u;
    struct buf what;
    buf_init(&what);
    int rc = 6, tries = 0;
    while (rc == 6 && clock_monotonic_ns() < deadline) {
        if (tries++ > 0)
            sleep(1);
        if (!rb_relays_caught_up(r))
            continue;
        rc = compare_once(r, &what, points);
    }
    if (rc == 6)
        rc = cli_fail(r->cli,
                      "verify: %s and %s still differ in %.*s after %d s (writes in "
                      "flight, or a real difference: run influx-wal scrub)",
                      r->from, r->backend, (int)what.len, what.data, VERIFY_TIMEOUT_S);
    else if (rc == 0)
        rb_step(r, 0, "step=verify equal=1 points=%" PRIu64, *points);
    buf_deinit(&what);
    return rc;
}
