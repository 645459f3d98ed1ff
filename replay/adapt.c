/* Adaptive concurrency and batch size for one backend (adapt.h): additive increase while the
 * window is used and throughput holds, additive decrease when latency doubles without
 * throughput following, multiplicative decrease on timeouts and overload, and batch sizes held
 * under the request timeout. Pure; owned by one sender; any thread. */
#include "replay/adapt.h"

#include <string.h>

#define MIN_ANSWERS 4   /* an interval is at least this many answers, and a whole window */
#define LAT_RISE 2.0    /* latency this many times the lowest seen is rising */
#define TP_KEEP 0.9     /* throughput above this share of the last interval's has not fallen */
#define TP_GAIN 1.1     /* ... above this many times it has grown */

static size_t clamp(size_t v, size_t lo, size_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void bounds_fix(struct adapt_bounds *b)
{
    if (b->in_flight_min < 1)
        b->in_flight_min = 1;
    if (b->in_flight_max < b->in_flight_min)
        b->in_flight_max = b->in_flight_min;
    if (b->batch_bytes_min < 1)
        b->batch_bytes_min = 1;
    if (b->batch_bytes_max < b->batch_bytes_min)
        b->batch_bytes_max = b->batch_bytes_min;
}

/* A new interval of answers. */
static void interval_clear(struct adapt *a)
{
    a->iv_answers = 0;
    a->iv_first_us = a->iv_last_us = 0;
    a->iv_bytes = 0;
    a->iv_lat_us = 0;
    a->iv_lat_n = 0;
    a->iv_full = 0;
}

void adapt_init(struct adapt *a, const struct adapt_bounds *b)
{
    memset(a, 0, sizeof(*a));
    a->b = *b;
    bounds_fix(&a->b);
    a->in_flight = a->b.in_flight_min;
    a->batch_bytes = a->b.batch_bytes_max;
}

void adapt_set_bounds(struct adapt *a, const struct adapt_bounds *b)
{
    a->b = *b;
    bounds_fix(&a->b);
    a->in_flight = clamp(a->in_flight, a->b.in_flight_min, a->b.in_flight_max);
    a->batch_bytes = clamp(a->batch_bytes, a->b.batch_bytes_min, a->b.batch_bytes_max);
}

uint64_t adapt_sent(struct adapt *a, size_t in_flight)
{
    if (in_flight >= a->in_flight)
        a->iv_full = 1;
    return ++a->sends;
}

static void set_in_flight(struct adapt *a, size_t n)
{
    n = clamp(n, a->b.in_flight_min, a->b.in_flight_max);
    if (n > a->in_flight)
        a->in_flight_raises++;
    else if (n < a->in_flight)
        a->in_flight_cuts++;
    else
        return;
    a->in_flight = n;
    a->changed_at = a->sends; /* what is in flight was sent at the old limit */
    interval_clear(a);
}

/* Batches of at most 'n' bytes. Throughput at another size is not comparable, and latency
 * only roughly: the lowest latency is scaled with the size (bytes take time in proportion on a
 * link that is the limit), rather than learnt again, which would let the window grow unchecked
 * each time the size changes. */
static void set_batch_bytes(struct adapt *a, size_t n)
{
    n = clamp(n, a->b.batch_bytes_min, a->b.batch_bytes_max);
    if (n > a->batch_bytes)
        a->batch_raises++;
    else if (n < a->batch_bytes)
        a->batch_cuts++;
    else
        return;
    a->lat_low_us = a->lat_low_us * (double)n / (double)a->batch_bytes;
    a->batch_bytes = n;
    a->tp_prev = 0;
    a->changed_at = a->sends;
    interval_clear(a);
}

/* Halve the window, once for the requests that were in flight together. */
static void back_off(struct adapt *a, uint64_t ticket)
{
    if (ticket <= a->cut_at)
        return;
    a->cut_at = a->sends;
    a->tp_prev = 0;
    set_in_flight(a, a->in_flight / 2);
    a->changed_at = a->sends; /* also at the minimum: measure from the next window on */
    interval_clear(a);
}

/* The size rules for an answer that came (ADAPT_OK): more than half the timeout is too close
 * to it, less than a quarter leaves room for twice the bytes. */
static void size_rule(struct adapt *a, size_t bytes, uint64_t latency_us)
{
    uint64_t t_us = a->b.timeout_ms * 1000;
    if (t_us == 0)
        return;
    if (latency_us > t_us / 2 && bytes > 1 && bytes / 2 < a->batch_bytes)
        set_batch_bytes(a, bytes / 2);
    else if (latency_us < t_us / 4 && bytes >= a->batch_bytes / 2 &&
             a->batch_bytes < a->b.batch_bytes_max)
        set_batch_bytes(a, a->batch_bytes > a->b.batch_bytes_max / 2 ? a->b.batch_bytes_max
                                                                     : a->batch_bytes * 2);
}

/* An interval is complete: raise, lower or keep the window. */
static void interval_close(struct adapt *a)
{
    if (!a->iv_full) { /* demand below the window: nothing learnt about the backend */
        a->tp_prev = 0;
        interval_clear(a);
        return;
    }
    double tp = a->iv_last_us > a->iv_first_us
                    ? (double)a->iv_bytes * 1e6 / (double)(a->iv_last_us - a->iv_first_us)
                    : 0;
    int rising = 0;
    if (a->iv_lat_n > 0) {
        double lat = (double)a->iv_lat_us / (double)a->iv_lat_n;
        rising = a->lat_low_us > 0 && lat > LAT_RISE * a->lat_low_us;
        /* At the least concurrency there is, the latency is the backend's own: the reference
         * follows it there, up too, so a backend that got slower for good is probed again. */
        if (a->lat_low_us == 0 || lat < a->lat_low_us || a->in_flight == a->b.in_flight_min)
            a->lat_low_us = lat;
    }
    int known = tp > 0 && a->tp_prev > 0;
    double prev = a->tp_prev;
    a->tp_prev = tp;
    if (rising && !(known && tp > prev * TP_GAIN))
        set_in_flight(a, a->in_flight - 1);
    else if (!rising && (!known || tp >= prev * TP_KEEP))
        set_in_flight(a, a->in_flight + 1);
    interval_clear(a); /* the next one starts here (after a change: with the next sends) */
}

void adapt_answer(struct adapt *a, uint64_t ticket, enum adapt_outcome o, size_t bytes, int full,
                  uint64_t latency_us, uint64_t now_us)
{
    switch (o) {
    case ADAPT_TIMEOUT:
        if (bytes > 1 && bytes / 2 < a->batch_bytes)
            set_batch_bytes(a, bytes / 2);
        back_off(a, ticket);
        return;
    case ADAPT_OVERLOAD:
        back_off(a, ticket);
        return;
    case ADAPT_TOO_LARGE:
        if (bytes > 1 && bytes / 2 < a->batch_bytes)
            set_batch_bytes(a, bytes / 2);
        return;
    case ADAPT_OK:
        break;
    }
    size_rule(a, bytes, latency_us);
    if (ticket <= a->changed_at) /* sent before the limits changed: not this interval's */
        return;
    if (a->iv_answers == 0)
        a->iv_first_us = now_us;
    else
        a->iv_bytes += bytes;
    a->iv_last_us = now_us;
    a->iv_answers++;
    if (full) {
        a->iv_lat_us += latency_us;
        a->iv_lat_n++;
    }
    size_t need = a->in_flight > MIN_ANSWERS ? a->in_flight : MIN_ANSWERS;
    if (a->iv_answers >= need)
        interval_close(a);
}
