/* SPDX-License-Identifier: MIT */
/* The allocator switch. It sits above the timer drivers, whose cached
 * memory it gives back to the old allocator; allocation itself (alloc.c)
 * knows nothing of them. */
#include "driver.h"
#include "internal.h"

int tf_set_allocator(const tf_allocator *a) {
    if (a) {
        if (a->size < sizeof(tf_allocator) || a->reserved != 0 || !a->alloc ||
            !a->free)
            return TF_EINVAL;
    }
    /* Memory of the old allocator must not be freed through the new one:
     * no object may be alive, and a driver other than the process's own
     * holds memory (its own structure, its cached timers) until freed. */
    if (atomic_load(&tf__live_objects) != 0 || tf__driver_live_timers() != 0 ||
        tf__driver_others_alive())
        return TF_EBUSY;
    /* The timer pool caches chunks from the old allocator: give them back. */
    tf__driver_release_cache();
    tf__alloc_install(a);
    return TF_OK;
}
