# SPDX-License-Identifier: MIT
# The reliability checks: static analysis, the suite under ASan+UBSan and
# TSan, under valgrind memcheck, and a bounded libFuzzer run on the seed
# corpus.
exec "$(dirname "$0")/../reliability.sh" "${FUZZ_SECONDS:-60}"
