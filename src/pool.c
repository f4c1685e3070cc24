/* SPDX-License-Identifier: MIT */
/* Chunked object pool; see pool.h. */
#include <string.h>
#include <sys/mman.h>

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
    tf_pool_head head; /* first: tf__pool_owner reads it */
    struct pool_node *prev, *next;
} pool_node;
_Static_assert(sizeof(pool_node) <= TF_POOL_NODE_SIZE, "pool node header");

void tf__pool_init(tf_pool *pool, size_t obj_size) {
    memset(pool, 0, sizeof(*pool));
    pool->obj_size = (obj_size + 7) & ~(size_t)7;
}

void *tf__pool_alloc(tf_pool *pool) {
    pool_node *n = tf__alloc(TF_POOL_NODE_SIZE + pool->obj_size);
    if (!n) return NULL;
    n->head.owner = pool->owner;
    n->prev = NULL;
    n->next = (pool_node *)pool->nodes;
    if (n->next) n->next->prev = n;
    pool->nodes = n;
    pool->live++;
    return (char *)n + TF_POOL_NODE_SIZE;
}

size_t tf__pool_alloc_many(tf_pool *pool, void **objs, size_t max) {
    size_t n = 0;
    while (n < max && (objs[n] = tf__pool_alloc(pool)) != NULL) n++;
    return n;
}

int tf__pool_free(tf_pool *pool, void *obj) {
    pool_node *n = (pool_node *)(void *)((char *)obj - TF_POOL_NODE_SIZE);
    if (n->prev) n->prev->next = n->next;
    else pool->nodes = n->next;
    if (n->next) n->next->prev = n->prev;
    pool->live--;
    *(uint16_t *)obj = 0; /* as pooled: a stale handle is no handle */
    tf__free(n);
    return 0; /* no chunk: nothing held back pins anything */
}

void tf__pool_each(tf_pool *pool, void (*fn)(void *obj, void *arg),
                   void *arg) {
    for (pool_node *n = pool->nodes; n;) {
        pool_node *next = n->next; /* fn may not free, but be safe */
        void *obj = (char *)n + TF_POOL_NODE_SIZE;
        if (*(uint16_t *)obj != 0) fn(obj, arg);
        n = next;
    }
}

void tf__pool_trim(tf_pool *pool) { (void)pool; /* nothing is kept */ }

void tf__pool_destroy(tf_pool *pool) {
    for (pool_node *n = pool->nodes; n;) {
        pool_node *next = n->next;
        tf__free(n);
        n = next;
    }
    tf__pool_init(pool, pool->obj_size);
}

#else /* pooled */

/* The header at the start of every chunk. Objects follow it, carved in
 * address order as they are first needed, so a chunk's untouched tail
 * costs no resident memory. */
struct tf_pool_chunk {
    tf_pool_head head;          /* first: tf__pool_owner reads it */
    tf_pool_chunk *prev, *next; /* on the pool's partial or full list */
    void *raw;                  /* what tf__alloc returned, for tf__free */
    void *free_list;            /* freed objects, linked through word 1 */
    uint32_t live;              /* objects handed out */
    uint32_t carved;            /* objects [0, carved) were handed out */
};

#define HDR_SIZE ((sizeof(tf_pool_chunk) + 15) & ~(size_t)15)

static char *chunk_objects(tf_pool_chunk *c) { return (char *)c + HDR_SIZE; }

static tf_pool_chunk *chunk_of(const tf_pool *pool, void *obj) {
    return (tf_pool_chunk *)((uintptr_t)obj & ~(uintptr_t)(pool->chunk_size - 1));
}

void tf__pool_init(tf_pool *pool, size_t obj_size) {
    memset(pool, 0, sizeof(*pool));
    pool->obj_size = (obj_size + 7) & ~(size_t)7;
    size_t size = TF_POOL_CHUNK_SMALL;
    while ((size - HDR_SIZE) / pool->obj_size < TF_POOL_MIN_PER_CHUNK) size *= 2;
    pool->chunk_size = size;
    pool->per_chunk = (size - HDR_SIZE) / pool->obj_size;
}

static void list_push(tf_pool_chunk **head, tf_pool_chunk *c) {
    c->prev = NULL;
    c->next = *head;
    if (c->next) c->next->prev = c;
    *head = c;
}

static void list_remove(tf_pool_chunk **head, tf_pool_chunk *c) {
    if (c->prev) c->prev->next = c->next;
    else *head = c->next;
    if (c->next) c->next->prev = c->prev;
}

/* A chunk aligned to its size. The allocator promises only malloc
 * alignment, so twice the size is asked for and the chunk placed at the
 * first boundary inside; the slack is never touched, so costs address
 * space but no resident memory. */
static tf_pool_chunk *chunk_new(tf_pool *pool) {
    void *raw = tf__alloc(2 * pool->chunk_size);
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + pool->chunk_size - 1) &
                  ~(uintptr_t)(pool->chunk_size - 1);
    tf_pool_chunk *c = (tf_pool_chunk *)a;
    /* A pool that outgrew a chunk is filling chunks: fault this one's
     * pages in with one call rather than one fault per page as objects
     * are carved (a fault per page costs more than the work on the
     * objects in it). The first chunk stays lazy, so a small pool keeps
     * its few pages. Failure (an old kernel) only leaves it lazy. */
#ifdef MADV_POPULATE_WRITE
    if (pool->chunks != 0) (void)madvise(c, pool->chunk_size, MADV_POPULATE_WRITE);
#endif
    c->raw = raw;
    c->head.owner = pool->owner;
    POISON(chunk_objects(c), pool->per_chunk * pool->obj_size);
    pool->chunks++;
    return c;
}

/* The chunk goes back to the allocator with its poison lifted: the
 * allocator owns the memory from here on. */
static void chunk_free(tf_pool *pool, tf_pool_chunk *c) {
    UNPOISON(chunk_objects(c), pool->per_chunk * pool->obj_size);
    pool->chunks--;
    tf__free(c->raw);
}

void *tf__pool_alloc(tf_pool *pool) {
    tf_pool_chunk *c = pool->partial;
    if (!c) {
        /* Every chunk is full: the spare, else a new one. */
        c = pool->spare;
        if (c) pool->spare = NULL;
        else if (!(c = chunk_new(pool))) return NULL;
        c->free_list = NULL; /* a spare's objects are all free: recarve */
        c->live = 0;
        c->carved = 0;
        list_push(&pool->partial, c);
    }
    void *obj = c->free_list;
    if (obj) {
        UNPOISON(obj, pool->obj_size);
        c->free_list = ((void **)obj)[1];
    } else {
        obj = chunk_objects(c) + (size_t)c->carved++ * pool->obj_size;
        UNPOISON(obj, pool->obj_size);
    }
    if (++c->live == pool->per_chunk) {
        list_remove(&pool->partial, c);
        list_push(&pool->full, c);
    }
    pool->live++;
    return obj;
}

size_t tf__pool_alloc_many(tf_pool *pool, void **objs, size_t max) {
    size_t n = 0;
    while (n < max) {
        tf_pool_chunk *c = pool->partial;
        if (!c || c->free_list) {
            /* A new chunk, or freed objects to reuse first. */
            if (!(objs[n] = tf__pool_alloc(pool))) break;
            n++;
            continue;
        }
        /* No freed object in c: every carved one is live, and the rest
         * of the chunk is one run of fresh objects, carved at once. */
        size_t k = pool->per_chunk - c->carved;
        if (k > max - n) k = max - n;
        char *o = chunk_objects(c) + (size_t)c->carved * pool->obj_size;
        UNPOISON(o, k * pool->obj_size);
        for (size_t i = 0; i < k; i++) objs[n++] = o + i * pool->obj_size;
        c->carved += (uint32_t)k;
        c->live += (uint32_t)k;
        pool->live += k;
        if (c->live == pool->per_chunk) {
            list_remove(&pool->partial, c);
            list_push(&pool->full, c);
        }
    }
    return n;
}

int tf__pool_free(tf_pool *pool, void *obj) {
    tf_pool_chunk *c = chunk_of(pool, obj);
    *(uint16_t *)obj = 0;
    ((void **)obj)[1] = c->free_list;
    c->free_list = obj;
    POISON(obj, pool->obj_size);
    pool->live--;
    if (c->live-- == pool->per_chunk) {
        /* First to allocate from: a nearly full chunk fills up again,
         * while the emptier ones further down keep emptying. */
        list_remove(&pool->full, c);
        list_push(&pool->partial, c);
    }
    if (c->live == 0) {
        list_remove(&pool->partial, c);
        /* One empty chunk is kept, so that an object made and freed in a
         * loop does not call the allocator each time: the lower of the
         * two, as heaps give memory back to the system from their top
         * only, and a spare kept at the top would hold all below it. */
        if (!pool->spare) {
            pool->spare = c;
        } else if ((uintptr_t)c < (uintptr_t)pool->spare) {
            chunk_free(pool, pool->spare);
            pool->spare = c;
        } else {
            chunk_free(pool, c);
        }
        return 1;
    }
    return 0;
}

static void each_in(tf_pool *pool, tf_pool_chunk *c,
                    void (*fn)(void *obj, void *arg), void *arg) {
    for (; c; c = c->next) {
        for (uint32_t i = 0; i < c->carved; i++) {
            void *obj = chunk_objects(c) + (size_t)i * pool->obj_size;
            /* A freed object is poisoned in ASan builds: not read. */
            if (IS_POISONED(obj)) continue;
            if (*(uint16_t *)obj != 0) fn(obj, arg);
        }
    }
}

void tf__pool_each(tf_pool *pool, void (*fn)(void *obj, void *arg),
                   void *arg) {
    /* The spare holds no live object. */
    each_in(pool, pool->full, fn, arg);
    each_in(pool, pool->partial, fn, arg);
}

void tf__pool_trim(tf_pool *pool) {
    if (pool->spare) chunk_free(pool, pool->spare);
    pool->spare = NULL;
}

static void free_list_of(tf_pool *pool, tf_pool_chunk *c) {
    while (c) {
        tf_pool_chunk *next = c->next;
        chunk_free(pool, c);
        c = next;
    }
}

void tf__pool_destroy(tf_pool *pool) {
    free_list_of(pool, pool->full);
    free_list_of(pool, pool->partial);
    tf__pool_trim(pool);
    tf__pool_init(pool, pool->obj_size);
}

#endif

size_t tf__pool_alloc_chain(tf_pool *pool, size_t max, size_t link_offset, void **first) {
    void *objs[TF_POOL_CHAIN_MAX];
    if (max > TF_POOL_CHAIN_MAX) max = TF_POOL_CHAIN_MAX;
    size_t n = tf__pool_alloc_many(pool, objs, max);
    void *next = NULL;
    for (size_t i = n; i-- > 0;) {
        *(uint16_t *)objs[i] = 0; /* not handed out yet: as if freed */
        memcpy((char *)objs[i] + link_offset, &next, sizeof(next));
        next = objs[i];
    }
    *first = next;
    return n;
}

int tf__pool_free_list(tf_pool *pool, void *first, size_t link_offset) {
    int emptied = 0;
    while (first) {
        void *next; /* read first: the free reuses the object's words */
        memcpy(&next, (char *)first + link_offset, sizeof(next));
        emptied |= tf__pool_free(pool, first);
        first = next;
    }
    return emptied;
}
