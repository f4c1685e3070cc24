/* SPDX-License-Identifier: MIT */
/* A test-controlled clock (static library tests only): while it runs, the
 * library's time stands still unless the test moves it, and the timer
 * driver fires timers only when the test syncs it. Results then do not
 * depend on how fast or loaded the machine is. */
#ifndef TF_FAKE_CLOCK_H
#define TF_FAKE_CLOCK_H

#include <stdint.h>

/* Installs the fake clock at the real clock's current value (the wheel's
 * time may never be ahead of the clock) and returns that value. */
uint64_t fake_clock_start(void);
uint64_t fake_clock_now(void);
/* Moves the clock to t (never backwards; aborts the test otherwise) without
 * letting the driver run: only calls made now see the new time. */
void fake_clock_set(uint64_t t);
/* Moves the clock to t, then has the driver advance to it and waits until
 * every timer due by t has been fired (wakes included). */
void fake_clock_sync_to(uint64_t t);
/* Restores the real clock: first waits until the real clock has passed the
 * fake one, so that no timer armed afterwards can fire early. */
void fake_clock_stop(void);

#endif
