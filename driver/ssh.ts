/**
 * The SSH port over the OpenSSH client. Prepare opens one connection per job: an `ssh` ControlMaster that stays in
 * the background, bounded by ControlPersist. Every later stage runs its script as a session multiplexed over it, at
 * the cost of a channel instead of a handshake; when the master is gone, `ssh` connects directly for that stage.
 * Every invocation uses the job's key only, pins the host key recorded on first contact, and ignores ~/.ssh,
 * /etc/ssh and any agent. Scripts go through the session's stdin.
 */
import { ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Cancelled } from "./errors";
import { SshPort, SshTarget } from "./ports";
import { SshError } from "./sshError";

import {
  ConnectionFiles,
  connectionFiles,
  DEFAULT_SSH_OPTIONS,
  describeSshFailure,
  diagnostics,
  knownHosts,
  recordedHostKey,
  remoteCommand,
  reportedExitCode,
  sessionLinePid,
  sshArguments,
  SshOptions,
} from "./sshCommand";

export { SshError, SshFailureKind } from "./sshError";

/** Keeps the last `limit` characters of what a stream says. */
function collect(stream: NodeJS.ReadableStream | null, limit = 16_384): () => string {
  let text = "";
  stream?.setEncoding("utf8");
  stream?.on("data", (chunk: string) => {
    text = (text + chunk).slice(-limit);
  });
  return () => text;
}

/**
 * The session's process id, from the wrapper's first line (written before the script starts, so nothing the script
 * writes can come first); undefined when stderr ends without it.
 */
function sessionPid(stream: NodeJS.ReadableStream | null): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = "";
    const onData = (chunk: string): void => {
      text += chunk;
      const end = text.indexOf("\n");
      if (end < 0 && text.length < 256) return;
      stream?.off("data", onData);
      resolve(sessionLinePid(text.slice(0, end)));
    };
    stream?.on("data", onData);
    stream?.once("end", () => resolve(undefined));
  });
}

/** How long a cancelled stage waits for its session to name its process group (the abort came first). */
const SESSION_PID_WAIT_MS = 5000;

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves once the process exited and closed its output. */
function finished(child: ChildProcess): Promise<Finished> {
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
}

/** Runs a short ssh command (control requests, the cancellation of a session); never throws. */
async function runQuietly(command: string, args: string[], timeoutMs: number): Promise<void> {
  const child = spawn(command, args, { stdio: "ignore", env: sshEnvironment(), timeout: timeoutMs });
  await finished(child).catch(() => undefined);
}

function cannotStart(command: string, err: unknown): SshError {
  const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
  const why = missing ? "OpenSSH's client is not installed on the manager (apt-get install openssh-client)" : "";
  return new SshError("client", `cannot start ${command}: ${why || (err as Error).message}`, { cause: err });
}

/** ssh needs no more than PATH; nothing of the driver's environment (agent sockets, display) reaches it. */
function sshEnvironment(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin" };
}

/** (Re)creates the job's connection files from what prepare recorded (a job started by an older driver has none). */
function writeConnectionFiles(files: ConnectionFiles, privateKey: string, hostKey?: string): void {
  mkdirSync(files.directory, { recursive: true, mode: 0o700 });
  writeFileSync(files.key, privateKey, { mode: 0o600 });
  writeFileSync(files.knownHosts, hostKey ? knownHosts(hostKey) : "", { mode: 0o600 });
}

export function createSshPort(overrides: Partial<SshOptions> = {}): SshPort {
  const options = { ...DEFAULT_SSH_OPTIONS, ...overrides };
  type Address = Pick<SshTarget, "host" | "port" | "username">;
  const endMaster = async (target: Address, files: ConnectionFiles): Promise<void> => {
    if (files.control && existsSync(files.control)) {
      await runQuietly(options.command, sshArguments(target, files, options, ["-O", "exit"]), 5000);
    }
  };

  /** Ends the remote session's process group (its shell leads one), through a session of its own. */
  const cancel = async (target: Address, files: ConnectionFiles, session: Promise<string | undefined>) => {
    const gaveUp = new Promise<undefined>((done) => setTimeout(() => done(undefined), SESSION_PID_WAIT_MS).unref());
    const pid = await Promise.race([session, gaveUp]);
    if (!pid) return;
    const args = sshArguments(target, files, options, ["-o", "StrictHostKeyChecking=yes", "-o", "ControlMaster=no"]);
    await runQuietly(options.command, [...args, `kill -TERM -- -${pid}`], 5000);
  };

  return {
    async open(target, signal) {
      if (signal?.aborted) throw new Cancelled();
      const files = connectionFiles(target.connectionDirectory);
      await endMaster(target, files);
      rmSync(files.directory, { recursive: true, force: true });
      writeConnectionFiles(files, target.privateKey);
      // The first contact records the task's host key; every later connection must present the same.
      const trust = ["-o", "StrictHostKeyChecking=accept-new"];
      const extra = files.control
        ? [...trust, "-o", "ControlMaster=yes", "-o", `ControlPersist=${options.persistSeconds}s`, "-N", "-f"]
        : trust;
      // Its stderr is read only when it fails: INFO keeps the reason of a failed negotiation.
      const args = sshArguments(target, files, options, extra, "INFO");
      // -f: ssh goes to the background once logged in, with its output on /dev/null; this process ends then.
      const child = spawn(options.command, files.control ? args : [...args, "exit 0"], {
        stdio: ["ignore", "ignore", "pipe"],
        env: sshEnvironment(),
      });
      const stderr = collect(child.stderr);
      const onAbort = (): void => {
        child.kill("SIGTERM");
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      let result: Finished;
      try {
        result = await finished(child);
      } catch (err) {
        throw cannotStart(options.command, err);
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
      if (signal?.aborted) {
        await endMaster(target, files);
        throw new Cancelled();
      }
      if (result.code !== 0) throw describeSshFailure(stderr(), target);
      const hostKey = recordedHostKey(readFileSync(files.knownHosts, "utf8"));
      if (!hostKey) throw new SshError("other", `ssh recorded no host key for ${target.host}:${target.port}`);
      return hostKey;
    },

    async runScript(target, script, out, signal, command = "bash") {
      if (signal?.aborted) throw new Cancelled();
      const files = connectionFiles(target.connectionDirectory);
      if (!existsSync(files.key) || !existsSync(files.knownHosts)) {
        writeConnectionFiles(files, target.privateKey, target.hostKey);
      }
      const args = sshArguments(target, files, options, ["-o", "StrictHostKeyChecking=yes", "-o", "ControlMaster=no"]);
      const child = spawn(options.command, [...args, remoteCommand(command)], {
        stdio: ["pipe", "pipe", "pipe"],
        env: sshEnvironment(),
      });
      // Back-pressure: while the job log is not read, ssh blocks on its stdout and stops reading the channel, so
      // the SSH window closes and output waits in the task.
      child.stdout?.pipe(out.stdout, { end: false });
      const stderr = collect(child.stderr);
      const session = sessionPid(child.stderr);
      child.stdin?.on("error", () => undefined); // the session may end before it read the whole script
      child.stdin?.end(script);
      const done = finished(child);
      let cancelled = false;
      const onAbort = (): void => {
        cancelled = true;
        void cancel(target, files, session).finally(() => child.kill("SIGTERM"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        await done;
      } catch (err) {
        throw cannotStart(options.command, err);
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
      if (cancelled) throw new Cancelled();
      const code = reportedExitCode(stderr());
      if (code !== undefined) return code;
      const lost = `SSH session to ${target.host}:${target.port} ended before the script reported an exit status`;
      if (!diagnostics(stderr())) throw new SshError("closed", `${lost}: the connection was closed`);
      const failure = describeSshFailure(stderr(), target);
      throw new SshError(failure.kind, `${lost}: ${failure.message}`);
    },

    async close(target) {
      const files = connectionFiles(target.connectionDirectory);
      await endMaster(target, files);
      rmSync(files.directory, { recursive: true, force: true });
    },
  };
}
