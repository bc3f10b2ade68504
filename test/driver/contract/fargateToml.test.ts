import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import * as iarna from "@iarna/toml";
import { parseFargateToml } from "../../../driver/contract/fargateToml";
import { expectFailure } from "../expectFailure";

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
    assert.deepEqual(s.timeouts, {
      taskRunningSeconds: 600,
      sshReadySeconds: 180,
      taskIdleSeconds: 600,
      taskMaxLifetimeSeconds: undefined,
    });
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
    assert.deepEqual(s.timeouts, {
      taskRunningSeconds: 120,
      sshReadySeconds: 30,
      taskIdleSeconds: 600,
      taskMaxLifetimeSeconds: undefined,
    });
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
