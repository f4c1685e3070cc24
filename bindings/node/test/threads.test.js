// SPDX-License-Identifier: MIT
'use strict';
// Each environment's timers run on a host-mode driver advanced by its own
// loop, so a process using the binding has no library thread at all: after
// every kind of timer has fired (setTimeout, sleep, Timer, setInterval, an
// abort), it has exactly the threads of the same process using only Node's
// own timers. Counted from /proc/self/task in child processes.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { packageDir } = require('./helper.js');

function threadsOf(body) {
  const code = `
    const fs = require('node:fs');
    const count = () => fs.readdirSync('/proc/self/task').length;
    (async () => {
      await require('node:timers/promises').setTimeout(1); // Node's own, both runs
      const before = count();
      ${body}
      console.log(JSON.stringify({ before, after: count() }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  // The timeout only guards against a hang.
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 120_000 });
  assert.strictEqual(r.signal, null, `child killed (hung?) ${r.stderr}`);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stderr, '');
  return JSON.parse(r.stdout);
}

test('no library thread: as many threads as with Node\'s timers alone',
  { skip: !fs.existsSync('/proc/self/task') && 'no /proc/self/task' }, () => {
    const node = threadsOf(`
      const tp = require('node:timers/promises');
      await tp.setTimeout(2);
      await Promise.all(Array.from({ length: 100 }, (_, i) => tp.setTimeout(i % 5)));
      for await (const _ of tp.setInterval(1)) break;`);
    const ours = threadsOf(`
      const tf = require(${JSON.stringify(packageDir)});
      await tf.setTimeout(2);
      await Promise.all(Array.from({ length: 100 }, (_, i) => tf.setTimeout(i % 5)));
      await tf.sleep(1_000_000n);
      await new tf.Timer(1);
      let n = 0;
      for await (const _ of tf.setInterval(1)) if (++n === 3) break;
      const ac = new AbortController();
      const p = tf.setTimeout(60_000, 0, { signal: ac.signal }).catch(() => {});
      ac.abort();
      await p;`);
    assert.strictEqual(node.after, node.before, 'Node\'s own timers started a thread');
    assert.strictEqual(ours.before, node.before);
    assert.strictEqual(ours.after, node.after,
      `${ours.after - node.after} more thread(s) with the binding: a library thread runs`);
  });
