/* Durable appends of 60 KB records with 1, 8 and 64 producers in flight, next to the disk's own
 * ceiling measured in the same directory: a loop of 4 KB write + fdatasync, and one write of a
 * whole commit's bytes + fdatasync. Prints records/s, MB/s, p50/p99 latency to durability and
 * the mean commit time against the raw fsync time. Bounded: about 3 s per configuration.
 *   bench_wal [DIR] [SECONDS]   (DIR defaults to $TMPDIR) */
#include "common/err.h"
#include "common/log.h"
#include "wal/wal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REC_BYTES (60 * 1024)
#define MAX_SAMPLES 1000000

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct run {
    struct wal *w;
    struct wal_record rec;
    uint64_t deadline;
    uint64_t *lat;
    size_t n_lat;
    size_t in_flight;
    int failed;
};

struct slot {
    struct run *run;
    uint64_t start;
};

static void submit(struct slot *s);

static void done(void *arg, int rc, uint64_t seq)
{
    struct slot *s = arg;
    struct run *r = s->run;
    (void)seq;
    r->in_flight--;
    if (rc != 0) {
        r->failed = rc;
        return;
    }
    if (r->n_lat < MAX_SAMPLES)
        r->lat[r->n_lat++] = mono_ns() - s->start;
    if (mono_ns() < r->deadline)
        submit(s);
}

static void submit(struct slot *s)
{
    s->start = mono_ns();
    s->run->in_flight++;
    s->run->rec.recv_ns = wal_now_ns();
    wal_append(s->run->w, &s->run->rec, done, s);
}

/* Raw fsync cost: 'n' bytes written at the end of a file, then fdatasync, for 'secs'. */
static double fsync_loop(const char *dir, size_t n, double secs, double *per_s)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/fsync-probe", dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    char *buf = calloc(1, n);
    uint64_t start = mono_ns(), end = start + (uint64_t)(secs * 1e9);
    size_t ops = 0;
    off_t off = 0;
    while (mono_ns() < end && ops < 100000) {
        if (pwrite(fd, buf, n, off) != (ssize_t)n || fdatasync(fd) != 0)
            break;
        off += (off_t)n;
        if (off > (256 << 20))
            off = 0;
        ops++;
    }
    double el = (double)(mono_ns() - start) / 1e9;
    close(fd);
    unlink(path);
    free(buf);
    *per_s = (double)ops / el;
    return el / (double)(ops ? ops : 1) * 1e3; /* ms per op */
}

int main(int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    const char *base = argc > 1 ? argv[1] : (tmp ? tmp : "/tmp");
    double secs = argc > 2 ? atof(argv[2]) : 3.0;
    log_set_level(LOG_WARN);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/iwr-bench-wal-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    double ceil_per_s, ceil_ms = fsync_loop(dir, 4096, secs, &ceil_per_s);
    printf("disk ceiling: 4 KB write + fdatasync: %.0f ops/s, %.3f ms each\n", ceil_per_s,
           ceil_ms);

    char *body = malloc(REC_BYTES);
    for (size_t i = 0; i < REC_BYTES; i++)
        body[i] = (char)('a' + i % 26);
    body[REC_BYTES - 1] = '\n';

    static const int producers[] = {1, 8, 64};
    double base_rate = 0;
    printf("%-10s %10s %9s %9s %9s %9s %11s %12s %10s\n", "producers", "records/s", "MB/s",
           "p50_ms", "p99_ms", "commits", "recs/commit", "commit_ms", "raw_ms");
    for (size_t p = 0; p < sizeof(producers) / sizeof(producers[0]); p++) {
        char sub[600];
        snprintf(sub, sizeof(sub), "%s/p%d", dir, producers[p]);
        struct wal_options o = {0};
        o.dir = sub;
        o.max_bytes = (size_t)8 << 30;
        struct run r = {0};
        if (wal_open(&r.w, &o) != 0)
            return 1;
        /* A backend that keeps up, so the log is trimmed as in production. */
        wal_cursor_move_sync(r.w, "bench", WAL_SEQ_ANY, 0);
        r.rec.db = "bench";
        r.rec.db_len = 5;
        r.rec.rp = "";
        r.rec.body = body;
        r.rec.body_len = REC_BYTES;
        r.rec.points = 1000;
        r.lat = malloc(MAX_SAMPLES * sizeof(uint64_t));
        struct slot *slots = calloc((size_t)producers[p], sizeof(*slots));
        struct wal_counters c0, c1;
        wal_counters_get(r.w, &c0);
        uint64_t start = mono_ns();
        r.deadline = start + (uint64_t)(secs * 1e9);
        for (int i = 0; i < producers[p]; i++) {
            slots[i].run = &r;
            submit(&slots[i]);
        }
        uint64_t acked = 0;
        while (r.in_flight > 0 && !r.failed) {
            wal_complete_wait(r.w, 1000);
            /* Keep the cursor at the head so truncation runs, as a live backend would. */
            if (r.n_lat - acked >= 64) {
                acked = r.n_lat;
                wal_cursor_move(r.w, "bench", WAL_SEQ_ANY, c0.last_seq + acked, NULL, NULL);
            }
        }
        double el = (double)(mono_ns() - start) / 1e9;
        wal_counters_get(r.w, &c1);
        if (r.failed) {
            printf("append failed: %s\n", iwr_strerror(r.failed));
            return 1;
        }
        qsort(r.lat, r.n_lat, sizeof(uint64_t), cmp_u64);
        double rate = (double)r.n_lat / el;
        uint64_t commits = c1.commits - c0.commits;
        double per_commit = (double)(c1.appended - c0.appended) / (double)(commits ? commits : 1);
        double commit_ms = (double)(c1.commit_ns_total - c0.commit_ns_total) / 1e6 /
                           (double)(commits ? commits : 1);
        double raw_per_s;
        double raw_ms = fsync_loop(dir, (size_t)(per_commit * REC_BYTES), 1.0, &raw_per_s);
        if (p == 0)
            base_rate = rate;
        printf("%-10d %10.0f %9.1f %9.3f %9.3f %9" PRIu64 " %11.1f %12.3f %10.3f\n",
               producers[p], rate, rate * REC_BYTES / 1e6,
               (double)r.lat[r.n_lat / 2] / 1e6, (double)r.lat[r.n_lat * 99 / 100] / 1e6,
               commits, per_commit, commit_ms, raw_ms);
        if (p == sizeof(producers) / sizeof(producers[0]) - 1)
            printf("group commit: %.1fx the records/s of one record per commit (target >= 20x); "
                   "commit %.3f ms vs raw write+fdatasync of the same bytes %.3f ms (%+.0f%%)\n",
                   rate / base_rate, commit_ms, raw_ms, (commit_ms / raw_ms - 1) * 100);
        free(slots);
        free(r.lat);
        wal_close(r.w);
    }
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(body);
    return 0;
}
