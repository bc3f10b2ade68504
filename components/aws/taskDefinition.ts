import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Architecture } from "../args";
import { TaskRoles } from "./iam";
import { JobImage } from "./jobImage";
import { Scope } from "./scope";

/** The container the driver starts and connects to; the name is part of the driver contract. */
export const CONTAINER_NAME = "ci-coordinator";

export interface JobTaskDefinition {
  taskDefinition: aws.ecs.TaskDefinition;
  logGroup: aws.cloudwatch.LogGroup;
}

/** The job task's size, platform and logs. */
export interface JobTaskArgs {
  /** Task definition family. */
  family: string;
  /** vCPU units and memory (MiB): a valid Fargate pair. */
  cpu: number;
  memory: number;
  architecture: Architecture;
  /** Ephemeral storage in GiB; Fargate's 20 GiB when undefined. */
  ephemeralStorageGiB?: number;
  /** Days CloudWatch keeps the job containers' logs. */
  logRetentionDays: number;
}

/** What the task runs with: the image, the roles and the region its logs go to. */
export interface JobTaskDependencies {
  image: JobImage;
  roles: TaskRoles;
  region: pulumi.Output<string>;
}

/** One task definition per runner: FARGATE, awsvpc, one essential `ci-coordinator` container listening on 22. */
export function createJobTaskDefinition(
  { name, tags, parent }: Scope,
  jobs: JobTaskArgs,
  { image, roles, region }: JobTaskDependencies,
): JobTaskDefinition {
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
