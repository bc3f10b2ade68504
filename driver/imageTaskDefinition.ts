/**
 * The task definition of a job with its own image or services: a copy of the configured one plus the job's
 * containers (see docs/driver.md, "Jobs choose their image"). Its family name carries a hash of the whole content,
 * so jobs asking for the same containers share one registration. Pure functions.
 */
import { createHash } from "node:crypto";
import type { ContainerDefinition, RegisterTaskDefinitionCommandInput, TaskDefinition } from "@aws-sdk/client-ecs";
import { JobError, SystemFailure } from "./errors";
import { JobContainers, registryHost } from "./jobImages";
import { IMAGE_TASK, imageTaskFamily, MAX_BASE_FAMILY_LENGTH } from "./contract/imageTasks";

export type RegisterTaskDefinitionInput = RegisterTaskDefinitionCommandInput;

/** ECS's limit of containers per task definition. */
export const MAX_CONTAINERS = 10;

/** The fields of a described task definition that RegisterTaskDefinition takes back (the rest ECS sets itself). */
const COPIED_FIELDS = [
  "taskRoleArn",
  "executionRoleArn",
  "networkMode",
  "volumes",
  "requiresCompatibilities",
  "cpu",
  "memory",
  "runtimePlatform",
  "ephemeralStorage",
  "proxyConfiguration",
] as const satisfies readonly (keyof TaskDefinition & keyof RegisterTaskDefinitionInput)[];

/** JSON with object keys sorted at every depth: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export interface ImageTaskOptions {
  /** Fargate.ContainerName: the container sshd runs in. */
  coordinatorName: string;
  /** Fargate.RegistryCredentials: registry host → secret ARN. */
  registryCredentials: Record<string, string>;
}

function credentialsFor(image: string, options: ImageTaskOptions): Pick<ContainerDefinition, "repositoryCredentials"> {
  const secret = options.registryCredentials[registryHost(image)];
  return secret ? { repositoryCredentials: { credentialsParameter: secret } } : {};
}

const toolsMount = (readOnly: boolean) => ({
  sourceVolume: IMAGE_TASK.toolsVolume,
  containerPath: IMAGE_TASK.toolsPath,
  readOnly,
});
const buildsMount = { sourceVolume: IMAGE_TASK.buildsVolume, containerPath: IMAGE_TASK.buildsPath, readOnly: false };

/** The base's ci-coordinator, able to enter `build`: the shared volumes and SYS_PTRACE. */
function coordinatorFor(coordinator: ContainerDefinition): ContainerDefinition {
  const linux = coordinator.linuxParameters ?? {};
  const added = linux.capabilities?.add ?? [];
  return {
    ...coordinator,
    mountPoints: [...(coordinator.mountPoints ?? []), buildsMount, toolsMount(true)],
    linuxParameters: {
      ...linux,
      capabilities: { ...linux.capabilities, add: added.includes("SYS_PTRACE") ? added : [...added, "SYS_PTRACE"] },
    },
  };
}

function toolsContainer(coordinator: ContainerDefinition): ContainerDefinition {
  return withoutUndefined({
    name: IMAGE_TASK.toolsContainer,
    image: coordinator.image,
    essential: false,
    entryPoint: [IMAGE_TASK.installTools],
    command: [IMAGE_TASK.toolsPath],
    mountPoints: [toolsMount(false)],
    logConfiguration: coordinator.logConfiguration,
    repositoryCredentials: coordinator.repositoryCredentials,
  });
}

function buildContainer(image: string, coordinator: ContainerDefinition, options: ImageTaskOptions) {
  return withoutUndefined<ContainerDefinition>({
    name: IMAGE_TASK.buildContainer,
    image,
    essential: true,
    entryPoint: [...IMAGE_TASK.pauseCommand],
    command: [],
    mountPoints: [buildsMount, toolsMount(true)],
    dependsOn: [{ containerName: IMAGE_TASK.toolsContainer, condition: "SUCCESS" }],
    logConfiguration: coordinator.logConfiguration,
    ...credentialsFor(image, options),
  });
}

/** The name of the n-th service's container. */
export function serviceContainerName(index: number): string {
  return `${IMAGE_TASK.servicePrefix}${index}`;
}

/** The family of the configured task definition, and the limit image families put on it. */
function baseFamily(base: TaskDefinition): string {
  const family = base.family ?? "";
  if (family === "" || family.length > MAX_BASE_FAMILY_LENGTH) {
    throw new SystemFailure(
      `task definition family "${family}" is too long for image task definitions (at most ${MAX_BASE_FAMILY_LENGTH})`,
    );
  }
  return family;
}

/**
 * RegisterTaskDefinition's input for a job's containers on top of `base` (the configured task definition, as
 * DescribeTaskDefinition returns it). Service variables are not part of it: they travel in RunTask's overrides, so
 * that the same images share one task definition.
 */
export function imageTaskDefinition(
  base: TaskDefinition,
  containers: Pick<JobContainers, "image" | "services">,
  options: ImageTaskOptions,
): RegisterTaskDefinitionInput {
  const definitions = base.containerDefinitions ?? [];
  const coordinator = definitions.find((c) => c.name === options.coordinatorName);
  if (!coordinator) {
    throw new SystemFailure(
      `task definition ${base.taskDefinitionArn ?? base.family} has no container "${options.coordinatorName}"`,
    );
  }
  const reserved = new Set<string>([IMAGE_TASK.buildContainer, IMAGE_TASK.toolsContainer]);
  const clash = definitions.find(
    (c) => reserved.has(c.name ?? "") || (c.name ?? "").startsWith(IMAGE_TASK.servicePrefix),
  );
  if (clash) {
    throw new SystemFailure(
      `task definition ${base.family} has a container named "${clash.name}", a name jobs with an image or ` +
        `services need for their own containers`,
    );
  }
  const { image } = containers;
  const services = containers.services.map((service, index) =>
    withoutUndefined<ContainerDefinition>({
      name: serviceContainerName(index),
      image: service.image,
      essential: false,
      entryPoint: service.entrypoint,
      command: service.command,
      logConfiguration: coordinator.logConfiguration,
      ...credentialsFor(service.image, options),
    }),
  );
  const own = definitions.map((c) => (c === coordinator && image ? coordinatorFor(c) : c));
  const containerDefinitions = image
    ? [toolsContainer(coordinator), ...own, buildContainer(image, coordinator, options), ...services]
    : [...own, ...services];
  if (containerDefinitions.length > MAX_CONTAINERS) {
    const ours = containerDefinitions.length - services.length;
    throw new JobError(
      `${services.length} services are too many: a Fargate task holds at most ${MAX_CONTAINERS} containers, and ` +
        `this runner's own take ${ours} (${containerDefinitions
          .slice(0, ours)
          .map((c) => c.name)
          .join(", ")})`,
    );
  }
  const volumes = image
    ? [...(base.volumes ?? []), { name: IMAGE_TASK.buildsVolume }, { name: IMAGE_TASK.toolsVolume }]
    : base.volumes;
  const content = withoutUndefined({
    ...Object.fromEntries(COPIED_FIELDS.map((field) => [field, base[field]])),
    containerDefinitions,
    volumes: volumes && volumes.length > 0 ? volumes : undefined,
    pidMode: image ? ("task" as const) : base.pidMode,
  }) as Omit<RegisterTaskDefinitionInput, "family">;
  const hash = createHash("sha256").update(canonicalJson(content)).digest("hex");
  return { family: imageTaskFamily(baseFamily(base), hash), ...content };
}
