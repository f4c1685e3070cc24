/* SPDX-License-Identifier: MIT */
/* The stable ABI seen from a linked program: versions at compile and run
 * time, tf_get_api()'s table (frozen layout, every entry the exported
 * function of that name), and hidden internals.
 *
 * Usage: test_api   (linked with libtimefuture.so.1) */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "timefuture.h"

typedef void (*any_fn)(void);

/* The v1 table: every entry's position is part of the ABI. The list is
 * the library's own (src/api_list.h); the ABI gate keeps it append-only,
 * and this test checks that each entry is the function of that name at
 * that offset. (Each entry: its index, the member, the exported name, the
 * minor version that added it.) */
#include "../src/api_list.h"
#define TF_V1_ENTRIES(X) TF_API_V1_LIST(X)

/* Two uint32_t (size, version), then one pointer per entry. */
#define TF_V1_HEADER_BYTES 8
#define TF_V1_ENTRY_COUNT_1_0 31
#define TF_V1_ENTRY_COUNT_1_1 33
#define TF_V1_ENTRY_COUNT_1_2 43
#define TF_V1_OFFSET(i) (TF_V1_HEADER_BYTES + (size_t)(i) * sizeof(any_fn))

/* The layout is checked where the compiler sees it, too: reordering the
 * header breaks the build of this test before it breaks a user. */
#define TF_CHECK_OFFSET(i, member, fn, since)                      \
    _Static_assert(offsetof(tf_api_v1, member) == TF_V1_OFFSET(i), \
                   #member " moved in tf_api_v1");
TF_V1_ENTRIES(TF_CHECK_OFFSET)
_Static_assert(offsetof(tf_api_v1, size) == 0, "size must come first");
_Static_assert(offsetof(tf_api_v1, version) == 4, "version must come second");
_Static_assert(sizeof(tf_api_v1) >= TF_V1_OFFSET(TF_V1_ENTRY_COUNT_1_0),
               "tf_api_v1 shrank");

static const tf_api_v1 *api(void) {
    return tf_get_api(TF_ABI_MAJOR);
}

static void test_versions_agree(void **state) {
    (void)state;
    assert_int_equal(TF_VERSION_NUMBER,
                     /* cppcheck-suppress badBitmaskCheck ; the patch may be 0 */
                     (TF_VERSION_MAJOR << 16) | (TF_VERSION_MINOR << 8) | TF_VERSION_PATCH);
    assert_int_equal(tf_version(), TF_VERSION_NUMBER);
    assert_string_equal(tf_version_string(), TF_VERSION_STRING);
    char expect[32];
    (void)snprintf(expect, sizeof expect, "%u.%u.%u", tf_version() >> 16, (tf_version() >> 8) & 0xff,
             tf_version() & 0xff);
    assert_string_equal(tf_version_string(), expect);
    /* The soname promises 1.x. */
    assert_int_equal(tf_version() >> 16, 1);
    assert_int_equal(TF_ABI_MAJOR, TF_VERSION_MAJOR);
}

static void test_get_api_serves_major_1_only(void **state) {
    (void)state;
    const tf_api_v1 *t = api();
    assert_non_null(t);
    assert_ptr_equal(tf_get_api(1), t); /* one static table */
    assert_null(tf_get_api(0));
    assert_null(tf_get_api(2));
    assert_null(tf_get_api(UINT32_MAX));
    assert_int_equal(t->version, tf_version());
    assert_true(t->size >= TF_V1_OFFSET(TF_V1_ENTRY_COUNT_1_0));
    assert_int_equal(t->size, sizeof(tf_api_v1));
    assert_int_equal(t->size, TF_V1_OFFSET(TF_V1_ENTRY_COUNT_1_2));
}

static void test_entries_are_the_exported_functions(void **state) {
    (void)state;
    const tf_api_v1 *t = api();
    int checked = 0;
    /* Each entry is read at its frozen offset, as an old caller would, and
     * must be the function of that name, both as this program links it and
     * as the dynamic linker finds it by name. */
#define TF_CHECK_ENTRY(i, member, fn, since)                                      \
    do {                                                                     \
        any_fn at_offset;                                                    \
        memcpy(&at_offset, (const char *)t + TF_V1_OFFSET(i), sizeof at_offset); \
        any_fn linked = (any_fn)(fn);                                        \
        void *sym = dlsym(RTLD_DEFAULT, #fn);                                \
        any_fn by_name;                                                      \
        memcpy(&by_name, &sym, sizeof by_name);                              \
        /* The list names each function after its member, so a list  \
         * edited on both sides (table and test) is still caught. */   \
        char want[64];                                                       \
        (void)snprintf(want, sizeof want, "tf_%s",                           \
                       strcmp(#member, "version_fn") == 0 ? "version" : #member); \
        if (strcmp(want, #fn) != 0) fail_msg("entry %d: member %s holds %s", i, #member, #fn); \
        if (at_offset != linked || linked != by_name) {                      \
            fail_msg("entry %d (%s) is not %s", i, #member, #fn);          \
        }                                                                    \
        checked++;                                                           \
    } while (0);
    TF_V1_ENTRIES(TF_CHECK_ENTRY)
    assert_int_equal(checked, TF_V1_ENTRY_COUNT_1_2);
    /* A table longer than 1.0's must not end in a NULL entry. */
    for (size_t off = TF_V1_OFFSET(0); off + sizeof(any_fn) <= t->size; off += sizeof(any_fn)) {
        any_fn f;
        memcpy(&f, (const char *)t + off, sizeof f);
        assert_true(f != NULL);
    }
}

static void test_calls_through_the_table_work(void **state) {
    (void)state;
    const tf_api_v1 *t = api();
    assert_string_equal(t->strerror(TF_ETIMEDOUT), tf_strerror(TF_ETIMEDOUT));
    uint64_t a = t->now_ns(), b = tf_now_ns();
    assert_true(b >= a);
    tf_timer *timer = NULL;
    assert_int_equal(t->timer_new(0, &timer), TF_OK);
    uint64_t deadline = 0;
    assert_int_equal(t->timer_deadline(timer, &deadline), TF_OK);
    assert_true(deadline >= a);
    assert_int_equal(t->timer_free(timer), TF_OK);
    assert_int_equal(t->executor_new(1025, &(tf_executor *){NULL}), TF_EINVAL);
}

static void test_internals_are_hidden(void **state) {
    (void)state;
    /* Private helpers share the tf_ prefix that the version script
     * exports; -fvisibility=hidden is what keeps them out. */
    static const char *const hidden[] = {"tf__alloc", "tf__free", "tf__calloc",
                                         "tf__live_objects", "tf__set_thread_create_hook",
                                         "tf__thread_create_allowed"};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        if (dlsym(RTLD_DEFAULT, hidden[i]) != NULL) fail_msg("%s is exported", hidden[i]);
    }
    /* A sanity check that the lookup itself works. */
    assert_non_null(dlsym(RTLD_DEFAULT, TF_GET_API_SYMBOL));
}

static void test_symbols_carry_the_version_node(void **state) {
    (void)state;
    /* Every 1.0 symbol is bound to the TF_1.0 node of the version script. */
    const char *names[] = {"tf_get_api", "tf_version", "tf_block_on", "tf_executor_fd"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *versioned = dlvsym(RTLD_DEFAULT, names[i], "TF_1.0");
        if (!versioned) fail_msg("%s@TF_1.0 not found", names[i]);
        assert_ptr_equal(versioned, dlsym(RTLD_DEFAULT, names[i]));
    }
    /* Functions added later are bound to the node of their minor version
     * and to no earlier one. */
    static const struct { const char *name, *node, *not_node; } later[] = {
        {"tf_executor_drain", "TF_1.1", "TF_1.0"},
        {"tf_timer_peek", "TF_1.1", "TF_1.0"},
        {"tf_driver_new", "TF_1.2", "TF_1.1"},
        {"tf_driver_advance", "TF_1.2", "TF_1.0"},
        {"tf_timer_new_on", "TF_1.2", "TF_1.0"},
        {"tf_timer_driver", "TF_1.2", "TF_1.1"},
    };
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++) {
        void *versioned = dlvsym(RTLD_DEFAULT, later[i].name, later[i].node);
        if (!versioned) fail_msg("%s@%s not found", later[i].name, later[i].node);
        assert_ptr_equal(versioned, dlsym(RTLD_DEFAULT, later[i].name));
        if (dlvsym(RTLD_DEFAULT, later[i].name, later[i].not_node))
            fail_msg("%s is also in %s", later[i].name, later[i].not_node);
    }
    assert_null(dlvsym(RTLD_DEFAULT, "tf_version", "TF_0.9"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions_agree),
        cmocka_unit_test(test_get_api_serves_major_1_only),
        cmocka_unit_test(test_entries_are_the_exported_functions),
        cmocka_unit_test(test_calls_through_the_table_work),
        cmocka_unit_test(test_internals_are_hidden),
        cmocka_unit_test(test_symbols_carry_the_version_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
