/**
 * No task outlives its job when the manager dies: whole jobs through the built driver and the ECS emulator, whose
 * tasks run the job image's real entrypoint and sshd (network-namespace task host). The manager "dies" when every
 * driver process talking to the task is SIGKILLed and gitlab-runner never calls cleanup; the task then stops itself
 * once no SSH session has been open for Timeouts.TaskIdle (exit code 91, driver/contract/taskLifetime.ts). Needs root.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { DescribeTasksCommand, ECSClient, Task } from "@aws-sdk/client-ecs";
import { TASK_LIFETIME_EXIT_CODES } from "../../driver/contract/taskLifetime";
import { LocalFargate, startLocalFargate } from "../support/localFargate";
import { taskHostUnsupportedReason } from "../support/netnsTaskHost";
import { skipUnlessAvailable } from "../support/requirements";

const TASK_IDLE_SECONDS = 4;
/** The longest sshd takes to drop a client that vanished without closing its connection (sshd_config). */
const SSHD_DETECTION_SECONDS = 60;
/** Slack for a loaded machine; only ever added to an upper bound. */
const MARGIN_SECONDS = 30;

/** Whether a process of the task runs this exact command line. */
function taskRuns(local: LocalFargate, commandLine: string): boolean {
  const [task] = local.taskHost.hosts();
  if (!task) return false;
  const pids = execFileSync("ip", ["netns", "pids", task.namespace], { encoding: "utf8" }).split("\n").filter(Boolean);
  return pids.some((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim() === commandLine;
    } catch {
      return false;
    }
  });
}

/** Established TCP connections to the task's sshd (port 22), or undefined once the task is gone. */
function sshConnections(local: LocalFargate): number | undefined {
  const [task] = local.taskHost.hosts();
  if (!task) return undefined;
  try {
    return ["tcp", "tcp6"]
      .map((table) => readFileSync(`/proc/${task.pid}/net/${table}`, "utf8"))
      .join("")
      .split("\n")
      .filter((line) => /^\s*\d+: [0-9A-F]+:0016 [0-9A-F]+:[0-9A-F]+ 01 /.test(line)).length;
  } catch {
    return undefined;
  }
}

describe("end to end: the manager dies, the task stops itself", function () {
  this.timeout(180_000);
  let fargate: LocalFargate | undefined;
  let nextJobId = 9000 + Math.floor(Math.random() * 1000) * 100;
  const jobId = () => ++nextJobId;

  before(function () {
    skipUnlessAvailable(this, taskHostUnsupportedReason());
  });

  afterEach(async () => {
    await fargate?.close();
    fargate = undefined;
  });

  const start = async () => {
    fargate = await startLocalFargate({ timeoutsToml: [`TaskIdle = ${TASK_IDLE_SECONDS}`] });
    return fargate;
  };

  /** The job's task once it has STOPPED, and when the emulator first reported it so. */
  const stoppedTask = async (local: LocalFargate): Promise<{ task: Task; at: number }> => {
    const ecs = new ECSClient({
      endpoint: local.emulator.endpoint,
      region: "eu-west-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    try {
      const [{ taskArn }] = local.emulator.tasks();
      for (;;) {
        const { tasks } = await ecs.send(new DescribeTasksCommand({ cluster: "local-cluster", tasks: [taskArn] }));
        if (tasks?.[0]?.lastStatus === "STOPPED") return { task: tasks[0], at: Date.now() };
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      ecs.destroy();
    }
  };

  /** Nothing talks to the task any more: its sshd has no connection left, while the task still runs. */
  const assertNobodyConnected = async (local: LocalFargate) => {
    let connections = sshConnections(local);
    for (let i = 0; i < 100 && connections !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      connections = sshConnections(local);
    }
    assert.equal(connections, 0, "the task still runs, and no SSH connection to it is left");
  };

  /** The task host tears a stopped task down after the emulator reports it STOPPED: give it a moment. */
  const assertNothingLeft = async (local: LocalFargate) => {
    const nothing = { tasks: [], namespaces: [], sshServers: [], stateDirs: [], processes: [] };
    for (let i = 0; i < 100 && !isDeepStrictEqual(local.leftovers(), nothing); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(local.leftovers(), nothing);
  };

  const assertStoppedItself = async (local: LocalFargate, task: Task) => {
    const coordinator = task.containers?.find((c) => c.name === "ci-coordinator");
    assert.equal(coordinator?.exitCode, TASK_LIFETIME_EXIT_CODES.idle, local.taskHost.history()[0]?.log());
    assert.equal(task.stopCode, "EssentialContainerExited");
    assert.match(local.taskHost.history()[0]?.log() ?? "", /stopping the task \(exit code 91\): no SSH connection/);
    assert.equal(local.emulator.calls.filter((call) => call.action === "StopTask").length, 0, "nobody called StopTask");
    await assertNothingLeft(local);
  };

  /** The task stops itself (91) TaskIdle after its manager died at `diedAt`, and nothing is left. */
  const assertStopsItselfOnceIdle = async (local: LocalFargate, diedAt: number) => {
    const { task, at } = await stoppedTask(local);
    await assertStoppedItself(local, task);
    const seconds = (at - diedAt) / 1000;
    assert.ok(seconds >= TASK_IDLE_SECONDS - 1, `not before TaskIdle (${seconds} s)`);
    assert.ok(seconds <= TASK_IDLE_SECONDS + SSHD_DETECTION_SECONDS + MARGIN_SECONDS, `${seconds} s`);
  };

  it("dies right after prepare: the task stops itself after TaskIdle (91), nothing is left", async () => {
    const local = await start();
    const result = await local.runJob(
      { jobId: jobId(), script: ["echo never-runs"] },
      { managerDies: { afterStage: "prepare" } },
    );
    assert.equal(result.status, "lost", result.log);
    assert.deepEqual(
      result.stages.map((stage) => [stage.stage, stage.exitCode]),
      [
        ["config", 0],
        ["prepare", 0],
      ],
      "prepare succeeded, then nothing ran (no cleanup)",
    );
    const diedAt = result.stages[1].endedAt;
    assert.equal(local.emulator.runningTasks().length, 1, "the task outlived its manager at first");
    await assertNobodyConnected(local);
    await assertStopsItselfOnceIdle(local, diedAt);
  });

  it("dies during a long build_script: the driver's processes are SIGKILLed, the task stops itself (91), nothing is left", async () => {
    const local = await start();
    const result = await local.runJob(
      { jobId: jobId(), script: ["sleep 600"] },
      { managerDies: { atStage: "build_script", afterMs: 0, when: () => taskRuns(local, "sleep 600") } },
    );
    assert.equal(result.status, "lost", result.log);
    const build = result.stages.at(-1);
    assert.equal(build?.stage, "run:build_script");
    assert.equal(build?.signal, "SIGKILL", "the run stage was killed mid-script");
    assert.ok(!result.stages.some((stage) => stage.stage === "cleanup"), "no cleanup");
    const diedAt = build.endedAt;
    assert.ok(taskRuns(local, "sleep 600"), "the job's script outlived its manager at first");
    await assertNobodyConnected(local);
    await assertStopsItselfOnceIdle(local, diedAt);
  });

  it("a build_script longer than TaskIdle is not interrupted", async () => {
    const local = await start();
    const result = await local.runJob({
      jobId: jobId(),
      script: [`sleep ${TASK_IDLE_SECONDS * 2 + 2}`, "echo slept-through"],
    });
    assert.equal(result.status, "success", result.log);
    assert.match(result.log, /slept-through/);
    assert.doesNotMatch(local.taskHost.history()[0]?.log() ?? "", /stopping the task/);
    await assertNothingLeft(local);
  });
});
