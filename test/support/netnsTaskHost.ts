/**
 * A "task host" for end-to-end tests: each launched task gets its own network namespace (a veth pair with a
 * private /30), a private mount, UTS and PID namespace, and runs the REAL images/ci-coordinator/docker-entrypoint.sh
 * under tini with the task's environment, which starts the machine's real /usr/sbin/sshd with the image's
 * sshd_config. /root, /run, /tmp, /opt and /etc/ssh are private to the task, so the machine's own keys and sshd are
 * never touched. Needs root (ip netns, mount).
 */
import { ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
  copyFileSync,
  mkdirSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { missingCommand, missingRoot } from "./requirements";
import { LaunchedTask, TaskLaunchRequest, TaskLauncher } from "./taskLauncher";

const IMAGE_DIR = resolve(__dirname, "../../images/ci-coordinator");
/** The job image's entrypoint and sshd configuration, used unmodified. */
export const IMAGE_ENTRYPOINT = join(IMAGE_DIR, "docker-entrypoint.sh");
export const IMAGE_SSHD_CONFIG = join(IMAGE_DIR, "sshd_config");

/** Prefix of every network namespace this module creates (`ip netns list | grep fgtask-`). */
export const NAMESPACE_PREFIX = "fgtask-";
/** Number of /30 blocks in 10.213.0.0/16 (private addresses) and 10.214.0.0/16 ("public" addresses). */
const BLOCKS = 16384;
const CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const LOG_LIMIT = 64 * 1024;

/** Fault knobs, mutable at any time; they apply to tasks launched afterwards. */
export interface TaskHostFaults {
  /** The container starts and stays up, but sshd never listens (its binary is replaced by `sleep infinity`). */
  sshdNeverStarts?: boolean;
}

export interface NetnsTaskHostOptions {
  faults?: TaskHostFaults;
}

/** What the task host knows about one launched task (for assertions and benchmarks). */
export interface TaskHostInfo {
  taskId: string;
  namespace: string;
  privateIp: string;
  publicIp: string;
  /** Hostname inside the task, derived from its address like Fargate's `ip-10-0-1-2`. */
  hostname: string;
  /** PID (in the machine's PID namespace) of the process holding the task's namespaces. */
  pid: number;
  /** Date.now() when launch() resolved, i.e. when the emulator may report RUNNING. */
  launchedAt: number;
  /** Date.now() when sshd was first seen listening on port 22 inside the task, if it has been. */
  listeningAt?: number;
  /** stdout+stderr of the container (entrypoint and sshd), truncated to 64 KiB. */
  log(): string;
}

interface LiveTask extends TaskHostInfo {
  hostVeth: string;
  stateDir: string;
  child: ChildProcess;
  stopping?: Promise<void>;
  done: boolean;
}

/** Why the task host cannot run here, or undefined when it can. */
export function taskHostUnsupportedReason(): string | undefined {
  return (
    missingRoot("network and mount namespaces") ??
    missingCommand("/usr/sbin/sshd", "apt-get install openssh-server") ??
    missingCommand("/usr/bin/ssh-keygen", "apt-get install openssh-client") ??
    ["ip", "unshare", "nsenter", "tini"]
      .map((tool) => missingCommand(tool, "apt-get install iproute2 util-linux tini"))
      .find((missing) => missing !== undefined)
  );
}

/** Names of the network namespaces on this machine that look like task hosts (any process). */
export function listTaskNamespaces(): string[] {
  // stderr ignored: `ip` complains about namespaces other processes are deleting at the same moment.
  const out = execFileSync("ip", ["netns", "list"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return out
    .split("\n")
    .map((line) => line.split(" ")[0])
    .filter((name) => name.startsWith(NAMESPACE_PREFIX));
}

function run(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(file, args, { encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
      else resolvePromise(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function blockAddresses(index: number): { host: string; task: string; publicHost: string; publicTask: string } {
  const third = index >> 6;
  const fourth = (index & 63) * 4;
  return {
    host: `10.213.${third}.${fourth + 1}`,
    task: `10.213.${third}.${fourth + 2}`,
    publicHost: `10.214.${third}.${fourth + 1}`,
    publicTask: `10.214.${third}.${fourth + 2}`,
  };
}

/** True when a process in the namespace of `pid` listens on TCP port 22 (reads /proc/<pid>/net/tcp{,6}). */
function listensOnSsh(pid: number): boolean {
  for (const table of ["tcp", "tcp6"]) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    // columns: sl local_address rem_address st ...; local port 22 = :0016, state 0A = LISTEN
    if (/^\s*\d+: [0-9A-F]+:0016 [0-9A-F]+:[0-9A-F]+ 0A /m.test(text)) return true;
  }
  return false;
}

/**
 * Kills a task: SIGKILL to its PID 1 (tini), which takes every process of its PID namespace with it and is reaped
 * by `unshare`, which then exits; if PID 1 is not there yet, SIGKILL to `unshare` itself (--kill-child).
 */
function killTask(unsharePid: number): void {
  let init: number | undefined;
  try {
    init =
      Number(readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, "utf8").trim().split(" ")[0]) || undefined;
  } catch {
    init = undefined;
  }
  for (const pid of [init, unsharePid]) {
    try {
      if (pid && pid > 0) {
        process.kill(pid, "SIGKILL");
        return;
      }
    } catch {
      // gone already: try the next one
    }
  }
}

// Runs inside the new mount/UTS/PID namespaces: private /etc/ssh, /run, /root, /tmp and /opt (the driver's
// builds_dir is /opt/gitlab-runner/builds; the image directory is
// bind-mounted read-only under the private /run first, so a checkout under /tmp stays reachable), then the
// container's PID 1 exactly as the image declares it: tini -- docker-entrypoint.sh. Arguments are positional so
// the container's environment stays exactly the task's.
const CONTAINER_SETUP = `set -e
state="$1" name="$2" image="$3" never="$4"
mount --bind "$state/etc-ssh" /etc/ssh
if [ "$never" = 1 ]; then mount --bind "$state/sshd-never-starts" /usr/sbin/sshd; fi
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir /run/ci-coordinator-image
mount --bind "$image" /run/ci-coordinator-image
mount -o remount,bind,ro /run/ci-coordinator-image
mount -t tmpfs -o mode=0700 tmpfs /root
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /opt && mount -t tmpfs -o mode=0755 tmpfs /opt
hostname "$name"
exec tini -- bash /run/ci-coordinator-image/docker-entrypoint.sh
`;

/** TaskLauncher backed by network namespaces and the real job image entrypoint + sshd. */
export class NetnsTaskHost implements TaskLauncher {
  readonly faults: TaskHostFaults;
  private readonly live = new Map<string, LiveTask>();
  private readonly all: LiveTask[] = [];
  private nextBlock = Math.floor(Math.random() * BLOCKS);
  private readonly onExit = () => this.stopAllSync();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.stopAllSync();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };

  constructor(options: NetnsTaskHostOptions = {}) {
    this.faults = options.faults ?? {};
  }

  async launch(request: TaskLaunchRequest): Promise<LaunchedTask> {
    const { namespace, hostVeth, addresses } = await this.createNetwork();
    const hostname = `ip-${addresses.task.replace(/\./g, "-")}`;
    let stateDir: string | undefined;
    try {
      stateDir = this.prepareStateDir();
      const child = spawn(
        "nsenter",
        [
          `--net=/run/netns/${namespace}`,
          "--",
          "unshare",
          "--mount",
          "--uts",
          "--pid",
          "--fork",
          "--kill-child",
          "--mount-proc",
          "--propagation",
          "private",
          "--",
          "bash",
          "-c",
          CONTAINER_SETUP,
          "container-setup",
          stateDir,
          hostname,
          IMAGE_DIR,
          this.faults.sshdNeverStarts ? "1" : "0",
        ],
        {
          env: { PATH: CONTAINER_PATH, HOME: "/root", ...request.environment },
          stdio: ["ignore", "pipe", "pipe"],
          detached: true,
        },
      );
      let log = "";
      const append = (chunk: Buffer) => {
        if (log.length < LOG_LIMIT) log += chunk.toString("utf8");
      };
      child.stdout?.on("data", append);
      child.stderr?.on("data", append);
      const task: LiveTask = {
        taskId: request.taskId,
        namespace,
        privateIp: addresses.task,
        publicIp: addresses.publicTask,
        hostname,
        pid: child.pid ?? -1,
        launchedAt: 0,
        log: () => log,
        hostVeth,
        stateDir,
        child,
        done: false,
      };
      const exited = new Promise<{ exitCode: number | null; reason: string }>((resolveExit) => {
        child.on("error", (error) => {
          task.done = true;
          resolveExit({ exitCode: null, reason: `container could not start: ${error.message}` });
        });
        child.on("close", (code, signal) => {
          task.done = true;
          const lastLine = log.trim().split("\n").pop() ?? "";
          const how = code === null ? `killed by ${signal}` : `exited with code ${code}`;
          resolveExit({
            exitCode: code,
            reason: `Essential container in task exited (${how})${lastLine ? `: ${lastLine}` : ""}`,
          });
        });
      });
      this.track(task);
      this.watchListening(task);
      task.launchedAt = Date.now();
      return {
        privateIp: task.privateIp,
        publicIp: task.publicIp,
        exited,
        stop: () => this.stopTask(task),
      };
    } catch (error) {
      if (stateDir) rmSync(stateDir, { recursive: true, force: true });
      await this.deleteNetwork(namespace, hostVeth);
      throw error;
    }
  }

  /** Tasks launched and not yet stopped. */
  hosts(): TaskHostInfo[] {
    return [...this.live.values()];
  }

  /** Every task launched by this host, stopped or not. */
  history(): TaskHostInfo[] {
    return [...this.all];
  }

  /** Task host of a task id (live or stopped). */
  host(taskId: string): TaskHostInfo | undefined {
    return this.all.find((task) => task.taskId === taskId);
  }

  /** Network namespaces this host created that still exist on the machine. */
  leftoverNamespaces(): string[] {
    const mine = new Set(this.all.map((task) => task.namespace));
    return listTaskNamespaces().filter((name) => mine.has(name));
  }

  /** Resolves with the time sshd started listening in the task; rejects if the task ends first. */
  async waitForListening(taskId: string, timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = this.all.find((candidate) => candidate.taskId === taskId);
      if (task?.listeningAt) return task.listeningAt;
      if (task?.done) throw new Error(`task ${taskId} ended before sshd listened; log:\n${task.log()}`);
      if (Date.now() > deadline) throw new Error(`sshd of task ${taskId} did not listen within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stops every live task (idempotent). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.live.values()].map((task) => this.stopTask(task)));
  }

  private track(task: LiveTask): void {
    if (this.live.size === 0) {
      process.on("exit", this.onExit);
      process.on("SIGINT", this.onSignal);
      process.on("SIGTERM", this.onSignal);
    }
    this.live.set(task.taskId, task);
    this.all.push(task);
  }

  private untrack(task: LiveTask): void {
    this.live.delete(task.taskId);
    if (this.live.size === 0) {
      process.off("exit", this.onExit);
      process.off("SIGINT", this.onSignal);
      process.off("SIGTERM", this.onSignal);
    }
  }

  private watchListening(task: LiveTask): void {
    const poll = () => {
      if (task.done || task.stopping) return;
      if (listensOnSsh(task.pid)) {
        task.listeningAt = Date.now();
        return;
      }
      setTimeout(poll, 5).unref();
    };
    poll();
  }

  private async createNetwork(): Promise<{
    namespace: string;
    hostVeth: string;
    addresses: ReturnType<typeof blockAddresses>;
  }> {
    for (let attempt = 0; attempt < 64; attempt++) {
      const index = this.nextBlock;
      this.nextBlock = (this.nextBlock + 1) % BLOCKS;
      const namespace = `${NAMESPACE_PREFIX}${index}`;
      const hostVeth = `fgv${index}h`;
      const taskVeth = `fgv${index}t`;
      try {
        await run("ip", ["netns", "add", namespace]);
      } catch (error) {
        if (/exists/i.test(String(error))) continue; // another process owns this block
        throw error;
      }
      const addresses = blockAddresses(index);
      try {
        await run(
          "ip",
          ["-batch", "-"],
          [
            `link add ${hostVeth} type veth peer name ${taskVeth} netns ${namespace}`,
            `addr add ${addresses.host}/30 dev ${hostVeth}`,
            `addr add ${addresses.publicHost}/30 dev ${hostVeth}`,
            `link set ${hostVeth} up`,
            "",
          ].join("\n"),
        );
        await run(
          "ip",
          ["-n", namespace, "-batch", "-"],
          [
            `addr add ${addresses.task}/30 dev ${taskVeth}`,
            `addr add ${addresses.publicTask}/30 dev ${taskVeth}`,
            `link set ${taskVeth} up`,
            "link set lo up",
            "",
          ].join("\n"),
        );
        return { namespace, hostVeth, addresses };
      } catch (error) {
        await this.deleteNetwork(namespace, hostVeth);
        if (/exists/i.test(String(error))) continue;
        throw error;
      }
    }
    throw new Error("no free 10.213.0.0/16 block for a task host after 64 attempts");
  }

  private async deleteNetwork(namespace: string, hostVeth: string): Promise<void> {
    // Deleting the namespace destroys the task end of the veth pair and with it the host end.
    await run("ip", ["netns", "delete", namespace]).catch(() => undefined);
    await run("ip", ["link", "delete", hostVeth]).catch(() => undefined);
  }

  private prepareStateDir(): string {
    const stateDir = mkdtempSync(join(tmpdir(), "fgtask-"));
    const etcSsh = join(stateDir, "etc-ssh");
    mkdirSync(etcSsh, { mode: 0o755 });
    copyFileSync(IMAGE_SSHD_CONFIG, join(etcSsh, "sshd_config"));
    if (existsSync("/etc/ssh/moduli")) copyFileSync("/etc/ssh/moduli", join(etcSsh, "moduli"));
    const neverStarts = join(stateDir, "sshd-never-starts");
    writeFileSync(neverStarts, "#!/bin/sh\nexec sleep infinity\n");
    chmodSync(neverStarts, 0o755);
    chmodSync(stateDir, 0o755);
    return stateDir;
  }

  private stopTask(task: LiveTask): Promise<void> {
    task.stopping ??= (async () => {
      if (!task.done) {
        const closed = new Promise<void>((r) => task.child.once("close", () => r()));
        killTask(task.pid);
        await closed;
      }
      await this.deleteNetwork(task.namespace, task.hostVeth);
      rmSync(task.stateDir, { recursive: true, force: true });
      this.untrack(task);
    })();
    return task.stopping;
  }

  /** Last-resort cleanup when the process exits or is interrupted with tasks still running. */
  private stopAllSync(): void {
    for (const task of this.live.values()) {
      if (!task.done) killTask(task.pid);
      for (const args of [
        ["netns", "delete", task.namespace],
        ["link", "delete", task.hostVeth],
      ]) {
        try {
          execFileSync("ip", args, { stdio: "ignore" });
        } catch {
          // already gone
        }
      }
      rmSync(task.stateDir, { recursive: true, force: true });
    }
    this.live.clear();
  }
}
