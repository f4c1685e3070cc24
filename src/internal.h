/* Private declarations shared by the library's source files. */
#ifndef TF_INTERNAL_H
#define TF_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "timefuture.h"

/* Every handle begins with a 16-bit magic number, so a handle of the wrong
 * type (or one already freed: free() clears the magic) is refused with
 * TF_EHANDLE instead of being misused. 16 bits keeps timers at 40 bytes. */
enum {
    TF_MAGIC_TASK = 0x7a51,     /* a task, which is also its own waker */
    TF_MAGIC_WAKER = 0x3a6e,    /* a caller-made or built-in waker     */
    TF_MAGIC_TIMER = 0x71e4,
    TF_MAGIC_EXECUTOR = 0x4e8c,
    TF_MAGIC_DEAD = 0xdead,
};

#define TF_LIKELY(x) __builtin_expect(!!(x), 1)
#define TF_UNLIKELY(x) __builtin_expect(!!(x), 0)

static inline uint16_t tf__magic(const void *handle) {
    return *(const uint16_t *)handle;
}

/* Allocation goes through one hook (tf_set_allocator) so that tests can
 * fail any chosen allocation. */
void *tf__alloc(size_t n);
void *tf__calloc(size_t n);
void tf__free(void *p);

/* Counts of live objects, so that tf_set_allocator can refuse to switch
 * allocators while memory from the old one is still in use. */
extern atomic_long tf__live_objects;

/* Fault-injection hooks for tests (not exported from the shared library;
 * tests that use them link the static library). */
typedef int (*tf__thread_create_hook)(void);
void tf__set_thread_create_hook(tf__thread_create_hook hook);
int tf__thread_create_allowed(void);

/* Initializes an adaptive mutex (spins briefly before sleeping): the
 * library's locks are held for a few instructions at a time. */
int tf__mutex_init(pthread_mutex_t *m);

static inline void tf__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* TF_INTERNAL_H */
