// manager.count: several manager instances behind one GitLab runner, each drained when it goes (Pulumi mocks).
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "smol-toml";
import type * as Components from "../../components";
import { CapturedResource, mockAwsId, ResourceRecorder, settle, valueOf } from "../support/pulumiMocks";
import { ADMIN, ComponentFixture, mockPrivateIp, T, TOKEN } from "./deployment";

const fixture = new ComponentFixture();

/** A runner whose children's resource options are recorded too. */
async function deployWithOptions(name: string, extra: Partial<Components.GitLabFargateRunnerArgs> = {}) {
  const options = new Map<string, pulumi.ResourceOptions>();
  const runner = new fixture.components.GitLabFargateRunner(
    name,
    { gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN }, admin: { sshCidrBlocks: [ADMIN] }, ...extra },
    {
      transformations: [
        (args) => {
          options.set(args.name, args.opts);
          return undefined;
        },
      ],
    },
  );
  await valueOf(runner.egressIps);
  await Promise.all(runner.registrations.map((r) => valueOf(r.drain!.id)));
  await settle();
  const recorder = fixture.recorder;
  const named = (resourceName: string) => {
    const found = recorder.of(name).filter((r) => r.name === resourceName);
    assert.equal(found.length, 1, `one resource named ${resourceName}`);
    return found[0];
  };
  return { name, runner, options, named, all: (type: string) => recorder.ofType(name, type) };
}

/** A Command's connection, secret or not. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const connectionOf = (command: CapturedResource): any => command.inputs.connection.value ?? command.inputs.connection;

describe("manager.count: managers behind one runner (Pulumi mocks)", function () {
  let recorder: ResourceRecorder;
  before(async () => {
    recorder = await fixture.install();
  });

  describe("three managers", () => {
    let deployment: Awaited<ReturnType<typeof deployWithOptions>>;
    before(async () => {
      deployment = await deployWithOptions("fleet", { manager: { count: 3 } });
    });

    it("three instances with distinct names, round-robin over the public subnets", async () => {
      const { all } = deployment;
      const instances = all(T.instance);
      assert.deepEqual(
        instances.map((i) => i.name),
        ["fleet-manager", "fleet-manager-2", "fleet-manager-3"],
      );
      const vpc = recorder.one("fleet", T.vpc).name;
      assert.deepEqual(
        instances.map((i) => i.inputs.subnetId),
        [mockAwsId("subnet", `pub1-${vpc}`), mockAwsId("subnet", `pub2-${vpc}`), mockAwsId("subnet", `pub1-${vpc}`)],
      );
      assert.deepEqual(
        instances.map((i) => i.inputs.tags.Name),
        ["fleet-manager", "fleet-manager-2", "fleet-manager-3"],
      );
      assert.equal(all(T.keyPair).length, 1, "one SSH key for all");
      assert.equal(new Set(instances.map((i) => i.inputs.keyName)).size, 1);
    });

    it("an Elastic IP each, all in egressIps (managers first, then the NAT), and the outputs in order", async () => {
      const { runner, all, named } = deployment;
      const eips = ["fleet-manager-eip", "fleet-manager-2-eip", "fleet-manager-3-eip"].map(named);
      assert.deepEqual(
        eips.map((eip) => eip.inputs.instance),
        ["i-fleet-manager", "i-fleet-manager-2", "i-fleet-manager-3"],
      );
      const managerIps = await valueOf(runner.managerPublicIps);
      assert.equal(new Set(managerIps).size, 3);
      const egress = await valueOf(runner.egressIps);
      assert.equal(egress.length, all(T.eip).length, "every Elastic IP of the stack (3 managers, 1 NAT)");
      assert.deepEqual(egress.slice(0, 3), managerIps);
      assert.deepEqual(await valueOf(runner.managerInstanceIds), [
        "i-fleet-manager",
        "i-fleet-manager-2",
        "i-fleet-manager-3",
      ]);
      assert.equal(await valueOf(runner.managerInstanceId), "i-fleet-manager");
      assert.equal(await valueOf(runner.managerPublicIp), managerIps[0]);
    });

    it("a registration each, same token, its own Elastic IP and instance", async () => {
      const { runner, named, options } = deployment;
      const registers = ["fleet-register", "fleet-manager-2-register", "fleet-manager-3-register"].map(named);
      const ips = await valueOf(runner.managerPublicIps);
      assert.deepEqual(
        registers.map((r) => connectionOf(r).host),
        ips,
      );
      for (const register of registers) assert.equal(register.inputs.stdin.value, `${TOKEN}\n`);
      assert.equal(runner.registrations.length, 3);
      assert.equal(runner.registration, runner.registrations[0]);
      for (const [i, part] of ["fleet", "fleet-manager-2", "fleet-manager-3"].entries()) {
        const dependsOn = options.get(`${part}-register`)?.dependsOn as pulumi.Resource[];
        const urns = await Promise.all(dependsOn.map((r) => valueOf(r.urn)));
        const instance = ["fleet-manager", "fleet-manager-2", "fleet-manager-3"][i];
        assert.ok(
          urns.some((urn) => urn.endsWith(`::${instance}`)),
          `${part}-register waits for ${instance}`,
        );
        assert.ok(urns.some((urn) => urn.endsWith(`::${instance}-eip`)));
      }
    });

    it("its own fargate.toml each: Manager.ID is its instance id; the same cluster and TaskIdle", async () => {
      const { named } = deployment;
      const tomls = await Promise.all(
        ["fleet-stage-fargate-toml", "fleet-manager-2-stage-fargate-toml", "fleet-manager-3-stage-fargate-toml"]
          .map(named)
          .map(async (copy) => parse(await copy.inputs.source.text) as Record<string, Record<string, unknown>>),
      );
      assert.deepEqual(
        tomls.map((toml) => toml.Manager.ID),
        ["i-fleet-manager", "i-fleet-manager-2", "i-fleet-manager-3"],
      );
      for (const toml of tomls) {
        assert.equal(toml.Timeouts.TaskIdle, 600);
        assert.equal(toml.Fargate.Cluster, tomls[0].Fargate.Cluster);
      }
    });

    it("a drain step each, at the instance's private IP through its own Elastic IP, replaced with the instance", async () => {
      const { runner, named, options } = deployment;
      const ips = await valueOf(runner.managerPublicIps);
      for (const [i, part] of ["fleet", "fleet-manager-2", "fleet-manager-3"].entries()) {
        const drain = named(`${part}-drain`);
        const connection = connectionOf(drain);
        const instance = ["fleet-manager", "fleet-manager-2", "fleet-manager-3"][i];
        assert.equal(connection.host, mockPrivateIp(instance), "the instance's private IP");
        assert.equal(connection.proxy.host, ips[i], "jumping through its Elastic IP");
        assert.equal(connection.proxy.user, "ubuntu");
        assert.deepEqual(drain.inputs.triggers, [`i-${instance}`]);
        assert.match(drain.inputs.delete, /sh '\/home\/ubuntu\/gitlab-fargate-runner\/unregister\.sh'$/);
        assert.equal(named(`${part}-register`).inputs.delete, undefined, "the drain step unregisters, not this one");
        const dependsOn = options.get(`${part}-drain`)?.dependsOn as pulumi.Resource[];
        assert.ok(dependsOn.includes(runner.registrations[i].command), "drained before its registration goes");
      }
    });

    it("every staged file of a manager is copied again onto a replacement instance (triggers)", () => {
      const { all } = deployment;
      const copies = all(T.copy);
      assert.equal(copies.length, 3 * 9);
      for (const copy of copies) {
        const instance = copy.name.startsWith("fleet-manager-")
          ? `i-${copy.name.slice(0, copy.name.indexOf("-stage-"))}`
          : "i-fleet-manager";
        assert.deepEqual(copy.inputs.triggers, [instance], copy.name);
      }
    });

    it("nothing asks Pulumi to delete before it replaces: a new instance exists before the old one is drained", () => {
      const { options, all, name } = deployment;
      const mine = [T.instance, T.eip, T.command, T.copy].flatMap(all);
      assert.ok(mine.length > 30);
      for (const resource of mine) {
        const opts = options.get(resource.name) as pulumi.CustomResourceOptions | undefined;
        assert.notEqual(opts?.deleteBeforeReplace, true, resource.name);
      }
      for (const instance of all(T.instance)) {
        assert.deepEqual(options.get(instance.name)?.replaceOnChanges, ["instanceType"], "resized by replacement");
      }
      assert.ok(name);
    });

    it("managers may SSH to each other, for the drain jump; nothing else opens", () => {
      const { named } = deployment;
      const manager = recorder.one("fleet", T.sg, "manager-sg").id;
      const from = named("fleet-manager-ssh-from-managers");
      const to = named("fleet-manager-ssh-to-managers");
      for (const rule of [from, to]) {
        assert.equal(rule.inputs.securityGroupId, manager);
        assert.equal(rule.inputs.referencedSecurityGroupId, manager);
        assert.deepEqual([rule.inputs.ipProtocol, rule.inputs.fromPort, rule.inputs.toPort], ["tcp", 22, 22]);
        assert.equal(rule.inputs.cidrIpv4, undefined);
      }
      assert.equal(from.type, T.ingress);
      assert.equal(to.type, T.egress);
    });
  });

  describe("one manager (the default)", () => {
    it("keeps the names and outputs of a single manager; the lists hold it alone", async () => {
      const { runner, all, named } = await deployWithOptions("single");
      assert.deepEqual(
        all(T.instance).map((i) => i.name),
        ["single-manager"],
      );
      named("single-manager-eip");
      assert.deepEqual(
        all(T.command)
          .map((c) => c.name)
          .sort(),
        ["single-drain", "single-register"],
      );
      named("single-stage-driver");
      assert.deepEqual(await valueOf(runner.managerInstanceIds), [await valueOf(runner.managerInstanceId)]);
      assert.deepEqual(await valueOf(runner.managerPublicIps), [await valueOf(runner.managerPublicIp)]);
      const egress = await valueOf(runner.egressIps);
      assert.equal(egress[0], await valueOf(runner.managerPublicIp));
      assert.equal(egress.length, 2);
      assert.equal(runner.registrations.length, 1);
    });

    it("with a bastion, drains through it, and managers do not reach each other", async () => {
      const bastionKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nbastion\n-----END OPENSSH PRIVATE KEY-----\n";
      const { named, all } = await deployWithOptions("bastioned", {
        manager: { count: 2, sshProxy: { host: "bastion.example.com", user: "jump", privateKey: bastionKey } },
      });
      const drain = connectionOf(named("bastioned-manager-2-drain"));
      assert.equal(drain.host, mockPrivateIp("bastioned-manager-2"));
      assert.equal(drain.proxy.host, "bastion.example.com");
      assert.equal(drain.proxy.privateKey, bastionKey);
      const rules = [...all(T.ingress), ...all(T.egress)].map((r) => r.name);
      assert.ok(!rules.some((rule) => rule.includes("-managers")), rules.join(", "));
    });
  });

  describe("drain, heal, idle", () => {
    it("stages gitlab-runner's drop-in with runner.drainTimeoutMinutes; TaskIdle from jobs.idleTimeoutSeconds", async () => {
      const { named } = await deployWithOptions("tuned", {
        runner: { drainTimeoutMinutes: 90 },
        jobs: { idleTimeoutSeconds: 1200 },
      });
      const dropIn = (await named("tuned-stage-gitlab-runner-conf").inputs.source.text) as string;
      assert.match(dropIn, /^TimeoutStopSec=5400$/m);
      assert.match(dropIn, /^KillSignal=SIGQUIT$/m);
      assert.match(dropIn, /^ExecStartPre=-.* reap$/m);
      const toml = parse(await named("tuned-stage-fargate-toml").inputs.source.text) as Record<string, never>;
      assert.deepEqual({ ...(toml.Timeouts as object) }, { TaskIdle: 1200 });
    });

    it("EC2 automatic recovery is on for every manager", async () => {
      const { all } = await deployWithOptions("healed", { manager: { count: 2 } });
      for (const instance of all(T.instance)) {
        assert.deepEqual({ ...instance.inputs.maintenanceOptions }, { autoRecovery: "default" }, instance.name);
      }
    });
  });
});
