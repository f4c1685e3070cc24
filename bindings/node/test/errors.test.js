// SPDX-License-Identifier: MIT
'use strict';
// Bad arguments are refused the way Node refuses them: the same class, code
// and message as node:timers/promises (or, for the delays Node clamps
// silently, as Node's number validation words it), as a rejected Promise
// for the promise APIs and a throw for the synchronous ones; never a crash.
const test = require('node:test');
const assert = require('node:assert');
const nodeTimers = require('node:timers/promises');
const { tf } = require('./helper.js');

async function rejection(p) {
  assert.ok(p instanceof Promise, 'a Promise is returned, not a synchronous throw');
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected a rejection');
}

function same(ours, theirs, sameClass = true) {
  if (sameClass) assert.strictEqual(ours.constructor, theirs.constructor);
  assert.strictEqual(ours.name, theirs.name);
  assert.strictEqual(ours.code, theirs.code);
  assert.strictEqual(ours.message, theirs.message);
}

const badOptions = [5, null, 'x', { signal: 1 }, { signal: {} }, { signal: null },
  { signal: new EventTarget() }, { ref: 1 }, { ref: 'yes' }, { ref: null }];

test('options errors match node:timers/promises setTimeout and setInterval', async () => {
  for (const o of badOptions) {
    same(await rejection(tf.setTimeout(1, 'v', o)), await rejection(nodeTimers.setTimeout(1, 'v', o)));
    same(await rejection(tf.sleep(1n, o)), await rejection(nodeTimers.setTimeout(1, 'v', o)));
    same(await rejection(tf.setInterval(1, 'v', o).next()),
      await rejection(nodeTimers.setInterval(1, 'v', o).next()));
  }
});

test('scheduler.wait validates like Node', async () => {
  for (const o of [5, { signal: 1 }]) {
    same(await rejection(tf.scheduler.wait(1, o)), await rejection(nodeTimers.scheduler.wait(1, o)));
  }
});

test('a delay that is not a number: as node:timers/promises', async () => {
  for (const d of ['abc', '10', {}, [], null, 5n, Symbol('s'), () => 1, true]) {
    same(await rejection(tf.setTimeout(d)), await rejection(nodeTimers.setTimeout(d)));
  }
});

test('negative, NaN and infinite delays: RangeError ERR_OUT_OF_RANGE in Node\'s words', async () => {
  // Node clamps these to 1 ms without a word; this package refuses them,
  // worded as Node's number validation words it (here via Buffer.alloc).
  for (const d of [-1, -0.5, NaN, Infinity, -Infinity, 2 ** 31]) {
    const ours = await rejection(tf.setTimeout(d));
    assert.ok(ours instanceof RangeError);
    assert.strictEqual(ours.code, 'ERR_OUT_OF_RANGE');
    // Buffer.alloc refuses exactly these (and would allocate 2 GiB for 2 ** 31)
    const refusedByBuffer = d < 0 || Number.isNaN(d) || !Number.isFinite(d);
    let expected = `The value of "delay" is out of range. It must be >= 0 && <= 2147483647. Received ${d}`;
    if (refusedByBuffer) {
      let theirs;
      try { Buffer.alloc(d); } catch (e) { theirs = e; }
      assert.ok(theirs instanceof RangeError && theirs.code === 'ERR_OUT_OF_RANGE');
      expected = theirs.message.replace('"size"', '"delay"')
        .replace(/It must be .*\. Received/, 'It must be >= 0 && <= 2147483647. Received');
    }
    assert.strictEqual(ours.message, expected);
    assert.throws(() => new tf.Timer(d), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(tf.setInterval(d).next(), { code: 'ERR_OUT_OF_RANGE' });
  }
});

test('sleep and sleepUntil take bigints only', async () => {
  for (const v of [1, '1', 1.5, null, undefined, {}]) {
    const e = await rejection(tf.sleep(v));
    let theirs; // a Node validator's words for the same value
    try {
      if (typeof v === 'string') Buffer.alloc(v); else Buffer.from(v);
    } catch (x) { theirs = x; }
    assert.ok(theirs, `Node accepted ${String(v)}`);
    assert.strictEqual(e.name, 'TypeError');
    assert.strictEqual(e.code, 'ERR_INVALID_ARG_TYPE');
    // same "Received ..." wording as Node's validators
    assert.strictEqual(e.message.split('. Received ')[1], theirs.message.split('. Received ')[1]);
    assert.match(e.message, /^The "ns" argument must be of type bigint\. Received /);
    await assert.rejects(tf.sleepUntil(v), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  for (const v of [-1n, 1n << 64n, (1n << 64n) - 1n]) {
    await assert.rejects(tf.sleep(v), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(tf.sleepUntil(v), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  }
  // a relative sleep whose deadline overflows the clock is refused by the library
  await assert.rejects(tf.sleep((1n << 64n) - 2n), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
});

test('abort: the same AbortError as node:timers/promises', async () => {
  for (const reason of [undefined, 'why', new Error('boom')]) {
    // already aborted
    const ac = new AbortController();
    ac.abort(reason);
    const ours = await rejection(tf.setTimeout(1, 'v', { signal: ac.signal }));
    const theirs = await rejection(nodeTimers.setTimeout(1, 'v', { signal: ac.signal }));
    same(ours, theirs, false); // Node's AbortError class is internal
    assert.strictEqual(ours.cause, theirs.cause);
    assert.deepStrictEqual(Object.getOwnPropertyNames(ours).sort(),
      Object.getOwnPropertyNames(theirs).sort());
    assert.ok(ours instanceof Error);

    // aborted while pending
    const ac2 = new AbortController();
    const p1 = tf.setTimeout(60_000, 'v', { signal: ac2.signal });
    const p2 = nodeTimers.setTimeout(60_000, 'v', { signal: ac2.signal });
    ac2.abort(reason);
    const a = await rejection(p1);
    const b = await rejection(p2);
    same(a, b, false);
    assert.strictEqual(a.cause, b.cause);
    assert.ok(a instanceof tf.AbortError);
  }
  assert.strictEqual(tf._native.stats().refs, 0);
});

test('the native layer refuses garbage without crashing', () => {
  const n = tf._native;
  assert.throws(() => n.timeout('x', true), TypeError);
  assert.throws(() => n.timeout(-1, true), RangeError);
  assert.throws(() => n.timeout(NaN, true), RangeError);
  assert.throws(() => n.sleep(1, true), TypeError);
  assert.throws(() => n.sleep(-1n, true), RangeError);
  assert.throws(() => n.timeout(), TypeError);
  for (const bad of [undefined, null, 1, {}, 'x']) {
    assert.throws(() => n.timerReset(bad, 1), TypeError);
    assert.throws(() => n.timerCancel(bad), TypeError);
    assert.throws(() => n.timerPromise(bad), TypeError);
    assert.throws(() => n.timerDeadline(bad), TypeError);
    assert.throws(() => n.timerState(bad), TypeError);
  }
  assert.strictEqual(n.abort(123456, 7, new Error('x')), false);
  assert.strictEqual(n.abort('a', 'b', null), false);
  assert.throws(() => n.setAbortError(1), TypeError);
  const t = new tf.Timer(1);
  assert.throws(() => t.reset(-1), RangeError);
  assert.throws(() => t.reset('1'), TypeError);
  assert.throws(() => new tf.Timer(1, { ref: 1 }), TypeError);
  t.cancel();
});
