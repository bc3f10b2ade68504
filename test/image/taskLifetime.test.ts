/**
 * The task's dead-man's switch, run for real: images/ci-coordinator/docker-entrypoint.sh under tini in a task
 * network namespace, the machine's sshd with the image's sshd_config, OpenSSH's client. The entrypoint stops the
 * task (exit codes of driver/contract/taskLifetime.ts) when nobody logs in, when no SSH connection has been open
 * for the idle period, and at the hard deadline. Deadlines are a few seconds; assertions are on exit codes and log
 * lines, with lower bounds on time only (the machine is shared). Needs root.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { TASK_LIFETIME_ENV, TASK_LIFETIME_EXIT_CODES } from "../../driver/contract/taskLifetime";
import { NetnsTaskHost, TaskHostInfo, taskHostUnsupportedReason } from "../support/netnsTaskHost";
import { missingCommand, OPENSSH_CLIENT, skipUnlessAvailable } from "../support/requirements";
import { LOCAL_CI_COORDINATOR_IMAGE } from "../support/taskLauncher";
import { generateKeyPair, KeyPair, opensshArgs, ssh } from "./opensshClient";

const { firstContactSeconds: FIRST_CONTACT, idleSeconds: IDLE, maxLifetimeSeconds: MAX_LIFETIME } = TASK_LIFETIME_ENV;

type Exit = { exitCode: number | null; reason: string };

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** An OpenSSH session that stays open while `command` runs. */
function openSession(host: string, command: string, keyFile: string): { child: ChildProcess; ended: Promise<Exit> } {
  const child = spawn("ssh", opensshArgs(host, command, keyFile), { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const ended = new Promise<Exit>((resolve) =>
    child.on("close", (code) => resolve({ exitCode: code, reason: output })),
  );
  return { child, ended };
}

/** Whether the promise is still pending. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol("pending");
  return (await Promise.race([promise, new Promise((r) => setImmediate(() => r(marker)))])) === marker;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("job image entrypoint: the task stops itself", function () {
  this.timeout(60_000);
  let host: NetnsTaskHost;
  let key: KeyPair;
  let taskCounter = 0;
  const sessions: ChildProcess[] = [];
  const launch = async (environment: Record<string, string>) => {
    const taskId = `life${++taskCounter}`;
    const task = await host.launch({ taskArn: `arn:aws:ecs:eu-west-1:1:task/c/${taskId}`, taskId, environment });
    return { ...task, taskId, info: host.host(taskId) as TaskHostInfo, startedAt: Date.now() };
  };
  const withKey = (lifetime: Record<string, string>) => ({ SSH_PUBLIC_KEY: key.publicKey, ...lifetime });
  const session = (ip: string, command: string) => {
    const opened = openSession(ip, command, key.privateKeyFile);
    sessions.push(opened.child);
    return opened.ended;
  };
  const watchdogLine = (log: string) => log.split("\n").find((line) => line.includes("stopping the task")) ?? "";
  /** The idle time the watchdog measured itself: timings seen from the test would depend on the machine's load. */
  const idleSeconds = (log: string) => Number(/no SSH connection for (\d+) s/.exec(watchdogLine(log))?.[1] ?? -1);

  before(function () {
    skipUnlessAvailable(this, taskHostUnsupportedReason() ?? missingCommand("ssh", OPENSSH_CLIENT));
    key = generateKeyPair();
  });

  beforeEach(() => {
    host = new NetnsTaskHost();
  });

  afterEach(async () => {
    for (const child of sessions.splice(0)) child.kill("SIGKILL");
    await host?.stopAll();
    assert.deepEqual(host?.leftoverNamespaces() ?? [], [], "every task network namespace is deleted");
  });

  after(() => key?.dispose());

  it("a task nobody logs in to stops at its first-contact deadline (exit code 90), sshd answering meanwhile", async () => {
    // The idle period is shorter: before the first login only the first-contact deadline counts.
    const task = await launch(withKey({ [FIRST_CONTACT]: "4", [IDLE]: "1", [MAX_LIFETIME]: "60" }));
    await host.waitForListening(task.taskId);
    const exited = await task.exited;
    assert.equal(exited.exitCode, TASK_LIFETIME_EXIT_CODES.firstContact, task.info.log());
    assert.ok(Date.now() - task.startedAt >= 3000, "not before the deadline");
    assert.match(
      watchdogLine(task.info.log()),
      /^docker-entrypoint\.sh: stopping the task \(exit code 90\): no SSH login in its first \d+ s, GITLAB_FARGATE_FIRST_CONTACT_SECONDS=4$/,
    );
    assert.match(
      task.info.log(),
      /stops itself after \(seconds\) first contact 4, idle 1, max lifetime 60$/m,
      "the settings are logged",
    );
  });

  it("after a login and logout the task stops once idle (exit code 91), a login of a moment included", async () => {
    const task = await launch(withKey({ [FIRST_CONTACT]: "40", [IDLE]: "3" }));
    await host.waitForListening(task.taskId);
    const login = await ssh(task.info.privateIp, "true", key.privateKeyFile);
    assert.equal(login.code, 0, login.stderr);
    const exited = await task.exited;
    assert.equal(exited.exitCode, TASK_LIFETIME_EXIT_CODES.idle, task.info.log());
    assert.ok(idleSeconds(task.info.log()) >= 3, "not before the idle period (by the task's own clock)");
    assert.match(
      watchdogLine(task.info.log()),
      /^docker-entrypoint\.sh: stopping the task \(exit code 91\): no SSH connection for \d+ s, GITLAB_FARGATE_IDLE_SECONDS=3$/,
    );
  });

  it("a session longer than the idle period is not interrupted; the task stops (91) only after it closed", async () => {
    const task = await launch(withKey({ [FIRST_CONTACT]: "40", [IDLE]: "2" }));
    await host.waitForListening(task.taskId);
    const long = await session(task.info.privateIp, "sleep 7; echo finished");
    assert.equal(long.exitCode, 0, long.reason);
    assert.match(long.reason, /^finished$/m);
    assert.ok(await pending(task.exited), `the task still runs once the session closed:\n${task.info.log()}`);
    const exited = await task.exited;
    assert.equal(exited.exitCode, TASK_LIFETIME_EXIT_CODES.idle, task.info.log());
    assert.ok(idleSeconds(task.info.log()) >= 2, "idle counts from the session's end (by the task's own clock)");
  });

  it("the hard deadline stops a task with an open session (exit code 92) and ends that session", async () => {
    const task = await launch(withKey({ [FIRST_CONTACT]: "40", [IDLE]: "40", [MAX_LIFETIME]: "5" }));
    await host.waitForListening(task.taskId);
    const open = session(task.info.privateIp, "sleep 300");
    const exited = await task.exited;
    assert.equal(exited.exitCode, TASK_LIFETIME_EXIT_CODES.maxLifetime, task.info.log());
    assert.ok(Date.now() - task.startedAt >= 4000, "not before the deadline");
    assert.match(
      watchdogLine(task.info.log()),
      /^docker-entrypoint\.sh: stopping the task \(exit code 92\): it ran for \d+ s, GITLAB_FARGATE_MAX_LIFETIME_SECONDS=5$/,
    );
    assert.notEqual((await open).exitCode, 0, "the session was cut");
  });

  it("the hard deadline also ends a task whose containers share one PID namespace (jobs with image:)", async () => {
    const taskId = `life${++taskCounter}`;
    const task = await host.launch({
      taskArn: `arn:aws:ecs:eu-west-1:1:task/c/${taskId}`,
      taskId,
      environment: {},
      pidMode: "task",
      containers: [
        {
          name: "ci-coordinator",
          image: LOCAL_CI_COORDINATOR_IMAGE,
          essential: true,
          environment: withKey({ [MAX_LIFETIME]: "4" }),
          dependsOn: [],
          mountPoints: [],
          capabilities: { add: [], drop: [] },
        },
      ],
    });
    await host.waitForListening(taskId);
    const open = session(task.privateIp, "sleep 300");
    const exited = await task.exited;
    assert.equal(exited.exitCode, TASK_LIFETIME_EXIT_CODES.maxLifetime, host.host(taskId)?.log());
    assert.notEqual((await open).exitCode, 0, "the session was cut");
  });

  it("with only an idle period, a task nobody logs in to stops once idle from its start (91)", async () => {
    const task = await launch(withKey({ [IDLE]: "3" }));
    const exited = await task.exited;
    assert.equal(exited.exitCode, TASK_LIFETIME_EXIT_CODES.idle, task.info.log());
    assert.ok(Date.now() - task.startedAt >= 2000);
  });

  it("without the variables the task runs on, as before: no deadline", async () => {
    const task = await launch(withKey({}));
    await host.waitForListening(task.taskId);
    await sleep(6000);
    assert.ok(await pending(task.exited), `the task stopped:\n${task.info.log()}`);
    assert.match(task.info.log(), /stops itself after \(seconds\) first contact off, idle off, max lifetime off$/m);
    const login = await ssh(task.info.privateIp, "echo still-here", key.privateKeyFile);
    assert.equal(login.stdout, "still-here\n", login.stderr);
  });

  for (const [name, value] of [
    [FIRST_CONTACT, "ten"],
    [IDLE, "0"],
    [MAX_LIFETIME, "60s"],
    [IDLE, ""],
    [MAX_LIFETIME, "010"],
  ]) {
    it(`refuses to start when ${name}="${value}", naming the variable`, async () => {
      const task = await launch(withKey({ [name]: value }));
      const exited = await task.exited;
      assert.equal(exited.exitCode, 1);
      assert.ok(
        exited.reason.includes(`${name} must be a whole number of seconds from 1 to 999999999, not "${value}".`),
        exited.reason,
      );
      assert.equal(task.info.listeningAt, undefined, "sshd never listened");
    });
  }

  it("keeps the variables out of SSH sessions and ~/.ssh/environment", async () => {
    const task = await launch(
      withKey({ [FIRST_CONTACT]: "40", [IDLE]: "40", [MAX_LIFETIME]: "60", TASK_MARKER: "from-task-definition" }),
    );
    await host.waitForListening(task.taskId);
    const result = await ssh(task.info.privateIp, "cat ~/.ssh/environment; echo ---; env", key.privateKeyFile);
    assert.equal(result.code, 0, result.stderr);
    const [file, sessionEnv] = result.stdout.split("---\n");
    assert.match(file, /^TASK_MARKER=from-task-definition$/m, "read the file the entrypoint wrote");
    assert.match(sessionEnv, /^TASK_MARKER=from-task-definition$/m);
    assert.doesNotMatch(result.stdout, /GITLAB_FARGATE_/);
  });

  it("SIGTERM (ECS StopTask) reaches sshd and its sessions; the container exits with sshd's status", async () => {
    const task = await launch(withKey({ [FIRST_CONTACT]: "40", [IDLE]: "40", [MAX_LIFETIME]: "60" }));
    await host.waitForListening(task.taskId);
    const open = session(task.info.privateIp, "sleep 300");
    while (!/Accepted publickey/.test(task.info.log())) await sleep(50);
    const tini = task.info.containers()[0].pid() as number;
    process.kill(tini, "SIGTERM");
    const exited = await task.exited;
    assert.equal(exited.exitCode, 0, task.info.log());
    assert.match(task.info.log(), /Received signal 15; terminating\./, "sshd got SIGTERM (its log is relayed)");
    assert.doesNotMatch(task.info.log(), /stopping the task/);
    assert.notEqual((await open).exitCode, 0, "the session ended");
  });

  it("when sshd dies the container exits with its status", async () => {
    const task = await launch(withKey({ [IDLE]: "40" }));
    await host.waitForListening(task.taskId);
    const tini = task.info.containers()[0].pid() as number;
    const [entrypoint] = childrenOf(tini);
    const sshd = childrenOf(entrypoint).find((pid) => processName(pid) === "sshd");
    assert.ok(sshd, `sshd is a child of the entrypoint (${childrenOf(entrypoint).map(processName).join(", ")})`);
    process.kill(sshd, "SIGKILL");
    const exited = await task.exited;
    assert.equal(exited.exitCode, 128 + 9, task.info.log());
  });

  it("a client that vanishes without closing its connection is dropped by sshd within about a minute (ClientAlive), then the task idles out", async function () {
    this.timeout(180_000);
    const task = await launch(withKey({ [FIRST_CONTACT]: "40", [IDLE]: "2" }));
    await host.waitForListening(task.taskId);
    const open = session(task.info.privateIp, "sleep 600");
    while (!/Accepted publickey/.test(task.info.log())) await sleep(50);
    // The manager is gone: nothing from the task reaches it, and its FIN never reaches the task.
    const hostVeth = `fgv${task.info.namespace.split("-")[1]}h`;
    execFileSync("ip", ["link", "set", hostVeth, "down"]);
    sessions.forEach((child) => child.kill("SIGKILL"));
    await open;
    const vanishedAt = Date.now();
    const exited = await task.exited;
    assert.equal(exited.exitCode, TASK_LIFETIME_EXIT_CODES.idle, task.info.log());
    const seconds = (Date.now() - vanishedAt) / 1000;
    assert.ok(seconds >= 20, `sshd waited for its keepalives to go unanswered (${seconds} s)`);
    assert.match(task.info.log(), /Timeout, client not responding/);
  });
});
