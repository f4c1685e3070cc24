/* Monotonic clock helpers. */
#ifndef TF_CLOCK_H
#define TF_CLOCK_H

#include <stdint.h>
#include <time.h>

uint64_t tf__clock_now(void);
void tf__clock_to_timespec(uint64_t ns, struct timespec *ts);

#endif
