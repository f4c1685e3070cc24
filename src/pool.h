/* SPDX-License-Identifier: MIT */
/* A fixed-size object pool: objects are carved from chunks, so they carry
 * no per-object allocator header (the memory target is about 100 bytes per
 * task and timer together). Each chunk counts its live objects, and one
 * whose count drops to zero goes back to the allocator, so a few
 * long-lived objects do not pin the peak of a burst. Not thread-safe:
 * callers hold their own lock. */
#ifndef TF_POOL_H
#define TF_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct tf_pool_chunk tf_pool_chunk;

/* The first field of every chunk's header (pooled) and of every object's
 * own header (pooling off): the pool's owner, so that an object finds its
 * owner with no pointer of its own (tf__pool_owner). */
typedef struct tf_pool_head {
    void *owner;
} tf_pool_head;

/* The chunk size of every pool whose chunk holds TF_POOL_MIN_PER_CHUNK
 * of its objects (besides the header); objects too big for that get
 * bigger chunks. 256 KiB: the allocator's own header (a page of its own
 * when it maps a chunk) stays under 2% of a chunk, and one chunk pinned by
 * a survivor is still small. */
#define TF_POOL_CHUNK_SMALL ((size_t)256 * 1024)
#define TF_POOL_MIN_PER_CHUNK 64u
/* Pooling off: the header before each object (owner, list links), a
 * multiple of 16 to keep objects 16-byte aligned. */
#define TF_POOL_NODE_SIZE ((size_t)32)

typedef struct tf_pool {
    size_t obj_size;        /* bytes per object, a multiple of 8, >= 16 */
    size_t live;            /* objects handed out and not returned */
    size_t chunk_size;      /* bytes per chunk, a power of two; every chunk
                               is aligned to it, so an object finds its
                               chunk by masking its address */
    size_t per_chunk;       /* objects per chunk */
    size_t chunks;          /* chunks held, the spare one included */
    tf_pool_chunk *partial; /* chunks with a free slot; alloc takes the
                               first */
    tf_pool_chunk *full;    /* chunks without one */
    tf_pool_chunk *spare;   /* one empty chunk kept back, or NULL */
    void *nodes;            /* pooling off: the live objects */
    void *owner;            /* set after tf__pool_init; given to every
                               chunk (or object) made after */
} tf_pool;

/* Objects start with a 16-bit magic; a free object has magic 0, which lets
 * tf__pool_each visit only live ones. */
void tf__pool_init(tf_pool *pool, size_t obj_size);
/* O(1). NULL when the allocator fails; the pool is unchanged then. */
void *tf__pool_alloc(tf_pool *pool);
/* Up to max objects into objs, in address order where they are fresh;
 * the same as as many tf__pool_alloc calls, with one call for a run of
 * fresh objects. Returns how many (fewer than max only when the
 * allocator failed). */
size_t tf__pool_alloc_many(tf_pool *pool, void **objs, size_t max);
/* O(1). Gives the object's chunk back to the allocator when it was the
 * chunk's last live object and an empty chunk is kept already. Returns 1
 * when the object was its chunk's last (the pool is shrinking: a caller
 * holding objects back may give them back too), else 0. */
int tf__pool_free(tf_pool *pool, void *obj);
/* Up to max (at most TF_POOL_CHAIN_MAX) objects as a NULL-terminated list
 * in tf__pool_alloc_many's order, each linked to the next by the pointer
 * at link_offset in it and with magic 0 (so that a walk of live objects,
 * or a stale handle's check, takes none of them for a live one until the
 * caller makes it one). *first is its head; returns its length. */
#define TF_POOL_CHAIN_MAX 64u
size_t tf__pool_alloc_chain(tf_pool *pool, size_t max, size_t link_offset, void **first);
/* Frees a NULL-terminated list of objects, each linked to the next by the
 * pointer at link_offset in it; 1 if a chunk emptied, as tf__pool_free. */
int tf__pool_free_list(tf_pool *pool, void *first, size_t link_offset);
/* Calls fn on every live object; fn must not free into the pool. */
void tf__pool_each(tf_pool *pool, void (*fn)(void *obj, void *arg), void *arg);
/* Gives back the empty chunk kept against alloc/free churn, so that only
 * chunks holding live objects remain. */
void tf__pool_trim(tf_pool *pool);
/* Releases every chunk; live objects become invalid. */
void tf__pool_destroy(tf_pool *pool);
/* The owner of the pool a live object came from: one load from its
 * chunk's header, found by masking the object's address. Only for pools
 * of small objects (chunk size TF_POOL_CHUNK_SMALL). */
static inline void *tf__pool_owner(const void *obj) {
#ifdef TF_NO_POOL
    return ((const tf_pool_head *)(const void *)((const char *)obj - TF_POOL_NODE_SIZE))->owner;
#else
    return ((const tf_pool_head *)(uintptr_t)((uintptr_t)obj &
                                             ~(uintptr_t)(TF_POOL_CHUNK_SMALL - 1)))->owner;
#endif
}
/* 1 when freed objects are poisoned (pooled AddressSanitizer builds), so
 * that even reading one is reported. Tests that check that a stale
 * handle's cleared magic is refused skip then. */
int tf__pool_poisons_freed(void);

#endif
