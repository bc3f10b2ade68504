/**
 * prepare / run / cleanup through the real AWS SDK (HTTP ECS emulator + fake launcher) and a real sshd on
 * 127.0.0.1 that authorizes whatever SSH_PUBLIC_KEY the task was started with.
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { AddressInfo, createServer, Socket } from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import { systemClock } from "../../driver/clock";
import { createEcsPort } from "../../driver/ecs";
import { BuildFailure, Cancelled, SystemFailure } from "../../driver/errors";
import { Job, jobOverrides, startedByFor } from "../../driver/job";
import { createLogger } from "../../driver/log";
import { MetadataStore } from "../../driver/metadata";
import { parseFargateToml, Settings } from "../../driver/contract/fargateToml";
import { waitUntilListening } from "../../driver/portProbe";
import { createSshPort } from "../../driver/ssh";
import { generateEd25519KeyPair } from "../../driver/sshKeys";
import { runCleanupStage } from "../../driver/stages/cleanup";
import { PrepareDeps, runPrepareStage } from "../../driver/stages/prepare";
import { runRunStage } from "../../driver/stages/run";
import { EcsEmulator, startEcsEmulator } from "../support/ecsEmulator";
import { ciCoordinatorTaskDefinition } from "../support/ecsTaskDefinitions";
import { FakeTaskLauncher, FakeTaskLauncherOptions } from "../support/fakeTaskLauncher";
import { freePort, LocalSshd, startLocalSshd } from "../support/localSshd";
import { missingLocalSshd, skipUnlessAvailable } from "../support/requirements";

const ENV_KEYS = ["AWS_ENDPOINT_URL_ECS", "AWS_ENDPOINT_URL_EC2", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

class Capture extends Writable {
  text = "";
  _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe("driver stages through the AWS SDK, the ECS emulator and a real sshd", function () {
  let sshd: LocalSshd;
  let emulator: EcsEmulator;
  let launcher: FakeTaskLauncher;
  let dir: string;
  let lines: string[];
  const savedEnv: Record<string, string | undefined> = {};
  const job: Job = { id: "42", binding: "b1nd1ng-42", pipelineId: "7", project: "group/app" };
  const log = createLogger("error", "text", () => undefined);

  before(async function () {
    skipUnlessAvailable(this, missingLocalSshd());
    sshd = await startLocalSshd();
    for (const key of ENV_KEYS) savedEnv[key] = process.env[key];
  });
  after(async () => {
    await sshd?.stop();
    for (const key of ENV_KEYS) {
      if (savedEnv[key] === undefined) delete process.env[key];
      else process.env[key] = savedEnv[key];
    }
  });

  async function startEmulator(
    address = { privateIp: "127.0.0.1" } as { privateIp: string; publicIp?: string },
    options: FakeTaskLauncherOptions = {},
  ) {
    launcher = new FakeTaskLauncher(
      address,
      (request) => sshd.authorize(request.environment.SSH_PUBLIC_KEY ?? ""),
      options,
    );
    emulator = await startEcsEmulator({
      launcher,
      taskDefinitions: [ciCoordinatorTaskDefinition({ family: "ci-job", revision: 3 })],
    });
    process.env.AWS_ENDPOINT_URL_ECS = emulator.endpoint;
    process.env.AWS_ENDPOINT_URL_EC2 = emulator.endpoint;
    process.env.AWS_ACCESS_KEY_ID = "test";
    process.env.AWS_SECRET_ACCESS_KEY = "test";
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "driver-stages-"));
    lines = [];
    await startEmulator();
  });
  afterEach(async () => {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function settingsFor(extra = "", port = sshd.port): Settings {
    return parseFargateToml(
      `[Fargate]
Cluster = "ci"
Region = "eu-west-1"
Subnets = ["subnet-0a0a0a0a", "subnet-0b0b0b0b"]
SecurityGroup = "sg-01010101"
TaskDefinition = "ci-job:3"
MaxTaskCPU = 1024
MaxTaskMemory = 4096
${extra}
[Fargate.Tags]
team = "platform"
[TaskMetadata]
Directory = "${join(dir, "metadata")}"
[SSH]
Username = "${sshd.username}"
Port = ${port}
[Timeouts]
TaskRunning = 30
SSHReady = 5
`,
      "test.toml",
    );
  }

  function metadataFor(settings: Settings): MetadataStore {
    return new MetadataStore(settings.metadataDirectory, job);
  }

  async function prepare(
    settings: Settings,
    signal = new AbortController().signal,
    env: NodeJS.ProcessEnv = {},
    ssh = createSshPort({ connectTimeoutSeconds: 3 }),
    listening?: PrepareDeps["listening"],
  ) {
    const ecs = createEcsPort({ region: settings.fargate.region });
    try {
      await runPrepareStage({
        settings,
        job,
        overrides: jobOverrides(env, settings.fargate),
        ecs,
        ssh,
        clock: systemClock,
        metadata: metadataFor(settings),
        generateKeyPair: () => generateEd25519KeyPair("job-42"),
        print: (line) => lines.push(line),
        log,
        signal,
        poll: { initialMs: 20, maxMs: 100 },
        sshRetry: { initialMs: 50, maxMs: 200 },
        listening,
      });
    } finally {
      ecs.destroy();
    }
  }

  async function cleanup(settings: Settings) {
    const ecs = createEcsPort({ region: settings.fargate.region });
    try {
      await runCleanupStage({
        settings,
        job,
        ecs,
        metadata: metadataFor(settings),
        ssh: createSshPort(),
        print: (l) => lines.push(l),
        log,
      });
    } finally {
      ecs.destroy();
    }
  }

  async function run(settings: Settings, script: string, exitCodeFile?: string) {
    const scriptPath = join(dir, "script.sh");
    writeFileSync(scriptPath, script);
    const out = { stdout: new Capture(), stderr: new Capture() };
    const ssh = createSshPort();
    const done = runRunStage({
      scriptPath,
      stageName: "step_script",
      metadata: metadataFor(settings),
      ssh,
      out,
      buildExitCodeFile: exitCodeFile,
      signal: new AbortController().signal,
    });
    return { done, out };
  }

  it("prepare starts a tagged task with the job's key, pins the host key; run and cleanup use it", async () => {
    const settings = settingsFor(`PlatformVersion = "1.4.0"
[[Fargate.CapacityProviderStrategy]]
CapacityProvider = "FARGATE_SPOT"
Weight = 1`);
    await prepare(settings, undefined, { CUSTOM_ENV_FARGATE_TASK_CPU: "512", CUSTOM_ENV_FARGATE_TASK_MEMORY: "2048" });

    const [task] = emulator.tasks();
    assert.equal(task.lastStatus, "RUNNING");
    assert.equal(task.cluster, "ci");
    assert.equal(task.startedBy, startedByFor(job));
    assert.match(task.taskDefinitionArn, /task-definition\/ci-job:3$/);
    const tagMap = Object.fromEntries(task.tags.map((t) => [t.key, t.value]));
    assert.deepEqual(tagMap, {
      team: "platform",
      "gitlab:project": "group/app",
      "gitlab:pipeline": "7",
      "gitlab:job": "42",
    });
    const overrides = task.overrides as { cpu?: string; memory?: string; containerOverrides: { name: string }[] };
    assert.equal(overrides.cpu, "512");
    assert.equal(overrides.memory, "2048");
    assert.equal(overrides.containerOverrides[0].name, "ci-coordinator");
    const publicKey = launcher.launched[0].environment.SSH_PUBLIC_KEY;
    assert.match(publicKey, /^ssh-ed25519 /);

    const metadata = metadataFor(settings);
    const record = metadata.read();
    assert.equal(record?.taskArn, task.taskArn);
    assert.equal(record?.host, "127.0.0.1");
    assert.equal(record?.hostKey, sshd.hostKey);
    assert.equal(statSync(metadata.path).mode & 0o777, 0o600);
    assert.ok(
      lines.some((l) => l.startsWith("Task RUNNING after ") && l.includes("PENDING → RUNNING")),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => l.startsWith(`SSH ready at 127.0.0.1:${sshd.port} after `)),
      lines.join("\n"),
    );

    const ok = await run(settings, "echo hello from the task\n");
    await ok.done;
    assert.equal(ok.out.stdout.text, "hello from the task\n");

    const exitCodeFile = join(dir, "exit-code");
    const failing = await run(settings, "echo oops >&2; exit 5\n", exitCodeFile);
    await assert.rejects(failing.done, (err: unknown) => err instanceof BuildFailure && err.scriptExitCode === 5);
    assert.equal(readFileSync(exitCodeFile, "utf8").trim(), "5");
    assert.equal(failing.out.stdout.text, "oops\n", "the script's stderr is in the one job log stream");

    await cleanup(settings);
    assert.equal(emulator.runningTasks().length, 0);
    assert.equal(emulator.tasks()[0].stoppedReason, "GitLab job 42: cleanup");
    assert.equal(existsSync(metadata.path), false);
    await cleanup(settings); // twice: still fine
    assert.ok(lines.includes("No running task for job 42"));
  });

  it("logs in while ECS still reports the task PENDING when its sshd answers first", async () => {
    await emulator.close();
    // The task's network exists (ECS shows its address) a minute before its containers count as running.
    await startEmulator(undefined, { startupMs: 60_000 });
    const settings = settingsFor();
    await prepare(settings, undefined, {}, undefined, (host, port, signal) => waitUntilListening(host, port, signal));

    const [task] = emulator.tasks();
    assert.equal(task.lastStatus, "PENDING");
    assert.ok(
      lines.some((l) => l.startsWith("Task IP 127.0.0.1: sshd answers ")),
      lines.join("\n"),
    );
    assert.equal(
      lines.some((l) => l.startsWith("Task RUNNING")),
      false,
      lines.join("\n"),
    );
    assert.equal(metadataFor(settings).read()?.hostKey, sshd.hostKey);
    const ok = await run(settings, "echo ran before RUNNING\n");
    await ok.done;
    assert.equal(ok.out.stdout.text, "ran before RUNNING\n");
    await cleanup(settings);
    assert.equal(emulator.runningTasks().length, 0);
  });

  it("survives 30% throttling with adaptive retries", async function () {
    this.timeout(180_000); // adaptive mode deliberately slows the client down after throttling
    emulator.faults.throttleRate = 0.3;
    const settings = settingsFor();
    for (let i = 0; i < 2; i += 1) {
      await prepare(settings);
      await cleanup(settings);
    }
    assert.equal(emulator.runningTasks().length, 0);
    assert.equal(emulator.tasks().length, 2);
    assert.ok(
      emulator.calls.some((c) => c.throttled),
      "the emulator throttled some calls",
    );
  });

  it("reports RunTask failures and writes no metadata", async () => {
    emulator.faults.runTaskFailures = 1;
    emulator.faults.runTaskFailureReason = "RESOURCE:CPU";
    const settings = settingsFor();
    await assert.rejects(prepare(settings), (err: unknown) => {
      assert.ok(err instanceof SystemFailure);
      assert.match(err.message, /RunTask started no task: RESOURCE:CPU.*capacity/);
      return true;
    });
    assert.equal(emulator.tasks().length, 0);
    assert.equal(existsSync(metadataFor(settings).path), false);
  });

  it("fails at once with the stopped reason and container reasons when the task stops before RUNNING", async () => {
    emulator.faults.stopBeforeRunning = {
      stoppedReason: "CannotPullContainerError: pull access denied",
      containerReason: "image not found",
    };
    const settings = settingsFor();
    await assert.rejects(prepare(settings), (err: unknown) => {
      assert.ok(err instanceof SystemFailure);
      assert.match(err.message, /stopped before it was RUNNING: CannotPullContainerError: pull access denied/);
      assert.match(err.message, /container ci-coordinator: image not found/);
      return true;
    });
    assert.equal(existsSync(metadataFor(settings).path), false);
  });

  it("stops the task when cancelled while it is PENDING", async () => {
    emulator.faults.pendingMs = 60_000;
    const settings = settingsFor();
    const controller = new AbortController();
    const pending = prepare(settings, controller.signal);
    while (!emulator.tasks().some((t) => t.lastStatus === "PENDING")) await systemClock.sleep(10);
    controller.abort();
    await assert.rejects(pending, (err: unknown) => err instanceof Cancelled);
    assert.equal(emulator.runningTasks().length, 0);
    assert.equal(emulator.tasks()[0].stoppedReason, "GitLab job 42: prepare cancelled");
    assert.equal(launcher.launched.length, 0);
  });

  it("gives up on SSH with a message naming IP:port, and stops the task", async () => {
    const port = await freePort();
    const settings = settingsFor("", port);
    settings.timeouts.sshReadySeconds = 1;
    await assert.rejects(prepare(settings), (err: unknown) => {
      assert.ok(err instanceof SystemFailure);
      assert.match(err.message, new RegExp(`within 1 s .*127\\.0\\.0\\.1:${port} refused`));
      return true;
    });
    assert.equal(emulator.runningTasks().length, 0);
    assert.equal(emulator.tasks()[0].stoppedReason, "GitLab job 42: prepare failed");
  });

  it("bounds each SSH attempt by SSHReady when the port accepts TCP but never speaks SSH", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const settings = settingsFor("", (silent.address() as AddressInfo).port);
      settings.timeouts.sshReadySeconds = 3;
      // A handshake timeout far beyond mocha's: only the SSHReady bound can end this attempt.
      const patientSsh = createSshPort({ connectTimeoutSeconds: 3_600 });
      await assert.rejects(
        prepare(settings, undefined, {}, patientSsh),
        /within 3 s .*no SSH answer from 127\.0\.0\.1/,
      );
      assert.equal(emulator.runningTasks().length, 0);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("connects to the public IP from DescribeNetworkInterfaces when UsePublicIP is set", async () => {
    await emulator.close();
    // The private address is a TEST-NET address nobody answers on; only the public one reaches sshd.
    await startEmulator({ privateIp: "192.0.2.10", publicIp: "127.0.0.1" });
    const settings = settingsFor("EnablePublicIP = true\nUsePublicIP = true");
    await prepare(settings);
    assert.ok(emulator.calls.some((c) => c.action === "DescribeNetworkInterfaces"));
    assert.ok(lines.includes("Task public IP 127.0.0.1"));
    await cleanup(settings);
  });

  it("cleanup without metadata finds the job's task by startedBy", async () => {
    const settings = settingsFor();
    await prepare(settings);
    rmSync(metadataFor(settings).path);
    await cleanup(settings);
    assert.equal(emulator.runningTasks().length, 0);
    assert.equal(emulator.tasks()[0].stoppedReason, "GitLab job 42: cleanup");
    assert.ok(lines.some((l) => l.startsWith("No job metadata at")));
  });

  it("a retried prepare stops the previous attempt's task", async () => {
    const settings = settingsFor();
    await prepare(settings);
    await prepare(settings);
    assert.equal(emulator.tasks().length, 2);
    assert.equal(emulator.runningTasks().length, 1);
    assert.equal(emulator.tasks()[0].stoppedReason, "GitLab job 42: prepare retried");
    await cleanup(settings);
  });

  it("a retried prepare also stops an earlier attempt's task that never reached the metadata file", async () => {
    const settings = settingsFor();
    await prepare(settings);
    rmSync(metadataFor(settings).path); // as if the first attempt had been killed right after RunTask
    await prepare(settings);
    assert.deepEqual(
      emulator.tasks().map((t) => [t.lastStatus === "STOPPED", t.stoppedReason]),
      [
        [true, "GitLab job 42: prepare retried"],
        [false, undefined],
      ],
    );
    await cleanup(settings);
  });
});
