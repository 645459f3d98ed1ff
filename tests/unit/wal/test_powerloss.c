/* Durability across power loss, not only process death. A SIGKILL (test_crash.c) leaves the
 * page cache intact, so it proves atomicity but would pass without a single fsync. Here a child
 * runs the log under tests/tools/powerloss.so (LD_PRELOAD), which models what the disk holds
 * and, at a chosen write or sync call, throws away everything the log wrote since that file's
 * last fsync/fdatasync (or, in the reordering rounds, keeps a seeded random half of those page
 * writes), then kills the process on the spot. The child appends with many records in flight
 * and moves a cursor meanwhile, and tells the parent over a pipe each record the log called
 * durable. The parent then checks, in a forked process without the shim, that every
 * acknowledged record is present and intact, contiguous, the cursor no older than its last
 * acknowledged move, wal_verify clean, and runs `influx-wal verify` on the directory.
 *
 * Two logs take the synchronous rounds: one trims behind the cursor (free pages are reused, so
 * the shim restores overwritten pages, not only cut extensions), one keeps every record. The
 * negative control runs the same harness with nosync (MDB_NOSYNC) and must find a loss, so the
 * test is shown able to fail.
 *
 * IWR_PL_SEED=N replays a run's crash points and keep/drop choices (printed as "# seed");
 * IWR_PL_ROUNDS=N sets the synchronous rounds (default 64). Under ASan the child runs with
 * verify_asan_link_order=0 (the shim is preloaded ahead of the sanitizer runtime). */
#include "tests/unit/tap.h"

#include "common/err.h"
#include "common/log.h"
#include "wal/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IN_FLIGHT 16
#define CHILD_ACKS 600       /* a calibration child stops after this many acknowledgements */
#define CHILD_ACKS_MAX 30000 /* a child with a cut point goes on until it (or this) */
#define CURSOR_LAG 100       /* the cursor trails the last acknowledged record by this much */
#define CHILD_DEADLINE_MS 20000
#define PL_EXIT 77 /* the shim's exit status after a cut */
#define NEG_ROUNDS 8

extern char **environ;

/* ---- the child, under the shim ---- */

struct ack {
    char kind; /* 'A' a record, 'C' a cursor move */
    uint64_t seq;
    uint64_t n;
};

struct child {
    struct wal *w;
    int fd;
    uint64_t n, acks, last_seq, acks_max;
    int move_in_flight;
    char body[IN_FLIGHT][128];
    uint64_t body_n[IN_FLIGHT];
    int slot_free[IN_FLIGHT];
};

static int body_format(char *buf, size_t cap, uint64_t n)
{
    return snprintf(buf, cap, "power,src=pl n=%" PRIu64 "i %" PRIu64 "\n", n,
                    (uint64_t)1700000000000000000u + n);
}

static void child_submit(struct child *c, int slot);

static void child_send(struct child *c, char kind, uint64_t seq, uint64_t n)
{
    struct ack a = {kind, seq, n};
    if (write(c->fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
        _exit(4);
}

static void child_moved(void *arg, int rc, uint64_t seq)
{
    struct child *c = arg;
    if (rc != 0)
        _exit(5);
    c->move_in_flight = 0;
    child_send(c, 'C', seq, 0);
}

/* 'arg' is the slot: the record's body lives there until it is acknowledged. */
static struct child *the_child;

static void child_done(void *arg, int rc, uint64_t seq)
{
    struct child *c = the_child;
    int slot = (int)(intptr_t)arg;
    if (rc != 0)
        _exit(3);
    child_send(c, 'A', seq, c->body_n[slot]);
    c->acks++;
    c->last_seq = seq;
    if (c->acks % 8 == 0 && !c->move_in_flight && seq > CURSOR_LAG) {
        c->move_in_flight = 1;
        wal_cursor_move(c->w, "pl", WAL_SEQ_ANY, seq - CURSOR_LAG, child_moved, c);
    }
    if (c->acks + IN_FLIGHT <= c->acks_max)
        child_submit(c, slot);
    else
        c->slot_free[slot] = 1;
}

static void child_submit(struct child *c, int slot)
{
    c->body_n[slot] = c->n++;
    int len = body_format(c->body[slot], sizeof(c->body[slot]), c->body_n[slot]);
    struct wal_record r = {0};
    r.db = "power";
    r.db_len = 5;
    r.rp = "";
    r.body = c->body[slot];
    r.body_len = (size_t)len;
    r.points = 1;
    r.recv_ns = wal_now_ns();
    c->slot_free[slot] = 0;
    wal_append(c->w, &r, child_done, (void *)(intptr_t)slot);
}

static int child_main(char **argv)
{
    /* argv: --child DIR N_BASE NOSYNC RETAIN_NS FD MAX_ACKS */
    struct wal_options o = {0};
    o.dir = argv[2];
    o.max_bytes = 64u << 20;
    o.nosync = atoi(argv[4]);
    o.retain_ns = strtoull(argv[5], NULL, 10);
    static struct child c;
    the_child = &c;
    c.n = strtoull(argv[3], NULL, 10);
    c.fd = atoi(argv[6]);
    c.acks_max = strtoull(argv[7], NULL, 10);
    log_set_level(LOG_ERROR);
    if (wal_open(&c.w, &o) != 0)
        _exit(2);
    for (int i = 0; i < IN_FLIGHT; i++)
        child_submit(&c, i);
    for (;;) {
        int busy = c.move_in_flight;
        for (int i = 0; i < IN_FLIGHT; i++)
            busy |= !c.slot_free[i];
        if (!busy)
            break;
        wal_complete_wait(c.w, 1000);
    }
    wal_close(c.w);
    return 0;
}

/* The shim's own check, a known sequence on one file (created and synced by the parent as
 * 8 KiB of '0'): events 1 pwrite 'A' page 0, 2 fdatasync, 3 pwrite 'B' at 10..110 (unsynced),
 * 4 'C' at 50..100 through an O_DSYNC descriptor (durable), 5 writev of two 'D' pages at 8 KiB
 * after lseek (unsynced, extends), 6 fdatasync: the cut comes before it. */
static int selftest_main(const char *path, int truncate)
{
    if (truncate) {
        /* The daemon's lock file at each open: events 1 ftruncate to 0, 2 pwrite of a PID,
         * 3 fdatasync (the cut comes before it): the file must be as before. */
        int tfd = open(path, O_RDWR);
        if (tfd < 0 || ftruncate(tfd, 0) != 0 || pwrite(tfd, "4242\n", 5, 0) != 5)
            return 3;
        fdatasync(tfd);
        return 0;
    }
    char a[4096], b[100], c[50], d[8192];
    memset(a, 'A', sizeof(a));
    memset(b, 'B', sizeof(b));
    memset(c, 'C', sizeof(c));
    memset(d, 'D', sizeof(d));
    int fd = open(path, O_RDWR);
    int dfd = open(path, O_WRONLY | O_DSYNC);
    if (fd < 0 || dfd < 0)
        return 2;
    if (pwrite(fd, a, sizeof(a), 0) != (ssize_t)sizeof(a) || fdatasync(fd) != 0 ||
        pwrite(fd, b, sizeof(b), 10) != (ssize_t)sizeof(b) ||
        pwrite(dfd, c, sizeof(c), 50) != (ssize_t)sizeof(c) || lseek(fd, 8192, SEEK_SET) != 8192)
        return 3;
    struct iovec v[2] = {{d, 4096}, {d + 4096, 4096}};
    if (writev(fd, v, 2) != 8192)
        return 3;
    fdatasync(fd);
    return 0;
}

/* After the cut: what the file may hold. With 'keep' 0 exactly the durable writes; else each
 * unsynced page piece may have survived, but never over a later durable write. */
static int selftest_image_ok(const char *path, int keep, char *why, size_t cap)
{
    static unsigned char img[20000];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, img, sizeof(img));
    if (fd >= 0)
        close(fd);
    if (n < 0) {
        snprintf(why, cap, "cannot read");
        return 0;
    }
    unsigned char mid = img[10];
    int ok = n == 8192 || (keep && (n == 12288 || n == 16384));
    for (ssize_t i = 0; ok && i < 4096; i++) {
        unsigned char want = 'A';
        if (i >= 50 && i < 100)
            want = 'C';
        else if ((i >= 10 && i < 50) || (i >= 100 && i < 110))
            want = keep ? mid : 'A';
        ok = img[i] == want && (mid == 'A' || mid == 'B');
    }
    for (ssize_t i = 4096; ok && i < 8192; i++)
        ok = img[i] == '0';
    for (ssize_t i = 8192; ok && i < n; i++)
        ok = img[i] == 'D' || (img[i] == 0 && i < 12288 && n == 16384 && img[8192] == 0);
    snprintf(why, cap, "%zd bytes, page 0 byte 10 '%c', byte 50 '%c'", n, img[10], img[50]);
    return ok;
}

/* ---- the parent ---- */

struct acked {
    uint64_t seq, n;
};

/* One log directory and what was acknowledged in it over all its rounds. */
struct logdir {
    char path[300];
    const char *name;
    int nosync;
    uint64_t retain_ns; /* 0: trims behind the cursor */
    struct acked *acks;
    size_t n_acks, cap_acks;
    uint64_t cursor_acked;
    uint64_t n_next;
};

struct report {
    int cut; /* the shim cut the power (else the child ended on its own) */
    char during[32];
    uint64_t event, events, unsynced_bytes, pages_restored, dropped, kept, unmodelled;
};

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char self_dir[PATH_MAX]; /* build/tests/unit/wal */
static int selftest_truncate;   /* run_child: the self-test's ftruncate sequence */

static void ack_push(struct logdir *d, uint64_t seq, uint64_t n)
{
    if (d->n_acks == d->cap_acks) {
        d->cap_acks = d->cap_acks ? 2 * d->cap_acks : 1024;
        d->acks = realloc(d->acks, d->cap_acks * sizeof(*d->acks));
        if (d->acks == NULL)
            abort();
    }
    d->acks[d->n_acks].seq = seq;
    d->acks[d->n_acks].n = n;
    d->n_acks++;
}

static void report_parse(const char *path, struct report *r)
{
    memset(r, 0, sizeof(*r));
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[1024];
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long long ev = 0, ub = 0, pr = 0, dr = 0, kp = 0, un = 0;
        char during[32];
        if (sscanf(line,
                   "crash event=%llu during=%31s writes=%*u dsync_writes=%*u syncs=%*u "
                   "unsynced_bytes=%llu pages_restored=%llu pieces_dropped=%llu "
                   "pieces_kept=%llu bytes_cut=%*u unmodelled=%llu",
                   &ev, during, &ub, &pr, &dr, &kp, &un) == 7) {
            r->cut = 1;
            snprintf(r->during, sizeof(r->during), "%s", during);
            r->event = ev;
            r->unsynced_bytes = ub;
            r->pages_restored = pr;
            r->dropped = dr;
            r->kept = kp;
            r->unmodelled = un;
        } else if (sscanf(line,
                          "exit events=%llu writes=%*u dsync_writes=%*u syncs=%*u "
                          "other_syncs=%*u unmodelled=%llu",
                          &ev, &un) == 2) {
            r->events = ev;
            r->unmodelled = un;
        }
    }
    fclose(f);
}

/* Run one child under the shim. Returns its wait status, or -1 if it could not be started or
 * missed its deadline; fills the acknowledgements into d and the shim's report into r. */
static int run_child(struct logdir *d, uint64_t crash_at, uint64_t keep_seed, struct report *r,
                     uint64_t *round_acks, const char *selftest_file)
{
    char report[400];
    snprintf(report, sizeof(report), "%s.report", d->path);
    unlink(report);
    int p[2];
    if (pipe(p) != 0)
        return -1;
    char exe[PATH_MAX + 32], shim[PATH_MAX + 32];
    snprintf(exe, sizeof(exe), "%s/test_powerloss", self_dir);
    snprintf(shim, sizeof(shim), "%s/../../tools/powerloss.so", self_dir);
    char a_base[32], a_nosync[8], a_retain[32], a_fd[16], a_max[32];
    snprintf(a_max, sizeof(a_max), "%d", crash_at ? CHILD_ACKS_MAX : CHILD_ACKS);
    snprintf(a_base, sizeof(a_base), "%" PRIu64, d->n_next);
    snprintf(a_nosync, sizeof(a_nosync), "%d", d->nosync);
    snprintf(a_retain, sizeof(a_retain), "%" PRIu64, d->retain_ns);
    snprintf(a_fd, sizeof(a_fd), "%d", p[1]);
    char *args[] = {exe, "--child", d->path, a_base, a_nosync, a_retain, a_fd, a_max, NULL};
    if (selftest_file != NULL) {
        args[1] = "--selftest";
        args[2] = (char *)selftest_file;
        args[3] = selftest_truncate ? "truncate" : NULL;
        args[4] = NULL;
    }
    /* The environment: ours, minus any preload, plus the shim's settings. */
    char e_pre[PATH_MAX + 64], e_dir[400], e_at[64], e_keep[64], e_rep[480], e_asan[600];
    /* A run that ends before its cut point loses the power at exit: every round is a cut. */
    char e_exit[] = "IWR_PL_CUT_AT_EXIT=1";
    snprintf(e_pre, sizeof(e_pre), "LD_PRELOAD=%s", shim);
    snprintf(e_dir, sizeof(e_dir), "IWR_PL_DIR=%s", d->path);
    snprintf(e_at, sizeof(e_at), "IWR_PL_CRASH_AT=%" PRIu64, crash_at);
    snprintf(e_keep, sizeof(e_keep), "IWR_PL_KEEP_SEED=%" PRIu64, keep_seed);
    snprintf(e_rep, sizeof(e_rep), "IWR_PL_REPORT=%s", report);
    const char *asan = getenv("ASAN_OPTIONS");
    snprintf(e_asan, sizeof(e_asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    size_t n_env = 0;
    while (environ[n_env] != NULL)
        n_env++;
    char **env = calloc(n_env + 8, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
            strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0 && strncmp(environ[i], "IWR_PL_", 7) != 0)
            env[k++] = environ[i];
    env[k++] = e_pre;
    env[k++] = e_dir;
    env[k++] = e_at;
    env[k++] = e_keep;
    env[k++] = e_rep;
    env[k++] = e_asan;
    if (crash_at != 0)
        env[k++] = e_exit;
    env[k] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        execve(exe, args, env);
        _exit(127);
    }
    free(env);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    /* Read acknowledgements until the child is gone (end of file), within the deadline. */
    uint64_t deadline = now_ms() + CHILD_DEADLINE_MS;
    struct ack a;
    size_t have = 0;
    int late = 0;
    *round_acks = 0;
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline) {
            late = 1;
            break;
        }
        struct pollfd pf = {p[0], POLLIN, 0};
        if (poll(&pf, 1, (int)(deadline - now)) <= 0)
            continue;
        ssize_t got = read(p[0], (char *)&a + have, sizeof(a) - have);
        if (got <= 0)
            break;
        have += (size_t)got;
        if (have < sizeof(a))
            continue;
        have = 0;
        if (a.kind == 'A') {
            ack_push(d, a.seq, a.n);
            (*round_acks)++;
            if (a.n >= d->n_next)
                d->n_next = a.n + 1;
        } else if (a.kind == 'C' && a.seq > d->cursor_acked) {
            d->cursor_acked = a.seq;
        }
    }
    close(p[0]);
    if (late)
        kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    /* Numbers of records submitted but never acknowledged are not reused: skip past them. */
    d->n_next += 2 * IN_FLIGHT;
    report_parse(report, r);
    unlink(report);
    return late ? -1 : status;
}

/* In a forked process (a broken log must not take the test down): reopen read-only, check every
 * acknowledged record and the cursor, wal_verify. Returns the problems found (a crash of the
 * checker counts as problems). Prints "#" lines for what it finds. */
static long check_log(const struct logdir *d, uint64_t *first_out, uint64_t *last_out,
                      uint64_t *cursor_out)
{
    int p[2];
    if (pipe(p) != 0)
        return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        alarm(60); /* a damaged B-tree must not hang the test */
        long problems = 0;
        struct wal_options o = {0};
        o.dir = d->path;
        o.readonly = 1;
        struct wal *w;
        int rc = wal_open(&w, &o);
        uint64_t out[3] = {0, 0, 0};
        if (rc != 0) {
            printf("#   %s: reopen failed: %s\n", d->name, iwr_strerror(rc));
            fflush(stdout);
            _exit(1);
        }
        struct wal_reader *rd;
        wal_reader_new(w, &rd);
        wal_reader_begin(rd);
        uint64_t first, last, high, cursor = 0;
        wal_reader_bounds(rd, &first, &last, &high);
        if (wal_reader_cursor(rd, "pl", &cursor) != 0)
            cursor = 0;
        out[0] = first;
        out[1] = last;
        out[2] = cursor;
        if (cursor < d->cursor_acked) {
            printf("#   %s: cursor at %" PRIu64 ", its last acknowledged move was to %" PRIu64 "\n",
                   d->name, cursor, d->cursor_acked);
            problems++;
        }
        /* Every record: readable, contiguous, ours. Acknowledged ones: the very body sent. */
        size_t ai = 0;
        uint64_t expect = first, after = first ? first - 1 : 0, lost = 0, wrong = 0;
        struct wal_record rec;
        while (ai < d->n_acks && d->acks[ai].seq < first) {
            /* Trimmed: only a log that trims, and only behind the cursor. */
            if (d->retain_ns != 0 || d->acks[ai].seq > cursor)
                lost++;
            ai++;
        }
        while ((rc = wal_reader_next(rd, after, &rec)) == 0 || rc == IWR_ECORRUPT) {
            if (rc != 0 || rec.seq != expect || rec.db_len != 5 ||
                memcmp(rec.db, "power", 5) != 0) {
                if (problems < 5)
                    printf("#   %s: record %" PRIu64 " (expected %" PRIu64 "): %s\n", d->name,
                           rec.seq, expect, rc ? iwr_strerror(rc) : "out of sequence or not ours");
                problems++;
            }
            if (rec.seq <= after && after != 0) {
                printf("#   %s: the log does not advance past %" PRIu64 "\n", d->name, after);
                problems++;
                break;
            }
            while (ai < d->n_acks && d->acks[ai].seq < rec.seq) {
                lost++; /* a hole where an acknowledged record was */
                ai++;
            }
            if (ai < d->n_acks && d->acks[ai].seq == rec.seq) {
                char want[128];
                int len = body_format(want, sizeof(want), d->acks[ai].n);
                if (rc != 0 || rec.body_len != (size_t)len || memcmp(rec.body, want, len) != 0)
                    wrong++;
                ai++;
            }
            expect = rec.seq + 1;
            after = rec.seq;
        }
        lost += d->n_acks - ai; /* acknowledged beyond the end of the log */
        if (lost || wrong) {
            printf("#   %s: %" PRIu64 " acknowledged records missing, %" PRIu64
                   " with other contents (of %zu acknowledged; log %" PRIu64 "..%" PRIu64
                   ", cursor %" PRIu64 ")\n",
                   d->name, lost, wrong, d->n_acks, first, last, cursor);
            problems += (long)(lost + wrong);
        }
        wal_reader_end(rd);
        wal_reader_free(rd);
        struct wal_verify_summary sum;
        long v = wal_verify(w, NULL, NULL, &sum);
        if (v != 0) {
            printf("#   %s: wal_verify: %ld\n", d->name, v);
            problems += v < 0 ? 1 : v;
        }
        wal_close(w);
        fflush(stdout);
        if (write(p[1], out, sizeof(out)) != (ssize_t)sizeof(out))
            _exit(1);
        _exit(problems > 250 ? 250 : (int)problems);
    }
    close(p[1]);
    uint64_t out[3] = {0, 0, 0};
    if (read(p[0], out, sizeof(out)) != (ssize_t)sizeof(out))
        memset(out, 0, sizeof(out));
    close(p[0]);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 1;
    *first_out = out[0];
    *last_out = out[1];
    *cursor_out = out[2];
    if (WIFSIGNALED(status)) {
        printf("#   %s: the checker died of signal %d\n", d->name, WTERMSIG(status));
        return 1;
    }
    return WEXITSTATUS(status);
}

/* `influx-wal verify`: 0 when it exits 0. */
static int cli_verify(const struct logdir *d, char *line, size_t cap)
{
    char cmd[PATH_MAX + 400];
    snprintf(cmd, sizeof(cmd), "timeout 60 '%s/../../../influx-wal' verify --data-dir '%s' 2>&1",
             self_dir, d->path);
    fflush(stdout);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    line[0] = '\0';
    char buf[512];
    while (fgets(buf, sizeof(buf), f) != NULL)
        if (line[0] == '\0' || strncmp(buf, "influx-wal:", 11) == 0)
            snprintf(line, cap, "%s", buf);
    size_t n = strlen(line);
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The log is created outside the shim and synced: it is on the disk before the first round. */
static int logdir_init(struct logdir *d, const char *base, const char *name, int nosync,
                       uint64_t retain_ns)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "%s/%s", base, name);
    d->name = name;
    d->nosync = nosync;
    d->retain_ns = retain_ns;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct wal_options o = {0};
        o.dir = d->path;
        o.max_bytes = 64u << 20;
        o.retain_ns = retain_ns;
        struct wal *w;
        if (wal_open(&w, &o) != 0)
            _exit(1);
        wal_close(w);
        sync();
        _exit(0);
    }
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                   WEXITSTATUS(status) == 0
               ? 0
               : -1;
}

struct totals {
    int rounds, cuts, in_commit, clean_rounds, verify_ok;
    int during_write, during_sync, during_meta;
    uint64_t acks, dropped, kept, pages_restored, unmodelled;
};

/* One crash point: run, cut, check. Returns the problems found (0: nothing lost). */
static long round_run(struct logdir *d, int round, uint64_t seed, uint64_t lo, uint64_t hi,
                      int keep, int expect_clean, struct totals *t)
{
    uint64_t crash_at = lo + mix64(seed) % (hi > lo ? hi - lo + 1 : 1);
    uint64_t keep_seed = keep ? (mix64(seed ^ 0x5bd1e995u) | 1) : 0;
    struct report r;
    uint64_t round_acks = 0;
    int status = run_child(d, crash_at, keep_seed, &r, &round_acks, NULL);
    int exited = status >= 0 && WIFEXITED(status);
    int code = exited ? WEXITSTATUS(status) : -1;
    uint64_t first = 0, last = 0, cursor = 0;
    long problems = check_log(d, &first, &last, &cursor);
    char vline[512];
    int vrc = cli_verify(d, vline, sizeof(vline));
    t->rounds++;
    t->acks += round_acks;
    t->unmodelled += r.unmodelled;
    if (r.cut) {
        t->cuts++;
        t->dropped += r.dropped;
        t->kept += r.kept;
        t->pages_restored += r.pages_restored;
        int w = strcmp(r.during, "write") == 0, s = strcmp(r.during, "fdatasync") == 0,
            m = strcmp(r.during, "dsync-write") == 0;
        t->during_write += w;
        t->during_sync += s;
        t->during_meta += m;
        t->in_commit += w || s || m;
    }
    int child_ok = exited && code == PL_EXIT;
    if (expect_clean) {
        int good = child_ok && problems == 0 && r.unmodelled == 0;
        t->clean_rounds += good;
        CHECK(good,
              "%s round %d (seed %" PRIu64 ", %s, crash at event %" PRIu64 "%s%s): %" PRIu64
              " acknowledged this round, %zu in all; log %" PRIu64 "..%" PRIu64 ", cursor %" PRIu64
              ": every acknowledged record present and intact",
              d->name, round, seed, keep ? "keep a random half" : "drop all unsynced", crash_at,
              r.cut ? " during " : ", no cut", r.cut ? r.during : "", round_acks, d->n_acks, first,
              last, cursor);
        if (!good)
            printf("#   child status %d (exit %d), %ld problems, unmodelled calls %" PRIu64
                   "; unsynced bytes %" PRIu64 ", pieces dropped %" PRIu64 " kept %" PRIu64 "\n",
                   status, code, problems, r.unmodelled, r.unsynced_bytes, r.dropped, r.kept);
        t->verify_ok += vrc == 0;
        CHECK(vrc == 0, "%s round %d: influx-wal verify: %s", d->name, round, vline);
    } else {
        printf("# %s round %d (seed %" PRIu64 ", %s, crash at event %" PRIu64
               " during %s): %" PRIu64
               " acknowledged; %ld problems found; influx-wal verify %s (%s)\n",
               d->name, round, seed, keep ? "keep" : "drop", crash_at, r.cut ? r.during : "-",
               round_acks, problems, vrc == 0 ? "passed" : "failed", vline);
        if (vrc != 0 && problems == 0)
            problems = 1;
    }
    return problems;
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "--child") == 0)
        return child_main(argv);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "--selftest") == 0)
        return selftest_main(argv[2], argc == 4);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return 2;
    exe[n] = '\0';
    snprintf(self_dir, sizeof(self_dir), "%s", exe);
    *strrchr(self_dir, '/') = '\0';
    char shim[PATH_MAX + 32];
    snprintf(shim, sizeof(shim), "%s/../../tools/powerloss.so", self_dir);
    if (access(shim, R_OK) != 0) {
        CHECK(0, "the shim %s is built (make binaries)", shim);
        return tap_done();
    }
    uint64_t t0 = now_ms();
    const char *s = getenv("IWR_PL_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 10) : (mix64((uint64_t)time(NULL)) ^ (uint64_t)getpid());
    int rounds = getenv("IWR_PL_ROUNDS") ? atoi(getenv("IWR_PL_ROUNDS")) : 64;
    printf("# seed %" PRIu64 " (IWR_PL_SEED=%" PRIu64 " replays the crash points), %d rounds\n",
           seed, seed, rounds);

    char base[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof(base), "%s/iwr-powerloss-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(base) == NULL)
        return 2;
    log_set_level(LOG_ERROR);
    struct logdir dirs[2];
    if (logdir_init(&dirs[0], base, "trimmed", 0, 0) != 0 ||
        logdir_init(&dirs[1], base, "kept", 0, 24ull * 3600 * 1000000000u) != 0) {
        CHECK(0, "create the logs in %s", base);
        return tap_done();
    }

    /* The shim first, on a known sequence of writes: dropped, then with seeded keeps. */
    struct report r;
    struct logdir sd;
    memset(&sd, 0, sizeof(sd));
    snprintf(sd.path, sizeof(sd.path), "%s/selftest", base);
    sd.name = "selftest";
    mkdir(sd.path, 0750);
    char sfile[400];
    snprintf(sfile, sizeof(sfile), "%s/f", sd.path);
    for (int i = 0; i < 9; i++) {
        static char zeros[8192];
        memset(zeros, '0', sizeof(zeros));
        int fd = open(sfile, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        if (fd < 0 || write(fd, zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros) || fsync(fd) != 0)
            return 2;
        close(fd);
        uint64_t keep = i == 0 ? 0 : mix64(seed ^ (uint64_t)i) | 1, none = 0;
        int sst = run_child(&sd, 6, keep, &r, &none, sfile);
        char why[128];
        int img = selftest_image_ok(sfile, keep != 0, why, sizeof(why));
        CHECK(sst >= 0 && WIFEXITED(sst) && WEXITSTATUS(sst) == PL_EXIT && r.cut &&
                  strcmp(r.during, "fdatasync") == 0 && img,
              "shim self-test %d (%s): cut before event 6 (%s), %" PRIu64
              " pieces dropped, %" PRIu64 " kept; file: %s",
              i, keep ? "keep seeded" : "drop all", r.cut ? r.during : "no cut", r.dropped, r.kept,
              why);
    }

    {
        static char zeros[8192], img[8200];
        memset(zeros, '0', sizeof(zeros));
        int fd = open(sfile, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        if (fd < 0 || write(fd, zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros) || fsync(fd) != 0)
            return 2;
        close(fd);
        uint64_t none = 0;
        selftest_truncate = 1;
        int sst = run_child(&sd, 3, 0, &r, &none, sfile);
        selftest_truncate = 0;
        fd = open(sfile, O_RDONLY);
        ssize_t got = fd < 0 ? -1 : read(fd, img, sizeof(img));
        if (fd >= 0)
            close(fd);
        CHECK(sst >= 0 && WIFEXITED(sst) && WEXITSTATUS(sst) == PL_EXIT && r.cut &&
                  got == (ssize_t)sizeof(zeros) && memcmp(img, zeros, sizeof(zeros)) == 0,
              "shim self-test of ftruncate: cut before the fdatasync (%s), the file back to its "
              "%zd durable bytes",
              r.cut ? r.during : "no cut", got);
    }

    /* Calibration: a child without a cut, to learn how many events a run makes. */
    uint64_t cal_acks = 0;
    int st = run_child(&dirs[0], 0, 0, &r, &cal_acks, NULL);
    CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && r.events > 0 && r.unmodelled == 0,
          "calibration: a run of %" PRIu64 " acknowledgements makes %" PRIu64
          " write/sync calls on the log's files, none unmodelled",
          cal_acks, r.events);
    /* Crash points within that; a child with a cut point appends until it reaches it. */
    uint64_t events = r.events ? r.events : 200;

    struct totals t = {0};
    for (int i = 0; i < rounds; i++) {
        struct logdir *d = &dirs[i % 2];
        round_run(d, i, mix64(seed + (uint64_t)i), 1, events, (i / 2) % 2, 1, &t);
    }
    uint64_t sync_ms = now_ms() - t0;
    CHECK(t.cuts == t.rounds && t.in_commit >= 50,
          "%d of %d rounds cut the power, %d at a write or sync (%d during a page write, %d "
          "before its fdatasync, %d before the meta page write), %d elsewhere (ftruncate, exit)",
          t.cuts, t.rounds, t.in_commit, t.during_write, t.during_sync, t.during_meta,
          t.cuts - t.in_commit);
    CHECK(t.during_write > 0 && t.during_sync > 0 && t.during_meta > 0,
          "cuts landed in every step of a commit");
    CHECK(t.kept > 0 && t.dropped > 0,
          "%" PRIu64 " unsynced page writes dropped, %" PRIu64 " kept (reordering), %" PRIu64
          " pages restored to their pre-image",
          t.dropped, t.kept, t.pages_restored);
    CHECK(t.unmodelled == 0, "LMDB made no call the shim does not model");
    printf("# synchronous: %d rounds, %" PRIu64 " records acknowledged, %d clean, %d verified, "
           "%.1f s\n",
           t.rounds, t.acks, t.clean_rounds, t.verify_ok, (double)sync_ms / 1000);

    /* The negative control: the same harness with nosync must lose acknowledged records. Each
     * round gets a fresh log: a log without syncs may be left unreadable. */
    uint64_t t1 = now_ms();
    struct totals nt = {0};
    struct logdir cal;
    uint64_t neg_events = 0;
    if (logdir_init(&cal, base, "nosync-calibration", 1, 0) == 0 &&
        run_child(&cal, 0, 0, &r, &cal_acks, NULL) >= 0)
        neg_events = r.events;
    free(cal.acks);
    CHECK(neg_events > 0, "nosync calibration: %" PRIu64 " write calls in a run", neg_events);
    int detected = 0;
    uint64_t neg_acked = 0;
    for (int i = 0; i < NEG_ROUNDS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "nosync%d", i);
        struct logdir nd;
        if (logdir_init(&nd, base, name, 1, 0) != 0) {
            CHECK(0, "create %s", name);
            continue;
        }
        nd.name = name;
        uint64_t before = nt.acks;
        /* Cuts in the second half of the run: most acknowledgements are out by then. */
        uint64_t nseed = mix64(seed ^ (0xbadull + (uint64_t)i));
        long p = round_run(&nd, i, nseed, neg_events / 2, neg_events * 4 / 5, i % 2, 0, &nt);
        neg_acked += nt.acks - before;
        detected += p > 0;
        free(nd.acks);
    }
    uint64_t neg_ms = now_ms() - t1;
    CHECK(detected >= 1,
          "negative control (nosync): %d of %d power cuts lost acknowledged records or left the "
          "log failing verify (%" PRIu64 " records acknowledged), %.1f s",
          detected, NEG_ROUNDS, neg_acked, (double)neg_ms / 1000);
    printf("# total %.1f s\n", (double)(now_ms() - t0) / 1000);
    free(dirs[0].acks);
    free(dirs[1].acks);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (tap_fail == 0 && system(cmd) != 0)
        printf("# could not remove %s\n", base);
    return tap_done();
}
