import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { TaskRoles } from "./iam";
import { JobImage } from "./registry";
import { ResolvedArgs } from "./validation";

/** The container the driver starts and connects to; the name is part of the driver contract. */
export const CONTAINER_NAME = "ci-coordinator";

export interface JobCluster {
  cluster: aws.ecs.Cluster;
  capacityProviders: aws.ecs.ClusterCapacityProviders;
}

/**
 * The default capacity provider strategy: RunTask calls that name no launch type use it. Without one, ECS answers
 * "No Container Instances were found in your cluster". Pure.
 */
export function defaultCapacityProviderStrategy(jobs: ResolvedArgs["jobs"]) {
  if (jobs.capacityProvider === "FARGATE") return [{ capacityProvider: "FARGATE", weight: 1, base: 0 }];
  const strategy = [{ capacityProvider: "FARGATE_SPOT", weight: 1, base: 0 }];
  // Only the first `onDemandBase` tasks go to on-demand FARGATE (weight 0: nothing beyond the base).
  if (jobs.onDemandBase > 0) strategy.push({ capacityProvider: "FARGATE", weight: 0, base: jobs.onDemandBase });
  return strategy;
}

export function createJobCluster(args: ResolvedArgs, parent: pulumi.Resource): JobCluster {
  const { name, tags } = args;
  const cluster = new aws.ecs.Cluster(
    `${name}-cluster`,
    { settings: [{ name: "containerInsights", value: "disabled" }], tags },
    { parent },
  );
  const capacityProviders = new aws.ecs.ClusterCapacityProviders(
    `${name}-capacity-providers`,
    {
      clusterName: cluster.name,
      capacityProviders: ["FARGATE", "FARGATE_SPOT"],
      defaultCapacityProviderStrategies: defaultCapacityProviderStrategy(args.jobs),
    },
    { parent },
  );
  return { cluster, capacityProviders };
}

export interface JobTaskDefinition {
  taskDefinition: aws.ecs.TaskDefinition;
  logGroup: aws.cloudwatch.LogGroup;
}

/** One task definition per runner: FARGATE, awsvpc, one essential `ci-coordinator` container listening on 22. */
export function createJobTaskDefinition(
  args: ResolvedArgs,
  image: JobImage,
  roles: TaskRoles,
  region: pulumi.Output<string>,
  parent: pulumi.Resource,
): JobTaskDefinition {
  const { name, tags, jobs } = args;
  const logGroup = new aws.cloudwatch.LogGroup(
    `${name}-jobs-logs`,
    { namePrefix: `/gitlab-runner/${name}/`, retentionInDays: jobs.logRetentionDays, tags },
    { parent },
  );
  const container = {
    name: CONTAINER_NAME,
    image: image.imageUri,
    essential: true,
    portMappings: [{ containerPort: 22, hostPort: 22, protocol: "tcp" }],
    logConfiguration: {
      logDriver: "awslogs",
      options: { "awslogs-group": logGroup.name, "awslogs-region": region, "awslogs-stream-prefix": "job" },
    },
    ...(image.credentialsSecretArn
      ? { repositoryCredentials: { credentialsParameter: image.credentialsSecretArn } }
      : {}),
  };
  const taskDefinition = new aws.ecs.TaskDefinition(
    `${name}-task-definition`,
    {
      family: jobs.family,
      requiresCompatibilities: ["FARGATE"],
      networkMode: "awsvpc",
      cpu: String(jobs.cpu),
      memory: String(jobs.memory),
      runtimePlatform: {
        operatingSystemFamily: "LINUX",
        cpuArchitecture: jobs.architecture === "arm64" ? "ARM64" : "X86_64",
      },
      ...(jobs.ephemeralStorageGiB === undefined ? {} : { ephemeralStorage: { sizeInGib: jobs.ephemeralStorageGiB } }),
      executionRoleArn: roles.execution.arn,
      taskRoleArn: roles.task.arn,
      containerDefinitions: pulumi.jsonStringify([container]),
      tags,
    },
    { parent },
  );
  return { taskDefinition, logGroup };
}
