// SPDX-License-Identifier: MIT
'use strict';
// timefuture for Node.js against Node's own timers, in the same run.
//   TIMEFUTURE_PACKAGE=<build>/bindings/node/package node bench/bench_node.js [scale]
// (or `cmake --build <build> --target bench_node`). `scale` (default 1)
// multiplies the workload sizes, e.g. 0.1 for a quick look.
// Each many-timers variant runs in its own child process so that its peak
// RSS (process.resourceUsage().maxRSS) is its own. Figures, not tests: the
// machine's load (/proc/loadavg) is printed with them, and timefuture's
// figures as ratios to Node's from the same run.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const pkg = process.env.TIMEFUTURE_PACKAGE || path.join(__dirname, '..', 'bindings', 'node');
const scale = Number(process.argv[2] || process.env.TF_BENCH_SCALE || 1);
const N_TIMERS = Math.max(1000, Math.round(1_000_000 * scale));
const N_SLEEPS = Math.max(100, Math.round(1000 * scale));
const N_SEQ = Math.max(1000, Math.round(1_000_000 * scale));
const N_SEQ_NODE = Math.max(100, Math.round(1000 * scale)); // 1 ms each at best
const N_TICKS = Math.max(100, Math.round(500 * scale));

// Each Promise variant is awaited in two ways (awaitAll below): each in
// turn by one loop (`for (...) await ps[i]`, the target's form: per Promise
// only what an await of it costs), and all under one Promise.all (which
// adds, per element, a resolve-element function and its context).
const variants = {
  // N timers, deadlines uniform over 1 s, all awaited.
  many_tf: `
    const tf = require(PKG);
    const t0 = process.hrtime.bigint();
    const ps = new Array(N);
    for (let i = 0; i < N; i++) ps[i] = tf.setTimeout(Math.random() * 1000);
    created(t0);
    awaitAll(ps, t0);`,
  many_node_promises: `
    const { setTimeout: st } = require('node:timers/promises');
    const t0 = process.hrtime.bigint();
    const ps = new Array(N);
    for (let i = 0; i < N; i++) ps[i] = st(Math.random() * 1000);
    created(t0);
    awaitAll(ps, t0);`,
  many_node_callback: `
    const t0 = process.hrtime.bigint();
    let left = N;
    const cb = () => { if (--left === 0) done(t0); };
    for (let i = 0; i < N; i++) setTimeout(cb, Math.random() * 1000);
    created(t0);`,
  // Not a timer: N plain Promises, awaited the same way, all resolved by
  // one callback after 1 s. What V8 alone costs for the awaiting. This one
  // (the floor as first written) also allocates an executor closure and its
  // context per element, for the captured `i`.
  floor_promise: `
    const t0 = process.hrtime.bigint();
    const ps = new Array(N);
    const rs = new Array(N);
    for (let i = 0; i < N; i++) ps[i] = new Promise((r) => { rs[i] = r; });
    created(t0);
    setTimeout(() => { for (let i = 0; i < N; i++) rs[i](); }, 1000);
    awaitAll(ps, t0);`,
  // The cheapest plain Promise that can be settled on its own from
  // JavaScript: one shared executor, so per element only what V8 itself
  // allocates (the Promise, its two resolving functions and their context).
  floor_promise_lean: `
    const t0 = process.hrtime.bigint();
    const ps = new Array(N);
    const rs = new Array(N);
    let last;
    const exec = (r) => { last = r; };
    for (let i = 0; i < N; i++) { ps[i] = new Promise(exec); rs[i] = last; }
    created(t0);
    setTimeout(() => { for (let i = 0; i < N; i++) rs[i](); }, 1000);
    awaitAll(ps, t0);`,
  // Below any timer: N pending Promises that cannot be settled one by one,
  // all derived from one gate (a Promise and a reaction each, no resolving
  // functions). The least V8 can spend on N awaited Promises.
  floor_gate: `
    const t0 = process.hrtime.bigint();
    let open;
    const gate = new Promise((r) => { open = r; });
    const ps = new Array(N);
    for (let i = 0; i < N; i++) ps[i] = gate.then();
    created(t0);
    setTimeout(() => open(), 1000);
    awaitAll(ps, t0);`,
};

const AWAIT_FORMS = {
  turn: `async function awaitAll(ps, t0) {
      for (let i = 0; i < ps.length; i++) await ps[i];
      done(t0);
    }`,
  all: `function awaitAll(ps, t0) { Promise.all(ps).then(() => done(t0)); }`,
};

function runMany(name, form) {
  const code = `const PKG = ${JSON.stringify(pkg)}; const N = ${N_TIMERS};
    ${AWAIT_FORMS[form]}
    let made = 0, heapMiB = 0;
    // When the N Promises (or callbacks) exist: the last deadline is about
    // 1 s after this, so it bounds the total from below.
    function created(t0) {
      made = Number(process.hrtime.bigint() - t0) / 1e9;
      heapMiB = process.memoryUsage().heapUsed / 1048576;
    }
    function done(t0) {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(JSON.stringify({ s, made, heapMiB, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
    }
    ${variants[name]}`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${name} (${form}) failed: ${r.stderr || r.signal}`);
  return JSON.parse(r.stdout);
}

function stats(ns) {
  const a = ns.map(Number).sort((x, y) => x - y);
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  return { mean, min: a[0], p50: a[a.length >> 1], p99: a[Math.floor(a.length * 0.99)], max: a[a.length - 1] };
}

const us = (x) => `${(x / 1e3).toFixed(1)} us`;
const load = () => fs.readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;

async function main() {
  const tf = require(pkg);
  const { setTimeout: nodeSetTimeout, setInterval: nodeSetInterval } = require('node:timers/promises');
  const hr = process.hrtime.bigint;
  console.log(`timefuture ${tf.version} on Node ${process.version}, scale ${scale}`);
  console.log(`package ${pkg}`);
  console.log(`load average at start: ${load()} (1, 5, 15 min)`);
  console.log(`threads in this process after loading timefuture: ${fs.readdirSync('/proc/self/task').length}`);

  const many = {};
  for (const [form, title] of [['turn', 'each awaited in turn by one loop'],
    ['all', 'all awaited under one Promise.all']]) {
    console.log(`\n== ${N_TIMERS.toLocaleString('en')} timers, deadlines uniform over 1 s, ${title}` +
                ' (own process each)');
    if (form === 'turn') console.log('   target for tf: <= 1.5 s total, <= 250 MiB peak RSS');
    const sfx = form === 'turn' ? '' : '+all';
    for (const name of Object.keys(variants)) {
      // A callback is not awaited: it runs once, in the first table.
      if (name === 'many_node_callback' && form !== 'turn') continue;
      const r = many[name + sfx] = runMany(name, form);
      console.log(`  ${(name + sfx).padEnd(22)} ${r.s.toFixed(3)} s   peak RSS ${r.maxRssMiB.toFixed(0)} MiB` +
                  `   (all created after ${r.made.toFixed(3)} s, JS heap then ${r.heapMiB.toFixed(0)} MiB;` +
                  ` load ${load()})`);
    }
    for (const peer of ['many_node_promises', 'many_node_callback', 'floor_promise',
      'floor_promise_lean', 'floor_gate']) {
      const a = many['many_tf' + sfx], b = many[peer + sfx] || many[peer];
      console.log(`  many_tf${sfx} / ${(peer + (many[peer + sfx] ? sfx : '')).padEnd(22)}` +
                  ` time ${ratio(a.s, b.s)}  peak RSS ${ratio(a.maxRssMiB, b.maxRssMiB)}`);
    }
  }

  console.log(`\n== ${N_SLEEPS} sleeps of 100 us in a row (target: mean <= 250 us, none early)`);
  for (const [name, fn, want] of [
    ['tf.sleep(100_000n)', () => tf.sleep(100_000n), 100_000n],
    ['tf.setTimeout(0.1)', () => tf.setTimeout(0.1), 100_000n],
    ['node setTimeout(0.1)', () => nodeSetTimeout(0.1), 100_000n],
  ]) {
    const times = [];
    let early = 0;
    const n = name.startsWith('node') ? Math.min(N_SLEEPS, 300) : N_SLEEPS;
    for (let i = 0; i < n; i++) {
      const t0 = hr();
      await fn();
      const dt = hr() - t0;
      if (dt < want) early++;
      times.push(dt);
    }
    const s = stats(times);
    console.log(`  ${name.padEnd(22)} n=${n} mean ${us(s.mean)}  p50 ${us(s.p50)}  p99 ${us(s.p99)}` +
                `  min ${us(s.min)}  max ${us(s.max)}  early ${early}`);
  }

  console.log(`\n== ${N_TICKS} ticks of setInterval(1 ms): tick k measured against start + k ms`);
  for (const [name, make] of [
    ['tf.setInterval(1)', () => tf.setInterval(1)],
    ['node setInterval(1)', () => nodeSetInterval(1)],
  ]) {
    // One tick first: the generator's first run compiles code, which would
    // otherwise offset the whole schedule from `start`.
    for await (const _ of make()) break;
    const start = hr();
    const late = [];
    let early = 0;
    let k = 0;
    for await (const _ of make()) {
      k++;
      const d = hr() - (start + BigInt(k) * 1_000_000n);
      if (d < 0n) early++;
      late.push(d < 0n ? 0n : d);
      if (k === N_TICKS) break;
    }
    const s = stats(late);
    console.log(`  ${name.padEnd(22)} late mean ${us(s.mean)}  p50 ${us(s.p50)}  p99 ${us(s.p99)}` +
                `  last tick ${us(Number(late[late.length - 1]))} after its grid time  early ${early}`);
  }

  console.log(`\n== sequential awaits`);
  const rates = {};
  for (const [name, fn, n] of [
    ['await null', () => null, N_SEQ],
    ['await tf.setTimeout(0)', () => tf.setTimeout(0), N_SEQ],
    ['await node setTimeout(0)', () => nodeSetTimeout(0), N_SEQ_NODE],
    ['await setImmediate', () => new Promise((r) => setImmediate(r)), N_SEQ],
  ]) {
    const t0 = hr();
    for (let i = 0; i < n; i++) await fn();
    const s = Number(hr() - t0) / 1e9;
    rates[name] = n / s;
    console.log(`  ${name.padEnd(26)} n=${n.toLocaleString('en')}  ${(n / s).toFixed(0).padStart(10)} tasks/s` +
                `  (${us((s * 1e9) / n)} each)`);
  }
  const tfRate = rates['await tf.setTimeout(0)'];
  for (const peer of ['await null', 'await node setTimeout(0)', 'await setImmediate']) {
    console.log(`  tf.setTimeout(0) / ${peer.padEnd(24)} ${ratio(tfRate, rates[peer])} the rate`);
  }
  console.log(`\nload average at end: ${load()}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
