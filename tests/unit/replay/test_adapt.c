/* Tests of replay/adapt.c, the adaptive concurrency controller: sequences of outcomes and
 * latencies, and a small discrete-event model of a sender in front of a backend (a number of
 * parallel workers, a per-request overhead, a service rate, a timeout), asserting the window
 * and batch size it settles on: it grows against a backend that takes more in parallel, stops
 * growing where latency doubles without throughput, halves on overload once per window of
 * requests, and shrinks batches under a slow link until they pass within the timeout. */
#include "tests/unit/tap.h"

#include "replay/adapt.h"

#include <stdint.h>

/* ---- the model --------------------------------------------------------------------------- */

#define SIM_MAX 128

struct sim_req {
    uint64_t sent_us, done_us, ticket;
    size_t bytes;
    enum adapt_outcome o;
};

struct sim {
    struct adapt a;
    uint64_t now_us;
    struct sim_req q[SIM_MAX];
    size_t n;
    /* The backend: 'workers' requests served at once (0: any number), each taking
     * overhead_us + bytes / bytes_per_us; the rest wait for a worker. */
    int workers;
    uint64_t worker_free_us[SIM_MAX];
    uint64_t overhead_us;
    double bytes_per_us;
    uint64_t timeout_us;
    int link; /* a link rather than a server: a transfer given up stops taking its time */
    unsigned fail_next; /* answer this many with ADAPT_OVERLOAD, at once */
    /* What happened. */
    uint64_t ok, timeouts, overloads, bytes_ok;
    size_t max_in_flight, min_batch;
    unsigned last_timeouts; /* timeouts among the last 'window' answers of a run */
};

static void sim_init(struct sim *m, const struct adapt_bounds *b, int workers,
                     uint64_t overhead_us, double bytes_per_us)
{
    memset(m, 0, sizeof(*m));
    adapt_init(&m->a, b);
    m->workers = workers;
    m->overhead_us = overhead_us;
    m->bytes_per_us = bytes_per_us;
    m->timeout_us = b->timeout_ms * 1000;
    m->now_us = 1000000;
    m->min_batch = m->a.batch_bytes;
}

static void sim_send(struct sim *m)
{
    struct sim_req *r = &m->q[m->n++];
    r->bytes = m->a.batch_bytes;
    r->sent_us = m->now_us;
    r->ticket = adapt_sent(&m->a, m->n);
    if (m->fail_next > 0) {
        m->fail_next--;
        r->o = ADAPT_OVERLOAD;
        r->done_us = m->now_us + 500;
        return;
    }
    uint64_t start = m->now_us;
    int w = 0;
    if (m->workers > 0) { /* the worker free first */
        for (int i = 1; i < m->workers; i++)
            if (m->worker_free_us[i] < m->worker_free_us[w])
                w = i;
        if (m->worker_free_us[w] > start)
            start = m->worker_free_us[w];
    }
    uint64_t end = start + m->overhead_us + (uint64_t)((double)r->bytes / m->bytes_per_us);
    /* A server does the work even when the client gave up; a link stops carrying it. */
    if (m->workers > 0)
        m->worker_free_us[w] = m->link && end - m->now_us > m->timeout_us
                                   ? m->now_us + m->timeout_us
                                   : end;
    if (end - m->now_us > m->timeout_us) {
        r->o = ADAPT_TIMEOUT;
        r->done_us = m->now_us + m->timeout_us;
    } else {
        r->o = ADAPT_OK;
        r->done_us = end;
    }
}

/* Keep the window full, take 'answers' answers in time order. */
static void sim_run(struct sim *m, unsigned answers)
{
    m->last_timeouts = 0;
    for (unsigned k = 0; k < answers; k++) {
        while (m->n < m->a.in_flight && m->n < SIM_MAX)
            sim_send(m);
        size_t first = 0;
        for (size_t i = 1; i < m->n; i++)
            if (m->q[i].done_us < m->q[first].done_us)
                first = i;
        struct sim_req r = m->q[first];
        m->q[first] = m->q[--m->n];
        if (r.done_us > m->now_us)
            m->now_us = r.done_us;
        adapt_answer(&m->a, r.ticket, r.o, r.bytes, 1, r.done_us - r.sent_us, m->now_us);
        if (r.o == ADAPT_OK) {
            m->ok++;
            m->bytes_ok += r.bytes;
        } else if (r.o == ADAPT_TIMEOUT) {
            m->timeouts++;
            if (k + 20 >= answers)
                m->last_timeouts++;
        } else {
            m->overloads++;
        }
        if (m->a.in_flight > m->max_in_flight)
            m->max_in_flight = m->a.in_flight;
        if (m->a.batch_bytes < m->min_batch)
            m->min_batch = m->a.batch_bytes;
    }
}

static const struct adapt_bounds wide = {1, 16, 64 << 10, 4 << 20, 10000};

/* ---- sequences --------------------------------------------------------------------------- */

static void test_start_and_bounds(void)
{
    struct adapt a;
    adapt_init(&a, &wide);
    CHECK_EQ_INT(a.in_flight, 1, "starts at the minimum in flight");
    CHECK_EQ_INT(a.batch_bytes, 4 << 20, "starts at the largest batch");
    struct adapt_bounds odd = {0, 0, 0, 0, 1000};
    adapt_init(&a, &odd);
    CHECK(a.b.in_flight_min == 1 && a.b.in_flight_max == 1 && a.b.batch_bytes_min == 1 &&
              a.b.batch_bytes_max == 1,
          "bounds out of order are put in order");
    struct adapt_bounds inv = {5, 2, 100, 10, 1000};
    adapt_init(&a, &inv);
    CHECK(a.b.in_flight_max == 5 && a.b.batch_bytes_max == 100 && a.in_flight == 5,
          "a max below its min is raised to it");

    adapt_init(&a, &wide);
    a.in_flight = 12;
    a.batch_bytes = 4 << 20;
    struct adapt_bounds narrow = {2, 8, 64 << 10, 1 << 20, 10000};
    adapt_set_bounds(&a, &narrow);
    CHECK(a.in_flight == 8 && a.batch_bytes == 1 << 20, "new bounds clamp both limits");
    struct adapt_bounds high = {10, 20, 2 << 20, 8 << 20, 10000};
    adapt_set_bounds(&a, &high);
    CHECK(a.in_flight == 10 && a.batch_bytes == 2 << 20, "... from below as well");
}

static void test_timeouts_shrink_batches(void)
{
    struct adapt a;
    adapt_init(&a, &wide);
    uint64_t t = adapt_sent(&a, 1);
    adapt_answer(&a, t, ADAPT_TIMEOUT, 4 << 20, 1, 10000000, 1);
    CHECK_EQ_INT(a.batch_bytes, 2 << 20, "a timed-out 4 MiB batch: 2 MiB batches");
    /* Several batches of the old size in flight together time out: one halving only. */
    uint64_t t2 = adapt_sent(&a, 1), t3 = adapt_sent(&a, 2);
    adapt_answer(&a, t2, ADAPT_TIMEOUT, 4 << 20, 1, 10000000, 2);
    adapt_answer(&a, t3, ADAPT_TIMEOUT, 4 << 20, 1, 10000000, 3);
    CHECK_EQ_INT(a.batch_bytes, 2 << 20, "older, larger batches timing out halve nothing more");
    /* A batch smaller than the limit (cut by its point count) that times out: half of it. */
    t = adapt_sent(&a, 1);
    adapt_answer(&a, t, ADAPT_TIMEOUT, 300000, 1, 10000000, 4);
    CHECK_EQ_INT(a.batch_bytes, 150000, "a timed-out batch below the limit: half its size");
    for (int i = 0; i < 20; i++) {
        t = adapt_sent(&a, 1);
        adapt_answer(&a, t, ADAPT_TIMEOUT, a.batch_bytes, 1, 10000000, 5 + (uint64_t)i);
    }
    CHECK_EQ_INT(a.batch_bytes, 64 << 10, "never below batch_bytes_min");
    CHECK_EQ_INT(a.in_flight, 1, "never below in_flight_min");
    CHECK(a.batch_cuts >= 3 && a.batch_raises == 0, "the cuts are counted (%llu)",
          (unsigned long long)a.batch_cuts);

    adapt_init(&a, &wide);
    t = adapt_sent(&a, 1);
    adapt_answer(&a, t, ADAPT_TOO_LARGE, 1 << 20, 1, 1000, 1);
    CHECK(a.batch_bytes == 512 << 10 && a.in_flight_cuts == 0,
          "413: half the batch, concurrency unchanged");
}

static void test_size_follows_latency(void)
{
    struct adapt a;
    adapt_init(&a, &wide);
    a.batch_bytes = 256 << 10;
    uint64_t t = adapt_sent(&a, 1);
    adapt_answer(&a, t, ADAPT_OK, 256 << 10, 1, 6000000, 1); /* 6 s of a 10 s timeout */
    CHECK_EQ_INT(a.batch_bytes, 128 << 10, "an answer after more than half the timeout: halved");
    t = adapt_sent(&a, 1);
    adapt_answer(&a, t, ADAPT_OK, 128 << 10, 1, 4000000, 2);
    CHECK_EQ_INT(a.batch_bytes, 128 << 10, "between a quarter and half: kept");
    t = adapt_sent(&a, 1);
    adapt_answer(&a, t, ADAPT_OK, 1000, 1, 1000, 3);
    CHECK_EQ_INT(a.batch_bytes, 128 << 10, "a fast answer for a small batch says nothing");
    t = adapt_sent(&a, 1);
    adapt_answer(&a, t, ADAPT_OK, 100 << 10, 1, 1000000, 4);
    CHECK_EQ_INT(a.batch_bytes, 256 << 10, "a fast answer near the limit: doubled");
    for (int i = 0; i < 10; i++) {
        t = adapt_sent(&a, 1);
        adapt_answer(&a, t, ADAPT_OK, a.batch_bytes, 1, 1000, 5 + (uint64_t)i);
    }
    CHECK_EQ_INT(a.batch_bytes, 4 << 20, "never above batch_bytes_max");
}

static void test_overload_once_per_window(void)
{
    struct adapt a;
    adapt_init(&a, &wide);
    a.in_flight = 8;
    uint64_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = adapt_sent(&a, (size_t)i + 1);
    for (int i = 0; i < 8; i++)
        adapt_answer(&a, t[i], ADAPT_OVERLOAD, 1 << 20, 1, 1000, 1 + (uint64_t)i);
    CHECK_EQ_INT(a.in_flight, 4, "eight sent together fail: one halving (8 -> 4)");
    for (int i = 0; i < 4; i++)
        t[i] = adapt_sent(&a, (size_t)i + 1);
    adapt_answer(&a, t[0], ADAPT_OVERLOAD, 1 << 20, 1, 1000, 10);
    CHECK_EQ_INT(a.in_flight, 2, "a failure sent after the cut halves again (4 -> 2)");
    CHECK_EQ_INT(a.in_flight_cuts, 2, "two cuts counted");
}

/* ---- the model --------------------------------------------------------------------------- */

static void test_grows_against_parallel_backend(void)
{
    struct sim m;
    /* Any number at once, 5 ms each: more in flight is more throughput. */
    sim_init(&m, &wide, 0, 5000, 1000.0);
    sim_run(&m, 2000);
    CHECK_EQ_INT(m.a.in_flight, 16, "a backend that takes any number at once: up to the max");
    CHECK(m.timeouts == 0 && m.overloads == 0, "no failures");
    CHECK(m.a.in_flight_raises >= 15, "the raises are counted (%llu)",
          (unsigned long long)m.a.in_flight_raises);
}

static void test_settles_against_saturated_backend(void)
{
    struct sim m;
    struct adapt_bounds b = {1, 64, 64 << 10, 1 << 20, 10000};
    /* Four workers, 20 ms per 1 MiB batch: beyond four in flight requests only queue. */
    sim_init(&m, &b, 4, 2000, (double)(1 << 20) / 18000.0);
    sim_run(&m, 3000);
    CHECK(m.max_in_flight >= 4, "grows to the backend's parallelism (max %zu)", m.max_in_flight);
    CHECK(m.max_in_flight < 16 && m.a.in_flight <= 12,
          "backs off once latency doubles without throughput (max %zu, now %zu)",
          m.max_in_flight, m.a.in_flight);
    CHECK(m.a.in_flight >= 4, "and stays at or above the parallelism (%zu)", m.a.in_flight);
    CHECK(m.a.in_flight_cuts > 0, "latency cuts counted (%llu)",
          (unsigned long long)m.a.in_flight_cuts);
    CHECK_EQ_INT(m.timeouts, 0, "no timeouts");
}

static void test_slow_link_shrinks_batches(void)
{
    struct sim m;
    struct adapt_bounds b = {1, 8, 16 << 10, 4 << 20, 2000};
    /* One link of 100 KB/s shared by every request, a 2 s timeout: a 4 MiB batch needs 40 s. */
    sim_init(&m, &b, 1, 1000, 0.1);
    m.link = 1;
    sim_run(&m, 400);
    CHECK(m.a.batch_bytes <= 200000 && m.a.batch_bytes >= (16 << 10),
          "batches within what passes in the timeout (%zu bytes)", m.a.batch_bytes);
    CHECK(m.ok >= 300, "the link carries data (%llu answers ok)", (unsigned long long)m.ok);
    CHECK(m.timeouts <= 12, "a few timeouts on the way down (%llu)",
          (unsigned long long)m.timeouts);
    CHECK_EQ_INT(m.last_timeouts, 0, "none once settled");

    /* A link too slow for even the smallest batch: batches at the minimum, no crash. */
    sim_init(&m, &b, 1, 1000, 0.001);
    m.link = 1;
    sim_run(&m, 100);
    CHECK(m.a.batch_bytes == (16 << 10) && m.a.in_flight == 1,
          "too slow for anything: the minimum batch, one in flight");
}

static void test_burst_backs_off_and_recovers(void)
{
    struct sim m;
    sim_init(&m, &wide, 0, 5000, 1000.0);
    sim_run(&m, 1000);
    size_t before = m.a.in_flight;
    m.fail_next = 60;
    sim_run(&m, 60);
    CHECK(before == 16 && m.a.in_flight <= 2,
          "a burst of overload answers: from %zu down to %zu", before, m.a.in_flight);
    CHECK(m.a.in_flight_cuts >= 3, "halved once per window (%llu cuts)",
          (unsigned long long)m.a.in_flight_cuts);
    sim_run(&m, 1000);
    CHECK(m.a.in_flight > 2, "grows again after the burst (%zu)", m.a.in_flight);

    struct adapt_bounds floor2 = {2, 16, 64 << 10, 4 << 20, 10000};
    sim_init(&m, &floor2, 0, 5000, 1000.0);
    sim_run(&m, 500);
    m.fail_next = 100;
    sim_run(&m, 100);
    CHECK_EQ_INT(m.a.in_flight, 2, "never below in_flight_min (2)");
}

static void test_idle_learns_nothing(void)
{
    struct adapt a;
    adapt_init(&a, &wide);
    a.in_flight = 4;
    /* One at a time with a window of four: demand below the window. */
    for (int i = 0; i < 100; i++) {
        uint64_t t = adapt_sent(&a, 1);
        adapt_answer(&a, t, ADAPT_OK, 1000, 0, 1000, 1000 * (uint64_t)i);
    }
    CHECK(a.in_flight == 4 && a.in_flight_raises == 0 && a.in_flight_cuts == 0,
          "a window never full is neither raised nor cut");
}

int main(void)
{
    test_start_and_bounds();
    test_timeouts_shrink_batches();
    test_size_follows_latency();
    test_overload_once_per_window();
    test_grows_against_parallel_backend();
    test_settles_against_saturated_backend();
    test_slow_link_shrinks_batches();
    test_burst_backs_off_and_recovers();
    test_idle_learns_nothing();
    return tap_done();
}
