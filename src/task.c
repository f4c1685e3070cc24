/* SPDX-License-Identifier: MIT */
/* The task state machine (see task.h and docs/design.md). Every transition
 * is one compare-and-swap on the state word, so a wake can never be lost
 * between "the poll returned pending" and "the task went idle"; a wake of
 * the task this thread is polling makes none (the runner re-queues it). */
#include <pthread.h>

#include "task.h"
#include "executor_internal.h"

int tf__task_forked(const tf_task *t) {
    return tf__task_exec(t)->fork_gen !=
           atomic_load_explicit(&tf__fork_generation, memory_order_relaxed);
}

void tf__task_unref(tf_task *t) {
    uint32_t prev = atomic_fetch_sub_explicit(&t->state, TF_TASK_REF_ONE,
                                              memory_order_acq_rel);
    if (prev / TF_TASK_REF_ONE == 1) tf__executor_task_dealloc(t);
}

_Thread_local tf_poll_slot tf__task_poll_slot
    __attribute__((tls_model("initial-exec")));

/* In a child of fork() no poll of this library is in progress, even if
 * the parent forked from inside one: the parent's task stays the
 * parent's, and a wake of it gets the child's TF_EFORK, not a self-wake. */
static void atfork_child(void) {
    tf__task_poll_slot.cur = NULL;
    tf__task_poll_slot.woken = 0;
}

__attribute__((constructor)) static void task_fork_init(void) {
    pthread_atfork(NULL, NULL, atfork_child);
}

void tf__task_wake_other(tf_task *t) {
    uint32_t cur = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        /* Already queued, already going to be re-queued, or finished:
         * a task woken many times is queued once. */
        if (cur & (TF_TASK_COMPLETE | TF_TASK_SCHEDULED | TF_TASK_NOTIFIED))
            return;
        if (cur & TF_TASK_RUNNING) {
            if (atomic_compare_exchange_weak_explicit(
                    &t->state, &cur, cur | TF_TASK_NOTIFIED,
                    memory_order_acq_rel, memory_order_acquire))
                return;
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(
                &t->state, &cur, (cur | TF_TASK_SCHEDULED) + TF_TASK_REF_ONE,
                memory_order_acq_rel, memory_order_acquire)) {
            tf__executor_schedule(tf__task_exec(t), t);
            return;
        }
    }
}

/* 1 if the references in cur are exactly the two the runner accounts
 * for (the lifetime one and the queue's or the running one): no other
 * thread holds one, and none can get one (a clone needs a reference), so
 * nothing else can change the state word until the runner hands a waker
 * out (its next poll) or lets go: a plain store then suffices. The only
 * other writer, tf_executor_free's marking, never runs concurrently with
 * a runner (workers are joined first; the API forbids it otherwise). */
static int sole_owner(uint32_t cur) {
    return cur / TF_TASK_REF_ONE == 2 && !(cur & TF_TASK_COMPLETE);
}

int tf__task_begin_poll(tf_task *t) {
    uint32_t cur = atomic_load_explicit(&t->state, memory_order_acquire);
    if (TF_LIKELY(sole_owner(cur))) {
        atomic_store_explicit(&t->state,
                              (cur & ~(uint32_t)TF_TASK_SCHEDULED) | TF_TASK_RUNNING,
                              memory_order_relaxed);
        return 1;
    }
    for (;;) {
        if (cur & TF_TASK_COMPLETE) {
            tf__task_unref(t);
            return 0;
        }
        uint32_t next = (cur & ~(uint32_t)TF_TASK_SCHEDULED) | TF_TASK_RUNNING;
        if (atomic_compare_exchange_weak_explicit(&t->state, &cur, next,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire))
            return 1;
    }
}

int tf__task_end_poll_pending(tf_task *t) {
    uint32_t cur = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        if (cur & TF_TASK_COMPLETE) {
            tf__task_unref(t);
            return 0;
        }
        if (cur & TF_TASK_NOTIFIED) {
            /* Woken during the poll: the running reference becomes the
             * queue's reference. */
            uint32_t next = (cur & ~(uint32_t)(TF_TASK_RUNNING | TF_TASK_NOTIFIED)) |
                            TF_TASK_SCHEDULED;
            if (atomic_compare_exchange_weak_explicit(&t->state, &cur, next,
                                                      memory_order_acq_rel,
                                                      memory_order_acquire))
                return 1;
        } else {
            uint32_t next = (cur & ~(uint32_t)TF_TASK_RUNNING) - TF_TASK_REF_ONE;
            if (atomic_compare_exchange_weak_explicit(&t->state, &cur, next,
                                                      memory_order_acq_rel,
                                                      memory_order_acquire)) {
                /* Not the last reference: the lifetime one is still held. */
                return 0;
            }
        }
    }
}

int tf__task_end_poll_complete(tf_task *t) {
    uint32_t cur = atomic_load_explicit(&t->state, memory_order_acquire);
    if (TF_LIKELY(sole_owner(cur))) {
        /* No waker outlived the poll: the last two references go. */
        atomic_store_explicit(&t->state,
                              ((cur & ~(uint32_t)(TF_TASK_RUNNING | TF_TASK_NOTIFIED)) |
                               TF_TASK_COMPLETE) -
                                  2 * TF_TASK_REF_ONE,
                              memory_order_relaxed);
        return 2;
    }
    for (;;) {
        if (cur & TF_TASK_COMPLETE) {
            tf__task_unref(t);
            return 0;
        }
        /* Drop the running and the lifetime reference in the same step. */
        uint32_t next = ((cur & ~(uint32_t)(TF_TASK_RUNNING | TF_TASK_NOTIFIED)) |
                         TF_TASK_COMPLETE) -
                        2 * TF_TASK_REF_ONE;
        if (atomic_compare_exchange_weak_explicit(&t->state, &cur, next,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
            return next / TF_TASK_REF_ONE == 0 ? 2 : 1;
        }
    }
}
