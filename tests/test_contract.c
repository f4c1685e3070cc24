/* Promises of the header that the module tests did not pin down, each
 * found by a mutant of tests/mutants.txt that survived them: caller code
 * never runs under the library's locks, freed handles are refused (and
 * never released twice), tf_timer_peek follows the timer, and a timer
 * reset into the past from its own wake fires again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "testutil.h"

/* Generous: only a hang guard, never a measure of speed. */
#define HANG_GUARD_MS 20000

/* --- a caller-made waker whose clone calls into the library ------------- */

typedef struct calling_waker {
    tf_timer *other;  /* cancelled from inside clone */
    int clone_rc;     /* what that cancel returned */
    atomic_int refs;
} calling_waker;

static void *calling_clone(void *data) {
    calling_waker *c = data;
    /* Takes the timer driver's lock: were the caller's clone run under
     * it, this would never return. */
    c->clone_rc = tf_timer_cancel(c->other);
    atomic_fetch_add(&c->refs, 1);
    return c;
}

static void calling_release(void *data) {
    atomic_fetch_sub(&((calling_waker *)data)->refs, 1);
}

static void calling_wake_by_ref(void *data) { (void)data; }

static const tf_waker_vtable calling_vtable = {
    sizeof(tf_waker_vtable), 0, calling_clone, calling_release,
    calling_wake_by_ref, calling_release};

static void test_caller_clone_runs_outside_the_library_locks(void **state) {
    (void)state;
    calling_waker c = {.clone_rc = 1};
    atomic_init(&c.refs, 1);
    tf_timer *t, *other;
    assert_int_equal(tf_timer_new(3600ull * 1000000000ull, &t), TF_OK);
    assert_int_equal(tf_timer_new(3600ull * 1000000000ull, &other), TF_OK);
    c.other = other;
    tf_waker *w;
    assert_int_equal(tf_waker_new(&calling_vtable, &c, &w), TF_OK);

    /* The timer stores a clone of w: the clone function runs. */
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    assert_int_equal(c.clone_rc, TF_OK);
    assert_int_equal(tf_timer_peek(other), TF_ECANCELED);

    assert_int_equal(tf_timer_free(t), TF_OK);   /* drops the stored clone */
    assert_int_equal(tf_timer_free(other), TF_OK);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    assert_int_equal(atomic_load(&c.refs), 0);
}

/* --- freed handles: memory that is not reused, so the check is defined --- */

/* An allocator that keeps freed blocks (still readable) until the test
 * ends: a freed handle then holds whatever the library left in it. */
#define QUARANTINE_MAX 256
static void *quarantine[QUARANTINE_MAX];
static int quarantined;

static void *q_alloc(void *ud, size_t n) {
    (void)ud;
    return malloc(n);
}

static void q_free(void *ud, void *p) {
    (void)ud;
    if (quarantined < QUARANTINE_MAX)
        quarantine[quarantined++] = p;
    else
        free(p);
}

static int quarantine_setup(void **state) {
    (void)state;
    static const tf_allocator a = {sizeof(tf_allocator), 0, q_alloc, q_free, NULL};
    quarantined = 0;
    return tf_set_allocator(&a) == TF_OK ? 0 : -1;
}

static int quarantine_teardown(void **state) {
    (void)state;
    int rc = tf_set_allocator(NULL);
    for (int i = 0; i < quarantined; i++) free(quarantine[i]);
    quarantined = 0;
    return rc == TF_OK ? 0 : -1;
}

static void test_released_wakers_are_refused(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);

    tf_waker *dropped = cw_make(&c);
    assert_non_null(dropped);
    assert_int_equal(tf_waker_drop(dropped), TF_OK);
    tf_waker *woken = cw_make(&c);
    assert_non_null(woken);
    assert_int_equal(tf_waker_wake(woken), TF_OK);
    assert_int_equal(atomic_load(&c.drops), 1);
    assert_int_equal(atomic_load(&c.wakes), 1);

    tf_waker *released[] = {dropped, woken};
    for (size_t i = 0; i < 2; i++) {
        tf_waker *w = released[i], *out = NULL;
        assert_int_equal(tf_waker_wake_by_ref(w), TF_EHANDLE);
        assert_int_equal(tf_waker_clone(w, &out), TF_EHANDLE);
        assert_null(out);
        assert_int_equal(tf_waker_will_wake(w, w), TF_EHANDLE);
        assert_int_equal(tf_waker_wake(w), TF_EHANDLE);
        assert_int_equal(tf_waker_drop(w), TF_EHANDLE);
    }
    /* Nothing of the caller's ran twice. */
    assert_int_equal(atomic_load(&c.drops), 1);
    assert_int_equal(atomic_load(&c.wakes), 1);
    assert_int_equal(atomic_load(&c.wake_by_refs), 0);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

static int ready_poll(void *state, const tf_waker *w) {
    (void)state;
    (void)w;
    return TF_READY;
}

static void test_freed_executor_and_timer_are_refused(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
    uint64_t n;
    assert_int_equal(tf_executor_spawn(e, ready_poll, NULL, NULL), TF_EHANDLE);
    assert_int_equal(tf_executor_spawn_external(e, 1), TF_EHANDLE);
    assert_int_equal(tf_executor_run(e), TF_EHANDLE);
    assert_int_equal(tf_executor_run_ready(e, &n), TF_EHANDLE);
    assert_int_equal(tf_executor_count(e, &n, NULL), TF_EHANDLE);
    int fd;
    assert_int_equal(tf_executor_fd(e, &fd), TF_EHANDLE);
    assert_int_equal(tf_executor_free(e), TF_EHANDLE);

    tf_timer *t;
    assert_int_equal(tf_timer_new(3600ull * 1000000000ull, &t), TF_OK);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_timer_peek(t), TF_EHANDLE);
    assert_int_equal(tf_timer_cancel(t), TF_EHANDLE);
    assert_int_equal(tf_timer_poll(t, tf_waker_noop()), TF_EHANDLE);
    assert_int_equal(tf_timer_free(t), TF_EHANDLE);
}

/* --- tf_timer_peek ------------------------------------------------------- */

static void test_peek_follows_the_timer(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    tf_waker *w = cw_make(&c);

    /* Armed; peeking leaves the stored waker in place. */
    tf_timer *armed;
    assert_int_equal(tf_timer_new(3600ull * 1000000000ull, &armed), TF_OK);
    assert_int_equal(tf_timer_poll(armed, w), TF_PENDING);
    assert_int_equal(tf_timer_peek(armed), TF_PENDING);
    assert_int_equal(tf_timer_peek(armed), TF_PENDING);
    assert_int_equal(cw_total_wakes(&c), 0);
    /* Cancelled: the stored waker is woken, peek says so. */
    assert_int_equal(tf_timer_cancel(armed), TF_OK);
    assert_int_equal(cw_wait_wakes(&c, 1, HANG_GUARD_MS), 1);
    assert_int_equal(tf_timer_peek(armed), TF_ECANCELED);

    /* Created with a deadline long past: fired at once. (A deadline of
     * "now" may still wait for the driver: peek says pending then.) */
    tf_timer *due;
    assert_int_equal(tf_timer_new_at(0, &due), TF_OK);
    assert_int_equal(tf_timer_peek(due), TF_READY);

    /* Fired by the driver thread. */
    tf_timer *fired;
    assert_int_equal(tf_timer_new(1000000, &fired), TF_OK);
    assert_int_equal(tf_timer_poll(fired, w), TF_PENDING);
    assert_int_equal(cw_wait_wakes(&c, 2, HANG_GUARD_MS), 2);
    assert_int_equal(tf_timer_peek(fired), TF_READY);

    assert_int_equal(tf_timer_free(armed), TF_OK);
    assert_int_equal(tf_timer_free(due), TF_OK);
    assert_int_equal(tf_timer_free(fired), TF_OK);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

/* --- reset into the past from the timer's own wake ---------------------- */

typedef struct resetting_waker {
    tf_timer *timer;
    tf_waker *next;     /* polled into the timer from inside the wake */
    int reset_rc, poll_rc;
    atomic_int refs;
} resetting_waker;

static void *resetting_clone(void *data) {
    atomic_fetch_add(&((resetting_waker *)data)->refs, 1);
    return data;
}

/* Runs on the driver thread, inside the timer's firing batch. */
static void resetting_wake(void *data) {
    resetting_waker *r = data;
    /* A deadline the driver has already passed (tf_timer_reset(t, 0)
     * would be "now", later than the batch: filed like any other). */
    r->reset_rc = tf_timer_reset_at(r->timer, 0);
    r->poll_rc = tf_timer_poll(r->timer, r->next);
    atomic_fetch_sub(&r->refs, 1);
}

static void resetting_wake_by_ref(void *data) { (void)data; }

static void resetting_drop(void *data) {
    atomic_fetch_sub(&((resetting_waker *)data)->refs, 1);
}

static const tf_waker_vtable resetting_vtable = {
    sizeof(tf_waker_vtable), 0, resetting_clone, resetting_wake,
    resetting_wake_by_ref, resetting_drop};

static void test_reset_into_the_past_from_its_own_wake_fires(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    resetting_waker r = {.reset_rc = 1, .poll_rc = 1};
    atomic_init(&r.refs, 1);
    r.next = cw_make(&c);
    assert_int_equal(tf_timer_new(1000000, &r.timer), TF_OK);
    tf_waker *w;
    assert_int_equal(tf_waker_new(&resetting_vtable, &r, &w), TF_OK);
    assert_int_equal(tf_timer_poll(r.timer, w), TF_PENDING);
    assert_int_equal(tf_waker_drop(w), TF_OK);

    /* The first firing resets the timer to a deadline already past and
     * stores the next waker; the timer must fire again and wake it. */
    assert_int_equal(cw_wait_wakes(&c, 1, HANG_GUARD_MS), 1);
    assert_int_equal(r.reset_rc, TF_OK);
    assert_int_equal(r.poll_rc, TF_PENDING);
    assert_int_equal(tf_timer_peek(r.timer), TF_READY);
    assert_int_equal(tf_timer_poll(r.timer, tf_waker_noop()), TF_READY);
    assert_int_equal(tf_timer_free(r.timer), TF_OK);
    assert_int_equal(tf_waker_drop(r.next), TF_OK);
    assert_int_equal(atomic_load(&r.refs), 0);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caller_clone_runs_outside_the_library_locks),
        cmocka_unit_test_setup_teardown(test_released_wakers_are_refused,
                                        quarantine_setup, quarantine_teardown),
        cmocka_unit_test_setup_teardown(test_freed_executor_and_timer_are_refused,
                                        quarantine_setup, quarantine_teardown),
        cmocka_unit_test(test_peek_follows_the_timer),
        cmocka_unit_test(test_reset_into_the_past_from_its_own_wake_fires),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
