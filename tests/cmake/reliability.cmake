# SPDX-License-Identifier: MIT
# Reliability suites. Each test also runs under ASan+UBSan, TSan
# and valgrind (scripts/sanitize.sh, scripts/valgrind.sh), except test_fork,
# which the sanitizers cannot run (see scripts/sanitize.sh): it runs natively
# and under valgrind.
#   test_badinput  every public function with bad arguments and states
#   test_fault     every allocation and thread creation failed in turn
#                  (STATIC: uses the private thread-creation hook)
#   test_clock     long, equal and 'now' deadlines; never early, never lost
#   test_fork      fork with timers armed and threads busy (STATIC: drives
#                  the private hooks in the child); label "fork"
#   test_stress    wake/clone/drop storms, timers raced against the driver,
#                  executors freed under foreign wakers, spawn bursts;
#                  label "stress" (ctest -L stress runs them alone)
tf_add_test(test_badinput)
tf_add_test(test_fault STATIC)
tf_add_test(test_clock TIMEOUT 300)
tf_add_test(test_fork STATIC LABELS fork TIMEOUT 300)
tf_add_test(test_stress STATIC LABELS stress TIMEOUT 900
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fake_clock.c)
# Timers at the exact nanosecond and re-armed from their own wake, under a
# test-controlled clock (fake_clock.c; STATIC: the private clock hook).
tf_add_test(test_timer_exact STATIC SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fake_clock.c TIMEOUT 120)
# Freed executors, wakers and timers are refused (STATIC: the pool query).
tf_add_test(test_freed_handles STATIC TIMEOUT 60)
