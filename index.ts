/**
 * The deployable program: one GitLabFargateRunner configured from stack config (see Pulumi.yaml for every key).
 *
 *   pulumi config set gitlabUrl https://gitlab.example.com
 *   pulumi config set --secret runnerToken glrt-…
 *   pulumi config set --path 'adminCidrBlocks[0]' 203.0.113.7/32
 *   pulumi up
 */
import * as pulumi from "@pulumi/pulumi";
import {
  Architecture,
  CapacityProvider,
  GitLabFargateRunner,
  GitLabFargateRunnerArgs,
  NatGatewayStrategy,
  TaskPlacement,
} from "./components";

const config = new pulumi.Config();

/** A map given as a list of "key=value" (project config has no map type): `tags`, `jobRegistryCredentials`. */
function parsePairs(configKey: string, pairs: string[] = []): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf("=");
      if (at <= 0) throw new Error(`config ${configKey}: "${pair}" is not key=value`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

const ownVpcId = config.get("vpcId");
const architecture = config.get("jobArchitecture") as Architecture | undefined;
const image = config.get("jobImage");

const args: GitLabFargateRunnerArgs = {
  gitlab: { url: config.require("gitlabUrl"), runnerToken: config.requireSecret("runnerToken") },
  admin: { sshCidrBlocks: config.requireObject<string[]>("adminCidrBlocks") },
  network: {
    taskPlacement: config.get("taskPlacement") as TaskPlacement | undefined,
    natGateways: config.get("natGateways") as NatGatewayStrategy | undefined,
    availabilityZoneCount: config.getNumber("availabilityZoneCount"),
    existing: ownVpcId
      ? {
          vpcId: ownVpcId,
          publicSubnetIds: config.getObject<string[]>("publicSubnetIds") ?? [],
          privateSubnetIds: config.getObject<string[]>("privateSubnetIds"),
        }
      : undefined,
  },
  manager: { instanceType: config.get("managerInstanceType"), count: config.getNumber("managerCount") },
  jobs: {
    cpu: config.getNumber("jobCpu"),
    memory: config.getNumber("jobMemory"),
    architecture,
    capacityProvider: config.get("jobCapacityProvider") as CapacityProvider | undefined,
    logRetentionDays: config.getNumber("jobLogRetentionDays"),
    idleTimeoutSeconds: config.getNumber("jobIdleTimeoutSeconds"),
    image: image ? { uri: image, credentialsSecretArn: config.get("jobImageCredentialsSecretArn") } : undefined,
    build: image ? undefined : { forceDelete: config.getBoolean("jobImageForceDelete") },
    allowedImages: config.getObject<string[]>("jobAllowedImages"),
    allowedServices: config.getObject<string[]>("jobAllowedServices"),
    registryCredentials: parsePairs("jobRegistryCredentials", config.getObject<string[]>("jobRegistryCredentials")),
  },
  cache: {
    enabled: config.getBoolean("cacheEnabled"),
    expirationDays: config.getNumber("cacheExpirationDays"),
    forceDestroy: config.getBoolean("cacheForceDestroy"),
  },
  runner: {
    concurrent: config.getNumber("runnerConcurrent"),
    drainTimeoutMinutes: config.getNumber("runnerDrainTimeoutMinutes"),
  },
  tags: parsePairs("tags", config.getObject<string[]>("tags")),
};

const runner = new GitLabFargateRunner(
  config.get("runnerName") ??
    pulumi
      .getStack()
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-")
      .slice(0, 32),
  args,
);

export const vpcId = runner.vpcId;
export const privateSubnetIds = runner.privateSubnetIds;
export const clusterName = runner.clusterName;
export const clusterArn = runner.clusterArn;
export const taskDefinitionArn = runner.taskDefinitionArn;
export const taskSecurityGroupId = runner.taskSecurityGroupId;
export const managerSecurityGroupId = runner.managerSecurityGroupId;
export const managerInstanceId = runner.managerInstanceId;
export const managerPublicIp = runner.managerPublicIp;
export const managerInstanceIds = runner.managerInstanceIds;
export const managerPublicIps = runner.managerPublicIps;
export const egressIps = runner.egressIps;
export const imageUri = runner.imageUri;
export const cacheBucketName = runner.cacheBucketName;
export const logGroupName = runner.logGroupName;
