/* SPDX-License-Identifier: MIT */
/* Fork handling: the generation counter that tells a child's calls from
 * its parent's objects. */
#include <pthread.h>

#include "fork.h"

_Atomic uint32_t tf__fork_generation;

static void atfork_child(void) { atomic_fetch_add(&tf__fork_generation, 1); }

__attribute__((constructor)) static void fork_init(void) {
    pthread_atfork(NULL, NULL, atfork_child);
}
