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

/* The v1 table as released (1.0: entries 0-30; 1.1: 31-32; 1.2: 33-42):
 * every entry's position is part of the
 * ABI. Entries are only ever appended, so this list is never edited, only
 * extended. (Each entry: its index, the member, the exported name.) */
#define TF_V1_ENTRIES(X)                                \
    X(0, version_fn, tf_version)                        \
    X(1, version_string, tf_version_string)             \
    X(2, strerror, tf_strerror)                         \
    X(3, now_ns, tf_now_ns)                             \
    X(4, set_allocator, tf_set_allocator)               \
    X(5, waker_new, tf_waker_new)                       \
    X(6, waker_noop, tf_waker_noop)                     \
    X(7, waker_clone, tf_waker_clone)                   \
    X(8, waker_wake, tf_waker_wake)                     \
    X(9, waker_wake_by_ref, tf_waker_wake_by_ref)       \
    X(10, waker_drop, tf_waker_drop)                    \
    X(11, waker_will_wake, tf_waker_will_wake)          \
    X(12, timer_new, tf_timer_new)                      \
    X(13, timer_new_at, tf_timer_new_at)                \
    X(14, timer_poll, tf_timer_poll)                    \
    X(15, timer_reset, tf_timer_reset)                  \
    X(16, timer_reset_at, tf_timer_reset_at)            \
    X(17, timer_cancel, tf_timer_cancel)                \
    X(18, timer_deadline, tf_timer_deadline)            \
    X(19, timer_free, tf_timer_free)                    \
    X(20, executor_new, tf_executor_new)                \
    X(21, executor_free, tf_executor_free)              \
    X(22, executor_spawn, tf_executor_spawn)            \
    X(23, executor_run, tf_executor_run)                \
    X(24, executor_run_ready, tf_executor_run_ready)    \
    X(25, executor_count, tf_executor_count)            \
    X(26, executor_spawn_external, tf_executor_spawn_external) \
    X(27, executor_next, tf_executor_next)              \
    X(28, executor_report, tf_executor_report)          \
    X(29, executor_fd, tf_executor_fd)                  \
    X(30, block_on, tf_block_on)                        \
    X(31, executor_drain, tf_executor_drain)            \
    X(32, timer_peek, tf_timer_peek)                    \
    X(33, driver_default, tf_driver_default)            \
    X(34, driver_new, tf_driver_new)                    \
    X(35, driver_free, tf_driver_free)                  \
    X(36, driver_now, tf_driver_now)                    \
    X(37, driver_next_deadline, tf_driver_next_deadline) \
    X(38, driver_advance, tf_driver_advance)            \
    X(39, driver_fd, tf_driver_fd)                      \
    X(40, timer_new_on, tf_timer_new_on)                \
    X(41, timer_new_at_on, tf_timer_new_at_on)          \
    X(42, timer_driver, tf_timer_driver)

/* Two uint32_t (size, version), then one pointer per entry. */
#define TF_V1_HEADER_BYTES 8
#define TF_V1_ENTRY_COUNT_1_0 31
#define TF_V1_ENTRY_COUNT_1_1 33
#define TF_V1_ENTRY_COUNT_1_2 43
#define TF_V1_OFFSET(i) (TF_V1_HEADER_BYTES + (size_t)(i) * sizeof(any_fn))

/* The layout is checked where the compiler sees it, too: reordering the
 * header breaks the build of this test before it breaks a user. */
#define TF_CHECK_OFFSET(i, member, fn)                        \
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
#define TF_CHECK_ENTRY(i, member, fn)                                        \
    do {                                                                     \
        any_fn at_offset;                                                    \
        memcpy(&at_offset, (const char *)t + TF_V1_OFFSET(i), sizeof at_offset); \
        any_fn linked = (any_fn)(fn);                                        \
        void *sym = dlsym(RTLD_DEFAULT, #fn);                                \
        any_fn by_name;                                                      \
        memcpy(&by_name, &sym, sizeof by_name);                              \
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
