/* SPDX-License-Identifier: MIT */
/* The one list of the stable ABI: every entry of tf_api_v1, in order.
 * X(index, member, function, since_minor): the entry's position after the
 * two uint32_t (size, version), its member in the header's tf_api_v1, the
 * exported function, and the minor version that added it (its symbol node
 * is TF_1.<since_minor>). src/api.c builds the table from it, tests/test_api.c
 * checks every entry, scripts/check-abi-list.py checks it against the
 * header, the version script and the Rust binding. Append only: adding a
 * function is one line here, plus its declaration (and documentation) and
 * its member at the end of tf_api_v1 in include/timefuture.h. */
#ifndef TF_API_LIST_H
#define TF_API_LIST_H

#define TF_API_V1_LIST(X) \
    X(0, version_fn, tf_version, 0) \
    X(1, version_string, tf_version_string, 0) \
    X(2, strerror, tf_strerror, 0) \
    X(3, now_ns, tf_now_ns, 0) \
    X(4, set_allocator, tf_set_allocator, 0) \
    X(5, waker_new, tf_waker_new, 0) \
    X(6, waker_noop, tf_waker_noop, 0) \
    X(7, waker_clone, tf_waker_clone, 0) \
    X(8, waker_wake, tf_waker_wake, 0) \
    X(9, waker_wake_by_ref, tf_waker_wake_by_ref, 0) \
    X(10, waker_drop, tf_waker_drop, 0) \
    X(11, waker_will_wake, tf_waker_will_wake, 0) \
    X(12, timer_new, tf_timer_new, 0) \
    X(13, timer_new_at, tf_timer_new_at, 0) \
    X(14, timer_poll, tf_timer_poll, 0) \
    X(15, timer_reset, tf_timer_reset, 0) \
    X(16, timer_reset_at, tf_timer_reset_at, 0) \
    X(17, timer_cancel, tf_timer_cancel, 0) \
    X(18, timer_deadline, tf_timer_deadline, 0) \
    X(19, timer_free, tf_timer_free, 0) \
    X(20, executor_new, tf_executor_new, 0) \
    X(21, executor_free, tf_executor_free, 0) \
    X(22, executor_spawn, tf_executor_spawn, 0) \
    X(23, executor_run, tf_executor_run, 0) \
    X(24, executor_run_ready, tf_executor_run_ready, 0) \
    X(25, executor_count, tf_executor_count, 0) \
    X(26, executor_spawn_external, tf_executor_spawn_external, 0) \
    X(27, executor_next, tf_executor_next, 0) \
    X(28, executor_report, tf_executor_report, 0) \
    X(29, executor_fd, tf_executor_fd, 0) \
    X(30, block_on, tf_block_on, 0) \
    X(31, executor_drain, tf_executor_drain, 1) \
    X(32, timer_peek, tf_timer_peek, 1) \
    X(33, driver_default, tf_driver_default, 2) \
    X(34, driver_new, tf_driver_new, 2) \
    X(35, driver_free, tf_driver_free, 2) \
    X(36, driver_now, tf_driver_now, 2) \
    X(37, driver_next_deadline, tf_driver_next_deadline, 2) \
    X(38, driver_advance, tf_driver_advance, 2) \
    X(39, driver_fd, tf_driver_fd, 2) \
    X(40, timer_new_on, tf_timer_new_on, 2) \
    X(41, timer_new_at_on, tf_timer_new_at_on, 2) \
    X(42, timer_driver, tf_timer_driver, 2)

#endif
