import { Cancelled } from "./errors";
import { Clock } from "./ports";

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new Cancelled());
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new Cancelled());
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** Throws Cancelled if the stage was cancelled. */
export function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new Cancelled();
}

/**
 * `signal`, and also aborted after `ms`. Not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: Node.js 20 holds
 * the timeout signal weakly there, and a garbage collection before it fires loses the bound.
 */
export function withTimeout(signal: AbortSignal, ms: number): AbortSignal {
  const timeout = new AbortController();
  // The pending timer keeps the controller, and so its signal, alive until it fires.
  setTimeout(() => timeout.abort(new DOMException("The operation timed out", "TimeoutError")), ms).unref();
  return AbortSignal.any([signal, timeout.signal]);
}
