/* The exported function table for programs that dlopen() the library.
 * Append-only, like sqlite3_api_routines: never reorder or remove. */
#include "internal.h"

static const tf_api_v1 api_v1 = {
    sizeof(tf_api_v1),
    TF_VERSION_NUMBER,
    tf_version,
    tf_version_string,
    tf_strerror,
    tf_now_ns,
    tf_set_allocator,
    tf_waker_new,
    tf_waker_noop,
    tf_waker_clone,
    tf_waker_wake,
    tf_waker_wake_by_ref,
    tf_waker_drop,
    tf_waker_will_wake,
    tf_timer_new,
    tf_timer_new_at,
    tf_timer_poll,
    tf_timer_reset,
    tf_timer_reset_at,
    tf_timer_cancel,
    tf_timer_deadline,
    tf_timer_free,
    tf_executor_new,
    tf_executor_free,
    tf_executor_spawn,
    tf_executor_run,
    tf_executor_run_ready,
    tf_executor_count,
    tf_executor_spawn_external,
    tf_executor_next,
    tf_executor_report,
    tf_executor_fd,
    tf_block_on,
};

const void *tf_get_api(uint32_t abi_major) {
    return abi_major == 1 ? &api_v1 : NULL;
}
