/* The process's clocks, in nanoseconds. Any thread. */
#ifndef IWR_CLOCK_H
#define IWR_CLOCK_H

#include <stdint.h>

/* Wall-clock time (CLOCK_REALTIME) since the Unix epoch: receive times, log timestamps,
 * anything stored or shown. It can jump. */
uint64_t clock_realtime_ns(void);
/* A clock that never jumps (CLOCK_MONOTONIC), from an arbitrary start: durations, rates,
 * deadlines. Meaningless across processes and restarts. */
uint64_t clock_monotonic_ns(void);

#endif
