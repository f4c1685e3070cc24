# SPDX-License-Identifier: MIT
# The fast mutation subset: every mutant of tests/mutants.txt must still
# match its source text, and each one marked "ci yes" must be killed by
# its tests (scripts/mutate.sh; the whole list: scripts/mutate.sh alone).
exec "$(dirname "$0")/../mutate.sh" --ci
