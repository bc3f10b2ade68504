import { strict as assert } from "node:assert";
import { parseFargateToml } from "../../../driver/contract/fargateToml";
import { buildRunTaskInput } from "../../../driver/stages/prepare";
import { stoppedTaskReason } from "../../../driver/taskReason";

describe("driver RunTask request and task reasons", () => {
  const settings = parseFargateToml(
    `[Fargate]\nCluster = "c"\nSubnets = ["subnet-0a0a0a0a", "subnet-0b0b0b0b"]\nTaskDefinition = "ci:3"\nEnablePublicIP = true\n`,
    "f.toml",
  );
  const job = { id: "9", binding: "b" };

  it("builds the awsvpc request with the key override, startedBy and no strategy/platform when unset", () => {
    const input = buildRunTaskInput(settings, job, { taskDefinition: "ci:3", size: {} }, "ssh-ed25519 AAA k");
    assert.deepEqual(input.networkConfiguration, {
      awsvpcConfiguration: {
        subnets: ["subnet-0a0a0a0a", "subnet-0b0b0b0b"],
        securityGroups: undefined,
        assignPublicIp: "ENABLED",
      },
    });
    assert.deepEqual(input.overrides?.containerOverrides?.length, 1);
    assert.equal(input.overrides?.containerOverrides?.[0].name, "ci-coordinator");
    assert.deepEqual(input.overrides?.containerOverrides?.[0].environment?.[0], {
      name: "SSH_PUBLIC_KEY",
      value: "ssh-ed25519 AAA k",
    });
    assert.equal(input.startedBy, "gitlab-job-9");
    assert.equal("capacityProviderStrategy" in input, false);
    assert.equal("platformVersion" in input, false);
    assert.equal("launchType" in input, false, "the cluster's default capacity provider strategy decides");
  });

  it("sends at most 50 countable tags: the driver's 3 and the 46 allowed Fargate.Tags, none propagated", () => {
    const tags = Object.fromEntries(Array.from({ length: 46 }, (_, i) => [`k${i}`, "v"]));
    const full = parseFargateToml(
      `[Fargate]\nCluster = "c"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci:3"\n[Fargate.Tags]\n${Object.keys(
        tags,
      )
        .map((k) => `${k} = "v"`)
        .join("\n")}\n`,
      "f.toml",
    );
    const input = buildRunTaskInput(
      full,
      { id: "9", binding: "b", pipelineId: "1", project: "g/p" },
      { taskDefinition: "ci:3", size: {} },
      "k",
    );
    assert.equal(input.tags?.length, 49);
    assert.equal(input.propagateTags, undefined, "propagated task-definition tags would push the task past 50");
    assert.equal(input.enableECSManagedTags, true, "aws:ecs:* tags do not count against the limit");
  });

  it("shows the stopped reason with every container's reason and exit code", () => {
    const reason = stoppedTaskReason(
      {
        taskArn: "a",
        stoppedReason: "Essential container in task exited",
        containers: [
          { name: "ci-coordinator", reason: "entrypoint: SSH_PUBLIC_KEY is empty", exitCode: 1 },
          { name: "x" },
        ],
      },
      "ci-coordinator",
    );
    assert.equal(
      reason,
      "Essential container in task exited; container ci-coordinator: entrypoint: SSH_PUBLIC_KEY is empty, exit code 1",
    );
  });
});
