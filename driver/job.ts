/**
 * The job as gitlab-runner describes it to the driver. Its identity comes from the job payload gitlab-runner writes
 * to JOB_RESPONSE_FILE: a job cannot change that file, while it can set any CUSTOM_ENV_* value, predefined names
 * such as CI_JOB_ID included (its own variables come last and win). Only the choices a job is allowed to make (task
 * definition, platform version, task size) are read from CUSTOM_ENV_*, and they are checked against the settings.
 * Pure functions, apart from reading the payload file.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { SystemFailure } from "./errors";
import { TaskSize, validateTaskSize } from "./fargateSizes";
import { platformVersionProblem, toTagValue } from "./contract/awsRules";
import { Settings } from "./contract/fargateToml";

export interface Job {
  /** The payload's `id` (digits). */
  id: string;
  /**
   * A digest of the job's id and its job token: the same for every stage of this job, different for any other job
   * (also a later retry of it). Stored in the metadata file, checked by every stage before it uses the file.
   */
  binding: string;
  /** `job_info.pipeline_id`, when GitLab sent it. */
  pipelineId?: string;
  /** `job_info.project_full_path`, or `job_info.project_id` from older GitLab versions. */
  project?: string;
  /** `runner_info.timeout`: the job's timeout in seconds, when GitLab sent one. */
  timeoutSeconds?: number;
}

/** Environment variable gitlab-runner sets for every stage: the path of the job payload (JSON). */
export const JOB_RESPONSE_FILE = "JOB_RESPONSE_FILE";

function payloadField(payload: Record<string, unknown>, path: string[]): unknown {
  let value: unknown = payload;
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
  return value;
}

/** A positive integer given as a JSON number or a string of digits, as a string; undefined otherwise. */
function idText(value: unknown): string | undefined {
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  return typeof text === "string" && /^[1-9]\d{0,19}$/.test(text) ? text : undefined;
}

/** The job from the payload's text. `source` names the file in errors. */
export function jobFromPayload(text: string, source: string): Job {
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new SystemFailure(`job payload ${source} is not JSON`, { cause: err });
  }
  const id = idText(payloadField(payload, ["id"]));
  if (id === undefined) throw new SystemFailure(`job payload ${source} has no job id`);
  const token = payloadField(payload, ["token"]);
  const binding = createHash("sha256")
    .update(`${id}\0${typeof token === "string" ? token : ""}`)
    .digest("hex");
  const path = payloadField(payload, ["job_info", "project_full_path"]);
  const timeout = payloadField(payload, ["runner_info", "timeout"]);
  return {
    id,
    binding,
    pipelineId: idText(payloadField(payload, ["job_info", "pipeline_id"])),
    project: typeof path === "string" && path !== "" ? path : idText(payloadField(payload, ["job_info", "project_id"])),
    timeoutSeconds: Number.isSafeInteger(timeout) && (timeout as number) > 0 ? (timeout as number) : undefined,
  };
}

/** The job of this stage, from the file JOB_RESPONSE_FILE names. */
export function readJob(env: NodeJS.ProcessEnv): Job {
  const file = env[JOB_RESPONSE_FILE];
  if (!file) {
    throw new SystemFailure(`${JOB_RESPONSE_FILE} is not set (is the driver run by gitlab-runner's custom executor?)`);
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new SystemFailure(`cannot read the job payload ${file}`, { cause: err });
  }
  return jobFromPayload(text, file);
}

/** ECS limits startedBy to 36 letters, digits, `-`, `_` and `/`. */
export const STARTED_BY_MAX = 36;

/**
 * `gitlab-job-<job id>`, and `-<4 hex digits of the manager's ID>` when fargate.toml names the manager (at most
 * 36 characters): job ids are unique in a GitLab instance, so cleanup can find the job's tasks with
 * ListTasks(startedBy) even when the metadata file is gone, and the suffix tells managers sharing a cluster apart.
 */
export function startedByFor(job: Pick<Job, "id">, managerId?: string): string {
  const suffix = managerId === undefined ? "" : `-${createHash("sha256").update(managerId).digest("hex").slice(0, 4)}`;
  return `gitlab-job-${job.id}${suffix}`;
}

/**
 * Every startedBy a task of this job may carry: this driver's, and the one of the previous release (no manager
 * suffix), so a job that was running while the driver was upgraded still finds its task.
 */
export function startedByCandidates(job: Pick<Job, "id">, managerId?: string): string[] {
  return [...new Set([startedByFor(job, managerId), startedByFor(job)])];
}

/** What the names of a job's files in the metadata directory start with. */
const JOB_FILE_PREFIX = "gitlab-job-";

/** The metadata file of a job inside TaskMetadata.Directory. */
export function metadataFileName(job: Pick<Job, "id">): string {
  return `${JOB_FILE_PREFIX}${job.id}.json`;
}

/** The directory of a job's SSH connection (driver/ssh.ts), next to its metadata file. */
export function connectionDirectoryName(job: Pick<Job, "id">): string {
  return `${JOB_FILE_PREFIX}${job.id}.ssh`;
}

/** Whether a name in the metadata directory is a job's SSH connection directory. */
export function isConnectionDirectoryName(name: string): boolean {
  return name.startsWith(JOB_FILE_PREFIX) && name.endsWith(".ssh");
}

/** The tag naming the manager that started a task: what `reap` looks for. */
export const MANAGER_TAG = "gitlab:manager";

/** Tags on every task: the settings' Fargate.Tags plus the job's project, pipeline and id, and the manager's ID. */
export function taskTags(
  job: Job,
  extra: Record<string, string>,
  managerId?: string,
): { key: string; value: string }[] {
  const tags: { key: string; value: string }[] = Object.entries(extra).map(([key, value]) => ({ key, value }));
  const add = (key: string, value: string | undefined): void => {
    if (value !== undefined && !tags.some((t) => t.key === key)) tags.push({ key, value: toTagValue(value) });
  };
  add("gitlab:project", job.project);
  add("gitlab:pipeline", job.pipelineId);
  add("gitlab:job", job.id);
  // reap finds this manager's tasks by this tag: no configured tag may take its place.
  if (managerId !== undefined)
    return [...tags.filter((t) => t.key !== MANAGER_TAG), { key: MANAGER_TAG, value: managerId }];
  return tags;
}

/** What a job may choose for its own task, from its variables, checked against the settings. */
export interface JobOverrides {
  taskDefinition: string;
  platformVersion?: string;
  size: TaskSize;
}

function variable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[`CUSTOM_ENV_${name}`];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
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
  const versionProblem = platformVersion === undefined ? undefined : platformVersionProblem(platformVersion);
  if (versionProblem !== undefined) throw new SystemFailure(`FARGATE_PLATFORM_VERSION ${versionProblem}`);
  return {
    taskDefinition: requested ?? settings.taskDefinition,
    platformVersion: platformVersion ?? settings.platformVersion,
    size: jobTaskSize(env, settings),
  };
}
