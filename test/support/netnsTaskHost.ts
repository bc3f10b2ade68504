/**
 * A "task host" for end-to-end tests: each launched task gets its own network namespace (a veth pair with a
 * private /30) and runs every container of its task definition there, each in its own mount namespace:
 * - the ci-coordinator image (LOCAL_CI_COORDINATOR_IMAGE) is the machine's own filesystem with private /etc/ssh,
 *   /run, /root, /tmp and /opt, plus the files images/ci-coordinator/Dockerfile's final stage copies in, bound at
 *   their image paths; its ENTRYPOINT (tini → the REAL docker-entrypoint.sh → the machine's real /usr/sbin/sshd
 *   with the image's sshd_config) runs unless the container definition says otherwise. The machine's own keys,
 *   sshd and files are never touched.
 * - any other image comes from {@link NetnsTaskHostOptions.images}: a rootfs directory and an OCI-like config; the
 *   container runs chrooted into its own copy of that rootfs, as the image's (or the definition's) user.
 * `pidMode: "task"` puts all containers in one PID namespace, held by a small init the way Fargate's pause
 * container holds it, so every container's entry process has PPid 0 there; otherwise each container has its own
 * (its entry process is PID 1, as today's single-container tasks have it). Task volumes are directories bound at
 * each container's mountPoints (readOnly honoured); dependsOn (START, COMPLETE, SUCCESS) orders the start;
 * capabilities are Fargate's default set with linuxParameters' add and drop. An image the host does not know
 * fails the launch with CannotPullContainerError. Needs root (ip netns, mount).
 */
import { ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CI_COORDINATOR_IMAGE_DIR,
  ContainerImage,
  ContainerSetup,
  ContainerUser,
  DockerfileImage,
  HostTools,
  ciCoordinatorImage,
  containerArgv,
  containerCapabilities,
  containerEnvironment,
  containerSetupScript,
  resolveUser,
} from "./netnsContainers";
import { missingCommand, missingRoot } from "./requirements";
import {
  CannotPullContainerError,
  ContainerStateChange,
  LOCAL_CI_COORDINATOR_IMAGE,
  LaunchContainer,
  LaunchContext,
  LaunchedTask,
  TaskLaunchRequest,
  TaskLauncher,
  containersOf,
  coordinatorOf,
} from "./taskLauncher";

export type { ContainerImage } from "./netnsContainers";

/** The job image's entrypoint and sshd configuration, used unmodified. */
export const IMAGE_ENTRYPOINT = join(CI_COORDINATOR_IMAGE_DIR, "docker-entrypoint.sh");
export const IMAGE_SSHD_CONFIG = join(CI_COORDINATOR_IMAGE_DIR, "sshd_config");

/** Prefix of every network namespace this module creates (`ip netns list | grep fgtask-`). */
export const NAMESPACE_PREFIX = "fgtask-";
/** Prefix of every task's state directory under the OS temporary directory. */
export const STATE_DIR_PREFIX = "fgtask-";
/** Number of /30 blocks in 10.213.0.0/16 (private addresses) and 10.214.0.0/16 ("public" addresses). */
const BLOCKS = 16384;
const LOG_LIMIT = 64 * 1024;
/** The names the shared PID namespace's init and its idle child show in `ps` (comm). */
const TASK_INIT = "task-init";
const TASK_PAUSE = "task-pause";

/** Fault knobs, mutable at any time; they apply to tasks launched afterwards. */
export interface TaskHostFaults {
  /** The container starts and stays up, but sshd never listens (its binary is replaced by `sleep infinity`). */
  sshdNeverStarts?: boolean;
}

export interface NetnsTaskHostOptions {
  faults?: TaskHostFaults;
  /** Images by name (what container definitions say in `image`), besides the ci-coordinator image. */
  images?: Record<string, ContainerImage>;
}

/** One container of a task, for assertions. */
export interface TaskHostContainer {
  name: string;
  image: string;
  /** "pending" until it starts; "skipped" when a dependency was not met (it never ran). */
  status: "pending" | "running" | "stopped" | "skipped";
  /** Exit code once stopped (128 + signal when killed). */
  exitCode?: number;
  /** PID (in the machine's PID namespace) of its entry process while it runs. */
  pid(): number | undefined;
  /** stdout+stderr of the container (setup and entry process), truncated to 64 KiB. */
  log(): string;
}

/** What the task host knows about one launched task (for assertions and benchmarks). */
export interface TaskHostInfo {
  taskId: string;
  namespace: string;
  privateIp: string;
  publicIp: string;
  /** Hostname inside the task, derived from its address like Fargate's `ip-10-0-1-2`. */
  hostname: string;
  /**
   * PID (in the machine's PID namespace) of a process in the task's network namespace: the holder of the shared
   * PID namespace (pidMode task), else the first container's.
   */
  pid: number;
  /** The task's files (volumes, container roots); deleted when the task stops. */
  stateDir: string;
  /** Date.now() when launch() resolved, i.e. when the emulator may report RUNNING. */
  launchedAt: number;
  /** Date.now() when sshd was first seen listening on port 22 inside the task, if it has been. */
  listeningAt?: number;
  /** Log of the coordinator container (entrypoint and sshd), truncated to 64 KiB. */
  log(): string;
  containers(): TaskHostContainer[];
}

interface LiveContainer extends TaskHostContainer {
  spec: LaunchContainer;
  child?: ChildProcess;
  logText: string;
  /** Resolves when it started (its entry process is about to run); rejects when it never will. */
  started: Promise<void>;
  /** Resolves with its exit code (128 + signal when killed) once it ended, or null when it never ran. */
  ended: Promise<number | null>;
  markStarted(): void;
  markNeverStarted(reason: Error): void;
  markEnded(code: number | null): void;
}

interface LiveTask extends TaskHostInfo {
  hostVeth: string;
  coordinator: string;
  live: LiveContainer[];
  holder?: ChildProcess;
  /** PID of the shared PID namespace's init (pidMode task). */
  initPid?: number;
  abort: AbortController;
  stopping?: Promise<void>;
  done: boolean;
}

/** Why the task host cannot run here, or undefined when it can. */
export function taskHostUnsupportedReason(): string | undefined {
  return (
    missingRoot("network and mount namespaces") ??
    missingCommand("/usr/sbin/sshd", "apt-get install openssh-server") ??
    missingCommand("/usr/bin/ssh-keygen", "apt-get install openssh-client") ??
    ["ip", "unshare", "nsenter", "setpriv", "tini"]
      .map((tool) => missingCommand(tool, "apt-get install iproute2 util-linux tini"))
      .find((missing) => missing !== undefined)
  );
}

/**
 * Why tasks with a job's image cannot run here (the ci-coordinator image's tools container copies the machine's
 * static busybox, as the image installs Debian's busybox-static), or undefined when they can.
 */
export function imageTaskHostUnsupportedReason(): string | undefined {
  return taskHostUnsupportedReason() ?? missingCommand("/bin/busybox", "apt-get install busybox-static");
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

/** First child of a process (the PID 1 that `unshare --fork` started), if it has one yet. */
function firstChild(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ")[0]) || undefined;
  } catch {
    return undefined;
  }
}

function kill(pid: number | undefined): boolean {
  try {
    if (pid && pid > 0) {
      process.kill(pid, "SIGKILL");
      return true;
    }
  } catch {
    // gone already
  }
  return false;
}

/**
 * Kills a PID namespace started by `unshare --pid --fork --kill-child` (pid of unshare): SIGKILL to its PID 1,
 * which takes every process of the namespace with it; if PID 1 is not there yet, SIGKILL to `unshare` itself.
 */
function killNamespace(unsharePid: number | undefined): void {
  if (!unsharePid) return;
  if (!kill(firstChild(unsharePid))) kill(unsharePid);
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number | null {
  if (code !== null) return code;
  if (!signal) return null;
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 };
  return 128 + (numbers[signal] ?? 0);
}

function which(tool: string): string {
  for (const dir of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  }
  return tool;
}

/** Deletes a task's state directory without ever crossing into a mount (a bind of the machine's files). */
function removeStateDir(dir: string): void {
  try {
    execFileSync("rm", ["-rf", "--one-file-system", dir], { stdio: "ignore" });
  } catch {
    // something is still mounted below it (it stays): never force through a mount
  }
}

/** TaskLauncher backed by network namespaces, the real job image entrypoint + sshd, and rootfs images. */
export class NetnsTaskHost implements TaskLauncher {
  readonly faults: TaskHostFaults;
  /** Images by name; mutable (tests may add images at any time). */
  readonly images: Map<string, ContainerImage>;
  private readonly live = new Map<string, LiveTask>();
  private readonly all: LiveTask[] = [];
  private nextBlock = Math.floor(Math.random() * BLOCKS);
  private tools?: HostTools;
  private readonly onExit = () => this.stopAllSync();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.stopAllSync();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };

  constructor(options: NetnsTaskHostOptions = {}) {
    this.faults = options.faults ?? {};
    this.images = new Map(Object.entries(options.images ?? {}));
  }

  async launch(request: TaskLaunchRequest, context?: LaunchContext): Promise<LaunchedTask> {
    const specs = containersOf(request);
    const ciImage = ciCoordinatorImage();
    // Fargate pulls every image before starting any container.
    for (const spec of specs) {
      if (spec.image !== LOCAL_CI_COORDINATOR_IMAGE && !this.images.has(spec.image)) {
        throw new CannotPullContainerError(spec.name, spec.image);
      }
    }
    for (const spec of specs) {
      for (const dependency of spec.dependsOn) {
        if (dependency.condition === "HEALTHY") {
          throw new Error(`container ${spec.name}: dependsOn condition HEALTHY is not supported by this task host`);
        }
      }
    }
    this.tools ??= { env: which("env"), setpriv: which("setpriv"), nsenter: which("nsenter") };
    const report = context?.report ?? (() => undefined);
    const { namespace, hostVeth, addresses } = await this.createNetwork();
    context?.attached?.({ privateIp: addresses.task, publicIp: addresses.publicTask });
    const hostname = `ip-${addresses.task.replace(/\./g, "-")}`;
    let stateDir: string;
    try {
      stateDir = mkdtempSync(join(tmpdir(), STATE_DIR_PREFIX));
      chmodSync(stateDir, 0o755);
    } catch (error) {
      await this.deleteNetwork(namespace, hostVeth);
      throw error;
    }
    const task: LiveTask = {
      taskId: request.taskId,
      namespace,
      privateIp: addresses.task,
      publicIp: addresses.publicTask,
      hostname,
      pid: -1,
      stateDir,
      launchedAt: 0,
      log: () => task.live.find((c) => c.name === task.coordinator)?.log() ?? "",
      containers: () =>
        task.live.map((c) => ({
          name: c.name,
          image: c.image,
          status: c.status,
          exitCode: c.exitCode,
          pid: c.pid,
          log: c.log,
        })),
      hostVeth,
      coordinator: coordinatorOf(request),
      live: specs.map((spec) => liveContainer(spec)),
      abort: new AbortController(),
      done: false,
    };
    context?.signal.addEventListener("abort", () => task.abort.abort(), { once: true });
    this.track(task);
    let coordinatorExit: (result: { exitCode: number | null; reason: string; container?: string }) => void = () =>
      undefined;
    const exited = new Promise<{ exitCode: number | null; reason: string; container?: string }>((resolve) => {
      coordinatorExit = resolve;
    });
    try {
      this.prepareStateDir(task, request);
      if (request.pidMode === "task") await this.startHolder(task);
      // Containers start as their dependencies allow; an essential container that cannot start fails the task.
      const starts = task.live.map(async (container) => {
        const unmet = await this.dependenciesMet(task, container);
        if (unmet) {
          container.markNeverStarted(new Error(unmet));
          report({ name: container.name, lastStatus: "STOPPED", exitCode: null, reason: unmet });
          if (container.spec.essential) throw new Error(unmet);
          return;
        }
        if (task.abort.signal.aborted) {
          container.markNeverStarted(new Error("the task stopped"));
          return;
        }
        this.startContainer(task, container, request, ciImage, (change) => {
          if (change.lastStatus === "STOPPED" && container.name === task.coordinator) task.done = true;
          if (change.lastStatus !== "STOPPED" || !container.spec.essential) return report(change);
          // An essential container ended: the task ends with it, saying why (its last line of output).
          const how = typeof change.exitCode === "number" ? `exit code ${change.exitCode}` : "it never ran";
          const lastLine = container.log().trim().split("\n").pop() ?? "";
          const reason =
            change.reason ?? `Essential container in task exited (${how})${lastLine ? `: ${lastLine}` : ""}`;
          report(task.abort.signal.aborted ? change : { ...change, reason });
          coordinatorExit({ exitCode: container.child?.exitCode ?? null, reason, container: container.name });
        });
        await container.started;
        report({ name: container.name, lastStatus: "RUNNING" });
      });
      const aborted = new Promise<never>((_, reject) => {
        const fail = () => reject(new Error("the task was stopped while its containers were starting"));
        if (task.abort.signal.aborted) fail();
        task.abort.signal.addEventListener("abort", fail, { once: true });
      });
      await Promise.race([Promise.all(starts), aborted]);
      task.pid = task.holder?.pid ?? task.live.find((c) => c.child?.pid)?.child?.pid ?? -1;
      this.watchListening(task);
      task.launchedAt = Date.now();
      return { privateIp: task.privateIp, publicIp: task.publicIp, exited, stop: () => this.stopTask(task) };
    } catch (error) {
      await this.stopTask(task);
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

  /** State directories of this host's tasks that still exist on the machine. */
  leftoverStateDirs(): string[] {
    return this.all.map((task) => task.stateDir).filter((dir) => existsSync(dir));
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
      if (task.pid > 0 && listensOnSsh(task.pid)) {
        task.listeningAt = Date.now();
        return;
      }
      setTimeout(poll, 5).unref();
    };
    poll();
  }

  /** Per-task files: /etc/ssh of ci-coordinator containers, the fault stand-ins, volumes, container dirs. */
  private prepareStateDir(task: LiveTask, request: TaskLaunchRequest): void {
    const etcSsh = join(task.stateDir, "etc-ssh");
    mkdirSync(etcSsh, { mode: 0o755 });
    copyFileSync(IMAGE_SSHD_CONFIG, join(etcSsh, "sshd_config"));
    if (existsSync("/etc/ssh/moduli")) copyFileSync("/etc/ssh/moduli", join(etcSsh, "moduli"));
    const neverStarts = join(task.stateDir, "sshd-never-starts");
    writeFileSync(neverStarts, "#!/bin/sh\nexec sleep infinity\n");
    chmodSync(neverStarts, 0o755);
    mkdirSync(join(task.stateDir, "volumes"), { mode: 0o755 });
    for (const volume of request.volumes ?? []) mkdirSync(join(task.stateDir, "volumes", volume.name), { mode: 0o755 });
    mkdirSync(join(task.stateDir, "containers"), { mode: 0o755 });
  }

  /**
   * The shared PID namespace (pidMode task) and the task's UTS namespace, held by a small init (tini, shown as
   * `task-init`) whose idle child shows as `task-pause`: the role Fargate's pause container plays.
   */
  private async startHolder(task: LiveTask): Promise<void> {
    const init = join(task.stateDir, TASK_INIT);
    const pause = join(task.stateDir, TASK_PAUSE);
    symlinkSync(which("tini"), init);
    symlinkSync(which("sleep"), pause);
    const holder = spawn(
      "nsenter",
      [
        `--net=/run/netns/${task.namespace}`,
        "--",
        "unshare",
        "--uts",
        "--pid",
        "--fork",
        "--kill-child",
        "--",
        "/bin/sh",
        "-c",
        'hostname "$1" && exec "$2" -- "$3" infinity',
        "task-holder",
        task.hostname,
        init,
        pause,
      ],
      { stdio: "ignore", detached: true },
    );
    task.holder = holder;
    const closed = new Promise<void>((resolve) => holder.once("close", () => resolve()));
    holder.once("error", () => undefined);
    for (let i = 0; i < 2000; i++) {
      const pid = holder.pid ? firstChild(holder.pid) : undefined;
      let comm = "";
      try {
        comm = pid ? readFileSync(`/proc/${pid}/comm`, "utf8").trim() : "";
      } catch {
        comm = "";
      }
      if (pid && comm === TASK_INIT) {
        task.initPid = pid;
        return;
      }
      if (holder.exitCode !== null || holder.signalCode !== null) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.race([closed, new Promise((r) => setTimeout(r, 100))]);
    throw new Error("the task's PID namespace holder did not start");
  }

  /** Waits for a container's dependencies; returns why they cannot be met, or undefined once they are. */
  private async dependenciesMet(task: LiveTask, container: LiveContainer): Promise<string | undefined> {
    for (const dependency of container.spec.dependsOn) {
      const target = task.live.find((c) => c.name === dependency.containerName);
      if (!target) return `dependency on unknown container ${dependency.containerName}`;
      const describe = `dependency of ${container.name} on ${target.name} (${dependency.condition})`;
      if (dependency.condition === "START") {
        const ok = await target.started.then(
          () => true,
          () => false,
        );
        if (!ok) return `${describe} cannot be met: ${target.name} never started`;
        continue;
      }
      const code = await target.ended;
      if (code === null) return `${describe} cannot be met: ${target.name} never ran`;
      if (dependency.condition === "SUCCESS" && code !== 0) {
        return `${describe} was not met: ${target.name} exited with code ${code}`;
      }
    }
    return undefined;
  }

  /** Resolves the container's image, user, environment and argv, and spawns its setup in the task's namespaces. */
  private startContainer(
    task: LiveTask,
    container: LiveContainer,
    request: TaskLaunchRequest,
    ciImage: DockerfileImage,
    onChange: (change: ContainerStateChange) => void,
  ): void {
    const spec = container.spec;
    const dir = join(task.stateDir, "containers", spec.name);
    mkdirSync(dir, { mode: 0o755 });
    const shared = request.pidMode === "task";
    let setup: ContainerSetup;
    try {
      setup = this.containerSetup(task, spec, dir, ciImage, !shared);
    } catch (error) {
      const reason = `CannotStartContainerError: ${(error as Error).message}`;
      container.logText += `${reason}\n`;
      container.markNeverStarted(new Error(reason));
      onChange({ name: spec.name, lastStatus: "STOPPED", exitCode: null, reason });
      return;
    }
    const script = containerSetupScript(setup);
    const args = shared
      ? [
          `--net=/run/netns/${task.namespace}`,
          `--uts=/proc/${task.initPid}/ns/uts`,
          `--pid=/proc/${task.initPid}/ns/pid`,
          "--",
          "unshare",
          "--mount",
          "--propagation",
          "private",
          "--",
        ]
      : [
          `--net=/run/netns/${task.namespace}`,
          "--",
          "unshare",
          "--mount",
          "--uts",
          "--pid",
          "--fork",
          "--kill-child",
          "--propagation",
          "private",
          "--",
        ];
    const child = spawn("nsenter", [...args, "bash", "-c", script, `setup-${spec.name}`], {
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    container.child = child;
    const append = (chunk: Buffer) => {
      if (container.logText.length < LOG_LIMIT) container.logText += chunk.toString("utf8");
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    const marker = join(dir, "started");
    let ended = false;
    const poll = () => {
      if (ended) return;
      if (existsSync(marker)) container.markStarted();
      else setTimeout(poll, 5).unref();
    };
    poll();
    const finish = (code: number | null, reason?: string) => {
      if (ended) return;
      ended = true;
      if (existsSync(marker)) container.markStarted();
      else container.markNeverStarted(new Error(reason ?? `container ${spec.name} could not start`));
      container.markEnded(code);
      onChange({ name: spec.name, lastStatus: "STOPPED", exitCode: code, reason });
    };
    child.on("error", (error) => finish(null, `container could not start: ${error.message}`));
    child.on("close", (code, signal) => finish(exitCodeOf(code, signal)));
  }

  private containerSetup(
    task: LiveTask,
    spec: LaunchContainer,
    dir: string,
    ciImage: DockerfileImage,
    ownUts: boolean,
  ): ContainerSetup {
    const volumes = spec.mountPoints.map((mount) => ({
      source: join(task.stateDir, "volumes", mount.sourceVolume),
      containerPath: mount.containerPath,
      readOnly: mount.readOnly,
    }));
    for (const volume of volumes) {
      if (!existsSync(volume.source))
        throw new Error(`mount point ${volume.containerPath}: no volume ${volume.source}`);
    }
    const common = {
      stateDir: dir,
      hostname: ownUts ? task.hostname : undefined,
      volumes,
      capabilities: containerCapabilities(spec.capabilities),
      tools: this.tools as HostTools,
    };
    if (spec.image === LOCAL_CI_COORDINATOR_IMAGE) {
      const root = join(dir, "root");
      mkdirSync(root, { mode: 0o755 });
      const user = resolveUser(spec.user ?? ciImage.user, "/");
      const files = ciImage.files.map((file) => ({
        source: this.imageFileSource(dir, file),
        destination: file.destination,
      }));
      if (this.faults.sshdNeverStarts) {
        files.push({ source: join(task.stateDir, "sshd-never-starts"), destination: "/usr/sbin/sshd" });
      }
      return {
        ...common,
        kind: "host-root",
        root,
        files,
        etcSsh: join(task.stateDir, "etc-ssh"),
        workingDir: spec.workingDirectory ?? ciImage.workingDir ?? "/",
        user,
        environment: containerEnvironment(ciImage, spec, task.hostname, user),
        argv: nonEmptyArgv(containerArgv(ciImage, spec), spec.name),
      };
    }
    const image = this.images.get(spec.image) as ContainerImage;
    const root = join(dir, "rootfs");
    execFileSync("cp", ["-a", `${image.rootfs}/.`, root], { stdio: "ignore" });
    mkdirSync(join(root, "etc"), { recursive: true, mode: 0o755 });
    writeFileSync(
      join(root, "etc/hosts"),
      `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${task.privateIp}\t${task.hostname}\n`,
    );
    writeFileSync(join(root, "etc/hostname"), `${task.hostname}\n`);
    if (existsSync("/etc/resolv.conf")) copyFileSync("/etc/resolv.conf", join(root, "etc/resolv.conf"));
    const user: ContainerUser = resolveUser(spec.user ?? image.user, root);
    return {
      ...common,
      kind: "rootfs",
      root,
      files: [],
      workingDir: spec.workingDirectory ?? image.workingDir ?? "/",
      user,
      environment: containerEnvironment(image, spec, task.hostname, user),
      argv: nonEmptyArgv(containerArgv(image, spec), spec.name),
    };
  }

  /** The file to bind for an image file: the build context's own, or a copy with the Dockerfile's mode. */
  private imageFileSource(dir: string, file: { source: string; destination: string; mode?: number }): string {
    if (file.mode === undefined || (statSync(file.source).mode & 0o7777) === file.mode) return file.source;
    const copies = join(dir, "image-files");
    mkdirSync(copies, { recursive: true, mode: 0o755 });
    const copy = join(copies, file.destination.replace(/\//g, "_"));
    copyFileSync(file.source, copy);
    chmodSync(copy, file.mode);
    return copy;
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

  /** Kills every process of the task: the shared PID namespace's init, or each container's PID 1. */
  private killAll(task: LiveTask): void {
    if (task.initPid) kill(task.initPid);
    for (const container of task.live) {
      const pid = container.child?.pid;
      if (!pid || container.child?.exitCode !== null || container.child?.signalCode !== null) continue;
      if (task.initPid) kill(pid);
      else killNamespace(pid);
    }
    killNamespace(task.holder?.pid);
  }

  private stopTask(task: LiveTask): Promise<void> {
    task.abort.abort();
    task.stopping ??= (async () => {
      const children = [task.holder, ...task.live.map((c) => c.child)].filter(
        (child): child is ChildProcess => child !== undefined,
      );
      const closed = children.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((r) => child.once("close", () => r())),
      );
      this.killAll(task);
      await Promise.all(closed);
      for (const container of task.live) container.markNeverStarted(new Error("the task stopped"));
      task.done = true;
      await this.deleteNetwork(task.namespace, task.hostVeth);
      removeStateDir(task.stateDir);
      this.untrack(task);
    })();
    return task.stopping;
  }

  /** Last-resort cleanup when the process exits or is interrupted with tasks still running. */
  private stopAllSync(): void {
    for (const task of this.live.values()) {
      this.killAll(task);
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
      removeStateDir(task.stateDir);
    }
    this.live.clear();
  }
}

function nonEmptyArgv(argv: string[], name: string): string[] {
  if (argv.length === 0) throw new Error(`container ${name}: no command specified (no entrypoint and no command)`);
  return argv;
}

function liveContainer(spec: LaunchContainer): LiveContainer {
  let resolveStarted: () => void = () => undefined;
  let rejectStarted: (error: Error) => void = () => undefined;
  let resolveEnded: (code: number | null) => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  started.catch(() => undefined);
  const ended = new Promise<number | null>((resolve) => (resolveEnded = resolve));
  const container: LiveContainer = {
    name: spec.name,
    image: spec.image,
    status: "pending",
    spec,
    logText: "",
    log: () => container.logText,
    // The process nsenter forked into the shared PID namespace, or PID 1 of the container's own.
    pid: () => (container.status === "running" && container.child?.pid ? firstChild(container.child.pid) : undefined),
    started,
    ended,
    markStarted: () => {
      if (container.status === "pending") container.status = "running";
      resolveStarted();
    },
    markNeverStarted: (reason) => {
      if (container.status === "pending") {
        container.status = "skipped";
        resolveEnded(null);
      }
      rejectStarted(reason);
    },
    markEnded: (code) => {
      container.status = container.status === "skipped" ? "skipped" : "stopped";
      if (code !== null) container.exitCode = code;
      resolveEnded(code);
    },
  };
  return container;
}
