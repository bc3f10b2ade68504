import { strict as assert } from "node:assert";
import * as iarna from "@iarna/toml";
import * as pulumi from "@pulumi/pulumi";
import { parse as smolParse } from "smol-toml";
import type * as Components from "../../components";
import {
  installMocks,
  isSecretOutput,
  plainOccurrences,
  ResourceRecorder,
  settle,
  valueOf,
} from "../support/pulumiMocks";
import { giveInstancesPrivateIps } from "./deployment";

const TOKEN = "glrt-wiring-token-1a2b3c4d";
const ACCESS_TOKEN = "glpat-wiring-access-5e6f7a8b";
const REGISTER = "command:remote:Command";

let recorder: ResourceRecorder;
let components: typeof Components;
let counter = 0;

/** A runner built from `gitlab` (plus required args) whose children's resource options are recorded. */
async function deploy(gitlab: Components.GitLabArgs, extra: Partial<Components.GitLabFargateRunnerArgs> = {}) {
  const name = `wire${++counter}`;
  const childOptions = new Map<string, pulumi.ResourceOptions>();
  const runner = new components.GitLabFargateRunner(
    name,
    { gitlab, admin: { sshCidrBlocks: ["203.0.113.7/32"] }, ...extra },
    {
      transformations: [
        (args) => {
          childOptions.set(args.name, args.opts);
          return undefined;
        },
      ],
    },
  );
  await valueOf(runner.registration.command.id);
  await settle();
  const staged = async (file: string) => {
    const copy = recorder.one(name, "command:remote:CopyToRemote", `stage-${file}`);
    return (await copy.inputs.source.text) as string;
  };
  return { name, runner, childOptions, staged, resources: recorder.of(name) };
}

describe("GitLabFargateRunner wires the registration (Pulumi mocks)", function () {
  before(async () => {
    recorder = await installMocks();
    giveInstancesPrivateIps();
    components = await import("../../components");
  });

  it("registers only after the manager, its Elastic IP and the job infrastructure exist", async () => {
    const { name, runner, childOptions } = await deploy({ url: "https://gitlab.example.com", runnerToken: TOKEN });
    const dependsOn = childOptions.get(`${name}-register`)?.dependsOn as pulumi.Resource[];
    for (const needed of runner.jobInfrastructure) assert.ok(dependsOn.includes(needed));
    const names = await Promise.all(dependsOn.map((r) => valueOf(r.urn)));
    assert.ok(
      names.some((urn) => urn.endsWith(`::${name}-manager`)),
      names.join("\n"),
    );
    assert.ok(
      names.some((urn) => urn.endsWith(`::${name}-manager-eip`)),
      names.join("\n"),
    );
  });

  it("boots the manager after its security group rules, so they outlive it and the unregister step on destroy", async () => {
    const { name, childOptions } = await deploy({ url: "https://gitlab.example.com", runnerToken: TOKEN });
    const managerDependsOn = (childOptions.get(`${name}-manager`)?.dependsOn ?? []) as pulumi.Resource[];
    const ruleNames = await Promise.all(managerDependsOn.map((r) => valueOf(r.urn)));
    const managerRules = recorder
      .of(name)
      .filter((r) => r.type.startsWith("aws:vpc/securityGroup") && /-manager-/.test(r.name))
      .map((r) => r.name);
    assert.ok(managerRules.length >= 4, managerRules.join(", "));
    for (const rule of managerRules)
      assert.ok(
        ruleNames.some((urn) => urn.endsWith(`::${rule}`)),
        rule,
      );
    const registerDependsOn = childOptions.get(`${name}-register`)?.dependsOn as pulumi.Resource[];
    const registerNames = await Promise.all(registerDependsOn.map((r) => valueOf(r.urn)));
    assert.ok(registerNames.some((urn) => urn.endsWith(`::${name}-task-ssh-from-manager`)));
  });

  it("connects to the manager's Elastic IP as ubuntu with the component's key", async () => {
    const { name, runner } = await deploy({ url: "https://gitlab.example.com", runnerToken: TOKEN });
    const register = recorder.one(name, REGISTER, "register");
    const connection = register.inputs.connection.value ?? register.inputs.connection;
    assert.equal(connection.host, await valueOf(runner.managerPublicIp));
    assert.equal(connection.user, "ubuntu");
    assert.equal(connection.privateKey, await valueOf(runner.managerSshPrivateKey));
  });

  it("jumps through the given bastion, whose key stays secret", async () => {
    const bastionKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nbastion\n-----END OPENSSH PRIVATE KEY-----\n";
    const { name, resources } = await deploy(
      { url: "https://gitlab.example.com", runnerToken: TOKEN },
      { manager: { sshProxy: { host: "bastion.example.com", user: "jump", privateKey: bastionKey } } },
    );
    const register = recorder.one(name, REGISTER, "register");
    const connection = register.inputs.connection.value ?? register.inputs.connection;
    assert.equal(connection.proxy.host, "bastion.example.com");
    assert.equal(connection.proxy.user, "jump");
    assert.equal(connection.proxy.privateKey, bastionKey);
    assert.deepEqual(plainOccurrences(resources, bastionKey), []);
  });

  it("keeps the manager when Canonical publishes a newer AMI, but follows a given amiId", async () => {
    const looked = await deploy({ url: "https://gitlab.example.com", runnerToken: TOKEN });
    assert.deepEqual(looked.childOptions.get(`${looked.name}-manager`)?.ignoreChanges, ["ami"]);
    const given = await deploy(
      { url: "https://gitlab.example.com", runnerToken: TOKEN },
      { manager: { amiId: "ami-1" } },
    );
    assert.deepEqual(given.childOptions.get(`${given.name}-manager`)?.ignoreChanges, []);
  });

  it("pushes a fargate.toml describing this component's cluster, subnets, security group and task definition", async () => {
    const { runner, staged } = await deploy({ url: "https://gitlab.example.com", runnerToken: TOKEN });
    const text = await staged("fargate-toml");
    const fargate = smolParse(text).Fargate as Record<string, unknown>;
    assert.deepEqual(JSON.parse(JSON.stringify(iarna.parse(text))), JSON.parse(JSON.stringify(smolParse(text))));
    assert.equal(fargate.Cluster, await valueOf(runner.clusterName));
    assert.equal(fargate.Region, await valueOf(runner.region));
    assert.deepEqual(fargate.Subnets ?? [fargate.Subnet], await valueOf(runner.taskSubnetIds));
    assert.deepEqual(fargate.SecurityGroups ?? [fargate.SecurityGroup], [await valueOf(runner.taskSecurityGroupId)]);
    assert.equal(fargate.TaskDefinition, await valueOf(runner.taskDefinition));
    assert.equal(fargate.EnablePublicIP, false);
    assert.equal(fargate.UsePublicIP, false);
  });

  it("lets jobs choose their task size only up to jobs.maxTaskSize, and not at all by default", async () => {
    const none = await deploy({ url: "https://gitlab.example.com", runnerToken: TOKEN });
    const plain = smolParse(await none.staged("fargate-toml")).Fargate as Record<string, unknown>;
    assert.equal(plain.MaxTaskCPU, undefined);
    assert.equal(plain.MaxTaskMemory, undefined);
    const capped = await deploy(
      { url: "https://gitlab.example.com", runnerToken: TOKEN },
      { jobs: { maxTaskSize: { cpu: 4096, memory: 16384 } } },
    );
    const fargate = smolParse(await capped.staged("fargate-toml")).Fargate as Record<string, unknown>;
    assert.equal(fargate.MaxTaskCPU, 4096);
    assert.equal(fargate.MaxTaskMemory, 16384);
    assert.throws(
      () =>
        new components.GitLabFargateRunner("maxsize-bad", {
          gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
          admin: { sshCidrBlocks: ["203.0.113.7/32"] },
          jobs: { maxTaskSize: { cpu: 4096, memory: 4096 } },
        }),
      /jobs\.maxTaskSize\.memory.*valid: 8192/,
    );
  });

  it("lets jobs choose any image and service by default, and writes what jobs.allowedImages / allowedServices / registryCredentials say", async () => {
    const fargateOf = async (extra: Partial<Components.GitLabFargateRunnerArgs>) => {
      const { staged } = await deploy({ url: "https://gitlab.example.com", runnerToken: TOKEN }, extra);
      const text = await staged("fargate-toml");
      const other = JSON.parse(JSON.stringify(iarna.parse(text)));
      assert.deepEqual(other, JSON.parse(JSON.stringify(smolParse(text))), "two TOML parsers agree");
      return other.Fargate as Record<string, unknown>;
    };
    const byDefault = await fargateOf({});
    assert.deepEqual(byDefault.AllowedImages, ["*"]);
    assert.deepEqual(byDefault.AllowedServices, ["*"]);
    assert.ok(!("RegistryCredentials" in byDefault));

    const secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ghcr-GhCr01";
    const chosen = await fargateOf({
      jobs: {
        allowedImages: ["registry.example.com/ci/*"],
        allowedServices: [],
        registryCredentials: { "ghcr.io": pulumi.output(secret) },
      },
    });
    assert.deepEqual(chosen.AllowedImages, ["registry.example.com/ci/*"]);
    assert.ok(!("AllowedServices" in chosen), "[] turns services off: no key");
    assert.deepEqual(chosen.RegistryCredentials, { "ghcr.io": secret });

    const off = await fargateOf({ jobs: { allowedImages: [], allowedServices: [] } });
    for (const key of ["AllowedImages", "AllowedServices", "RegistryCredentials"]) assert.ok(!(key in off), key);
  });

  it("with public tasks, gives them a public IP but still connects to the private one (the SG admits the manager's SG)", async () => {
    const { staged } = await deploy(
      { url: "https://gitlab.example.com", runnerToken: TOKEN },
      { network: { taskPlacement: "public" } },
    );
    const fargate = smolParse(await staged("fargate-toml")).Fargate as Record<string, unknown>;
    assert.equal(fargate.EnablePublicIP, true);
    assert.equal(fargate.UsePublicIP, false);
  });

  it("points the runner's S3 cache at the component's bucket, and has no cache section when the cache is off", async () => {
    const on = await deploy({ url: "https://gitlab.example.com", runnerToken: TOKEN });
    const template = smolParse(await on.staged("runner-template-toml")) as {
      runners: Record<string, Record<string, Record<string, unknown>>>[];
    };
    assert.equal(template.runners[0].cache.s3.BucketName, await valueOf(on.runner.cacheBucketName));
    assert.equal(template.runners[0].cache.s3.AuthenticationType, "iam");
    const off = await deploy({ url: "https://gitlab.example.com", runnerToken: TOKEN }, { cache: { enabled: false } });
    const bare = smolParse(await off.staged("runner-template-toml")) as {
      runners: Record<string, Record<string, Record<string, unknown>>>[];
    };
    assert.equal(bare.runners[0].cache, undefined);
  });

  it("hands the runner token to the register command only as a secret, and to nothing else", async () => {
    const { resources } = await deploy({ url: "https://gitlab.example.com", runnerToken: TOKEN });
    const register = resources.find((r) => r.type === REGISTER)!;
    assert.deepEqual(plainOccurrences(resources, TOKEN), []);
    assert.ok(JSON.stringify(register.inputs.stdin).includes(TOKEN), "the token reaches the register command");
    assert.deepEqual(plainOccurrences([register.inputs.stdin], TOKEN), []);
  });

  it("with gitlab.createRunner, creates the runner in GitLab and registers with the token GitLab returned", async () => {
    const { name, runner, childOptions, resources } = await deploy({
      url: "https://gitlab.example.com",
      createRunner: { accessToken: ACCESS_TOKEN, scope: { groupId: 42 }, tags: ["fargate"] },
    });
    const created = recorder.one(name, "pulumi-nodejs:dynamic:Resource", "gitlab-runner");
    assert.equal(created.inputs.url, "https://gitlab.example.com");
    assert.ok(runner.gitlabRunner);
    const register = recorder.one(name, REGISTER, "register");
    assert.ok(JSON.stringify(register.inputs.stdin).includes(`glrt-created-${name}-gitlab-runner`));
    assert.deepEqual(plainOccurrences(resources, ACCESS_TOKEN), []);
    assert.deepEqual(plainOccurrences([register.inputs.stdin], `glrt-created-${name}-gitlab-runner`), []);
    // The manager unregisters (the command's delete) before the runner is deleted in GitLab.
    assert.ok((childOptions.get(`${name}-register`)?.dependsOn as pulumi.Resource[]).includes(runner.gitlabRunner));
    assert.equal(typeof (await valueOf(runner.runnerId)), "number");
    assert.ok(await isSecretOutput(runner.gitlabRunner.token));
  });

  it("refuses createRunner together with a token, and legacy settings without a registration token", () => {
    const admin = { sshCidrBlocks: ["203.0.113.7/32"] };
    const createRunner = { accessToken: ACCESS_TOKEN, scope: { instance: true } };
    assert.throws(
      () =>
        new components.GitLabFargateRunner("refused1", {
          gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN, createRunner },
          admin,
        }),
      /gitlab\.createRunner/,
    );
    assert.throws(
      () =>
        new components.GitLabFargateRunner("refused2", {
          gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN, legacyRegistration: { tags: ["a"] } },
          admin,
        }),
      /gitlab\.legacyRegistration/,
    );
    assert.throws(
      () =>
        new components.GitLabFargateRunner("refused3", {
          gitlab: { url: "https://gitlab.example.com", createRunner: { ...createRunner, scope: { groupId: -1 } } },
          admin,
        }),
      /gitlab\.createRunner\.scope/,
    );
  });
});
