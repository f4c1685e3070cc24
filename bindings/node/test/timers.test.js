// SPDX-License-Identifier: MIT
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { pathToFileURL } = require('node:url');
const path = require('node:path');
const { tf, packageDir } = require('./helper.js');

const hr = () => process.hrtime.bigint();

test('setTimeout resolves with its value, never early', async () => {
  for (const ms of [0, 0.001, 0.1, 1, 2.5, 7]) {
    const t0 = hr();
    const v = await tf.setTimeout(ms, { ms });
    const dt = hr() - t0;
    assert.deepStrictEqual(v, { ms });
    assert.ok(dt >= BigInt(Math.ceil(ms * 1e6)), `${ms} ms took only ${dt} ns`);
  }
  assert.strictEqual(await tf.setTimeout(0.1, 'value'), 'value');
  assert.strictEqual(await tf.setTimeout(), undefined);
});

test('many concurrent timeouts: each never early, all settle', async () => {
  const t0 = hr();
  const delays = Array.from({ length: 5000 }, (_, i) => (i * 7919 % 5000) / 1000);
  const ends = await Promise.all(delays.map((d) => tf.setTimeout(d).then(() => hr())));
  ends.forEach((end, i) => {
    assert.ok(end - t0 >= BigInt(Math.ceil(delays[i] * 1e6)), `timer ${i} early`);
  });
  assert.strictEqual(tf._native.stats().slots, 0);
});

test('now() is the CLOCK_MONOTONIC of process.hrtime.bigint()', () => {
  for (let i = 0; i < 100; i++) {
    const a = hr();
    const n = tf.now();
    const b = hr();
    assert.strictEqual(typeof n, 'bigint');
    assert.ok(a <= n && n <= b, `${a} <= ${n} <= ${b}`);
  }
});

test('sleep(ns) and sleepUntil(deadline) are never early', async () => {
  for (const ns of [0n, 1n, 100_000n, 1_234_567n]) {
    const t0 = hr();
    assert.strictEqual(await tf.sleep(ns), undefined);
    assert.ok(hr() - t0 >= ns, `sleep(${ns}) early`);
  }
  for (let i = 0; i < 50; i++) {
    const deadline = tf.now() + 50_000n;
    await tf.sleepUntil(deadline);
    assert.ok(hr() >= deadline, 'sleepUntil early');
    assert.ok(tf.now() >= deadline);
  }
  await tf.sleepUntil(0n); // in the past: at once
});

test('setInterval ticks at start + k*period: never early, no drift, none skipped', async () => {
  // The interval's next deadline is read after every tick: it must stay on
  // the grid first + k*period, k being the ticks yielded so far, even after
  // a slow consumer (an interval that drifts would restart its schedule from
  // the late consumer, one that skips would run ahead of the ticks yielded).
  const native = tf._native;
  const orig = native.intervalNew;
  let h;
  native.intervalNew = (delay, ref) => (h = orig(delay, ref));
  try {
    const period = 3;
    const periodNs = BigInt(period * 1e6);
    const before = tf.now();
    const next = [];
    let k = 0;
    for await (const v of tf.setInterval(period, 'tick')) {
      k++;
      assert.strictEqual(v, 'tick');
      next.push(native.intervalDeadline(h));
      // tick k was due one period before the deadline that follows it
      assert.ok(tf.now() >= next[k - 1] - periodNs, `tick ${k} early`);
      if (k === 3) await tf.setTimeout(period * 2.5); // a slow consumer
      if (k === 12) break;
    }
    assert.strictEqual(next.length, 12);
    assert.ok(next[0] >= before + 2n * periodNs);
    for (let i = 1; i < next.length; i++) {
      assert.strictEqual(next[i] - next[0], BigInt(i) * periodNs, `deadline ${i} drifted`);
    }
    // break closed the interval
    assert.throws(() => native.intervalDeadline(h), { code: 'ERR_INVALID_ARG_TYPE' });
  } finally {
    native.intervalNew = orig;
  }
});

test('setInterval: a zero delay is a 1 ms period; iterators are independent', async () => {
  const t0 = hr();
  const a = tf.setInterval(0, 'a');
  const b = tf.setInterval(2, 'b');
  assert.deepStrictEqual(await a.next(), { value: 'a', done: false });
  assert.ok(hr() - t0 >= 1_000_000n, 'a zero-delay interval ticked before 1 ms');
  assert.deepStrictEqual(await b.next(), { value: 'b', done: false });
  assert.ok(hr() - t0 >= 2_000_000n);
  assert.deepStrictEqual(await a.return(), { value: undefined, done: true });
  assert.deepStrictEqual(await b.next(), { value: 'b', done: false });
  assert.ok(hr() - t0 >= 4_000_000n);
  await b.return();
  await assert.rejects(tf.setInterval(-1).next(), { code: 'ERR_OUT_OF_RANGE' });
  await assert.rejects(tf.setInterval(1, 0, { ref: 1 }).next(), { code: 'ERR_INVALID_ARG_TYPE' });
  const s = tf._native.stats();
  assert.strictEqual(s.refs, 0);
});

test('setInterval: an abort while a tick is awaited rejects at once, and frees it', async () => {
  const before = tf._native.stats().slots;
  const ac = new AbortController();
  const it = tf.setInterval(60_000, 'x', { signal: ac.signal });
  const p = it.next();
  setImmediate(() => ac.abort('why'));
  await assert.rejects(p, (e) => e.name === 'AbortError' && e.cause === 'why');
  assert.deepStrictEqual(await it.next(), { value: undefined, done: true });
  await new Promise((r) => setImmediate(r));
  const s = tf._native.stats();
  assert.ok(s.slots <= before, `${s.slots} slots in use, ${before} before`);
  assert.strictEqual(s.refs, 0);
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(tf.setInterval(1, 0, { signal: aborted.signal }).next(), { name: 'AbortError' });
});

test('setInterval ticks follow the original deadline exactly', async () => {
  // Each tick's due time is checked against start + k*period on the same
  // clock; the k-th resolution is never before it, whatever the jitter.
  const it = tf.setInterval(1.5);
  const start = tf.now();
  for (let k = 1; k <= 10; k++) {
    await it.next();
    assert.ok(tf.now() >= start + BigInt(k * 1.5e6), `tick ${k} early`);
  }
  await it.return();
});

test('setInterval stops on abort with an AbortError', async () => {
  const ac = new AbortController();
  const seen = [];
  await assert.rejects(async () => {
    for await (const v of tf.setInterval(1, 'x', { signal: ac.signal })) {
      seen.push(v);
      if (seen.length === 3) ac.abort('stop');
    }
  }, (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause === 'stop');
  assert.strictEqual(seen.length, 3);
});

test('scheduler.wait and scheduler.yield', async () => {
  const t0 = hr();
  assert.strictEqual(await tf.scheduler.wait(2), undefined);
  assert.ok(hr() - t0 >= 2_000_000n);
  await tf.scheduler.yield();
  const ac = new AbortController();
  const p = tf.scheduler.wait(10_000, { signal: ac.signal });
  ac.abort();
  await assert.rejects(p, { name: 'AbortError' });
});

test('Timer: reset, await, cancel, deadline, state', async () => {
  // State checks use deadlines far off, so a descheduled test cannot miss them.
  const t = new tf.Timer(60_000);
  assert.strictEqual(t.state, 'pending');
  const before = tf.now();
  t.reset(1);
  const dl = t.deadline;
  assert.strictEqual(typeof dl, 'bigint');
  assert.ok(dl >= before + 1_000_000n);
  await t;
  assert.ok(tf.now() >= dl, 'timer early');
  assert.strictEqual(t.state, 'fired');
  assert.strictEqual(t.cancel(), false); // already fired
  await t; // a fired timer stays resolved

  // re-armed after firing: a new await waits for the new deadline
  t.reset(60_000);
  assert.strictEqual(t.state, 'pending');
  t.reset(2);
  const dl2 = t.deadline;
  await t;
  assert.ok(tf.now() >= dl2);

  // cancel rejects an await in progress with an AbortError
  const c = new tf.Timer(10_000);
  const waiting = c.then(() => 'fired', (e) => e);
  assert.strictEqual(c.cancel(), true);
  const err = await waiting;
  assert.strictEqual(err.name, 'AbortError');
  assert.strictEqual(err.code, 'ABORT_ERR');
  assert.strictEqual(c.state, 'canceled');
  await assert.rejects(Promise.resolve(c), { name: 'AbortError' });
  c.reset(0.5);
  await c; // re-armed after cancel
  assert.strictEqual(c.state, 'fired');

  // an await in progress follows a reset to a later deadline
  const r = new tf.Timer(1);
  const p = r.then(() => tf.now());
  r.reset(4);
  const dl3 = r.deadline;
  assert.ok((await p) >= dl3);
});

test('an awaited Timer that is otherwise unreachable still fires', async () => {
  const done = [];
  for (let i = 0; i < 100; i++) done.push((async () => { await new tf.Timer(1); return i; })());
  if (global.gc) global.gc();
  assert.strictEqual((await Promise.all(done)).length, 100);
});

test('the ESM entry exports the same module', async () => {
  const m = await import(pathToFileURL(path.join(packageDir, 'index.mjs')).href);
  assert.strictEqual(m.setTimeout, tf.setTimeout);
  assert.strictEqual(m.default, tf);
  assert.strictEqual(await m.setTimeout(0.05, 7), 7);
  assert.strictEqual(typeof m.Timer, 'function');
});

test('version matches the package', () => {
  const pkg = require(path.join(packageDir, 'package.json'));
  assert.strictEqual(tf.version, pkg.version);
});

// After a loop turn (the drain frees what settled): no more slots in use
// than `before`, no timeout waiting and nothing keeping the loop alive.
async function assertAllFreed(before) {
  await new Promise((r) => setImmediate(r));
  const s = tf._native.stats();
  assert.ok(s.slots <= before, `${s.slots} slots in use, ${before} before`);
  assert.strictEqual(s.waiting, 0);
  assert.strictEqual(s.refs, 0);
}

function blockFor(ms) {
  const end = process.hrtime.bigint() + BigInt(ms * 1e6);
  while (process.hrtime.bigint() < end) { /* the loop is away */ }
}

test('a zero delay waits for the next loop turn, and zero delays settle in call order', async () => {
  const order = [];
  const ps = [];
  for (let i = 0; i < 100; i++) ps.push(tf.setTimeout(0).then(() => order.push(i)));
  for (let i = 0; i < 10; i++) await null; // microtasks alone do not settle them
  assert.strictEqual(order.length, 0);
  await Promise.all(ps);
  assert.deepStrictEqual(order, Array.from({ length: 100 }, (_, i) => i));
  assert.strictEqual(await tf.sleep(0n), undefined);
  assert.strictEqual(await tf.sleepUntil(tf.now()), undefined);
  assert.strictEqual(tf._native.stats().waiting, 0);
});

// Timer objects of earlier tests hold slots until they are collected:
// no more slots may be in use than before.
test('an abortable zero delay aborted before the loop turn rejects and is freed', async () => {
  const before = tf._native.stats().slots;
  const ac = new AbortController();
  const p = tf.setTimeout(0, 'v', { signal: ac.signal });
  const q = tf.setTimeout(0, 'w', { signal: new AbortController().signal });
  ac.abort('why');
  await assert.rejects(p, (e) => e.name === 'AbortError' && e.cause === 'why');
  assert.strictEqual(await q, 'w');
  await assertAllFreed(before);
});

test('timeouts overdue when the loop comes back settle in creation order, never early', async () => {
  // Created longest first; the loop is blocked past every deadline, so all
  // are late by far more than a millisecond when it comes back.
  const t0 = hr();
  const order = [];
  const delays = Array.from({ length: 6000 }, (_, i) => 6 - (i % 6) * 0.5);
  const ps = delays.map((d, i) => tf.setTimeout(d).then(() => {
    assert.ok(hr() - t0 >= BigInt(Math.ceil(d * 1e6)), `timer ${i} early`);
    order.push(i);
  }));
  blockFor(30);
  await Promise.all(ps);
  assert.deepStrictEqual(order, delays.map((_, i) => i));
});

test('abortable timeouts keep their place through a backlog (heap rebuilt)', async () => {
  // Abortable timeouts far off, interleaved with as many that become a
  // backlog: taking the backlog out reorders the heap and rebuilds it, and
  // every far one must still be found (and removed, at once) by abort().
  const before = tf._native.stats().slots;
  const ac = new AbortController();
  require('node:events').setMaxListeners(0, ac.signal);
  const nearSignal = new AbortController().signal;
  require('node:events').setMaxListeners(0, nearSignal);
  const far = [];
  const near = [];
  for (let i = 0; i < 6000; i++) {
    near.push(tf.setTimeout(1 + (i % 3), i, { signal: nearSignal }));
    far.push(tf.setTimeout(60_000 + ((i * 7919) % 6000), i, { signal: ac.signal }).catch((e) => e.name));
  }
  blockFor(20);
  const got = await Promise.all(near);
  assert.deepStrictEqual(got, near.map((_, i) => i));
  assert.strictEqual(tf._native.stats().waiting, 6000);
  ac.abort();
  assert.strictEqual(tf._native.stats().waiting, 0, 'abort() missed timeouts moved by the rebuild');
  assert.deepStrictEqual(new Set(await Promise.all(far)), new Set(['AbortError']));
  await assertAllFreed(before);
});

test('a timeout started after the last one was aborted still fires', async () => {
  // Aborting the only pending timeout disarms the heap's timer; one started
  // before the loop turns again must arm it anew, also with a later deadline.
  for (const later of [0.5, 2, 5]) {
    const ac = new AbortController();
    const aborted = tf.setTimeout(1, 'a', { signal: ac.signal }).catch((e) => e.name);
    ac.abort();
    const t0 = hr();
    assert.strictEqual(await tf.setTimeout(later, 'b'), 'b');
    assert.ok(hr() - t0 >= BigInt(Math.ceil(later * 1e6)));
    assert.strictEqual(await aborted, 'AbortError');
  }
});

test('a signal on a refused sleep aborts nothing else', async () => {
  const ac = new AbortController();
  const other = tf.setTimeout(30, 'kept', { signal: new AbortController().signal });
  await assert.rejects(tf.sleep((1n << 64n) - 2n, { signal: ac.signal }), { code: 'ERR_OUT_OF_RANGE' });
  ac.abort();
  assert.strictEqual(await other, 'kept');
});
