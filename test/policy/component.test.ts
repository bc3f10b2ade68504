// The component, run under Pulumi mocks with its default arguments and each variant, must pass the whole pack:
// every captured resource goes through every resource policy, and the captured stack through every stack policy.
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import type { GitLabFargateRunnerArgs } from "../../components";
import { MIN_SSH_PREFIX_LENGTH as COMPONENT_MIN_SSH_PREFIX_LENGTH } from "../../components/validation";
import { resourcePolicies, stackPolicies } from "../../policy/rules";
import { MIN_SSH_PREFIX_LENGTH as POLICY_MIN_SSH_PREFIX_LENGTH } from "../../policy/rules/network";
import { installMocks, ResourceRecorder, settle, unwrapSecrets } from "../support/pulumiMocks";
import { runPack, StackResource, T, UNKNOWN } from "./harness";

const ADMIN_CIDRS = ["203.0.113.0/24", "2001:db8::/48"];

/** Component variants the pack must pass (defaults, own VPC, public tasks, Spot, arm64, own image, no cache, jobs'
 * images off, private registries for jobs' images, three managers, managers behind a bastion). Names are distinct
 * and none is a prefix of another. */
function variants(): Record<string, Partial<GitLabFargateRunnerArgs>> {
  return {
    dflt: {},
    ownvpc: {
      network: {
        existing: {
          vpcId: "vpc-0a1b2c3d4e5f60718",
          publicSubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
          privateSubnetIds: ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
        },
      },
    },
    pubtasks: { network: { taskPlacement: "public" } },
    spot: { jobs: { capacityProvider: "FARGATE_SPOT", onDemandBase: 1 } },
    arm: { jobs: { architecture: "arm64" } },
    extimg: {
      jobs: {
        image: {
          uri: "registry.example.com/ci/coordinator:1.0",
          credentialsSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry-AbCdEf",
        },
      },
    },
    nocache: { cache: { enabled: false } },
    fleet: { manager: { count: 3 }, runner: { drainTimeoutMinutes: 120 }, jobs: { idleTimeoutSeconds: 300 } },
    bastioned: {
      manager: {
        count: 2,
        sshProxy: { host: "bastion.example.com", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb\n" },
      },
    },
    imgoff: { jobs: { allowedImages: [], allowedServices: [] } },
    regcreds: {
      jobs: {
        allowedImages: ["ghcr.io/acme/*"],
        registryCredentials: {
          "ghcr.io": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ghcr-GhCr01",
          "quay.io": "arn:aws:secretsmanager:us-east-1:210987654321:secret:quay-Qu4y02",
        },
      },
    },
  };
}

/** What the policy engine sees: plain values (it unwraps secrets) plus the resource id other resources refer to. */
function asStackResources(recorder: ResourceRecorder, component: string): StackResource[] {
  return recorder.of(component).map((resource) => ({
    type: resource.type,
    name: resource.name,
    props: { ...(unwrapSecrets(resource.inputs) as Record<string, unknown>), id: resource.id },
  }));
}

/** Values the mocks give `resource` that only exist once it is created: its id, generated names and ARNs. */
function createdValues(resource: StackResource): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const id = escape(String(resource.props.id));
  return new RegExp(`(${id}|${escape(resource.name)}-(b4cket|r0le|c0ffee|pr0file|k3y))(?![\\w-])`);
}

/** Outputs the provider computes, which policies might read, unknown in a first preview unless the program set them. */
const COMPUTED_OUTPUTS: Record<string, string[]> = {
  [T.securityGroup]: ["ingress", "egress", "arn"],
  [T.bucket]: ["bucket", "arn", "serverSideEncryptionConfiguration"],
};

/**
 * The stack as a first `pulumi preview` shows it to the policies: every id unknown, every top-level property that
 * holds another resource's created value unknown (with a property dependency on that resource, as the engine gives),
 * and computed outputs the program did not set unknown.
 */
function asFirstPreview(resources: StackResource[]): StackResource[] {
  const created = new Map(resources.map((resource) => [resource.name, createdValues(resource)]));
  const preview = resources.map((resource): StackResource => ({
    ...resource,
    props: { ...resource.props, id: UNKNOWN },
    dependsOn: {},
  }));
  for (const resource of preview) {
    const dependsOn: Record<string, StackResource[]> = {};
    for (const [property, value] of Object.entries(resource.props)) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      const targets = preview.filter((other) => other !== resource && created.get(other.name)?.test(text ?? ""));
      if (targets.length > 0) {
        resource.props[property] = UNKNOWN;
        dependsOn[property] = targets;
      }
    }
    for (const output of COMPUTED_OUTPUTS[resource.type] ?? []) {
      resource.props[output] ??= UNKNOWN;
    }
    resource.dependsOn = dependsOn;
  }
  return preview;
}

/** A runner that gives every job ReadOnlyAccess through jobs.taskRolePolicyArns (not one of the compliant variants). */
const READ_ONLY_JOBS = "rojobs";

function describeViolations(violations: { policy: string; message: string }[]): string {
  return violations.map(({ policy, message }) => `  [${policy}] ${message}`).join("\n");
}

describe("policy pack on GitLabFargateRunner (mocks)", function () {
  let recorder: ResourceRecorder;
  const stacks = new Map<string, StackResource[]>();

  before(async function () {
    recorder = await installMocks();
    const { GitLabFargateRunner } = await import("../../components");
    for (const [name, variant] of Object.entries(variants())) {
      new GitLabFargateRunner(name, {
        gitlab: { url: "https://gitlab.example.com", runnerToken: pulumi.secret("glrt-policytest0123456789") },
        admin: { sshCidrBlocks: ADMIN_CIDRS },
        ...variant,
      });
    }
    new GitLabFargateRunner(READ_ONLY_JOBS, {
      gitlab: { url: "https://gitlab.example.com", runnerToken: pulumi.secret("glrt-policytest0123456789") },
      admin: { sshCidrBlocks: ADMIN_CIDRS },
      jobs: { taskRolePolicyArns: ["arn:aws:iam::aws:policy/ReadOnlyAccess"] },
    });
    await settle();
    for (const name of Object.keys(variants())) {
      stacks.set(name, asStackResources(recorder, name));
    }
  });

  for (const name of Object.keys(variants())) {
    it(`variant "${name}": zero violations, mandatory or advisory`, async () => {
      const resources = stacks.get(name) ?? [];
      assert.ok(resources.length > 10, `captured ${resources.length} resources`);
      const { violations } = await runPack(resourcePolicies, stackPolicies, resources);
      assert.equal(violations.length, 0, `violations:\n${describeViolations(violations)}`);
    });
  }

  it("catches a broad AWS managed policy (ReadOnlyAccess) given to every job's task role", async () => {
    const { violations } = await runPack(resourcePolicies, stackPolicies, asStackResources(recorder, READ_ONLY_JOBS));
    assert.deepEqual(
      violations.map(({ policy, message }) => [
        policy,
        /"([^"]+)" attaches the AWS managed policy (\w+)/.exec(message)?.slice(1),
      ]),
      [["iam-no-broad-managed-policies", [`${READ_ONLY_JOBS}-task-policy-1`, "ReadOnlyAccess"]]],
    );
  });

  it("every policy of the pack applied to the default runner (none passed by finding nothing to check)", async () => {
    const { applied } = await runPack(resourcePolicies, stackPolicies, stacks.get("dflt") ?? []);
    const all = [...resourcePolicies, ...stackPolicies].map((policy) => policy.name);
    assert.deepEqual(
      all.filter((policy) => !applied.has(policy)),
      [],
    );
  });

  it("a first preview (unknown ids, references and computed outputs): zero violations, every stack policy runs", async () => {
    const resources = asFirstPreview(stacks.get("dflt") ?? []);
    const taskRules = resources.filter((r) => r.type === T.ingressRule && r.dependsOn?.securityGroupId?.length);
    assert.ok(taskRules.length >= 2, "the preview stack links rules to their groups by property dependency only");
    const { violations, applied, cannotRunInPreview } = await runPack(resourcePolicies, stackPolicies, resources);
    assert.equal(violations.length, 0, `violations:\n${describeViolations(violations)}`);
    const stackNames = stackPolicies.map((policy) => policy.name);
    assert.deepEqual(
      stackNames.filter((policy) => !applied.has(policy)),
      [],
    );
    assert.deepEqual(
      cannotRunInPreview.filter((entry) => stackNames.includes(entry.policy)),
      [],
    );
  });

  it("a first preview of a widened runner: SSH from a CIDR into the new task group is caught", async () => {
    const resources = asFirstPreview(stacks.get("dflt") ?? []);
    const taskGroup = resources.find((r) => r.type === T.securityGroup && r.name === "dflt-task-sg");
    assert.ok(taskGroup, "the default runner has a dflt-task-sg");
    const vpn: StackResource = {
      type: T.ingressRule,
      name: "dflt-task-ssh-vpn",
      props: {
        id: UNKNOWN,
        securityGroupId: UNKNOWN,
        ipProtocol: "tcp",
        fromPort: 22,
        toPort: 22,
        cidrIpv4: "10.8.0.0/16",
      },
      dependsOn: { securityGroupId: [taskGroup] },
    };
    const { violations } = await runPack(resourcePolicies, stackPolicies, [...resources, vpn]);
    assert.deepEqual(
      violations.map((violation) => violation.policy),
      ["task-security-group-ssh-from-security-groups-only"],
    );
  });

  it("the same pipeline catches a widened runner: world SSH into the task group and ecs:* for the manager", async () => {
    const resources = stacks.get("dflt") ?? [];
    const taskGroup = resources.find((r) => r.type === T.securityGroup && r.name === "dflt-task-sg");
    assert.ok(taskGroup, "the default runner has a dflt-task-sg");
    const widened: StackResource[] = [
      ...resources,
      {
        type: T.ingressRule,
        name: "dflt-task-ssh-world",
        props: {
          securityGroupId: taskGroup.props.id,
          ipProtocol: "tcp",
          fromPort: 22,
          toPort: 22,
          cidrIpv4: "0.0.0.0/0",
        },
      },
      {
        type: T.rolePolicy,
        name: "dflt-manager-extra",
        props: {
          role: "dflt-manager-role",
          policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: "ecs:*", Resource: "*" }] }),
        },
      },
    ];
    const { violations } = await runPack(resourcePolicies, stackPolicies, widened);
    assert.deepEqual(violations.map((violation) => violation.policy).sort(), [
      "iam-no-wildcard-actions",
      "security-group-no-world-ssh",
      "task-security-group-ssh-from-security-groups-only",
    ]);
  });
});

// The pack is published on its own (`pulumi policy publish` ships policy/ alone), so it cannot import the
// component's rule; the two minimums must still be the same, or a stack passes one check and fails the other.
describe("policy pack and component agree", () => {
  it("on the narrowest SSH block an administrator may open", () => {
    assert.deepEqual(POLICY_MIN_SSH_PREFIX_LENGTH, COMPONENT_MIN_SSH_PREFIX_LENGTH);
  });
});
