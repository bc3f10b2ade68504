import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { parseJsonish, resourceLabel } from "./common";

/** The container the driver talks to; GitLab's Fargate driver requires this exact name. */
export const COORDINATOR_CONTAINER = "ci-coordinator";

/** The parts of an ECS container definition these rules read. */
export interface ContainerDefinition {
  name?: string;
  privileged?: boolean;
  logConfiguration?: { logDriver?: string };
  portMappings?: { containerPort?: number; protocol?: string }[];
}

/** Container definitions from the task definition's JSON text (or an already parsed list). */
export function containersOf(containerDefinitions: unknown): ContainerDefinition[] | undefined {
  const parsed = parseJsonish(containerDefinitions);
  return Array.isArray(parsed) ? (parsed as ContainerDefinition[]) : undefined;
}

/** Task definitions use awsvpc, run no privileged container and send every container's logs somewhere. */
export const ecsTaskDefinitionHardened: ResourceValidationPolicy = {
  name: "ecs-task-definition-hardened",
  description:
    "ECS task definitions use the awsvpc network mode, run no privileged container and give every container a logConfiguration.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(aws.ecs.TaskDefinition, (taskDefinition, args, reportViolation) => {
    const label = resourceLabel(args.type, args.name);
    if (taskDefinition.networkMode !== "awsvpc") {
      reportViolation(
        `${label} uses network mode "${taskDefinition.networkMode ?? "(default)"}". ` +
          'Fix: set networkMode: "awsvpc" so each task has its own ENI and security group.',
      );
    }
    const containers = containersOf(taskDefinition.containerDefinitions);
    if (!containers) {
      reportViolation(`${label} has containerDefinitions that are not a JSON list. Fix: pass JSON.stringify([...]).`);
      return;
    }
    for (const container of containers) {
      const which = `container "${container.name ?? "(unnamed)"}"`;
      if (container.privileged === true) {
        reportViolation(`${label} runs ${which} privileged. Fix: remove privileged: true (Fargate rejects it anyway).`);
      }
      if (!container.logConfiguration?.logDriver) {
        reportViolation(
          `${label} has no logConfiguration on ${which}. ` +
            'Fix: add logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": …, "awslogs-region": …, "awslogs-stream-prefix": … } }.',
        );
      }
    }
  }),
};

/** Tag GitLabFargateRunner puts on every resource it creates (value: the runner's name). */
export const RUNNER_TAG = "gitlab-fargate-runner";

/** Advisory: the driver needs a `ci-coordinator` container listening on TCP 22 in the component's task definitions. */
export const ecsCoordinatorContainer: ResourceValidationPolicy = {
  name: "ecs-task-definition-ci-coordinator",
  description: `ECS task definitions of a runner (tagged ${RUNNER_TAG}) have a "${COORDINATOR_CONTAINER}" container that maps TCP port 22.`,
  enforcementLevel: "advisory",
  validateResource: validateResourceOfType(aws.ecs.TaskDefinition, (taskDefinition, args, reportViolation) => {
    const runner = taskDefinition.tags?.[RUNNER_TAG];
    if (typeof runner !== "string" || runner.length === 0) {
      return args.notApplicable(`Applies to task definitions tagged ${RUNNER_TAG} (created by GitLabFargateRunner)`);
    }
    const label = resourceLabel(args.type, args.name);
    const coordinator = (containersOf(taskDefinition.containerDefinitions) ?? []).find(
      (container) => container.name === COORDINATOR_CONTAINER,
    );
    if (!coordinator) {
      reportViolation(
        `${label} has no container named "${COORDINATOR_CONTAINER}", so the Fargate driver cannot inject SSH_PUBLIC_KEY. ` +
          `Fix: name the job container "${COORDINATOR_CONTAINER}".`,
      );
      return;
    }
    const mapsSsh = (coordinator.portMappings ?? []).some(
      (mapping) => mapping.containerPort === 22 && (mapping.protocol ?? "tcp") === "tcp",
    );
    if (!mapsSsh) {
      reportViolation(
        `${label}: container "${COORDINATOR_CONTAINER}" does not map TCP port 22, so the driver cannot SSH in. ` +
          'Fix: add portMappings: [{ containerPort: 22, protocol: "tcp" }].',
      );
    }
  }),
};

/** Advisory: log groups keep logs for a bounded time (job logs may contain sensitive output). */
export const logGroupRetention: ResourceValidationPolicy = {
  name: "cloudwatch-log-group-retention",
  description: "CloudWatch log groups set retentionInDays (logs are not kept forever).",
  enforcementLevel: "advisory",
  validateResource: validateResourceOfType(aws.cloudwatch.LogGroup, (logGroup, args, reportViolation) => {
    if (!logGroup.retentionInDays || logGroup.retentionInDays <= 0) {
      reportViolation(
        `${resourceLabel(args.type, args.name)} keeps logs forever. Fix: set retentionInDays (for example 14).`,
      );
    }
  }),
};

export const ecsPolicies = {
  resource: [ecsTaskDefinitionHardened, ecsCoordinatorContainer, logGroupRetention],
  stack: [],
};
