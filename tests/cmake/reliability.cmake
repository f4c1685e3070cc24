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
tf_add_test(test_stress LABELS stress TIMEOUT 900)
