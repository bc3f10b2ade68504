/**
 * The bundled CLI (dist/driver/fargate.js) as gitlab-runner runs it: exit codes, stdout contract, signals, and
 * proof that the run stage does not load the AWS SDK.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { version } from "../../package.json";
import { jobFromPayload } from "../../driver/job";
import { MetadataStore } from "../../driver/metadata";
import { generateEd25519KeyPair } from "../../driver/sshKeys";
import { EcsEmulator, startEcsEmulator } from "../support/ecsEmulator";
import { ciCoordinatorTaskDefinition } from "../support/ecsTaskDefinitions";
import { FakeTaskLauncher } from "../support/fakeTaskLauncher";
import { LocalSshd, startLocalSshd } from "../support/localSshd";
import { missingLocalSshd, skipUnlessAvailable } from "../support/requirements";

const BUNDLE = "dist/driver/fargate.js";
const SYSTEM = 7;
const BUILD = 9;
/** The fargate.toml's TaskDefinition, registered in the emulator. */
const TASK_DEFINITIONS = [ciCoordinatorTaskDefinition({ family: "ci-job", revision: 1 })];
const JOB_PAYLOAD = JSON.stringify({ id: 1234, token: "job-token-1234", job_info: { project_id: 5 } });

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function waitForExit(child: ChildProcess): Promise<Result> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

describe("driver CLI bundle", function () {
  let dir: string;
  let configPath: string;
  let sshd: LocalSshd | undefined;
  let emulator: EcsEmulator | undefined;
  const children: ChildProcess[] = [];

  before(() => {
    if (!existsSync(BUNDLE)) execFileSync("npm", ["run", "build:driver"], { stdio: "ignore" });
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driver-cli-"));
    configPath = join(dir, "fargate.toml");
    writeFileSync(
      configPath,
      `LogLevel = "info"
[Fargate]
Cluster = "ci"
Region = "eu-west-1"
Subnet = "subnet-0a0a0a0a"
SecurityGroup = "sg-01010101"
TaskDefinition = "ci-job:1"
[TaskMetadata]
Directory = "${join(dir, "metadata")}"
[SSH]
Username = "root"
Port = 22
`,
    );
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
    await emulator?.close();
    emulator = undefined;
    await sshd?.stop();
    sshd = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const jobEnv = {
    JOB_RESPONSE_FILE: "",
    CUSTOM_ENV_CI_JOB_ID: "1234",
    SYSTEM_FAILURE_EXIT_CODE: String(SYSTEM),
    BUILD_FAILURE_EXIT_CODE: String(BUILD),
  };
  beforeEach(() => {
    jobEnv.JOB_RESPONSE_FILE = join(dir, "response.json");
    writeFileSync(jobEnv.JOB_RESPONSE_FILE, JOB_PAYLOAD, { mode: 0o600 });
  });

  function start(args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): ChildProcess {
    const child = spawn(process.execPath, [...nodeArgs, BUNDLE, ...args], {
      env: { PATH: process.env.PATH, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    return child;
  }

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []) =>
    waitForExit(start(args, env, nodeArgs));

  it("config prints exactly one JSON object and nothing else", async () => {
    const result = await cli(["--config", configPath, "custom", "config"], jobEnv);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim().split("\n").length, 1);
    const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed).sort(), [
      "builds_dir",
      "builds_dir_is_shared",
      "cache_dir",
      "driver",
      "hostname",
      "shell",
    ]);
    assert.equal(parsed.builds_dir, "/opt/gitlab-runner/builds");
    assert.equal(parsed.cache_dir, "/opt/gitlab-runner/cache");
    assert.equal(parsed.builds_dir_is_shared, false);
    assert.equal(parsed.shell, "bash");
    assert.deepEqual(parsed.driver, { name: "gitlab-fargate-runner", version });
  });

  it("accepts the documented example fargate.toml without warnings", async () => {
    const result = await cli(["--config", "docs/fargate.example.toml", "custom", "config"], jobEnv);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.equal((JSON.parse(result.stdout) as { shell: string }).shell, "bash");
  });

  it("warns about unknown keys on stderr, or in --log-file when given", async () => {
    writeFileSync(configPath, `${readFileSync(configPath, "utf8")}[Timeouts]\nSSHReadyy = 5\n`);
    const plain = await cli(["--config", configPath, "custom", "config"], jobEnv);
    assert.equal(plain.code, 0);
    assert.match(plain.stderr, /level=warn msg="ignoring unknown keys in .*: Timeouts\.SSHReadyy"/);
    const logFile = join(dir, "driver.log");
    const logged = await cli(
      ["--config", configPath, "--log-format", "json", "--log-file", logFile, "custom", "config"],
      jobEnv,
    );
    assert.equal(logged.stderr, "");
    assert.equal((JSON.parse(readFileSync(logFile, "utf8")) as { level: string }).level, "warn");
    JSON.parse(logged.stdout);
  });

  it("a bad fargate.toml exits SYSTEM_FAILURE with one line naming the key", async () => {
    writeFileSync(configPath, `[Fargate]\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "x"\n`);
    const result = await cli(["--config", configPath, "custom", "config"], jobEnv);
    assert.equal(result.code, SYSTEM);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, `ERROR: ${configPath}: Fargate.Cluster is required\n`);
  });

  it("a missing job payload and missing arguments exit SYSTEM_FAILURE naming them", async () => {
    const noJob = await cli(["--config", configPath, "custom", "prepare"], {
      SYSTEM_FAILURE_EXIT_CODE: "7",
      CUSTOM_ENV_CI_JOB_ID: "1234",
    });
    assert.equal(noJob.code, SYSTEM);
    assert.match(noJob.stderr, /^ERROR: JOB_RESPONSE_FILE is not set/);
    const noScript = await cli(["--config", configPath, "custom", "run"], jobEnv);
    assert.equal(noScript.code, SYSTEM);
    assert.match(noScript.stderr, /run needs script_path and stage_name/);
    const noStage = await cli(["--config", configPath, "custom", "deploy"], jobEnv);
    assert.equal(noStage.code, SYSTEM);
    assert.match(noStage.stderr, /unknown stage "deploy"/);
  });

  describe("with a real sshd", function () {
    let loadLog: string;
    let hook: string;

    before(function () {
      skipUnlessAvailable(this, missingLocalSshd());
    });

    beforeEach(async () => {
      sshd = await startLocalSshd();
      const keys = generateEd25519KeyPair("cli-test");
      sshd.authorize(keys.publicKey);
      new MetadataStore(join(dir, "metadata"), jobFromPayload(JOB_PAYLOAD, "payload")).create({
        cluster: "ci",
        taskArn: "arn:aws:ecs:eu-west-1:123456789012:task/ci/0123",
        startedBy: "gitlab-job-1234",
        jobId: "1234",
        privateKey: keys.privateKey,
        createdAt: new Date().toISOString(),
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
        hostKey: sshd.hostKey,
      });
      // Records every module the process asks Node to load (the bundle still requires Node built-ins).
      loadLog = join(dir, "loads.json");
      hook = join(dir, "record-loads.js");
      writeFileSync(
        hook,
        `const Module = require("module");
const seen = [];
const load = Module._load;
Module._load = function (request, ...rest) { seen.push(request); return load.call(this, request, ...rest); };
process.on("exit", () => require("fs").writeFileSync(process.env.LOAD_LOG, JSON.stringify(seen)));
`,
      );
    });

    const loads = (): string[] => JSON.parse(readFileSync(loadLog, "utf8")) as string[];
    const loadsAwsSdk = (requests: string[]) => requests.some((r) => r === "node:http2" || r === "http2");

    it("run maps script failure to BUILD_FAILURE, writes BUILD_EXIT_CODE_FILE, and never loads the AWS SDK", async () => {
      const script = join(dir, "script.sh");
      writeFileSync(script, "echo to-stdout; echo to-stderr >&2; exit 4\n");
      const exitCodeFile = join(dir, "exit-code");
      const env = { ...jobEnv, BUILD_EXIT_CODE_FILE: exitCodeFile, LOAD_LOG: loadLog };
      const result = await cli(["--config", configPath, "custom", "run", script, "step_script"], env, [
        "--require",
        hook,
      ]);
      assert.equal(result.code, BUILD, result.stderr);
      assert.equal(result.stdout, "to-stdout\nto-stderr\n", "one stream for the job log, in the script's order");
      assert.equal(result.stderr, "");
      assert.equal(readFileSync(exitCodeFile, "utf8").trim(), "4");
      const requests = loads();
      assert.ok(requests.includes("node:crypto") || requests.includes("crypto"), "the hook saw ssh2's requires");
      assert.equal(loadsAwsSdk(requests), false, `run loaded the AWS SDK: ${requests.join(", ")}`);
    });

    it("cleanup does load the AWS SDK (the check above can fail) and reaches the endpoint from AWS_ENDPOINT_URL_ECS", async () => {
      emulator = await startEcsEmulator({ launcher: new FakeTaskLauncher(), taskDefinitions: TASK_DEFINITIONS });
      const env = { ...jobEnv, AWS_ENDPOINT_URL_ECS: emulator.endpoint, LOAD_LOG: loadLog };
      const result = await cli(["--config", configPath, "custom", "cleanup"], env, ["--require", hook]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(loadsAwsSdk(loads()));
      assert.deepEqual(
        emulator.calls.filter((c) => !c.throttled).map((c) => c.action),
        ["DescribeTasks", "StopTask", "ListTasks"],
      );
    });

    it("run holds back output gitlab-runner does not read yet instead of buffering it, and loses none of it", async function () {
      this.timeout(180_000);
      // stdout and stderr interleaved, as with `set -x` or a build tool's progress on stderr.
      const rounds = 2048;
      const chunk = 256 * 1024;
      const script = join(dir, "script.sh");
      writeFileSync(
        script,
        `for i in $(seq ${rounds}); do head -c ${chunk} /dev/zero; printf x >&2; done; echo burst-done >&2\n`,
      );
      const child = start(["--config", configPath, "custom", "run", script, "step_script"], jobEnv);
      const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
      let stderr = "";
      child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
      // gitlab-runner busy: nothing reads the job log for a while, then everything is read.
      let peakKiB = 0;
      for (let i = 0; i < 40; i += 1) {
        await new Promise((r) => setTimeout(r, 100));
        const status = existsSync(`/proc/${child.pid}/status`) ? readFileSync(`/proc/${child.pid}/status`, "utf8") : "";
        peakKiB = Math.max(peakKiB, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
      }
      let received = 0;
      let tail = "";
      child.stdout?.on("data", (c: Buffer) => {
        received += c.length;
        tail = (tail + c.subarray(-64).toString()).slice(-64);
      });
      assert.equal(await closed, 0, stderr);
      assert.ok(peakKiB > 0, "the driver's memory was sampled");
      assert.ok(peakKiB < 200 * 1024, `the driver held ${Math.round(peakKiB / 1024)} MiB while nobody read its output`);
      assert.equal(received, rounds * (chunk + 1) + "burst-done\n".length, "every byte reached the job log");
      assert.match(tail, /burst-done\n$/);
    });

    it("run delivers the end of the job log to a slow reader before it exits, also after a failed script", async function () {
      this.timeout(60_000);
      const script = join(dir, "script.sh");
      writeFileSync(script, "head -c 3000000 /dev/zero; echo LAST-LINE; exit 3\n");
      const child = start(["--config", configPath, "custom", "run", script, "step_script"], jobEnv);
      const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
      // A reader that takes one chunk every 5 ms (Node's child_process resumes the stream once the driver exited).
      const chunks: Buffer[] = [];
      child.stdout?.on("data", (c: Buffer) => {
        chunks.push(c);
        child.stdout?.pause();
        setTimeout(() => child.stdout?.resume(), 5);
      });
      assert.equal(await closed, BUILD);
      const received = Buffer.concat(chunks);
      assert.equal(received.length, 3_000_000 + "LAST-LINE\n".length);
      assert.match(received.subarray(-16).toString(), /LAST-LINE\n$/);
    });

    it("SIGTERM during run ends the session and exits SYSTEM_FAILURE", async () => {
      const script = join(dir, "script.sh");
      writeFileSync(script, "echo started; sleep 60\n");
      const child = start(["--config", configPath, "custom", "run", script, "step_script"], jobEnv);
      const exit = waitForExit(child);
      await new Promise<void>((resolve) => {
        child.stdout?.on("data", (c: Buffer) => c.toString().includes("started") && resolve());
      });
      child.kill("SIGTERM");
      const result = await exit;
      assert.equal(result.code, SYSTEM);
      assert.match(result.stderr, /Received SIGTERM/);
    });
  });

  describe("a driver crash is a system failure, never a build failure", () => {
    async function prepareWithHook(hookSource: string): Promise<Result> {
      emulator = await startEcsEmulator({
        launcher: new FakeTaskLauncher(),
        taskDefinitions: TASK_DEFINITIONS,
        faults: { pendingMs: 60_000 },
      });
      const hook = join(dir, "crash.js");
      writeFileSync(hook, hookSource);
      const env = { ...jobEnv, AWS_ENDPOINT_URL_ECS: emulator.endpoint };
      return cli(["--config", configPath, "custom", "prepare"], env, ["--require", hook]);
    }

    it("an uncaught exception exits SYSTEM_FAILURE with one ERROR line", async () => {
      const result = await prepareWithHook(`setImmediate(() => { throw new Error("boom from a bug"); });\n`);
      assert.equal(result.code, SYSTEM, result.stderr);
      assert.deepEqual(
        result.stderr.split("\n").filter((l) => l.startsWith("ERROR:")),
        ["ERROR: driver crashed: boom from a bug"],
      );
    });

    it("an unhandled promise rejection exits SYSTEM_FAILURE with one ERROR line", async () => {
      const result = await prepareWithHook(`setImmediate(() => { Promise.reject(new Error("lost promise")); });\n`);
      assert.equal(result.code, SYSTEM, result.stderr);
      assert.deepEqual(
        result.stderr.split("\n").filter((l) => l.startsWith("ERROR:")),
        ["ERROR: driver crashed (unhandled rejection): lost promise"],
      );
    });

    it("a closed stdout (EPIPE) exits SYSTEM_FAILURE with one ERROR line, not 0 or 1", async () => {
      const child = start(["--config", configPath, "custom", "config"], jobEnv);
      child.stdout?.destroy(); // gitlab-runner went away: the config JSON cannot be delivered
      const result = await waitForExit(child);
      assert.equal(result.code, SYSTEM, result.stderr);
      assert.equal(result.stderr, "ERROR: driver could not write the job log: write EPIPE\n");
    });
  });

  it("uses AWS_REGION when fargate.toml has no Region", async () => {
    emulator = await startEcsEmulator({ launcher: new FakeTaskLauncher(), taskDefinitions: TASK_DEFINITIONS });
    writeFileSync(configPath, readFileSync(configPath, "utf8").replace(/^Region = .*\n/m, ""));
    const env = { ...jobEnv, AWS_ENDPOINT_URL_ECS: emulator.endpoint, AWS_REGION: "ap-south-1" };
    const result = await cli(["--config", configPath, "custom", "cleanup"], env);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(emulator.calls.length > 0);
    assert.ok(emulator.calls.every((c) => c.region === "ap-south-1"));
  });

  it("prepare logs once which address it connects to when EnablePublicIP is set without UsePublicIP", async () => {
    emulator = await startEcsEmulator({
      launcher: new FakeTaskLauncher(),
      taskDefinitions: TASK_DEFINITIONS,
      faults: { runTaskFailures: 1 },
    });
    writeFileSync(
      configPath,
      readFileSync(configPath, "utf8").replace("[Fargate]\n", "[Fargate]\nEnablePublicIP = true\n"),
    );
    const env = { ...jobEnv, AWS_ENDPOINT_URL_ECS: emulator.endpoint };
    const result = await cli(["--config", configPath, "custom", "prepare"], env);
    assert.equal(result.code, SYSTEM, result.stderr);
    const notices = result.stderr.split("\n").filter((line) => line.includes("without Fargate.UsePublicIP"));
    assert.equal(notices.length, 1, result.stderr);
    assert.match(notices[0], /level=info .*connecting to each task's private IP/);
  });

  it("SIGTERM during prepare stops the task and exits SYSTEM_FAILURE", async () => {
    emulator = await startEcsEmulator({
      launcher: new FakeTaskLauncher(),
      taskDefinitions: TASK_DEFINITIONS,
      faults: { pendingMs: 60_000 },
    });
    const child = start(["--config", configPath, "custom", "prepare"], {
      ...jobEnv,
      AWS_ENDPOINT_URL_ECS: emulator.endpoint,
    });
    const exit = waitForExit(child);
    while (!emulator.tasks().some((t) => t.lastStatus === "PENDING")) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGTERM");
    const result = await exit;
    assert.equal(result.code, SYSTEM, result.stderr);
    assert.equal(emulator.runningTasks().length, 0);
    assert.equal(emulator.tasks()[0].stoppedReason, "GitLab job 1234: prepare cancelled");
    assert.match(result.stdout, /Stopped task arn:aws:ecs:/);
    assert.deepEqual(readdirSafe(join(dir, "metadata")), []);
  });
});

function readdirSafe(path: string): string[] {
  return existsSync(path) ? readdirSync(path) : [];
}
