/**
 * Error paths of prepare, run and cleanup over injected ports: a scripted ECS, a scripted SSH probe and a virtual
 * clock (sleeping advances it), with real metadata files in a temp directory. No process, socket or timer is left.
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cancelled, JobError, SystemFailure } from "../../driver/errors";
import { Job } from "../../driver/job";
import { createLogger } from "../../driver/log";
import { JobMetadata, MetadataStore } from "../../driver/metadata";
import { Clock, EcsPort, RunTaskResult, SshPort, TaskView } from "../../driver/ports";
import { parseFargateToml, Settings } from "../../driver/contract/fargateToml";
import { SshError } from "../../driver/sshError";
import { runCleanupStage } from "../../driver/stages/cleanup";
import { MAX_AUTH_REFUSALS, MISSING_GRACE_MS, PrepareDeps, runPrepareStage } from "../../driver/stages/prepare";
import { runRunStage } from "../../driver/stages/run";

const TASK = "arn:aws:ecs:eu-west-1:123456789012:task/ci/new";
const OLD_TASK = "arn:aws:ecs:eu-west-1:123456789012:task/ci/old";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey";

function task(lastStatus: string, extra: Partial<TaskView> = {}): TaskView {
  return {
    taskArn: TASK,
    lastStatus,
    desiredStatus: "RUNNING",
    containers: [{ name: "ci-coordinator" }],
    privateIp: "10.0.0.5",
    ...extra,
  };
}

/** ECS as a script: answers come from the fields below; every call is recorded. */
class ScriptedEcs implements EcsPort {
  calls: string[] = [];
  stops: { arn: string; reason: string }[] = [];
  runResult: RunTaskResult = { taskArn: TASK, failures: [] };
  /** DescribeTasks answers in order; the last one repeats. */
  describeAnswers: (TaskView | undefined)[] = [task("RUNNING")];
  listed: string[] | Error = [];
  stopFailures = new Map<string, Error>();
  publicIpAnswer: string | undefined = "203.0.113.7";
  private described = 0;

  async runTask(): Promise<RunTaskResult> {
    this.calls.push("RunTask");
    return this.runResult;
  }
  async describeTask(): Promise<TaskView | undefined> {
    this.calls.push("DescribeTasks");
    const answer = this.describeAnswers[Math.min(this.described, this.describeAnswers.length - 1)];
    this.described += 1;
    return answer;
  }
  async stopTask(_cluster: string, arn: string, reason: string): Promise<void> {
    this.calls.push(`StopTask ${arn}`);
    const failure = this.stopFailures.get(arn);
    if (failure) throw failure;
    this.stops.push({ arn, reason });
  }
  async listTasksStartedBy(): Promise<string[]> {
    this.calls.push("ListTasks");
    if (this.listed instanceof Error) throw this.listed;
    return this.listed;
  }
  async publicIp(): Promise<string | undefined> {
    this.calls.push("DescribeNetworkInterfaces");
    return this.publicIpAnswer;
  }
}

/** Sleeping only moves the clock: timeouts are reached without waiting and without timed assertions. */
class VirtualClock implements Clock {
  time = 1_000_000;
  now(): number {
    return this.time;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new Cancelled();
    this.time += ms;
  }
}

class ScriptedSsh implements SshPort {
  probes = 0;
  constructor(private readonly answer: (attempt: number) => Promise<string>) {}
  closed = 0;
  open(): Promise<string> {
    this.probes += 1;
    return this.answer(this.probes);
  }
  async runScript(): Promise<number> {
    throw new Error("not used");
  }
  async close(): Promise<void> {
    this.closed += 1;
  }
}

const refused = () => Promise.reject(new SshError("refused", "SSH connection to 10.0.0.5:22 refused"));
const keyRefused = () => Promise.reject(new SshError("auth", `sshd at 10.0.0.5:22 refused the job's key`));

describe("driver stage error paths (injected ports)", () => {
  const job: Job = { id: "77", binding: "b1nd1ng-77" };
  const log = createLogger("error", "text", () => undefined);
  let dir: string;
  let lines: string[];
  let ecs: ScriptedEcs;
  let clock: VirtualClock;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driver-errors-"));
    lines = [];
    ecs = new ScriptedEcs();
    clock = new VirtualClock();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function settingsFor(extra = "", metadataDirectory = join(dir, "metadata")): Settings {
    return parseFargateToml(
      `[Fargate]
Cluster = "ci"
Subnet = "subnet-0a0a0a0a"
TaskDefinition = "ci-job:3"
${extra}
[TaskMetadata]
Directory = "${metadataDirectory}"
[Timeouts]
TaskRunning = 30
SSHReady = 20
`,
      "test.toml",
    );
  }

  const storeFor = (settings: Settings) => new MetadataStore(settings.metadataDirectory, job);

  function prepare(
    settings: Settings,
    ssh: SshPort = new ScriptedSsh(async () => HOST_KEY),
    listening?: PrepareDeps["listening"],
    signal = new AbortController().signal,
  ) {
    return runPrepareStage({
      listening,
      settings,
      job,
      overrides: { taskDefinition: settings.fargate.taskDefinition, size: {} },
      ecs,
      ssh,
      clock,
      metadata: storeFor(settings),
      generateKeyPair: () => ({ privateKey: "PRIVATE", publicKey: "ssh-ed25519 AAAA job" }),
      print: (line) => lines.push(line),
      log,
      signal,
      poll: { initialMs: 250, maxMs: 1000 },
      sshRetry: { initialMs: 200, maxMs: 2000 },
    });
  }

  function cleanup(settings: Settings) {
    const ssh = new ScriptedSsh(async () => HOST_KEY);
    return runCleanupStage({ settings, job, ecs, metadata: storeFor(settings), ssh, print: (l) => lines.push(l), log });
  }

  const record = (extra: Partial<JobMetadata> = {}): Omit<JobMetadata, "version" | "binding"> => ({
    cluster: "ci",
    taskArn: OLD_TASK,
    startedBy: "gitlab-job-77",
    jobId: "77",
    privateKey: "PRIVATE",
    createdAt: "2026-01-01T00:00:00.000Z",
    ...extra,
  });

  async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
    await assert.rejects(promise, (err: unknown) => {
      assert.ok(err instanceof SystemFailure, `expected a SystemFailure, got ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    });
  }

  describe("prepare", () => {
    it("stops the started task when the metadata file cannot be written", async () => {
      const blocker = join(dir, "not-a-directory");
      writeFileSync(blocker, "");
      const settings = settingsFor("", join(blocker, "metadata"));
      await rejectsWith(prepare(settings), /cannot write job metadata .*not-a-directory\/metadata/);
      assert.deepEqual(ecs.stops, [{ arn: TASK, reason: "GitLab job 77: prepare failed" }]);
      assert.equal(ecs.calls.includes("DescribeTasks"), false, "no waiting for a task nobody can reach");
    });

    it("fails after Timeouts.TaskRunning when the task stays PENDING, and stops it", async () => {
      ecs.describeAnswers = [task("PROVISIONING"), task("PENDING")];
      const settings = settingsFor();
      const started = clock.now();
      await rejectsWith(prepare(settings), /did not reach RUNNING within 30 s \(last status PENDING\)/);
      assert.ok(clock.now() - started <= 30_000, "gave up at the deadline, not after it");
      assert.ok(clock.now() - started >= 29_000, "did not give up early");
      assert.deepEqual(ecs.stops, [{ arn: TASK, reason: "GitLab job 77: prepare failed" }]);
      assert.equal(existsSync(storeFor(settings).path), false, "metadata of a stopped task is deleted");
    });

    it("tolerates MISSING right after RunTask (eventual consistency), then proceeds", async () => {
      ecs.describeAnswers = [undefined, undefined, undefined, undefined, task("PENDING"), task("RUNNING")];
      await prepare(settingsFor());
      assert.ok(lines.at(-1)?.startsWith("Task ready in "), lines.join("\n"));
      assert.deepEqual(ecs.stops, []);
    });

    it("fails after repeated MISSING answers once the grace period is over, instead of waiting for TaskRunning", async () => {
      ecs.describeAnswers = [undefined];
      const started = clock.now();
      await rejectsWith(prepare(settingsFor()), /ECS no longer knows task .*MISSING 3 times in a row/);
      assert.ok(clock.now() - started >= MISSING_GRACE_MS, "not before the grace period");
      assert.ok(clock.now() - started < 30_000, "well before Timeouts.TaskRunning");
    });

    it("fails when the task stops while waiting for SSH, with the stopped reason", async () => {
      ecs.describeAnswers = [
        task("RUNNING"),
        task("RUNNING"),
        task("STOPPED", { stoppedReason: "Essential container in task exited" }),
      ];
      const ssh = new ScriptedSsh(refused);
      await rejectsWith(prepare(settingsFor(), ssh), /Task stopped while waiting for SSH: Essential container/);
      assert.equal(ssh.probes, 2);
    });

    describe("watching the task's sshd before ECS reports RUNNING", () => {
      /** A `listening` port that records its calls and answers as told (never, by default). */
      function watcher(answer: () => Promise<void> = () => new Promise(() => undefined)) {
        const calls: { host: string; port: number; signal: AbortSignal }[] = [];
        const listening = (host: string, port: number, signal: AbortSignal) => {
          calls.push({ host, port, signal });
          return answer();
        };
        return { calls, listening };
      }

      it("logs in as soon as sshd answers at the task's address, while ECS still says PENDING", async () => {
        ecs.describeAnswers = [task("PROVISIONING", { privateIp: undefined }), task("PENDING")];
        const ssh = new ScriptedSsh(async () => HOST_KEY);
        const sshd = watcher(async () => undefined);
        const settings = settingsFor();
        await prepare(settings, ssh, sshd.listening);
        assert.deepEqual(
          sshd.calls.map(({ host, port }) => `${host}:${port}`),
          ["10.0.0.5:22"],
        );
        assert.ok(sshd.calls[0].signal.aborted, "the watch ends with the wait");
        assert.ok(
          lines.some((l) => /^Task IP 10\.0\.0\.5: sshd answers .* \(ECS last reported PENDING\)$/.test(l)),
          lines.join("\n"),
        );
        assert.equal(
          lines.some((l) => l.startsWith("Task RUNNING")),
          false,
        );
        assert.equal(ssh.probes, 1);
        assert.equal(storeFor(settings).read()?.host, "10.0.0.5");
        assert.ok(lines.at(-1)?.startsWith("Task ready in "), lines.join("\n"));
      });

      it("stops watching once ECS reports RUNNING first, and logs in then", async () => {
        ecs.describeAnswers = [task("PENDING"), task("PENDING"), task("RUNNING")];
        const ssh = new ScriptedSsh(async () => HOST_KEY);
        const sshd = watcher();
        await prepare(settingsFor(), ssh, sshd.listening);
        assert.equal(sshd.calls.length, 1, "one watch per task");
        assert.ok(sshd.calls[0].signal.aborted);
        assert.ok(lines.some((l) => l.startsWith("Task RUNNING after ")));
        assert.equal(ssh.probes, 1);
      });

      it("stops watching when the task stops before sshd answers", async () => {
        ecs.describeAnswers = [
          task("PENDING"),
          task("STOPPED", { stoppedReason: "Essential container in task exited" }),
        ];
        const sshd = watcher();
        await rejectsWith(prepare(settingsFor(), undefined, sshd.listening), /Task stopped before it was RUNNING/);
        assert.ok(sshd.calls[0].signal.aborted);
      });

      it("waits for RUNNING when the task has more containers than sshd's (they may still be pulling)", async () => {
        const containers = [{ name: "ci-coordinator" }, { name: "svc-0" }];
        ecs.describeAnswers = [task("PENDING", { containers }), task("RUNNING", { containers })];
        const sshd = watcher(async () => undefined);
        await prepare(settingsFor(), undefined, sshd.listening);
        assert.deepEqual(sshd.calls, []);
        assert.ok(lines.some((l) => l.startsWith("Task RUNNING after ")));
      });

      /** Resolves once prepare has started watching sshd. */
      async function watching(sshd: { calls: unknown[] }): Promise<void> {
        while (sshd.calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
      }

      /** A sleep only an abort ends: what wakes the wait must be sshd's answer (or SIGTERM), not time. */
      const sleepUntilWoken = (_ms: number, signal?: AbortSignal) =>
        new Promise<void>((_resolve, reject) => {
          if (signal?.aborted) return reject(new Cancelled());
          signal?.addEventListener("abort", () => reject(new Cancelled()), { once: true });
        });

      it("ends the pause between two DescribeTasks as soon as sshd answers", async () => {
        ecs.describeAnswers = [task("PENDING")];
        clock.sleep = sleepUntilWoken;
        let answer: () => void = () => undefined;
        const sshd = watcher(() => new Promise<void>((resolve) => (answer = resolve)));
        const done = prepare(settingsFor(), undefined, sshd.listening);
        await watching(sshd);
        answer();
        await done;
        assert.deepEqual(ecs.calls.filter((call) => call === "DescribeTasks").length, 1);
        assert.ok(
          lines.some((l) => /sshd answers .*ECS last reported PENDING/.test(l)),
          lines.join("\n"),
        );
      });

      it("SIGTERM while sshd is watched cancels prepare, ends the watch and stops the task", async () => {
        ecs.describeAnswers = [task("PENDING")];
        clock.sleep = sleepUntilWoken;
        const sshd = watcher();
        const controller = new AbortController();
        const done = prepare(settingsFor(), undefined, sshd.listening, controller.signal);
        await watching(sshd);
        controller.abort();
        await assert.rejects(done, Cancelled);
        assert.ok(sshd.calls[0].signal.aborted);
        assert.deepEqual(ecs.stops, [{ arn: TASK, reason: "GitLab job 77: prepare cancelled" }]);
      });

      it("does not blame a security group for a login that times out after sshd greeted", async () => {
        ecs.describeAnswers = [task("PENDING")];
        const timesOut = new ScriptedSsh(() =>
          Promise.reject(new SshError("timeout", "no SSH answer from 10.0.0.5:22: a security group …")),
        );
        await rejectsWith(
          prepare(settingsFor(), timesOut, watcher(async () => undefined).listening),
          /within 20 s .*: sshd at 10\.0\.0\.5:22 greeted the driver, but no SSH login completed in time$/,
        );
      });

      it("names a login that never completes after sshd greeted, instead of blaming a security group", async () => {
        ecs.describeAnswers = [task("PENDING")];
        const hangs = new ScriptedSsh(() => Promise.reject(new Cancelled()));
        await rejectsWith(
          prepare(settingsFor(), hangs, watcher(async () => undefined).listening),
          /sshd did not accept the job's key within 20 s .*: sshd at 10\.0\.0\.5:22 greeted the driver, but no SSH login completed/,
        );
      });

      it("with UsePublicIP, waits for RUNNING: the private address is not the one to log in at", async () => {
        ecs.describeAnswers = [task("PENDING", { networkInterfaceId: "eni-0123abcd" })];
        ecs.describeAnswers.push(task("RUNNING", { networkInterfaceId: "eni-0123abcd" }));
        const sshd = watcher(async () => undefined);
        const settings = settingsFor("EnablePublicIP = true\nUsePublicIP = true");
        await prepare(settings, undefined, sshd.listening);
        assert.deepEqual(sshd.calls, []);
        assert.equal(storeFor(settings).read()?.host, "203.0.113.7");
      });
    });

    it("fails when ECS reports a RUNNING task without a private IP", async () => {
      ecs.describeAnswers = [task("RUNNING", { privateIp: undefined })];
      await rejectsWith(prepare(settingsFor()), /RUNNING but ECS reports no private IP/);
      assert.equal(ecs.stops.length, 1);
    });

    it("with UsePublicIP, fails naming the settings when the ENI has no public IP", async () => {
      ecs.describeAnswers = [task("RUNNING", { networkInterfaceId: "eni-0123abcd" })];
      ecs.publicIpAnswer = undefined;
      await rejectsWith(
        prepare(settingsFor("EnablePublicIP = true\nUsePublicIP = true")),
        /eni-0123abcd has no public IP: set Fargate\.EnablePublicIP = true .* or Fargate\.UsePublicIP = false/,
      );
      assert.equal(ecs.stops.length, 1);
    });

    it(`gives up after ${MAX_AUTH_REFUSALS} consecutive key refusals instead of retrying until SSHReady`, async () => {
      const ssh = new ScriptedSsh(keyRefused);
      const started = clock.now();
      await rejectsWith(prepare(settingsFor(), ssh), /refused the job's key \(3 times in a row; giving up\)/);
      assert.equal(ssh.probes, MAX_AUTH_REFUSALS);
      assert.ok(clock.now() - started < 20_000, "well before Timeouts.SSHReady");
    });

    it("fails at once, and stops the task, when the manager's ssh cannot run", async () => {
      const noClient = () =>
        Promise.reject(new SshError("client", "cannot start ssh: OpenSSH's client is not installed"));
      const ssh = new ScriptedSsh(noClient);
      await rejectsWith(prepare(settingsFor(), ssh), /OpenSSH's client is not installed/);
      assert.equal(ssh.probes, 1);
      assert.equal(ecs.stops.length, 1);
    });

    it("fails at once when the task's sshd and the manager's ssh share no algorithm", async () => {
      const ssh = new ScriptedSsh(() => Promise.reject(new SshError("negotiation", "no algorithm in common")));
      await rejectsWith(prepare(settingsFor(), ssh), /no algorithm in common/);
      assert.equal(ssh.probes, 1);
    });

    it("fails while waiting for SSH once ECS is stopping the task, before it reports STOPPED", async () => {
      const stopping = task("RUNNING", { desiredStatus: "STOPPED", stoppedReason: "Task stopped by user" });
      ecs.describeAnswers = [task("RUNNING"), stopping];
      const ssh = new ScriptedSsh(refused);
      await rejectsWith(prepare(settingsFor(), ssh), /^Task stopped while waiting for SSH: Task stopped by user/);
      assert.equal(ssh.probes, 1);
    });

    it("a job image that could not be pulled while waiting for SSH is the job's error", async () => {
      const pullFailed = task("STOPPED", {
        stoppedReason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
        containers: [
          { name: "ci-coordinator" },
          { name: "build", reason: "CannotPullContainerError: failed to resolve ref ruby:nope" },
        ],
      });
      ecs.describeAnswers = [task("RUNNING"), pullFailed];
      await assert.rejects(prepare(settingsFor(), new ScriptedSsh(refused)), (err: unknown) => {
        assert.ok(err instanceof JobError, String(err));
        assert.match(err.message, /^Task stopped while waiting for SSH: .*ruby:nope/);
        return true;
      });
    });

    it("names the last attempt that ended by itself when the deadline cuts the final one short", async () => {
      const ssh = new ScriptedSsh((n) => (n === 1 ? refused() : Promise.reject(new Cancelled())));
      await rejectsWith(
        prepare(settingsFor(), ssh),
        /within 20 s \(\d+ attempts\): SSH connection to 10\.0\.0\.5:22 refused/,
      );
    });

    it("keeps retrying refused connections (sshd still starting) until SSHReady, with a streak of refusals reset", async () => {
      // auth, auth, refused, auth, auth, refused…: never 3 key refusals in a row.
      const ssh = new ScriptedSsh((n) => (n % 3 === 0 ? refused() : keyRefused()));
      await rejectsWith(prepare(settingsFor(), ssh), /sshd did not accept the job's key within 20 s/);
      assert.ok(ssh.probes > MAX_AUTH_REFUSALS, `${ssh.probes} attempts`);
    });

    it("keeps the metadata file when stopping the task after a failure fails too", async () => {
      ecs.describeAnswers = [task("RUNNING", { privateIp: undefined })];
      ecs.stopFailures.set(TASK, new SystemFailure("ECS StopTask failed: AccessDeniedException"));
      const settings = settingsFor();
      await rejectsWith(prepare(settings), /no private IP/);
      assert.equal(storeFor(settings).read()?.taskArn, TASK, "cleanup can still stop it by ARN");
      assert.ok(
        lines.some((l) => l.startsWith(`Could not stop task ${TASK}: ECS StopTask failed`)),
        lines.join("\n"),
      );
    });

    it("replaces corrupt metadata of an earlier attempt and still stops that attempt's tasks by startedBy", async () => {
      const settings = settingsFor();
      const store = storeFor(settings);
      store.update(record());
      writeFileSync(store.path, "{corrupt");
      ecs.listed = [OLD_TASK];
      await prepare(settings);
      assert.deepEqual(ecs.stops, [{ arn: OLD_TASK, reason: "GitLab job 77: prepare retried" }]);
      assert.equal(store.read()?.taskArn, TASK);
      assert.equal(store.read()?.hostKey, HOST_KEY);
    });

    it("a retried prepare stops the old metadata's task and every task listed by startedBy, once each", async () => {
      const settings = settingsFor();
      storeFor(settings).update(record());
      ecs.listed = [OLD_TASK, `${OLD_TASK}-2`];
      await prepare(settings);
      assert.deepEqual(
        ecs.stops.map((s) => s.arn),
        [OLD_TASK, `${OLD_TASK}-2`],
      );
      assert.ok(ecs.stops.every((s) => s.reason === "GitLab job 77: prepare retried"));
      assert.ok(ecs.calls.indexOf(`StopTask ${OLD_TASK}-2`) < ecs.calls.indexOf("RunTask"));
    });

    it("a failing ListTasks or StopTask of an earlier attempt is a warning, not a failed prepare", async () => {
      const settings = settingsFor();
      storeFor(settings).update(record());
      ecs.listed = new SystemFailure("ECS ListTasks failed: AccessDeniedException");
      ecs.stopFailures.set(OLD_TASK, new SystemFailure("ECS StopTask failed: ThrottlingException"));
      await prepare(settings);
      assert.equal(storeFor(settings).read()?.taskArn, TASK);
    });
  });

  describe("cleanup", () => {
    it("stops the known task before asking ListTasks, and deletes the metadata", async () => {
      const settings = settingsFor();
      storeFor(settings).update(record());
      ecs.listed = [OLD_TASK, TASK];
      await cleanup(settings);
      assert.deepEqual(ecs.calls, ["DescribeTasks", `StopTask ${OLD_TASK}`, "ListTasks", `StopTask ${TASK}`]);
      assert.ok(ecs.stops.every((s) => s.reason === "GitLab job 77: cleanup"));
      assert.equal(existsSync(storeFor(settings).path), false);
    });

    it("says why a task stopped before cleanup, e.g. its watchdog", async () => {
      const settings = settingsFor();
      storeFor(settings).update(record());
      ecs.describeAnswers = [
        task("STOPPED", {
          taskArn: OLD_TASK,
          stoppedReason: "Essential container in task exited",
          containers: [{ name: "ci-coordinator", exitCode: 91 }],
        }),
      ];
      await cleanup(settings);
      assert.ok(
        lines.some((line) =>
          line.startsWith(
            `Task ${OLD_TASK} had already stopped: Essential container in task exited; container ci-coordinator: ` +
              "exit code 91, the task stopped itself: no SSH session",
          ),
        ),
        lines.join("\n"),
      );
      assert.equal(existsSync(storeFor(settings).path), false, "a stopped task is done with");
    });

    it("a failing ListTasks is only a warning when the metadata named the task", async () => {
      const settings = settingsFor();
      storeFor(settings).update(record());
      ecs.listed = new SystemFailure("ECS ListTasks failed: ThrottlingException: Rate exceeded");
      await cleanup(settings);
      assert.deepEqual(ecs.stops, [{ arn: OLD_TASK, reason: "GitLab job 77: cleanup" }]);
      assert.equal(existsSync(storeFor(settings).path), false);
      assert.ok(lines.some((l) => /^Warning: could not look for other tasks .*Rate exceeded/.test(l)));
    });

    it("a failing ListTasks fails cleanup when there is no metadata (it was the only way to find the task)", async () => {
      ecs.listed = new SystemFailure("ECS ListTasks failed: AccessDeniedException");
      await rejectsWith(cleanup(settingsFor()), /cleanup of job 77 failed: ECS ListTasks failed: AccessDenied/);
    });

    it("stops every task even when one stop fails, reports all failures, and keeps the metadata", async () => {
      const settings = settingsFor();
      storeFor(settings).update(record());
      ecs.listed = [`${OLD_TASK}-2`, `${OLD_TASK}-3`];
      ecs.stopFailures.set(OLD_TASK, new SystemFailure("ECS StopTask failed: A"));
      ecs.stopFailures.set(`${OLD_TASK}-2`, new SystemFailure("ECS StopTask failed: B"));
      await rejectsWith(cleanup(settings), /ECS StopTask failed: A; ECS StopTask failed: B$/);
      assert.deepEqual(
        ecs.stops.map((s) => s.arn),
        [`${OLD_TASK}-3`],
      );
      assert.equal(storeFor(settings).read()?.taskArn, OLD_TASK, "kept for a later cleanup");
    });

    it("deletes the metadata once the known task is stopped, even if another listed task could not be", async () => {
      const settings = settingsFor();
      storeFor(settings).update(record());
      ecs.listed = [`${OLD_TASK}-2`];
      ecs.stopFailures.set(`${OLD_TASK}-2`, new SystemFailure("ECS StopTask failed: B"));
      await rejectsWith(cleanup(settings), /ECS StopTask failed: B/);
      assert.equal(existsSync(storeFor(settings).path), false);
    });

    it("stops the task of the previous driver version's file for this job and deletes that file", async () => {
      const settings = settingsFor();
      const legacy = join(settings.metadataDirectory, "gl-h4rn3ss1-77.json");
      const otherJobs = join(settings.metadataDirectory, "gl-h4rn3ss1-770.json");
      mkdirSync(settings.metadataDirectory, { recursive: true });
      writeFileSync(legacy, JSON.stringify({ ...record(), version: 1, taskArn: `${OLD_TASK}-legacy` }));
      writeFileSync(otherJobs, JSON.stringify({ ...record(), version: 1, jobId: "770", taskArn: "arn:other" }));
      ecs.listed = [];
      await cleanup(settings);
      assert.deepEqual(ecs.stops, [{ arn: `${OLD_TASK}-legacy`, reason: "GitLab job 77: cleanup" }]);
      assert.equal(existsSync(legacy), false);
      assert.equal(existsSync(otherJobs), true, "another job's file is left alone");
    });

    it("deletes temporary files a killed prepare left next to the metadata (they hold the key)", async () => {
      const settings = settingsFor();
      const store = storeFor(settings);
      store.update(record());
      const leftover = `${store.path}.4242.tmp`;
      writeFileSync(leftover, "PRIVATE");
      ecs.listed = [];
      await cleanup(settings);
      assert.equal(existsSync(leftover), false);
      assert.equal(existsSync(store.path), false);
    });

    it("with corrupt metadata, stops the job's tasks by startedBy and deletes the file", async () => {
      const settings = settingsFor();
      const store = storeFor(settings);
      store.update(record());
      writeFileSync(store.path, "{corrupt");
      ecs.listed = [OLD_TASK];
      await cleanup(settings);
      assert.deepEqual(
        ecs.stops.map((s) => s.arn),
        [OLD_TASK],
      );
      assert.equal(existsSync(store.path), false);
      assert.ok(lines.some((l) => l.startsWith("Ignoring unreadable job metadata")));
    });
  });

  describe("run", () => {
    async function run(settings: Settings, scriptPath = join(dir, "script.sh")) {
      return runRunStage({
        scriptPath,
        stageName: "step_script",
        metadata: storeFor(settings),
        ssh: new ScriptedSsh(async () => HOST_KEY),
        out: { stdout: process.stdout, stderr: process.stderr },
        signal: new AbortController().signal,
      });
    }

    it("fails without metadata, naming the path", async () => {
      const settings = settingsFor();
      await rejectsWith(run(settings), new RegExp(`no job metadata at ${storeFor(settings).path}: prepare did not`));
    });

    it("fails when the metadata has no address or no host key yet", async () => {
      const settings = settingsFor();
      const address = { host: "10.0.0.5", port: 22, username: "root", hostKey: HOST_KEY };
      storeFor(settings).update(record({ ...address, host: undefined }));
      await rejectsWith(run(settings), /has no SSH address yet: prepare did not finish/);
      storeFor(settings).update(record({ ...address, hostKey: undefined }));
      await rejectsWith(run(settings), /has no SSH address yet/);
    });

    it("fails naming the script when it cannot be read", async () => {
      const settings = settingsFor();
      storeFor(settings).update(record({ host: "10.0.0.5", port: 22, username: "root", hostKey: HOST_KEY }));
      const missing = join(dir, "gone.sh");
      await rejectsWith(run(settings, missing), new RegExp(`cannot read the step_script script ${missing}`));
      assert.equal(existsSync(missing), false);
      assert.equal(readFileSync(storeFor(settings).path, "utf8").includes(HOST_KEY), true, "metadata untouched");
    });
  });
  describe("a metadata file written for another job with the same id", () => {
    const otherJob: Job = { id: "77", binding: "another-jobs-binding" };
    const writeOthers = (settings: Settings) =>
      new MetadataStore(settings.metadataDirectory, otherJob).update(
        record({ host: "10.0.0.9", port: 22, username: "root", hostKey: HOST_KEY }),
      );

    it("prepare fails before starting a task and leaves the file and its task alone", async () => {
      const settings = settingsFor();
      writeOthers(settings);
      const before = readFileSync(storeFor(settings).path, "utf8");
      await rejectsWith(prepare(settings), /belongs to another job/);
      assert.deepEqual(ecs.calls, []);
      assert.equal(readFileSync(storeFor(settings).path, "utf8"), before);
    });

    it("appearing while RunTask runs: prepare stops its own task and leaves that file as it was", async () => {
      const settings = settingsFor();
      const runTask = ecs.runTask.bind(ecs);
      ecs.runTask = async () => {
        writeOthers(settings);
        return runTask();
      };
      await rejectsWith(prepare(settings), /cannot write job metadata/);
      assert.deepEqual(ecs.stops, [{ arn: TASK, reason: "GitLab job 77: prepare failed" }]);
      const others = new MetadataStore(settings.metadataDirectory, otherJob).read();
      assert.equal(others?.host, "10.0.0.9", "the other job's file is still there, unchanged");
    });

    it("cleanup fails without stopping anything and keeps the file", async () => {
      const settings = settingsFor();
      writeOthers(settings);
      ecs.listed = [OLD_TASK];
      await rejectsWith(cleanup(settings), /belongs to another job/);
      assert.deepEqual(ecs.calls, []);
      assert.equal(existsSync(storeFor(settings).path), true);
    });

    it("run refuses to use its address and key", async () => {
      const settings = settingsFor();
      writeOthers(settings);
      const script = join(dir, "script.sh");
      writeFileSync(script, "true\n");
      const ssh = new ScriptedSsh(async () => HOST_KEY);
      await rejectsWith(
        runRunStage({
          scriptPath: script,
          stageName: "step_script",
          metadata: storeFor(settings),
          ssh,
          out: { stdout: process.stdout, stderr: process.stderr },
          signal: new AbortController().signal,
        }),
        /belongs to another job/,
      );
    });
  });
});
