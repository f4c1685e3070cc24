/* SPDX-License-Identifier: MIT */
/* The object pool (src/pool.c): objects come from chunks, and a chunk
 * goes back to the allocator once its last object is freed (one empty
 * chunk is kept), so a burst followed by a few survivors does not pin the
 * burst's memory. The allocator is a counting one set with
 * tf_set_allocator, which also fails chosen calls; the tests read the
 * chunks held from the outside, through it.
 *
 * Built against the static library: the pool is private. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "pool.h"
#include "testutil.h"

/* --- the counting allocator -------------------------------------------- */

static struct {
    long calls;       /* every call of alloc */
    long outstanding; /* allocations not yet freed */
    long peak;
    long fail_from;   /* fail every call from this one (1-based); 0: none */
} ca;

static void *ca_alloc(void *ud, size_t n) {
    (void)ud;
    long k = ++ca.calls;
    if (ca.fail_from && k >= ca.fail_from) return NULL;
    void *p = malloc(n);
    if (p && ++ca.outstanding > ca.peak) ca.peak = ca.outstanding;
    return p;
}

static void ca_free(void *ud, void *p) {
    (void)ud;
    ca.outstanding--;
    free(p);
}

static int setup(void **state) {
    (void)state;
    memset(&ca, 0, sizeof(ca));
    tf_allocator a = TF_ALLOCATOR_INIT(ca_alloc, ca_free, NULL);
    return tf_set_allocator(&a) == TF_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return tf_set_allocator(NULL) == TF_OK ? 0 : -1;
}

/* --- objects ------------------------------------------------------------ */

/* 40 bytes, like a timer; magic first, word 1 is where the pool links
 * freed objects. */
typedef struct obj {
    uint16_t magic;
    uint16_t pad;
    uint32_t id;
    void *word1;
    uint64_t stamp[3];
} obj;
_Static_assert(sizeof(obj) == 40, "timer-sized object");

enum { MAGIC = 0x5a5a };

static obj *make(tf_pool *p, uint32_t id) {
    obj *o = tf__pool_alloc(p);
    if (!o) return NULL;
    o->magic = MAGIC;
    o->id = id;
    o->word1 = o;
    for (int i = 0; i < 3; i++) o->stamp[i] = (uint64_t)id * 0x9E3779B97F4A7C15ull + (uint64_t)i;
    return o;
}

/* Fails when another object was written over this one. */
static void check(const obj *o, uint32_t id) {
    if (!o) {
        fail_msg("object %u is missing", (unsigned)id);
        return; /* fail_msg does not return; the analyzer does not know */
    }
    assert_int_equal(o->magic, MAGIC);
    assert_int_equal(o->id, id);
    assert_ptr_equal(o->word1, o);
    for (int i = 0; i < 3; i++)
        assert_true(o->stamp[i] == (uint64_t)id * 0x9E3779B97F4A7C15ull + (uint64_t)i);
}

static void drop_obj(tf_pool *p, obj *o, uint32_t id) {
    check(o, id);
    if (o) tf__pool_free(p, o);
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next_random(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* --- tests -------------------------------------------------------------- */

/* Every object of a pool of small objects names the pool's owner, in
 * every chunk, a spare chunk reused included (the executor finds a task's
 * executor so). Two pools with two owners side by side keep theirs. */
static void test_objects_name_their_owner(void **state) {
    (void)state;
    enum { N = 30000 };
    tf_pool a, b;
    int owner_a, owner_b;
    tf__pool_init(&a, sizeof(obj));
    tf__pool_init(&b, 24);
    a.owner = &owner_a;
    b.owner = &owner_b;
#ifndef TF_NO_POOL
    assert_int_equal(a.chunk_size, TF_POOL_CHUNK_SMALL);
    assert_int_equal(b.chunk_size, TF_POOL_CHUNK_SMALL);
    assert_true(a.per_chunk < N); /* several chunks */
#endif
    obj **va = calloc(N, sizeof(*va));
    void **vb = calloc(N, sizeof(*vb));
    assert_non_null(va);
    assert_non_null(vb);
    for (int round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < N; i++) {
            va[i] = make(&a, i);
            vb[i] = tf__pool_alloc(&b);
            assert_non_null(va[i]);
            assert_non_null(vb[i]);
            *(uint16_t *)vb[i] = 1; /* live */
        }
        for (uint32_t i = 0; i < N; i++) {
            assert_ptr_equal(tf__pool_owner(va[i]), &owner_a);
            assert_ptr_equal(tf__pool_owner(vb[i]), &owner_b);
        }
        /* Freed, so the next round reuses the spare and recarves. */
        for (uint32_t i = 0; i < N; i++) {
            drop_obj(&a, va[i], i);
            tf__pool_free(&b, vb[i]);
        }
    }
    tf__pool_destroy(&a);
    tf__pool_destroy(&b);
    assert_int_equal(ca.outstanding, 0);
    free(va);
    free(vb);
}

static void test_alloc_free_distinct(void **state) {
    (void)state;
    enum { N = 20000 };
    tf_pool p;
    tf__pool_init(&p, sizeof(obj));
    obj **v = calloc(N, sizeof(*v));
    for (uint32_t i = 0; i < N; i++) {
        v[i] = make(&p, i);
        assert_non_null(v[i]);
        assert_int_equal((uintptr_t)v[i] % 8, 0);
    }
    assert_int_equal(p.live, N);
    /* Each still holds what was written into it: no two overlap. */
    for (uint32_t i = 0; i < N; i++) check(v[i], i);
    for (uint32_t i = 0; i < N; i += 2) drop_obj(&p, v[i], i);
    for (uint32_t i = 1; i < N; i += 2) check(v[i], i);
    /* Freed slots are reused, and stay apart from the live ones. */
    for (uint32_t i = 0; i < N; i += 2) v[i] = make(&p, i);
    for (uint32_t i = 0; i < N; i++) drop_obj(&p, v[i], i);
    assert_int_equal(p.live, 0);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);
    free(v);
}

/* The point of the pool's design: after a burst, one survivor keeps its
 * own chunk, not the burst's. */
static void burst_with_survivors(size_t n, const size_t *keep, size_t nkeep) {
    tf_pool p;
    tf__pool_init(&p, sizeof(obj));
    obj **v = calloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++) assert_non_null(v[i] = make(&p, (uint32_t)i));
    long at_peak = ca.outstanding;
    assert_true(at_peak >= 10); /* the burst spans many chunks */
    for (size_t i = 0; i < n; i++) {
        int kept = 0;
        for (size_t k = 0; k < nkeep; k++) kept |= keep[k] == i;
        if (!kept) drop_obj(&p, v[i], (uint32_t)i);
    }
    assert_int_equal(p.live, nkeep);
    /* A chunk per survivor at most, and the one spare. */
    assert_true(ca.outstanding <= (long)nkeep + 1);
    tf__pool_trim(&p);
    assert_true(ca.outstanding <= (long)nkeep);
    for (size_t k = 0; k < nkeep; k++) drop_obj(&p, v[keep[k]], (uint32_t)keep[k]);
    assert_true(ca.outstanding <= 1);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);
    free(v);
}

static void test_trim_after_burst_first_survives(void **state) {
    (void)state;
    size_t keep[] = {0};
    burst_with_survivors(200000, keep, 1);
}

static void test_trim_after_burst_middle_survives(void **state) {
    (void)state;
    size_t keep[] = {123457};
    burst_with_survivors(200000, keep, 1);
}

static void test_trim_after_burst_last_survives(void **state) {
    (void)state;
    size_t keep[] = {199999};
    burst_with_survivors(200000, keep, 1);
}

static void test_trim_after_burst_few_survive(void **state) {
    (void)state;
    size_t keep[] = {7, 50001, 50002, 150000, 199998};
    burst_with_survivors(200000, keep, 5);
}

/* An object made and freed in a loop reuses the spare chunk: the
 * allocator is not called each time. */
static void test_churn_does_not_call_allocator(void **state) {
    (void)state;
    tf_pool p;
    tf__pool_init(&p, sizeof(obj));
    for (uint32_t i = 0; i < 10000; i++) drop_obj(&p, make(&p, i), i);
#ifdef TF_NO_POOL
    assert_int_equal(ca.calls, 10000); /* pooling off: one each */
#else
    assert_int_equal(ca.calls, 1);
    /* Also at a chunk boundary: fill a chunk, then churn one more. */
    obj **v = calloc(p.per_chunk, sizeof(*v));
    for (size_t i = 0; i < p.per_chunk; i++) v[i] = make(&p, (uint32_t)i);
    long calls = ca.calls;
    for (uint32_t i = 0; i < 10000; i++) drop_obj(&p, make(&p, i), i);
    assert_true(ca.calls <= calls + 1);
    for (size_t i = 0; i < p.per_chunk; i++) drop_obj(&p, v[i], (uint32_t)i);
    free(v);
#endif
    assert_true(ca.outstanding <= 1);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);
}

#ifndef TF_NO_POOL
static tf_pool_chunk *chunk_of(const tf_pool *p, const void *o) {
    return (tf_pool_chunk *)((uintptr_t)o & ~(uintptr_t)(p->chunk_size - 1));
}

/* A chunk that just had one slot freed is allocated from first, not the
 * one that is nearly empty: that one keeps emptying and can go back. */
static void test_alloc_prefers_nearly_full_chunk(void **state) {
    (void)state;
    tf_pool p;
    tf__pool_init(&p, sizeof(obj));
    size_t n = 3 * p.per_chunk;
    obj **v = calloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++) v[i] = make(&p, (uint32_t)i);
    assert_int_equal(p.chunks, 3);
    /* Objects are carved in order: chunk k holds k*per_chunk.. */
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < p.per_chunk; i++)
            assert_ptr_equal(chunk_of(&p, v[k * p.per_chunk + i]),
                             chunk_of(&p, v[k * p.per_chunk]));
    /* Chunk 1: all but one freed (nearly empty); then chunk 0 loses one. */
    for (size_t i = p.per_chunk; i < 2 * p.per_chunk - 1; i++) {
        drop_obj(&p, v[i], (uint32_t)i);
        v[i] = NULL;
    }
    drop_obj(&p, v[5], 5);
    obj *o = make(&p, 5);
    assert_ptr_equal(chunk_of(&p, o), chunk_of(&p, v[0]));
    v[5] = o;
    /* Chunk 1's last object goes: the chunk is the spare now, and a
     * further one would be freed. */
    drop_obj(&p, v[2 * p.per_chunk - 1], (uint32_t)(2 * p.per_chunk - 1));
    v[2 * p.per_chunk - 1] = NULL;
    assert_non_null(p.spare);
    assert_int_equal(p.chunks, 3);
    for (size_t i = 2 * p.per_chunk; i < n; i++) drop_obj(&p, v[i], (uint32_t)i);
    assert_int_equal(p.chunks, 2);
    assert_int_equal(ca.outstanding, 2);
    for (size_t i = 0; i < p.per_chunk; i++) drop_obj(&p, v[i], (uint32_t)i);
    assert_int_equal(p.chunks, 1);
    tf__pool_destroy(&p);
    assert_int_equal(p.chunks, 0);
    assert_int_equal(ca.outstanding, 0);
    free(v);
}

/* Of two empty chunks the lower one is kept: heaps give memory back to
 * the system from their top only, so a spare kept high would hold every
 * freed chunk below it. Emptied from the top down and from the bottom up,
 * the spare ends as the lowest chunk. */
static void spare_is_lowest(int top_down) {
    tf_pool p;
    tf__pool_init(&p, sizeof(obj));
    enum { CHUNKS = 6 };
    size_t n = CHUNKS * p.per_chunk;
    obj **v = calloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++) v[i] = make(&p, (uint32_t)i);
    assert_int_equal(p.chunks, CHUNKS);
    tf_pool_chunk *c[CHUNKS];
    for (size_t k = 0; k < CHUNKS; k++) c[k] = chunk_of(&p, v[k * p.per_chunk]);
    /* Order the chunks by address. */
    for (size_t i = 0; i < CHUNKS; i++)
        for (size_t j = i + 1; j < CHUNKS; j++)
            if ((uintptr_t)c[j] < (uintptr_t)c[i]) {
                tf_pool_chunk *t = c[i];
                c[i] = c[j];
                c[j] = t;
            }
    /* Empty them one by one in address order, from the top or the
     * bottom. */
    for (size_t r = 0; r < CHUNKS; r++) {
        tf_pool_chunk *want = c[top_down ? CHUNKS - 1 - r : r];
        for (size_t i = 0; i < n; i++) {
            if (v[i] && chunk_of(&p, v[i]) == want) {
                drop_obj(&p, v[i], (uint32_t)i);
                v[i] = NULL;
            }
        }
        assert_ptr_equal(p.spare, top_down ? want : c[0]);
        assert_int_equal(p.chunks, CHUNKS - r);
    }
    assert_int_equal(p.live, 0);
    assert_int_equal(ca.outstanding, 1);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);
    free(v);
}

static void test_spare_is_lowest_top_down(void **state) {
    (void)state;
    spare_is_lowest(1);
}

static void test_spare_is_lowest_bottom_up(void **state) {
    (void)state;
    spare_is_lowest(0);
}

/* Chunks are aligned to their size (objects find them by masking), also
 * for objects big enough to need bigger chunks. */
static void test_big_objects(void **state) {
    (void)state;
    tf_pool p;
    tf__pool_init(&p, 9000);
    assert_true(p.per_chunk >= 64);
    assert_int_equal(p.chunk_size & (p.chunk_size - 1), 0);
    enum { N = 300 };
    char *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = tf__pool_alloc(&p);
        assert_non_null(v[i]);
        memset(v[i], i + 1, 9000);
        assert_true((uintptr_t)v[i] + 9000 <=
                    (uintptr_t)chunk_of(&p, v[i]) + p.chunk_size);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal((unsigned char)v[i][8999], (unsigned char)(i + 1));
        tf__pool_free(&p, v[i]);
    }
    assert_true(ca.outstanding <= 1);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);
}
#endif

typedef struct visit {
    const char *live; /* by id: 1 if live */
    size_t n;
    size_t seen;
} visit;

static void count_visit(void *o, void *arg) {
    visit *vi = arg;
    obj *x = o;
    assert_int_equal(x->magic, MAGIC);
    assert_true(x->id < vi->n);
    assert_true(vi->live[x->id]);
    check(x, x->id);
    vi->seen++;
}

static void test_each_visits_only_live(void **state) {
    (void)state;
    enum { N = 30000 };
    tf_pool p;
    tf__pool_init(&p, sizeof(obj));
    obj **v = calloc(N, sizeof(*v));
    char *live = calloc(N, 1);
    for (uint32_t i = 0; i < N; i++) {
        v[i] = make(&p, i);
        live[i] = 1;
    }
    /* Leave whole chunks empty, some partial, some full. */
    for (uint32_t i = 0; i < N; i++) {
        if ((i / 5000) % 2 == 1 || i % 3 == 0) {
            drop_obj(&p, v[i], i);
            live[i] = 0;
        }
    }
    size_t want = 0;
    for (uint32_t i = 0; i < N; i++) want += (size_t)live[i];
    visit vi = {live, N, 0};
    tf__pool_each(&p, count_visit, &vi);
    assert_int_equal(vi.seen, want);
    assert_int_equal(p.live, want);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);
    vi.seen = 0;
    tf__pool_each(&p, count_visit, &vi); /* an empty pool visits nothing */
    assert_int_equal(vi.seen, 0);
    free(v);
    free(live);
}

/* Random alloc/free against a model (the array of live objects), in
 * phases that grow and shrink the pool, so chunks fill, empty, go back
 * and come again. */
static void test_random_against_model(void **state) {
    (void)state;
    enum { CAP = 60000, STEPS = 400000 };
    tf_pool p;
    tf__pool_init(&p, sizeof(obj));
    obj **v = calloc(CAP, sizeof(*v));
    uint32_t *ids = calloc(CAP, sizeof(*ids));
    char *live = calloc(STEPS + 1, 1);
    size_t n = 0;
    uint32_t next_id = 0;
    for (long step = 0; step < STEPS; step++) {
        /* Phase of 50000 steps: mostly allocating, then mostly freeing. */
        int grow = (step / 50000) % 2 == 0;
        int alloc = n == 0 || (n < CAP && (int)(next_random() % 10) < (grow ? 7 : 3));
        if (alloc) {
            uint32_t id = next_id++;
            v[n] = make(&p, id);
            assert_non_null(v[n]);
            ids[n++] = id;
            live[id] = 1;
        } else {
            size_t k = (size_t)(next_random() % n);
            drop_obj(&p, v[k], ids[k]);
            live[ids[k]] = 0;
            v[k] = v[--n];
            ids[k] = ids[n];
        }
        assert_int_equal(p.live, n);
        if (step % 40000 == 0) {
            visit vi = {live, STEPS + 1, 0};
            tf__pool_each(&p, count_visit, &vi);
            assert_int_equal(vi.seen, n);
#ifndef TF_NO_POOL
            /* No more chunks than the live objects need when packed
             * worst-case (one per object), and the spare. */
            assert_true(p.chunks <= n + 1);
            assert_int_equal((long)p.chunks, ca.outstanding);
#endif
        }
    }
    for (size_t k = 0; k < n; k++) drop_obj(&p, v[k], ids[k]);
    assert_int_equal(p.live, 0);
    assert_true(ca.outstanding <= 1);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);
    free(v);
    free(ids);
    free(live);
}

/* Stamps a fresh object as make() does. */
static obj *stamp(void *mem, uint32_t id) {
    obj *o = mem;
    o->magic = MAGIC;
    o->id = id;
    o->word1 = o;
    for (int i = 0; i < 3; i++) o->stamp[i] = (uint64_t)id * 0x9E3779B97F4A7C15ull + (uint64_t)i;
    return o;
}

/* tf__pool_alloc_many against a model, with random frees: blocks of every size, across chunk boundaries, from
 * fresh chunks and from freed slots. Objects never overlap and the counts
 * stay exact; a block from a fresh pool is one run of ascending
 * addresses; a failing allocator gives a short block and leaves the pool
 * consistent. */
static void test_alloc_many_against_model(void **state) {
    (void)state;
    enum { CAP = 40000, STEPS = 3000, MAXB = 150 };
    tf_pool p;
    tf__pool_init(&p, sizeof(obj));
    obj **v = calloc(CAP, sizeof(*v));
    uint32_t *ids = calloc(CAP, sizeof(*ids));
    void *block[MAXB];
    size_t n = 0;
    uint32_t next_id = 0;
    for (int step = 0; step < STEPS; step++) {
        int grow = (step / 500) % 2 == 0;
        if (n == 0 || (n + MAXB < CAP && (int)(next_random() % 10) < (grow ? 7 : 3))) {
            size_t want = 1 + (size_t)(next_random() % MAXB);
            size_t got = tf__pool_alloc_many(&p, block, want);
            assert_int_equal(got, want);
            assert_int_equal(p.live, n + got);
            for (size_t i = 0; i < got; i++) {
                uint32_t id = next_id++;
                v[n] = stamp(block[i], id);
                ids[n++] = id;
            }
        } else {
            size_t k = 1 + (size_t)(next_random() % 200);
            while (k-- && n) {
                size_t i = (size_t)(next_random() % n);
                drop_obj(&p, v[i], ids[i]);
                v[i] = v[--n];
                ids[i] = ids[n];
            }
        }
        assert_int_equal(p.live, n);
        if (step % 250 == 0)
            for (size_t i = 0; i < n; i++) check(v[i], ids[i]);
    }
    for (size_t i = 0; i < n; i++) check(v[i], ids[i]);
    for (size_t i = 0; i < n; i++) drop_obj(&p, v[i], ids[i]);
    assert_int_equal(p.live, 0);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);

    /* A fresh pool: one block is one run of ascending addresses. */
    tf__pool_init(&p, sizeof(obj));
    assert_int_equal(tf__pool_alloc_many(&p, block, MAXB), MAXB);
#ifndef TF_NO_POOL
    for (size_t i = 1; i < MAXB; i++)
        assert_ptr_equal((char *)block[i], (char *)block[i - 1] + sizeof(obj));
#endif
    for (size_t i = 0; i < MAXB; i++) stamp(block[i], (uint32_t)i);
    for (size_t i = 0; i < MAXB; i++) drop_obj(&p, block[i], (uint32_t)i);

    /* A chain: the same order, linked through the given word, magic 0
     * (a walk of live objects sees none of them). */
    void *first = NULL;
    assert_int_equal(tf__pool_alloc_chain(&p, TF_POOL_CHAIN_MAX + 10, offsetof(obj, word1), &first),
                     TF_POOL_CHAIN_MAX);
    size_t k = 0;
    for (obj *o = first; o; o = o->word1, k++) {
        block[k] = o;
        assert_int_equal(o->magic, 0);
#ifndef TF_NO_POOL
        if (k) assert_true((char *)block[k] > (char *)block[k - 1]);
#endif
    }
    assert_int_equal(k, TF_POOL_CHAIN_MAX);
    assert_int_equal(p.live, TF_POOL_CHAIN_MAX);
    visit none = {NULL, 0, 0};
    tf__pool_each(&p, count_visit, &none);
    assert_int_equal(none.seen, 0);
#ifndef TF_NO_POOL
    const int emptied = 1; /* the chain was its chunk's only objects */
#else
    const int emptied = 0; /* no chunks */
#endif
    assert_int_equal(tf__pool_free_list(&p, first, offsetof(obj, word1)), emptied);
    assert_int_equal(p.live, 0);

    /* The allocator failing: a short block, then nothing, and the objects
     * handed out are whole and counted. */
    ca.fail_from = ca.calls + 2; /* one more chunk (or object), then none */
    size_t got = 0, total = 0;
    obj **w = v;
    while ((got = tf__pool_alloc_many(&p, block, MAXB)) == MAXB) {
        for (size_t i = 0; i < got; i++) w[total + i] = stamp(block[i], (uint32_t)(total + i));
        total += got;
        assert_true(total < CAP);
    }
    for (size_t i = 0; i < got; i++) w[total + i] = stamp(block[i], (uint32_t)(total + i));
    total += got;
    assert_int_equal(p.live, total);
    assert_int_equal(tf__pool_alloc_many(&p, block, MAXB), 0);
    assert_int_equal(p.live, total);
    ca.fail_from = 0;
    for (size_t i = 0; i < total; i++) drop_obj(&p, w[i], (uint32_t)i);
    assert_int_equal(p.live, 0);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);
    free(v);
    free(ids);
}

/* An allocation failure returns NULL and changes nothing: the live
 * objects stay intact, later frees and allocations work. */
static void test_alloc_failure_leaves_pool_consistent(void **state) {
    (void)state;
    enum { N = 50000 };
    tf_pool p;
    tf__pool_init(&p, sizeof(obj));
    obj **v = calloc(N, sizeof(*v));
    ca.fail_from = 4; /* the 4th allocator call onwards fails */
    size_t n = 0;
    while (n < N && (v[n] = make(&p, (uint32_t)n)) != NULL) n++;
    assert_true(n < N);
    assert_true(n > 0);
    assert_int_equal(p.live, n);
    long outstanding = ca.outstanding;
    assert_int_equal(outstanding, 3);
    /* Failing again and again changes nothing either. */
    for (int i = 0; i < 10; i++) assert_null(tf__pool_alloc(&p));
    assert_int_equal(p.live, n);
    assert_int_equal(ca.outstanding, outstanding);
    visit vi;
    char *live = calloc(N, 1);
    memset(live, 1, n);
    vi = (visit){live, N, 0};
    tf__pool_each(&p, count_visit, &vi);
    assert_int_equal(vi.seen, n);
    /* Freed slots are usable while the allocator still fails (with
     * pooling off every object is an allocation: not then). */
    for (size_t i = 0; i < n; i += 2) drop_obj(&p, v[i], (uint32_t)i);
#ifdef TF_NO_POOL
    ca.fail_from = 0;
#endif
    for (size_t i = 0; i < n; i += 2) assert_non_null(v[i] = make(&p, (uint32_t)i));
    for (size_t i = 0; i < n; i++) check(v[i], (uint32_t)i);
    /* With the allocator back, the pool grows again. */
    ca.fail_from = 0;
    while (n < N) {
        v[n] = make(&p, (uint32_t)n);
        assert_non_null(v[n]);
        n++;
    }
    memset(live, 1, N);
    vi = (visit){live, N, 0};
    tf__pool_each(&p, count_visit, &vi);
    assert_int_equal(vi.seen, N);
    for (size_t i = 0; i < N; i++) drop_obj(&p, v[i], (uint32_t)i);
    assert_true(ca.outstanding <= 1);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);
    free(v);
    free(live);
}

/* A failure when the pool is empty (no chunk at all), and destroy of a
 * pool with live objects, which then is usable again. */
static void test_fail_empty_and_destroy_live(void **state) {
    (void)state;
    tf_pool p;
    tf__pool_init(&p, sizeof(obj));
    ca.fail_from = 1;
    assert_null(tf__pool_alloc(&p));
    assert_int_equal(p.live, 0);
    assert_int_equal(ca.outstanding, 0);
    ca.fail_from = 0;
    for (uint32_t i = 0; i < 1000; i++) assert_non_null(make(&p, i));
    tf__pool_destroy(&p);
    assert_int_equal(p.live, 0);
    assert_int_equal(ca.outstanding, 0);
    obj *o = make(&p, 1);
    assert_non_null(o);
    drop_obj(&p, o, 1);
    tf__pool_destroy(&p);
    assert_int_equal(ca.outstanding, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alloc_free_distinct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_many_against_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_objects_name_their_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim_after_burst_first_survives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim_after_burst_middle_survives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim_after_burst_last_survives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim_after_burst_few_survive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_churn_does_not_call_allocator, setup, teardown),
#ifndef TF_NO_POOL
        cmocka_unit_test_setup_teardown(test_alloc_prefers_nearly_full_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spare_is_lowest_top_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spare_is_lowest_bottom_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_objects, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_each_visits_only_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failure_leaves_pool_consistent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_empty_and_destroy_live, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
