/* SPDX-License-Identifier: MIT */
/* The "added function" edit for the ABI gate's self-test. */
#include "timefuture.h"

TF_API int tf_abi_selftest_added(uint32_t x);

int tf_abi_selftest_added(uint32_t x) {
    return (int)(x & 0x7fffffff);
}
