/**
 * The job as the custom executor describes it: CI variables arrive prefixed with CUSTOM_ENV_.
 * Pure functions: identity, the ECS `startedBy` value, tags, and the per-job overrides users may set.
 */
import { SystemFailure } from "./errors";
import { TaskSize, validateTaskSize } from "./fargateSizes";
import { Settings } from "./settings";

export interface Job {
  /** CI_JOB_ID (digits). */
  id: string;
  /** CI_RUNNER_SHORT_TOKEN. */
  runnerShortToken: string;
  pipelineId?: string;
  projectPath?: string;
  runnerId?: string;
}

function variable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[`CUSTOM_ENV_${name}`];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = variable(env, name);
  if (value === undefined) {
    throw new SystemFailure(`environment variable CUSTOM_ENV_${name} is not set (is the driver run by gitlab-runner?)`);
  }
  return value;
}

export function jobFromEnv(env: NodeJS.ProcessEnv): Job {
  const id = required(env, "CI_JOB_ID");
  if (!/^\d{1,20}$/.test(id)) throw new SystemFailure(`CUSTOM_ENV_CI_JOB_ID must be a job number, got "${id}"`);
  return {
    id,
    runnerShortToken: required(env, "CI_RUNNER_SHORT_TOKEN"),
    pipelineId: variable(env, "CI_PIPELINE_ID"),
    projectPath: variable(env, "CI_PROJECT_PATH") ?? variable(env, "CI_PROJECT_ID"),
    runnerId: variable(env, "CI_RUNNER_ID"),
  };
}

/** ECS limits startedBy to 36 letters, digits, `-`, `_` and `/`. */
export const STARTED_BY_MAX = 36;
const STARTED_BY_PREFIX = "gl-";

/**
 * `gl-<runner short token>-<job id>`: unique per runner and job, so cleanup can find the job's tasks with
 * ListTasks(startedBy) even when the metadata file is gone. The token is cleaned and shortened to fit 36 chars.
 */
export function startedByFor(job: Pick<Job, "id" | "runnerShortToken">): string {
  const room = STARTED_BY_MAX - STARTED_BY_PREFIX.length - 1 - job.id.length;
  const token = job.runnerShortToken.replace(/[^A-Za-z0-9_]/g, "").slice(0, Math.max(room, 0));
  return `${STARTED_BY_PREFIX}${token || "runner"}-${job.id}`.slice(-STARTED_BY_MAX);
}

/** The metadata file of a job inside TaskMetadata.Directory. */
export function metadataFileName(job: Job): string {
  return `${startedByFor(job)}.json`;
}

const TAG_UNSAFE = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu;

function tagValue(value: string): string {
  return value.replace(TAG_UNSAFE, "_").slice(0, 256);
}

/** Tags on every task: the settings' Fargate.Tags plus the job's project, pipeline, job and runner. */
export function taskTags(job: Job, extra: Record<string, string>): { key: string; value: string }[] {
  const tags: { key: string; value: string }[] = Object.entries(extra).map(([key, value]) => ({ key, value }));
  const add = (key: string, value: string | undefined): void => {
    if (value !== undefined && !tags.some((t) => t.key === key)) tags.push({ key, value: tagValue(value) });
  };
  add("gitlab:project", job.projectPath);
  add("gitlab:pipeline", job.pipelineId);
  add("gitlab:job", job.id);
  add("gitlab:runner", job.runnerId ?? job.runnerShortToken);
  return tags;
}

/** What a job may choose for its own task, from its variables, checked against the settings. */
export interface JobOverrides {
  taskDefinition: string;
  platformVersion?: string;
  size: TaskSize;
}

function familyOf(taskDefinition: string): string {
  const name = taskDefinition.startsWith("arn:")
    ? taskDefinition.slice(taskDefinition.lastIndexOf("/") + 1)
    : taskDefinition;
  return name.split(":")[0];
}

/**
 * A job's FARGATE_TASK_DEFINITION is honoured only when it is the configured one or listed in
 * Fargate.AllowedTaskDefinitions: an entry `family` allows any revision of it, `family:N` (or an ARN) exactly that.
 */
export function isAllowedTaskDefinition(requested: string, settings: Settings["fargate"]): boolean {
  if (requested === settings.taskDefinition) return true;
  return settings.allowedTaskDefinitions.some((allowed) =>
    /[:]/.test(allowed) ? allowed === requested : !requested.startsWith("arn:") && familyOf(requested) === allowed,
  );
}

/**
 * A job's FARGATE_TASK_CPU / FARGATE_TASK_MEMORY: opt-in (only with Fargate.MaxTaskCPU and Fargate.MaxTaskMemory),
 * both together, a valid Fargate combination, and within both limits.
 */
export function jobTaskSize(env: NodeJS.ProcessEnv, settings: Settings["fargate"]): TaskSize {
  const cpuRaw = variable(env, "FARGATE_TASK_CPU");
  const memoryRaw = variable(env, "FARGATE_TASK_MEMORY");
  if (cpuRaw === undefined && memoryRaw === undefined) return {};
  if (settings.maxTaskCpu === undefined || settings.maxTaskMemory === undefined) {
    throw new SystemFailure(
      "FARGATE_TASK_CPU / FARGATE_TASK_MEMORY are not allowed on this runner: per-job task sizes need " +
        "Fargate.MaxTaskCPU and Fargate.MaxTaskMemory in fargate.toml (unset the variables to use the task " +
        "definition's size)",
    );
  }
  if (cpuRaw === undefined || memoryRaw === undefined) {
    throw new SystemFailure(
      `FARGATE_TASK_CPU and FARGATE_TASK_MEMORY must be set together (only ${cpuRaw ? "CPU" : "memory"} is set)`,
    );
  }
  const { cpu, memory } = validateTaskSize(cpuRaw, memoryRaw);
  if (cpu > settings.maxTaskCpu) {
    throw new SystemFailure(
      `FARGATE_TASK_CPU=${cpu} exceeds this runner's Fargate.MaxTaskCPU = ${settings.maxTaskCpu}`,
    );
  }
  if (memory > settings.maxTaskMemory) {
    throw new SystemFailure(
      `FARGATE_TASK_MEMORY=${memory} exceeds this runner's Fargate.MaxTaskMemory = ${settings.maxTaskMemory}`,
    );
  }
  return { cpu: String(cpu), memory: String(memory) };
}

export function jobOverrides(env: NodeJS.ProcessEnv, settings: Settings["fargate"]): JobOverrides {
  const requested = variable(env, "FARGATE_TASK_DEFINITION");
  if (requested !== undefined && !isAllowedTaskDefinition(requested, settings)) {
    const allowed = [settings.taskDefinition, ...settings.allowedTaskDefinitions].join(", ");
    throw new SystemFailure(
      `FARGATE_TASK_DEFINITION "${requested}" is not allowed on this runner (allowed: ${allowed}; ` +
        `add it to Fargate.AllowedTaskDefinitions in fargate.toml)`,
    );
  }
  const platformVersion = variable(env, "FARGATE_PLATFORM_VERSION");
  if (platformVersion !== undefined && !/^(LATEST|\d+\.\d+\.\d+)$/.test(platformVersion)) {
    throw new SystemFailure(`FARGATE_PLATFORM_VERSION must be LATEST or like 1.4.0, got "${platformVersion}"`);
  }
  return {
    taskDefinition: requested ?? settings.taskDefinition,
    platformVersion: platformVersion ?? settings.platformVersion,
    size: jobTaskSize(env, settings),
  };
}
