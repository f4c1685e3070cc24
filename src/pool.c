/* SPDX-License-Identifier: MIT */
/* Chunked object pool; see pool.h. */
#include <string.h>

#include "internal.h"
#include "pool.h"

/* AddressSanitizer builds poison every object that is not handed out, so
 * a use of a freed timer or task is reported even though its memory stays
 * in the pool (the allocator would never see that free). */
#if defined(__SANITIZE_ADDRESS__)
#define TF_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TF_POOL_ASAN 1
#endif
#endif

#ifdef TF_POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define IS_POISONED(p) __asan_address_is_poisoned(p)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define IS_POISONED(p) ((void)(p), 0)
#endif

int tf__pool_poisons_freed(void) {
#if !defined(TF_NO_POOL) && defined(TF_POOL_ASAN)
    return 1;
#else
    return 0;
#endif
}

#ifdef TF_NO_POOL
/* Pooling off (cmake -DTF_POOL=OFF): every object is its own allocation,
 * so valgrind and the allocator see each free, and a use after free is
 * reported. A header links the live objects for tf__pool_each. */
typedef struct pool_node {
    struct pool_node *prev, *next;
} pool_node;
enum { NODE_SIZE = 16 }; /* keeps objects 16-byte aligned */
_Static_assert(sizeof(pool_node) <= NODE_SIZE, "pool node header");

void tf__pool_init(tf_pool *pool, size_t obj_size) {
    memset(pool, 0, sizeof(*pool));
    pool->obj_size = (obj_size + 7) & ~(size_t)7;
}

void *tf__pool_alloc(tf_pool *pool) {
    pool_node *n = tf__alloc(NODE_SIZE + pool->obj_size);
    if (!n) return NULL;
    n->prev = NULL;
    n->next = (pool_node *)pool->free_list; /* the live list, here */
    if (n->next) n->next->prev = n;
    pool->free_list = n;
    pool->live++;
    return (char *)n + NODE_SIZE;
}

void tf__pool_free(tf_pool *pool, void *obj) {
    pool_node *n = (pool_node *)(void *)((char *)obj - NODE_SIZE);
    if (n->prev) n->prev->next = n->next;
    else pool->free_list = n->next;
    if (n->next) n->next->prev = n->prev;
    pool->live--;
    *(uint16_t *)obj = 0; /* as pooled: a stale handle is no handle */
    tf__free(n);
}

void tf__pool_each(tf_pool *pool, void (*fn)(void *obj, void *arg),
                   void *arg) {
    for (pool_node *n = pool->free_list; n;) {
        pool_node *next = n->next; /* fn may not free, but be safe */
        void *obj = (char *)n + NODE_SIZE;
        if (*(uint16_t *)obj != 0) fn(obj, arg);
        n = next;
    }
}

void tf__pool_destroy(tf_pool *pool) {
    for (pool_node *n = pool->free_list; n;) {
        pool_node *next = n->next;
        tf__free(n);
        n = next;
    }
    tf__pool_init(pool, pool->obj_size);
}

#else /* pooled */

struct tf_pool_chunk {
    tf_pool_chunk *next;
    size_t count; /* objects carved so far (the last chunk fills lazily) */
    _Alignas(16) char objects[];
};

enum { POOL_FIRST = 32, POOL_MAX = 8192 };

void tf__pool_init(tf_pool *pool, size_t obj_size) {
    memset(pool, 0, sizeof(*pool));
    pool->obj_size = (obj_size + 7) & ~(size_t)7;
    pool->next_count = POOL_FIRST;
}

/* The chunk goes back to the allocator with its poison lifted: the
 * allocator owns the memory from here on. */
static void chunk_free(tf_pool *pool, tf_pool_chunk *c, size_t n) {
    (void)pool;
    (void)n;
    UNPOISON(c->objects, n * pool->obj_size);
    tf__free(c);
}

/* Objects a chunk was made for: the first holds POOL_FIRST, each later
 * one twice the one before, capped; the newest is the one being carved. */
static size_t chunk_objects(const tf_pool *pool, const tf_pool_chunk *c) {
    if (c == pool->chunks) return (size_t)(pool->bump_end - c->objects) / pool->obj_size;
    return c->count; /* older chunks were filled up */
}

/* An empty pool gives back all but its first (smallest) chunk, so a burst
 * of a million timers does not pin its peak for the life of the process,
 * while one object created and freed in a loop does not churn the
 * allocator. */
static void pool_trim(tf_pool *pool) {
    tf_pool_chunk *c = pool->chunks;
    if (!c) return;
    while (c->next) {
        tf_pool_chunk *next = c->next;
        chunk_free(pool, c, chunk_objects(pool, c));
        c = next;
    }
    pool->chunks = c;
    pool->free_list = NULL;
    c->count = 0;
    pool->bump = c->objects;
    pool->bump_end = c->objects + POOL_FIRST * pool->obj_size;
    pool->next_count = (size_t)POOL_FIRST * 2;
    /* Every object was freed (poisoned) already; the tail never carved
     * is poisoned from the chunk's creation. */
}

void *tf__pool_alloc(tf_pool *pool) {
    void *obj = pool->free_list;
    if (obj) {
        UNPOISON(obj, pool->obj_size);
        pool->free_list = ((void **)obj)[1];
    } else {
        if (pool->bump == pool->bump_end) {
            size_t n = pool->next_count;
            tf_pool_chunk *c =
                tf__alloc(sizeof(tf_pool_chunk) + n * pool->obj_size);
            if (!c) return NULL;
            POISON(c->objects, n * pool->obj_size);
            c->next = pool->chunks;
            c->count = 0;
            pool->chunks = c;
            pool->bump = c->objects;
            pool->bump_end = c->objects + n * pool->obj_size;
            /* Geometric growth keeps small executors small and big ones
             * cheap in allocator calls. */
            if (pool->next_count < POOL_MAX) pool->next_count *= 2;
        }
        obj = pool->bump;
        UNPOISON(obj, pool->obj_size);
        pool->bump += pool->obj_size;
        pool->chunks->count++;
    }
    pool->live++;
    return obj;
}

void tf__pool_free(tf_pool *pool, void *obj) {
    *(uint16_t *)obj = 0;
    ((void **)obj)[1] = pool->free_list;
    pool->free_list = obj;
    POISON(obj, pool->obj_size);
    pool->live--;
    if (pool->live == 0) pool_trim(pool);
}

void tf__pool_each(tf_pool *pool, void (*fn)(void *obj, void *arg),
                   void *arg) {
    for (tf_pool_chunk *c = pool->chunks; c; c = c->next) {
        for (size_t i = 0; i < c->count; i++) {
            void *obj = c->objects + i * pool->obj_size;
            /* A freed object is poisoned in ASan builds: not read. */
            if (IS_POISONED(obj)) continue;
            if (*(uint16_t *)obj != 0) fn(obj, arg);
        }
    }
}

void tf__pool_destroy(tf_pool *pool) {
    tf_pool_chunk *c = pool->chunks;
    while (c) {
        tf_pool_chunk *next = c->next;
        chunk_free(pool, c, chunk_objects(pool, c));
        c = next;
    }
    tf__pool_init(pool, pool->obj_size);
}

#endif
