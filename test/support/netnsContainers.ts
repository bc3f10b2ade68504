/**
 * How the network-namespace task host turns one of a task's containers into processes, as Docker/containerd would
 * on Fargate: the image's configuration (the ci-coordinator image read from its Dockerfile, other images from
 * rootfs directories a test provides), the container's user, environment, argv, Linux capabilities, and the shell
 * script that builds its mount namespace and execs its entry process. No process is started here.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync, lstatSync, readlinkSync } from "node:fs";
import { basename, dirname, join, posix, resolve } from "node:path";
import { LaunchContainer } from "./taskLauncher";

/** The ci-coordinator image's build context: its Dockerfile is the one source of truth for its files. */
export const CI_COORDINATOR_IMAGE_DIR = resolve(__dirname, "../../images/ci-coordinator");

/** What an OCI image configuration holds that matters here; `rootfs` is a directory with the image's files. */
export interface ContainerImage {
  /** Directory holding the image's root filesystem. Never modified: each container runs on its own copy. */
  rootfs: string;
  /** The image's USER: "uid", "uid:gid", or names from the image's /etc/passwd and /etc/group; default root. */
  user?: string;
  /** The image's ENV, in order (PATH defaults to Docker's when absent). */
  env?: Record<string, string>;
  /** The image's WORKDIR; default "/". */
  workingDir?: string;
  entrypoint?: string[];
  cmd?: string[];
}

/** Docker's PATH for an image that sets none (also Debian's, the ci-coordinator image's base). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Fargate's default capability set (Docker's default minus NET_RAW), which a container definition's
 * linuxParameters.capabilities drop from and add to.
 */
export const FARGATE_DEFAULT_CAPABILITIES = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "SYS_CHROOT",
  "MKNOD",
  "AUDIT_WRITE",
  "SETFCAP",
] as const;

/** Every capability name ECS accepts (KernelCapabilities), for "ALL". */
const ALL_CAPABILITIES = [
  "AUDIT_CONTROL",
  "AUDIT_WRITE",
  "BLOCK_SUSPEND",
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "IPC_LOCK",
  "IPC_OWNER",
  "KILL",
  "LEASE",
  "LINUX_IMMUTABLE",
  "MAC_ADMIN",
  "MAC_OVERRIDE",
  "MKNOD",
  "NET_ADMIN",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_RAW",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_CHROOT",
  "SYS_MODULE",
  "SYS_NICE",
  "SYS_PACCT",
  "SYS_PTRACE",
  "SYS_RAWIO",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "SYSLOG",
  "WAKE_ALARM",
];

/** The container's capabilities: the default set, minus `drop` (ALL: all of them), plus `add` (ALL: every one). */
export function containerCapabilities(capabilities: { add: string[]; drop: string[] }): string[] {
  const upper = (names: string[]) => names.map((name) => name.toUpperCase().replace(/^CAP_/, ""));
  const drop = upper(capabilities.drop);
  const add = upper(capabilities.add);
  let set = new Set<string>(drop.includes("ALL") ? [] : FARGATE_DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c)));
  if (add.includes("ALL")) set = new Set(ALL_CAPABILITIES.filter((c) => !drop.includes(c) || add.includes(c)));
  for (const name of add) if (name !== "ALL") set.add(name);
  return [...set].sort();
}

// ---- the ci-coordinator image, from its Dockerfile ------------------------------------------------------------

/** A file of the build context the image's final stage copies in. */
export interface ImageFile {
  /** Absolute path in the build context. */
  source: string;
  /** Absolute path in the image. */
  destination: string;
  /** Mode set by COPY --chmod or a `RUN chmod` of the final stage, if any (else the source's). */
  mode?: number;
}

export interface DockerfileImage {
  files: ImageFile[];
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  workingDir?: string;
  env: Record<string, string>;
}

/** The Dockerfile's instructions: comments dropped, continuation lines joined. */
function instructions(text: string): { keyword: string; args: string }[] {
  const result: { keyword: string; args: string }[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (pending === "" && /^\s*#/.test(line)) continue;
    if (pending !== "" && /^\s*#/.test(line)) continue; // comment lines inside a continuation are dropped too
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = "";
    if (whole === "") continue;
    const match = /^(\S+)\s*(.*)$/s.exec(whole);
    if (match) result.push({ keyword: match[1].toUpperCase(), args: match[2] });
  }
  return result;
}

/** Exec form (JSON array) or shell form (run by /bin/sh -c), as Docker reads ENTRYPOINT and CMD. */
function commandForm(args: string): string[] {
  const trimmed = args.trim();
  if (trimmed.startsWith("[")) {
    try {
      const parsed = JSON.parse(trimmed) as unknown;
      if (Array.isArray(parsed) && parsed.every((item) => typeof item === "string")) return parsed as string[];
    } catch {
      // not JSON: shell form
    }
  }
  return ["/bin/sh", "-c", trimmed];
}

/** COPY's flags and paths (shell words or a JSON array). */
function copyArguments(args: string): { flags: Record<string, string>; paths: string[] } {
  const flags: Record<string, string> = {};
  let rest = args.trim();
  for (;;) {
    const flag = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!flag) break;
    flags[flag[1]] = flag[2] ?? "true";
    rest = rest.slice(flag[0].length);
  }
  if (rest.startsWith("[")) return { flags, paths: JSON.parse(rest) as string[] };
  return { flags, paths: rest.split(/\s+/).filter(Boolean) };
}

/** Modes that `RUN chmod <octal> <absolute paths>` (possibly among other commands) sets. */
function chmodsOf(run: string): Map<string, number> {
  const modes = new Map<string, number>();
  for (const match of run.matchAll(/\bchmod\s+([0-7]{3,4})\s+((?:\/[^\s;&|]+\s*)+)/g)) {
    for (const path of match[2].trim().split(/\s+/)) modes.set(path, parseInt(match[1], 8));
  }
  return modes;
}

/**
 * The final stage of a Dockerfile: the build-context files it copies in (not `COPY --from` another stage), with
 * their destinations and modes, and its ENTRYPOINT, CMD, USER, WORKDIR and ENV.
 */
export function parseDockerfile(text: string, context: string): DockerfileImage {
  const all = instructions(text);
  const lastFrom = all.map((i) => i.keyword).lastIndexOf("FROM");
  const stage = all.slice(lastFrom + 1);
  const image: DockerfileImage = { files: [], env: {} };
  const modes = new Map<string, number>();
  let workdir = "/";
  for (const { keyword, args } of stage) {
    switch (keyword) {
      case "COPY":
      case "ADD": {
        const { flags, paths } = copyArguments(args);
        if (flags.from !== undefined || paths.length < 2) break;
        const destination = paths[paths.length - 1];
        const sources = paths.slice(0, -1);
        const absolute = destination.startsWith("/") ? destination : posix.join(workdir, destination);
        const intoDirectory = destination.endsWith("/") || sources.length > 1;
        for (const source of sources) {
          image.files.push({
            source: join(context, source),
            destination: intoDirectory ? posix.join(absolute, basename(source)) : absolute,
            mode: flags.chmod !== undefined ? parseInt(flags.chmod, 8) : undefined,
          });
        }
        break;
      }
      case "RUN":
        for (const [path, mode] of chmodsOf(args)) modes.set(path, mode);
        break;
      case "ENTRYPOINT":
        image.entrypoint = commandForm(args);
        image.cmd = undefined; // Docker resets CMD when ENTRYPOINT is set
        break;
      case "CMD":
        image.cmd = commandForm(args);
        break;
      case "USER":
        image.user = args.trim();
        break;
      case "WORKDIR":
        workdir = posix.resolve(workdir, args.trim());
        image.workingDir = workdir;
        break;
      case "ENV": {
        const pairs = [...args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)];
        if (pairs.length > 0) {
          for (const [, key, value] of pairs) image.env[key] = value.startsWith('"') ? JSON.parse(value) : value;
        } else {
          const [key, ...value] = args.trim().split(/\s+/);
          image.env[key] = value.join(" ");
        }
        break;
      }
      default:
        break;
    }
  }
  for (const file of image.files) file.mode ??= modes.get(file.destination);
  return image;
}

/** The ci-coordinator image as images/ci-coordinator/Dockerfile builds it (read on every call: it may change). */
export function ciCoordinatorImage(): DockerfileImage {
  return parseDockerfile(readFileSync(join(CI_COORDINATOR_IMAGE_DIR, "Dockerfile"), "utf8"), CI_COORDINATOR_IMAGE_DIR);
}

// ---- users, environment, argv ---------------------------------------------------------------------------------

/** A resolved user: what the entry process runs as. */
export interface ContainerUser {
  uid: number;
  gid: number;
  home: string;
}

function passwdEntries(root: string, file: "passwd" | "group"): string[][] {
  try {
    return readFileSync(join(root, "etc", file), "utf8")
      .split("\n")
      .filter((line) => line && !line.startsWith("#"))
      .map((line) => line.split(":"));
  } catch {
    return [];
  }
}

/**
 * A user spec ("name", "uid", "name:group", "uid:gid") against the image's /etc/passwd and /etc/group under
 * `root`, as Docker resolves it. Throws for a name the image does not know.
 */
export function resolveUser(spec: string | undefined, root: string): ContainerUser {
  const [userPart, groupPart] = (spec && spec !== "" ? spec : "0").split(":");
  const passwd = passwdEntries(root, "passwd");
  const entry = /^\d+$/.test(userPart)
    ? passwd.find((fields) => fields[2] === userPart)
    : passwd.find((fields) => fields[0] === userPart);
  if (!entry && !/^\d+$/.test(userPart))
    throw new Error(`unable to find user ${userPart}: no matching entries in passwd file`);
  const uid = Number(entry?.[2] ?? userPart);
  let gid = Number(entry?.[3] ?? 0);
  if (groupPart !== undefined && groupPart !== "") {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const group = passwdEntries(root, "group").find((fields) => fields[0] === groupPart);
      if (!group) throw new Error(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(group[2]);
    }
  }
  return { uid, gid, home: entry?.[5] || "/" };
}

/** The entry process's environment: PATH and HOSTNAME, the image's ENV, the container's, and HOME if unset. */
export function containerEnvironment(
  image: { env?: Record<string, string> },
  container: LaunchContainer,
  hostname: string,
  user: ContainerUser,
): Record<string, string> {
  const environment: Record<string, string> = {
    PATH: DEFAULT_PATH,
    HOSTNAME: hostname,
    ...(image.env ?? {}),
    ...container.environment,
  };
  environment.HOME ??= user.home;
  return environment;
}

/**
 * The entry process's argv, as Docker merges it: an entryPoint of the container definition replaces the image's
 * ENTRYPOINT and CMD (the container's command alone follows it); otherwise the image's ENTRYPOINT with the
 * container's command, else the image's CMD.
 */
export function containerArgv(image: { entrypoint?: string[]; cmd?: string[] }, container: LaunchContainer): string[] {
  const command = container.command && container.command.length > 0 ? container.command : undefined;
  if (container.entryPoint && container.entryPoint.length > 0) return [...container.entryPoint, ...(command ?? [])];
  return [...(image.entrypoint ?? []), ...(command ?? image.cmd ?? [])];
}

// ---- the setup script ------------------------------------------------------------------------------------------

/** Shell single-quoting. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Tools the setup script runs, resolved once (the container's PATH must not matter). */
export interface HostTools {
  env: string;
  setpriv: string;
  nsenter: string;
}

/** A bind of a task volume into the container. */
export interface VolumeBind {
  source: string;
  containerPath: string;
  readOnly: boolean;
}

/** Everything the setup script needs, resolved by the task host. */
export interface ContainerSetup {
  /** "host-root": the ci-coordinator image (the machine's files + private dirs); "rootfs": a copy of an image. */
  kind: "host-root" | "rootfs";
  /** Where the container's root is assembled (host-root: an empty directory; rootfs: the copy). */
  root: string;
  /** Directory for this container's own files (layers, marker). */
  stateDir: string;
  /** Set the hostname (the container has its own UTS namespace). */
  hostname?: string;
  volumes: VolumeBind[];
  /** host-root only: files bound at their image paths (Dockerfile COPY), /etc/ssh, fault binds. */
  files: { source: string; destination: string }[];
  /** host-root only: a directory bound over /etc/ssh. */
  etcSsh?: string;
  workingDir: string;
  user: ContainerUser;
  environment: Record<string, string>;
  capabilities: string[];
  argv: string[];
  tools: HostTools;
}

/** Top-level directories of the machine a host-root container gets fresh (tmpfs) or its own (proc). */
const PRIVATE_TOP = new Map([
  ["run", "mode=0755"],
  ["tmp", "mode=1777"],
  ["root", "mode=0700"],
  ["opt", "mode=0755"],
]);

/** Where a path of a host-root container lives: writable space of its own, or the machine's (read-only) files. */
function ownsPath(path: string, hostTop: Set<string>): boolean {
  const top = path.split("/")[1] ?? "";
  return !hostTop.has(top) || PRIVATE_TOP.has(top) || path === "/etc/ssh" || path.startsWith("/etc/ssh/");
}

/**
 * Where a path of the machine's own files really is: the deepest existing ancestor resolved through symlinks
 * (e.g. /bin → /usr/bin), the rest appended. A bind must target that, not a path through an absolute symlink.
 */
function resolvedOnMachine(path: string): { anchor: string; rest: string } {
  let ancestor = path;
  while (ancestor !== "/" && !existsSync(ancestor)) ancestor = dirname(ancestor);
  return { anchor: realpathSync(ancestor), rest: posix.relative(ancestor, path) };
}

/**
 * The bash script that assembles the container's filesystem in its own mount namespace and execs its entry
 * process (through setpriv for the capabilities and nsenter for root, working directory and user). Runs as root,
 * from the machine's filesystem, in the task's network (and PID) namespace.
 */
export function containerSetupScript(setup: ContainerSetup): string {
  const q = shellQuote;
  const R = setup.root;
  const lines = ["set -eu"];
  const run = (...words: string[]) => lines.push(words.map(q).join(" "));
  if (setup.hostname) run("hostname", setup.hostname);
  let hostTop = new Set<string>();
  // A container path under the assembled root; in a host-root container, through the machine's symlinks.
  const inRoot = (path: string): string => {
    if (setup.kind === "rootfs" || ownsPath(path, hostTop)) return join(R, path);
    const { anchor, rest } = resolvedOnMachine(path);
    return join(R, anchor, rest);
  };

  // Paths the container needs that its root lacks: [path in container, "dir" | "file"].
  const needed: [string, "dir" | "file"][] = [];
  for (const volume of setup.volumes) needed.push([volume.containerPath, "dir"]);
  for (const file of setup.files) needed.push([file.destination, statSync(file.source).isDirectory() ? "dir" : "file"]);
  needed.push([setup.workingDir, "dir"]);

  if (setup.kind === "host-root") {
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", R);
    hostTop = new Set<string>();
    for (const name of readdirSync("/")) {
      hostTop.add(name);
      const target = join(R, name);
      const stat = lstatSync(join("/", name));
      if (name === "proc") run("mkdir", target);
      else if (PRIVATE_TOP.has(name)) {
        run("mkdir", target);
        run("mount", "-t", "tmpfs", "-o", PRIVATE_TOP.get(name) ?? "", "tmpfs", target);
      } else if (stat.isSymbolicLink()) run("ln", "-s", readlinkSync(join("/", name)), target);
      else if (stat.isDirectory()) {
        run("mkdir", target);
        run("mount", "--rbind", join("/", name), target);
      } else {
        run("touch", target);
        run("mount", "--bind", join("/", name), target);
      }
    }
    for (const name of PRIVATE_TOP.keys()) {
      if (!hostTop.has(name)) {
        run("mkdir", join(R, name));
        run("mount", "-t", "tmpfs", "-o", PRIVATE_TOP.get(name) ?? "", "tmpfs", join(R, name));
      }
    }
    if (!hostTop.has("proc")) run("mkdir", join(R, "proc"));
    run("mount", "-t", "proc", "proc", join(R, "proc"));
    if (setup.etcSsh) run("mount", "--bind", setup.etcSsh, join(R, "etc/ssh"));
    // What the machine lacks under its own directories comes from overlays: one read-only overlay per directory,
    // its upper layer holding empty stand-ins that the binds below then cover.
    const layers = new Map<string, [string, "dir" | "file"][]>();
    for (const [path, kind] of needed) {
      if (ownsPath(path, hostTop)) {
        if (kind === "dir") run("mkdir", "-p", join(R, path));
        else {
          run("mkdir", "-p", join(R, dirname(path)));
          run("touch", join(R, path));
        }
        continue;
      }
      const { anchor, rest } = resolvedOnMachine(path);
      if (rest === "") {
        if (lstatSync(anchor).isDirectory() === (kind === "dir")) continue;
        throw new Error(`${path} is a ${kind === "dir" ? "file" : "directory"} on this machine: cannot mount there`);
      }
      const entries = layers.get(anchor) ?? [];
      entries.push([rest, kind]);
      layers.set(anchor, entries);
    }
    [...layers.keys()]
      .sort((a, b) => a.split("/").length - b.split("/").length)
      .forEach((anchor, index) => {
        const layer = join(setup.stateDir, `layer-${index}`);
        for (const [relative, kind] of layers.get(anchor) ?? []) {
          if (kind === "dir") run("mkdir", "-p", join(layer, relative));
          else {
            run("mkdir", "-p", join(layer, dirname(relative)));
            run("touch", join(layer, relative));
          }
        }
        run("mount", "-t", "overlay", "overlay", "-o", `lowerdir=${layer}:${join(R, anchor)}`, join(R, anchor));
      });
  } else {
    for (const [path, kind] of needed) {
      if (kind === "dir") run("mkdir", "-p", join(R, path));
      else {
        run("mkdir", "-p", join(R, dirname(path)));
        run("touch", join(R, path));
      }
    }
    run("mkdir", "-p", join(R, "proc"), join(R, "dev"), join(R, "tmp"));
    run("mount", "-t", "proc", "proc", join(R, "proc"));
    run("mount", "-t", "tmpfs", "-o", "mode=0755,nosuid", "tmpfs", join(R, "dev"));
    for (const device of ["null", "zero", "full", "random", "urandom", "tty"]) {
      run("touch", join(R, "dev", device));
      run("mount", "--bind", join("/dev", device), join(R, "dev", device));
    }
    run("mkdir", join(R, "dev/shm"));
    run("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", join(R, "dev/shm"));
    for (const [name, target] of [
      ["fd", "/proc/self/fd"],
      ["stdin", "/proc/self/fd/0"],
      ["stdout", "/proc/self/fd/1"],
      ["stderr", "/proc/self/fd/2"],
    ]) {
      run("ln", "-s", target, join(R, "dev", name));
    }
  }
  for (const file of setup.files) run("mount", "--bind", file.source, inRoot(file.destination));
  for (const volume of setup.volumes) {
    run("mount", "--bind", volume.source, inRoot(volume.containerPath));
    if (volume.readOnly) run("mount", "-o", "remount,bind,ro", inRoot(volume.containerPath));
  }
  run("touch", join(setup.stateDir, "started"));

  const caps = setup.capabilities.map((c) => `+${c.toLowerCase()}`).join(",");
  const set = caps === "" ? "-all" : `-all,${caps}`;
  const root = setup.user.uid === 0;
  const exec = [
    setup.tools.env,
    "-i",
    ...Object.entries(setup.environment).map(([name, value]) => `${name}=${value}`),
    setup.tools.setpriv,
    `--bounding-set=${set}`,
    `--inh-caps=${root ? set : "-all"}`,
    `--ambient-caps=${root ? set : "-all"}`,
    "--",
    setup.tools.nsenter,
    `--root=${R}`,
    `--wd=${inRoot(setup.workingDir)}`,
    ...(root && setup.user.gid === 0 ? [] : [`--setgid=${setup.user.gid}`, `--setuid=${setup.user.uid}`]),
    "--",
    ...setup.argv,
  ];
  lines.push(`exec ${exec.map(q).join(" ")}`);
  return `${lines.join("\n")}\n`;
}
