/* SPDX-License-Identifier: MIT */
#include "fake_clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "driver.h"

static _Atomic uint64_t fake_ns;

static uint64_t fake_read(void) { return atomic_load(&fake_ns); }

uint64_t fake_clock_start(void) {
    uint64_t now = tf__clock_real();
    atomic_store(&fake_ns, now);
    tf__clock_set_hook(fake_read);
    return now;
}

uint64_t fake_clock_now(void) { return atomic_load(&fake_ns); }

void fake_clock_set(uint64_t t) {
    if (t < atomic_load(&fake_ns)) {
        (void)fprintf(stderr, "fake clock moved backwards\n");
        abort();
    }
    atomic_store(&fake_ns, t);
}

void fake_clock_sync_to(uint64_t t) {
    fake_clock_set(t);
    if (tf__driver_sync() != 0) {
        (void)fprintf(stderr, "tf__driver_sync failed\n");
        abort();
    }
}

void fake_clock_stop(void) {
    uint64_t fake = atomic_load(&fake_ns);
    for (uint64_t real; (real = tf__clock_real()) <= fake;) {
        uint64_t left = fake - real + 1;
        struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        nanosleep(&ts, NULL);
    }
    tf__clock_set_hook(NULL);
    (void)tf__driver_sync(); /* back to sleeping until the next deadline */
}
