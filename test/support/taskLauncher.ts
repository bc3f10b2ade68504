/**
 * The seam between the ECS emulator (which speaks the AWS API, keeps task definitions and task state) and whatever
 * plays the task's containers: an in-memory fake for driver tests, a loopback SSH server (unprivileged), or a
 * network-namespace "task host" running the real images/ci-coordinator/docker-entrypoint.sh, a real sshd and the
 * task's other containers for end-to-end tests.
 *
 * The emulator resolves RunTask's task definition and overrides into a {@link TaskLaunchRequest}; the launcher
 * reports what its containers do through {@link LaunchContext.report}, and the emulator turns that into ECS's
 * per-container and task states (an essential container that stops stops the task).
 */

/**
 * The image name every task host recognises as "the ci-coordinator image" (images/ci-coordinator): the task
 * definitions the local Fargate registers use it for `ci-coordinator`, and the driver copies it to `gitlab-tools`.
 */
export const LOCAL_CI_COORDINATOR_IMAGE = "local.test/gitlab-fargate-runner/ci-coordinator:latest";

/** A container's startup dependency, as in the task definition's `dependsOn`. */
export interface ContainerDependency {
  containerName: string;
  condition: "START" | "COMPLETE" | "SUCCESS" | "HEALTHY";
}

/** One of the task's containers, resolved from its container definition and RunTask's containerOverrides. */
export interface LaunchContainer {
  name: string;
  image: string;
  /** Default true, as in ECS. */
  essential: boolean;
  /** The container definition's `entryPoint`, when set (it replaces the image's ENTRYPOINT, as in Docker). */
  entryPoint?: string[];
  /** `command` of the override, else of the container definition, when set (replaces the image's CMD). */
  command?: string[];
  /** The container definition's environment with the override's variables on top. */
  environment: Record<string, string>;
  dependsOn: ContainerDependency[];
  mountPoints: { sourceVolume: string; containerPath: string; readOnly: boolean }[];
  /** `linuxParameters.capabilities`: names without the CAP_ prefix, as ECS takes them. */
  capabilities: { add: string[]; drop: string[] };
  /** The container definition's `user` ("uid", "uid:gid" or a name), when set; else the image's USER applies. */
  user?: string;
  workingDirectory?: string;
}

export interface TaskLaunchRequest {
  /** Full task ARN the emulator assigned. */
  taskArn: string;
  /** Last path element of the ARN. */
  taskId: string;
  /**
   * Environment of the `ci-coordinator` container (the one the first containerOverride names): task definition
   * environment merged with containerOverrides. Kept for launchers that run that one container only.
   */
  environment: Record<string, string>;
  /**
   * Name of the container `environment` belongs to (the one the driver connects to). The emulator always sets
   * it, like `containers` and `volumes`; a request built by hand without them means one essential
   * `ci-coordinator` container of the ci-coordinator image with `environment` (see {@link containersOf}).
   */
  coordinator?: string;
  /** Every container of the task definition, in its order. */
  containers?: LaunchContainer[];
  /** The task definition's volumes (plain task volumes: a name only). */
  volumes?: { name: string }[];
  /** The task definition's `pidMode` ("task": one PID namespace for all containers). */
  pidMode?: string;
}

/** A container's state change, reported by the launcher. */
export interface ContainerStateChange {
  name: string;
  lastStatus: "RUNNING" | "STOPPED";
  /** On STOPPED: the exit code (137 for a container killed with SIGKILL), or null when it never ran. */
  exitCode?: number | null;
  /** On STOPPED: why, when ECS would say it (dependency not met, pull failure). */
  reason?: string;
}

/** What the emulator gives a launcher besides the request. */
export interface LaunchContext {
  /** Report a container's state change; the emulator stops the task when an essential container stops. */
  report(change: ContainerStateChange): void;
  /** Aborted when the task is stopped (StopTask, emulator closed) before launch() settled. */
  signal: AbortSignal;
  /**
   * Report the task's addresses once its network exists, before its containers run: ECS shows the ENI's address
   * while the task is still PENDING. Optional for a launcher; the addresses launch() returns count in any case.
   */
  attached?(addresses: { privateIp: string; publicIp?: string }): void;
}

export interface LaunchedTask {
  /** The task's private IPv4 address (what the ENI attachment reports). */
  privateIp: string;
  /** Set when the launcher can give the task a "public" address (for the UsePublicIP path). */
  publicIp?: string;
  /**
   * Resolves when the task ends on its own: its (essential) container's main process ended, e.g. because the
   * entrypoint refused to start. `container` names it (default: the container of `environment`).
   */
  exited: Promise<{ exitCode: number | null; reason: string; container?: string }>;
  /** Stops the containers and releases everything they hold (namespaces, processes, files). Idempotent. */
  stop(): Promise<void>;
}

export interface TaskLauncher {
  launch(request: TaskLaunchRequest, context?: LaunchContext): Promise<LaunchedTask>;
}

/**
 * Thrown by launch() when a container's image cannot be had: the emulator stops the task with stopCode
 * TaskFailedToStart and a stoppedReason (and that container's reason) starting `CannotPullContainerError:`.
 */
export class CannotPullContainerError extends Error {
  constructor(
    readonly containerName: string,
    readonly image: string,
    detail = "not found",
  ) {
    super(
      `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${image}: ` +
        `${detail}`,
    );
    this.name = "CannotPullContainerError";
  }
}

/** The containers of a request; for a request without any, its one ci-coordinator container. */
export function containersOf(request: TaskLaunchRequest): LaunchContainer[] {
  if (request.containers && request.containers.length > 0) return request.containers;
  return [
    {
      name: request.coordinator ?? "ci-coordinator",
      image: LOCAL_CI_COORDINATOR_IMAGE,
      essential: true,
      environment: { ...request.environment },
      dependsOn: [],
      mountPoints: [],
      capabilities: { add: [], drop: [] },
    },
  ];
}

/** The name of the container the driver connects to. */
export function coordinatorOf(request: TaskLaunchRequest): string {
  return request.coordinator ?? containersOf(request)[0].name;
}
