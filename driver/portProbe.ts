/**
 * Whether a task's sshd is up yet, told by its greeting alone: no login, no process spawned. Prepare uses it while
 * ECS still reports the task PENDING, so that the login starts as soon as sshd listens.
 */
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Cancelled } from "./errors";

export interface ProbeTiming {
  /** Time from the start of one attempt to the start of the next after a refusal, ms; grows 1.5× per refusal. */
  intervalMs: number;
  /** The interval's cap, ms: a task pulling its image refuses for minutes. */
  maxIntervalMs: number;
  /** An attempt with no answer (a dropped SYN, no greeting) is given up after this long, ms. */
  attemptTimeoutMs: number;
}

const DEFAULT_TIMING: ProbeTiming = { intervalMs: 50, maxIntervalMs: 250, attemptTimeoutMs: 500 };

/**
 * The line the probe answers sshd's greeting with before it hangs up: sshd then logs a plain "Connection closed"
 * instead of an error about a client that never said who it was.
 */
const PROBE_GREETING = "SSH-2.0-gitlab-fargate-probe\r\n";

type Attempt = "sshd" | "refused" | "no answer";

/**
 * One connection: "sshd" once the server's first line is an SSH greeting. (RFC 4253 lets a server send other lines
 * first; OpenSSH does not. A server that does is not recognised here, and prepare waits for RUNNING instead.)
 */
function attempt(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let greeting = "";
    let settled = false;
    const settle = (result: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.removeAllListeners("data");
      if (result === "sshd") {
        socket.end(PROBE_GREETING);
        const hangUp = setTimeout(() => socket.destroy(), timeoutMs).unref();
        socket.once("close", () => clearTimeout(hangUp));
      } else {
        socket.destroy();
      }
      resolve(result);
    };
    const onAbort = (): void => settle("no answer");
    const timer = setTimeout(() => settle("no answer"), timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      greeting += chunk;
      if (greeting.includes("\n") || greeting.length >= 255) settle(greeting.startsWith("SSH-") ? "sshd" : "refused");
    });
    socket.on("error", () => settle("refused"));
    socket.once("end", () => settle("refused"));
  });
}

/**
 * Resolves once an SSH server greets at host:port; retries refusals, unreachable hosts, unanswered attempts and
 * other servers until then. Rejects only with Cancelled, when `signal` aborts.
 */
export async function waitUntilListening(
  host: string,
  port: number,
  signal: AbortSignal,
  timing: ProbeTiming = DEFAULT_TIMING,
): Promise<void> {
  let interval = timing.intervalMs;
  for (;;) {
    if (signal.aborted) throw new Cancelled();
    const started = Date.now();
    const result = await attempt(host, port, timing.attemptTimeoutMs, signal);
    if (signal.aborted) throw new Cancelled();
    if (result === "sshd") return;
    const wait = started + interval - Date.now();
    if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
    interval = Math.min(Math.round(interval * 1.5), timing.maxIntervalMs);
  }
}
