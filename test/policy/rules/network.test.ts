import * as assert from "node:assert/strict";
import { noWorldSsh, taskSshFromSecurityGroupsOnly } from "../../../policy/rules/network";
import { StackResource, T, urnOf, validateResource, validateStack } from "../harness";
import { assertPasses, assertViolates } from "./helpers";

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
