/**
 * Whole jobs through the built driver (dist/driver/fargate.js) against the ECS emulator, with the unprivileged
 * task host (test/support/loopbackTaskHost.ts): no root, no system package. Runs as root and as a normal user.
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, ClientChannel } from "ssh2";
import { createSshPort, SshError } from "../../driver/ssh";
import { generateEd25519KeyPair } from "../../driver/sshKeys";
import { BUILD_FAILURE_EXIT_CODE, RUN_STAGES } from "../support/customExecutorHarness";
import { LocalFargate, startUnprivilegedLocalFargate } from "../support/localFargate";
import { LoopbackTaskHost } from "../support/loopbackTaskHost";
import { missingCommand, OPENSSH_CLIENT, skipUnlessAvailable } from "../support/requirements";

function assertNothingLeft(fargate: LocalFargate<LoopbackTaskHost>): void {
  const { tasks, sshServers, processes } = fargate.leftovers();
  assert.deepEqual(
    tasks.map((task) => `${task.taskArn} ${task.lastStatus}`),
    [],
    "no emulated task is left running",
  );
  assert.deepEqual(sshServers, [], "no task SSH server is left listening");
  assert.deepEqual(processes, [], "no SSH connection of a job is left on the manager");
  for (const task of fargate.taskHost.history()) assert.ok(!existsSync(task.root), `${task.root} is deleted`);
}

describe("unprivileged task host: jobs through the driver, the ECS emulator and in-process SSH servers", function () {
  this.timeout(60_000);
  let fargate: LocalFargate<LoopbackTaskHost> | undefined;
  let nextJobId = 7000 + Math.floor(Math.random() * 1000) * 100;
  const jobId = () => ++nextJobId;

  before(function () {
    // The harness's get_sources stage makes a git checkout, as gitlab-runner would; the driver's SSH is OpenSSH's.
    skipUnlessAvailable(this, missingCommand("git", "apt-get install git") ?? missingCommand("ssh", OPENSSH_CLIENT));
  });

  beforeEach(async () => {
    fargate = await startUnprivilegedLocalFargate();
  });

  afterEach(async () => {
    await fargate?.close();
    fargate = undefined;
  });

  it("runs every stage of a job inside its task, succeeds, and stops the task", async () => {
    const local = fargate as LocalFargate<LoopbackTaskHost>;
    const id = jobId();
    const result = await local.runJob({
      jobId: id,
      script: [
        'echo "hello from job $CI_JOB_ID"',
        'echo "task address: $(echo "$SSH_CONNECTION" | cut -d " " -f 3,4)"',
        'echo "project dir: $PWD"',
        'echo "home: $HOME"',
        "git log --format=%s -1",
      ],
      afterScript: ["echo after-script-ran"],
    });
    assert.equal(result.status, "success", result.log);
    assert.equal(result.exitCode, 0);
    const [task, ...others] = local.taskHost.history();
    assert.ok(task, "a task was launched");
    assert.deepEqual(others, [], "one task per job");
    // Only the task's SSH server can have produced these lines.
    assert.match(result.log, new RegExp(`hello from job ${id}\\n`));
    assert.ok(result.log.includes(`task address: ${task.privateIp} 2222\n`), result.log);
    assert.ok(
      result.log.includes(`project dir: ${task.root}/opt/gitlab-runner/builds/demo-group/demo-project\n`),
      "the checkout is in the task's own /opt/gitlab-runner/builds",
    );
    assert.ok(result.log.includes(`home: ${task.root}/home\n`));
    assert.match(result.log, /\ninitial commit\n/, "build_script saw the commit get_sources made");
    assert.match(result.log, /after-script-ran/);
    assert.match(result.log, /Job succeeded/);
    assert.deepEqual(
      result.stages.map((stage) => stage.stage),
      ["config", "prepare", ...RUN_STAGES.map((stage) => `run:${stage}`), "cleanup"],
    );
    assert.ok(
      result.stages.every((stage) => stage.exitCode === 0),
      "every stage exited 0",
    );
    // One exec request per run sub-stage: the driver fed each script to bash in the task, every one over the
    // connection prepare opened.
    assert.equal(task.commands.length, RUN_STAGES.length, task.commands.join("\n"));
    for (const command of task.commands) assert.match(command, /\( bash \) 2>&1/);
    assert.equal(task.logins, 1, "one SSH login for the whole job");
    assert.equal(local.emulator.tasks()[0]?.stoppedReason, `GitLab job ${id}: cleanup`);
    assertNothingLeft(local);
    assert.deepEqual(local.metadataFiles(), [], "cleanup removed the job's metadata file");
  });

  it("a failing script: BUILD_FAILURE with the script's exit code, after_script still runs", async () => {
    const local = fargate as LocalFargate<LoopbackTaskHost>;
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
    assertNothingLeft(local);
  });

  it("a task without SSH_PUBLIC_KEY stops on its own, as the image's entrypoint does", async () => {
    const host = new LoopbackTaskHost();
    const task = await host.launch({
      taskArn: "arn:aws:ecs:eu-west-1:1:task/c/nokey",
      taskId: "nokey",
      environment: {},
    });
    assert.deepEqual(await task.exited, {
      exitCode: 1,
      reason: "Essential container in task exited (exit code 1): SSH_PUBLIC_KEY is not set",
    });
    assert.deepEqual(host.hosts(), []);
  });

  describe("one task's SSH server", () => {
    const key = generateEd25519KeyPair("task-key");
    let host: LoopbackTaskHost;
    let address: string;
    let connections: string;
    let attempts = 0;
    before(() => {
      connections = mkdtempSync(join(tmpdir(), "unprivileged-ssh-"));
    });
    after(() => rmSync(connections, { recursive: true, force: true }));
    beforeEach(async () => {
      host = new LoopbackTaskHost();
      const task = await host.launch({
        taskArn: "arn:aws:ecs:eu-west-1:1:task/c/ssh",
        taskId: "ssh",
        environment: { SSH_PUBLIC_KEY: key.publicKey, FROM_TASK_DEFINITION: "visible" },
      });
      address = task.privateIp;
    });
    afterEach(() => host.stopAll());

    const target = (privateKey = key.privateKey, username = host.ssh.username) => ({
      host: address,
      port: host.ssh.port,
      username,
      privateKey,
      connectionDirectory: join(connections, `${username}-${privateKey.length}-${(attempts += 1)}`),
    });

    it("accepts the task's key only, for its login only", async () => {
      const ssh = createSshPort({ connectTimeoutSeconds: 5 });
      const own = target();
      assert.match(await ssh.open(own), /^ssh-ed25519 /);
      await ssh.close(own);
      for (const refused of [target(generateEd25519KeyPair("stranger").privateKey), target(undefined, "root")]) {
        await assert.rejects(ssh.open(refused), (error: unknown) => error instanceof SshError && error.kind === "auth");
      }
    });

    /** Runs `command` over SSH with `script` on stdin, then EOF; with `onOutput`, stdin stays open to answer. */
    async function exec(command: string, script: string, onOutput?: (stdout: string, channel: ClientChannel) => void) {
      const client = new Client();
      await new Promise<void>((resolve, reject) => {
        client.once("ready", resolve).once("error", reject);
        client.connect({ ...target(), readyTimeout: 5000 });
      });
      try {
        return await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
          client.exec(command, (error, channel) => {
            if (error) return reject(error);
            const result = { code: -1, stdout: "", stderr: "" };
            channel.on("data", (chunk: Buffer) => {
              result.stdout += chunk.toString();
              onOutput?.(result.stdout, channel);
            });
            channel.stderr.on("data", (chunk: Buffer) => (result.stderr += chunk.toString()));
            channel.on("exit", (code: number) => (result.code = code));
            channel.on("close", () => resolve(result));
            if (onOutput) channel.write(script);
            else channel.end(script);
          });
        });
      } finally {
        client.end();
      }
    }

    it("streams stdout and stderr, reports the exit code, and hands the task's environment to scripts", async () => {
      const result = await exec(
        "bash",
        'echo "out $FROM_TASK_DEFINITION ${SSH_PUBLIC_KEY:-no key}"; echo err >&2; exit 42\n',
      );
      assert.deepEqual(result, { code: 42, stdout: "out visible no key\n", stderr: "err\n" });
    });

    it("delivers the signal request to the running script", async () => {
      const result = await exec(
        "bash",
        "trap 'echo got TERM; exit 7' TERM\necho ready\nsleep 30 & wait\n",
        (stdout, channel) => {
          if (stdout === "ready\n") channel.signal("TERM");
        },
      );
      assert.deepEqual(result, { code: 7, stdout: "ready\ngot TERM\n", stderr: "" });
    });
  });
});
