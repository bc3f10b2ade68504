/**
 * A stand-in for the task of a job with `image:`, made of Linux namespaces, for the tests of
 * images/ci-coordinator/enter-build-container.sh. One PID namespace plays the task's shared one (`pidMode: "task"`):
 * its init is a plain `sleep`, and every "container" enters it from outside with nsenter, so its first process has
 * parent PID 0 there, as on Fargate. The `build` container is a root directory made by {@link makeImage}, entered by
 * the pause (`/gitlab-fargate-tools/busybox sleep 2147483647`) in a mount namespace of its own, with the tools
 * directory (read-only), the builds directory and a /proc of the shared namespace mounted. The "ci-coordinator" runs
 * enter-build-container as root in the same PID namespace with a /proc of it, limited to the capabilities it is
 * given (Fargate's default set, plus SYS_PTRACE as the driver adds it). Needs root, util-linux and busybox-static.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { missingCommand, missingRoot } from "../support/requirements";

export const IMAGE_DIRECTORY = resolve(__dirname, "../../images/ci-coordinator");
export const ENTER_BUILD_CONTAINER = join(IMAGE_DIRECTORY, "enter-build-container.sh");
export const INSTALL_JOB_TOOLS = join(IMAGE_DIRECTORY, "install-job-tools.sh");
/** Debian's busybox-static, as the ci-coordinator image installs it. */
export const BUSYBOX = "/bin/busybox";
export const TOOLS_DIRECTORY = "/gitlab-fargate-tools";
export const BUILDS_DIRECTORY = "/opt/gitlab-runner/builds";
export const PAUSE_ARGV = [`${TOOLS_DIRECTORY}/busybox`, "sleep", "2147483647"];
/** Fargate's default capabilities (Docker's default set minus NET_RAW), in setpriv's spelling. */
export const FARGATE_DEFAULT_CAPABILITIES = [
  "chown",
  "dac_override",
  "fowner",
  "fsetid",
  "kill",
  "setgid",
  "setuid",
  "setpcap",
  "net_bind_service",
  "sys_chroot",
  "mknod",
  "audit_write",
  "setfcap",
];
/** What ci-coordinator has in the task of a job with `image:`. */
export const COORDINATOR_CAPABILITIES = [...FARGATE_DEFAULT_CAPABILITIES, "sys_ptrace"];

/** The user of the test images, as their /etc/passwd names it. */
export const IMAGE_USER = { uid: 1000, gid: 1000, home: "/home/builder" };

/** Why these tests cannot run here, or undefined when they can. */
export function missingNamespaceSupport(): string | undefined {
  const missing =
    missingRoot("creates PID and mount namespaces") ??
    missingCommand("unshare", "apt-get install util-linux") ??
    missingCommand("nsenter", "apt-get install util-linux") ??
    missingCommand("setpriv", "apt-get install util-linux") ??
    missingCommand(BUSYBOX, "apt-get install busybox-static");
  if (missing) return missing;
  const probe = spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"], { encoding: "utf8" });
  return probe.status === 0 ? undefined : `cannot create PID namespaces here (${probe.stderr.trim() || probe.error})`;
}

export interface ImageOptions {
  /** Whether /bin/sh (a link to busybox) exists. Default true. */
  sh?: boolean;
  /** Where, inside the image, to put a stand-in for bash that exports CHOSEN_SHELL="image bash". Default: none. */
  bash?: string;
  /** /etc/hosts: its content, null for none, or `{ symlinkTo }` for a symbolic link. Default: localhost only. */
  hosts?: string | null | { symlinkTo: string };
}

/** Content of the file /image-marker of every test image. */
export const IMAGE_MARKER = "only in the job's image\n";

/** Makes a job image's root directory under `parent` (a static busybox, a user 1000, a marker file); returns it. */
export function makeImage(parent: string, options: ImageOptions = {}): string {
  const root = mkdtempSync(join(parent, "image-"));
  chmodSync(root, 0o755);
  for (const dir of ["bin", "dev", "etc", "proc", IMAGE_USER.home, TOOLS_DIRECTORY, BUILDS_DIRECTORY]) {
    mkdirSync(join(root, dir), { recursive: true, mode: 0o755 });
  }
  writeFileSync(join(root, "dev/null"), ""); // where the machine's /dev/null is mounted
  copyFileSync(BUSYBOX, join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  if (options.sh ?? true) symlinkSync("busybox", join(root, "bin/sh"));
  if (options.bash) {
    const bash = join(root, options.bash);
    mkdirSync(dirname(bash), { recursive: true, mode: 0o755 });
    writeFileSync(bash, '#!/bin/busybox sh\nexport CHOSEN_SHELL="image bash"\nexec /bin/busybox sh "$@"\n', {
      mode: 0o755,
    });
  }
  writeFileSync(
    join(root, "etc/passwd"),
    `root:x:0:0:root:/root:/bin/sh\nbuilder:x:${IMAGE_USER.uid}:${IMAGE_USER.gid}::${IMAGE_USER.home}:/bin/sh\n`,
  );
  writeFileSync(join(root, "etc/group"), `root:x:0:\nbuilder:x:${IMAGE_USER.gid}:\n`);
  const hosts = options.hosts === undefined ? "127.0.0.1\tlocalhost\n" : options.hosts;
  if (typeof hosts === "string") writeFileSync(join(root, "etc/hosts"), hosts);
  else if (hosts !== null) symlinkSync(hosts.symlinkTo, join(root, "etc/hosts"));
  writeFileSync(join(root, "image-marker"), IMAGE_MARKER);
  chownSync(join(root, IMAGE_USER.home), IMAGE_USER.uid, IMAGE_USER.gid);
  return root;
}

export interface PauseOptions {
  /** The image's root directory ({@link makeImage}). */
  image: string;
  /** The tools directory, as install-job-tools filled it. */
  tools: string;
  /** The builds directory shared with ci-coordinator. */
  builds: string;
  /** The pause's environment, as NAME=value entries (the image's ENV and the task definition's). */
  environment: string[];
  uid?: number;
  gid?: number;
  /** The image's WORKDIR. Default: the user's home. */
  workdir?: string;
  /**
   * Mount the tools volume, as the build container does (default). False: a service container imitating the pause,
   * its image bringing its own copy of busybox at the tools path.
   */
  mountTools?: boolean;
}

/** A pause: its PID on this machine and inside the shared PID namespace. */
export interface Pause {
  hostPid: number;
  pid: number;
}

export interface EnterOptions {
  /** The script, written to stdin (then closed). Default: nothing. */
  stdin?: string;
  /** ci-coordinator's capabilities. Default {@link COORDINATOR_CAPABILITIES}. */
  capabilities?: string[];
  /** ci-coordinator's environment (PATH is added). */
  environment?: Record<string, string>;
}

export interface EnterResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

// Runs in the pause's new mount namespace, inside the shared PID namespace: mounts the task volumes, a /proc and
// /dev/null into the image, then execs the pause there as the image's user with only the given environment.
const START_PAUSE = `
set -eu
image=$1 tools=$2 builds=$3 uid=$4 gid=$5 workdir=$6 mount_tools=$7
shift 7
unshare=$(command -v unshare)
if [ "$mount_tools" = 1 ]; then
  mount --bind "$tools" "$image${TOOLS_DIRECTORY}"
  mount -o remount,bind,ro "$image${TOOLS_DIRECTORY}"
else
  cp "$tools/busybox" "$image${TOOLS_DIRECTORY}/busybox"
fi
mount --bind "$builds" "$image${BUILDS_DIRECTORY}"
mount -t proc proc "$image/proc"
mount --bind /dev/null "$image/dev/null"
exec env -i "$@" "$unshare" --root="$image" --wd="$workdir" --setuid "$uid" --setgid "$gid" ${PAUSE_ARGV.join(" ")}
`;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  return (read(`/proc/${pid}/task/${pid}/children`) ?? "").split(/\s+/).filter(Boolean).map(Number);
}

function pidNamespaceOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((done) => child.once("exit", () => done()));

/** The shared PID namespace of one test task, and every process the test started in it. */
export class SharedPidNamespace {
  private readonly started: ChildProcess[] = [];

  private constructor(
    private readonly init: ChildProcess,
    /** PID on this machine of the namespace's init. */
    readonly initPid: number,
    private readonly namespace: string,
  ) {}

  static async start(): Promise<SharedPidNamespace> {
    // --kill-child: when this unshare dies, its child (the namespace's init) is killed, and with it the namespace.
    const init = spawn("unshare", ["--pid", "--fork", "--mount-proc", "--kill-child", "sleep", "infinity"], {
      stdio: "ignore",
    });
    try {
      const initPid = await waitFor("the PID namespace's init", () => childrenOf(init.pid!)[0]);
      const namespace = await waitFor("the new PID namespace", () => {
        const entered = pidNamespaceOf(initPid);
        return entered !== undefined && entered !== pidNamespaceOf(process.pid) ? entered : undefined;
      });
      return new SharedPidNamespace(init, initPid, namespace);
    } catch (error) {
      init.kill("SIGKILL");
      throw error;
    }
  }

  /** PIDs on this machine of every process in the namespace. */
  processes(): number[] {
    return readdirSync("/proc")
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .filter((pid) => pidNamespaceOf(pid) === this.namespace);
  }

  /** Starts a `build` container's pause and returns once it runs. */
  async startPause(options: PauseOptions): Promise<Pause> {
    const uid = options.uid ?? IMAGE_USER.uid;
    const gid = options.gid ?? IMAGE_USER.gid;
    const args = [options.image, options.tools, options.builds, String(uid), String(gid)];
    args.push(options.workdir ?? IMAGE_USER.home, options.mountTools === false ? "0" : "1", ...options.environment);
    const entered = this.track(
      spawn(
        "nsenter",
        ["--target", String(this.initPid), "--pid", "--mount", "--", "unshare", "--mount", "--"].concat([
          "sh",
          "-c",
          START_PAUSE,
          "sh",
          ...args,
        ]),
        { stdio: ["ignore", "ignore", "pipe"] },
      ),
    );
    let stderr = "";
    entered.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const expected = `${PAUSE_ARGV.join("\0")}\0`;
    const hostPid = await waitFor("the pause", () => {
      if (entered.exitCode !== null) throw new Error(`the pause did not start: ${stderr}`);
      return childrenOf(entered.pid!).find((pid) => read(`/proc/${pid}/cmdline`) === expected);
    });
    const nsPids = /^NSpid:\s+(.*)$/m.exec(read(`/proc/${hostPid}/status`) ?? "")?.[1].split(/\s+/);
    return { hostPid, pid: Number(nsPids?.[nsPids.length - 1]) };
  }

  /** Runs enter-build-container with `args` as root in "ci-coordinator", limited to the given capabilities. */
  enter(args: string[], options: EnterOptions = {}): Promise<EnterResult> {
    const capabilities = ["-all", ...(options.capabilities ?? COORDINATOR_CAPABILITIES).map((name) => `+${name}`)];
    const started = Date.now();
    const child = this.track(
      spawn(
        "nsenter",
        ["--target", String(this.initPid), "--pid", "--mount", "--", "setpriv"].concat(
          ["--bounding-set", capabilities.join(","), "--inh-caps", capabilities.join(",")],
          ["--", "bash", ENTER_BUILD_CONTAINER, ...args],
        ),
        { env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...options.environment } },
      ),
    );
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    // A command that fails before reading its stdin closes it: that is its answer, not the test's error.
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(options.stdin ?? "");
    return new Promise((done, fail) => {
      child.once("error", fail);
      child.once("close", (code, signal) => done({ code, signal, stdout, stderr, elapsedMs: Date.now() - started }));
    });
  }

  /** Kills every process of the namespace and waits until none is left. */
  async stop(): Promise<void> {
    // Killing the init kills every process of the namespace. Its parent (unshare) and the nsenter processes outside
    // the namespace reap theirs, then exit: killing them first would leave zombies to the machine's init. Only what
    // does not exit in time is killed.
    try {
      process.kill(this.initPid, "SIGKILL");
    } catch {
      // already gone
    }
    const stragglers = setTimeout(() => [this.init, ...this.started].forEach((child) => child.kill("SIGKILL")), 5000);
    await Promise.all([this.init, ...this.started].map(exited));
    clearTimeout(stragglers);
    await waitFor("the namespace's processes to end", () => (this.processes().length === 0 ? true : undefined));
  }

  private track(child: ChildProcess): ChildProcess {
    this.started.push(child);
    return child;
  }
}
