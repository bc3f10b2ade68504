/**
 * Whether a task's sshd is up yet, told by a TCP connection alone: no SSH login, no process spawned. Prepare uses it
 * while ECS still reports the task PENDING, so that the login starts as soon as sshd listens.
 */
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Cancelled } from "./errors";

export interface ProbeTiming {
  /** Time from the start of one attempt to the start of the next after a refusal, ms. */
  intervalMs: number;
  /** An attempt with no answer (a dropped SYN) is given up after this long and the next one starts, ms. */
  attemptTimeoutMs: number;
}

const DEFAULT_TIMING: ProbeTiming = { intervalMs: 50, attemptTimeoutMs: 500 };

type Attempt = "open" | "refused" | "no answer";

/** One TCP connection attempt; the connection, if made, is closed at once. */
function attempt(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const settle = (result: Attempt): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = (): void => settle("no answer");
    const timer = setTimeout(() => settle("no answer"), timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => settle("open"));
    socket.once("error", () => settle("refused"));
  });
}

/**
 * Resolves once host:port accepts a TCP connection; retries refusals, unreachable hosts and unanswered attempts
 * until then. Rejects only with Cancelled, when `signal` aborts.
 */
export async function waitUntilListening(
  host: string,
  port: number,
  signal: AbortSignal,
  timing: ProbeTiming = DEFAULT_TIMING,
): Promise<void> {
  for (;;) {
    if (signal.aborted) throw new Cancelled();
    const started = Date.now();
    const result = await attempt(host, port, timing.attemptTimeoutMs, signal);
    if (signal.aborted) throw new Cancelled();
    if (result === "open") return;
    const wait = started + timing.intervalMs - Date.now();
    if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
  }
}
