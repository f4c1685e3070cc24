/* Chunked object pool; see pool.h. */
#include <string.h>

#include "internal.h"
#include "pool.h"

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

/* An empty pool gives back all but its first (smallest) chunk, so a burst
 * of a million timers does not pin its peak for the life of the process,
 * while one object created and freed in a loop does not churn the
 * allocator. */
static void pool_trim(tf_pool *pool) {
    tf_pool_chunk *c = pool->chunks;
    if (!c) return;
    while (c->next) {
        tf_pool_chunk *next = c->next;
        tf__free(c);
        c = next;
    }
    pool->chunks = c;
    pool->free_list = NULL;
    c->count = 0;
    pool->bump = c->objects;
    pool->bump_end = c->objects + POOL_FIRST * pool->obj_size;
    pool->next_count = (size_t)POOL_FIRST * 2;
}

void *tf__pool_alloc(tf_pool *pool) {
    void *obj = pool->free_list;
    if (obj) {
        pool->free_list = ((void **)obj)[1];
    } else {
        if (pool->bump == pool->bump_end) {
            size_t n = pool->next_count;
            tf_pool_chunk *c =
                tf__alloc(sizeof(tf_pool_chunk) + n * pool->obj_size);
            if (!c) return NULL;
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
    pool->live--;
    if (pool->live == 0) pool_trim(pool);
}

void tf__pool_each(tf_pool *pool, void (*fn)(void *obj, void *arg),
                   void *arg) {
    for (tf_pool_chunk *c = pool->chunks; c; c = c->next) {
        for (size_t i = 0; i < c->count; i++) {
            void *obj = c->objects + i * pool->obj_size;
            if (*(uint16_t *)obj != 0) fn(obj, arg);
        }
    }
}

void tf__pool_destroy(tf_pool *pool) {
    tf_pool_chunk *c = pool->chunks;
    while (c) {
        tf_pool_chunk *next = c->next;
        tf__free(c);
        c = next;
    }
    tf__pool_init(pool, pool->obj_size);
}
