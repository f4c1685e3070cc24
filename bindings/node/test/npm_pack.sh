#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# npm_pack.sh NPM NODE PACKAGE_DIR SCRATCH
# The npm route, offline: `npm pack` the build-tree package into a scratch
# directory, install the tarball into a fresh project with
# `npm install --offline`, and require and import it there. Writes only
# under SCRATCH (npm's cache and config included).
set -euo pipefail
npm=$1 node=$2 pkg=$3 scratch=$4
rm -rf "$scratch"
mkdir -p "$scratch/pack" "$scratch/project" "$scratch/cache"
export npm_config_cache="$scratch/cache" npm_config_userconfig="$scratch/npmrc"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
: > "$scratch/npmrc"

(cd "$pkg" && "$npm" pack --pack-destination "$scratch/pack" --loglevel=warn)
tarball=$(ls "$scratch"/pack/timefuture-*.tgz)
echo "packed: $(basename "$tarball")"
tar -tzf "$tarball" | sort > "$scratch/contents"
for f in package/package.json package/index.js package/index.mjs package/index.d.ts \
         package/README.md package/build/timefuture.node package/build/libtimefuture.so.1 \
         package/src/timefuture_node.c; do
  grep -qx "$f" "$scratch/contents" || { echo "missing from the tarball: $f"; exit 1; }
done
if grep -q '^package/test/' "$scratch/contents"; then
  echo "the tests should not be in the tarball"; exit 1
fi

cd "$scratch/project"
printf '{ "name": "tf-consumer", "version": "1.0.0", "private": true }\n' > package.json
"$npm" install --offline --no-audit --no-fund --loglevel=warn "$tarball"
[ -f node_modules/timefuture/build/timefuture.node ]

# The installed package must not reach back into the build tree for its
# addon or library: the addon finds libtimefuture.so.1 beside it.
unset TIMEFUTURE_NODE_ADDON TIMEFUTURE_PACKAGE LD_LIBRARY_PATH
cat > use.cjs <<'JS'
const tf = require('timefuture');
const assert = require('node:assert');
(async () => {
  const t0 = process.hrtime.bigint();
  assert.strictEqual(await tf.setTimeout(1.5, 'from the tarball'), 'from the tarball');
  assert.ok(process.hrtime.bigint() - t0 >= 1_500_000n);
  await tf.sleep(100_000n);
  const lib = require('node:fs').readFileSync('/proc/self/maps', 'utf8')
    .split('\n').find((l) => l.includes('libtimefuture.so'));
  assert.ok(lib && lib.includes(require('node:path').join('node_modules', 'timefuture', 'build')), lib);
  console.log('require ok', tf.version);
})();
JS
cat > use.mjs <<'JS'
import { setTimeout, version } from 'timefuture';
import tf from 'timefuture';
if ((await setTimeout(0.5, 'esm')) !== 'esm' || tf.version !== version) throw new Error('esm');
console.log('import ok');
JS
"$node" use.cjs
"$node" use.mjs
