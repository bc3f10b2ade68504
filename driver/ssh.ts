/**
 * The SSH port over ssh2. Every connection authenticates with the job's ed25519 key; run stages require the
 * host key recorded in prepare (no "accept any host key"). Scripts go through the channel's stdin to `bash`.
 */
import { constants } from "node:os";
import { Client, ClientChannel, ConnectConfig, utils } from "ssh2";
import { Cancelled } from "./errors";
import { SshPort, SshTarget } from "./ports";
import { SshError } from "./sshError";

export { SshError, SshFailureKind } from "./sshError";

/** "<algorithm> <base64>" of a raw SSH public key blob (its first field is the algorithm name). */
export function formatHostKey(blob: Buffer): string {
  const nameLength = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const algorithm = nameLength > 0 && nameLength < 64 ? blob.subarray(4, 4 + nameLength).toString("ascii") : "unknown";
  return `${algorithm} ${blob.toString("base64")}`;
}

/** Turns a connection error into a message naming IP:port and the likely cause. */
export function describeSshFailure(
  error: Error & { code?: string; level?: string },
  target: Pick<SshTarget, "host" | "port" | "username">,
): SshError {
  const where = `${target.host}:${target.port}`;
  if (error instanceof SshError) return error;
  if (error.code === "ECONNREFUSED") {
    return new SshError(
      "refused",
      `SSH connection to ${where} refused: sshd is not listening there (not started yet, or the task's ` +
        `entrypoint failed; check the container logs)`,
      { cause: error },
    );
  }
  if (
    error.code === "ETIMEDOUT" ||
    error.code === "EHOSTUNREACH" ||
    error.code === "ENETUNREACH" ||
    error.level === "client-timeout"
  ) {
    return new SshError(
      "timeout",
      `no SSH answer from ${where}: a security group or network ACL likely blocks TCP ${target.port} from the ` +
        `runner manager, or the subnet has no route to it (${error.code ?? error.message})`,
      { cause: error },
    );
  }
  if (error.level === "client-authentication") {
    return new SshError(
      "auth",
      `sshd at ${where} refused the job's key for user "${target.username}": SSH_PUBLIC_KEY did not reach ` +
        `authorized_keys (check the image's entrypoint and SSH.Username)`,
      { cause: error },
    );
  }
  return new SshError("other", `SSH to ${where} failed: ${error.message}`, { cause: error });
}

interface Session {
  client: Client;
  hostKey: string;
}

export interface SshOptions {
  /** Handshake timeout of one connection attempt, ms. */
  readyTimeoutMs: number;
  /** Keepalive interval while a script runs, ms (a dead task is noticed after 4 missed answers). */
  keepaliveIntervalMs: number;
}

const DEFAULT_OPTIONS: SshOptions = { readyTimeoutMs: 10_000, keepaliveIntervalMs: 15_000 };

function connect(target: SshTarget, expectedHostKey: string | undefined, options: SshOptions, signal?: AbortSignal) {
  return new Promise<Session>((resolve, reject) => {
    if (signal?.aborted) return reject(new Cancelled());
    const client = new Client();
    let seen: string | undefined;
    let settled = false;
    const finish = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      if (err) {
        client.destroy();
        reject(err);
      } else resolve({ client, hostKey: seen ?? "" });
    };
    const onAbort = (): void => finish(new Cancelled());
    signal?.addEventListener("abort", onAbort, { once: true });
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.username,
      privateKey: target.privateKey,
      readyTimeout: options.readyTimeoutMs,
      keepaliveInterval: options.keepaliveIntervalMs,
      keepaliveCountMax: 4,
      hostVerifier: (key: Buffer) => {
        seen = formatHostKey(key);
        if (expectedHostKey !== undefined && seen !== expectedHostKey) {
          finish(
            new SshError(
              "hostkey",
              `host key of ${target.host}:${target.port} differs from the one recorded in prepare ` +
                `(expected ${expectedHostKey.slice(0, 40)}…, got ${seen.slice(0, 40)}…): refusing to connect`,
            ),
          );
          return false;
        }
        return true;
      },
    };
    client.once("ready", () => finish(undefined));
    client.on("error", (err) => finish(describeSshFailure(err, target)));
    client.once("close", () =>
      finish(new SshError("closed", `SSH connection to ${target.host}:${target.port} closed during the handshake`)),
    );
    client.connect(config);
  });
}

function signalExitCode(signalName: string | undefined): number {
  // ssh2 reports "SIGKILL" (it adds the prefix to the protocol's "KILL").
  const name = signalName?.startsWith("SIG") ? signalName : `SIG${signalName ?? ""}`;
  const number = (constants.signals as Record<string, number>)[name];
  return 128 + (number ?? 127);
}

/**
 * Asks sshd to signal the session's process group. ssh2's `channel.signal()` does nothing once our side of the
 * channel is ended, and it always is here (EOF tells bash the script is complete), so the request is sent through
 * the channel's protocol object directly. Best effort: OpenSSH's sshd only honours it for non-root logins (it needs
 * privilege separation); for root the session is simply closed and the cleanup stage stops the task.
 */
function sendSignal(channel: ClientChannel, name: string): void {
  const internals = channel as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, signal: string): void } };
  };
  try {
    if (internals.outgoing?.state === "open" || internals.outgoing?.state === "eof")
      internals._client?._protocol?.signal(internals.outgoing.id, name);
  } catch {
    // the connection is going away anyway
  }
}

function runOnChannel(
  channel: ClientChannel,
  script: string,
  out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
  where: string,
  signal?: AbortSignal,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let exitCode: number | undefined;
    const onAbort = (): void => {
      sendSignal(channel, "TERM");
      channel.close();
      reject(new Cancelled());
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    // pipe() pauses the channel while the job log is not read, and ssh2 then stops widening the SSH window, so a
    // burst of output waits in the task instead of in the driver's memory.
    channel.pipe(out.stdout, { end: false });
    channel.stderr.pipe(out.stderr, { end: false });
    const stderrEnded = new Promise<void>((done) => channel.stderr.once("end", done));
    channel.on("exit", (code: number | null, signalName?: string) => {
      exitCode = typeof code === "number" ? code : signalExitCode(signalName);
    });
    channel.on("close", () => {
      signal?.removeEventListener("abort", onAbort);
      if (exitCode === undefined) {
        reject(new SshError("closed", `SSH session to ${where} ended before the script reported an exit status`));
        return;
      }
      const code = exitCode;
      // ssh2 closes the channel once stdout ended; stderr may still hold output.
      void stderrEnded.then(() => resolve(code));
    });
    channel.end(script);
  });
}

export function createSshPort(overrides: Partial<SshOptions> = {}): SshPort {
  const options = { ...DEFAULT_OPTIONS, ...overrides };
  return {
    async probe(target, signal) {
      const session = await connect(target, undefined, options, signal);
      session.client.end();
      return session.hostKey;
    },

    async runScript(target, script, out, signal, command = "bash") {
      const { client } = await connect(target, target.hostKey, options, signal);
      const where = `${target.host}:${target.port}`;
      try {
        const lost = new Promise<never>((_, reject) => {
          client.on("error", (err) => reject(describeSshFailure(err, target)));
        });
        lost.catch(() => undefined); // observed through Promise.race; avoid an unhandled rejection afterwards
        const channel = await Promise.race([
          new Promise<ClientChannel>((resolve, reject) =>
            // One stream for the job log: ssh2 shares one SSH window between stdout and stderr, so reading stderr
            // would let stdout in while it is paused (and gitlab-runner puts both in the same log anyway).
            client.exec(`${command} 2>&1`, (err, ch) => (err ? reject(describeSshFailure(err, target)) : resolve(ch))),
          ),
          lost,
        ]);
        return await Promise.race([runOnChannel(channel, script, out, where, signal), lost]);
      } finally {
        client.end();
      }
    },
  };
}

/** A fresh ed25519 key pair in OpenSSH format (the public key is what the task's entrypoint authorizes). */
export function generateEd25519KeyPair(comment: string): { privateKey: string; publicKey: string } {
  // ssh2 drops a leading zero byte of the 32-byte key (about 1 key in 256); sshd rejects such keys, so draw again.
  for (;;) {
    const pair = utils.generateKeyPairSync("ed25519", { comment });
    const blob = Buffer.from(pair.public.split(" ")[1] ?? "", "base64");
    if (blob.length === 4 + "ssh-ed25519".length + 4 + 32) return { privateKey: pair.private, publicKey: pair.public };
  }
}
