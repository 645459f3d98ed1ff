/* The process's clocks, in nanoseconds. Any thread. */
#ifndef IWR_CLOCK_H
#define IWR_CLOCK_H

#include <stdint.h>

struct timespec;

/* Wall-clock time (CLOCK_REALTIME) since the Unix epoch: receive times, log timestamps,
 * anything stored or shown. It can jump. */
uint64_t clock_realtime_ns(void);
/* A clock that never jumps (CLOCK_MONOTONIC), from an arbitrary start: durations, rates,
 * deadlines. Meaningless across processes and restarts. */
uint64_t clock_monotonic_ns(void);
/* The CLOCK_REALTIME instant 'timeout_ms' (>= 0) from now, as pthread_cond_timedwait wants its
 * deadline (a condition variable's default clock is the wall clock). */
void clock_deadline_ts(struct timespec *ts, int timeout_ms);

#endif
