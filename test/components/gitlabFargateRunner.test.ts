import { strict as assert } from "node:assert";
import {
  isSecretOutput,
  mockAwsId,
  plainOccurrences,
  REGION,
  ResourceRecorder,
  settle,
  unwrapSecrets,
  valueOf,
} from "../support/pulumiMocks";
import { ADMIN, ComponentFixture, statements, T, TOKEN } from "./deployment";

const fixture = new ComponentFixture();
const { deployed } = fixture;

describe("GitLabFargateRunner (Pulumi mocks)", function () {
  let recorder: ResourceRecorder;
  before(async () => {
    recorder = await fixture.install();
  });

  describe("the component", () => {
    it("registers with type token gitlab-fargate-runner:index:GitLabFargateRunner and no inputs of its own", async () => {
      const { name } = await deployed();
      const component = recorder.resources.find((r) => r.name === name);
      assert.equal(component?.type, "gitlab-fargate-runner:index:GitLabFargateRunner");
      assert.deepEqual(component?.inputs, {});
    });

    it("names every child <name>-<part>", async () => {
      const { name, resources } = await deployed();
      const children = resources.filter((r) => r.name !== name);
      assert.ok(children.length > 20);
      for (const child of children) assert.match(child.name, new RegExp(`^${name}-[a-z0-9-]+$`));
    });

    it("exposes its outputs with the values of its resources", async () => {
      const { name, runner, one, all } = await deployed();
      const vpc = one(T.vpc);
      assert.equal(await valueOf(runner.vpcId), mockAwsId("vpc", vpc.name));
      assert.deepEqual(await valueOf(runner.privateSubnetIds), [
        mockAwsId("subnet", `priv1-${vpc.name}`),
        mockAwsId("subnet", `priv2-${vpc.name}`),
      ]);
      assert.equal(await valueOf(runner.clusterName), `${one(T.cluster).name}-c0ffee`);
      assert.match(await valueOf(runner.clusterArn), /^arn:aws:ecs:eu-west-1:123456789012:cluster\//);
      assert.match(await valueOf(runner.taskDefinitionArn), /:task-definition\/gitlab-rn\d+-test:3$/);
      assert.equal(await valueOf(runner.taskSecurityGroupId), one(T.sg, "task-sg").id);
      assert.equal(await valueOf(runner.managerSecurityGroupId), one(T.sg, "manager-sg").id);
      assert.equal(await valueOf(runner.managerInstanceId), one(T.instance).id);
      assert.match(await valueOf(runner.managerPublicIp), /^198\.51\.100\.\d+$/);
      assert.match(await valueOf(runner.imageUri), /\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/.+@sha256:/);
      assert.equal(await valueOf(runner.cacheBucketName), `${one(T.bucket).name}-b4cket`);
      assert.equal(await valueOf(runner.logGroupName), `/gitlab-runner/${name}/${one(T.logGroup).name}`);
      assert.equal(all(T.eip).length, 2);
    });

    it("keeps what the registration step needs: SSH target, secret key, cluster, subnets, SG, task definition", async () => {
      const { runner, one, all } = await deployed();
      assert.equal(runner.managerSshUser, "ubuntu");
      assert.ok(await isSecretOutput(runner.managerSshPrivateKey));
      assert.match(await valueOf(runner.managerSshPrivateKey), /BEGIN OPENSSH PRIVATE KEY/);
      assert.equal(await valueOf(runner.region), REGION);
      assert.deepEqual(await valueOf(runner.taskSubnetIds), await valueOf(runner.privateSubnetIds));
      assert.equal(runner.tasksUsePublicIp, false);
      assert.equal(await valueOf(runner.taskDefinition), `${one(T.taskDefinition).inputs.family}:3`);
      assert.equal(runner.containerName, "ci-coordinator");
      assert.equal(runner.platformVersion, "LATEST");
      assert.equal(await valueOf(runner.cacheBucketRegion), REGION);
      const ready = await Promise.all(runner.jobInfrastructure.map((r) => valueOf(r.urn)));
      assert.deepEqual(
        ready.map((urn) => urn.split("::").at(-1)),
        [
          one(T.capacity).name,
          one(T.rolePolicy, "manager-policy").name,
          one(T.taskDefinition).name,
          one(T.ingress, "task-ssh-from-manager").name,
          ...all(T.egress)
            .filter((rule) => rule.name.includes("-task-out-"))
            .map((rule) => rule.name),
        ],
      );
    });
  });

  describe("tags", () => {
    it("puts the caller's tags and the runner tag on every taggable resource", async () => {
      const { name, resources } = await deployed({ tags: { team: "platform", "cost-center": "42" } });
      const taggable = [
        T.vpc,
        T.eip,
        T.sg,
        T.ingress,
        T.egress,
        T.repository,
        T.cluster,
        T.taskDefinition,
        T.logGroup,
        T.role,
        T.profile,
        T.instance,
        T.keyPair,
        T.bucket,
      ];
      const checked = resources.filter((r) => taggable.includes(r.type));
      assert.ok(checked.length >= 20);
      for (const resource of checked) {
        const tags = resource.inputs.tags;
        assert.equal(tags?.team, "platform", `${resource.name} lacks the caller's tags`);
        assert.equal(tags?.["cost-center"], "42");
        assert.equal(tags?.["gitlab-fargate-runner"], name, `${resource.name} lacks the runner tag`);
      }
    });
  });

  describe("secrets", () => {
    it("the runner token appears in no resource input except secret-wrapped", async () => {
      const { name, runner } = await deployed();
      const found = recorder.of(name).flatMap((r) => plainOccurrences(r.inputs, TOKEN).map((p) => `${r.name}.${p}`));
      assert.deepEqual(found, []);
      assert.ok(!JSON.stringify(Object.keys(runner)).includes(TOKEN));
      // Sanity of the probe itself: it does see the token when it is not wrapped.
      assert.deepEqual(plainOccurrences({ a: [{ b: `x${TOKEN}` }] }, TOKEN), ["a[0].b"]);
      assert.deepEqual(unwrapSecrets({ a: { "4dabf18193072939515e22adb298388d": "1b47", value: TOKEN } }), {
        a: TOKEN,
      });
    });

    it("a legacy registration token is accepted and kept out of every input too", async () => {
      const legacy = "GR1348941legacy-registration";
      const { name } = await deployed({ gitlab: { url: "https://gitlab.example.com", registrationToken: legacy } });
      const found = recorder.of(name).flatMap((r) => plainOccurrences(r.inputs, legacy));
      assert.deepEqual(found, []);
    });
  });

  describe("two runners in one program", () => {
    it("share one own VPC without URN or name collisions, each scoped to its own cluster", async () => {
      const network = {
        existing: {
          vpcId: "vpc-05a4ed00",
          publicSubnetIds: ["subnet-0a000001"],
          privateSubnetIds: ["subnet-0b000001", "subnet-0b000002"],
        },
      };
      const base = {
        gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
        admin: { sshCidrBlocks: [ADMIN] },
      };
      const small = new fixture.components.GitLabFargateRunner("platform-small", { ...base, network });
      const large = new fixture.components.GitLabFargateRunner("platform-large", {
        ...base,
        network,
        jobs: { cpu: 4096, memory: 8192 },
      });
      await Promise.all([valueOf(small.managerPublicIp), valueOf(large.managerPublicIp)]);
      await settle();
      const names = [...recorder.of("platform-small"), ...recorder.of("platform-large")].map(
        (r) => `${r.type}::${r.name}`,
      );
      assert.equal(new Set(names).size, names.length, "duplicate type+name means a URN collision");
      assert.notEqual(await valueOf(small.clusterArn), await valueOf(large.clusterArn));
      assert.notEqual(small.taskDefinitionFamily, large.taskDefinitionFamily);
      const runArn = (component: string) =>
        statements(recorder.one(component, T.rolePolicy, "manager-policy")).find((s) => s.Sid === "RunJobTasks")
          ?.Condition;
      assert.deepEqual(runArn("platform-small"), { ArnEquals: { "ecs:cluster": await valueOf(small.clusterArn) } });
      assert.deepEqual(runArn("platform-large"), { ArnEquals: { "ecs:cluster": await valueOf(large.clusterArn) } });
      for (const sg of recorder.resources.filter((r) => r.type === T.sg && r.name.startsWith("platform-"))) {
        assert.equal(sg.inputs.vpcId, "vpc-05a4ed00");
      }
    });

    it("refuses a second runner with the same name, or a name that would collide with another's children", () => {
      const args = {
        gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
        admin: { sshCidrBlocks: [ADMIN] },
      };
      new fixture.components.GitLabFargateRunner("dup", args);
      assert.throws(
        () => new fixture.components.GitLabFargateRunner("dup", args),
        /invalid name: "dup" collides with the runner "dup"/,
      );
      assert.throws(
        () => new fixture.components.GitLabFargateRunner("dup-cache", args),
        /collides with the runner "dup"/,
      );
    });
  });
});
