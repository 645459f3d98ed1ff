/* Crash safety: a child appends in a loop (many appends in flight, so commits are shared) and
 * reports every acknowledged sequence to the parent over a pipe; the parent SIGKILLs it at a
 * random moment after its first acknowledgement of the round. After each round the log must
 * hold every acknowledged record intact, with contiguous sequences. 20 rounds, each bounded in
 * time. */
#include "tests/unit/tap.h"

#include "common/err.h"
#include "common/log.h"
#include "wal/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 20
#define FIRST_ACK_MS 10000 /* the bound on a round's wait for its first acknowledgement */
#define IN_FLIGHT 16

struct child {
    struct wal *w;
    int fd;
    uint64_t n;
    char body[256];
};

static void child_submit(struct child *c);

static void child_done(void *arg, int rc, uint64_t seq)
{
    struct child *c = arg;
    if (rc != 0)
        _exit(3);
    if (write(c->fd, &seq, sizeof(seq)) != sizeof(seq))
        _exit(4);
    child_submit(c);
}

static void child_submit(struct child *c)
{
    /* The body names its own content checksum-free: the parent checks it decodes and parses. */
    int len = snprintf(c->body, sizeof(c->body), "crash,round=x n=%" PRIu64 "i %" PRIu64 "\n",
                       c->n, (uint64_t)1700000000000000000u + c->n);
    c->n++;
    struct wal_record r = {0};
    r.db = "crash";
    r.db_len = 5;
    r.rp = "";
    r.body = c->body;
    r.body_len = (size_t)len;
    r.points = 1;
    r.recv_ns = wal_now_ns();
    wal_append(c->w, &r, child_done, c);
}

static void child_main(const char *dir, int fd)
{
    struct wal_options o = {0};
    o.dir = dir;
    o.max_bytes = 256u << 20;
    struct child c = {0};
    c.fd = fd;
    if (wal_open(&c.w, &o) != 0)
        _exit(2);
    for (int i = 0; i < IN_FLIGHT; i++)
        child_submit(&c);
    for (;;)
        wal_complete_wait(c.w, 1000);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(void)
{
    char dir[256];
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/iwr-crash-XXXXXX", t ? t : "/tmp");
    if (mkdtemp(dir) == NULL)
        return 2;
    log_set_level(LOG_ERROR);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    uint64_t acked_max = 0, acked_total = 0;
    int ok_rounds = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int p[2];
        if (pipe(p) != 0)
            return 2;
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child_main(dir, p[1]);
        }
        close(p[1]);
        /* Let it run 20-300 ms, reading acknowledgements as they come; but never kill it
         * before its first acknowledgement of the round (a loaded machine may not even have
         * opened the log by then, and a kill before any append proves nothing), waiting up to
         * FIRST_ACK_MS for it. */
        uint64_t start = now_ms();
        uint64_t until = start + 20 + (uint64_t)(rand() % 280);
        uint64_t round_acks = 0;
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        for (;;) {
            uint64_t now = now_ms();
            if (now >= until && (round_acks > 0 || now >= start + FIRST_ACK_MS))
                break;
            uint64_t wait = now < until ? until - now : start + FIRST_ACK_MS - now;
            struct pollfd pf = {p[0], POLLIN, 0};
            poll(&pf, 1, (int)wait);
            uint64_t seq;
            ssize_t got;
            while ((got = read(p[0], &seq, sizeof(seq))) == sizeof(seq)) {
                acked_max = seq > acked_max ? seq : acked_max;
                round_acks++;
            }
            if (got == 0)
                break; /* the child is gone (it failed): nothing more will come */
        }
        CHECK(round_acks > 0, "round %d: the child acknowledged an append within %d ms", round,
              FIRST_ACK_MS);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        /* Whatever reached the pipe before the kill was acknowledged: drain it. */
        uint64_t seq;
        while (read(p[0], &seq, sizeof(seq)) == sizeof(seq)) {
            acked_max = seq > acked_max ? seq : acked_max;
            round_acks++;
        }
        close(p[0]);
        acked_total += round_acks;
        int killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;

        /* Reopen and check everything. */
        struct wal_options o = {0};
        o.dir = dir;
        o.max_bytes = 256u << 20;
        struct wal *w;
        int rc = wal_open(&w, &o);
        if (rc != 0) {
            CHECK(0, "round %d: reopen failed: %s", round, iwr_strerror(rc));
            continue;
        }
        struct wal_reader *rd;
        wal_reader_new(w, &rd);
        wal_reader_begin(rd);
        uint64_t first, last, high, expect = 0, bad = 0, count = 0;
        wal_reader_bounds(rd, &first, &last, &high);
        struct wal_record rec;
        uint64_t after = 0;
        while ((rc = wal_reader_next(rd, after, &rec)) == 0 || rc == IWR_ECORRUPT) {
            if (rc != 0 || rec.seq != expect + 1 || rec.db_len != 5 ||
                memcmp(rec.body, "crash,round=x n=", 16) != 0 || rec.body[rec.body_len - 1] != '\n')
                bad++;
            expect = rec.seq;
            after = rec.seq;
            count++;
        }
        wal_reader_end(rd);
        wal_reader_free(rd);
        wal_close(w);
        int good = killed && first == 1 && bad == 0 && last >= acked_max && count == last;
        if (good)
            ok_rounds++;
        CHECK(good,
              "round %d: killed after %" PRIu64 " acks; log 1..%" PRIu64 " holds every "
              "acknowledged record (max %" PRIu64 "), contiguous and intact",
              round, round_acks, last, acked_max);
        if (!good)
            printf("#   killed=%d first=%" PRIu64 " bad=%" PRIu64 " count=%" PRIu64 "\n", killed,
                   first, bad, count);
    }
    CHECK(acked_total > 0, "the child acknowledged %" PRIu64 " records over %d rounds",
          acked_total, ROUNDS);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (tap_fail == 0 && system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
