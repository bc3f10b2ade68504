/**
 * The seams between the stages and the outside world. Stages get these injected, so every path is testable;
 * this file holds types only (importing it never loads the AWS SDK).
 */
import type { RegisterTaskDefinitionCommandInput, RunTaskCommandInput, TaskDefinition } from "@aws-sdk/client-ecs";

export type RunTaskInput = RunTaskCommandInput;
export type { TaskDefinition };

export interface RunTaskResult {
  taskArn?: string;
  failures: { arn?: string; reason?: string; detail?: string }[];
}

export interface ContainerView {
  name?: string;
  lastStatus?: string;
  reason?: string;
  exitCode?: number;
}

/** What the driver needs to know about a task. */
export interface TaskView {
  taskArn: string;
  lastStatus?: string;
  desiredStatus?: string;
  stoppedReason?: string;
  stopCode?: string;
  containers: ContainerView[];
  privateIp?: string;
  networkInterfaceId?: string;
}

export interface EcsPort {
  runTask(input: RunTaskInput): Promise<RunTaskResult>;
  /** Undefined when ECS does not know the task (any more). */
  describeTask(cluster: string, taskArn: string, signal?: AbortSignal): Promise<TaskView | undefined>;
  /** Stops a task; a task that is unknown or already stopped counts as stopped. */
  stopTask(cluster: string, taskArn: string, reason: string, signal?: AbortSignal): Promise<void>;
  /** ARNs of the tasks with this startedBy whose desired status is RUNNING. */
  listTasksStartedBy(cluster: string, startedBy: string, signal?: AbortSignal): Promise<string[]>;
  /** The public IPv4 address of an ENI, if it has one. */
  publicIp(networkInterfaceId: string, signal?: AbortSignal): Promise<string | undefined>;
}

/** What `reap` needs: the cluster's running tasks and their tags. */
export interface ReapPort {
  /** ARNs of every task in the cluster whose desired status is RUNNING. */
  listRunningTasks(cluster: string, signal?: AbortSignal): Promise<string[]>;
  /** The tags of each of these tasks (tasks ECS no longer knows are left out). */
  taskTags(cluster: string, taskArns: string[], signal?: AbortSignal): Promise<Map<string, Record<string, string>>>;
}

/** The task definition calls, needed only for jobs with their own image or services. */
export interface TaskDefinitionPort {
  /** `family` (latest ACTIVE revision), `family:revision` or an ARN; undefined when ECS knows no such definition. */
  describeTaskDefinition(reference: string, signal?: AbortSignal): Promise<TaskDefinition | undefined>;
  /** Registers a revision; resolves with its `family:revision`. */
  registerTaskDefinition(input: RegisterTaskDefinitionCommandInput, signal?: AbortSignal): Promise<string>;
}

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** OpenSSH-format private key. */
  privateKey: string;
  /** This job's own directory for its connection: key file, recorded host key, control socket. */
  connectionDirectory: string;
}

export interface SshPort {
  /**
   * Opens the job's connection: authenticates with the job's key, records the server's host key and keeps the
   * connection for the job's later sessions. Resolves with the host key ("<algorithm> <base64>"); rejects with an
   * SshError describing why it failed.
   */
  open(target: SshTarget, signal?: AbortSignal): Promise<string>;
  /**
   * Runs `command` (default `bash`) on the target with `script` fed through the session's stdin, streaming its
   * output (stderr merged into stdout) to `out`, over the job's connection or, when it is gone, a new one. The
   * server must present exactly `hostKey`. Resolves with the script's exit code; transport failures reject.
   */
  runScript(
    target: SshTarget & { hostKey: string },
    script: string,
    out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
    signal?: AbortSignal,
    command?: string,
  ): Promise<number>;
  /** Ends the job's connection and deletes its files. Never rejects. */
  close(target: Pick<SshTarget, "host" | "port" | "username" | "connectionDirectory">): Promise<void>;
}

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects with Cancelled when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A line writer (the job log is the stage's stdout). */
export type Print = (line: string) => void;
