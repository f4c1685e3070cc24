// SPDX-License-Identifier: MIT
'use strict';
// ref:false lets the process exit while the timer is pending; ref:true (the
// default) keeps it alive until the timer fires, like Node's timers. Each
// case runs in its own node process.
const test = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const { packageDir } = require('./helper.js');

function run(body) {
  const code = `const tf = require(${JSON.stringify(packageDir)});\n${body}`;
  // The timeout only guards against a hang; no case depends on speed.
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 120_000 });
  assert.strictEqual(r.error, undefined, `child failed to run: ${r.error}`);
  assert.strictEqual(r.signal, null, `child killed by ${r.signal} (hung?)\n${r.stderr}`);
  assert.strictEqual(r.status, 0, r.stderr);
  return r.stdout;
}

test('ref:true (default) keeps the process alive until the timer fires', () => {
  const out = run(`
    const t0 = process.hrtime.bigint();
    tf.setTimeout(40, 'v').then((v) => console.log('fired', v, process.hrtime.bigint() - t0 >= 40_000_000n));
    tf.sleep(30_000_000n).then(() => console.log('slept'));
    // setTimeout(ms) alone passes the delay only, and ref must be the
    // default: the longest timer here, so nothing else keeps the process.
    tf.setTimeout(70).then(() => console.log('bare', process.hrtime.bigint() - t0 >= 70_000_000n));
    new tf.Timer(20).then(() => console.log('timer'));
    (async () => {
      let n = 0;
      for await (const _ of tf.setInterval(15)) if (++n === 3) break;
      console.log('ticks', n, process.hrtime.bigint() - t0 >= 45_000_000n);
    })();`);
  assert.match(out, /fired v true/);
  assert.match(out, /ticks 3 true/);
  assert.match(out, /slept/);
  assert.match(out, /timer/);
  assert.match(out, /bare true/);
});

test('ref:false lets the process exit with the timer pending', () => {
  const out = run(`
    tf.setTimeout(600_000, 0, { ref: false }).then(() => console.log('fired'));
    tf.sleep(600_000_000_000n, { ref: false }).then(() => console.log('fired'));
    new tf.Timer(600_000, { ref: false }).then(() => console.log('fired'));
    (async () => { for await (const _ of tf.setInterval(600_000, 0, { ref: false })) console.log('fired'); })();
    console.log('end');`);
  assert.strictEqual(out, 'end\n');
});

test('an unref\'d timer does not keep a ref\'d one from firing, nor the reverse', () => {
  const out = run(`
    tf.setTimeout(600_000, 0, { ref: false }).then(() => console.log('long'));
    tf.setTimeout(20).then(() => console.log('short'));`);
  assert.strictEqual(out, 'short\n');
});

test('an aborted or cancelled timer no longer keeps the process alive', () => {
  const out = run(`
    const ac = new AbortController();
    tf.setTimeout(600_000, 0, { signal: ac.signal }).catch((e) => console.log(e.name));
    const t = new tf.Timer(600_000);
    t.then(() => console.log('fired'), (e) => console.log('timer', e.name));
    setImmediate(() => { ac.abort(); t.cancel(); });`);
  assert.deepStrictEqual(out.trim().split('\n').sort(), ['AbortError', 'timer AbortError']);
});

test('a settled timer does not keep the process alive (the poll handle is unref\'d)', () => {
  const out = run(`
    (async () => {
      for (let i = 0; i < 100; i++) await tf.setTimeout(0.01);
      const it = tf.setInterval(1);
      await it.next(); await it.next(); await it.return();
      console.log('done');
    })();`);
  assert.strictEqual(out, 'done\n');
});
