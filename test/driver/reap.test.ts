import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ECSClient, RunTaskCommand } from "@aws-sdk/client-ecs";
import { parseFargateToml } from "../../driver/contract/fargateToml";
import { createEcsPort } from "../../driver/ecs";
import { reapManagerTasks } from "../../driver/reap";
import { execFile } from "node:child_process";
import { DRIVER_BUNDLE } from "../support/customExecutorHarness";
import { EcsEmulator, startEcsEmulator } from "../support/ecsEmulator";
import { ciCoordinatorTaskDefinition } from "../support/ecsTaskDefinitions";
import { FakeTaskLauncher } from "../support/fakeTaskLauncher";

const CLUSTER = "shared";
const toml = (manager?: string) =>
  `[Fargate]\nCluster = "${CLUSTER}"\nRegion = "eu-west-1"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci:1"\n` +
  (manager ? `[Manager]\nID = "${manager}"\n` : "");

describe("reap: a manager stops its own tasks when gitlab-runner starts (AWS SDK against the ECS emulator)", () => {
  let emulator: EcsEmulator;
  let client: ECSClient;
  let saved: NodeJS.ProcessEnv;
  beforeEach(async () => {
    emulator = await startEcsEmulator({
      launcher: new FakeTaskLauncher({ privateIp: "10.0.0.7" }),
      taskDefinitions: [ciCoordinatorTaskDefinition({ family: "ci", revision: 1 })],
    });
    client = new ECSClient({
      region: "eu-west-1",
      endpoint: emulator.endpoint,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    });
    saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_ECS: emulator.endpoint,
      AWS_ACCESS_KEY_ID: "a",
      AWS_SECRET_ACCESS_KEY: "b",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    });
  });
  afterEach(async () => {
    process.env = saved;
    client.destroy();
    await emulator.close();
  });

  /** Starts a task tagged with `manager` (none: untagged), in `cluster`. */
  async function task(manager: string | undefined, cluster = CLUSTER): Promise<string> {
    const tags = manager ? [{ key: "gitlab:manager", value: manager }] : [{ key: "team", value: "x" }];
    const out = await client.send(
      new RunTaskCommand({
        cluster,
        taskDefinition: "ci:1",
        networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-0a0a0a0a"] } },
        tags,
      }),
    );
    return out.tasks?.[0]?.taskArn ?? "";
  }
  const running = () => emulator.runningTasks().map((t) => t.taskArn);

  it("stops every task tagged with this manager and no other task", async () => {
    const mine = [await task("i-0aaa"), await task("i-0aaa")];
    const others = [await task("i-0bbb"), await task(undefined), await task("i-0aaa", "other-cluster")];
    const lines: string[] = [];
    const ecs = createEcsPort({ region: "eu-west-1" });
    try {
      await reapManagerTasks({
        settings: parseFargateToml(toml("i-0aaa"), "f.toml"),
        ecs,
        ssh: { close: async () => undefined },
        print: (l) => lines.push(l),
      });
    } finally {
      ecs.destroy();
    }
    assert.deepEqual(running().sort(), others.sort());
    for (const arn of mine) {
      const stopped = emulator.tasks().find((t) => t.taskArn === arn);
      assert.match(stopped?.stoppedReason ?? "", /gitlab-runner restarted on manager i-0aaa/);
    }
    assert.ok(
      lines.includes(`Reaped 2 of 2 tasks of manager i-0aaa in cluster ${CLUSTER} (2 other running tasks left alone)`),
      lines.join("\n"),
    );
  });

  it("closes the SSH connections jobs left in the metadata directory and deletes their files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reap-"));
    try {
      for (const name of ["gitlab-job-7.ssh", "gitlab-job-8-ab12.ssh"]) mkdirSync(join(dir, name));
      writeFileSync(join(dir, "gitlab-job-9.json"), "{}");
      const closed: string[] = [];
      const ecs = createEcsPort({ region: "eu-west-1" });
      try {
        await reapManagerTasks({
          settings: parseFargateToml(`${toml("i-0aaa")}[TaskMetadata]\nDirectory = "${dir}"\n`, "f.toml"),
          ecs,
          ssh: { close: async (target) => void closed.push(target.connectionDirectory) },
          print: () => undefined,
        });
      } finally {
        ecs.destroy();
      }
      assert.deepEqual(closed.sort(), [join(dir, "gitlab-job-7.ssh"), join(dir, "gitlab-job-8-ab12.ssh")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is a command of the driver bundle: `fargate --config F reap`, exit 0, and refuses to guess without Manager.ID", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reap-"));
    try {
      const mine = await task("i-0ccc");
      const other = await task("i-0ddd");
      const config = join(dir, "fargate.toml");
      writeFileSync(config, toml("i-0ccc"));
      // Asynchronous: the emulator answering the driver runs in this process.
      const reap = () =>
        new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
          execFile(
            process.execPath,
            [DRIVER_BUNDLE, "--config", config, "reap"],
            { env: process.env },
            (error, stdout, stderr) => resolve({ status: error ? Number(error.code) : 0, stdout, stderr }),
          ),
        );
      const ok = await reap();
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /^Stopped task .*\nReaped 1 of 1 tasks of manager i-0ccc/m);
      assert.deepEqual(running(), [other]);
      assert.ok(!running().includes(mine));
      writeFileSync(config, toml());
      const refused = await reap();
      assert.equal(refused.status, 2, refused.stderr);
      assert.match(refused.stderr, /reap needs Manager\.ID in fargate\.toml/);
      assert.deepEqual(running(), [other]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
