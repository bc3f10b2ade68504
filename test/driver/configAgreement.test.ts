/**
 * The component writes fargate.toml (components/runnerConfig.ts) and the driver reads it (driver/settings.ts):
 * both sides must agree on what a valid subnet id, security group id and SSH user name is.
 */
import { strict as assert } from "node:assert";
import { FargateConfigInput, renderFargateToml } from "../../components/runnerConfig";
import { SystemFailure } from "../../driver/errors";
import { parseSettings } from "../../driver/settings";

const base: FargateConfigInput = {
  cluster: "ci",
  region: "eu-west-1",
  subnets: ["subnet-0a1b2c3d"],
  securityGroups: ["sg-0a1b2c3d"],
  taskDefinition: "ci-coordinator:1",
};

type Outcome = "accepted" | "rejected";

function generator(input: FargateConfigInput): Outcome {
  try {
    renderFargateToml(input);
    return "accepted";
  } catch {
    return "rejected";
  }
}

function driver(input: FargateConfigInput): Outcome {
  // What the driver makes of the file the generator would write, built without the generator's checks.
  const toml = [
    "[Fargate]",
    'Cluster = "ci"',
    `Subnets = ${JSON.stringify(input.subnets)}`,
    `SecurityGroups = ${JSON.stringify(input.securityGroups)}`,
    'TaskDefinition = "ci-coordinator:1"',
    "[SSH]",
    `Username = ${JSON.stringify(input.sshUsername ?? "root")}`,
    "",
  ].join("\n");
  try {
    parseSettings(toml, "fargate.toml");
    return "accepted";
  } catch (err) {
    assert.ok(err instanceof SystemFailure, String(err));
    return "rejected";
  }
}

describe("fargate.toml: generator and driver agree", () => {
  it("a file generated from real AWS ids (8 and 17 hex digits) parses in the driver with the same ids", () => {
    const input = {
      ...base,
      subnets: ["subnet-0a1b2c3d", "subnet-0123456789abcdef0"],
      securityGroups: ["sg-0a1b2c3d", "sg-0123456789abcdef0"],
    };
    const settings = parseSettings(renderFargateToml(input), "generated.toml");
    assert.deepEqual(settings.fargate.subnets, input.subnets);
    assert.deepEqual(settings.fargate.securityGroups, input.securityGroups);
  });

  it("ids of the wrong kind are refused by both", () => {
    for (const input of [
      { ...base, subnets: ["sg-0a1b2c3d"] },
      { ...base, securityGroups: ["subnet-0a1b2c3d"] },
      { ...base, subnets: ["vpc-0a1b2c3d"] },
      { ...base, securityGroups: ["0a1b2c3d"] },
    ]) {
      assert.deepEqual([generator(input), driver(input)], ["rejected", "rejected"], JSON.stringify(input));
    }
  });

  it("only the generator accepts placeholder ids (Pulumi mocks); the driver insists on AWS's shape", () => {
    const placeholder = { ...base, subnets: ["subnet-priv1-wire3-vpc"], securityGroups: ["sg-tasks-vpc"] };
    assert.deepEqual([generator(placeholder), driver(placeholder)], ["accepted", "rejected"]);
  });

  it("SSH user names: the same ones accepted and refused on both sides", () => {
    const accepted = ["root", "ci", "_svc", "gitlab-runner", "a.b_c-d", "x".repeat(32)];
    const rejected = ["1ci", "-x", ".hidden", "ci user", "root;rm", "ci/x", "x".repeat(33), "é"];
    for (const name of accepted) {
      const input = { ...base, sshUsername: name };
      assert.deepEqual([generator(input), driver(input)], ["accepted", "accepted"], name);
    }
    for (const name of rejected) {
      const input = { ...base, sshUsername: name };
      assert.deepEqual([generator(input), driver(input)], ["rejected", "rejected"], name);
    }
  });
});
