import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RegisterTaskDefinitionCommandInput, TaskDefinition } from "@aws-sdk/client-ecs";
import { parseFargateToml } from "../../../driver/contract/fargateToml";
import { IMAGE_TASK } from "../../../driver/contract/imageTasks";
import { Cancelled, JobError, SystemFailure } from "../../../driver/errors";
import { JobContainers } from "../../../driver/jobImages";
import { createLogger } from "../../../driver/log";
import { MetadataStore } from "../../../driver/metadata";
import { Clock, EcsPort, RunTaskInput, SshPort, TaskDefinitionPort, TaskView } from "../../../driver/ports";
import { runPrepareStage } from "../../../driver/stages/prepare";

const TASK = "arn:aws:ecs:eu-west-1:123456789012:task/ci/t1";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey";
const BASE: TaskDefinition = {
  family: "ci-job",
  revision: 3,
  containerDefinitions: [{ name: "ci-coordinator", image: "ci:1", essential: true }],
};

/** ECS with task definitions in memory; DescribeTasks answers `answer`. */
class Ecs implements EcsPort, TaskDefinitionPort {
  calls: string[] = [];
  runInputs: RunTaskInput[] = [];
  registered: RegisterTaskDefinitionCommandInput[] = [];
  stopped: string[] = [];
  answer: TaskView = { taskArn: TASK, lastStatus: "RUNNING", containers: [], privateIp: "10.0.0.5" };
  async runTask(input: RunTaskInput) {
    this.calls.push("RunTask");
    this.runInputs.push(input);
    return { taskArn: TASK, failures: [] };
  }
  async describeTask() {
    return this.answer;
  }
  async stopTask(_c: string, arn: string) {
    this.stopped.push(arn);
  }
  async listTasksStartedBy() {
    return [];
  }
  async publicIp() {
    return undefined;
  }
  async describeTaskDefinition(reference: string) {
    this.calls.push(`DescribeTaskDefinition ${reference}`);
    if (reference === "ci-job:3") return BASE;
    const found = this.registered.find((r) => r.family === reference);
    return found ? { family: reference, revision: 1 } : undefined;
  }
  async registerTaskDefinition(input: RegisterTaskDefinitionCommandInput) {
    this.calls.push("RegisterTaskDefinition");
    this.registered.push(input);
    return `${input.family}:1`;
  }
}

/** SSH whose sessions are recorded; `exitCodes` answers the sessions in order (default 0). */
class Ssh implements SshPort {
  sessions: { command?: string; script: string }[] = [];
  exitCodes: number[] = [];
  async open() {
    return HOST_KEY;
  }
  async close() {}
  async runScript(
    _t: unknown,
    script: string,
    out: { stdout: NodeJS.WritableStream },
    _s?: AbortSignal,
    command?: string,
  ) {
    this.sessions.push({ command, script });
    const code = this.exitCodes[this.sessions.length - 1] ?? 0;
    if (code !== 0) out.stdout.write("enter-build-container: no build container process found\n");
    return code;
  }
}

const clock: Clock = {
  now: () => Date.now(),
  sleep: async (_ms: number, signal?: AbortSignal) => {
    if (signal?.aborted) throw new Cancelled();
  },
};

describe("prepare for a job with its own image and services (injected ports)", () => {
  let dir: string;
  let ecs: Ecs;
  let ssh: Ssh;
  let lines: string[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "prepare-images-"));
    ecs = new Ecs();
    ssh = new Ssh();
    lines = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const settings = () =>
    parseFargateToml(
      `[Fargate]\nCluster = "ci"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci-job:3"\n` +
        `[TaskMetadata]\nDirectory = "${join(dir, "metadata")}"\n`,
      "test.toml",
    );
  const job = { id: "5", binding: "b5" };
  const store = () => new MetadataStore(join(dir, "metadata"), job);
  const prepare = (containers?: JobContainers) =>
    runPrepareStage({
      settings: settings(),
      job,
      overrides: { taskDefinition: "ci-job:3", size: {} },
      containers,
      ecs,
      taskDefinitions: ecs,
      ssh,
      clock,
      metadata: store(),
      generateKeyPair: () => ({ privateKey: "PRIVATE", publicKey: "ssh-ed25519 AAAA job" }),
      print: (line) => lines.push(line),
      log: createLogger("error", "text", () => undefined),
      signal: new AbortController().signal,
      poll: { initialMs: 1, maxMs: 1 },
      sshRetry: { initialMs: 1, maxMs: 1 },
    });
  const withImage: JobContainers = {
    image: "ruby:3.3",
    services: [{ image: "postgres:15", hostnames: ["db", "postgres"], variables: { POSTGRES_PASSWORD: "pw" } }],
    notices: [],
  };

  it("runs a job without image or services exactly as before: the configured task definition, no extra call", async () => {
    await prepare({ services: [], notices: ['Ignoring image "x": …'] });
    assert.deepEqual(ecs.calls, ["RunTask"]);
    assert.equal(ecs.runInputs[0].taskDefinition, "ci-job:3");
    assert.deepEqual(ssh.sessions, [], "no session besides the readiness probe");
    assert.equal(store().read()?.buildContainer, undefined);
    assert.ok(lines.includes('Ignoring image "x": …'), "the notice reaches the job log");
  });

  it("registers the image's task definition, runs it, enters the build container and adds the service names", async () => {
    await prepare(withImage);
    const family = ecs.registered[0].family ?? "";
    assert.deepEqual(ecs.calls, [
      "DescribeTaskDefinition ci-job:3",
      `DescribeTaskDefinition ${family}`,
      `DescribeTaskDefinition ${family}`,
      "RegisterTaskDefinition",
      "RunTask",
    ]);
    const input = ecs.runInputs[0];
    assert.equal(input.taskDefinition, `${family}:1`);
    assert.deepEqual(input.overrides?.containerOverrides?.[1], {
      name: "service-0",
      environment: [{ name: "POSTGRES_PASSWORD", value: "pw" }],
    });
    assert.deepEqual(ssh.sessions, [
      { command: IMAGE_TASK.enterBuild, script: "exit 0\n" },
      { command: `${IMAGE_TASK.enterBuild} --hosts 'db postgres'`, script: "" },
    ]);
    assert.equal(store().read()?.buildContainer, true);
    assert.ok(lines.includes(`Using image ruby:3.3 (task definition ${family}:1, registered)`), lines.join("\n"));
    assert.ok(lines.includes("Service postgres:15 as db, postgres (container service-0)"));
  });

  it("reuses the registered definition for the next job", async () => {
    await prepare(withImage);
    ecs.calls = [];
    rmSync(join(dir, "metadata"), { recursive: true });
    await prepare(withImage);
    assert.ok(!ecs.calls.includes("RegisterTaskDefinition"));
    assert.ok(lines.some((l) => /task definition ci-job-image-[0-9a-f]{16}:1, reused/.test(l)));
  });

  it("writes the service names to ci-coordinator's /etc/hosts when the job has services but no image", async () => {
    await prepare({ services: withImage.services, notices: [] });
    assert.deepEqual(ssh.sessions, [
      { command: "bash", script: "printf '%s\\n' '127.0.0.1 db postgres' >> /etc/hosts\n" },
    ]);
    assert.equal(store().read()?.buildContainer, undefined);
  });

  it("fails as a system failure, and stops the task, when enter-build-container cannot enter the build container", async () => {
    ssh.exitCodes = [IMAGE_TASK.enterBuildFailed];
    await assert.rejects(
      prepare(withImage),
      (err: unknown) =>
        err instanceof SystemFailure &&
        /could not enter the build container \(exit code 125\): enter-build-container: no build container/.test(
          err.message,
        ),
    );
    assert.deepEqual(ecs.stopped, [TASK]);
  });

  it("fails the job when the image's own shell fails (e.g. an image for another CPU architecture)", async () => {
    ssh.exitCodes = [126];
    await assert.rejects(
      prepare(withImage),
      (err: unknown) => err instanceof JobError && /exit code 126/.test(err.message),
    );
    assert.deepEqual(ecs.stopped, [TASK]);
  });

  it("fails the job before RunTask when the services' variables do not fit RunTask's 8 KiB of overrides", async () => {
    const big = { ...withImage, services: [{ ...withImage.services[0], variables: { BLOB: "x".repeat(9000) } }] };
    await assert.rejects(
      prepare(big),
      (err: unknown) => err instanceof JobError && /over ECS's limit of 8192/.test(err.message),
    );
    assert.ok(!ecs.calls.includes("RunTask"));
  });

  it("fails the job (no retry) when its own image cannot be pulled, the system when ours cannot", async () => {
    const pullFailure = (container: string): TaskView => ({
      taskArn: TASK,
      lastStatus: "STOPPED",
      stoppedReason: "CannotPullContainerError: pull image manifest has been retried 7 time(s): ruby:3.3: not found",
      containers: [{ name: container, reason: "CannotPullContainerError: ruby:3.3: not found" }],
    });
    ecs.answer = pullFailure("build");
    await assert.rejects(
      prepare(withImage),
      (err: unknown) => err instanceof JobError && /CannotPullContainerError.*ruby:3\.3/.test(err.message),
    );
    ecs.answer = pullFailure("ci-coordinator");
    rmSync(join(dir, "metadata"), { recursive: true, force: true });
    await assert.rejects(prepare(withImage), (err: unknown) => err instanceof SystemFailure);
  });
});
