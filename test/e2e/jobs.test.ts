/**
 * Whole jobs through the built driver (dist/driver/fargate.js), called stage by stage as gitlab-runner's custom
 * executor does, against the ECS emulator whose tasks are network namespaces running the real job image
 * entrypoint and sshd. Every scenario also checks that no emulated task and no task namespace is left. Needs root.
 */
import { strict as assert } from "node:assert";
import { existsSync, rmSync } from "node:fs";
import {
  BUILD_FAILURE_EXIT_CODE,
  JobResult,
  runDriverStage,
  SYSTEM_FAILURE_EXIT_CODE,
} from "../support/customExecutorHarness";
import { EmulatedTask } from "../support/ecsEmulator";
import { LocalFargate, LocalFargateOptions, startLocalFargate } from "../support/localFargate";
import { taskHostUnsupportedReason } from "../support/netnsTaskHost";
import { skipUnlessAvailable } from "../support/requirements";

function assertNothingLeft(fargate: LocalFargate): void {
  const { tasks, namespaces, processes } = fargate.leftovers();
  assert.deepEqual(
    tasks.map((task) => `${task.taskArn} ${task.lastStatus}`),
    [],
    "no emulated task is left running",
  );
  assert.deepEqual(namespaces, [], "no task network namespace is left");
  assert.deepEqual(processes, [], "no SSH connection of a job is left on the manager");
}

describe("end to end: jobs through the driver, the ECS emulator and real sshd task hosts", function () {
  this.timeout(120_000);
  let fargate: LocalFargate | undefined;
  let nextJobId = 5000 + Math.floor(Math.random() * 1000) * 100;
  const jobId = () => ++nextJobId;
  const start = async (options: LocalFargateOptions = {}) => {
    fargate = await startLocalFargate(options);
    return fargate;
  };

  before(function () {
    skipUnlessAvailable(this, taskHostUnsupportedReason());
  });

  afterEach(async () => {
    await fargate?.close();
    fargate = undefined;
  });

  it("happy path: every stage runs inside the task, the job succeeds, the task is stopped", async () => {
    const local = await start();
    const id = jobId();
    const result = await local.runJob({
      jobId: id,
      script: ['echo "hello from job $CI_JOB_ID on $(hostname)"', "ip -4 -o addr show scope global | awk '{print $4}'"],
      afterScript: ["echo after-script-ran"],
    });
    assert.equal(result.status, "success", result.log);
    assert.equal(result.exitCode, 0);
    const [task] = local.taskHost.history();
    assert.ok(task, "a task host was launched");
    assert.match(result.log, new RegExp(`hello from job ${id} on ${task.hostname}`));
    assert.ok(result.log.includes(`${task.privateIp}/30`), "the script saw the task's own address");
    assert.match(result.log, /after-script-ran/);
    assert.match(result.log, /Job succeeded/);
    assert.deepEqual(
      result.stages.map((stage) => stage.stage),
      [
        "config",
        "prepare",
        "run:prepare_script",
        "run:get_sources",
        "run:restore_cache",
        "run:download_artifacts",
        "run:build_script",
        "run:after_script",
        "run:archive_cache",
        "run:upload_artifacts_on_success",
        "run:cleanup_file_variables",
        "cleanup",
      ],
    );
    assert.ok(
      result.stages.every((stage) => stage.exitCode === 0),
      "every stage exited 0",
    );
    assert.equal(local.emulator.tasks().length, 1, "one task per job");
    const logins = task.log().match(/Accepted publickey/g) ?? [];
    assert.equal(logins.length, 1, `one SSH login for the whole job, its stages share it:\n${task.log()}`);
    assertNothingLeft(local);
    assert.deepEqual(local.metadataFiles(), [], "cleanup removed the job's metadata file");
  });

  it("build failure: BUILD_FAILURE exit, the script's own code in BUILD_EXIT_CODE_FILE, after_script still runs", async () => {
    const local = await start();
    const result = await local.runJob({
      jobId: jobId(),
      script: ["echo before-failure", "exit 3", "echo never-printed"],
      afterScript: ["echo after-script-ran"],
    });
    assert.equal(result.status, "build_failure", result.log);
    assert.equal(result.exitCode, BUILD_FAILURE_EXIT_CODE);
    assert.equal(result.buildExitCode, 3);
    assert.match(result.log, /before-failure/);
    assert.doesNotMatch(result.log, /never-printed/);
    assert.match(result.log, /after-script-ran/);
    assert.match(result.log, /ERROR: Job failed: exit code 3/);
    assertNothingLeft(local);
  });

  it("task stopped before RUNNING: SYSTEM_FAILURE with the stop reason in the job log", async () => {
    const local = await start({
      faults: {
        stopBeforeRunning: {
          stoppedReason: "CannotPullContainerError: pull image manifest has been retried 7 time(s)",
          containerReason: "CannotPullContainerError: ref not found",
        },
      },
    });
    const result = await local.runJob({ jobId: jobId(), script: ["echo unreachable"] });
    assert.equal(result.status, "system_failure", result.log);
    assert.equal(result.exitCode, SYSTEM_FAILURE_EXIT_CODE);
    assert.match(result.log, /CannotPullContainerError/);
    assert.ok(!result.stages.some((stage) => stage.stage.startsWith("run:")), "no run stage after a failed prepare");
    assert.equal(local.taskHost.history().length, 0, "the container never started");
    assertNothingLeft(local);
  });

  it("RunTask failures: SYSTEM_FAILURE naming the reason, no task left", async () => {
    const local = await start({ faults: { runTaskFailures: 1000, runTaskFailureReason: "RESOURCE:CPU" } });
    const result = await local.runJob({ jobId: jobId(), script: ["echo unreachable"] });
    assert.equal(result.status, "system_failure", result.log);
    assert.match(result.log, /RESOURCE:CPU/);
    assert.equal(local.emulator.tasks().length, 0);
    assertNothingLeft(local);
  });

  it("30 % of AWS calls throttled: jobs still succeed", async () => {
    const local = await start({ faults: { throttleRate: 0.3 } });
    const results = await Promise.all(
      [0, 1, 2].map(() => local.runJob({ jobId: jobId(), script: ['echo "ok $CI_JOB_ID"'] })),
    );
    for (const result of results) assert.equal(result.status, "success", result.log);
    const throttled = local.emulator.calls.filter((call) => call.throttled);
    assert.ok(throttled.length > 0, `some of the ${local.emulator.calls.length} AWS calls were throttled`);
    assert.ok(
      throttled.some((call) => call.action === "RunTask" || call.action === "DescribeTasks"),
      "calls the job depends on were throttled and retried",
    );
    assertNothingLeft(local);
  });

  it("cancel (SIGTERM) during prepare: prepare itself stops its task and exits with SYSTEM_FAILURE", async () => {
    const local = await start({ faults: { pendingMs: 4000 } });
    const id = jobId();
    let beforeCleanup: { stages: string[]; tasks: EmulatedTask[]; namespaces: string[] } | undefined;
    const result = await local.runJob(
      { jobId: id, script: ["echo unreachable"] },
      {
        // Once the task exists: how long a loaded machine takes to get there does not matter.
        cancel: { atStage: "prepare", afterMs: 500, when: () => local.emulator.tasks().length > 0 },
        graceKillMs: 20_000,
        beforeCleanup: (stages) => {
          beforeCleanup = {
            stages: stages.map((stage) => stage.stage),
            tasks: local.emulator.tasks(),
            namespaces: local.taskHost.leftoverNamespaces(),
          };
        },
      },
    );
    assert.equal(result.status, "cancelled", result.log);
    const prepare = result.stages.find((stage) => stage.stage === "prepare");
    assert.ok(prepare?.cancelled);
    assert.equal(prepare?.signal, null, "prepare handled SIGTERM and exited (it was not SIGKILLed)");
    assert.equal(prepare?.exitCode, SYSTEM_FAILURE_EXIT_CODE, prepare?.output);
    // What prepare left behind, observed before the cleanup stage ran.
    assert.deepEqual(beforeCleanup?.stages, ["config", "prepare"]);
    assert.equal(beforeCleanup?.tasks.length, 1, "prepare had started a task");
    const [task] = beforeCleanup?.tasks ?? [];
    assert.equal(task.desiredStatus, "STOPPED", "prepare stopped its task before exiting");
    assert.equal(task.stoppedReason, `GitLab job ${id}: prepare cancelled`);
    assert.deepEqual(beforeCleanup?.namespaces, [], "the task never got a container");
    assert.equal(result.stages.at(-1)?.stage, "cleanup");
    assertNothingLeft(local);
  });

  it("cleanup twice: the second cleanup succeeds and changes nothing", async () => {
    const local = await start();
    const result = await local.runJob({ jobId: jobId(), script: ["true"] }, { keepTmpDir: true });
    try {
      assert.equal(result.status, "success", result.log);
      const again = await runDriverStage("cleanup", ["cleanup"], result.env, { configFile: local.configFile });
      assert.equal(again.exitCode, 0, again.output);
      assert.equal(local.emulator.tasks().length, 1);
      assertNothingLeft(local);
    } finally {
      rmSync(result.tmpDir, { recursive: true, force: true });
    }
  });

  it("cleanup after the metadata file is lost still stops the job's task", async () => {
    const local = await start();
    let runningBeforeCleanup = 0;
    const result = await local.runJob(
      { jobId: jobId(), script: ["true"] },
      {
        runStages: false,
        afterPrepare: () => {
          runningBeforeCleanup = local.emulator.runningTasks().length;
          assert.ok(local.metadataFiles().length > 0, "prepare wrote a metadata file");
          rmSync(local.metadataDir, { recursive: true, force: true });
        },
      },
    );
    assert.equal(runningBeforeCleanup, 1);
    assert.ok(!existsSync(local.metadataDir));
    const cleanup = result.stages.at(-1);
    assert.equal(cleanup?.stage, "cleanup");
    assert.equal(cleanup?.exitCode, 0, cleanup?.output);
    const [task] = local.emulator.tasks();
    assert.equal(task.lastStatus, "STOPPED");
    assert.ok(task.stoppedReason, "the task was stopped with a reason");
    assertNothingLeft(local);
  });

  it("sshd never starts: SYSTEM_FAILURE after SSHReady, task stopped", async () => {
    const local = await start({ taskHostFaults: { sshdNeverStarts: true }, sshReadySeconds: 3 });
    const id = jobId();
    let stoppedBeforeCleanup: EmulatedTask[] = [];
    const result = await local.runJob(
      { jobId: id, script: ["echo unreachable"] },
      { beforeCleanup: () => void (stoppedBeforeCleanup = local.emulator.tasks()) },
    );
    assert.equal(result.status, "system_failure", result.log);
    assert.equal(result.exitCode, SYSTEM_FAILURE_EXIT_CODE);
    assert.match(result.log, /sshd did not accept the job's key within 3 s \(\d+ attempts\)/);
    assert.deepEqual(
      stoppedBeforeCleanup.map((task) => [task.desiredStatus, task.stoppedReason]),
      [["STOPPED", `GitLab job ${id}: prepare failed`]],
      "prepare stopped the task it gave up on",
    );
    assertNothingLeft(local);
  });

  it("UsePublicIP: the driver reads the address with DescribeNetworkInterfaces and connects to it", async () => {
    const local = await start({ usePublicIp: true });
    const result = await local.runJob({ jobId: jobId(), script: ["echo public-ok"] });
    assert.equal(result.status, "success", result.log);
    assert.match(result.log, /public-ok/);
    assert.ok(local.emulator.calls.some((call) => call.action === "DescribeNetworkInterfaces"));
    assertNothingLeft(local);
  });

  for (const spooferFirst of [false, true]) {
    it(`a job that sets CI_JOB_ID to a running job's id gets its own task and leaves the other alone (${
      spooferFirst ? "spoofer prepares first" : "victim prepares first"
    })`, async function () {
      this.timeout(180_000);
      const local = await start();
      const victimId = jobId();
      const spooferId = jobId();
      const victim = {
        jobId: victimId,
        pipelineId: 71,
        projectPath: "team/victim",
        script: ['echo "host=$(hostname)"'],
      };
      const spoofer = {
        jobId: spooferId,
        pipelineId: 72,
        projectPath: "evil/spoofer",
        script: ['echo "host=$(hostname)"'],
        // Job variables come after the predefined ones and win in CUSTOM_ENV_*.
        variables: { CI_JOB_ID: String(victimId), CI_PIPELINE_ID: "71", CI_PROJECT_PATH: "team/victim" },
      };
      const [first, second] = spooferFirst ? [spoofer, victim] : [victim, spoofer];
      // The second job runs whole while the first sits between its prepare and its run stages.
      let secondResult: JobResult | undefined;
      const firstResult = await local.runJob(first, {
        afterPrepare: async () => {
          secondResult = await local.runJob(second);
        },
      });
      const results = new Map([
        [first.jobId, firstResult],
        [second.jobId, secondResult],
      ]);
      const launched = local.taskHost.history().map((task) => task.hostname);
      const tasks = local.emulator.tasks();
      assert.equal(tasks.length, 2, "one task per job");
      [first, second].forEach((spec, index) => {
        const result = results.get(spec.jobId);
        assert.equal(result?.status, "success", result?.log);
        assert.match(result?.log ?? "", new RegExp(`host=${launched[index]}\\b`), "the job ran on its own task");
        assert.equal(tasks[index].stoppedReason, `GitLab job ${spec.jobId}: cleanup`, "stopped by its own cleanup");
        const tag = (key: string) => tasks[index].tags.find((t) => t.key === key)?.value;
        assert.equal(tag("gitlab:job"), String(spec.jobId));
        assert.equal(tag("gitlab:pipeline"), String(spec.pipelineId));
        assert.equal(tag("gitlab:project"), spec.projectPath);
      });
      assertNothingLeft(local);
      assert.deepEqual(local.metadataFiles(), []);
    });
  }

  it("20 concurrent jobs all succeed, each in its own task, and nothing is left", async function () {
    this.timeout(300_000);
    const local = await start();
    const ids = Array.from({ length: 20 }, () => jobId());
    const results = await Promise.all(
      ids.map((id) => local.runJob({ jobId: id, script: ['echo "job=$CI_JOB_ID host=$(hostname)"'] })),
    );
    const hosts = new Set<string>();
    results.forEach((result, index) => {
      assert.equal(result.status, "success", result.log);
      const match = /job=(\d+) host=(\S+)/.exec(result.log);
      assert.equal(match?.[1], String(ids[index]));
      hosts.add(match?.[2] ?? "");
    });
    assert.equal(hosts.size, 20, "every job ran in its own task");
    assert.equal(local.emulator.tasks().length, 20);
    assertNothingLeft(local);
  });
});
