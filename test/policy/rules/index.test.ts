import * as assert from "node:assert/strict";
import { imdsv2Required } from "../../../policy/rules/compute";
import { policies } from "../../../policy/rules";
import { T, validateResource } from "../harness";

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
