/**
 * The fargate.toml contract (driver/contract/): what the component writes with renderFargateToml is what the driver
 * reads with parseFargateToml, by the same rules and with the same messages; and the shared AWS rules.
 */
import { strict as assert } from "node:assert";
import * as iarna from "@iarna/toml";
import {
  awsIdProblem,
  MAX_TASK_TAGS,
  platformVersionProblem,
  regionProblem,
  taskTagProblem,
  toTagValue,
} from "../../../driver/contract/awsRules";
import {
  FARGATE_TOML_DEFAULTS,
  FargateToml,
  parseFargateToml,
  renderFargateToml,
  validateFargateToml,
} from "../../../driver/contract/fargateToml";
import { MANAGER_PATHS } from "../../../driver/contract/managerPaths";
import { SystemFailure } from "../../../driver/errors";
import { jobOverrides, taskTags } from "../../../driver/job";
import { configOutput } from "../../../driver/stages/config";

const minimal: FargateToml = {
  Fargate: { Cluster: "ci", Subnet: "subnet-0a1b2c3d", TaskDefinition: "ci-coordinator:1" },
};

const everything: FargateToml = {
  LogLevel: "debug",
  LogFormat: "json",
  Fargate: {
    Cluster: "ci",
    Region: "eu-west-1",
    Subnet: "subnet-0a1b2c3d",
    Subnets: ["subnet-0a1b2c3d", "subnet-0123456789abcdef0"],
    SecurityGroup: "sg-0a1b2c3d",
    SecurityGroups: ["sg-0123456789abcdef0"],
    TaskDefinition: "ci-coordinator:1",
    EnablePublicIP: true,
    UsePublicIP: true,
    PlatformVersion: "1.4.0",
    ContainerName: "job",
    AllowedTaskDefinitions: ["big", "gpu:2"],
    CapacityProviderStrategy: [
      { CapacityProvider: "FARGATE_SPOT", Weight: 3, Base: 0 },
      { CapacityProvider: "FARGATE", Weight: 1 },
    ],
    Tags: { team: "platform", "cost-center": "42" },
    MaxTaskCPU: 4096,
    MaxTaskMemory: 16384,
  },
  TaskMetadata: { Directory: "/var/lib/fargate" },
  SSH: { Username: "ci", Port: 2222 },
  Timeouts: { TaskRunning: 900, SSHReady: 120 },
};

/** The document a second TOML implementation reads from `text`, as plain data. */
function readBack(text: string): unknown {
  return JSON.parse(JSON.stringify(iarna.parse(text)));
}

/** The error `fn` throws, which must be a SystemFailure. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SystemFailure, `expected a SystemFailure, got ${String(err)}`);
    return err.message;
  }
  assert.fail("expected an error");
}

describe("fargate.toml contract", () => {
  for (const [title, document] of Object.entries({ minimal, everything })) {
    it(`${title}: render → parse gives the settings validate gives, and a second TOML parser reads the same document`, () => {
      const text = renderFargateToml(document);
      assert.deepEqual(parseFargateToml(text, "fargate.toml"), validateFargateToml(document));
      assert.deepEqual(readBack(text), document);
    });
  }

  it("applies the defaults the component relies on, the timeouts and the metadata directory among them", () => {
    const settings = validateFargateToml(minimal);
    assert.deepEqual(settings.timeouts, {
      taskRunningSeconds: 600,
      sshReadySeconds: 180,
      taskIdleSeconds: 600,
      taskMaxLifetimeSeconds: undefined,
    });
    assert.deepEqual(settings.timeouts, {
      taskRunningSeconds: FARGATE_TOML_DEFAULTS.taskRunningSeconds,
      sshReadySeconds: FARGATE_TOML_DEFAULTS.sshReadySeconds,
      taskIdleSeconds: FARGATE_TOML_DEFAULTS.taskIdleSeconds,
      taskMaxLifetimeSeconds: undefined,
    });
    assert.equal(settings.metadataDirectory, MANAGER_PATHS.metadataDirectory);
    assert.deepEqual(settings.ssh, { username: "root", port: 22 });
    assert.equal(settings.fargate.containerName, "ci-coordinator");
    assert.deepEqual([settings.logLevel, settings.logFormat], ["info", "text"]);
  });

  it("does not write keys left undefined", () => {
    const text = renderFargateToml({
      ...minimal,
      Fargate: { ...minimal.Fargate, Region: undefined, PlatformVersion: undefined },
      Timeouts: { TaskRunning: undefined, SSHReady: 60 },
    });
    assert.deepEqual(readBack(text), { ...minimal, Timeouts: { SSHReady: 60 } });
  });

  it("refuses to write a key the driver would ignore; the driver reads it with a warning", () => {
    const typo = { ...minimal, Timeouts: { SSHReadyy: 5 } } as unknown as FargateToml;
    assert.equal(
      failure(() => renderFargateToml(typo)),
      "fargate.toml: unknown keys Timeouts.SSHReadyy (the driver would ignore them)",
    );
    assert.deepEqual(validateFargateToml(typo).unknownKeys, ["Timeouts.SSHReadyy"]);
  });

  it("refuses what the driver refuses, with the driver's message", () => {
    const broken: FargateToml[] = [
      { Fargate: { ...minimal.Fargate, Subnet: "subnet-priv1-vpc" } },
      { Fargate: { ...minimal.Fargate, SecurityGroups: ["subnet-0a1b2c3d"] } },
      { Fargate: { ...minimal.Fargate, Subnet: undefined } },
      { Fargate: { ...minimal.Fargate, Region: "Ireland" } },
      { Fargate: { ...minimal.Fargate, PlatformVersion: "v1" } },
      { Fargate: { ...minimal.Fargate, Tags: { "aws:x": "y" } } },
      { Fargate: { ...minimal.Fargate, MaxTaskCPU: 1024 } },
      { Fargate: { ...minimal.Fargate, CapacityProviderStrategy: [{ CapacityProvider: "FARGATE", Weight: -1 }] } },
      { ...minimal, SSH: { Username: "ci user" } },
      { ...minimal, SSH: { Port: 70000 } },
      { ...minimal, Timeouts: { TaskRunning: 0 } },
    ];
    for (const document of broken) {
      const written = failure(() => renderFargateToml(document, "f.toml"));
      const read = failure(() => parseFargateToml(iarna.stringify(document as unknown as iarna.JsonMap), "f.toml"));
      assert.equal(written, read);
      assert.match(written, /^f\.toml: [A-Z]/, "the message names the file and the key");
    }
  });
});

describe("shared AWS rules", () => {
  it("ids: 8 or 17 lowercase hex digits after the kind's prefix", () => {
    assert.equal(awsIdProblem("subnet", "subnet-0a1b2c3d"), undefined);
    assert.equal(awsIdProblem("securityGroup", "sg-0123456789abcdef0"), undefined);
    assert.equal(awsIdProblem("vpc", "vpc-0a1b2c3d"), undefined);
    assert.equal(
      awsIdProblem("subnet", "sg-0a1b2c3d"),
      '"sg-0a1b2c3d" does not look like a subnet ID (subnet- and 8 or 17 hex digits)',
    );
    for (const bad of ["subnet-0A1B2C3D", "subnet-0a1b2c3", "subnet-0a1b2c3d0", "subnet-priv1-vpc"]) {
      assert.notEqual(awsIdProblem("subnet", bad), undefined, bad);
    }
  });

  it("regions and platform versions", () => {
    assert.equal(regionProblem("us-gov-east-1"), undefined);
    assert.equal(regionProblem("Ireland"), '"Ireland" does not look like an AWS region (e.g. eu-west-1)');
    assert.equal(platformVersionProblem("LATEST"), undefined);
    assert.equal(platformVersionProblem("1.4.0"), undefined);
    assert.equal(platformVersionProblem("1.4"), 'must be LATEST or like 1.4.0, got "1.4"');
  });

  it("a job's FARGATE_PLATFORM_VERSION and Fargate.PlatformVersion follow the same rule and message", () => {
    const settings = validateFargateToml(minimal).fargate;
    const fromJob = failure(() => jobOverrides({ CUSTOM_ENV_FARGATE_PLATFORM_VERSION: "1.4" }, settings));
    const fromFile = failure(() => validateFargateToml({ Fargate: { ...minimal.Fargate, PlatformVersion: "1.4" } }));
    assert.equal(fromJob, `FARGATE_PLATFORM_VERSION ${platformVersionProblem("1.4")}`);
    assert.equal(fromFile, `fargate.toml: Fargate.PlatformVersion ${platformVersionProblem("1.4")}`);
  });

  it("tags: count, keys and values, named as the component and the driver report them", () => {
    const many = Object.fromEntries(Array.from({ length: MAX_TASK_TAGS + 1 }, (_, i) => [`t${i}`, "v"]));
    assert.equal(taskTagProblem(many), "at most 46 tags, got 47");
    assert.match(taskTagProblem({ "aws:owner": "me" }) ?? "", /^tag key "aws:owner" must be 1–128 .*"aws:"$/);
    assert.match(taskTagProblem({ team: "a;b" }) ?? "", /^tag "team": the value must be up to 256 /);
    assert.equal(taskTagProblem({ team: "platform", "cost center": "4/2" }), undefined);
    const withTags = (Tags: Record<string, string>) => () =>
      validateFargateToml({ Fargate: { ...minimal.Fargate, Tags } });
    assert.equal(failure(withTags(many)), "fargate.toml: Fargate.Tags: at most 46 tags, got 47");
    assert.match(failure(withTags({ "aws:x": "y" })), /^fargate\.toml: Fargate\.Tags\.aws:x: the key must be 1–128 /);
    assert.match(
      failure(withTags({ team: "a;b" })),
      /^fargate\.toml: Fargate\.Tags\.team: the value must be up to 256 /,
    );
  });

  it("tag values the driver derives from a job are made acceptable by the same rule", () => {
    assert.equal(toTagValue("group/project;rm -rf"), "group/project_rm -rf");
    assert.equal(toTagValue("x".repeat(300)).length, 256);
    const tags = taskTags({ id: "1", binding: "b", project: "a|b" }, {});
    assert.equal(taskTagProblem(Object.fromEntries(tags.map((t) => [t.key, t.value]))), undefined);
  });
});

describe("manager paths", () => {
  it("the config stage tells gitlab-runner the builds and cache directories of MANAGER_PATHS", () => {
    const output = configOutput("host");
    assert.equal(output.builds_dir, MANAGER_PATHS.buildsDirectory);
    assert.equal(output.cache_dir, MANAGER_PATHS.cacheDirectory);
  });
});
