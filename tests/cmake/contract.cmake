# SPDX-License-Identifier: MIT
# Cases that pin down promises of the header which a mutant of
# tests/mutants.txt showed the module tests did not check
# (scripts/mutate.sh).
tf_add_test(test_contract TIMEOUT 120)
