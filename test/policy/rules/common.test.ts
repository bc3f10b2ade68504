import * as assert from "node:assert/strict";
import { StackValidationPolicy } from "@pulumi/policy";
import { taskSshFromSecurityGroupsOnly } from "../../../policy/rules/network";
import { s3BucketEncryption, s3BucketPublicAccessBlock } from "../../../policy/rules/storage";
import { StackResource, T, UNKNOWN, validateStack } from "../harness";
import { assertPasses, assertViolates } from "./helpers";

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
