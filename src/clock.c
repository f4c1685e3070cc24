/* The library's clock: CLOCK_MONOTONIC in nanoseconds. */
#include <time.h>

#include "clock.h"
#include "internal.h"

uint64_t tf__clock_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

void tf__clock_to_timespec(uint64_t ns, struct timespec *ts) {
    ts->tv_sec = (time_t)(ns / UINT64_C(1000000000));
    ts->tv_nsec = (long)(ns % UINT64_C(1000000000));
}

uint64_t tf_now_ns(void) { return tf__clock_now(); }
