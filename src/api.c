/* SPDX-License-Identifier: MIT */
/* The exported function table for programs that dlopen() the library.
 * Append-only, like sqlite3_api_routines: never reorder or remove; a new
 * entry goes at the end of tf_api_v1 together with a new version node
 * (docs/design.md, "Adding functions"). Designated initializers, so that
 * entries of the same type cannot be swapped by a mistake in order. */
#include "internal.h"

static const tf_api_v1 api_v1 = {
    .size = sizeof(tf_api_v1),
    .version = TF_VERSION_NUMBER,
    .version_fn = tf_version,
    .version_string = tf_version_string,
    .strerror = tf_strerror,
    .now_ns = tf_now_ns,
    .set_allocator = tf_set_allocator,
    .waker_new = tf_waker_new,
    .waker_noop = tf_waker_noop,
    .waker_clone = tf_waker_clone,
    .waker_wake = tf_waker_wake,
    .waker_wake_by_ref = tf_waker_wake_by_ref,
    .waker_drop = tf_waker_drop,
    .waker_will_wake = tf_waker_will_wake,
    .timer_new = tf_timer_new,
    .timer_new_at = tf_timer_new_at,
    .timer_poll = tf_timer_poll,
    .timer_reset = tf_timer_reset,
    .timer_reset_at = tf_timer_reset_at,
    .timer_cancel = tf_timer_cancel,
    .timer_deadline = tf_timer_deadline,
    .timer_free = tf_timer_free,
    .executor_new = tf_executor_new,
    .executor_free = tf_executor_free,
    .executor_spawn = tf_executor_spawn,
    .executor_run = tf_executor_run,
    .executor_run_ready = tf_executor_run_ready,
    .executor_count = tf_executor_count,
    .executor_spawn_external = tf_executor_spawn_external,
    .executor_next = tf_executor_next,
    .executor_report = tf_executor_report,
    .executor_fd = tf_executor_fd,
    .block_on = tf_block_on,
    .executor_drain = tf_executor_drain,
    .timer_peek = tf_timer_peek,
    .driver_default = tf_driver_default,
    .driver_new = tf_driver_new,
    .driver_free = tf_driver_free,
    .driver_now = tf_driver_now,
    .driver_next_deadline = tf_driver_next_deadline,
    .driver_advance = tf_driver_advance,
    .driver_fd = tf_driver_fd,
    .timer_new_on = tf_timer_new_on,
    .timer_new_at_on = tf_timer_new_at_on,
    .timer_driver = tf_timer_driver,
};

const void *tf_get_api(uint32_t abi_major) {
    /* Every 1.x library serves the v1 table; an older caller reads only
     * the prefix it knows. */
    return abi_major == 1 ? &api_v1 : NULL;
}
