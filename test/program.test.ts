import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as iarna from "@iarna/toml";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, plainOccurrences, ResourceRecorder, settle, valueOf } from "./support/pulumiMocks";

// js-yaml ships with @pulumi/pulumi (its own dependency); used here only to read the project files.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as { load(text: string): unknown };

const root = path.join(__dirname, "..");
const project = yaml.load(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as {
  name: string;
  main?: string;
  config: Record<string, { type: string; description?: string; secret?: boolean; items?: { type: string } }>;
};
const devStack = yaml.load(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8")) as {
  config: Record<string, unknown>;
};
const programSource = fs.readFileSync(path.join(root, "index.ts"), "utf8");
const TOKEN = "glrt-program-test-token";
const REGISTRY_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ci-registry-AbCdEf";

/** Keys index.ts reads through `config.get*()` / `config.require*()`. */
function keysReadByProgram(): string[] {
  return [...programSource.matchAll(/config\.(?:get|require)\w*(?:<[^>]*>)?\("([A-Za-z0-9]+)"\)/g)].map((m) => m[1]);
}

describe("the Pulumi program (index.ts, Pulumi.yaml, Pulumi.dev.yaml)", () => {
  let recorder: ResourceRecorder;
  let savedConfig: Record<string, string>;

  before(async () => {
    recorder = await installMocks();
    savedConfig = pulumi.runtime.allConfig();
  });

  after(() => {
    pulumi.runtime.setAllConfig(savedConfig, []);
  });

  it("declares, with a type and a description, every config key index.ts reads, and no other", () => {
    const read = new Set(keysReadByProgram());
    assert.ok(read.has("gitlabUrl") && read.has("runnerToken") && read.has("adminCidrBlocks"));
    assert.deepEqual([...read].sort(), Object.keys(project.config).sort());
    for (const [key, schema] of Object.entries(project.config)) {
      assert.ok(["string", "integer", "boolean", "array"].includes(schema.type), `${key}: type`);
      assert.ok((schema.description ?? "").length > 10, `${key}: description`);
      if (schema.type === "array") assert.ok(schema.items?.type, `${key}: items`);
    }
    assert.equal(project.config.runnerToken.secret, true);
    assert.equal(project.main, "index.ts", "package.json's main is the library, so the program must be named");
  });

  it("ships an example stack with placeholders only, and no token in it", () => {
    const keys = Object.keys(devStack.config).map((k) => k.replace(`${project.name}:`, ""));
    for (const key of keys) assert.ok(key in project.config, `Pulumi.dev.yaml sets undeclared ${key}`);
    assert.ok(!keys.includes("runnerToken"));
    assert.doesNotMatch(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8"), /glrt-[A-Za-z0-9]{6,}/);
  });

  it("deploys one runner from the example stack plus the secret token and exports the runner's outputs, each with a value", async () => {
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(devStack.config)) {
      config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    config[`${project.name}:runnerToken`] = TOKEN;
    // Jobs' images: only the company registry, no services, its credentials (project config has no map type).
    config[`${project.name}:jobAllowedImages`] = JSON.stringify(["registry.example.com/ci/*"]);
    config[`${project.name}:jobAllowedServices`] = JSON.stringify([]);
    config[`${project.name}:jobRegistryCredentials`] = JSON.stringify([`registry.example.com=${REGISTRY_SECRET}`]);
    // Two managers that drain for at most half an hour; tasks stop themselves after 15 idle minutes.
    config[`${project.name}:managerCount`] = "2";
    config[`${project.name}:runnerDrainTimeoutMinutes`] = "30";
    config[`${project.name}:jobIdleTimeoutSeconds`] = "900";
    pulumi.runtime.setAllConfig(config, [`${project.name}:runnerToken`]);

    const program = await import("../index");
    await valueOf(program.managerPublicIp);
    await settle();

    const expected = [
      "vpcId",
      "privateSubnetIds",
      "clusterName",
      "clusterArn",
      "taskDefinitionArn",
      "taskSecurityGroupId",
      "managerSecurityGroupId",
      "managerInstanceId",
      "managerPublicIp",
      "managerInstanceIds",
      "managerPublicIps",
      "egressIps",
      "imageUri",
      "cacheBucketName",
      "logGroupName",
    ];
    for (const name of expected) {
      const output = (program as Record<string, unknown>)[name];
      assert.ok(pulumi.Output.isInstance(output), `export ${name}`);
      assert.notEqual(await valueOf(output as pulumi.Output<unknown>), undefined, `export ${name} has a value`);
    }
    const component = recorder.resources.find((r) => r.type === "gitlab-fargate-runner:index:GitLabFargateRunner");
    assert.equal(component?.name, "test", "named after the stack");
    const ingress = recorder.ofType("test", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
    assert.ok(ingress.some((r) => r.inputs.cidrIpv4 === "203.0.113.7/32"));
    const tags = recorder.one("test", "aws:ecs/cluster:Cluster").inputs.tags;
    assert.equal(tags.team, "platform");
    const fargateToml = await recorder.one("test", "command:remote:CopyToRemote", "stage-fargate-toml").inputs.source
      .text;
    const fargate = (iarna.parse(fargateToml) as { Fargate: Record<string, unknown> }).Fargate;
    assert.deepEqual(fargate.AllowedImages, ["registry.example.com/ci/*"]);
    assert.ok(!("AllowedServices" in fargate));
    assert.deepEqual({ ...(fargate.RegistryCredentials as object) }, { "registry.example.com": REGISTRY_SECRET });
    assert.equal((iarna.parse(fargateToml) as { Timeouts: { TaskIdle: number } }).Timeouts.TaskIdle, 900);
    assert.equal(recorder.ofType("test", "aws:ec2/instance:Instance").length, 2);
    assert.equal((await valueOf(program.managerPublicIps)).length, 2);
    const dropIn = await recorder.one("test", "command:remote:CopyToRemote", "stage-gitlab-runner-conf").inputs.source
      .text;
    assert.match(dropIn, /^TimeoutStopSec=1800$/m);
    assert.deepEqual(
      recorder.of("test").flatMap((r) => plainOccurrences(r.inputs, TOKEN)),
      [],
    );
  });
});
