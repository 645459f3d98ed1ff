/* Adaptive concurrency for one backend: how many batches its sender keeps in flight and how
 * large it cuts them, from the answers it gets. A pure state machine: the sender reports each
 * send and each answer (its outcome, latency and size, with a monotonic clock), and reads the
 * two limits back. No I/O, no clock of its own, no allocation; any thread, one owner.
 *
 * In flight (additive increase, multiplicative decrease, as TCP and Vector's adaptive request
 * concurrency): answers are taken in intervals of at least max(limit, 4) answers. An interval
 * in which the window was in full use and throughput did not fall raises the limit by one; an
 * interval whose mean latency (over batches near full size) is more than twice the lowest such
 * mean seen, without throughput rising with it, lowers it by one; a timeout, a 5xx, a 408/429
 * or a transport failure halves it at once (once per interval). Always within
 * [in_flight_min, in_flight_max]; it starts at in_flight_min.
 *
 * Batch size: a timed-out batch of B bytes puts the limit at B/2, an answer that took more than
 * half the timeout at its batch's half too, a 413 likewise; an answer within a quarter of the
 * timeout for a batch of at least half the limit doubles it. Always within [batch_bytes_min,
 * batch_bytes_max]; it starts at batch_bytes_max. So a link too slow for a full batch within
 * the timeout gets smaller batches until they pass, and larger ones again once it is fast. */
#ifndef IWR_REPLAY_ADAPT_H
#define IWR_REPLAY_ADAPT_H

#include <stddef.h>
#include <stdint.h>

struct adapt_bounds {
    size_t in_flight_min, in_flight_max;     /* 1 <= min <= max */
    size_t batch_bytes_min, batch_bytes_max; /* 1 <= min <= max */
    uint64_t timeout_ms;                     /* the request timeout the sizes are held under */
};

enum adapt_outcome {
    ADAPT_OK = 0,   /* the backend answered the batch (acknowledged, or lines refused) */
    ADAPT_OVERLOAD, /* 5xx, 408, 429, a refused or broken connection: back off */
    ADAPT_TIMEOUT,  /* the request ran out of its timeout: back off, smaller batches */
    ADAPT_TOO_LARGE /* 413: the backend's body limit; smaller batches, concurrency unchanged */
};

struct adapt {
    struct adapt_bounds b;
    size_t in_flight;   /* the limit now: batches in flight at most */
    size_t batch_bytes; /* the limit now: a batch's body bytes at most */
    /* Sends are numbered (adapt_sent's ticket): an answer is measured only when its request
     * went out after the last change of the limit, and a failure cuts only when its request
     * went out after the last cut (one cut per window, as TCP's once per round trip). */
    uint64_t sends;
    uint64_t changed_at; /* the ticket of the last send before the last change */
    uint64_t cut_at;     /* ... before the last cut */
    /* The interval being measured: answers to requests sent since changed_at. */
    size_t iv_answers;
    uint64_t iv_first_us, iv_last_us; /* clock at its first and last answer */
    uint64_t iv_bytes;  /* body bytes answered after its first answer */
    uint64_t iv_lat_us; /* latency summed over the answers of batches near full size ... */
    size_t iv_lat_n;    /* ... and their number */
    int iv_full;        /* a send found the window in full use */
    /* References from earlier intervals. */
    double tp_prev;    /* bytes per second of the last interval with a full window; 0: none */
    double lat_low_us; /* lowest interval latency seen at this batch size, drifting up; 0 */
    /* Counters, for /metrics. */
    uint64_t in_flight_raises, in_flight_cuts, batch_raises, batch_cuts;
};

/* Start at in_flight_min and batch_bytes_max. 'b' is copied (bounds out of order are put in
 * order: min raised to 1, max to min). */
void adapt_init(struct adapt *a, const struct adapt_bounds *b);
/* New bounds (a reconfiguration): the limits are clamped into them, nothing else changes. */
void adapt_set_bounds(struct adapt *a, const struct adapt_bounds *b);
/* A batch is being sent with 'in_flight' requests in flight, itself included. Returns its
 * ticket, to be given back with its answer. */
uint64_t adapt_sent(struct adapt *a, size_t in_flight);
/* The answer to the request of 'ticket', a batch of 'bytes' body bytes, after 'latency_us';
 * 'full': the batch was cut by a size limit (points or bytes), so its latency is comparable
 * with its peers'. 'now_us': a monotonic clock, for throughput. */
void adapt_answer(struct adapt *a, uint64_t ticket, enum adapt_outcome o, size_t bytes, int full,
                  uint64_t latency_us, uint64_t now_us);

#endif
