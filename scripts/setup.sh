#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages that are missing, configures and builds
# libtimefuture in build/, and runs the timer demo (the async book's
# example). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libcmocka-dev                       # unit tests
  doxygen graphviz                    # API documentation
  abigail-tools                       # ABI baseline and gate
  clang libclang-rt-14-dev            # libFuzzer, sanitizers
  valgrind cppcheck clang-tidy        # reliability checks
  python3 python3-dev                 # Python binding
  python3-venv python3-wheel-whl      # Python binding: offline pip installs
  mypy                                # Python binding: stubtest of the stub
  rustc cargo                         # Rust binding (Debian's toolchain)
  librust-tokio-dev                   # benchmarks: the tokio peer (packaged crates)
  spin                                # model checking of the thread protocols
  libuv1-dev libglib2.0-dev libevent-dev  # event-loop adapters; libuv peer
  node-typescript                     # Node.js binding: type-checks index.d.ts
)
# The Node.js binding needs node, npm and Node's headers: the machine's own
# Node.js when it has one (Debian's nodejs conflicts with other builds of
# it), else Debian's.
if ! { command -v node && command -v npm && [ -f /usr/include/node/node_api.h ]; } >/dev/null 2>&1; then
  PACKAGES+=(nodejs libnode-dev npm)
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The build goes outside the source tree (scripts/build-root.sh; set
# TF_BUILD_ROOT to choose the place).
. scripts/build-root.sh
BUILD=$TF_BUILD_ROOT/setup
echo "== building in $BUILD"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD"

echo "== the timer demo (the async book's example: a 2 s timer)"
"$BUILD/examples/timer_tutorial"
