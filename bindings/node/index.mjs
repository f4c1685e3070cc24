// SPDX-License-Identifier: MIT
// ESM entry: the same module as index.js (one addon instance per environment).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tf = require('./index.js');

export const {
  setTimeout, setInterval, scheduler, sleep, sleepUntil, now, Timer, AbortError, version,
} = tf;
export default tf;
