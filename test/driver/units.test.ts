import { strict as assert } from "node:assert";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as iarna from "@iarna/toml";
import {
  BuildFailure,
  Cancelled,
  describeError,
  exitCodeFor,
  exitCodesFromEnv,
  SystemFailure,
} from "../../driver/errors";
import { validateTaskSize } from "../../driver/fargateSizes";
import {
  isAllowedTaskDefinition,
  jobFromPayload,
  jobOverrides,
  readJob,
  startedByFor,
  taskTags,
} from "../../driver/job";
import { formatLogLine } from "../../driver/log";
import { parseArgs } from "../../driver/main";
import { MetadataStore } from "../../driver/metadata";
import { parseFargateToml } from "../../driver/contract/fargateToml";
import { buildRunTaskInput, fingerprint, stoppedTaskReason } from "../../driver/stages/prepare";
import { describeSshFailure, formatHostKey } from "../../driver/ssh";
import { taskView } from "../../driver/ecs";

const GO_DRIVER_TOML = `
LogLevel = "debug"
LogFormat = "json"
[Fargate]
  Cluster = "test-cluster"
  Region = "us-east-2"
  Subnet = "subnet-0123abcd"
  SecurityGroup = "sg-0123abcd"
  TaskDefinition = "test-task:1"
  EnablePublicIP = true
  UsePublicIP = false
  PlatformVersion = ""
[TaskMetadata]
  Directory = "/opt/gitlab-runner/metadata"
[SSH]
  Username = "root"
  Port = 22
`;

function expectFailure(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SystemFailure, `expected a SystemFailure, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe("driver settings (fargate.toml)", () => {
  it("reads a Go-driver fargate.toml unchanged and applies defaults", () => {
    const s = parseFargateToml(GO_DRIVER_TOML, "f.toml");
    assert.equal(s.logLevel, "debug");
    assert.equal(s.logFormat, "json");
    assert.deepEqual(s.fargate.subnets, ["subnet-0123abcd"]);
    assert.deepEqual(s.fargate.securityGroups, ["sg-0123abcd"]);
    assert.equal(s.fargate.enablePublicIp, true);
    assert.equal(s.fargate.platformVersion, undefined, "empty PlatformVersion means LATEST");
    assert.equal(s.fargate.containerName, "ci-coordinator");
    assert.deepEqual(s.timeouts, { taskRunningSeconds: 600, sshReadySeconds: 180 });
    assert.deepEqual(s.fargate.capacityProviderStrategy, []);
    assert.deepEqual(s.unknownKeys, []);
  });

  it("says which address it connects to when EnablePublicIP is set without UsePublicIP (the Go driver used the public one)", () => {
    const without = parseFargateToml(GO_DRIVER_TOML.replace("  UsePublicIP = false\n", ""), "f.toml");
    assert.equal(without.fargate.usePublicIp, false);
    assert.equal(without.notices.length, 1);
    assert.match(
      without.notices[0],
      /EnablePublicIP = true without Fargate\.UsePublicIP: connecting to each task's private IP/,
    );
    assert.deepEqual(parseFargateToml(GO_DRIVER_TOML, "f.toml").notices, [], "UsePublicIP given: nothing to explain");
    const privateOnly = GO_DRIVER_TOML.replace("EnablePublicIP = true", "EnablePublicIP = false").replace(
      "  UsePublicIP = false\n",
      "",
    );
    assert.deepEqual(parseFargateToml(privateOnly, "f.toml").notices, []);
  });

  it("reads the additions, merging and de-duplicating subnets and groups", () => {
    const doc = {
      Fargate: {
        Cluster: "c",
        Subnet: "subnet-0a0a0a0a",
        Subnets: ["subnet-0a0a0a0a", "subnet-0b0b0b0b"],
        SecurityGroup: "sg-01010101",
        SecurityGroups: ["sg-02020202", "sg-01010101"],
        TaskDefinition: "ci",
        ContainerName: "job",
        AllowedTaskDefinitions: ["big", "gpu:2"],
        CapacityProviderStrategy: [
          { CapacityProvider: "FARGATE_SPOT", Weight: 3, Base: 0 },
          { CapacityProvider: "FARGATE", Weight: 1 },
        ],
        Tags: { team: "platform", "cost-center": "42" },
      },
      Timeouts: { TaskRunning: 120, SSHReady: 30 },
    };
    // Written by a second TOML implementation, read by ours.
    const s = parseFargateToml(iarna.stringify(doc as unknown as iarna.JsonMap), "f.toml");
    assert.deepEqual(s.fargate.subnets, ["subnet-0a0a0a0a", "subnet-0b0b0b0b"]);
    assert.deepEqual(s.fargate.securityGroups, ["sg-01010101", "sg-02020202"]);
    assert.equal(s.fargate.containerName, "job");
    assert.deepEqual(s.fargate.capacityProviderStrategy, [
      { capacityProvider: "FARGATE_SPOT", weight: 3, base: 0 },
      { capacityProvider: "FARGATE", weight: 1, base: undefined },
    ]);
    assert.deepEqual(s.fargate.tags, { team: "platform", "cost-center": "42" });
    assert.deepEqual(s.timeouts, { taskRunningSeconds: 120, sshReadySeconds: 30 });
  });

  it("reports unknown keys (typos) without failing, for drop-in compatibility", () => {
    const s = parseFargateToml(`${GO_DRIVER_TOML}\n[Timeouts]\nSSHReadyy = 3\n`, "f.toml");
    assert.deepEqual(s.unknownKeys, ["Timeouts.SSHReadyy"]);
  });

  it("reads the example in docs/driver.md without unknown keys", () => {
    const doc = readFileSync("docs/driver.md", "utf8");
    const example = /Example with the additions:\n\n```toml\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(example, "docs/driver.md has the example");
    const s = parseFargateToml(example, "docs/driver.md");
    assert.deepEqual(s.unknownKeys, []);
    assert.deepEqual([s.fargate.maxTaskCpu, s.fargate.maxTaskMemory], [4096, 16384]);
  });

  it("reports unknown keys inside array-of-tables items, naming the item, but not tag names", () => {
    const s = parseFargateToml(
      `${GO_DRIVER_TOML}
[[Fargate.CapacityProviderStrategy]]
CapacityProvider = "FARGATE"
Weight = 1
[[Fargate.CapacityProviderStrategy]]
CapacityProvider = "FARGATE_SPOT"
Weigth = 3
[Fargate.Tags]
anything = "goes"
`,
      "f.toml",
    );
    assert.deepEqual(s.unknownKeys, ["Fargate.CapacityProviderStrategy[1].Weigth"]);
    assert.deepEqual(s.fargate.capacityProviderStrategy[1], {
      capacityProvider: "FARGATE_SPOT",
      weight: undefined,
      base: undefined,
    });
  });

  it("accepts real AWS ids of both lengths and refuses other shapes", () => {
    const withIds = (subnet: string, group: string) =>
      parseFargateToml(
        `[Fargate]\nCluster = "c"\nSubnet = "${subnet}"\nSecurityGroup = "${group}"\nTaskDefinition = "t"\n`,
        "f.toml",
      );
    const s = withIds("subnet-0123456789abcdef0", "sg-0123456789abcdef0");
    assert.deepEqual(s.fargate.subnets, ["subnet-0123456789abcdef0"]);
    assert.deepEqual(s.fargate.securityGroups, ["sg-0123456789abcdef0"]);
    assert.deepEqual(withIds("subnet-12ab34cd", "sg-12ab34cd").fargate.subnets, ["subnet-12ab34cd"]);
    for (const bad of ["subnet-0123456789abcdef", "subnet-12ab34c", "subnet-12ab34cg", "subnet-priv1-vpc"]) {
      expectFailure(() => withIds(bad, "sg-12ab34cd"), new RegExp(`Fargate\\.Subnet "${bad}"`));
    }
    expectFailure(() => withIds("subnet-12ab34cd", "sg-12ab34cd0"), /Fargate\.SecurityGroup "sg-12ab34cd0"/);
  });

  const base = `[Fargate]\nCluster = "c"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "t"\n`;
  const cases: [string, string, RegExp][] = [
    ["invalid TOML", "[Fargate\n", /f\.toml: invalid TOML \(line 1/],
    [
      "missing cluster",
      `[Fargate]\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "t"\n`,
      /Fargate\.Cluster is required/,
    ],
    ["missing subnets", `[Fargate]\nCluster = "c"\nTaskDefinition = "t"\n`, /Fargate\.Subnet or Fargate\.Subnets/],
    [
      "bad subnet",
      `${base}Subnets = ["sg-01010101"]\n`,
      /Fargate\.Subnets\[0\] "sg-01010101" does not look like a subnet/,
    ],
    [
      "bad single subnet, naming Subnet (not Subnets)",
      `[Fargate]\nCluster = "c"\nSubnet = "subnet-xyz"\nSubnets = ["subnet-0a0a0a0a"]\nTaskDefinition = "t"\n`,
      /f\.toml: Fargate\.Subnet "subnet-xyz" does not look like a subnet ID \(subnet- and 8 or 17 hex digits\)/,
    ],
    [
      "second listed subnet",
      `${base}Subnets = ["subnet-0b0b0b0b", "subnet-0abc"]\n`,
      /Fargate\.Subnets\[1\] "subnet-0abc"/,
    ],
    ["bad group", `${base}SecurityGroups = ["subnet-01010101"]\n`, /Fargate\.SecurityGroups\[0\] "subnet-01010101"/],
    [
      "bad single group",
      `${base}SecurityGroup = "sg-ABCDEF01"\n`,
      /Fargate\.SecurityGroup "sg-ABCDEF01" does not look like/,
    ],
    ["bad user name", `${base}[SSH]\nUsername = "ci user"\n`, /SSH\.Username "ci user" is not a valid user name/],
    [
      "MaxTaskCPU without MaxTaskMemory",
      `${base}MaxTaskCPU = 1024\n`,
      /Fargate\.MaxTaskCPU and Fargate\.MaxTaskMemory must be set together/,
    ],
    [
      "MaxTaskCPU not a Fargate size",
      `${base}MaxTaskCPU = 1000\nMaxTaskMemory = 4096\n`,
      /Fargate\.MaxTaskCPU must be a Fargate CPU size/,
    ],
    [
      "MaxTaskMemory out of range",
      `${base}MaxTaskCPU = 1024\nMaxTaskMemory = 200000\n`,
      /Fargate\.MaxTaskMemory must be an integer from 512 to 122880/,
    ],
    ["subnets not a list", `${base}Subnets = "subnet-0b0b0b0b"\n`, /Fargate\.Subnets must be a list/],
    ["bad boolean", `${base}UsePublicIP = "yes"\n`, /Fargate\.UsePublicIP must be true or false/],
    ["bad platform", `${base}PlatformVersion = "1.4"\n`, /Fargate\.PlatformVersion must be LATEST/],
    ["bad region", `${base}Region = "Ireland"\n`, /Fargate\.Region "Ireland"/],
    ["bad log level", `LogLevel = "loud"\n${base}`, /LogLevel must be one of debug, info, warn, error/],
    ["bad port", `${base}[SSH]\nPort = 70000\n`, /SSH\.Port must be an integer from 1 to 65535/],
    ["bad timeout", `${base}[Timeouts]\nSSHReady = 0\n`, /Timeouts\.SSHReady must be an integer/],
    [
      "strategy without provider",
      `${base}[[Fargate.CapacityProviderStrategy]]\nWeight = 1\n`,
      /CapacityProviderStrategy\[0\]\.CapacityProvider is required/,
    ],
    ["aws: tag", `${base}[Fargate.Tags]\n"aws:x" = "y"\n`, /Fargate\.Tags\.aws:x/],
    ["non-string tag", `${base}[Fargate.Tags]\nteam = 1\n`, /Fargate\.Tags\.team must be a string/],
  ];
  for (const [name, text, pattern] of cases) {
    it(`rejects ${name} with a message naming the key`, () =>
      expectFailure(() => parseFargateToml(text, "f.toml"), pattern));
  }
});

describe("driver job identity, startedBy and tags", () => {
  const payload = (fields: Record<string, unknown>) =>
    JSON.stringify({
      id: 987654321,
      token: "job-token-1",
      job_info: { pipeline_id: 55, project_id: 12, project_full_path: "group/sub/app" },
      ...fields,
    });

  it("takes the job's id, pipeline and project from the payload gitlab-runner wrote", () => {
    const job = jobFromPayload(payload({}), "response.json");
    assert.equal(job.id, "987654321");
    assert.equal(job.pipelineId, "55");
    assert.equal(job.project, "group/sub/app");
    assert.equal(startedByFor(job), "gitlab-job-987654321");
  });

  it("ignores job variables that claim another job's identity", () => {
    const variables = [
      { key: "CI_JOB_ID", value: "987654321" },
      { key: "CI_JOB_ID", value: "1" },
      { key: "CI_PIPELINE_ID", value: "2" },
      { key: "CI_PROJECT_PATH", value: "victim/app" },
    ];
    const job = jobFromPayload(payload({ variables }), "response.json");
    assert.deepEqual([job.id, job.pipelineId, job.project], ["987654321", "55", "group/sub/app"]);
  });

  it("binds the job to its id and token: another token or another id gives another binding", () => {
    const binding = jobFromPayload(payload({}), "r").binding;
    assert.equal(jobFromPayload(payload({}), "r").binding, binding, "stable across stages");
    assert.notEqual(jobFromPayload(payload({ token: "job-token-2" }), "r").binding, binding);
    assert.notEqual(jobFromPayload(payload({ id: 987654322 }), "r").binding, binding);
  });

  it("falls back to the project id when GitLab sends no project path", () => {
    const job = jobFromPayload(payload({ job_info: { project_id: 12 } }), "r");
    assert.equal(job.project, "12");
    assert.equal(job.pipelineId, undefined);
  });

  it("keeps startedBy within ECS's 36 allowed characters for the longest job ids", () => {
    const value = startedByFor({ id: "12345678901234567890" });
    assert.ok(value.length <= 36, value);
    assert.match(value, /^[A-Za-z0-9_/-]+$/);
  });

  it("names the payload file when it is missing, unreadable or has no job id", () => {
    expectFailure(() => readJob({}), /JOB_RESPONSE_FILE is not set/);
    expectFailure(() => readJob({ JOB_RESPONSE_FILE: "/nonexistent/response.json" }), /cannot read the job payload/);
    expectFailure(() => jobFromPayload("{", "r.json"), /job payload r\.json is not JSON/);
    expectFailure(() => jobFromPayload(payload({ id: "12a" }), "r.json"), /job payload r\.json has no job id/);
    expectFailure(() => jobFromPayload(payload({ id: 0 }), "r.json"), /has no job id/);
  });

  it("tags tasks with project, pipeline and job, cleaned for AWS, after the configured tags", () => {
    const job = { ...jobFromPayload(payload({}), "r"), project: "group/app (copy)" };
    const tags = taskTags(job, { team: "x", "gitlab:job": "mine" });
    assert.deepEqual(tags, [
      { key: "team", value: "x" },
      { key: "gitlab:job", value: "mine" },
      { key: "gitlab:project", value: "group/app _copy_" },
      { key: "gitlab:pipeline", value: "55" },
    ]);
  });
});

describe("driver per-job overrides", () => {
  const settings = parseFargateToml(
    `[Fargate]\nCluster = "c"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci:3"\nPlatformVersion = "1.4.0"\nAllowedTaskDefinitions = ["big", "gpu:2"]\n`,
    "f.toml",
  ).fargate;

  it("allows the configured definition, any revision of a listed family, and exactly a listed revision", () => {
    assert.equal(isAllowedTaskDefinition("ci:3", settings), true);
    assert.equal(isAllowedTaskDefinition("big", settings), true);
    assert.equal(isAllowedTaskDefinition("big:7", settings), true);
    assert.equal(isAllowedTaskDefinition("gpu:2", settings), true);
    assert.equal(isAllowedTaskDefinition("gpu:3", settings), false);
    assert.equal(isAllowedTaskDefinition("gpu", settings), false);
    assert.equal(isAllowedTaskDefinition("ci:4", settings), false);
    assert.equal(isAllowedTaskDefinition("arn:aws:ecs:eu-west-1:1:task-definition/big:1", settings), false);
  });

  it("uses the job's FARGATE_TASK_DEFINITION and FARGATE_PLATFORM_VERSION when allowed", () => {
    const o = jobOverrides(
      { CUSTOM_ENV_FARGATE_TASK_DEFINITION: "big:7", CUSTOM_ENV_FARGATE_PLATFORM_VERSION: "LATEST" },
      settings,
    );
    assert.equal(o.taskDefinition, "big:7");
    assert.equal(o.platformVersion, "LATEST");
    assert.deepEqual(jobOverrides({}, settings), { taskDefinition: "ci:3", platformVersion: "1.4.0", size: {} });
  });

  it("refuses a task definition outside the allow-list, naming the variable and the setting", () => {
    expectFailure(
      () => jobOverrides({ CUSTOM_ENV_FARGATE_TASK_DEFINITION: "evil:1" }, settings),
      /FARGATE_TASK_DEFINITION "evil:1" is not allowed .*Fargate\.AllowedTaskDefinitions/,
    );
    expectFailure(
      () => jobOverrides({ CUSTOM_ENV_FARGATE_PLATFORM_VERSION: "new" }, settings),
      /FARGATE_PLATFORM_VERSION must be LATEST/,
    );
  });

  it("refuses per-job task sizes unless fargate.toml sets MaxTaskCPU and MaxTaskMemory, naming both keys", () => {
    const size = { CUSTOM_ENV_FARGATE_TASK_CPU: "512", CUSTOM_ENV_FARGATE_TASK_MEMORY: "1024" };
    expectFailure(
      () => jobOverrides(size, settings),
      /FARGATE_TASK_CPU \/ FARGATE_TASK_MEMORY are not allowed on this runner: .*Fargate\.MaxTaskCPU and Fargate\.MaxTaskMemory/,
    );
    expectFailure(
      () => jobOverrides({ CUSTOM_ENV_FARGATE_TASK_MEMORY: "1024" }, settings),
      /Fargate\.MaxTaskCPU and Fargate\.MaxTaskMemory/,
    );
  });

  describe("with MaxTaskCPU = 4096 and MaxTaskMemory = 16384", () => {
    const capped = parseFargateToml(
      `[Fargate]\nCluster = "c"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci:3"\nMaxTaskCPU = 4096\nMaxTaskMemory = 16384\n`,
      "f.toml",
    ).fargate;
    const size = (cpu?: string, memory?: string) =>
      jobOverrides({ CUSTOM_ENV_FARGATE_TASK_CPU: cpu, CUSTOM_ENV_FARGATE_TASK_MEMORY: memory }, capped).size;

    it("passes a valid size within the limits to RunTask", () => {
      assert.deepEqual(size("2048", "16384"), { cpu: "2048", memory: "16384" });
      assert.deepEqual(size("4096", "8192"), { cpu: "4096", memory: "8192" });
      assert.deepEqual(size(), {});
    });

    it("refuses sizes above either limit, naming the key", () => {
      expectFailure(
        () => size("8192", "16384"),
        /FARGATE_TASK_CPU=8192 exceeds this runner's Fargate\.MaxTaskCPU = 4096/,
      );
      expectFailure(
        () => size("4096", "17408"),
        /FARGATE_TASK_MEMORY=17408 exceeds this runner's Fargate\.MaxTaskMemory = 16384/,
      );
    });

    it("requires CPU and memory together", () => {
      expectFailure(() => size("1024", undefined), /must be set together \(only CPU is set\)/);
      expectFailure(() => size(undefined, "2048"), /must be set together \(only memory is set\)/);
    });
  });

  // Fixed cases from AWS's table (not the driver's own): "Task CPU and memory" in the ECS developer guide
  // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size).
  const valid: [number, number][] = [
    [256, 512],
    [256, 1024],
    [256, 2048],
    [512, 1024],
    [512, 4096],
    [1024, 2048],
    [1024, 5120],
    [1024, 8192],
    [2048, 4096],
    [2048, 9216],
    [2048, 16384],
    [4096, 8192],
    [4096, 9216],
    [4096, 20480],
    [4096, 30720],
    [8192, 16384],
    [8192, 20480],
    [8192, 61440],
    [16384, 32768],
    [16384, 40960],
    [16384, 122880],
  ];
  const invalid: [number, number][] = [
    [256, 3072],
    [256, 256],
    [512, 512],
    [512, 5120],
    [1024, 1024],
    [1024, 9216],
    [2048, 3072],
    [2048, 17408],
    [4096, 7168],
    [4096, 31744],
    [8192, 15360],
    [8192, 17408],
    [8192, 65536],
    [16384, 30720],
    [16384, 36864],
    [16384, 131072],
  ];

  it("accepts the combinations AWS lists", () => {
    for (const [cpu, memory] of valid) {
      assert.deepEqual(validateTaskSize(String(cpu), String(memory)), { cpu, memory }, `${cpu}/${memory}`);
    }
  });

  it("refuses combinations outside AWS's table, listing the valid memory for that CPU", () => {
    for (const [cpu, memory] of invalid) {
      expectFailure(
        () => validateTaskSize(String(cpu), String(memory)),
        new RegExp(`FARGATE_TASK_MEMORY=${memory} MiB`),
      );
    }
    expectFailure(() => validateTaskSize("256", "4096"), /not valid with 256 CPU units; valid: 512, 1024, 2048$/);
    expectFailure(() => validateTaskSize("4096", "31744"), /valid: 8192\.\.30720 in steps of 1024$/);
    expectFailure(() => validateTaskSize("8192", "20000"), /valid: 16384\.\.61440 in steps of 4096$/);
    expectFailure(() => validateTaskSize("16384", "36864"), /valid: 32768\.\.122880 in steps of 8192$/);
  });

  it("refuses CPU values AWS does not offer and non-numbers", () => {
    for (const cpu of ["128", "1000", "3072", "32768"]) {
      expectFailure(
        () => validateTaskSize(cpu, "2048"),
        new RegExp(
          `FARGATE_TASK_CPU=${cpu} is not a Fargate CPU size; valid values: 256, 512, 1024, 2048, 4096, 8192, 16384$`,
        ),
      );
    }
    expectFailure(() => validateTaskSize("1 vCPU", "2048"), /FARGATE_TASK_CPU must be a whole number/);
    expectFailure(() => validateTaskSize("1024", "2GB"), /FARGATE_TASK_MEMORY must be a whole number/);
  });
});

describe("driver RunTask request and task reasons", () => {
  const settings = parseFargateToml(
    `[Fargate]\nCluster = "c"\nSubnets = ["subnet-0a0a0a0a", "subnet-0b0b0b0b"]\nTaskDefinition = "ci:3"\nEnablePublicIP = true\n`,
    "f.toml",
  );
  const job = { id: "9", binding: "b" };

  it("builds the awsvpc request with the key override, startedBy and no strategy/platform when unset", () => {
    const input = buildRunTaskInput(settings, job, { taskDefinition: "ci:3", size: {} }, "ssh-ed25519 AAA k");
    assert.deepEqual(input.networkConfiguration, {
      awsvpcConfiguration: {
        subnets: ["subnet-0a0a0a0a", "subnet-0b0b0b0b"],
        securityGroups: undefined,
        assignPublicIp: "ENABLED",
      },
    });
    assert.deepEqual(input.overrides?.containerOverrides, [
      { name: "ci-coordinator", environment: [{ name: "SSH_PUBLIC_KEY", value: "ssh-ed25519 AAA k" }] },
    ]);
    assert.equal(input.startedBy, "gitlab-job-9");
    assert.equal("capacityProviderStrategy" in input, false);
    assert.equal("platformVersion" in input, false);
    assert.equal("launchType" in input, false, "the cluster's default capacity provider strategy decides");
  });

  it("sends at most 50 countable tags: the driver's 3 and the 46 allowed Fargate.Tags, none propagated", () => {
    const tags = Object.fromEntries(Array.from({ length: 46 }, (_, i) => [`k${i}`, "v"]));
    const full = parseFargateToml(
      `[Fargate]\nCluster = "c"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci:3"\n[Fargate.Tags]\n${Object.keys(
        tags,
      )
        .map((k) => `${k} = "v"`)
        .join("\n")}\n`,
      "f.toml",
    );
    const input = buildRunTaskInput(
      full,
      { id: "9", binding: "b", pipelineId: "1", project: "g/p" },
      { taskDefinition: "ci:3", size: {} },
      "k",
    );
    assert.equal(input.tags?.length, 49);
    assert.equal(input.propagateTags, undefined, "propagated task-definition tags would push the task past 50");
    assert.equal(input.enableECSManagedTags, true, "aws:ecs:* tags do not count against the limit");
  });

  it("shows the stopped reason with every container's reason and exit code", () => {
    const reason = stoppedTaskReason({
      taskArn: "a",
      stoppedReason: "Essential container in task exited",
      containers: [
        { name: "ci-coordinator", reason: "entrypoint: SSH_PUBLIC_KEY is empty", exitCode: 1 },
        { name: "x" },
      ],
    });
    assert.equal(
      reason,
      "Essential container in task exited; container ci-coordinator: entrypoint: SSH_PUBLIC_KEY is empty, exit code 1",
    );
  });

  it("reads the IP and ENI from the attachment, falling back to the container's interface", () => {
    const view = taskView({
      taskArn: "a",
      attachments: [{ type: "ElasticNetworkInterface", details: [{ name: "networkInterfaceId", value: "eni-1" }] }],
      containers: [{ name: "c", networkInterfaces: [{ privateIpv4Address: "10.0.0.5" }] }],
    });
    assert.equal(view.privateIp, "10.0.0.5");
    assert.equal(view.networkInterfaceId, "eni-1");
  });
});

describe("driver exit codes, arguments, SSH messages and logs", () => {
  it("maps outcomes to gitlab-runner's exit codes from the environment", () => {
    const codes = exitCodesFromEnv({ BUILD_FAILURE_EXIT_CODE: "11", SYSTEM_FAILURE_EXIT_CODE: "12" });
    assert.equal(exitCodeFor(undefined, codes), 0);
    assert.equal(exitCodeFor(new BuildFailure(3), codes), 11);
    assert.equal(exitCodeFor(new SystemFailure("x"), codes), 12);
    assert.equal(exitCodeFor(new Cancelled(), codes), 12);
    assert.equal(exitCodeFor(new Error("unexpected"), codes), 12);
    assert.deepEqual(exitCodesFromEnv({}), { buildFailure: 1, systemFailure: 2, buildExitCodeFile: undefined });
    expectFailure(
      () => exitCodesFromEnv({ SYSTEM_FAILURE_EXIT_CODE: "two" }),
      /SYSTEM_FAILURE_EXIT_CODE must be an integer/,
    );
  });

  it("parses the Go driver's command line", () => {
    assert.deepEqual(
      parseArgs(["--config", "/etc/f.toml", "--log-level=warn", "custom", "run", "/tmp/s", "step_script"]),
      {
        version: false,
        config: "/etc/f.toml",
        logLevel: "warn",
        stage: "run",
        scriptPath: "/tmp/s",
        stageName: "step_script",
      },
    );
    assert.equal(parseArgs(["--version"]).version, true);
    assert.equal(parseArgs(["--debug", "--config", "f", "custom", "cleanup"]).logLevel, "debug");
    assert.equal(
      parseArgs(["--log-file", "/var/log/f.log", "--config", "f", "custom", "cleanup"]).logFile,
      "/var/log/f.log",
    );
    expectFailure(() => parseArgs(["custom", "config"]), /--config is required/);
    expectFailure(() => parseArgs(["--config", "f", "custom", "prepare", "extra"]), /unexpected argument "extra"/);
    expectFailure(
      () => parseArgs(["--config", "f", "--log-format", "xml", "custom", "config"]),
      /--log-format must be one of/,
    );
    expectFailure(() => parseArgs(["--config"]), /--config needs a value/);
    expectFailure(() => parseArgs(["--frobnicate", "custom", "config"]), /unknown option --frobnicate/);
  });

  it("reads options in the Go driver's forms: short, inline, in any case, in order, also after the command", () => {
    const cleanup = ["custom", "cleanup"];
    assert.equal(parseArgs(["-c", "f", ...cleanup]).config, "f");
    assert.equal(parseArgs(["--config=f", ...cleanup]).config, "f");
    assert.equal(parseArgs([...cleanup, "--config", "f"]).config, "f");
    assert.equal(parseArgs(["-v"]).version, true);
    assert.equal(parseArgs(["--log-level=WARN", "-c", "f", ...cleanup]).logLevel, "warn");
    assert.equal(parseArgs(["--log-format", "JSON", "-c", "f", ...cleanup]).logFormat, "json");
    assert.equal(parseArgs(["--debug", "--log-level", "info", "-c", "f", ...cleanup]).logLevel, "info");
    assert.equal(parseArgs(["--log-level", "info", "--debug", "-c", "f", ...cleanup]).logLevel, "debug");
    expectFailure(() => parseArgs(["--config=", ...cleanup]), /^--config needs a value; usage: /);
    expectFailure(() => parseArgs(["-c"]), /^-c needs a value/);
    expectFailure(() => parseArgs(["--log-level", "loud", "-c", "f", ...cleanup]), /^--log-level must be one of debug/);
    expectFailure(() => parseArgs(["-c", "f", ...cleanup, "--frobnicate"]), /unexpected argument "--frobnicate"/);
    expectFailure(() => parseArgs(["-c", "f", "custom"]), /unknown stage ""/);
    expectFailure(() => parseArgs(["-c", "f", "deploy"]), /expected the "custom" command/);
  });

  it("explains SSH failures by cause, naming IP:port", () => {
    const target = { host: "10.0.1.2", port: 22, username: "root" };
    const refused = describeSshFailure(Object.assign(new Error("x"), { code: "ECONNREFUSED" }), target);
    assert.equal(refused.kind, "refused");
    assert.match(refused.message, /10\.0\.1\.2:22 refused: sshd is not listening/);
    const timeout = describeSshFailure(Object.assign(new Error("Timed out"), { level: "client-timeout" }), target);
    assert.equal(timeout.kind, "timeout");
    assert.match(timeout.message, /no SSH answer from 10\.0\.1\.2:22: a security group/);
    const auth = describeSshFailure(Object.assign(new Error("All"), { level: "client-authentication" }), target);
    assert.match(auth.message, /refused the job's key for user "root"/);
    assert.match(describeError(new SystemFailure("outer", { cause: new Error("inner") })), /^outer: inner$/);
  });

  it("formats host keys like OpenSSH and fingerprints them like ssh-keygen -l", () => {
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.alloc(36, 1)]);
    const key = formatHostKey(blob);
    assert.equal(key, `ssh-ed25519 ${blob.toString("base64")}`);
    assert.match(fingerprint(key), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it("formats log lines as text, text-simple and json", () => {
    const time = new Date("2026-01-02T03:04:05.000Z");
    assert.equal(formatLogLine("warn", "text-simple", "hi", { a: 1 }, time), "hi a=1");
    assert.equal(formatLogLine("info", "text", "hi", {}, time), 'time="2026-01-02T03:04:05.000Z" level=info msg="hi"');
    assert.deepEqual(JSON.parse(formatLogLine("error", "json", "hi", { a: "b" }, time)), {
      time: "2026-01-02T03:04:05.000Z",
      level: "error",
      msg: "hi",
      a: "b",
    });
  });
});

describe("driver metadata file", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "driver-meta-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const job = { id: "1", binding: "binding-of-job-1" };
  const record = {
    cluster: "c",
    taskArn: "arn:t",
    startedBy: "gitlab-job-1",
    jobId: "1",
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----",
    createdAt: "2026-01-01T00:00:00.000Z",
  };

  it("writes atomically with mode 0600 in a 0700 directory, replaces, reads back and removes", () => {
    const store = new MetadataStore(join(dir, "meta"), job);
    assert.equal(store.read(), undefined);
    store.create(record);
    store.update({ ...record, host: "10.0.0.1" });
    assert.equal(statSync(store.path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "meta")).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(join(dir, "meta")), ["gitlab-job-1.json"], "no temp files left");
    assert.equal(store.read()?.host, "10.0.0.1");
    assert.equal(store.remove(), true);
    assert.equal(store.remove(), false);
  });

  it("creates a file only when none exists, leaving the existing one as it was", () => {
    const store = new MetadataStore(dir, job);
    store.create(record);
    expectFailure(() => store.create({ ...record, taskArn: "arn:other" }), /cannot write job metadata/);
    assert.equal(store.read()?.taskArn, "arn:t");
    assert.deepEqual(readdirSync(dir), ["gitlab-job-1.json"], "no temp files left");
  });

  it("refuses a file another job wrote under the same name", () => {
    new MetadataStore(dir, { id: "1", binding: "another-job" }).create(record);
    expectFailure(() => new MetadataStore(dir, job).read(), /belongs to another job/);
  });

  it("tightens an existing directory that is open to group or others to 0700", () => {
    const shared = join(dir, "shared");
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755); // regardless of the umask
    new MetadataStore(shared, job).create(record);
    assert.equal(statSync(shared).mode & 0o777, 0o700);
  });

  it("names a corrupt file, and an older driver's file counts as corrupt", () => {
    const store = new MetadataStore(dir, job);
    writeFileSync(store.path, "{not json");
    expectFailure(() => store.read(), /job metadata .*gitlab-job-1\.json is corrupt/);
    writeFileSync(store.path, JSON.stringify({ ...record, version: 1 }));
    expectFailure(() => store.read(), /is corrupt/);
  });
});
