// SPDX-License-Identifier: MIT
'use strict';
// Context awareness: each worker thread gets its own driver, executor and
// instance data; environments torn down with timers pending free them.
const test = require('node:test');
const assert = require('node:assert');
const { Worker } = require('node:worker_threads');
const { spawnSync } = require('node:child_process');
const { tf, packageDir } = require('./helper.js');

const workerCode = `
  const { parentPort, workerData } = require('node:worker_threads');
  const tf = require(workerData.packageDir);
  (async () => {
    const t0 = process.hrtime.bigint();
    const delays = Array.from({ length: 2000 }, (_, i) => (i % 50) / 10);
    const ends = await Promise.all(delays.map((d) => tf.setTimeout(d, d).then((v) => [v, process.hrtime.bigint()])));
    let early = 0;
    for (const [d, end] of ends) if (end - t0 < BigInt(Math.ceil(d * 1e6))) early++;
    const ac = new AbortController();
    const aborted = tf.setTimeout(60_000, 0, { signal: ac.signal }).catch((e) => e.name);
    ac.abort();
    const t = new tf.Timer(1); await t;
    parentPort.postMessage({ early, count: ends.length, aborted: await aborted, state: t.state,
                             stats: tf._native.stats() });
  })();`;

function runWorker(code, data) {
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: data });
    let msg;
    w.on('message', (m) => { msg = m; });
    w.on('error', reject);
    w.on('exit', (c) => (c === 0 ? resolve(msg) : reject(new Error(`worker exit ${c}`))));
  });
}

test('several workers at once, each with its own executor', async () => {
  const results = await Promise.all(Array.from({ length: 4 }, () => runWorker(workerCode, { packageDir })));
  for (const r of results) {
    assert.strictEqual(r.count, 2000);
    assert.strictEqual(r.early, 0);
    assert.strictEqual(r.aborted, 'AbortError');
    assert.strictEqual(r.state, 'fired');
  }
  // the main thread's addon instance is unaffected
  assert.strictEqual(await tf.setTimeout(0.1, 'main'), 'main');
});

test('terminating workers with timers pending frees them without a crash', async () => {
  for (let i = 0; i < 10; i++) {
    const w = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      const tf = require(workerData.packageDir);
      for (let i = 0; i < 1000; i++) tf.setTimeout(60_000 + i);
      globalThis.keep = Array.from({ length: 100 }, () => new tf.Timer(60_000));
      const it = tf.setInterval(60_000); it.next();
      tf.setTimeout(0.5).then(() => parentPort.postMessage(tf._native.stats()));`,
    { eval: true, workerData: { packageDir } });
    const stats = await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    assert.ok(stats.slots >= 1100, `pending timers in the worker: ${stats.slots}`);
    assert.strictEqual(await w.terminate(), 1);
  }
  assert.strictEqual(await tf.setTimeout(0.1, 'still'), 'still');
});

test('a worker whose loop ends with unref\'d timers pending exits cleanly', async () => {
  const r = await runWorker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const tf = require(workerData.packageDir);
    tf.setTimeout(600_000, 0, { ref: false });
    new tf.Timer(600_000, { ref: false });
    parentPort.postMessage('bye');`, { packageDir });
  assert.strictEqual(r, 'bye');
});

test('the main environment exits with timers pending (cleanup hook runs)', () => {
  const code = `const tf = require(${JSON.stringify(packageDir)});
    for (let i = 0; i < 1000; i++) tf.setTimeout(600_000, 0, { ref: false });
    const t = new tf.Timer(600_000, { ref: false });
    tf.setTimeout(1).then(() => { console.log('exiting'); });`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 120_000 });
  assert.strictEqual(r.signal, null, r.stderr);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stdout, 'exiting\n');
  assert.strictEqual(r.stderr, '', 'teardown complained (the driver still had timers?)');
});

test('workers torn down with every kind of timer pending free their drivers', () => {
  // The cleanup hook frees the environment's timers, intervals and then its
  // driver, and says so on stderr if the driver is still busy.
  const code = `const { Worker } = require('node:worker_threads');
    const body = \`const { parentPort } = require('node:worker_threads');
      const tf = require(\${JSON.stringify(${JSON.stringify(packageDir)})});
      for (let i = 0; i < 100; i++) tf.setTimeout(60_000 + i);
      globalThis.keep = [new tf.Timer(60_000), new tf.Timer(60_000, { ref: false })];
      const it = tf.setInterval(60_000); it.next();
      const ac = new AbortController();
      tf.setInterval(1, 0, { signal: ac.signal }).next().then(() => parentPort.postMessage('up'));\`;
    (async () => {
      for (let i = 0; i < 4; i++) {
        const w = new Worker(body, { eval: true });
        await new Promise((r) => w.once('message', r));
        await w.terminate();
      }
      console.log('done');
    })();`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 120_000 });
  assert.strictEqual(r.signal, null, r.stderr);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stdout, 'done\n');
  assert.strictEqual(r.stderr, '', 'teardown complained (the driver still had timers?)');
});
