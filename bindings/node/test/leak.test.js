// SPDX-License-Identifier: MIT
'use strict';
// 100,000 timers created and aborted (and 100,000 Timer objects cancelled and
// dropped) leave the resident set flat and every slab entry and external
// task released. Measured in a child process with --expose-gc, so the test
// runner's own memory does not blur the figure.
const test = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const { packageDir } = require('./helper.js');

const child = `
  const tf = require(${JSON.stringify(packageDir)});
  const settle = () => new Promise((r) => setImmediate(r));
  async function round(n) {
    for (let done = 0; done < n; done += 1000) {
      const ac = new AbortController();
      const ps = [];
      for (let i = 0; i < 1000; i++) {
        ps.push(tf.setTimeout(60_000 + i, i, { signal: ac.signal }).catch((e) => e.name));
      }
      ac.abort();
      const names = await Promise.all(ps);
      if (names.some((x) => x !== 'AbortError')) throw new Error('not aborted');
      for (let i = 0; i < 1000; i++) new tf.Timer(60_000).cancel();
      await settle(); // the drain frees the cancelled tasks
    }
  }
  async function quiesce() {
    for (let i = 0; i < 5; i++) { gc(); await settle(); }
  }
  (async () => {
    await round(100_000);  // warm-up: the slab, V8's heap and malloc settle
    await quiesce();
    const before = process.memoryUsage().rss;
    await round(100_000);
    await quiesce();
    const after = process.memoryUsage().rss;
    console.log(JSON.stringify({ before, after, stats: tf._native.stats() }));
  })().catch((e) => { console.error(e); process.exit(1); });`;

test('100,000 aborted timers leave RSS flat and nothing pending', () => {
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', child],
    { encoding: 'utf8', timeout: 280_000 });
  assert.strictEqual(r.signal, null, `child killed (hung?) ${r.stderr}`);
  assert.strictEqual(r.status, 0, r.stderr);
  const { before, after, stats } = JSON.parse(r.stdout);
  const growth = (after - before) / 2 ** 20;
  console.log(`RSS after warm-up ${(before / 2 ** 20).toFixed(1)} MiB, after 100,000 more: ` +
              `${(after / 2 ** 20).toFixed(1)} MiB (${growth.toFixed(1)} MiB growth)`);
  assert.ok(growth < 20, `RSS grew by ${growth.toFixed(1)} MiB`);
  assert.strictEqual(stats.slots, 0, 'slab entries left in use');
  assert.strictEqual(stats.external, 0, 'external tasks left');
  assert.strictEqual(stats.refs, 0, 'timers still keeping the loop alive');
});
