# SPDX-License-Identifier: MIT
# Model checking of the thread protocols (tests/models/*.pml, see
# docs/design.md, "Model-checked protocols"): each model is checked
# exhaustively by spin, and each mutant (the bug the model exists to catch)
# must be caught. Label "model": ctest -L model. Without spin installed
# these tests fail (check.sh says so) rather than disappear.
set(_tf_models ${CMAKE_CURRENT_SOURCE_DIR}/models)

# tf_add_model(<test name> <model.pml> [check.sh arguments...])
function(tf_add_model name model)
  add_test(NAME ${name}
    COMMAND bash ${_tf_models}/check.sh ${_tf_models}/${model} ${ARGN})
  set_tests_properties(${name} PROPERTIES LABELS "model" TIMEOUT 300)
endfunction()

# The executor's fd: flag and counter under one lock.
tf_add_model(model_eventfd eventfd.pml --ltl no_spin)
tf_add_model(model_eventfd_host_only eventfd.pml --ltl no_spin -DNO_NEXT -DPUSHES=2)
tf_add_model(model_eventfd_old_protocol_loses_wake eventfd.pml
  -DOLD_PROTOCOL -DNO_NEXT --expect-error --expect-text "q==0")
tf_add_model(model_eventfd_old_protocol_spins eventfd.pml
  -DOLD_PROTOCOL --ltl no_spin --expect-error --expect-text "acceptance cycle")

# External tasks: next/report through the ready queue's park/signal
# handshake, with the pass-on signal of a consumer that took part of it.
tf_add_model(model_external external.pml --ltl parked_for_ever)
tf_add_model(model_external_three_hosts external.pml -DNHOST=3 -O2)
tf_add_model(model_external_old_rule_fails external.pml
  -DOLD_RULE --ltl parked_for_ever --expect-error --expect-text "invalid end state")

# One task's state word: wakes, polls, waker clones, and shutdown.
tf_add_model(model_task_state task_state.pml)
tf_add_model(model_task_state_shutdown task_state.pml -DSHUTDOWN)
tf_add_model(model_task_state_pending_ignores_notified_fails task_state.pml
  -DPENDING_IGNORES_NOTIFIED --expect-error --expect-text "assertion violated done")
tf_add_model(model_task_state_wake_ignores_scheduled_fails task_state.pml
  -DWAKE_IGNORES_SCHEDULED --expect-error --expect-text "assertion violated (onq==0)")
tf_add_model(model_task_state_carried_drops_notified_fails task_state.pml
  -DCARRIED_DROPS_NOTIFIED --expect-error --expect-text "assertion violated done")
tf_add_model(model_task_state_sole_owner_lax_fails task_state.pml
  -DSOLE_OWNER_LAX --expect-error --expect-text "assertion violated (frees==0)")

# Timers against the driver: fire, cancel, reset, free, poll, also from
# inside a waker on the driver thread.
tf_add_model(model_timer timer.pml)
tf_add_model(model_timer_free_releases_firing_fails timer.pml
  -DFREE_RELEASES_FIRING --expect-error --expect-text "!(released[")
tf_add_model(model_timer_driver_drops_reset_waker_fails timer.pml
  -DDRIVER_DROPS_RESET_WAKER --expect-error --expect-text "!(waiting[")
tf_add_model(model_timer_fired_before_wake_fails timer.pml
  -DFIRED_BEFORE_WAKE --expect-error --expect-text "!(waiting[")
tf_add_model(model_timer_poll_no_recheck_fails timer.pml
  -DPOLL_NO_RECHECK --expect-error --expect-text "!(waiting[")
tf_add_model(model_timer_take_not_atomic_fails timer.pml
  -DTAKE_NOT_ATOMIC --expect-error --expect-text "(refs1>0)")

# New timers through a driver's inbox against its thread going to sleep.
tf_add_model(model_timer_inbox timer_inbox.pml)
tf_add_model(model_timer_inbox_no_recheck_fails timer_inbox.pml
  -DNO_RECHECK --expect-error --expect-text "invalid end state")
tf_add_model(model_timer_inbox_no_kick_fails timer_inbox.pml
  -DNO_KICK --expect-error --expect-text "invalid end state")

# Dead tasks released while the executor's pool lock is held (left to the
# lock's next taker) against tf_executor_free.
tf_add_model(model_task_release task_release.pml)
tf_add_model(model_task_release_three task_release.pml -DNREL=3)
tf_add_model(model_task_release_no_wait_fails task_release.pml
  -DNO_WAIT --expect-error --expect-text "assertion violated (pending==0)")
tf_add_model(model_task_release_alive_early_fails task_release.pml
  -DALIVE_EARLY --expect-error --expect-text "assertion violated  !(destroyed)")

# The Rust binding's task cell: a JoinHandle's waker slot and references
# against its task's completion.
tf_add_model(model_join_handle join_handle.pml)
tf_add_model(model_join_handle_set_ignores_complete_fails join_handle.pml
  -DSET_IGNORES_COMPLETE --expect-error --expect-text "invalid end state")
tf_add_model(model_join_handle_replace_in_place_fails join_handle.pml
  -DREPLACE_IN_PLACE --expect-error --expect-text "assertion violated  !(slot_writing)")
tf_add_model(model_join_handle_release_by_store_fails join_handle.pml
  -DRELEASE_BY_STORE --expect-error --expect-text "assertion violated (frees==1)")
tf_add_model(model_join_handle_slot_not_in_word_fails join_handle.pml
  -DSLOT_NOT_IN_WORD --expect-error --expect-text "assertion violated in_word")
tf_add_model(model_join_handle_slot_kept_on_complete_fails join_handle.pml
  -DSLOT_KEPT_ON_COMPLETE --expect-error --expect-text "assertion violated (slot_frees==slot_allocs)")

# The ready queue's park: a futex word as an event count, against pushes
# (signal_one with the pending flag), the pass-on and the broadcast.
tf_add_model(model_queue_park queue_park.pml --ltl parked_for_ever)
tf_add_model(model_queue_park_one_each queue_park.pml -DONE_EACH --ltl parked_for_ever)
tf_add_model(model_queue_park_three_consumers queue_park.pml -DNCONS=3 -O2)
tf_add_model(model_queue_park_seq_after_pending_fails queue_park.pml
  -DSEQ_AFTER_PENDING --expect-error --expect-text "invalid end state")
tf_add_model(model_queue_park_seq_after_check_fails queue_park.pml
  -DSEQ_AFTER_CHECK --expect-error --expect-text "invalid end state")
tf_add_model(model_queue_park_wake_keeps_word_fails queue_park.pml
  -DWAKE_KEEPS_WORD --expect-error --expect-text "invalid end state")
tf_add_model(model_queue_park_pending_after_check_fails queue_park.pml
  -DPENDING_AFTER_CHECK --expect-error --expect-text "invalid end state")
tf_add_model(model_queue_park_no_pass_on_fails queue_park.pml
  -DONE_EACH -DNO_PASS_ON --expect-error --expect-text "invalid end state")
tf_add_model(model_queue_park_broadcast_wakes_one_fails queue_park.pml
  -DNPROD=1 -DNCONS=3 -DBROADCAST_WAKES_ONE --expect-error --expect-text "invalid end state")
