// SPDX-License-Identifier: MIT
// Type declarations for the `timefuture` package (Node.js binding of
// libtimefuture). The API follows node:timers/promises.

/** Options of setTimeout, setInterval, sleep and sleepUntil. */
export interface TimerOptions {
  /** Aborting it rejects the wait with an AbortError (cause: signal.reason). */
  signal?: AbortSignal;
  /** false lets the process exit while the timer is pending (default true). */
  ref?: boolean;
}

/** Options of scheduler.wait. */
export interface WaitOptions {
  signal?: AbortSignal;
}

/** The error an abort rejects with: name 'AbortError', code 'ABORT_ERR'. */
export class AbortError extends Error {
  constructor(message?: string, options?: { cause?: unknown });
  readonly code: 'ABORT_ERR';
  readonly name: 'AbortError';
}

/**
 * Resolves with `value` after `delay` milliseconds (a float, 0 to
 * 2147483647; default 0), never early, at nanosecond resolution.
 */
export function setTimeout(delay?: number, value?: undefined, options?: TimerOptions): Promise<void>;
export function setTimeout<T>(delay: number | undefined, value: T, options?: TimerOptions): Promise<T>;

/**
 * Yields `value` every `delay` milliseconds (0 means 1 ms, as in Node); tick
 * k is due at start + k * delay exactly (no drift, never early). Ticks a
 * slow consumer missed are yielded at once, one per tick, as Node's
 * iterator yields the ticks it queued.
 */
export function setInterval(delay?: number, value?: undefined, options?: TimerOptions): AsyncGenerator<undefined, never, unknown>;
export function setInterval<T>(delay: number | undefined, value: T, options?: TimerOptions): AsyncGenerator<T, never, unknown>;

/** Resolves after `ns` nanoseconds. */
export function sleep(ns: bigint, options?: TimerOptions): Promise<void>;

/** Resolves once now() has reached `deadlineNs`. */
export function sleepUntil(deadlineNs: bigint, options?: TimerOptions): Promise<void>;

/** The timers' clock in nanoseconds (CLOCK_MONOTONIC, as process.hrtime.bigint()). */
export function now(): bigint;

/** Like node:timers/promises scheduler. */
export interface Scheduler {
  wait(delay?: number, options?: WaitOptions): Promise<void>;
  yield(): Promise<void>;
}
export const scheduler: Scheduler;

/**
 * A re-armable one-shot timer. Awaiting it waits for the current arming;
 * cancel() rejects such an await with an AbortError.
 */
export class Timer implements PromiseLike<void> {
  constructor(delay?: number, options?: { ref?: boolean });
  /** Re-arms it to fire `delay` ms from now (also after it fired or was cancelled). */
  reset(delay: number): this;
  /** Disarms it; returns whether it was armed. */
  cancel(): boolean;
  /** The deadline in nanoseconds on the now() clock. */
  readonly deadline: bigint;
  /** Its state, read without polling it. */
  readonly state: 'pending' | 'fired' | 'canceled';
  then<R1 = void, R2 = never>(
    onFulfilled?: ((value: void) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2>;
}

/** The library's version, e.g. "1.1.0". */
export const version: string;

declare const timefuture: {
  setTimeout: typeof setTimeout;
  setInterval: typeof setInterval;
  scheduler: Scheduler;
  sleep: typeof sleep;
  sleepUntil: typeof sleepUntil;
  now: typeof now;
  Timer: typeof Timer;
  AbortError: typeof AbortError;
  version: string;
};
export default timefuture;
