/* Unit tests of the log: every operation and its error paths, on fresh directories under
 * $TMPDIR. */
#include "tests/unit/tap.h"

#include "common/err.h"
#include "common/log.h"
#include "wal/wal.h"
#include "wal/wal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmproot[256];
static int dir_n;

static const char *fresh_dir(void)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/d%d", tmproot, ++dir_n);
    return path;
}

static struct wal *open_wal(const char *dir, size_t max_bytes, enum wal_full_policy pol)
{
    struct wal_options o = {0};
    o.dir = dir;
    o.max_bytes = max_bytes;
    o.full_policy = pol;
    struct wal *w = NULL;
    int rc = wal_open(&w, &o);
    if (rc != 0)
        printf("# wal_open %s: %s\n", dir, iwr_strerror(rc));
    return w;
}

static struct wal_record mkrec(const char *db, const char *body)
{
    struct wal_record r = {0};
    r.db = db;
    r.db_len = strlen(db);
    r.rp = "";
    r.body = body;
    r.body_len = strlen(body);
    r.points = 1;
    r.recv_ns = wal_now_ns();
    return r;
}

static int append_body(struct wal *w, const char *body, uint64_t *seq)
{
    struct wal_record r = mkrec("db", body);
    return wal_append_sync(w, &r, seq);
}

static void test_empty(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    CHECK(w != NULL, "open creates a fresh log");
    struct wal_stats st;
    struct wal_cursor_info *ci;
    size_t n;
    CHECK_EQ_INT(wal_stats(w, &st, &ci, &n), 0, "stats on an empty log");
    CHECK(st.first_seq == 0 && st.last_seq == 0 && st.records == 0 && n == 0,
          "empty log has no records and no cursors");
    free(ci);
    struct wal_reader *r;
    wal_reader_new(w, &r);
    CHECK_EQ_INT(wal_reader_begin(r), 0, "reader begins");
    struct wal_record rec;
    CHECK_EQ_INT(wal_reader_next(r, 0, &rec), IWR_ENOTFOUND, "reading an empty log: not found");
    uint64_t s;
    CHECK_EQ_INT(wal_reader_cursor(r, "nobody", &s), IWR_ENOTFOUND, "unknown backend cursor");
    wal_reader_end(r);
    wal_reader_free(r);
    CHECK_EQ_INT(wal_cursor_move_sync(w, "nobody", 0, 0), IWR_ENOTFOUND,
                 "compare-and-set on an unknown backend fails");
    CHECK_EQ_INT(wal_cursor_forget_sync(w, "nobody"), IWR_ENOTFOUND, "forget unknown backend");
    CHECK_EQ_INT(wal_cursor_move_sync(w, "bad name", WAL_SEQ_ANY, 0), IWR_EINVAL,
                 "a name with a space is refused");
    wal_close(w);
}

static void test_append_read(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    uint64_t s1 = 0, s2 = 0, s3 = 0;
    CHECK_EQ_INT(append_body(w, "cpu v=1 1\n", &s1), 0, "append 1");
    CHECK_EQ_INT(append_body(w, "cpu v=2 2\n", &s2), 0, "append 2");
    struct wal_record r = mkrec("other", "mem v=3 3\nmem v=4 4\n");
    r.rp = "autogen";
    r.rp_len = 7;
    r.points = 2;
    r.precision = 3;
    r.consistency = 2;
    r.recv_ns = 123456789;
    CHECK_EQ_INT(wal_append_sync(w, &r, &s3), 0, "append 3 with every header field");
    CHECK(s1 == 1 && s2 == 2 && s3 == 3, "sequences start at 1 and are contiguous");

    struct wal_reader *rd;
    wal_reader_new(w, &rd);
    wal_reader_begin(rd);
    struct wal_record got;
    CHECK_EQ_INT(wal_reader_next(rd, 0, &got), 0, "read first");
    CHECK(got.seq == 1 && got.body_len == 10 && memcmp(got.body, "cpu v=1 1\n", 10) == 0,
          "first record's body");
    CHECK_EQ_INT(got.offset, 0, "first record's offset is 0");
    CHECK_EQ_INT(wal_reader_next(rd, 1, &got), 0, "read second");
    CHECK_EQ_INT(got.offset, 10, "second record's offset counts the first body");
    CHECK_EQ_INT(wal_reader_next(rd, 2, &got), 0, "read third");
    CHECK(got.seq == 3 && got.db_len == 5 && memcmp(got.db, "other", 5) == 0 &&
              got.rp_len == 7 && memcmp(got.rp, "autogen", 7) == 0 && got.points == 2 &&
              got.precision == 3 && got.consistency == 2 && got.recv_ns == 123456789 &&
              got.target_len == 0,
          "third record's header round-trips");
    CHECK_EQ_INT(wal_reader_next(rd, 3, &got), IWR_ENOTFOUND, "nothing after the last");
    uint64_t f, l, h;
    CHECK_EQ_INT(wal_reader_bounds(rd, &f, &l, &h), 0, "bounds");
    CHECK(f == 1 && l == 3 && h == 3, "bounds are 1..3");
    wal_reader_end(rd);
    wal_reader_free(rd);

    /* Reopen: everything is still there. */
    wal_close(w);
    w = open_wal(dir, 0, WAL_FULL_REJECT);
    struct wal_stats st;
    CHECK_EQ_INT(wal_stats(w, &st, NULL, NULL), 0, "stats after reopen");
    CHECK(st.first_seq == 1 && st.last_seq == 3 && st.records == 3, "reopen keeps 3 records");
    CHECK_EQ_INT(st.head_offset, 10 + 10 + 20, "head offset is the sum of the bodies");
    uint64_t s4;
    CHECK_EQ_INT(append_body(w, "x v=1\n", &s4), 0, "append after reopen");
    CHECK_EQ_INT(s4, 4, "sequence continues after reopen");
    struct wal_counters c;
    wal_counters_get(w, &c);
    CHECK(c.first_seq == 1 && c.last_seq == 4 && c.records == 4 && c.appended == 1,
          "counters follow commits");
    wal_close(w);
}

static void test_cursors_and_trim(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    uint64_t s;
    for (int i = 0; i < 10; i++)
        append_body(w, "cpu v=1\n", &s);
    CHECK_EQ_INT(wal_cursor_move_sync(w, "a", WAL_SEQ_ANY, 0), 0, "create cursor a at 0");
    CHECK_EQ_INT(wal_cursor_move_sync(w, "b", WAL_SEQ_ANY, 0), 0, "create cursor b at 0");
    CHECK_EQ_INT(wal_cursor_move_sync(w, "a", 0, 6), 0, "move a 0 -> 6");
    CHECK_EQ_INT(wal_cursor_move_sync(w, "a", 0, 7), IWR_ECONFLICT,
                 "compare-and-set from a stale value conflicts");
    CHECK_EQ_INT(wal_cursor_move_sync(w, "a", 6, 11), IWR_EINVAL, "beyond the last sequence");
    struct wal_stats st;
    struct wal_cursor_info *ci;
    size_t n;
    wal_stats(w, &st, &ci, &n);
    CHECK_EQ_INT(st.first_seq, 1, "b at 0 holds every record");
    CHECK(n == 2 && strcmp(ci[0].name, "a") == 0 && ci[0].seq == 6 && ci[0].lag_records == 4 &&
              ci[0].lag_bytes == 4 * 8 && strcmp(ci[1].name, "b") == 0 &&
              ci[1].lag_records == 10 && ci[1].lag_bytes == 80,
          "per-cursor lag in records and bytes");
    free(ci);
    CHECK_EQ_INT(wal_cursor_move_sync(w, "b", 0, 3), 0, "move b 0 -> 3");
    wal_stats(w, &st, NULL, NULL);
    CHECK(st.first_seq == 4 && st.records == 7, "records at or below the lowest cursor are gone");
    CHECK_EQ_INT(wal_cursor_forget_sync(w, "b"), 0, "forget b");
    wal_stats(w, &st, &ci, &n);
    CHECK(st.first_seq == 7 && n == 1, "a forgotten backend no longer holds truncation back");
    free(ci);
    CHECK_EQ_INT(wal_cursor_move_sync(w, "a", 6, 10), 0, "a catches up");
    wal_stats(w, &st, &ci, &n);
    CHECK(st.records == 0 && st.last_seq == 10 && ci[0].lag_records == 0 && ci[0].lag_bytes == 0,
          "fully trimmed log, lag 0");
    free(ci);
    wal_close(w);
    /* The high-water mark survives a fully trimmed log: numbers are never reused. */
    w = open_wal(dir, 0, WAL_FULL_REJECT);
    CHECK_EQ_INT(append_body(w, "cpu v=1\n", &s), 0, "append to a trimmed log");
    CHECK_EQ_INT(s, 11, "sequence continues past the trimmed records");
    wal_close(w);
}

static void test_state(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    struct wal_reader *r;
    char buf[WAL_STATE_MAX + 1];
    wal_reader_new(w, &r);
    wal_reader_begin(r);
    CHECK_EQ_INT(wal_reader_state(r, "b", buf, sizeof(buf)), IWR_ENOTFOUND, "no state yet");
    wal_reader_end(r);
    CHECK_EQ_INT(wal_state_set_sync(w, "b", "rebuild from=a seq=3", 20), 0, "set a state");
    CHECK_EQ_INT(wal_state_set_sync(w, "b:x", "x", 1), IWR_EINVAL, "a bad name is refused");
    char big[WAL_STATE_MAX + 2];
    memset(big, 'x', sizeof(big));
    CHECK_EQ_INT(wal_state_set_sync(w, "b", big, sizeof(big)), IWR_EINVAL, "too long");
    CHECK_EQ_INT(wal_cursor_move_sync(w, "b", WAL_SEQ_ANY, 0), 0, "a cursor next to it");
    CHECK_EQ_INT(wal_cursor_forget_sync(w, "b"), 0, "forget the cursor");
    wal_reader_free(r);
    wal_close(w);
    w = open_wal(dir, 0, WAL_FULL_REJECT);
    wal_reader_new(w, &r);
    wal_reader_begin(r);
    CHECK_EQ_INT(wal_reader_state(r, "b", buf, sizeof(buf)), 0, "the state survives a restart");
    CHECK(strcmp(buf, "rebuild from=a seq=3") == 0, "and a forget of the cursor");
    CHECK_EQ_INT(wal_reader_state(r, "b", buf, 8), 0, "a short buffer");
    CHECK(strcmp(buf, "rebuild") == 0, "cuts the value");
    wal_reader_end(r);
    CHECK_EQ_INT(wal_state_set_sync(w, "b", NULL, 0), 0, "delete");
    wal_reader_begin(r);
    CHECK_EQ_INT(wal_reader_state(r, "b", buf, sizeof(buf)), IWR_ENOTFOUND, "gone");
    wal_reader_end(r);
    CHECK_EQ_INT(wal_state_set_sync(w, "b", NULL, 0), 0, "deleting nothing is fine");
    struct wal_verify_summary sum;
    CHECK_EQ_INT(wal_verify(w, NULL, NULL, &sum), 0, "the log verifies");
    wal_reader_free(r);
    wal_close(w);
}

static void test_trim_chunks_and_retention(void)
{
    const char *dir = fresh_dir();
    struct wal_options o = {0};
    o.dir = dir;
    o.trim_chunk = 7;
    struct wal *w;
    CHECK_EQ_INT(wal_open(&w, &o), 0, "open with a small trim chunk");
    uint64_t s;
    for (int i = 0; i < 50; i++)
        append_body(w, "cpu v=1\n", &s);
    wal_cursor_move_sync(w, "a", WAL_SEQ_ANY, 50);
    struct wal_stats st;
    wal_stats(w, &st, NULL, NULL);
    CHECK(st.records == 50 - 7, "one commit deletes at most one chunk");
    /* The writer keeps going by itself until the log is trimmed. */
    for (int i = 0; i < 200 && st.records > 0; i++) {
        usleep(10000);
        wal_stats(w, &st, NULL, NULL);
    }
    CHECK_EQ_INT(st.records, 0, "the rest is trimmed in further chunks without new writes");
    wal_close(w);

    o.dir = fresh_dir();
    o.trim_chunk = 0;
    o.retain_ns = 3600ull * 1000000000ull;
    CHECK_EQ_INT(wal_open(&w, &o), 0, "open with a retention window");
    for (int i = 0; i < 5; i++)
        append_body(w, "cpu v=1\n", &s);
    wal_cursor_move_sync(w, "a", WAL_SEQ_ANY, 5);
    wal_stats(w, &st, NULL, NULL);
    CHECK_EQ_INT(st.records, 5, "acknowledged records inside the retention window are kept");
    struct wal_record old = mkrec("db", "old v=1\n");
    old.recv_ns = wal_now_ns() - 2 * o.retain_ns;
    wal_append_sync(w, &old, &s);
    wal_cursor_move_sync(w, "a", 5, 6);
    wal_stats(w, &st, NULL, NULL);
    CHECK_EQ_INT(st.records, 6, "retention stops at the first young record (log order)");
    /* A second writer (the CLI) adopts the daemon's window instead of trimming with its own. */
    struct wal_options ao = {0};
    ao.dir = o.dir;
    ao.adopt = 1;
    struct wal *cli;
    CHECK_EQ_INT(wal_open(&cli, &ao), 0, "a CLI opens next to the daemon");
    CHECK_EQ_INT(wal_cursor_move_sync(cli, "a", 6, 6), 0, "the CLI commits a cursor move");
    wal_stats(cli, &st, NULL, NULL);
    CHECK_EQ_INT(st.records, 6, "and its commit keeps the daemon's retention window");
    wal_close(cli);
    wal_close(w);
}

static void test_full(void)
{
    char body[3000];
    memset(body, 'x', sizeof(body) - 2);
    memcpy(body, "m f=\"", 5);
    body[sizeof(body) - 3] = '"';
    body[sizeof(body) - 2] = '\n';
    body[sizeof(body) - 1] = '\0';

    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 64 * 1024, WAL_FULL_REJECT);
    uint64_t s = 0;
    int rc = 0, n = 0;
    while (n < 1000 && (rc = append_body(w, body, &s)) == 0)
        n++;
    CHECK_EQ_INT(rc, IWR_EFULL, "reject: a full log refuses appends with IWR_EFULL");
    CHECK(n > 5 && n < 40, "reject: the limit is close to 64 KiB of records (%d)", n);
    struct wal_counters c;
    wal_counters_get(w, &c);
    CHECK_EQ_INT(c.rejected_full, 1, "reject: counted");
    CHECK(!c.writable && c.full_reason == WAL_FULL_MAX_SIZE,
          "reject: the log says it is not writable, because of max-size (%d, %d)", c.writable,
          (int)c.full_reason);
    CHECK(c.limit_bytes == 64 * 1024 && c.full_policy == WAL_FULL_REJECT,
          "reject: the counters carry the limit and the policy in force");
    wal_cursor_move_sync(w, "a", WAL_SEQ_ANY, (uint64_t)n);
    CHECK_EQ_INT(append_body(w, body, &s), 0, "reject: room again once the backend caught up");
    wal_counters_get(w, &c);
    CHECK(c.writable && c.full_reason == WAL_FULL_NONE, "reject: writable again after an append");
    wal_close(w);

    dir = fresh_dir();
    w = open_wal(dir, 64 * 1024, WAL_FULL_DROP_OLDEST);
    wal_cursor_move_sync(w, "a", WAL_SEQ_ANY, 0);
    for (int i = 0; i < 100; i++)
        if ((rc = append_body(w, body, &s)) != 0)
            break;
    CHECK_EQ_INT(rc, 0, "drop-oldest: appends keep succeeding");
    struct wal_stats st;
    struct wal_cursor_info *ci;
    size_t nc;
    wal_stats(w, &st, &ci, &nc);
    CHECK(st.first_seq > 1 && st.last_seq == 100 && st.log_bytes <= 64 * 1024,
          "drop-oldest: the oldest went, the log is within its limit");
    CHECK(st.dropped_records == st.first_seq - 1, "drop-oldest: dropped records are counted");
    CHECK(nc == 1 && ci[0].seq == st.first_seq - 1, "drop-oldest: the cursor moved past them");
    free(ci);
    wal_close(w);
}

static int commits_seen;

static void count_commit(void *arg)
{
    (void)arg;
    commits_seen++;
}

/* "New records were committed" is raised by wal_complete, once per completion run that had
 * appends, after their callbacks; cursor moves alone raise nothing. */
static void test_on_commit(void)
{
    struct wal *w = open_wal(fresh_dir(), 0, WAL_FULL_REJECT);
    wal_on_commit(w, count_commit, NULL);
    uint64_t s;
    CHECK_EQ_INT(append_body(w, "cpu v=1 1\n", &s), 0, "on_commit: an append");
    CHECK_EQ_INT(commits_seen, 1, "on_commit: raised once for the commit of an append");
    CHECK_EQ_INT(wal_cursor_move_sync(w, "a", WAL_SEQ_ANY, 1), 0, "on_commit: a cursor move");
    CHECK_EQ_INT(commits_seen, 1, "on_commit: not raised for a cursor move");
    wal_on_commit(w, NULL, NULL);
    append_body(w, "cpu v=2 2\n", &s);
    CHECK_EQ_INT(commits_seen, 1, "on_commit: not raised once unsubscribed");
    wal_close(w);
}

/* A fatal LMDB state never exits: submits and readers get IWR_EFATAL, the counters say so. */
static void test_fatal(void)
{
    struct wal *w = open_wal(fresh_dir(), 0, WAL_FULL_REJECT);
    uint64_t s;
    CHECK_EQ_INT(append_body(w, "cpu v=1 1\n", &s), 0, "fatal: an append before");
    CHECK_EQ_INT(wal_fatal_check(w, 0, "test"), 0, "fatal: success is not fatal");
    CHECK_EQ_INT(wal_fatal_check(w, ENOSPC, "test"), 0, "fatal: ENOSPC is not fatal");
    log_set_level(LOG_OFF);
    CHECK_EQ_INT(wal_fatal_check(w, MDB_PANIC, "test"), IWR_EFATAL, "fatal: MDB_PANIC is");
    log_set_level(LOG_ERROR);
    CHECK_EQ_INT(append_body(w, "cpu v=2 2\n", &s), IWR_EFATAL, "fatal: appends get IWR_EFATAL");
    CHECK_EQ_INT(wal_cursor_move_sync(w, "a", WAL_SEQ_ANY, 1), IWR_EFATAL,
                 "fatal: cursor moves get IWR_EFATAL");
    struct wal_counters c;
    wal_counters_get(w, &c);
    CHECK(c.fatal == IWR_EFATAL && !c.writable, "fatal: the counters say so, not writable");
    struct wal_reader *r;
    CHECK_EQ_INT(wal_reader_new(w, &r), 0, "fatal: a reader object");
    CHECK_EQ_INT(wal_reader_begin(r), IWR_EFATAL, "fatal: readers get IWR_EFATAL");
    wal_reader_free(r);
    CHECK(strcmp(iwr_strerror(IWR_EFATAL), "unknown error") != 0, "fatal: the code has a text");
    wal_close(w);
}

/* One daemon per log: a second daemon's open is refused with the holder's PID in the lock
 * file; the CLI's open is not; the kernel drops the lock of a killed process. */
static void test_lock(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    struct wal_options o = {0};
    o.dir = dir;
    struct wal *w2 = NULL;
    CHECK_EQ_INT(wal_open(&w2, &o), IWR_ELOCKED, "lock: a second daemon's open is refused");
    CHECK(wal_lock_holder(dir) == (long)getpid(), "lock: the file names the holder's PID");
    o.adopt = 1;
    CHECK_EQ_INT(wal_open(&w2, &o), 0, "lock: the CLI opens next to the daemon");
    wal_close(w2);
    wal_close(w);
    o.adopt = 0;
    CHECK_EQ_INT(wal_open(&w, &o), 0, "lock: free again once the daemon closed the log");
    wal_close(w);

    int ready[2];
    if (pipe(ready) != 0)
        return;
    pid_t child = fork();
    if (child == 0) {
        struct wal *cw;
        char c = wal_open(&cw, &o) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c = 0;
    CHECK(read(ready[0], &c, 1) == 1 && c == 'y', "lock: a child process opens the log");
    CHECK_EQ_INT(wal_open(&w, &o), IWR_ELOCKED, "lock: refused while the child holds it");
    CHECK(wal_lock_holder(dir) == (long)child, "lock: the file names the child's PID");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK_EQ_INT(wal_open(&w, &o), 0, "lock: after SIGKILL of the holder, nothing is stale");
    CHECK(wal_lock_holder(dir) == (long)getpid(), "lock: and the file names the new holder");
    wal_close(w);
    close(ready[0]);
    close(ready[1]);
}

/* The default reserve is the smaller of 64 MiB and 5% of the filesystem; a max-size that
 * does not fit with it is lowered to the filesystem less the reserve. */
static void test_space_defaults(void)
{
    const char *dir = fresh_dir();
    struct statvfs sv;
    CHECK_EQ_INT(statvfs(tmproot, &sv), 0, "space: statvfs of the test directory");
    uint64_t fs = (uint64_t)sv.f_blocks * sv.f_frsize;
    uint64_t dflt = fs / 20 < ((uint64_t)64 << 20) ? fs / 20 : (uint64_t)64 << 20;
    struct wal_options o = {0};
    o.dir = dir;
    o.min_free_bytes = WAL_MIN_FREE_DEFAULT;
    o.max_bytes = (size_t)(fs * 2); /* cannot fit: the limit in force is lowered */
    o.map_bytes = (size_t)1 << 30;  /* keep the map small: the limit is only compared */
    struct wal *w;
    log_set_level(LOG_OFF);
    int rc = wal_open(&w, &o);
    log_set_level(LOG_ERROR);
    CHECK_EQ_INT(rc, 0, "space: an oversized max-size is not an error");
    if (rc != 0)
        return;
    struct wal_counters c;
    wal_counters_get(w, &c);
    CHECK(c.min_free_bytes == dflt, "space: the default reserve is min(64 MiB, 5%%) (%zu)",
          c.min_free_bytes);
    CHECK(c.limit_bytes == fs - dflt, "space: the limit is the filesystem less the reserve");
    wal_close(w);

    o.min_free_bytes = (size_t)(fs + 1); /* explicit, larger than the filesystem */
    o.max_bytes = 1 << 20;
    log_set_level(LOG_OFF);
    rc = wal_open(&w, &o);
    log_set_level(LOG_ERROR);
    CHECK_EQ_INT(rc, 0, "space: a reserve larger than the filesystem is not an error");
    if (rc != 0)
        return;
    wal_counters_get(w, &c);
    CHECK(c.min_free_bytes == dflt && c.limit_bytes == 1 << 20,
          "space: it gets the default reserve, max-size stays (%zu, %zu)", c.min_free_bytes,
          c.limit_bytes);
    wal_close(w);

    o.min_free_bytes = 4096; /* explicit: used as written */
    CHECK_EQ_INT(wal_open(&w, &o), 0, "space: an explicit reserve");
    wal_counters_get(w, &c);
    CHECK(c.min_free_bytes == 4096, "space: an explicit reserve is used as written");
    wal_close(w);
}

static void test_corrupt(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    uint64_t s;
    append_body(w, "cpu v=1 1\n", &s);
    append_body(w, "cpu MARKERMARKERMARKER=1 2\n", &s);
    append_body(w, "cpu v=3 3\n", &s);
    wal_close(w);
    char path[600];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    int fd = open(path, O_RDWR);
    char buf[1 << 16];
    ssize_t got = read(fd, buf, sizeof(buf));
    char *m = got > 0 ? memmem(buf, (size_t)got, "MARKERMARKER", 12) : NULL;
    CHECK(m != NULL, "marker found in data.mdb");
    if (m != NULL) {
        m[3] ^= 0x20;
        pwrite(fd, buf, (size_t)got, 0);
    }
    close(fd);
    w = open_wal(dir, 0, WAL_FULL_REJECT);
    struct wal_reader *rd;
    wal_reader_new(w, &rd);
    wal_reader_begin(rd);
    struct wal_record rec;
    CHECK_EQ_INT(wal_reader_next(rd, 0, &rec), 0, "the intact record before reads");
    CHECK_EQ_INT(wal_reader_next(rd, 1, &rec), IWR_ECORRUPT, "the flipped record is corrupt");
    CHECK(rec.seq == 2 && rec.body == NULL, "reported with its sequence, no data returned");
    CHECK_EQ_INT(wal_reader_next(rd, 2, &rec), 0, "the record after it reads");
    wal_reader_end(rd);
    wal_reader_free(rd);
    wal_close(w);
}

static void test_format_version(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    MDB_txn *txn;
    mdb_txn_begin(w->env, NULL, 0, &txn);
    unsigned char v[8];
    wal_put64(v, WAL_FORMAT_VERSION + 1);
    MDB_val k = {6, "format"}, d = {8, v};
    mdb_put(txn, w->meta, &k, &d, 0);
    mdb_txn_commit(txn);
    wal_close(w);
    struct wal_options o = {0};
    o.dir = dir;
    CHECK_EQ_INT(wal_open(&w, &o), IWR_EVERSION, "a newer format is refused");
    o.readonly = 1;
    CHECK_EQ_INT(wal_open(&w, &o), IWR_EVERSION, "also when opened read-only");
    o.dir = fresh_dir();
    CHECK_EQ_INT(wal_open(&w, &o), -ENOENT, "read-only open of a missing directory: ENOENT");
}

static uint64_t format_of(const char *dir)
{
    struct wal_options o = {0};
    o.dir = dir;
    o.readonly = 1;
    struct wal *w;
    if (wal_open(&w, &o) != 0)
        return 0;
    MDB_txn *txn;
    uint64_t f = 0;
    mdb_txn_begin(w->env, NULL, MDB_RDONLY, &txn);
    MDB_val k = {6, "format"}, d;
    if (mdb_get(txn, w->meta, &k, &d) == 0 && d.mv_size == 8)
        f = wal_get64(d.mv_data);
    mdb_txn_abort(txn);
    wal_close(w);
    return f;
}

/* A log is marked format 2 only by an opener that may write shard parts, never lowered. */
static void test_format_marking(void)
{
    const char *dir = fresh_dir();
    struct wal_options o = {0};
    o.dir = dir;
    struct wal *w;
    CHECK_EQ_INT(wal_open(&w, &o), 0, "open without shard parts");
    wal_close(w);
    CHECK_EQ_INT((int)format_of(dir), 1, "a log without shard parts is format 1, as 0.1 reads it");
    o.format = WAL_FORMAT_VERSION;
    CHECK_EQ_INT(wal_open(&w, &o), 0, "open by a daemon with shards");
    wal_close(w);
    CHECK_EQ_INT((int)format_of(dir), WAL_FORMAT_VERSION, "marked 2 once shard parts may come");
    o.format = 0;
    CHECK_EQ_INT(wal_open(&w, &o), 0, "open without shards again");
    wal_close(w);
    CHECK_EQ_INT((int)format_of(dir), WAL_FORMAT_VERSION, "never lowered: it may hold parts");
}

static void test_dead_letters(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    uint64_t s;
    append_body(w, "cpu v=1 1\n", &s);
    wal_cursor_move_sync(w, "a", WAL_SEQ_ANY, 0);
    wal_cursor_move_sync(w, "b", WAL_SEQ_ANY, 0);
    struct wal_record bad = mkrec("db", "cpu v=\"str\" 1\n");
    bad.seq = 1;
    const char *ans = "400 {\"error\":\"field type conflict\"}";
    CHECK_EQ_INT(wal_dead_add_sync(w, "b", &bad, ans, strlen(ans)), 0, "dead letter for b");
    CHECK_EQ_INT(wal_dead_add_sync(w, "b", &bad, ans, strlen(ans)), 0, "second for b");
    CHECK_EQ_INT(wal_dead_add_sync(w, "a", &bad, ans, strlen(ans)), 0, "one for a");
    struct wal_reader *rd;
    wal_reader_new(w, &rd);
    wal_reader_begin(rd);
    struct wal_dead_letter dl;
    int n = 0;
    char after[WAL_NAME_MAX + 1] = "";
    uint64_t after_id = 0;
    while (wal_reader_dead_next(rd, "b", n ? after : NULL, after_id, &dl) == 0) {
        n++;
        strcpy(after, dl.backend);
        after_id = dl.id;
        CHECK(strcmp(dl.backend, "b") == 0 && dl.rec.seq == 1 &&
                  dl.answer_len == strlen(ans) && memcmp(dl.answer, ans, dl.answer_len) == 0 &&
                  dl.rec.body_len == bad.body_len,
              "dead letter %d of b: backend, source sequence, answer and lines", n);
    }
    CHECK_EQ_INT(n, 2, "b has 2 dead letters");
    n = 0;
    while (wal_reader_dead_next(rd, NULL, n ? after : NULL, after_id, &dl) == 0) {
        n++;
        strcpy(after, dl.backend);
        after_id = dl.id;
    }
    CHECK_EQ_INT(n, 3, "3 dead letters in all");
    wal_reader_end(rd);
    struct wal_cursor_info *ci;
    size_t nc;
    struct wal_stats st;
    wal_stats(w, &st, &ci, &nc);
    CHECK(st.dead_letters == 3 && ci[0].dead_letters == 1 && ci[1].dead_letters == 2,
          "dead letters counted per backend");
    free(ci);
    uint64_t count = 0;
    CHECK_EQ_INT(wal_dead_requeue_sync(w, "b", &count), 0, "requeue b");
    CHECK_EQ_INT(count, 2, "requeued 2");
    wal_reader_begin(rd);
    struct wal_record rec;
    CHECK_EQ_INT(wal_reader_next(rd, 1, &rec), 0, "requeued record is in the log");
    CHECK(rec.seq == 2 && rec.target_len == 1 && rec.target[0] == 'b' &&
              rec.body_len == bad.body_len && memcmp(rec.body, bad.body, bad.body_len) == 0,
          "requeued for b only, same lines");
    CHECK_EQ_INT(wal_reader_dead_next(rd, "b", NULL, 0, &dl), IWR_ENOTFOUND, "b has none left");
    wal_reader_end(rd);
    CHECK_EQ_INT(wal_dead_purge_sync(w, NULL, &count), 0, "purge all");
    CHECK_EQ_INT(count, 1, "purged a's one");
    wal_stats(w, &st, NULL, NULL);
    CHECK_EQ_INT(st.dead_letters, 0, "no dead letters left");
    wal_reader_free(rd);
    wal_close(w);
}

/* Many appends submitted at once share commits. */
struct group {
    int done, failed;
};

static void group_done(void *arg, int rc, uint64_t seq)
{
    struct group *g = arg;
    (void)seq;
    g->done++;
    g->failed += rc != 0;
}

static void test_group_commit(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    struct group g = {0};
    struct wal_record r = mkrec("db", "cpu v=1\n");
    for (int i = 0; i < 500; i++)
        wal_append(w, &r, group_done, &g);
    for (int i = 0; i < 1000 && g.done < 500; i++)
        wal_complete_wait(w, 100);
    struct wal_counters c;
    wal_counters_get(w, &c);
    CHECK(g.done == 500 && g.failed == 0, "500 queued appends complete");
    CHECK(c.commits < 500 && c.appended == 500,
          "they share commits (%" PRIu64 " commits for 500 records)", c.commits);
    struct hist hs, hr;
    wal_commit_hist_get(w, &hs, &hr);
    CHECK(hs.count == c.commits && hr.sum == 500, "commit histograms count every commit and op");
    wal_close(w);
    /* After close, submits fail cleanly. */
}

/* wal_append in two halves: records encoded on other threads, submitted here in an order of
 * our choosing, are stored in that order and read back intact; an invalid one is refused
 * through 'done' as wal_append refuses it; a discarded one leaves nothing behind. */
struct prepared {
    struct wal_record rec;
    struct wal_op *op;
};

static void *prepare_main(void *arg)
{
    struct prepared *p = arg;
    p->op = wal_append_prepare(&p->rec);
    return NULL;
}

static void test_prepare_submit(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    static const char *const bodies[] = {"a v=1 1\n", "b v=2 2\n", "c v=3 3\n"};
    struct prepared p[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        p[i].rec = mkrec("db", bodies[i]);
        pthread_create(&t[i], NULL, prepare_main, &p[i]);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    struct group g = {0};
    /* Submitted in reverse: the log's order is the submission's, not the preparation's. */
    for (int i = 2; i >= 0; i--)
        wal_append_submit(w, p[i].op, group_done, &g);
    struct wal_record bad = mkrec("db", "d v=4 4\n");
    bad.db_len = (size_t)UINT16_MAX + 1;
    struct group gb = {0};
    wal_append_submit(w, wal_append_prepare(&bad), group_done, &gb);
    wal_append_discard(wal_append_prepare(&p[0].rec));
    wal_append_discard(NULL);
    for (int i = 0; i < 100 && (g.done < 3 || gb.done < 1); i++)
        wal_complete_wait(w, 100);
    CHECK(g.done == 3 && g.failed == 0, "three prepared records committed");
    CHECK(gb.done == 1 && gb.failed == 1, "an invalid prepared record is refused through done");
    struct wal_reader *rd;
    wal_reader_new(w, &rd);
    wal_reader_begin(rd);
    struct wal_record rec;
    uint64_t after = 0;
    int in_order = 1, n = 0;
    while (wal_reader_next(rd, after, &rec) == 0) {
        const char *want = bodies[2 - n];
        in_order &= n < 3 && rec.body_len == strlen(want) &&
                    memcmp(rec.body, want, rec.body_len) == 0;
        after = rec.seq;
        n++;
    }
    wal_reader_end(rd);
    wal_reader_free(rd);
    CHECK(n == 3 && in_order, "stored in submission order, bodies intact (%d records)", n);
    wal_close(w);
}

static void test_stale_reader(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    uint64_t s;
    append_body(w, "cpu v=1\n", &s);
    wal_close(w);
    int p[2];
    pipe(p);
    pid_t pid = fork();
    if (pid == 0) {
        struct wal_options o = {0};
        o.dir = dir;
        o.readonly = 1;
        struct wal *rw;
        struct wal_reader *rd;
        if (wal_open(&rw, &o) != 0)
            _exit(1);
        wal_reader_new(rw, &rd);
        wal_reader_begin(rd);
        write(p[1], "r", 1);
        pause();
        _exit(0);
    }
    char ch;
    read(p[0], &ch, 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    w = open_wal(dir, 0, WAL_FULL_REJECT);
    int dead = -1;
    mdb_reader_check(w->env, &dead);
    CHECK_EQ_INT(dead, 0, "a killed reader's slot was cleared at open");
    wal_close(w);
    close(p[0]);
    close(p[1]);
}

/* KB of data.mdb's mapping resident in this process, from /proc/self/smaps; -1 if not found. */
static long log_resident_kb(void)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL)
        return -1;
    char line[4096];
    long kb = -1;
    int inside = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        long v;
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
            size_t n = strlen(line);
            inside = n > 10 && strcmp(line + n - 10, "/data.mdb\n") == 0;
        } else if (inside && sscanf(line, "Rss: %ld kB", &v) == 1) {
            kb = (kb < 0 ? 0 : kb) + v;
        }
    }
    fclose(f);
    return kb;
}

/* Reading a log much larger than the release budget, the way a sender catches up (a bounded
 * batch per read transaction, the cursor moved after each, the writer trimming behind it),
 * leaves only a bounded part of the map resident: without the release every page read would
 * stay. */
static void test_map_resident(void)
{
    const char *dir = fresh_dir();
    struct wal *w = open_wal(dir, 0, WAL_FULL_REJECT);
    enum { RECORDS = 300, BODY = 160 << 10, PER_READ = 16 };
    char *body = malloc(BODY + 1);
    memset(body, 'x', BODY);
    for (int i = 1; i < BODY; i += 80)
        body[i] = '\n';
    body[BODY] = '\0';
    uint64_t s = 0;
    int appended = 0;
    CHECK_EQ_INT(wal_cursor_move_sync(w, "a", WAL_SEQ_ANY, 0), 0, "a sender's cursor at 0");
    for (int i = 0; i < RECORDS; i++)
        appended += append_body(w, body, &s) == 0;
    CHECK_EQ_INT(appended, RECORDS, "48 MB appended");
    wal_map_release(w); /* what the appends left says nothing about reading */
    struct wal_reader *r;
    wal_reader_new(w, &r);
    uint64_t at = 0, read_bytes = 0;
    long peak = -1;
    int bad = 0;
    while (at < s && !bad) {
        bad = wal_reader_begin(r) != 0;
        uint64_t from = at;
        for (int k = 0; k < PER_READ && !bad && at < s; k++) {
            struct wal_record rec;
            bad = wal_reader_next(r, at, &rec) != 0; /* checks the crc: every byte is read */
            at = rec.seq;
            read_bytes += rec.body_len;
        }
        wal_reader_end(r);
        bad = bad || wal_cursor_move_sync(w, "a", from, at) != 0;
        long kb = log_resident_kb();
        peak = kb > peak ? kb : peak;
    }
    wal_reader_free(r);
    CHECK(!bad && read_bytes == (uint64_t)RECORDS * BODY,
          "every record read, the cursor at the head");
    printf("# data.mdb resident at most %ld kB while reading %" PRIu64 " kB\n", peak,
           read_bytes >> 10);
    CHECK(peak >= 0 && peak < 20 * 1024, "the map's resident part stays under 20 MB");
    free(body);
    wal_close(w);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmproot, sizeof(tmproot), "%s/iwr-wal-XXXXXX", t ? t : "/tmp");
    if (mkdtemp(tmproot) == NULL)
        return 2;
    log_set_level(LOG_ERROR);
    test_empty();
    test_append_read();
    test_cursors_and_trim();
    test_state();
    test_trim_chunks_and_retention();
    test_full();
    test_on_commit();
    test_fatal();
    test_lock();
    test_space_defaults();
    test_corrupt();
    test_format_version();
    test_format_marking();
    test_dead_letters();
    test_group_commit();
    test_prepare_submit();
    test_stale_reader();
    test_map_resident();
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
    if (tap_fail == 0)
        system(cmd);
    return tap_done();
}
