import { strict as assert } from "node:assert";
import { parseFargateToml, renderFargateToml } from "../../../driver/contract/fargateToml";
import {
  imageTaskFamily,
  imageTaskFamilyPattern,
  IMAGE_TASK,
  MAX_BASE_FAMILY_LENGTH,
} from "../../../driver/contract/imageTasks";
import { TASK_FAMILY } from "../../../driver/contract/awsRules";
import { expectFailure } from "../expectFailure";

const BASE = `[Fargate]\nCluster = "c"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "t"\n`;
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ghcr-AbCdEf";

describe("fargate.toml: job images and services", () => {
  it("leaves both features off when the keys are absent, and tells an empty list from an absent one", () => {
    const off = parseFargateToml(BASE, "f.toml").fargate;
    assert.equal(off.allowedImages, undefined);
    assert.equal(off.allowedServices, undefined);
    assert.deepEqual(off.registryCredentials, {});
    const on = parseFargateToml(`${BASE}AllowedImages = ["*"]\nAllowedServices = []\n`, "f.toml").fargate;
    assert.deepEqual(on.allowedImages, ["*"]);
    assert.deepEqual(on.allowedServices, []);
  });

  it("reads registry credentials per host and refuses bad hosts, partial and wildcard ARNs", () => {
    const s = parseFargateToml(`${BASE}[Fargate.RegistryCredentials]\n"ghcr.io" = "${SECRET}"\n`, "f.toml");
    assert.deepEqual(s.fargate.registryCredentials, { "ghcr.io": SECRET });
    assert.deepEqual(s.unknownKeys, [], "registry hosts are not keys the driver should know");
    const table = (host: string, arn: string) => `${BASE}[Fargate.RegistryCredentials]\n"${host}" = "${arn}"\n`;
    expectFailure(
      () => parseFargateToml(table("GHCR.io", SECRET), "f.toml"),
      /RegistryCredentials\.GHCR\.io .*registry host/,
    );
    expectFailure(() => parseFargateToml(table("ghcr.io", SECRET.slice(0, -7)), "f.toml"), /partial ARN/);
    expectFailure(() => parseFargateToml(table("ghcr.io", `${SECRET.slice(0, -6)}*`), "f.toml"), /wildcard/);
    expectFailure(() => parseFargateToml(`${BASE}AllowedImages = [""]\n`, "f.toml"), /AllowedImages must be a list/);
  });

  it("renders what it reads: the component's keys round-trip", () => {
    const text = renderFargateToml({
      Fargate: {
        Cluster: "c",
        Subnets: ["subnet-0a0a0a0a"],
        TaskDefinition: "t",
        AllowedImages: ["registry.example.com/*"],
        AllowedServices: ["postgres:*"],
        RegistryCredentials: { "registry.example.com": SECRET },
      },
    });
    const s = parseFargateToml(text, "f.toml").fargate;
    assert.deepEqual(s.allowedImages, ["registry.example.com/*"]);
    assert.deepEqual(s.allowedServices, ["postgres:*"]);
    assert.deepEqual(s.registryCredentials, { "registry.example.com": SECRET });
  });

  it("names image families inside ECS's limits and inside the IAM pattern", () => {
    const longest = "f".repeat(MAX_BASE_FAMILY_LENGTH);
    const family = imageTaskFamily(longest, "0123456789abcdef0123456789abcdef");
    assert.match(family, TASK_FAMILY);
    assert.equal(family.length, 255);
    const pattern = imageTaskFamilyPattern("ci");
    const matches = new RegExp(`^${pattern.replace("*", ".*")}$`);
    assert.ok(matches.test(imageTaskFamily("ci", "ab".repeat(16))));
    assert.ok(!matches.test("ci"), "the base family itself is not an image family");
    assert.equal(IMAGE_TASK.pauseCommand[0], `${IMAGE_TASK.toolsPath}/busybox`);
  });
});
