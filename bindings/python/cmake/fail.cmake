# SPDX-License-Identifier: MIT
# cmake -DWHY=... -P fail.cmake: a test that fails and says why, standing in
# for tests that could not be registered (so they never vanish silently).
message(FATAL_ERROR "${WHY}")
