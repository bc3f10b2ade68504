/**
 * A real OpenSSH sshd on 127.0.0.1 for SSH tests: its own host key (ssh-keygen) and authorized_keys in a temp dir,
 * run in the foreground as a child process. Needs root (it logs in as the current user) and /usr/sbin/sshd.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { waitUntilListening } from "../../driver/portProbe";
import { userInfo, tmpdir } from "node:os";
import { join } from "node:path";

export interface LocalSshd {
  host: string;
  port: number;
  /** The user to log in as (whoever runs the tests). */
  username: string;
  /** Host public key as "<algorithm> <base64>" (what ssh.ts records). */
  hostKey: string;
  /** Adds an OpenSSH public key line to authorized_keys. */
  authorize(publicKey: string): void;
  /** sshd's stderr so far (for debugging failed tests). */
  log(): string;
  stop(): Promise<void>;
}

export const SSHD_PATH = "/usr/sbin/sshd";

/** A TCP port that was free a moment ago (nothing listens on it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once sshd greets on `port` (the driver's own probe); rejects when sshd exits or stays silent for 10 s. */
async function waitForBanner(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const stop = new AbortController();
  const onExit = (): void => stop.abort();
  child.once("exit", onExit);
  const timer = setTimeout(onExit, 10_000);
  try {
    await waitUntilListening("127.0.0.1", port, stop.signal);
  } catch {
    throw new Error(`sshd did not start: ${log()}`);
  } finally {
    clearTimeout(timer);
    child.off("exit", onExit);
  }
}

/** `extraConfig`: further sshd_config lines, e.g. `KexAlgorithms …`. */
export async function startLocalSshd(extraConfig: string[] = []): Promise<LocalSshd> {
  const dir = mkdtempSync(join(tmpdir(), "driver-sshd-"));
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  const hostKeyPath = join(dir, "host_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKeyPath]);
  const authorizedKeys = join(dir, "authorized_keys");
  writeFileSync(authorizedKeys, "", { mode: 0o600 });
  const port = await freePort();
  const configPath = join(dir, "sshd_config");
  writeFileSync(
    configPath,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKeyPath}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      "StrictModes no",
      "PidFile none",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      "LogLevel VERBOSE",
      ...extraConfig,
      "",
    ].join("\n"),
  );
  const child = spawn(SSHD_PATH, ["-D", "-e", "-f", configPath], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitForBanner(port, child, () => stderr);
  } catch (err) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const [algorithm, base64] = readFileSync(`${hostKeyPath}.pub`, "utf8").trim().split(/\s+/);
  return {
    host: "127.0.0.1",
    port,
    username: userInfo().username,
    hostKey: `${algorithm} ${base64}`,
    authorize: (publicKey) => appendFileSync(authorizedKeys, `${publicKey.trim()}\n`),
    log: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
