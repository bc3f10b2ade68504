/**
 * The seam between the ECS emulator (which speaks the AWS API and keeps task state) and whatever plays the
 * task's container: an in-memory fake for driver tests, or a network-namespace "task host" running the real
 * images/ci-coordinator/docker-entrypoint.sh and a real sshd for end-to-end tests.
 */
export interface TaskLaunchRequest {
  /** Full task ARN the emulator assigned. */
  taskArn: string;
  /** Last path element of the ARN. */
  taskId: string;
  /** Environment of the `ci-coordinator` container: task definition environment merged with containerOverrides. */
  environment: Record<string, string>;
}

export interface LaunchedTask {
  /** The task's private IPv4 address (what the ENI attachment reports). */
  privateIp: string;
  /** Set when the launcher can give the task a "public" address (for the UsePublicIP path). */
  publicIp?: string;
  /** Resolves when the container's main process ends on its own (e.g. the entrypoint refused to start). */
  exited: Promise<{ exitCode: number | null; reason: string }>;
  /** Stops the container and releases everything it holds (namespace, processes). Idempotent. */
  stop(): Promise<void>;
}

export interface TaskLauncher {
  launch(request: TaskLaunchRequest): Promise<LaunchedTask>;
}
