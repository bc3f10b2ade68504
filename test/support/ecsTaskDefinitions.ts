/**
 * Task definitions as the ECS emulator keeps them: RegisterTaskDefinition's validation (the rules ECS applies to
 * Fargate task definitions that the driver's registrations could break), the task definition ECS answers with
 * (its defaults filled in), revisions per family, resolution of a RunTask/DescribeTaskDefinition reference, and
 * the containers a task of it runs once RunTask's containerOverrides are applied. Pure: no HTTP, no timers.
 */
import type { ContainerDefinition, RegisterTaskDefinitionCommandInput, TaskDefinition } from "@aws-sdk/client-ecs";
import { LOCAL_CI_COORDINATOR_IMAGE, LaunchContainer } from "./taskLauncher";

/** RegisterTaskDefinition's input, as the SDK types it (the wire format has the same member names). */
export type RegisterTaskDefinitionInput = RegisterTaskDefinitionCommandInput;

/** A task definition as DescribeTaskDefinition answers it (timestamps in epoch seconds, as on the wire). */
export type RegisteredTaskDefinition = Omit<TaskDefinition, "registeredAt" | "deregisteredAt"> & {
  taskDefinitionArn: string;
  family: string;
  revision: number;
  containerDefinitions: ContainerDefinition[];
  registeredAt: number;
};

/** An error ECS answers with HTTP 400 (ClientException, InvalidParameterException, …). */
export class EcsApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const clientError = (message: string) => new EcsApiError("ClientException", message);

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,255}$/;
const CONDITIONS = new Set(["START", "COMPLETE", "SUCCESS", "HEALTHY"]);
const NETWORK_MODES = new Set(["bridge", "host", "awsvpc", "none"]);

/** Checks what ECS checks at registration (the subset that matters here); throws ClientException. */
export function validateTaskDefinition(input: RegisterTaskDefinitionInput): void {
  const family = input.family;
  if (typeof family !== "string" || !NAME_PATTERN.test(family)) {
    throw clientError(
      `Family "${family ?? ""}" is invalid: up to 255 letters (uppercase and lowercase), numbers, hyphens and ` +
        "underscores are allowed.",
    );
  }
  const containers = input.containerDefinitions;
  if (!Array.isArray(containers) || containers.length === 0) throw clientError("Container list cannot be empty.");
  const names = new Set<string>();
  for (const container of containers) {
    const name = container.name;
    if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
      throw clientError(
        `Container name "${name ?? ""}" is invalid: up to 255 letters (uppercase and lowercase), numbers, ` +
          "hyphens and underscores are allowed.",
      );
    }
    if (names.has(name)) throw clientError(`Container names must be unique within a task definition: "${name}".`);
    names.add(name);
    if (typeof container.image !== "string" || container.image === "") {
      throw clientError(`Container.image should not be null or empty (container "${name}").`);
    }
  }
  if (!containers.some((container) => container.essential !== false)) {
    throw clientError("Task definition does not have any essential container.");
  }
  validateDependencies(containers);
  validateVolumes(input);
  if (input.networkMode !== undefined && !NETWORK_MODES.has(input.networkMode)) {
    throw clientError(`Invalid networkMode "${input.networkMode}".`);
  }
  if (input.pidMode !== undefined && input.pidMode !== "task" && input.pidMode !== "host") {
    throw clientError(`Invalid pidMode "${input.pidMode}": expected "host" or "task".`);
  }
  if (input.requiresCompatibilities?.includes("FARGATE")) validateFargate(input);
}

function validateDependencies(containers: ContainerDefinition[]): void {
  const byName = new Map(containers.map((container) => [container.name ?? "", container]));
  for (const container of containers) {
    for (const dependency of container.dependsOn ?? []) {
      const target = byName.get(dependency.containerName ?? "");
      if (!target) {
        throw clientError(
          `Container "${container.name}" depends on container "${dependency.containerName}", which is not in the ` +
            "task definition.",
        );
      }
      if (!CONDITIONS.has(dependency.condition ?? "")) {
        throw clientError(
          `Invalid dependency condition "${dependency.condition}" of container "${container.name}": expected ` +
            "START, COMPLETE, SUCCESS or HEALTHY.",
        );
      }
      if ((dependency.condition === "COMPLETE" || dependency.condition === "SUCCESS") && target.essential !== false) {
        throw clientError(
          `Container "${container.name}" depends on essential container "${target.name}" with condition ` +
            `${dependency.condition}: that condition cannot be set on an essential container.`,
        );
      }
      if (dependency.condition === "HEALTHY" && !target.healthCheck) {
        throw clientError(
          `Container "${container.name}" depends on container "${target.name}" with condition HEALTHY, but ` +
            `"${target.name}" has no health check.`,
        );
      }
    }
  }
  // A dependency cycle would leave every container in it waiting forever.
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      throw clientError(`Container dependencies form a cycle: ${[...path, name].join(" -> ")}.`);
    }
    state.set(name, "visiting");
    for (const dependency of byName.get(name)?.dependsOn ?? []) visit(dependency.containerName ?? "", [...path, name]);
    state.set(name, "done");
  };
  for (const name of byName.keys()) visit(name, []);
}

function validateVolumes(input: RegisterTaskDefinitionInput): void {
  const volumes = new Set<string>();
  for (const volume of input.volumes ?? []) {
    if (typeof volume.name !== "string" || !NAME_PATTERN.test(volume.name)) {
      throw clientError(`Volume name "${volume.name ?? ""}" is invalid.`);
    }
    if (volumes.has(volume.name)) throw clientError(`Volume names must be unique: "${volume.name}".`);
    volumes.add(volume.name);
  }
  for (const container of input.containerDefinitions ?? []) {
    for (const mount of container.mountPoints ?? []) {
      if (!volumes.has(mount.sourceVolume ?? "")) {
        throw clientError(
          `Container "${container.name}" mounts unknown volume "${mount.sourceVolume}": sourceVolume must name a ` +
            "volume of the task definition.",
        );
      }
      if (typeof mount.containerPath !== "string" || !mount.containerPath.startsWith("/")) {
        throw clientError(`Container "${container.name}": containerPath must be an absolute path.`);
      }
    }
  }
}

/** Fargate's own rules (requiresCompatibilities FARGATE). */
function validateFargate(input: RegisterTaskDefinitionInput): void {
  if (input.networkMode !== "awsvpc") throw clientError("Fargate only supports network mode 'awsvpc'.");
  if (input.pidMode !== undefined && input.pidMode !== "task") {
    throw clientError(`Fargate only supports pidMode 'task' (got '${input.pidMode}').`);
  }
  if (!input.cpu) throw clientError("Fargate requires that 'cpu' be defined at the task level.");
  if (!input.memory) throw clientError("Fargate requires that 'memory' be defined at the task level.");
  for (const container of input.containerDefinitions ?? []) {
    if (container.logConfiguration?.logDriver === "awslogs" && !input.executionRoleArn) {
      throw clientError("Fargate requires task definition to have execution role ARN to support log driver awslogs.");
    }
    if (container.repositoryCredentials && !input.executionRoleArn) {
      throw clientError(
        "Fargate requires task definition to have execution role ARN to support private registry authentication.",
      );
    }
    const added = container.linuxParameters?.capabilities?.add ?? [];
    const unsupported = added.filter((capability) => capability !== "SYS_PTRACE");
    if (unsupported.length > 0) {
      throw clientError(
        `Container "${container.name}": tasks launched on Fargate only support adding the SYS_PTRACE kernel ` +
          `capability (got ${unsupported.join(", ")}).`,
      );
    }
    if (container.privileged) throw clientError("Fargate does not support privileged containers.");
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A container definition as ECS describes it: its defaults filled in. */
function describedContainer(container: ContainerDefinition, networkMode: string | undefined): ContainerDefinition {
  return withoutUndefined({
    ...container,
    cpu: container.cpu ?? 0,
    essential: container.essential ?? true,
    portMappings: (container.portMappings ?? []).map((mapping) =>
      withoutUndefined({
        ...mapping,
        hostPort: mapping.hostPort ?? (networkMode === "awsvpc" ? mapping.containerPort : undefined),
        protocol: mapping.protocol ?? "tcp",
      }),
    ),
    environment: container.environment ?? [],
    mountPoints: (container.mountPoints ?? []).map((mount) => ({ ...mount })),
    volumesFrom: container.volumesFrom ?? [],
    systemControls: container.systemControls ?? [],
  });
}

/** The attributes ECS requires of the capacity running tasks of this definition (informative). */
function requiredAttributes(input: RegisterTaskDefinitionInput): { name: string }[] {
  const names = ["com.amazonaws.ecs.capability.docker-remote-api.1.18"];
  const containers = input.containerDefinitions ?? [];
  if (input.networkMode === "awsvpc") names.push("ecs.capability.task-eni");
  if (containers.some((c) => c.logConfiguration?.logDriver === "awslogs")) {
    names.push("com.amazonaws.ecs.capability.logging-driver.awslogs", "ecs.capability.execution-role-awslogs");
  }
  if (containers.some((c) => (c.dependsOn ?? []).length > 0)) names.push("ecs.capability.container-ordering");
  if (containers.some((c) => c.repositoryCredentials))
    names.push("ecs.capability.private-registry-authentication.secretsmanager");
  if (input.taskRoleArn) names.push("com.amazonaws.ecs.capability.task-iam-role");
  return names.map((name) => ({ name }));
}

/** Registered task definitions by family and revision, with ECS's revision numbering. */
export class TaskDefinitionStore {
  private readonly families = new Map<string, Map<number, RegisteredTaskDefinition>>();
  private readonly tagsByArn = new Map<string, { key: string; value: string }[]>();

  constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {}

  /**
   * Validates and stores a new revision (the family's highest + 1, or `revision` for seeds: the revisions below
   * it then never existed, as if deregistered and deleted). Returns what RegisterTaskDefinition answers.
   */
  register(
    input: RegisterTaskDefinitionInput,
    revision?: number,
  ): { taskDefinition: RegisteredTaskDefinition; tags: { key: string; value: string }[] } {
    validateTaskDefinition(input);
    const family = input.family as string;
    const revisions = this.families.get(family) ?? new Map<number, RegisteredTaskDefinition>();
    const next = revision ?? Math.max(0, ...revisions.keys()) + 1;
    if (revisions.has(next)) throw clientError(`Revision ${next} of family ${family} already exists.`);
    const taskDefinitionArn = `arn:aws:ecs:${this.region}:${this.accountId}:task-definition/${family}:${next}`;
    const fargate = input.requiresCompatibilities?.includes("FARGATE") || input.networkMode === "awsvpc";
    const { tags, containerDefinitions, volumes, ...rest } = input;
    const taskDefinition: RegisteredTaskDefinition = withoutUndefined({
      ...rest,
      taskDefinitionArn,
      family,
      revision: next,
      containerDefinitions: (containerDefinitions ?? []).map((c) => describedContainer(c, input.networkMode)),
      volumes: (volumes ?? []).map((volume) =>
        volume.efsVolumeConfiguration ||
        volume.dockerVolumeConfiguration ||
        volume.fsxWindowsFileServerVolumeConfiguration
          ? { ...volume }
          : { ...volume, host: volume.host ?? {} },
      ),
      status: "ACTIVE",
      compatibilities: fargate ? ["EC2", "FARGATE"] : ["EC2"],
      requiresAttributes: requiredAttributes(input),
      placementConstraints: input.placementConstraints ?? [],
      registeredAt: Date.now() / 1000,
      registeredBy: `arn:aws:iam::${this.accountId}:root`,
    }) as RegisteredTaskDefinition;
    revisions.set(next, taskDefinition);
    this.families.set(family, revisions);
    const ownTags = (tags ?? []).map((tag) => ({ key: tag.key ?? "", value: tag.value ?? "" }));
    this.tagsByArn.set(taskDefinitionArn, ownTags);
    return { taskDefinition: structuredClone(taskDefinition), tags: ownTags.map((tag) => ({ ...tag })) };
  }

  /**
   * The task definition a reference names: `family` (its latest ACTIVE revision), `family:revision` or the full
   * ARN. Undefined when there is none (callers answer with their own ECS error).
   */
  find(reference: string): RegisteredTaskDefinition | undefined {
    let ref = reference;
    if (ref.startsWith("arn:")) {
      const match = /^arn:aws[a-z-]*:ecs:([^:]+):(\d+):task-definition\/(.+)$/.exec(ref);
      if (!match || match[1] !== this.region || match[2] !== this.accountId) return undefined;
      ref = match[3];
    }
    const [family, revisionText, ...extra] = ref.split(":");
    if (extra.length > 0) return undefined;
    const revisions = this.families.get(family);
    if (!revisions) return undefined;
    if (revisionText === undefined) {
      const active = [...revisions.values()].filter((td) => td.status === "ACTIVE");
      return active.sort((a, b) => b.revision - a.revision)[0];
    }
    if (!/^\d+$/.test(revisionText)) return undefined;
    return revisions.get(Number(revisionText));
  }

  tags(taskDefinitionArn: string): { key: string; value: string }[] {
    return (this.tagsByArn.get(taskDefinitionArn) ?? []).map((tag) => ({ ...tag }));
  }

  /** Every registered task definition, oldest first. */
  all(): RegisteredTaskDefinition[] {
    return [...this.families.values()]
      .flatMap((revisions) => [...revisions.values()])
      .sort((a, b) => a.registeredAt - b.registeredAt)
      .map((td) => structuredClone(td));
  }
}

/** RunTask's `overrides.containerOverrides` entries (the members the emulator applies). */
export interface ContainerOverride {
  name?: string;
  command?: string[];
  environment?: { name?: string; value?: string }[];
}

function environmentOf(entries: { name?: string; value?: string }[] | undefined): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const entry of entries ?? []) if (entry.name) environment[entry.name] = entry.value ?? "";
  return environment;
}

/**
 * The containers a task of `taskDefinition` runs: each container definition with the override of the same name
 * applied (environment merged per variable, command replaced). An override naming no container of the task
 * definition is refused as ECS refuses it.
 */
export function launchContainers(
  taskDefinition: RegisteredTaskDefinition,
  overrides: ContainerOverride[],
): LaunchContainer[] {
  const names = new Set(taskDefinition.containerDefinitions.map((c) => c.name));
  for (const override of overrides) {
    if (!names.has(override.name)) {
      throw new EcsApiError(
        "InvalidParameterException",
        `Override for container named ${override.name ?? "(none)"} is not a container in the TaskDefinition.`,
      );
    }
  }
  return taskDefinition.containerDefinitions.map((definition) => {
    const override = overrides.find((o) => o.name === definition.name);
    const capabilities = definition.linuxParameters?.capabilities;
    return withoutUndefined<LaunchContainer>({
      name: definition.name ?? "",
      image: definition.image ?? "",
      essential: definition.essential ?? true,
      entryPoint: definition.entryPoint,
      command: override?.command ?? definition.command,
      environment: { ...environmentOf(definition.environment), ...environmentOf(override?.environment) },
      dependsOn: (definition.dependsOn ?? []).map((d) => ({
        containerName: d.containerName ?? "",
        condition: (d.condition ?? "START") as LaunchContainer["dependsOn"][number]["condition"],
      })),
      mountPoints: (definition.mountPoints ?? []).map((m) => ({
        sourceVolume: m.sourceVolume ?? "",
        containerPath: m.containerPath ?? "",
        readOnly: m.readOnly ?? false,
      })),
      capabilities: { add: [...(capabilities?.add ?? [])], drop: [...(capabilities?.drop ?? [])] },
      user: definition.user,
      workingDirectory: definition.workingDirectory,
    });
  });
}

/** Options of {@link ciCoordinatorTaskDefinition}. */
export interface CiCoordinatorTaskDefinitionOptions {
  /** Default "ci-coordinator". */
  family?: string;
  /** Seed revision (see TaskDefinitionStore.register); default: the next one. */
  revision?: number;
  /** Default {@link LOCAL_CI_COORDINATOR_IMAGE}. */
  image?: string;
  /** Default "eu-west-1". */
  region?: string;
  /** Default "123456789012". */
  accountId?: string;
}

/**
 * A task definition like the one the component registers (components/aws/taskDefinition.ts): FARGATE, awsvpc,
 * task and execution roles, awslogs, cpu/memory, runtimePlatform, and one essential `ci-coordinator` container
 * listening on 22 whose image the task hosts run as the ci-coordinator image. For the emulator's `taskDefinitions`.
 */
export function ciCoordinatorTaskDefinition(
  options: CiCoordinatorTaskDefinitionOptions = {},
): RegisterTaskDefinitionInput & { revision?: number } {
  const family = options.family ?? "ci-coordinator";
  const region = options.region ?? "eu-west-1";
  const account = options.accountId ?? "123456789012";
  return withoutUndefined({
    family,
    revision: options.revision,
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    cpu: "1024",
    memory: "2048",
    runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
    executionRoleArn: `arn:aws:iam::${account}:role/${family}-execution`,
    taskRoleArn: `arn:aws:iam::${account}:role/${family}-task`,
    containerDefinitions: [
      {
        name: "ci-coordinator",
        image: options.image ?? LOCAL_CI_COORDINATOR_IMAGE,
        essential: true,
        portMappings: [{ containerPort: 22, hostPort: 22, protocol: "tcp" }],
        logConfiguration: {
          logDriver: "awslogs",
          options: {
            "awslogs-group": `/gitlab-runner/${family}/jobs`,
            "awslogs-region": region,
            "awslogs-stream-prefix": "job",
          },
        },
      },
    ],
  });
}
