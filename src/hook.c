/* SPDX-License-Identifier: MIT */
/* The scheduling hook for tests (see internal.h). Not exported from the
 * shared library; tests that force interleavings link the static one. */
#include "internal.h"

_Atomic(tf__hook_fn) tf__hook_current;

void tf__set_hook(tf__hook_fn hook) { atomic_store(&tf__hook_current, hook); }
