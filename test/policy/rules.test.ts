import * as assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { StackValidationPolicy } from "@pulumi/policy";
import {
  encryptedVolumes,
  imdsv2Required,
  launchTemplatesInStack,
  noSecretsInUserData,
} from "../../policy/rules/compute";
import { ecsCoordinatorContainer, ecsTaskDefinitionHardened, logGroupRetention } from "../../policy/rules/ecs";
import {
  iamNoBroadManagedPolicies,
  iamNoPrivilegeEscalation,
  iamNoWildcardActions,
  iamPassRoleScoped,
} from "../../policy/rules/iam";
import { policies, resourcePolicies, stackPolicies } from "../../policy/rules";
import { noWorldSsh, taskSshFromSecurityGroupsOnly } from "../../policy/rules/network";
import { ecrScanOnPush, s3BucketEncryption, s3BucketPublicAccessBlock } from "../../policy/rules/storage";
import { PolicyOutcome, runPack, StackResource, T, UNKNOWN, urnOf, validateResource, validateStack } from "./harness";

function assertPasses(outcome: PolicyOutcome): void {
  assert.equal(outcome.notApplicable, false, "the policy should have applied to this resource");
  assert.deepEqual(outcome.violations, []);
}

/** Exactly `count` violations, each naming the resource and every fragment of `mentions` (the fix). */
function assertViolates(outcome: PolicyOutcome, name: string, mentions: string[], count = 1): void {
  assert.equal(outcome.violations.length, count, JSON.stringify(outcome.violations, null, 2));
  for (const { message } of outcome.violations) {
    assert.ok(message.includes(`"${name}"`), `message names the resource "${name}": ${message}`);
    assert.ok(message.includes("Fix:"), `message says how to fix it: ${message}`);
    for (const mention of mentions) {
      assert.ok(message.includes(mention), `message mentions ${mention}: ${message}`);
    }
  }
}

const policyJson = (...statements: object[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });

describe("policy pack: shape", () => {
  it("has uniquely named policies, each with a description and an enforcement level", () => {
    const names = policies.map((policy) => policy.name);
    assert.equal(new Set(names).size, names.length);
    for (const policy of policies) {
      assert.ok(policy.description.length > 20, policy.name);
      assert.ok(policy.enforcementLevel, policy.name);
    }
  });

  it("is mandatory everywhere except the ci-coordinator and log retention checks, which advise", () => {
    const levels = Object.fromEntries(policies.map((policy) => [policy.name, policy.enforcementLevel]));
    assert.deepEqual(levels, {
      "security-group-no-world-ssh": "mandatory",
      "ec2-imdsv2-required": "mandatory",
      "ec2-encrypted-volumes": "mandatory",
      "ec2-no-secrets-in-user-data": "mandatory",
      "ec2-launch-template-in-stack": "mandatory",
      "ecr-scan-on-push": "mandatory",
      "iam-no-wildcard-actions": "mandatory",
      "iam-passrole-scoped": "mandatory",
      "iam-no-broad-managed-policies": "mandatory",
      "iam-no-privilege-escalation": "mandatory",
      "ecs-task-definition-hardened": "mandatory",
      "ecs-task-definition-ci-coordinator": "advisory",
      "cloudwatch-log-group-retention": "advisory",
      "task-security-group-ssh-from-security-groups-only": "mandatory",
      "s3-bucket-encryption": "mandatory",
      "s3-bucket-public-access-block": "mandatory",
    });
  });

  it("resource policies do not apply to unrelated resource types", async () => {
    const outcome = await validateResource(imdsv2Required, T.bucket, "cache", { forceDestroy: true });
    assert.equal(outcome.notApplicable, true);
    assert.deepEqual(outcome.violations, []);
  });
});

describe("policy security-group-no-world-ssh", () => {
  const sshFrom = (cidrBlocks: string[], ipv6CidrBlocks: string[] = []) => ({
    ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks, ipv6CidrBlocks }],
    egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
  });

  it("passes a group that allows SSH from an admin CIDR and egress anywhere", async () => {
    assertPasses(await validateResource(noWorldSsh, T.securityGroup, "runner-manager", sshFrom(["203.0.113.0/24"])));
  });

  it("fails a group that opens SSH to 0.0.0.0/0", async () => {
    const outcome = await validateResource(noWorldSsh, T.securityGroup, "runner-manager", sshFrom(["0.0.0.0/0"]));
    assertViolates(outcome, "runner-manager", ["TCP 22", "0.0.0.0/0", "ingress[0]", "admin.sshCidrBlocks"]);
  });

  it("fails a group that opens SSH to ::/0", async () => {
    const outcome = await validateResource(noWorldSsh, T.securityGroup, "m", sshFrom([], ["::/0"]));
    assertViolates(outcome, "m", ["::/0"]);
  });

  it("fails a port range that includes 22 and all traffic from the world, but not HTTPS", async () => {
    const props = {
      ingress: [
        { protocol: "tcp", fromPort: 0, toPort: 1024, cidrBlocks: ["0.0.0.0/0"] },
        { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] },
        { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] },
      ],
    };
    const outcome = await validateResource(noWorldSsh, T.securityGroup, "wide", props);
    assert.equal(outcome.violations.length, 2);
    assert.match(outcome.violations[0].message, /TCP 22.*ingress\[0\]/);
    assert.match(outcome.violations[1].message, /all traffic.*ingress\[1\]/);
  });

  it("checks aws.ec2.SecurityGroupRule ingress (and ignores egress)", async () => {
    const rule = { type: "ingress", protocol: "tcp", fromPort: 22, toPort: 22, securityGroupId: "sg-1" };
    assertPasses(
      await validateResource(noWorldSsh, T.securityGroupRule, "ok", { ...rule, cidrBlocks: ["10.0.0.0/8"] }),
    );
    assertPasses(
      await validateResource(noWorldSsh, T.securityGroupRule, "out", {
        ...rule,
        type: "egress",
        cidrBlocks: ["0.0.0.0/0"],
      }),
    );
    const outcome = await validateResource(noWorldSsh, T.securityGroupRule, "bad", {
      ...rule,
      cidrBlocks: ["0.0.0.0/0"],
    });
    assertViolates(outcome, "bad", ["TCP 22"]);
  });

  it("checks the inline ingress of aws.ec2.DefaultSecurityGroup", async () => {
    const type = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup";
    assertPasses(await validateResource(noWorldSsh, type, "default", sshFrom(["203.0.113.0/24"])));
    assertViolates(await validateResource(noWorldSsh, type, "default", sshFrom(["0.0.0.0/0"])), "default", [
      "TCP 22",
      "0.0.0.0/0",
    ]);
  });

  it("checks aws.vpc.SecurityGroupIngressRule", async () => {
    const rule = { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 22, toPort: 22 };
    assertPasses(await validateResource(noWorldSsh, T.ingressRule, "ok", { ...rule, cidrIpv4: "198.51.100.7/32" }));
    const ssh = await validateResource(noWorldSsh, T.ingressRule, "ssh", { ...rule, cidrIpv6: "::/0" });
    assertViolates(ssh, "ssh", ["TCP 22", "::/0"]);
    const all = await validateResource(noWorldSsh, T.ingressRule, "all", {
      securityGroupId: "sg-1",
      ipProtocol: "-1",
      cidrIpv4: "0.0.0.0/0",
    });
    assertViolates(all, "all", ["all traffic"]);
  });

  it("fails SSH open to the internet split into halves (0.0.0.0/1 + 128.0.0.0/1, ::/1 + 8000::/1)", async () => {
    const outcome = await validateResource(
      noWorldSsh,
      T.securityGroup,
      "halves",
      sshFrom(["0.0.0.0/1", "128.0.0.0/1"], ["::/1", "8000::/1"]),
    );
    assertViolates(outcome, "halves", ["TCP 22", "ingress[0]", "/8 (IPv4)", "/32 (IPv6)", "admin.sshCidrBlocks"], 4);
    assert.deepEqual(
      outcome.violations.map(({ message }) => /to (\S+) \(/.exec(message)?.[1]),
      ["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"],
    );
  });

  it("fails any block wider than /8 (IPv4) or /32 (IPv6), for SSH and for all traffic, and passes /8 and /32", async () => {
    assertPasses(await validateResource(noWorldSsh, T.securityGroup, "ok", sshFrom(["10.0.0.0/8"], ["2001:db8::/32"])));
    const wide = await validateResource(
      noWorldSsh,
      T.securityGroup,
      "wide",
      sshFrom(["10.0.0.0/7"], ["2001:db8::/31"]),
    );
    assertViolates(wide, "wide", ["TCP 22"], 2);
    const all = await validateResource(noWorldSsh, T.ingressRule, "all", {
      securityGroupId: "sg-1",
      ipProtocol: "-1",
      cidrIpv4: "64.0.0.0/2",
    });
    assertViolates(all, "all", ["all traffic", "64.0.0.0/2", "/8 (IPv4)"]);
  });

  it("fails SSH or all traffic from a prefix list, whose entries the pack cannot verify", async () => {
    const inline = await validateResource(noWorldSsh, T.securityGroup, "inline", {
      ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, prefixListIds: ["pl-0123456789abcdef0"] }],
    });
    assertViolates(inline, "inline", ["TCP 22", "prefix list pl-0123456789abcdef0", "cannot verify"]);
    const rule = await validateResource(noWorldSsh, T.securityGroupRule, "rule", {
      type: "ingress",
      securityGroupId: "sg-1",
      protocol: "-1",
      fromPort: 0,
      toPort: 0,
      prefixListIds: ["pl-1"],
    });
    assertViolates(rule, "rule", ["all traffic", "prefix list pl-1"]);
    const vpcRule = await validateResource(noWorldSsh, T.ingressRule, "vpc-rule", {
      securityGroupId: "sg-1",
      ipProtocol: "tcp",
      fromPort: 22,
      toPort: 22,
      prefixListId: "pl-2",
    });
    assertViolates(vpcRule, "vpc-rule", ["prefix list pl-2"]);
    const https = await validateResource(noWorldSsh, T.ingressRule, "https", {
      securityGroupId: "sg-1",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      prefixListId: "pl-3",
    });
    assertPasses(https);
  });
});

describe("policy task-security-group-ssh-from-security-groups-only", () => {
  const taskGroup = (ingress: object[] = []): StackResource => ({
    type: T.securityGroup,
    name: "runner-tasks",
    props: { id: "sg-task", tags: { "gitlab-fargate-runner:role": "job-task" }, ingress },
  });
  const managerGroup: StackResource = {
    type: T.securityGroup,
    name: "runner-manager",
    props: {
      id: "sg-manager",
      ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.0/24"] }],
    },
  };

  it("passes inline SSH from the manager's security group (the manager's own CIDR ingress is not its business)", async () => {
    const task = taskGroup([{ protocol: "tcp", fromPort: 22, toPort: 22, securityGroups: ["sg-manager"] }]);
    assertPasses(await validateStack(taskSshFromSecurityGroupsOnly, [managerGroup, task]));
  });

  it("fails inline SSH from a CIDR, and self-referencing SSH", async () => {
    const task = taskGroup([
      { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["10.0.0.0/16"] },
      { protocol: "-1", fromPort: 0, toPort: 0, self: true },
    ]);
    const outcome = await validateStack(taskSshFromSecurityGroupsOnly, [task]);
    assertViolates(outcome, "runner-tasks", ["runner manager's security group"], 2);
    assert.match(outcome.violations[0].message, /10\.0\.0\.0\/16/);
    assert.match(outcome.violations[1].message, /self = true/);
    assert.equal(outcome.violations[0].urn, urnOf(T.securityGroup, "runner-tasks"));
  });

  it("finds separate rule resources by property dependency (preview) and by id (update)", async () => {
    const task = taskGroup();
    const fromManager: StackResource = {
      type: T.ingressRule,
      name: "runner-tasks-ssh",
      props: {
        securityGroupId: "sg-task",
        ipProtocol: "tcp",
        fromPort: 22,
        toPort: 22,
        referencedSecurityGroupId: "sg-manager",
      },
    };
    assertPasses(await validateStack(taskSshFromSecurityGroupsOnly, [task, fromManager]));

    const byDependency: StackResource = {
      type: T.ingressRule,
      name: "vpn-ssh",
      props: {
        securityGroupId: "(unknown during preview)",
        ipProtocol: "tcp",
        fromPort: 22,
        toPort: 22,
        cidrIpv4: "10.8.0.0/16",
      },
      dependsOn: { securityGroupId: [task] },
    };
    const byId: StackResource = {
      type: T.securityGroupRule,
      name: "prefix-ssh",
      props: {
        type: "ingress",
        securityGroupId: "sg-task",
        protocol: "tcp",
        fromPort: 22,
        toPort: 22,
        prefixListIds: ["pl-1"],
      },
    };
    const outcome = await validateStack(taskSshFromSecurityGroupsOnly, [task, fromManager, byDependency, byId]);
    assert.equal(outcome.violations.length, 2);
    assert.match(outcome.violations[0].message, /"vpn-ssh".*"runner-tasks" from 10\.8\.0\.0\/16/);
    assert.match(outcome.violations[1].message, /"prefix-ssh".*pl-1/);
  });

  it("fails a separate rule whose source is the task group itself (self by reference)", async () => {
    const task = taskGroup();
    const fromItself: StackResource = {
      type: T.ingressRule,
      name: "tasks-to-tasks",
      props: {
        securityGroupId: "sg-task",
        ipProtocol: "tcp",
        fromPort: 22,
        toPort: 22,
        referencedSecurityGroupId: "sg-task",
      },
    };
    const inline = taskGroup([{ protocol: "tcp", fromPort: 22, toPort: 22, securityGroups: ["sg-task"] }]);
    assertViolates(await validateStack(taskSshFromSecurityGroupsOnly, [task, fromItself]), "tasks-to-tasks", [
      "self = true",
    ]);
    assertViolates(await validateStack(taskSshFromSecurityGroupsOnly, [inline]), "runner-tasks", ["self = true"]);
  });

  it("recognises the job task group only by its tag, never by a name ending in -task-sg", async () => {
    const bastion: StackResource = {
      type: T.securityGroup,
      name: "bastion-task-sg",
      props: { id: "sg-2", ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["10.0.0.0/8"] }] },
    };
    assert.equal((await validateStack(taskSshFromSecurityGroupsOnly, [bastion])).notApplicable, true);
    const tagged: StackResource = {
      ...bastion,
      name: "jobs",
      props: { ...bastion.props, tags: { Name: "jobs", "gitlab-fargate-runner:role": "job-task" } },
    };
    assertViolates(await validateStack(taskSshFromSecurityGroupsOnly, [bastion, tagged]), "jobs", ["10.0.0.0/8"]);
  });

  it("is not applicable to a stack without a job task security group", async () => {
    const outcome = await validateStack(taskSshFromSecurityGroupsOnly, [managerGroup]);
    assert.equal(outcome.notApplicable, true);
  });

  it("leaves rules of other groups alone", async () => {
    const other: StackResource = {
      type: T.ingressRule,
      name: "manager-ssh",
      props: { securityGroupId: "sg-manager", ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "203.0.113.0/24" },
    };
    assertPasses(await validateStack(taskSshFromSecurityGroupsOnly, [taskGroup(), managerGroup, other]));
  });
});

describe("policy ec2-imdsv2-required", () => {
  it("passes an instance and a launch template with httpTokens required", async () => {
    const metadataOptions = { httpTokens: "required", httpEndpoint: "enabled" };
    assertPasses(await validateResource(imdsv2Required, T.instance, "manager", { metadataOptions }));
    assertPasses(await validateResource(imdsv2Required, T.launchTemplate, "lt", { metadataOptions }));
  });

  it("fails optional or missing IMDSv2", async () => {
    const optional = await validateResource(imdsv2Required, T.instance, "manager", {
      metadataOptions: { httpTokens: "optional" },
    });
    assertViolates(optional, "manager", ['httpTokens: "required"']);
    assertViolates(await validateResource(imdsv2Required, T.launchTemplate, "lt", {}), "lt", ["IMDSv2"]);
  });

  it("defers to the launch template when an instance uses one without its own metadata options", async () => {
    assertPasses(await validateResource(imdsv2Required, T.instance, "from-lt", { launchTemplate: { id: "lt-1" } }));
  });

  it("fails spot instance requests and launch configurations that allow IMDSv1, as it fails instances", async () => {
    const required = { metadataOptions: { httpTokens: "required" } };
    assertPasses(await validateResource(imdsv2Required, T.spotInstanceRequest, "spot", required));
    assertPasses(await validateResource(imdsv2Required, T.launchConfiguration, "lc", required));
    const optional = { metadataOptions: { httpTokens: "optional" } };
    assertViolates(await validateResource(imdsv2Required, T.spotInstanceRequest, "spot", optional), "spot", [
      'httpTokens: "required"',
    ]);
    assertViolates(await validateResource(imdsv2Required, T.spotInstanceRequest, "spot", {}), "spot", ["IMDSv2"]);
    assertViolates(await validateResource(imdsv2Required, T.launchConfiguration, "lc", optional), "lc", ["IMDSv2"]);
    assertViolates(await validateResource(imdsv2Required, T.launchConfiguration, "lc", {}), "lc", ["IMDSv2"]);
  });

  it("fails a spot fleet's launch specifications, which cannot require IMDSv2, and defers its launch templates", async () => {
    const fleet = await validateResource(imdsv2Required, T.spotFleetRequest, "fleet", {
      launchSpecifications: [{ ami: "ami-1", instanceType: "t3.micro" }],
    });
    assertViolates(fleet, "fleet", ["launchSpecifications[0]", "IMDSv2", "launchTemplateConfigs"]);
    const fromTemplate = await validateResource(imdsv2Required, T.spotFleetRequest, "fleet", {
      launchTemplateConfigs: [{ launchTemplateSpecification: { id: "lt-1", version: "$Latest" } }],
    });
    assertPasses(fromTemplate);
  });
});

describe("policy ec2-encrypted-volumes", () => {
  it("passes encrypted root, EBS, launch-template and standalone volumes", async () => {
    const instance = {
      rootBlockDevice: { encrypted: true, volumeType: "gp3" },
      ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: true }],
    };
    assertPasses(await validateResource(encryptedVolumes, T.instance, "manager", instance));
    const template = { blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "true" } }] };
    assertPasses(await validateResource(encryptedVolumes, T.launchTemplate, "lt", template));
    assertPasses(
      await validateResource(encryptedVolumes, T.volume, "data", { encrypted: true, availabilityZone: "a" }),
    );
  });

  it("fails a default (unspecified) root volume and an unencrypted EBS volume", async () => {
    const outcome = await validateResource(encryptedVolumes, T.instance, "manager", {
      ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: false }],
    });
    assert.equal(outcome.violations.length, 2);
    assert.match(
      outcome.violations[0].message,
      /"manager" has an unencrypted root volume.*rootBlockDevice: \{ encrypted: true \}/,
    );
    assert.match(outcome.violations[1].message, /ebsBlockDevices\[0\], \/dev\/sdf/);
  });

  it("fails unencrypted launch-template mappings and standalone volumes", async () => {
    const template = { blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "false" } }] };
    assertViolates(await validateResource(encryptedVolumes, T.launchTemplate, "lt", template), "lt", [
      'ebs.encrypted: "true"',
    ]);
    assertViolates(await validateResource(encryptedVolumes, T.volume, "data", { availabilityZone: "a" }), "data", [
      "encrypted: true",
    ]);
  });

  it("fails unencrypted root and EBS volumes of spot instance requests and launch configurations", async () => {
    const encrypted = {
      rootBlockDevice: { encrypted: true },
      ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: true }],
    };
    assertPasses(await validateResource(encryptedVolumes, T.spotInstanceRequest, "spot", encrypted));
    assertPasses(await validateResource(encryptedVolumes, T.launchConfiguration, "lc", encrypted));
    const plain = { ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: false }] };
    for (const [type, name] of [
      [T.spotInstanceRequest, "spot"],
      [T.launchConfiguration, "lc"],
    ]) {
      const outcome = await validateResource(encryptedVolumes, type, name, plain);
      assertViolates(outcome, name, ["encrypted: true"], 2);
      assert.match(outcome.violations[0].message, /unencrypted root volume/);
      assert.match(outcome.violations[1].message, /ebsBlockDevices\[0\], \/dev\/sdf/);
    }
  });

  it("fails a spot fleet launch specification without an encrypted root volume or with an unencrypted EBS volume", async () => {
    const spec = { ami: "ami-1", instanceType: "t3.micro" };
    const encrypted = { ...spec, rootBlockDevices: [{ encrypted: true }] };
    assertPasses(
      await validateResource(encryptedVolumes, T.spotFleetRequest, "fleet", { launchSpecifications: [encrypted] }),
    );
    const outcome = await validateResource(encryptedVolumes, T.spotFleetRequest, "fleet", {
      launchSpecifications: [
        encrypted,
        spec,
        { ...encrypted, ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: false }] },
      ],
    });
    assertViolates(outcome, "fleet", ["encrypted: true"], 2);
    assert.match(outcome.violations[0].message, /launchSpecifications\[1\].*unencrypted root volume/);
    assert.match(outcome.violations[1].message, /launchSpecifications\[2\].*ebsBlockDevices\[0\], \/dev\/sdf/);
  });

  it("fails a launch template that does not map an encrypted root device (/dev/xvda or /dev/sda1)", async () => {
    const root = (deviceName: string) => ({ deviceName, ebs: { encrypted: "true", volumeSize: 30 } });
    assertPasses(
      await validateResource(encryptedVolumes, T.launchTemplate, "ubuntu", {
        blockDeviceMappings: [root("/dev/sda1")],
      }),
    );
    const none = await validateResource(encryptedVolumes, T.launchTemplate, "bare", { metadataOptions: {} });
    assertViolates(none, "bare", ["root volume", "/dev/xvda", "/dev/sda1", 'ebs: { encrypted: "true" }']);
    const dataOnly = await validateResource(encryptedVolumes, T.launchTemplate, "data-only", {
      blockDeviceMappings: [root("/dev/sdf")],
    });
    assertViolates(dataOnly, "data-only", ["root volume"]);
  });
});

describe("policy ec2-no-secrets-in-user-data", () => {
  it("passes a bootstrap script without secrets", async () => {
    const userData = "#!/bin/bash\nset -euo pipefail\napt-get install -y gitlab-runner\n";
    assertPasses(await validateResource(noSecretsInUserData, T.instance, "manager", { userData }));
  });

  it("fails a runner token in user data, and a private key in base64 user data", async () => {
    const token = await validateResource(noSecretsInUserData, T.instance, "manager", {
      userData: "gitlab-runner register --token glrt-AbCdEf123456789_xyz",
    });
    assertViolates(token, "manager", ["runner authentication token", "never in user data"]);
    const key = Buffer.from("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...\n").toString("base64");
    assertViolates(await validateResource(noSecretsInUserData, T.instance, "m", { userDataBase64: key }), "m", [
      "a private key",
    ]);
    assertViolates(await validateResource(noSecretsInUserData, T.launchTemplate, "lt", { userData: key }), "lt", [
      "a private key",
    ]);
  });

  const gzipBase64 = (script: string) => gzipSync(Buffer.from(script)).toString("base64");

  it("finds a token in gzip-compressed, base64-encoded user data (instances, launch templates, launch configurations)", async () => {
    const script = "#!/bin/bash\ngitlab-runner register --token glrt-AbCdEf123456789_xyz\n";
    for (const [type, props] of [
      [T.instance, { userDataBase64: gzipBase64(script) }],
      [T.spotInstanceRequest, { userDataBase64: gzipBase64(script) }],
      [T.launchConfiguration, { userDataBase64: gzipBase64(script) }],
      [T.launchTemplate, { userData: gzipBase64(script) }],
    ] as const) {
      assertViolates(await validateResource(noSecretsInUserData, type, "zipped", props), "zipped", [
        "runner authentication token",
      ]);
    }
    const clean = { userDataBase64: gzipBase64("#!/bin/bash\napt-get install -y gitlab-runner\n") };
    assertPasses(await validateResource(noSecretsInUserData, T.instance, "clean", clean));
  });

  it("finds tokens in the user data of spot instance requests, spot fleets and launch configurations", async () => {
    const register = "gitlab-runner register --registration-token GR1348941AbCdEf123456789";
    assertViolates(
      await validateResource(noSecretsInUserData, T.spotInstanceRequest, "spot", { userData: register }),
      "spot",
      ["registration token"],
    );
    assertViolates(
      await validateResource(noSecretsInUserData, T.launchConfiguration, "lc", {
        userDataBase64: Buffer.from(register).toString("base64"),
      }),
      "lc",
      ["registration token"],
    );
    const fleet = await validateResource(noSecretsInUserData, T.spotFleetRequest, "fleet", {
      launchSpecifications: [
        { ami: "ami-1", instanceType: "t3.micro", userData: "#!/bin/bash\n" },
        { ami: "ami-1", instanceType: "t3.micro", userData: "export TOKEN=glrt-AbCdEf123456789_xyz" },
      ],
    });
    assertViolates(fleet, "fleet", ["launchSpecifications[1]", "runner authentication token"]);
  });
});

describe("policy ec2-launch-template-in-stack", () => {
  const template: StackResource = {
    type: T.launchTemplate,
    name: "runners",
    props: {
      id: "lt-0aaa",
      name: "runners-lt",
      arn: "arn:aws:ec2:eu-west-1:123456789012:launch-template/lt-0aaa",
      metadataOptions: { httpTokens: "required" },
      blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "true" } }],
    },
  };
  const config: StackResource = {
    type: T.launchConfiguration,
    name: "legacy",
    props: { id: "legacy-lc", name: "legacy-lc", metadataOptions: { httpTokens: "required" } },
  };
  const launcher = (type: string, name: string, props: Record<string, unknown>): StackResource => ({
    type,
    name,
    props: { id: `${name}-id`, ...props },
  });
  const byId = { id: "lt-0aaa", version: "$Latest" };
  const byName = { name: "runners-lt" };

  it("passes instances, spot requests, autoscaling groups and fleets that launch from this stack's templates", async () => {
    const stack = [
      template,
      config,
      launcher(T.instance, "manager", { launchTemplate: byId }),
      launcher(T.spotInstanceRequest, "spot", { launchTemplate: byName }),
      launcher(T.autoscalingGroup, "asg", { launchTemplate: byId }),
      launcher(T.autoscalingGroup, "asg-legacy", { launchConfiguration: "legacy-lc" }),
      launcher(T.autoscalingGroup, "asg-mixed", {
        mixedInstancesPolicy: {
          launchTemplate: {
            launchTemplateSpecification: { launchTemplateName: "runners-lt" },
            overrides: [{ instanceType: "t3.large", launchTemplateSpecification: { launchTemplateId: "lt-0aaa" } }],
          },
        },
      }),
      launcher(T.spotFleetRequest, "spot-fleet", {
        launchTemplateConfigs: [{ launchTemplateSpecification: byId }],
      }),
      launcher(T.fleet, "fleet", {
        launchTemplateConfigs: [{ launchTemplateSpecification: { launchTemplateId: "lt-0aaa", version: "1" } }],
      }),
      launcher(T.instance, "plain", { rootBlockDevice: { encrypted: true } }),
    ];
    assertPasses(await validateStack(launchTemplatesInStack, stack));
  });

  it("fails launching from a launch template or launch configuration outside the stack (it cannot be checked)", async () => {
    const stack = [
      template,
      launcher(T.instance, "manager", { launchTemplate: { id: "lt-0elsewhere" } }),
      launcher(T.autoscalingGroup, "asg", {
        mixedInstancesPolicy: {
          launchTemplate: {
            launchTemplateSpecification: { launchTemplateId: "lt-0aaa" },
            overrides: [{ launchTemplateSpecification: { launchTemplateName: "someone-elses" } }],
          },
        },
      }),
      launcher(T.autoscalingGroup, "asg-legacy", { launchConfiguration: "old-lc" }),
      launcher(T.spotFleetRequest, "spot-fleet", {
        launchTemplateConfigs: [{ launchTemplateSpecification: { name: "fleet-lt" } }],
      }),
    ];
    const outcome = await validateStack(launchTemplatesInStack, stack);
    assert.equal(outcome.violations.length, 4, JSON.stringify(outcome.violations, null, 2));
    for (const { message } of outcome.violations) {
      assert.match(message, /not defined in this stack, so the pack cannot check .*Fix:/);
    }
    const [instance, asg, legacy, fleet] = outcome.violations;
    assert.match(instance.message, /"manager" launches from launch template lt-0elsewhere \(launchTemplate\)/);
    assert.equal(instance.urn, urnOf(T.instance, "manager"));
    assert.match(
      asg.message,
      /"asg" launches from launch template someone-elses \(mixedInstancesPolicy\.launchTemplate\.overrides\[0\]\)/,
    );
    assert.match(legacy.message, /"asg-legacy" launches from launch configuration old-lc/);
    assert.match(fleet.message, /"spot-fleet" launches from launch template fleet-lt \(launchTemplateConfigs\[0\]\)/);
  });

  it("leaves a reference not known yet (first preview) to the update run", async () => {
    const newTemplate: StackResource = { ...template, props: { ...template.props, id: UNKNOWN, name: UNKNOWN } };
    const instance: StackResource = {
      ...launcher(T.instance, "manager", { launchTemplate: { id: UNKNOWN, version: "$Latest" } }),
      dependsOn: { launchTemplate: [newTemplate] },
    };
    const outcome = await validateStack(launchTemplatesInStack, [newTemplate, instance]);
    assertPasses(outcome);
    assert.deepEqual(outcome.cannotRunInPreview, []);
  });

  it("is not applicable to a stack that launches no EC2 instances", async () => {
    assert.equal((await validateStack(launchTemplatesInStack, [template])).notApplicable, true);
  });

  it("with the whole pack: an instance from a template without block device mappings is a violation", async () => {
    const bare: StackResource = { ...template, props: { ...template.props, blockDeviceMappings: [] } };
    const instance = launcher(T.instance, "manager", {
      launchTemplate: byId,
      metadataOptions: { httpTokens: "required" },
    });
    const { violations } = await runPack(resourcePolicies, stackPolicies, [bare, instance]);
    assert.deepEqual(
      violations.map(({ policy }) => policy),
      ["ec2-encrypted-volumes"],
    );
    assert.match(violations[0].message, /"runners".*root volume/);
  });
});

describe("policy ecr-scan-on-push", () => {
  it("passes aws and awsx repositories that scan on push", async () => {
    const props = { imageScanningConfiguration: { scanOnPush: true }, forceDelete: false };
    assertPasses(await validateResource(ecrScanOnPush, T.ecrRepository, "images", props));
    assertPasses(await validateResource(ecrScanOnPush, T.awsxRepository, "images", props));
  });

  it("fails repositories that do not scan on push", async () => {
    assertViolates(await validateResource(ecrScanOnPush, T.ecrRepository, "images", {}), "images", [
      "scanOnPush: true",
    ]);
    const awsx = await validateResource(ecrScanOnPush, T.awsxRepository, "awsx-images", {
      imageScanningConfiguration: { scanOnPush: false },
    });
    assertViolates(awsx, "awsx-images", ["scanOnPush: true"]);
  });
});

describe("policies s3-bucket-encryption and s3-bucket-public-access-block", () => {
  const bucket: StackResource = { type: T.bucket, name: "cache", props: { id: "cache-1234", bucket: "cache-1234" } };
  const encryption = (sseAlgorithm: string): StackResource => ({
    type: T.bucketEncryption,
    name: "cache-sse",
    props: { bucket: "cache-1234", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm } }] },
  });
  const publicAccessBlock = (flags: Partial<Record<string, boolean>>): StackResource => ({
    type: T.bucketPublicAccessBlock,
    name: "cache-pab",
    props: { bucket: "cache-1234", ...flags },
  });
  const allBlocked = {
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  };

  it("passes a bucket with its encryption configuration and a full public access block", async () => {
    const stack = [bucket, encryption("aws:kms"), publicAccessBlock(allBlocked)];
    assertPasses(await validateStack(s3BucketEncryption, stack));
    assertPasses(await validateStack(s3BucketPublicAccessBlock, stack));
  });

  it("matches configuration to its bucket by property dependency when names are unknown (preview)", async () => {
    const previewBucket: StackResource = { type: T.bucket, name: "cache", props: {} };
    const sse: StackResource = { ...encryption("AES256"), props: { ...encryption("AES256").props, bucket: "?" } };
    sse.dependsOn = { bucket: [previewBucket] };
    assertPasses(await validateStack(s3BucketEncryption, [previewBucket, sse]));
  });

  it("fails a bucket with no encryption configuration, or one for another bucket", async () => {
    const other = { ...encryption("AES256"), props: { ...encryption("AES256").props, bucket: "logs-999" } };
    const outcome = await validateStack(s3BucketEncryption, [bucket, other]);
    assertViolates(outcome, "cache", ["BucketServerSideEncryptionConfiguration", "sseAlgorithm"]);
    assert.equal(outcome.violations[0].urn, urnOf(T.bucket, "cache"));
  });

  it("accepts inline encryption on the bucket itself", async () => {
    const inline: StackResource = {
      ...bucket,
      props: {
        ...bucket.props,
        serverSideEncryptionConfiguration: {
          rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
        },
      },
    };
    assertPasses(await validateStack(s3BucketEncryption, [inline]));
  });

  it("check aws.s3.BucketV2 too (its inline shape is serverSideEncryptionConfigurations[])", async () => {
    const v2: StackResource = {
      type: "aws:s3/bucketV2:BucketV2",
      name: "old",
      props: { id: "old-1", bucket: "old-1" },
    };
    assertViolates(await validateStack(s3BucketEncryption, [v2]), "old", ["BucketServerSideEncryptionConfiguration"]);
    assertViolates(await validateStack(s3BucketPublicAccessBlock, [v2]), "old", ["BucketPublicAccessBlock"]);
    const inline: StackResource = {
      ...v2,
      props: {
        ...v2.props,
        serverSideEncryptionConfigurations: [
          { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" } }] },
        ],
      },
    };
    assertPasses(await validateStack(s3BucketEncryption, [inline]));
    const block = { ...publicAccessBlock(allBlocked), props: { ...allBlocked, bucket: "old-1" } };
    assertPasses(await validateStack(s3BucketPublicAccessBlock, [v2, block]));
  });

  it("are not applicable to a stack without buckets", async () => {
    assert.equal((await validateStack(s3BucketEncryption, [encryption("AES256")])).notApplicable, true);
    assert.equal((await validateStack(s3BucketPublicAccessBlock, [])).notApplicable, true);
  });

  it("fails a bucket without a public access block, and one with a partial block", async () => {
    assertViolates(await validateStack(s3BucketPublicAccessBlock, [bucket]), "cache", [
      "BucketPublicAccessBlock",
      "restrictPublicBuckets: true",
    ]);
    const partial = publicAccessBlock({ ...allBlocked, restrictPublicBuckets: false, ignorePublicAcls: undefined });
    const outcome = await validateStack(s3BucketPublicAccessBlock, [bucket, partial]);
    assertViolates(outcome, "cache", ["ignorePublicAcls, restrictPublicBuckets", '"cache-pab"']);
  });
});

describe("policy iam-no-wildcard-actions", () => {
  const scoped = policyJson(
    { Effect: "Allow", Action: "ecs:RunTask", Resource: "arn:aws:ecs:eu-west-1:123456789012:task-definition/runner:*" },
    {
      Effect: "Allow",
      Action: ["ecs:DescribeTasks", "ecs:StopTask"],
      Resource: "*",
      Condition: { ArnEquals: { "ecs:cluster": "arn" } },
    },
    { Effect: "Allow", Action: ["logs:*"], Resource: "arn:aws:logs:eu-west-1:123456789012:log-group:/runner:*" },
    { Effect: "Deny", Action: "*", Resource: "*", Condition: { Bool: { "aws:SecureTransport": "false" } } },
  );

  it("passes exact actions (other services' wildcards and Deny statements are not its business)", async () => {
    assertPasses(await validateResource(iamNoWildcardActions, T.iamPolicy, "manager", { policy: scoped }));
  });

  it("fails '*' and 'service:*' for every guarded service, in any case", async () => {
    const actions = ["*", "iam:*", "ECS:*", "ec2:*", "s3:*", "secretsmanager:*", "kms:*"];
    const outcome = await validateResource(iamNoWildcardActions, T.rolePolicy, "manager", {
      role: "manager",
      policy: policyJson({ Effect: "Allow", Action: actions, Resource: "*" }),
    });
    assertViolates(outcome, "manager", ["Statement[0]", "exact actions"], actions.length);
    assert.deepEqual(
      outcome.violations.map(({ message }) => /"([^"]+)" \(policy/.exec(message)?.[1]),
      actions,
    );
  });

  it("fails any pattern that matches every action of a guarded service ('?', doubled '*', service prefixes)", async () => {
    const actions = ["iam:?*", "ecs:**", "*:*", "s3:*?", "Secrets*", "k*:*", "e?2:*", "i*"];
    const outcome = await validateResource(iamNoWildcardActions, T.iamPolicy, "p", {
      policy: policyJson({ Effect: "Allow", Action: actions, Resource: "*" }),
    });
    assert.deepEqual(
      outcome.violations.map(({ message }) => /"([^"]+)" \(policy/.exec(message)?.[1]),
      actions,
    );
  });

  it("passes patterns that select some actions only (prefix wildcards, '?' for one character)", async () => {
    const actions = ["ecs:Describe*", "s3:Get?bject", "ec2:*NetworkInterfaces", "iam:PassRol?", "logs:*"];
    assertPasses(
      await validateResource(iamNoWildcardActions, T.iamPolicy, "p", {
        policy: policyJson({ Effect: "Allow", Action: actions, Resource: "*" }),
      }),
    );
  });

  it("fails NotAction allows, and checks policy documents given as objects", async () => {
    const outcome = await validateResource(iamNoWildcardActions, T.iamPolicy, "p", {
      policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", NotAction: "iam:*", Resource: "*" }] },
    });
    assertViolates(outcome, "p", ["NotAction"]);
  });

  it("checks a role's inline policies but not its trust policy", async () => {
    const role = {
      assumeRolePolicy: policyJson({
        Effect: "Allow",
        Action: "sts:AssumeRole",
        Principal: { Service: "ecs-tasks.amazonaws.com" },
      }),
      inlinePolicies: [
        { name: "ok", policy: scoped },
        { name: "wide", policy: policyJson({ Effect: "Allow", Action: "s3:*", Resource: "*" }) },
      ],
    };
    const outcome = await validateResource(iamNoWildcardActions, T.role, "task-role", role);
    assertViolates(outcome, "task-role", ['"s3:*"', "inlinePolicies[1] (wide) Statement[0]"]);
  });
});

describe("policy iam-passrole-scoped", () => {
  const passRole = (Resource: unknown, Action: unknown = "iam:PassRole") =>
    policyJson({
      Effect: "Allow",
      Action,
      Resource,
      Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
    });

  it("passes PassRole on the two named roles, and on roles under one path", async () => {
    const roles = ["arn:aws:iam::123456789012:role/runner-execution", "arn:aws:iam::123456789012:role/runner-task"];
    assertPasses(await validateResource(iamPassRoleScoped, T.iamPolicy, "manager", { policy: passRole(roles) }));
    const underPath = passRole("arn:aws:iam::123456789012:role/gitlab-runner/*");
    assertPasses(await validateResource(iamPassRoleScoped, T.iamPolicy, "manager", { policy: underPath }));
  });

  it("leaves actions that cannot mean iam:PassRole alone ('?' is one character, not a literal)", async () => {
    for (const action of ["iam:PassRol", "iam:PassRole?", "iam:Get*", "ecs:PassRole"]) {
      const policy = passRole("*", action);
      assertPasses(await validateResource(iamPassRoleScoped, T.iamPolicy, "manager", { policy }));
    }
  });

  it("fails PassRole on '*', on every role, through a wildcard action, or with NotResource", async () => {
    for (const [resource, action] of [
      ["*", "iam:PassRole"],
      ["arn:aws:iam::123456789012:role/*", "iam:PassRole"],
      ["*", "iam:Pass*"],
      ["*", "iam:PassRol?"],
      ["*", "IAM:passrole"],
      ["*", "iam:*Role"],
      ["arn:aws:iam::123456789012:role*", "iam:PassRole"],
      ["arn:aws:iam::999999999999:role/*", "iam:PassRole"],
      ["arn:aws-cn:iam::123456789012:role/*", "iam:PassRole"],
      ["arn:*:iam::*:role/*", "iam:PassRole"],
      ["arn:*", "iam:PassRole"],
      ["arn:aws:iam::*:*", "iam:PassRole"],
      ["arn:aws:iam::12345678901?:role/*", "iam:PassRole"],
    ]) {
      const outcome = await validateResource(iamPassRoleScoped, T.iamPolicy, "manager", {
        policy: passRole(resource, action),
      });
      assertViolates(outcome, "manager", [resource, "iam:PassedToService"]);
    }
    const notResource = policyJson({
      Effect: "Allow",
      Action: "iam:PassRole",
      NotResource: "arn:aws:iam::1:role/admin",
    });
    assertViolates(await validateResource(iamPassRoleScoped, T.iamPolicy, "m", { policy: notResource }), "m", [
      "NotResource",
    ]);
  });
});

describe("policy iam-no-privilege-escalation", () => {
  const allow = (Action: unknown, Resource: unknown) => policyJson({ Effect: "Allow", Action, Resource });

  it("fails privilege-escalation actions on every resource, and wildcards that include them", async () => {
    const actions = [
      "iam:PutRolePolicy",
      "iam:Put*",
      "iam:AttachRolePolicy",
      "iam:Attach*",
      "iam:CreatePolicyVersion",
      "iam:CreateAccessKey",
      "iam:Create*",
      "iam:DeleteRolePermissionsBoundary",
      "sts:AssumeRole",
      "ssm:*",
      "lambda:*",
      "iam:*",
      "*",
      "sts:*",
      "IAM:*Policy",
      "lambda:Update*",
      "ssm:Send*",
    ];
    for (const action of actions) {
      const everyRole = /^(iam|sts):/i.test(action) ? ["arn:aws:iam::*:role/*"] : [];
      for (const resource of ["*", "arn:*", ...everyRole]) {
        const outcome = await validateResource(iamNoPrivilegeEscalation, T.iamPolicy, "escalate", {
          policy: allow(["ecs:DescribeTasks", action], resource),
        });
        assertViolates(outcome, "escalate", [`"${action}"`, resource, "Statement[0]", "raise"]);
      }
    }
  });

  it("fails escalation on every resource through NotResource, in role inline and role policies", async () => {
    const notResource = policyJson({
      Effect: "Allow",
      Action: "iam:AttachRolePolicy",
      NotResource: "arn:aws:iam::123456789012:role/admin",
    });
    assertViolates(
      await validateResource(iamNoPrivilegeEscalation, T.rolePolicy, "p", { role: "r", policy: notResource }),
      "p",
      ["NotResource"],
    );
    const role = await validateResource(iamNoPrivilegeEscalation, T.role, "task-role", {
      inlinePolicies: [{ name: "jobs", policy: allow("lambda:*", "arn:aws:lambda:*:123456789012:function:*") }],
    });
    assertViolates(role, "task-role", ['"lambda:*"', "inlinePolicies[0] (jobs)"]);
  });

  it("passes escalation-capable actions on named resources, and harmless actions on every resource", async () => {
    const named = policyJson(
      { Effect: "Allow", Action: "iam:PutRolePolicy", Resource: "arn:aws:iam::123456789012:role/app-*" },
      { Effect: "Allow", Action: "sts:AssumeRole", Resource: "arn:aws:iam::123456789012:role/deployer" },
      { Effect: "Allow", Action: "lambda:*", Resource: "arn:aws:lambda:eu-west-1:123456789012:function:app" },
      { Effect: "Allow", Action: ["ssm:DescribeInstanceInformation", "ecs:ListTasks", "iam:Get*"], Resource: "*" },
      { Effect: "Deny", Action: "iam:*", Resource: "*" },
    );
    assertPasses(await validateResource(iamNoPrivilegeEscalation, T.iamPolicy, "scoped", { policy: named }));
  });

  it("leaves iam:PassRole to iam-passrole-scoped (one rule per concern)", async () => {
    const passRole = await validateResource(iamNoPrivilegeEscalation, T.iamPolicy, "p", {
      policy: allow("iam:PassRole", "*"),
    });
    assertPasses(passRole);
  });
});

describe("policy iam-no-broad-managed-policies", () => {
  it("passes the ECS task execution managed policy", async () => {
    const arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
    assertPasses(
      await validateResource(iamNoBroadManagedPolicies, T.rolePolicyAttachment, "exec", { role: "r", policyArn: arn }),
    );
  });

  it("fails AmazonECS_FullAccess (GitLab's manual guide) on an attachment or in managedPolicyArns", async () => {
    const arn = "arn:aws:iam::aws:policy/AmazonECS_FullAccess";
    const attachment = await validateResource(iamNoBroadManagedPolicies, T.rolePolicyAttachment, "manager-ecs", {
      role: "r",
      policyArn: arn,
    });
    assertViolates(attachment, "manager-ecs", ["AmazonECS_FullAccess", "exact actions"]);
    const role = await validateResource(iamNoBroadManagedPolicies, T.role, "manager", {
      managedPolicyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"],
    });
    assertViolates(role, "manager", ["AdministratorAccess"]);
  });

  it("fails ReadOnlyAccess, PowerUserAccess and any *FullAccess policy on a job task role", async () => {
    for (const name of [
      "ReadOnlyAccess",
      "PowerUserAccess",
      "AdministratorAccess-Amplify",
      "AmazonDynamoDBFullAccess",
      "AWSLambda_FullAccess",
      "CloudWatchLogsFullAccess",
      "job-function/SystemAdministrator",
      "job-function/DatabaseAdministrator",
      "job-function/ViewOnlyAccess",
      "AmazonS3ReadOnlyAccess",
      "AmazonSSMReadOnlyAccess",
      "AmazonEC2ContainerRegistryPowerUser",
    ]) {
      const outcome = await validateResource(iamNoBroadManagedPolicies, T.rolePolicyAttachment, "task-policy-1", {
        role: "runner-task-role",
        policyArn: `arn:aws:iam::aws:policy/${name}`,
      });
      assertViolates(outcome, "task-policy-1", [name.split("/").at(-1) ?? name, "customer policy"]);
    }
    const role = await validateResource(iamNoBroadManagedPolicies, T.role, "task-role", {
      managedPolicyArns: ["arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess"],
    });
    assertViolates(role, "task-role", ["ReadOnlyAccess"]);
  });

  it("fails broad managed policies on users and groups, and through every attachment resource", async () => {
    const admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    const ecsFull = "arn:aws:iam::aws:policy/AmazonECS_FullAccess";
    const cases: [string, Record<string, unknown>][] = [
      ["aws:iam/policyAttachment:PolicyAttachment", { name: "all", policyArn: admin, users: ["ci"] }],
      ["aws:iam/userPolicyAttachment:UserPolicyAttachment", { user: "ci", policyArn: admin }],
      ["aws:iam/groupPolicyAttachment:GroupPolicyAttachment", { group: "ops", policyArn: admin }],
      [
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
        { roleName: "manager", policyArns: [ecsFull] },
      ],
      [
        "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
        { userName: "ci", policyArns: [ecsFull] },
      ],
      [
        "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive",
        { groupName: "ops", policyArns: [admin, "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"] },
      ],
    ];
    for (const [type, props] of cases) {
      assertViolates(await validateResource(iamNoBroadManagedPolicies, type, "attach", props), "attach", [
        "customer policy",
      ]);
    }
  });
});

describe("policy ecs-task-definition-hardened", () => {
  const container = {
    name: "ci-coordinator",
    image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ci:1",
    essential: true,
    portMappings: [{ containerPort: 22, protocol: "tcp" }],
    logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/runner" } },
  };
  const taskDefinition = (containers: object[], networkMode = "awsvpc") => ({
    family: "runner",
    networkMode,
    requiresCompatibilities: ["FARGATE"],
    containerDefinitions: JSON.stringify(containers),
  });

  it("passes an awsvpc task definition with logged, unprivileged containers", async () => {
    assertPasses(
      await validateResource(ecsTaskDefinitionHardened, T.taskDefinition, "jobs", taskDefinition([container])),
    );
  });

  it("fails bridge networking, a privileged container and a container without logs", async () => {
    const { logConfiguration: _omitted, ...unlogged } = container;
    const outcome = await validateResource(
      ecsTaskDefinitionHardened,
      T.taskDefinition,
      "jobs",
      taskDefinition(
        [
          { ...container, privileged: true },
          { ...unlogged, name: "sidecar" },
        ],
        "bridge",
      ),
    );
    assertViolates(outcome, "jobs", [], 3);
    assert.match(outcome.violations[0].message, /"bridge".*networkMode: "awsvpc"/);
    assert.match(outcome.violations[1].message, /container "ci-coordinator" privileged/);
    assert.match(outcome.violations[2].message, /logConfiguration on container "sidecar"/);
  });
});

describe("policy ecs-task-definition-ci-coordinator (advisory)", () => {
  const withContainers = (containers: object[], tags: Record<string, string> = { "gitlab-fargate-runner": "ci" }) => ({
    family: "jobs",
    containerDefinitions: JSON.stringify(containers),
    tags,
  });

  it("passes a ci-coordinator container that maps TCP 22", async () => {
    const containers = [{ name: "ci-coordinator", portMappings: [{ containerPort: 22 }] }];
    assertPasses(await validateResource(ecsCoordinatorContainer, T.taskDefinition, "jobs", withContainers(containers)));
  });

  it("fails a missing ci-coordinator and one without port 22", async () => {
    const missing = await validateResource(
      ecsCoordinatorContainer,
      T.taskDefinition,
      "jobs",
      withContainers([{ name: "build" }]),
    );
    assertViolates(missing, "jobs", ['name the job container "ci-coordinator"']);
    const noPort = await validateResource(
      ecsCoordinatorContainer,
      T.taskDefinition,
      "jobs",
      withContainers([{ name: "ci-coordinator", portMappings: [{ containerPort: 2222 }] }]),
    );
    assertViolates(noPort, "jobs", ["containerPort: 22"]);
  });

  it("applies only to task definitions tagged by the component, not to a stack's other task definitions", async () => {
    const web = withContainers([{ name: "nginx", portMappings: [{ containerPort: 80 }] }], { team: "web" });
    const outcome = await validateResource(ecsCoordinatorContainer, T.taskDefinition, "web", web);
    assert.equal(outcome.notApplicable, true);
    assert.deepEqual(outcome.violations, []);
    const untagged = { family: "web", containerDefinitions: JSON.stringify([{ name: "nginx" }]) };
    assert.equal(
      (await validateResource(ecsCoordinatorContainer, T.taskDefinition, "u", untagged)).notApplicable,
      true,
    );
  });
});

describe("policy cloudwatch-log-group-retention (advisory)", () => {
  it("passes a log group with a retention", async () => {
    assertPasses(await validateResource(logGroupRetention, T.logGroup, "jobs", { retentionInDays: 14 }));
  });

  it("fails a log group kept forever", async () => {
    assertViolates(await validateResource(logGroupRetention, T.logGroup, "jobs", {}), "jobs", ["retentionInDays"]);
  });
});

// The engine wraps every resource's props in a proxy that throws on reading a value unknown during preview (a new
// resource's id, computed outputs). The harness does the same, so these stacks are what a first `pulumi preview` sees.
describe("stack policies during a first preview (unknown ids and computed outputs)", () => {
  const newTaskGroup: StackResource = {
    type: T.securityGroup,
    name: "runner-tasks",
    props: {
      id: UNKNOWN,
      arn: UNKNOWN,
      vpcId: UNKNOWN,
      ingress: UNKNOWN,
      egress: UNKNOWN,
      tags: { Name: "runner-task", "gitlab-fargate-runner:role": "job-task" },
    },
  };
  const newRule = (name: string, source: Record<string, unknown>, dependsOn = {}): StackResource => ({
    type: T.ingressRule,
    name,
    props: { id: UNKNOWN, securityGroupId: UNKNOWN, ipProtocol: "tcp", fromPort: 22, toPort: 22, ...source },
    dependsOn: { securityGroupId: [newTaskGroup], ...dependsOn },
  });

  it("the harness stops a policy that reads an unknown value, as the engine does", async () => {
    const readsId: StackValidationPolicy = {
      name: "reads-id",
      description: "reads every resource's id",
      validateStack: (args) => void args.resources.map((resource) => resource.props.id),
    };
    const outcome = await validateStack(readsId, [newTaskGroup]);
    assert.equal(outcome.cannotRunInPreview.length, 1);
    assert.match(outcome.cannotRunInPreview[0], /\.id can't be known during preview/);
  });

  it("catches a new task group's separate SSH rule from a CIDR", async () => {
    const outcome = await validateStack(taskSshFromSecurityGroupsOnly, [
      newTaskGroup,
      newRule("vpn", { cidrIpv4: "10.8.0.0/16" }),
    ]);
    assert.deepEqual(outcome.cannotRunInPreview, []);
    assertViolates(outcome, "vpn", ["10.8.0.0/16"]);
  });

  it("catches an aws.ec2.SecurityGroupRule whose computed source group is unknown, and self by dependency", async () => {
    const legacy: StackResource = {
      type: T.securityGroupRule,
      name: "legacy",
      props: {
        type: "ingress",
        securityGroupId: UNKNOWN,
        sourceSecurityGroupId: UNKNOWN,
        protocol: "tcp",
        fromPort: 0,
        toPort: 65535,
        cidrBlocks: ["192.0.2.0/24", UNKNOWN],
      },
      dependsOn: { securityGroupId: [newTaskGroup] },
    };
    const itself = newRule(
      "itself",
      { referencedSecurityGroupId: UNKNOWN },
      { referencedSecurityGroupId: [newTaskGroup] },
    );
    const outcome = await validateStack(taskSshFromSecurityGroupsOnly, [newTaskGroup, legacy, itself]);
    assert.deepEqual(outcome.cannotRunInPreview, []);
    assert.equal(outcome.violations.length, 2, JSON.stringify(outcome.violations));
    assert.match(outcome.violations[0].message, /"legacy".*from 192\.0\.2\.0\/24 \(/);
    assert.match(outcome.violations[1].message, /"itself".*self = true/);
  });

  it("passes the new task group's rule from the manager's new group, and leaves a rule with unknown ports to the update", async () => {
    const manager: StackResource = {
      type: T.securityGroup,
      name: "runner-manager",
      props: { id: UNKNOWN, ingress: UNKNOWN },
    };
    const fromManager = newRule(
      "ssh",
      { referencedSecurityGroupId: UNKNOWN },
      { referencedSecurityGroupId: [manager] },
    );
    const unknownPorts = newRule("later", { fromPort: UNKNOWN, toPort: UNKNOWN, cidrIpv4: "10.0.0.0/8" });
    const outcome = await validateStack(taskSshFromSecurityGroupsOnly, [
      newTaskGroup,
      manager,
      fromManager,
      unknownPorts,
    ]);
    assertPasses(outcome);
    assert.deepEqual(outcome.cannotRunInPreview, []);
  });

  const newBucket: StackResource = {
    type: T.bucket,
    name: "cache",
    props: {
      id: UNKNOWN,
      arn: UNKNOWN,
      bucket: UNKNOWN,
      bucketPrefix: "cache-",
      serverSideEncryptionConfiguration: UNKNOWN,
    },
  };
  const forBucket = (type: string, name: string, props: Record<string, unknown>): StackResource => ({
    type,
    name,
    props: { id: UNKNOWN, bucket: UNKNOWN, ...props },
    dependsOn: { bucket: [newBucket] },
  });
  const fullBlock = forBucket(T.bucketPublicAccessBlock, "cache-pab", {
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });

  it("catches a new bucket without an encryption configuration (its computed inline value is unknown)", async () => {
    const outcome = await validateStack(s3BucketEncryption, [newBucket, fullBlock]);
    assert.deepEqual(outcome.cannotRunInPreview, []);
    assertViolates(outcome, "cache", ["BucketServerSideEncryptionConfiguration"]);
  });

  it("passes a new bucket with its encryption configuration and public access block (by dependency)", async () => {
    const sse = forBucket(T.bucketEncryption, "cache-sse", {
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: UNKNOWN } }],
    });
    const stack = [newBucket, sse, fullBlock];
    for (const policy of [s3BucketEncryption, s3BucketPublicAccessBlock]) {
      const outcome = await validateStack(policy, stack);
      assertPasses(outcome);
      assert.deepEqual(outcome.cannotRunInPreview, []);
    }
  });

  it("catches a public access block flag known to be off, and leaves one not known yet to the update", async () => {
    const partial = forBucket(T.bucketPublicAccessBlock, "cache-pab", {
      ...fullBlock.props,
      blockPublicPolicy: false,
      restrictPublicBuckets: UNKNOWN,
    });
    const outcome = await validateStack(s3BucketPublicAccessBlock, [newBucket, partial]);
    assert.deepEqual(outcome.cannotRunInPreview, []);
    assertViolates(outcome, "cache", ["leaves blockPublicPolicy off"]);
  });
});
