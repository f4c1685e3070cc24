/* SPDX-License-Identifier: MIT */
/* What fork() changes for the library: which process a handle belongs to. */
#ifndef TF_FORK_H
#define TF_FORK_H

#include <stdatomic.h>
#include <stdint.h>

/* Incremented in the child after fork(): objects that own threads
 * (executors) remember the generation they were made in and refuse every
 * call from a later one, since their threads are gone. Each module with
 * locks registers its own pthread_atfork handlers for them. */
extern _Atomic uint32_t tf__fork_generation;

#endif
