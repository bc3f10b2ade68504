// What can reach what, from the security groups GitLabFargateRunner creates: SSH to the manager only from the admin
// CIDRs (and from managers: the deployment drains a replaced manager through its replacement), SSH to tasks only from
// the manager's group, and nothing from tasks to the manager (SSH replies are allowed by the groups being stateful,
// not by a rule).
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { CapturedResource, installMocks, ResourceRecorder, settle } from "../../support/pulumiMocks";
import { ADMIN, ComponentFixture, T, TOKEN } from "../deployment";

const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule";
const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
const LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule";
const ADMIN_CIDRS = ["203.0.113.0/24", "2001:db8::/48"];

/** A rule as "protocol from-to source": the whole of what it lets through. */
function describeRule(rule: CapturedResource, groupNames: Map<string, string>): string {
  const { ipProtocol, fromPort, toPort, cidrIpv4, cidrIpv6, referencedSecurityGroupId, prefixListId } = rule.inputs;
  const peer =
    cidrIpv4 ??
    cidrIpv6 ??
    prefixListId ??
    `sg:${groupNames.get(referencedSecurityGroupId) ?? referencedSecurityGroupId}`;
  return `${ipProtocol} ${fromPort}-${toPort} ${peer}`;
}

describe("network: who can reach the manager and the job tasks", function () {
  let recorder: ResourceRecorder;
  let groupNames: Map<string, string>;

  before(async function () {
    recorder = await installMocks();
    const { GitLabFargateRunner } = await import("../../../components");
    new GitLabFargateRunner("netsec", {
      gitlab: { url: "https://gitlab.example.com", runnerToken: pulumi.secret("glrt-netsec0123456789") },
      admin: { sshCidrBlocks: ADMIN_CIDRS },
    });
    await settle();
    groupNames = new Map(recorder.ofType("netsec", SECURITY_GROUP).map((g) => [g.id, g.name.replace("netsec-", "")]));
  });

  function rules(type: string, group: string): string[] {
    const groupId = recorder.one("netsec", SECURITY_GROUP, group).id;
    return recorder
      .ofType("netsec", type)
      .filter((rule) => rule.inputs.securityGroupId === groupId)
      .map((rule) => describeRule(rule, groupNames))
      .sort();
  }

  it("no security group has inline rules (every permission is a separate, reviewable rule resource)", () => {
    const groups = recorder.ofType("netsec", SECURITY_GROUP);
    assert.equal(groups.length, 2);
    for (const group of groups) {
      assert.equal(group.inputs.ingress, undefined, group.name);
      assert.equal(group.inputs.egress, undefined, group.name);
    }
  });

  it("every rule is an aws.vpc ingress/egress rule on one of the two groups (so the checks below see them all)", () => {
    assert.deepEqual(recorder.ofType("netsec", LEGACY_RULE), []);
    const ruleTypes = recorder
      .of("netsec")
      .map((resource) => resource.type)
      .filter((type) => /securityGroup(Ingress|Egress)?Rule/i.test(type));
    assert.deepEqual([...new Set(ruleTypes)].sort(), [EGRESS, INGRESS]);
    const groupIds = new Set(recorder.ofType("netsec", SECURITY_GROUP).map((group) => group.id));
    for (const rule of [...recorder.ofType("netsec", INGRESS), ...recorder.ofType("netsec", EGRESS)]) {
      assert.ok(groupIds.has(rule.inputs.securityGroupId), `${rule.name} targets ${rule.inputs.securityGroupId}`);
    }
  });

  it("only the job task group carries the tag by which the policy pack finds it", () => {
    const role = (part: string) =>
      recorder.one("netsec", SECURITY_GROUP, part).inputs.tags?.["gitlab-fargate-runner:role"];
    assert.equal(role("task-sg"), "job-task");
    assert.equal(role("manager-sg"), undefined);
  });

  it("manager: SSH in only from the admin CIDRs and from managers; nothing from the job tasks", () => {
    assert.deepEqual(rules(INGRESS, "manager-sg"), [
      "tcp 22-22 2001:db8::/48",
      "tcp 22-22 203.0.113.0/24",
      "tcp 22-22 sg:manager-sg",
    ]);
  });

  it("job tasks: SSH in only from the manager's security group", () => {
    assert.deepEqual(rules(INGRESS, "task-sg"), ["tcp 22-22 sg:manager-sg"]);
  });

  it("job tasks: out only to HTTPS (GitLab, registries, package mirrors), never to the manager's group", () => {
    assert.deepEqual(rules(EGRESS, "task-sg"), ["tcp 443-443 0.0.0.0/0"]);
  });

  it("manager: out to HTTP/HTTPS and SSH to the task group and to managers only", () => {
    assert.deepEqual(rules(EGRESS, "manager-sg"), [
      "tcp 22-22 sg:manager-sg",
      "tcp 22-22 sg:task-sg",
      "tcp 443-443 0.0.0.0/0",
      "tcp 80-80 0.0.0.0/0",
    ]);
  });
});

const fixture = new ComponentFixture();
const { deployed } = fixture;

describe("GitLabFargateRunner (Pulumi mocks)", function () {
  before(() => fixture.install());

  describe("security groups", () => {
    it("manager SG lets TCP 22 in only from admin.sshCidrBlocks (IPv4 and IPv6) and from its own group", async () => {
      const { one, all } = await deployed({ admin: { sshCidrBlocks: [ADMIN, "2001:db8::/48"] } });
      const managerSg = one(T.sg, "manager-sg").id;
      const ingress = all(T.ingress).filter((r) => r.inputs.securityGroupId === managerSg);
      assert.deepEqual(
        ingress.map((r) => [
          r.inputs.fromPort,
          r.inputs.toPort,
          r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6 ?? r.inputs.referencedSecurityGroupId,
        ]),
        [
          [22, 22, ADMIN],
          [22, 22, "2001:db8::/48"],
          [22, 22, managerSg],
        ],
      );
    });

    it("task SG lets TCP 22 in only from the manager SG, by reference and never by CIDR", async () => {
      const { one, all } = await deployed();
      const taskSg = one(T.sg, "task-sg").id;
      const ingress = all(T.ingress).filter((r) => r.inputs.securityGroupId === taskSg);
      assert.equal(ingress.length, 1);
      const rule = ingress[0].inputs;
      assert.deepEqual([rule.ipProtocol, rule.fromPort, rule.toPort], ["tcp", 22, 22]);
      assert.equal(rule.referencedSecurityGroupId, one(T.sg, "manager-sg").id);
      assert.equal(rule.cidrIpv4 ?? rule.cidrIpv6, undefined);
    });

    it("egress: manager to the web (80, 443) and SSH to tasks; tasks to 443 only", async () => {
      const { one, all } = await deployed();
      const managerSg = one(T.sg, "manager-sg").id;
      const taskSg = one(T.sg, "task-sg").id;
      const rules = (sg: string) =>
        all(T.egress)
          .filter((r) => r.inputs.securityGroupId === sg)
          .map((r) => `${r.inputs.fromPort}->${r.inputs.cidrIpv4 ?? r.inputs.referencedSecurityGroupId}`)
          .sort();
      assert.deepEqual(
        rules(managerSg),
        [`22->${managerSg}`, `22->${taskSg}`, "443->0.0.0.0/0", "80->0.0.0.0/0"].sort(),
      );
      assert.deepEqual(rules(taskSg), ["443->0.0.0.0/0"]);
    });

    it("opens the GitLab URL's own port when it is not 443", async () => {
      const { one, all } = await deployed({ gitlab: { url: "https://git.example.com:8443", runnerToken: TOKEN } });
      const taskSg = one(T.sg, "task-sg").id;
      const taskPorts = all(T.egress)
        .filter((r) => r.inputs.securityGroupId === taskSg)
        .map((r) => r.inputs.fromPort);
      assert.deepEqual(taskPorts.sort(), [443, 8443]);
    });
  });
});
