// SPDX-License-Identifier: MIT
// Compiled (not run) by the node_types test: the declarations describe the API.
import tf, { setTimeout, setInterval, sleep, Timer, scheduler, now, AbortError } from '../index';
async function main(): Promise<void> {
  const s: string = await setTimeout(1, 'x');
  const v: void = await setTimeout(1);
  await sleep(100n);
  const t = new Timer(5); t.reset(1); await t; const c: boolean = t.cancel(); const d: bigint = t.deadline;
  for await (const tick of setInterval(10, 3)) { const n: number = tick; break; }
  await scheduler.wait(1, { signal: new AbortController().signal });
  const n: bigint = now() + tf.now();
  const e = new AbortError(); const code: 'ABORT_ERR' = e.code;
}
main();
