/**
 * What the driver says to OpenSSH's `ssh` and reads back, without running it: the job's connection files, the
 * command line, the wrapper the task's shell runs around a stage's command, and the meaning of ssh's stderr.
 */
import { join } from "node:path";
import { SshTarget } from "./ports";
import { SshError } from "./sshError";

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

/**
 * OpenSSH's own key exchange order without sntrup761x25519, whose client side costs ~130 ms of CPU per login (a job
 * logs in once, in prepare): mlkem768x25519 (post-quantum too, and fast) where both ends have it (OpenSSH 9.9 and
 * later), else curve25519. A "-" list names what to remove, so ssh accepts names it does not know.
 */
export const KEX_ALGORITHMS = "KexAlgorithms=-sntrup761x25519-sha512@openssh.com,sntrup761x25519-sha512";

/** ssh reads `%` as the start of a token in file options. */
const literal = (path: string): string => path.replace(/%/g, "%%");

/**
 * The options of every ssh invocation for this target; `extra` goes before the destination. `logLevel` INFO keeps
 * what ssh says when the two ends share no algorithm (ERROR drops it).
 */
export function sshArguments(
  target: Pick<SshTarget, "host" | "port" | "username">,
  files: ConnectionFiles,
  options: SshOptions,
  extra: string[],
  logLevel: "ERROR" | "INFO" = "ERROR",
): string[] {
  const settings = [
    "BatchMode=yes",
    `LogLevel=${logLevel}`,
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
    KEX_ALGORITHMS,
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
 * ssh's own messages: stderr without the wrapper's lines, without the complaint about a control socket whose
 * connection is gone (ssh then connects directly, and what went wrong is in the lines after it), and without the
 * notice of a host key recorded on first contact.
 */
function diagnosticLines(stderr: string): string[] {
  const ours = (line: string) => line.startsWith(`${SESSION_LINE} `) || line.startsWith(`${EXIT_LINE} `);
  const noise = (line: string) =>
    line.startsWith("Control socket connect(") || line.startsWith("Warning: Permanently added");
  return stderr.split(/\r?\n/).filter((line) => line.trim() && !ours(line) && !noise(line));
}

export function diagnostics(stderr: string): string {
  return diagnosticLines(stderr).join("; ");
}

/**
 * Turns ssh's complaint into a message naming IP:port and the likely cause. A refused key is known by ssh's own
 * line, checked first: the server's banner (its text is the image's) comes before it and may say anything.
 */
export function describeSshFailure(stderr: string, target: Pick<SshTarget, "host" | "port" | "username">): SshError {
  const where = `${target.host}:${target.port}`;
  const said = diagnostics(stderr) || "no message";
  if (diagnosticLines(stderr).some((line) => /^(\S+@\S+: )?Permission denied \(/.test(line))) {
    return new SshError(
      "auth",
      `sshd at ${where} refused the job's key for user "${target.username}": SSH_PUBLIC_KEY did not reach ` +
        `authorized_keys (check the image's entrypoint and SSH.Username)`,
    );
  }
  if (/Host key verification failed|IDENTIFICATION HAS CHANGED/i.test(said)) {
    return new SshError(
      "hostkey",
      `host key of ${where} differs from the one recorded in prepare: refusing to connect (${said})`,
    );
  }
  if (/Unable to negotiate|no matching .* found/i.test(said)) {
    return new SshError(
      "negotiation",
      `sshd at ${where} and the manager's ssh have no algorithm in common (the driver offers OpenSSH's defaults ` +
        `without sntrup761x25519): ${said}`,
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
  if (/closed|reset|kex_exchange_identification|broken pipe/i.test(said)) {
    return new SshError("closed", `SSH connection to ${where} closed: ${said}`);
  }
  return new SshError("other", `SSH to ${where} failed: ${said}`);
}

/** The session's process id from the wrapper's first line, if that is what the line is. */
export function sessionLinePid(line: string): string | undefined {
  return new RegExp(`^${SESSION_LINE} (\\d+)$`).exec(line)?.[1];
}

/** known_hosts with the one host key prepare recorded ("<algorithm> <base64>"), under the alias ssh checks. */
export function knownHosts(hostKey: string): string {
  return `${HOST_KEY_ALIAS} ${hostKey}\n`;
}

/** The host key ("<algorithm> <base64>") recorded under the alias, if any. */
export function recordedHostKey(knownHosts: string): string | undefined {
  for (const line of knownHosts.split("\n")) {
    const [name, algorithm, key] = line.trim().split(/\s+/);
    if (name === HOST_KEY_ALIAS && algorithm && key) return `${algorithm} ${key}`;
  }
  return undefined;
}
