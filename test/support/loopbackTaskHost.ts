/**
 * A task host that needs neither root nor any system package: each launched task gets its own loopback address
 * (127.x.y.z — all of 127/8 is loopback on Linux) and its own in-process SSH server (ssh2's `Server`) listening
 * there on one unprivileged port. Like the job image's sshd it accepts only the task's SSH_PUBLIC_KEY, and it runs
 * every exec request with bash as the current user, in the task's own directory (HOME and TMPDIR per task), with
 * the task's environment, streaming stdout, stderr and the exit status; the `signal` request reaches the script.
 *
 * A Fargate task has its own filesystem, where the driver's builds and cache directories (/opt/gitlab-runner/…)
 * are writable. Here a task's filesystem is its directory: paths under /opt/gitlab-runner in the scripts it
 * receives are mapped into that directory. What this host does not emulate — the image's entrypoint, OpenSSH's
 * sshd, network and PID isolation, and a task's other containers (a job's `image:` and `services:`) — is what
 * NetnsTaskHost (root) adds: a task with containers besides ci-coordinator fails to start here, saying so.
 */
import { ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { Connection, Server, ServerChannel, utils } from "ssh2";
import { generateEd25519KeyPair } from "../../driver/sshKeys";
import { containersOf, coordinatorOf, LaunchedTask, TaskLaunchRequest, TaskLauncher } from "./taskLauncher";

/** The SSH port of every task (each task has its own address, so they can share it). */
export const LOOPBACK_SSH_PORT = 2222;
/** Where the job image keeps builds and caches; mapped into the task's directory. */
const TASK_WRITABLE_PREFIX = "/opt/gitlab-runner";

/** What the task host knows about one launched task (for assertions and the demo). */
export interface LoopbackTaskInfo {
  taskId: string;
  /** The task's loopback address, where its SSH server listens. */
  privateIp: string;
  /** The task's directory: its /opt/gitlab-runner, HOME and TMPDIR live here. Deleted when the task stops. */
  root: string;
  /** Exec requests the task's SSH server ran. */
  commands: string[];
  /** Logins the task's SSH server accepted: one per SSH connection. */
  logins: number;
}

interface LiveTask extends LoopbackTaskInfo {
  server: Server;
  connections: Set<Connection>;
  processes: Set<ChildProcess>;
  stopping?: Promise<void>;
}

/** The current user's name, for the sessions' USER and LOGNAME. */
function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "unknown"; // a uid without a passwd entry (containers)
  }
}

/** TaskLauncher whose tasks are loopback addresses with an in-process SSH server running bash as this user. */
export class LoopbackTaskHost implements TaskLauncher {
  /** The login and port every task's SSH server accepts (fargate.toml [SSH]); scripts run as the current user. */
  readonly ssh = { username: "ci", port: LOOPBACK_SSH_PORT };
  private readonly live = new Map<string, LiveTask>();
  private readonly all: LiveTask[] = [];
  // 127.0.x.x is left alone (127.0.0.1, Debian's 127.0.1.1): tasks live in 127.16.0.0 – 127.254.255.255.
  private nextAddress = Math.floor(Math.random() * 239 * 65536);

  async launch(request: TaskLaunchRequest): Promise<LaunchedTask> {
    const coordinator = coordinatorOf(request);
    const others = containersOf(request).filter((container) => container.name !== coordinator);
    if (others.length > 0) {
      throw new Error(
        `the unprivileged loopback task host runs only the ${coordinator} container, and this task also has ` +
          `${others.map((container) => `${container.name} (${container.image})`).join(", ")}: jobs with image: ` +
          "or services: need the network-namespace task host (root, startLocalFargate)",
      );
    }
    const publicKey = request.environment.SSH_PUBLIC_KEY ?? "";
    const allowed = utils.parseKey(publicKey);
    if (allowed instanceof Error || Array.isArray(allowed)) {
      // What the image's entrypoint does: refuse to start a task nobody can log in to.
      const reason = publicKey ? "SSH_PUBLIC_KEY does not hold an OpenSSH public key" : "SSH_PUBLIC_KEY is not set";
      return {
        privateIp: "127.0.0.1",
        exited: Promise.resolve({ exitCode: 1, reason: `Essential container in task exited (exit code 1): ${reason}` }),
        stop: async () => undefined,
      };
    }
    const server = new Server({ hostKeys: [generateEd25519KeyPair("task host key").privateKey] });
    const root = mkdtempSync(join(tmpdir(), `loopback-task-${request.taskId}-`));
    for (const dir of ["home", "tmp", "opt"]) mkdirSync(join(root, dir), { mode: 0o700 });
    const task: LiveTask = {
      taskId: request.taskId,
      privateIp: "",
      root,
      commands: [],
      logins: 0,
      server,
      connections: new Set(),
      processes: new Set(),
    };
    const environment = { ...request.environment };
    delete environment.SSH_PUBLIC_KEY; // the entrypoint unsets it too
    task.server.on("connection", (connection, info) => {
      task.connections.add(connection);
      connection.on("close", () => task.connections.delete(connection));
      connection.on("error", () => undefined); // a client that goes away mid-handshake
      connection.on("authentication", (context) => {
        const key = context.method === "publickey" ? context.key : undefined;
        if (
          context.username !== this.ssh.username ||
          !key ||
          key.algo !== allowed.type ||
          !key.data.equals(allowed.getPublicSSH())
        ) {
          return context.reject(["publickey"]);
        }
        if (context.method === "publickey" && context.signature) {
          if (!context.blob || !allowed.verify(context.blob, context.signature, context.hashAlgo)) {
            return context.reject(["publickey"]);
          }
        }
        context.accept();
      });
      connection.on("ready", () => {
        task.logins += 1;
        connection.on("session", (acceptSession) => {
          const session = acceptSession();
          let script: ChildProcess | undefined;
          session.on("signal", (accept, _reject, { name }) => {
            accept?.();
            if (script) signalGroup(script, `SIG${name}` as NodeJS.Signals);
          });
          session.on("exec", (accept, _reject, { command }) => {
            task.commands.push(command);
            const sshConnection = `${info.ip} ${info.port} ${task.privateIp} ${this.ssh.port}`;
            script = this.exec(task, accept(), command, {
              ...environment,
              HOME: join(root, "home"),
              TMPDIR: join(root, "tmp"),
              USER: currentUser(),
              LOGNAME: currentUser(),
              SHELL: "/bin/bash",
              PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
              SSH_CONNECTION: sshConnection,
            });
          });
        });
      });
    });
    try {
      task.privateIp = await this.listen(task.server);
    } catch (error) {
      rmSync(root, { recursive: true, force: true });
      throw error;
    }
    this.live.set(task.taskId, task);
    this.all.push(task);
    return {
      privateIp: task.privateIp,
      exited: new Promise(() => undefined), // it runs until stopped
      stop: () => this.stopTask(task),
    };
  }

  /** Tasks launched and not yet stopped. */
  hosts(): LoopbackTaskInfo[] {
    return [...this.live.values()];
  }

  /** Every task launched by this host, stopped or not. */
  history(): LoopbackTaskInfo[] {
    return [...this.all];
  }

  /** Stops every live task (idempotent). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.live.values()].map((task) => this.stopTask(task)));
  }

  /** Runs one exec request like sshd: `bash -c <command>` in the task's home, its script fed from the channel. */
  private exec(task: LiveTask, channel: ServerChannel, command: string, env: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn("bash", ["-c", command], {
      cwd: join(task.root, "home"),
      env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true, // its own process group, so a signal or the task's stop reaches everything it started
    });
    task.processes.add(child); // kept after it exits: its process group may live on in the background
    // bash reads its script from the channel line by line; each whole line has the task's writable paths mapped.
    const mapPaths = (text: string) => text.replaceAll(TASK_WRITABLE_PREFIX, join(task.root, "opt", "gitlab-runner"));
    const decoder = new StringDecoder("utf8");
    let partialLine = "";
    channel.on("data", (chunk: Buffer) => {
      const text = partialLine + decoder.write(chunk);
      const end = text.lastIndexOf("\n") + 1;
      child.stdin?.write(mapPaths(text.slice(0, end)));
      partialLine = text.slice(end);
    });
    channel.on("end", () => child.stdin?.end(mapPaths(partialLine + decoder.end())));
    child.stdin?.on("error", () => undefined); // the script may exit before reading all of its input
    child.stdout?.pipe(channel, { end: false });
    child.stderr?.pipe(channel.stderr, { end: false });
    let reported = false;
    const report = (status: number | string) => {
      if (reported || !channel.writable) return;
      reported = true;
      if (typeof status === "number") channel.exit(status);
      else channel.exit(status, false, "");
      channel.end();
    };
    child.on("error", (error) => {
      channel.stderr.write(`cannot run bash: ${error.message}\n`);
      report(127);
    });
    // "close": the script ended and its stdout and stderr are read to the end.
    child.on("close", (code, signal) => report(code ?? signal?.replace(/^SIG/, "") ?? "KILL"));
    channel.on("close", () => {
      // The client went away: the output goes nowhere, and a script still running is hung up on.
      for (const output of [child.stdout, child.stderr]) output?.unpipe().resume();
      if (!reported) signalGroup(child, "SIGHUP");
    });
    return child;
  }

  /** Binds the server to a free loopback address (another process may hold some) and returns that address. */
  private async listen(server: Server): Promise<string> {
    for (let attempt = 0; attempt < 64; attempt++) {
      const index = this.nextAddress;
      this.nextAddress = (this.nextAddress + 1) % (239 * 65536);
      const address = `127.${16 + (index >> 16)}.${(index >> 8) & 255}.${index & 255}`;
      if ((index & 255) === 0 || (index & 255) === 255) continue;
      const bound = await new Promise<boolean>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => {
          if (error.code === "EADDRINUSE") resolve(false);
          else reject(error);
        };
        server.once("error", onError);
        server.listen(LOOPBACK_SSH_PORT, address, () => {
          server.off("error", onError);
          resolve(true);
        });
      });
      if (bound) return address;
    }
    throw new Error(`no free loopback address for a task's SSH server on port ${LOOPBACK_SSH_PORT}`);
  }

  private stopTask(task: LiveTask): Promise<void> {
    task.stopping ??= (async () => {
      // Everything the task's sessions started, background processes included, goes with the task.
      for (const child of task.processes) signalGroup(child, "SIGKILL");
      for (const connection of task.connections) connection.end();
      await new Promise<void>((resolve) => task.server.close(() => resolve()));
      rmSync(task.root, { recursive: true, force: true });
      this.live.delete(task.taskId);
    })();
    return task.stopping;
  }
}

/** Sends `signal` to a session's process group, which outlives bash while a process it started runs. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // the whole group is gone
  }
}
