/* SPDX-License-Identifier: MIT */
/* A fixed-size object pool: objects are carved from chunks, so they carry
 * no per-object allocator header (the memory target is about 100 bytes per
 * task and timer together). Not thread-safe: callers hold their own lock. */
#ifndef TF_POOL_H
#define TF_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct tf_pool_chunk tf_pool_chunk;

typedef struct tf_pool {
    size_t obj_size;       /* bytes per object, a multiple of 8, >= 16 */
    size_t next_count;     /* objects in the next chunk (grows, capped) */
    void *free_list;       /* freed objects, linked through word 1 (with
                              pooling off: the live objects) */
    tf_pool_chunk *chunks; /* every chunk, newest first */
    char *bump;            /* unused tail of the newest chunk */
    char *bump_end;
    size_t live;           /* objects handed out and not returned */
} tf_pool;

/* Objects start with a 16-bit magic; a free object has magic 0, which lets
 * tf__pool_each visit only live ones. */
void tf__pool_init(tf_pool *pool, size_t obj_size);
void *tf__pool_alloc(tf_pool *pool);
void tf__pool_free(tf_pool *pool, void *obj);
/* Calls fn on every live object; fn must not free into the pool. */
void tf__pool_each(tf_pool *pool, void (*fn)(void *obj, void *arg), void *arg);
/* Releases every chunk; live objects become invalid. */
void tf__pool_destroy(tf_pool *pool);
/* 1 when freed objects are poisoned (pooled AddressSanitizer builds), so
 * that even reading one is reported. Tests that check that a stale
 * handle's cleared magic is refused skip then. */
int tf__pool_poisons_freed(void);

#endif
