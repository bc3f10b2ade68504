/**
 * The SSH port over the OpenSSH client. Prepare opens one connection per job: an `ssh` ControlMaster that stays in
 * the background, bounded by ControlPersist. Every later stage runs its script as a session multiplexed over it, at
 * the cost of a channel instead of a handshake; when the master is gone, `ssh` connects directly for that stage.
 * Every invocation uses the job's key only, pins the host key recorded on first contact, and ignores ~/.ssh,
 * /etc/ssh and any agent. Scripts go through the session's stdin.
 */
import { ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cancelled } from "./errors";
import { SshPort, SshTarget } from "./ports";
import { SshError } from "./sshError";

export { SshError, SshFailureKind } from "./sshError";
export { fingerprint, generateEd25519KeyPair } from "./sshKeys";

/** The files of a job's connection, in its own 0700 directory. */
export interface ConnectionFiles {
  directory: string;
  key: string;
  knownHosts: string;
  /** The ControlMaster's socket; undefined when its path is too long for a Unix socket (every stage connects anew). */
  control?: string;
}

/**
 * sun_path holds 108 bytes with its NUL, and the master first binds `<ControlPath>.<16 random characters>`, then
 * renames it into place.
 */
const MAX_CONTROL_PATH_BYTES = 107 - 17;

export function connectionFiles(directory: string): ConnectionFiles {
  const control = join(directory, "control");
  return {
    directory,
    key: join(directory, "id_ed25519"),
    knownHosts: join(directory, "known_hosts"),
    control: Buffer.byteLength(control) <= MAX_CONTROL_PATH_BYTES ? control : undefined,
  };
}

/** The name the task's host key is recorded and checked under (the task's IP is no identity). */
const HOST_KEY_ALIAS = "gitlab-fargate-task";

/** Lines the remote wrapper writes to the session's stderr (the script's own stderr goes to stdout). */
const SESSION_LINE = "gitlab-fargate-session";
const EXIT_LINE = "gitlab-fargate-exit";

export interface SshOptions {
  /** The ssh client. */
  command: string;
  /** TCP connect and SSH banner timeout of one connection, seconds. */
  connectTimeoutSeconds: number;
  /** Keepalive interval, seconds: a connection that misses 4 answers in a row is given up. */
  keepaliveIntervalSeconds: number;
  /** How long the job's connection stays open with no stage using it, seconds. */
  persistSeconds: number;
}

export const DEFAULT_SSH_OPTIONS: SshOptions = {
  command: "ssh",
  connectTimeoutSeconds: 10,
  keepaliveIntervalSeconds: 15,
  persistSeconds: 60,
};

/** ssh reads `%` as the start of a token in file options. */
const literal = (path: string): string => path.replace(/%/g, "%%");

/** The options of every ssh invocation for this target; `extra` goes before the destination. */
export function sshArguments(
  target: Pick<SshTarget, "host" | "port" | "username">,
  files: ConnectionFiles,
  options: SshOptions,
  extra: string[],
): string[] {
  const settings = [
    "BatchMode=yes",
    "LogLevel=ERROR",
    `IdentityFile=${literal(files.key)}`,
    "IdentitiesOnly=yes",
    "IdentityAgent=none",
    "PreferredAuthentications=publickey",
    `UserKnownHostsFile=${literal(files.knownHosts)}`,
    "GlobalKnownHostsFile=/dev/null",
    `HostKeyAlias=${HOST_KEY_ALIAS}`,
    "CheckHostIP=no",
    "UpdateHostKeys=no",
    "HashKnownHosts=no",
    "ClearAllForwardings=yes",
    "ForwardAgent=no",
    "ForwardX11=no",
    "PermitLocalCommand=no",
    "EscapeChar=none",
    `ConnectTimeout=${options.connectTimeoutSeconds}`,
    `ServerAliveInterval=${options.keepaliveIntervalSeconds}`,
    "ServerAliveCountMax=4",
    `ControlPath=${files.control ? literal(files.control) : "none"}`,
  ];
  return [
    "-F",
    "/dev/null",
    "-T",
    ...settings.flatMap((setting) => ["-o", setting]),
    "-p",
    String(target.port),
    "-l",
    target.username,
    ...extra,
    "--",
    target.host,
  ];
}

/** What the task's login shell runs: the stage command, its stderr in its stdout, then the exit code reported. */
export function remoteCommand(command: string): string {
  return (
    `printf '${SESSION_LINE} %s\\n' "$$" >&2; ( ${command} ) 2>&1; ` +
    `s=$?; printf '${EXIT_LINE} %s\\n' "$s" >&2; exit "$s"`
  );
}

/** The exit code the wrapper reported, if it got that far. */
export function reportedExitCode(stderr: string): number | undefined {
  const matches = [...stderr.matchAll(new RegExp(`^${EXIT_LINE} (\\d{1,3})$`, "gm"))];
  const last = matches.at(-1);
  return last ? Number(last[1]) : undefined;
}

/**
 * ssh's own messages: stderr without the wrapper's lines, and without the complaint about a control socket whose
 * connection is gone (ssh then connects directly, and what went wrong is in the lines after it).
 */
function diagnostics(stderr: string): string {
  const ours = (line: string) => line.startsWith(`${SESSION_LINE} `) || line.startsWith(`${EXIT_LINE} `);
  return stderr
    .split("\n")
    .filter((line) => line.trim() && !ours(line) && !line.startsWith("Control socket connect("))
    .join("; ");
}

/** Turns ssh's complaint into a message naming IP:port and the likely cause. */
export function describeSshFailure(stderr: string, target: Pick<SshTarget, "host" | "port" | "username">): SshError {
  const where = `${target.host}:${target.port}`;
  const said = diagnostics(stderr) || "no message";
  if (/Host key verification failed|IDENTIFICATION HAS CHANGED/i.test(said)) {
    return new SshError(
      "hostkey",
      `host key of ${where} differs from the one recorded in prepare: refusing to connect (${said})`,
    );
  }
  if (/Connection refused/i.test(said)) {
    return new SshError(
      "refused",
      `SSH connection to ${where} refused: sshd is not listening there (not started yet, or the task's ` +
        `entrypoint failed; check the container logs)`,
    );
  }
  if (/timed out|No route to host|Network is unreachable/i.test(said)) {
    return new SshError(
      "timeout",
      `no SSH answer from ${where}: a security group or network ACL likely blocks TCP ${target.port} from the ` +
        `runner manager, or the subnet has no route to it (${said})`,
    );
  }
  if (/Permission denied/i.test(said)) {
    return new SshError(
      "auth",
      `sshd at ${where} refused the job's key for user "${target.username}": SSH_PUBLIC_KEY did not reach ` +
        `authorized_keys (check the image's entrypoint and SSH.Username)`,
    );
  }
  if (/closed|reset|kex_exchange_identification|broken pipe/i.test(said)) {
    return new SshError("closed", `SSH connection to ${where} closed: ${said}`);
  }
  return new SshError("other", `SSH to ${where} failed: ${said}`);
}

/** The host key ("<algorithm> <base64>") recorded under the alias, if any. */
export function recordedHostKey(knownHosts: string): string | undefined {
  for (const line of knownHosts.split("\n")) {
    const [name, algorithm, key] = line.trim().split(/\s+/);
    if (name === HOST_KEY_ALIAS && algorithm && key) return `${algorithm} ${key}`;
  }
  return undefined;
}

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
      resolve(new RegExp(`^${SESSION_LINE} (\\d+)$`).exec(text.slice(0, end))?.[1]);
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
  writeFileSync(files.knownHosts, hostKey ? `${HOST_KEY_ALIAS} ${hostKey}\n` : "", { mode: 0o600 });
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
      const args = sshArguments(target, files, options, extra);
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
