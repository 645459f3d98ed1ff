/* Tests of common/clock.c: the wall clock reads as the epoch time the C library gives, the
 * monotonic clock never goes back and counts real time, a deadline is normalised and lies
 * 'timeout_ms' after the wall clock's now. */
#include "tests/unit/tap.h"

#include "common/clock.h"

#include <time.h>

int main(void)
{
    time_t before = time(NULL);
    uint64_t rt = clock_realtime_ns();
    time_t after = time(NULL);
    CHECK((time_t)(rt / 1000000000u) >= before && (time_t)(rt / 1000000000u) <= after,
          "clock_realtime_ns is the epoch time, in ns");
    CHECK(rt > UINT64_C(1600000000) * 1000000000u, "clock_realtime_ns is after 2020");

    uint64_t m0 = clock_monotonic_ns(), prev = m0;
    int backwards = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t m = clock_monotonic_ns();
        backwards += m < prev;
        prev = m;
    }
    CHECK_EQ_INT(backwards, 0, "clock_monotonic_ns never goes back");
    struct timespec nap = {0, 20 * 1000000};
    nanosleep(&nap, NULL);
    uint64_t m1 = clock_monotonic_ns();
    CHECK(m1 - m0 >= 20u * 1000000u, "a 20 ms sleep moves clock_monotonic_ns by at least 20 ms");

    for (int ms = 0; ms <= 2999; ms += 333) {
        uint64_t t0 = clock_realtime_ns();
        struct timespec d;
        clock_deadline_ts(&d, ms);
        uint64_t t1 = clock_realtime_ns();
        uint64_t dns = (uint64_t)d.tv_sec * 1000000000u + (uint64_t)d.tv_nsec;
        CHECK(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L &&
                  dns >= t0 + (uint64_t)ms * 1000000u && dns <= t1 + (uint64_t)ms * 1000000u,
              "clock_deadline_ts(%d) is now + %d ms, nanoseconds below 1 s", ms, ms);
    }
    return tap_done();
}
