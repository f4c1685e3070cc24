# SPDX-License-Identifier: MIT
# Sourced by the test scripts: TF_BUILD_ROOT, the directory under which they
# build. Outside the source tree (a read-only checkout works), and one per
# checkout, so two clones on one machine never share a CMake cache.
# Override with TF_BUILD_ROOT.
_tf_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TF_BUILD_ROOT=${TF_BUILD_ROOT:-${TMPDIR:-/tmp}/timefuture-build-$(printf %s "$_tf_repo" | cksum | cut -d' ' -f1)}
export TF_BUILD_ROOT
unset _tf_repo
