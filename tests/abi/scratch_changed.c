/* SPDX-License-Identifier: MIT */
/* The "changed signature" edit for the ABI gate's self-test: tf_now_ns
 * takes a clock id and returns a signed value, as a careless refactoring
 * might make it. */
#include "timefuture.h"

#undef tf_now_ns
TF_API int64_t tf_now_ns(int32_t clock_id);

int64_t tf_now_ns(int32_t clock_id) {
    (void)clock_id;
    return (int64_t)tfx_scratch_orig_now_ns();
}
