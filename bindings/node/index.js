// SPDX-License-Identifier: MIT
'use strict';
// timefuture for Node.js: promise timers in the shape of node:timers/promises,
// served by libtimefuture's timer driver (nanosecond deadlines, never early).
// The addon does the timing; this file validates arguments the way Node's
// own APIs do and wires AbortSignal, values and the async iterator.

const path = require('node:path');
const { inspect } = require('node:util');

// TIMEFUTURE_NODE_ADDON names another build of the addon (a development
// build tree); by default the one shipped in the package's build/ directory.
const addonPath = process.env.TIMEFUTURE_NODE_ADDON ||
  path.join(__dirname, 'build', 'timefuture.node');
const native = require(addonPath);
const ids = native.ids;

// Node's largest timer delay (2**31 - 1 ms); Node clamps above it, this
// package refuses, as it refuses negative and NaN delays.
const TIMEOUT_MAX = 2147483647;
const U64_MAX = (1n << 64n) - 1n;

class AbortError extends Error {
  constructor(message = 'The operation was aborted', options = undefined) {
    super(message, options);
    this.code = 'ABORT_ERR';
    this.name = 'AbortError';
  }
}
native.setAbortError(AbortError);

// What Node's validators print after "Received" (determineSpecificType).
function received(value) {
  if (value == null) return '' + value;
  if (typeof value === 'function') return `function ${value.name}`;
  if (typeof value === 'object') {
    if (value.constructor && value.constructor.name) {
      return `an instance of ${value.constructor.name}`;
    }
    return inspect(value, { depth: -1 });
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

function codedError(Base, code, message) {
  const e = new Base(message);
  e.code = code;
  return e;
}

function invalidArgType(name, expected, value) {
  const what = name.includes('.') ? 'property' : 'argument';
  return codedError(TypeError, 'ERR_INVALID_ARG_TYPE',
    `The "${name}" ${what} must be ${expected}. Received ${received(value)}`);
}

function outOfRange(name, range, value) {
  const shown = typeof value === 'bigint' ? `${value}n` : inspect(value);
  return codedError(RangeError, 'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${shown}`);
}

function checkDelay(delay, name = 'delay') {
  if (delay === undefined) return 0;
  if (typeof delay !== 'number') throw invalidArgType(name, 'of type number', delay);
  if (!(delay >= 0 && delay <= TIMEOUT_MAX)) {
    throw outOfRange(name, `>= 0 && <= ${TIMEOUT_MAX}`, delay);
  }
  return delay;
}

function checkNs(ns, name) {
  if (typeof ns !== 'bigint') throw invalidArgType(name, 'of type bigint', ns);
  if (ns < 0n || ns >= U64_MAX) throw outOfRange(name, `>= 0n && < ${U64_MAX}n`, ns);
  return ns;
}

function isAbortSignal(s) {
  return s !== null && typeof s === 'object' && typeof s.aborted === 'boolean' &&
    typeof s.addEventListener === 'function' && typeof s.removeEventListener === 'function';
}

// Returns { signal, ref } or throws as Node does for the same options.
function checkOptions(options, allowRef = true) {
  if (options === undefined) return { signal: undefined, ref: true };
  if (options === null || typeof options !== 'object') {
    throw invalidArgType('options', 'of type object', options);
  }
  const { signal, ref = true } = options;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  }
  if (allowRef && typeof ref !== 'boolean') {
    throw invalidArgType('options.ref', 'of type boolean', ref);
  }
  return { signal, ref: allowRef ? ref : true };
}

function abortError(signal) {
  return new AbortError(undefined, { cause: signal.reason });
}

// Wires a started abortable native timeout (its id is in `ids`) to a
// signal: abort rejects it at once; settling removes the listener.
function withSignal(promise, signal, value) {
  const idx = ids[0];
  const gen = ids[1];
  const onAbort = () => { native.abort(idx, gen, abortError(signal)); };
  signal.addEventListener('abort', onAbort, { once: true });
  return promise.then(() => {
    signal.removeEventListener('abort', onAbort);
    return value;
  }, (err) => {
    signal.removeEventListener('abort', onAbort);
    throw err;
  });
}

// startFn(arg, ref, abortable): the native call for ms, ns or deadline.
// Only a timeout with a signal is made abortable (it then costs a slot).
function timed(startFn, arg, value, signal, ref) {
  if (signal !== undefined) {
    if (signal.aborted) return Promise.reject(abortError(signal));
    return withSignal(startFn(arg, ref, true), signal, value);
  }
  const p = startFn(arg, ref, false);
  return value === undefined ? p : p.then(() => value);
}

/**
 * Resolves with `value` after `delay` milliseconds (a float), like
 * node:timers/promises setTimeout, but never early and at nanosecond
 * resolution.
 */
function setTimeout(delay, value, options) {
  // The common call, setTimeout(ms), goes straight to the addon.
  if (options === undefined && value === undefined && typeof delay === 'number' &&
      delay >= 0 && delay <= TIMEOUT_MAX) {
    return native.timeout(delay); // ref, not abortable
  }
  let o;
  try {
    delay = checkDelay(delay);
    o = checkOptions(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return timed(native.timeout, delay, value, o.signal, o.ref);
}

/** Resolves after `ns` nanoseconds (a bigint). */
function sleep(ns, options) {
  let o;
  try {
    checkNs(ns, 'ns');
    o = checkOptions(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return timed(native.sleep, ns, undefined, o.signal, o.ref);
}

/** Resolves once now() reaches `deadlineNs` (a bigint on the now() clock). */
function sleepUntil(deadlineNs, options) {
  let o;
  try {
    checkNs(deadlineNs, 'deadlineNs');
    o = checkOptions(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return timed(native.sleepUntil, deadlineNs, undefined, o.signal, o.ref);
}

/**
 * An async iterator yielding `value` every `delay` milliseconds, like
 * node:timers/promises setInterval. Built on the library's (experimental)
 * interval API with the burst missed-tick policy: tick k is due at
 * start + k * delay exactly (never early, no drift), and the ticks a slow
 * consumer missed are yielded at once when it comes back, one per tick, as
 * Node's iterator yields the ticks it queued meanwhile. A delay of 0 is
 * 1 ms, as in Node.
 */
async function* setInterval(delay, value, options) {
  delay = checkDelay(delay);
  const { signal, ref } = checkOptions(options);
  if (signal !== undefined && signal.aborted) throw abortError(signal);
  const h = native.intervalNew(delay, ref);
  let onAbort;
  if (signal !== undefined) {
    // An abort while a tick is awaited rejects that await at once.
    onAbort = () => { native.intervalClose(h, abortError(signal)); };
    signal.addEventListener('abort', onAbort, { once: true });
  }
  try {
    for (;;) {
      let n = await native.intervalNext(h);
      for (; n > 0; n--) {
        yield value;
        if (signal !== undefined && signal.aborted) throw abortError(signal);
      }
    }
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    // An abort has closed it already (the listener ran before its removal).
    if (signal === undefined || !signal.aborted) native.intervalClose(h, undefined);
  }
}

/** The environment's timer clock: CLOCK_MONOTONIC, as process.hrtime.bigint(). */
function now() {
  return native.now();
}

// Like node:timers/promises scheduler.
class Scheduler {
  wait(delay, options) {
    let o;
    try {
      delay = checkDelay(delay);
      o = checkOptions(options, false);
    } catch (err) {
      return Promise.reject(err);
    }
    return timed(native.timeout, delay, undefined, o.signal, true);
  }

  yield() {
    return timed(native.timeout, 0, undefined, undefined, true);
  }
}
const scheduler = new Scheduler();

/**
 * A re-armable one-shot timer. Awaiting it (it has then()) waits for the
 * current arming; cancel() rejects such an await with an AbortError.
 */
class Timer {
  #h;

  constructor(delay, options) {
    delay = checkDelay(delay);
    const { ref } = checkOptions(options);
    this.#h = native.timerNew(delay, ref);
  }

  #handle() {
    return this.#h;
  }

  /** Re-arms the timer to fire `delay` ms from now. */
  reset(delay) {
    native.timerReset(this.#handle(), checkDelay(delay));
    return this;
  }

  /** Disarms it; returns whether it was armed. */
  cancel() {
    return native.timerCancel(this.#handle());
  }

  /** The deadline in nanoseconds on the now() clock. */
  get deadline() {
    return native.timerDeadline(this.#handle());
  }

  /** 'pending', 'fired' or 'canceled', without polling the timer. */
  get state() {
    return native.timerState(this.#handle());
  }

  then(onFulfilled, onRejected) {
    return native.timerPromise(this.#handle()).then(onFulfilled, onRejected);
  }
}

module.exports = {
  setTimeout,
  setInterval,
  scheduler,
  sleep,
  sleepUntil,
  now,
  Timer,
  AbortError,
  version: native.version,
  _native: native,
};
