/**
 * The files pushed to the runner manager, rendered from typed settings: the driver's `fargate.toml`, gitlab-runner's
 * global `config.toml` (no `[[runners]]`: `gitlab-runner register` adds exactly one) and the `[[runners]]` template
 * given to `gitlab-runner register --template-config`.
 *
 * Pure functions: no Pulumi, no I/O. Every key emitted is one gitlab-runner (common/config.go) or the driver reads.
 * @see https://docs.gitlab.com/runner/configuration/advanced-configuration/
 * @see https://docs.gitlab.com/runner/configuration/runner_autoscale_aws_fargate/
 */
import { stringify } from "smol-toml";
import { regionProblem } from "../../driver/contract/awsRules";
import {
  FARGATE_TOML_DEFAULTS,
  FargateToml,
  LogFormat,
  LogLevel,
  renderFargateToml as renderDriverFargateToml,
} from "../../driver/contract/fargateToml";
import { MANAGER_PATHS } from "../../driver/contract/managerPaths";

/** Log levels the driver accepts (`LogLevel` in fargate.toml). */
export type DriverLogLevel = LogLevel;
/** Log formats the driver accepts (`LogFormat` in fargate.toml). */
export type DriverLogFormat = LogFormat;

/** One entry of the RunTask capacity provider strategy. */
export interface CapacityProviderStrategyItem {
  /** `FARGATE`, `FARGATE_SPOT` or another capacity provider attached to the cluster. */
  capacityProvider: string;
  /** Relative share of tasks placed on this provider (0–1000). Default 1. */
  weight?: number;
  /** Tasks placed on this provider before weights apply (0–100000). Default 0. */
  base?: number;
}

/**
 * Settings of the driver's `fargate.toml`.
 * @see https://docs.gitlab.com/runner/configuration/runner_autoscale_aws_fargate/#step-4-install-and-configure-gitlab-runner-on-the-ec2-instance
 */
export interface FargateConfigInput {
  /** ECS cluster name or ARN that job tasks run in. Required. */
  cluster: string;
  /** AWS region of the cluster, e.g. `eu-west-1`. Required. */
  region: string;
  /** Subnet ids (`subnet-…`) for the tasks' awsvpc network interface; the first is also written as `Subnet`. */
  subnets: string[];
  /** Security group ids (`sg-…`) of the tasks; the first is also written as `SecurityGroup`. */
  securityGroups: string[];
  /** Task definition as `family:revision` (or an ARN) that jobs run by default. Required. */
  taskDefinition: string;
  /** Give tasks a public IP (`assignPublicIp`). Needed in public subnets without NAT. Default false. */
  enablePublicIp?: boolean;
  /** Connect to the task's public IP instead of its private IP. Requires `enablePublicIp`. Default false. */
  usePublicIp?: boolean;
  /** Fargate platform version, e.g. `1.4.0`. Default: absent, i.e. `LATEST`. */
  platformVersion?: string;
  /** Name of the container that receives `SSH_PUBLIC_KEY`. Default: absent, the driver's `ci-coordinator`. */
  containerName?: string;
  /** Task definitions a job may select with the `FARGATE_TASK_DEFINITION` variable. Default: none. */
  allowedTaskDefinitions?: string[];
  /**
   * The largest task size a job may ask for with `FARGATE_TASK_CPU` / `FARGATE_TASK_MEMORY` (CPU units, MiB).
   * Default: absent, jobs cannot change the task size.
   */
  maxTaskSize?: { cpu: number; memory: number };
  /** RunTask capacity provider strategy. Default: absent, i.e. the cluster's default strategy. */
  capacityProviderStrategy?: CapacityProviderStrategyItem[];
  /** Extra tags put on every task (cost allocation). Default: none. */
  tags?: Record<string, string>;
  /** Seconds from RunTask until the task is RUNNING. Default: absent, the driver's default (600). */
  taskRunningTimeoutSeconds?: number;
  /** Seconds from RUNNING until the task's sshd accepts the job key. Default: absent, the driver's default (180). */
  sshReadyTimeoutSeconds?: number;
  /**
   * Seconds without an SSH session after which a task stops itself (`TaskIdle`). Default: absent, the driver's
   * default (600).
   */
  taskIdleSeconds?: number;
  /**
   * This manager's identity (`[Manager] ID`, e.g. its EC2 instance id): the driver tags every task with it and
   * `reap` stops the tasks so tagged, so it must differ between managers sharing a cluster. Default: absent (tasks
   * carry no manager identity and `reap` refuses to run).
   */
  managerId?: string;
  /** Driver log level. Default `info`. */
  logLevel?: DriverLogLevel;
  /** Driver log format. Default `text`. */
  logFormat?: DriverLogFormat;
  /**
   * User the driver logs in as inside the task (letters, digits, `_ . -`, at most 32, as the driver checks). The
   * shipped job image authorizes the job key for `root` only. Default `root`.
   */
  sshUsername?: string;
  /** Port of the task's sshd. Default 22. */
  sshPort?: number;
  /**
   * Glob patterns of the images jobs may run in with `image:` (`AllowedImages`; `"*"` allows every image). Default:
   * absent, and so is an empty list: the driver ignores `image:`.
   */
  allowedImages?: string[];
  /** Glob patterns of the images jobs may start as `services:` (`AllowedServices`). Default: absent, as for `[]`. */
  allowedServices?: string[];
  /** Registry host → Secrets Manager secret ARN (`[Fargate.RegistryCredentials]`). Default: none. */
  registryCredentials?: Record<string, string>;
}

/** gitlab-runner log levels (`log_level`). */
export type RunnerLogLevel = "debug" | "info" | "warn" | "error" | "fatal" | "panic";
/** gitlab-runner log formats (`log_format`). */
export type RunnerLogFormat = "runner" | "text" | "json";

/**
 * Global settings of gitlab-runner's `config.toml`.
 * @see https://docs.gitlab.com/runner/configuration/advanced-configuration/#the-global-section
 */
export interface RunnerGlobalConfigInput {
  /** Jobs run at once over all runners of the manager (`concurrent`, ≥ 1). Default 10. */
  concurrent?: number;
  /** Seconds between job polls (`check_interval`; 0 means gitlab-runner's default, 3). Default 3. */
  checkIntervalSeconds?: number;
  /** `log_level`. Default `info`. */
  logLevel?: RunnerLogLevel;
  /** `log_format`. Default `runner`. */
  logFormat?: RunnerLogFormat;
  /** Seconds a forceful shutdown may take before gitlab-runner exits (`shutdown_timeout`). Default 30. */
  shutdownTimeoutSeconds?: number;
}

/**
 * Settings of the S3 distributed cache (`[runners.cache]`). The manager's instance profile signs pre-signed URLs
 * (`AuthenticationType = "iam"`), so tasks need no S3 credentials.
 * @see https://docs.gitlab.com/runner/configuration/advanced-configuration/#the-runnerscaches3-section
 */
export interface RunnerCacheInput {
  /** Bucket name. Required. */
  bucketName: string;
  /** Region of the bucket (`BucketLocation`). Required. */
  region: string;
  /** Key prefix inside the bucket (`Path`). Default: none. */
  path?: string;
  /** Share the cache between runners (`Shared`). Default false. */
  shared?: boolean;
  /** Server-side encryption of uploaded archives: `S3` (SSE-S3) or `KMS`. Default `S3`. */
  serverSideEncryption?: "S3" | "KMS";
  /** KMS key id or alias when `serverSideEncryption` is `KMS`. */
  kmsKeyId?: string;
  /** S3 endpoint (`ServerAddress`). Default `s3.<region>.amazonaws.com` (`.amazonaws.com.cn` in China). */
  serverAddress?: string;
}

/**
 * Settings of the `[[runners]]` template merged by `gitlab-runner register --template-config`.
 * @see https://docs.gitlab.com/runner/configuration/advanced-configuration/#the-runners-section
 * @see https://docs.gitlab.com/runner/executors/custom/
 */
export interface RunnerTemplateInput {
  /** Jobs this runner runs at once (`limit`, 0 = no limit besides `concurrent`). Default: absent. */
  limit?: number;
  /** Concurrent job requests to GitLab (`request_concurrency`). Default: absent (gitlab-runner's 1). */
  requestConcurrency?: number;
  /** Maximum job log size in KiB (`output_limit`). Default: absent (gitlab-runner's 4096). */
  outputLimitKiB?: number;
  /** `KEY=VALUE` variables added to every job (`environment`). Default: none. */
  environment?: string[];
  /** Write `tls-ca-file` pointing at the installed private CA certificate. Default false. */
  privateCa?: boolean;
  /** `config_exec_timeout` in seconds. Default 120. */
  configExecTimeoutSeconds?: number;
  /** `prepare_exec_timeout` in seconds; must cover starting a task and waiting for sshd. Default 1200. */
  prepareExecTimeoutSeconds?: number;
  /** `cleanup_exec_timeout` in seconds. Default 300. */
  cleanupExecTimeoutSeconds?: number;
  /** Seconds a stage gets after SIGTERM to clean up (`graceful_kill_timeout`). Default: absent (600). */
  gracefulKillTimeoutSeconds?: number;
  /** Seconds after the force kill before gitlab-runner abandons the stage (`force_kill_timeout`). Default: absent. */
  forceKillTimeoutSeconds?: number;
  /** The distributed cache. Default: none (no `[runners.cache]`). */
  cache?: RunnerCacheInput;
}

const TASK_DEFINITION = /^(arn:aws[a-z-]*:ecs:[^:]+:\d{12}:task-definition\/)?[A-Za-z0-9_-]{1,255}(:\d+)?$/;
const ENVIRONMENT_ENTRY = /^[A-Za-z_][A-Za-z0-9_]*=/;

function fail(key: string, message: string): never {
  throw new Error(`${key}: ${message}`);
}

function requireNonEmpty(key: string, value: string): void {
  if (typeof value !== "string" || value.trim() === "") fail(key, "must be a non-empty string");
}

function requireInteger(key: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(key, `must be an integer from ${min} to ${max}, got ${value}`);
  }
}

function oneOf<T extends string>(key: string, value: T | undefined, allowed: readonly T[]): void {
  if (value !== undefined && !allowed.includes(value)) {
    fail(key, `must be one of ${allowed.map((v) => `"${v}"`).join(", ")}, got "${value}"`);
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * What the component asks of fargate.toml beyond the driver's rules (those run in {@link renderFargateToml}): a region
 * and at least one security group (the driver would fall back to the SDK's region and the VPC's default group), task
 * definitions in a shape ECS takes, a public IP to connect to, and no blank container name (the driver reads a blank
 * value as absent).
 */
function checkComponentRules(input: FargateConfigInput): void {
  if (typeof input.region !== "string" || input.region.trim() === "") fail("fargate.region", "is required");
  if (!Array.isArray(input.securityGroups) || input.securityGroups.length === 0) {
    fail("fargate.securityGroups", "needs at least one security group id");
  }
  if (!TASK_DEFINITION.test(input.taskDefinition ?? "")) {
    fail(
      "fargate.taskDefinition",
      `must be "family", "family:revision" or a task definition ARN, got "${input.taskDefinition}"`,
    );
  }
  for (const td of input.allowedTaskDefinitions ?? []) {
    if (!TASK_DEFINITION.test(td)) fail("fargate.allowedTaskDefinitions", `"${td}" is not a task definition`);
  }
  if (input.usePublicIp && !input.enablePublicIp) {
    fail("fargate.usePublicIp", "requires fargate.enablePublicIp: a task without a public IP cannot be reached on one");
  }
  if (input.containerName !== undefined) requireNonEmpty("fargate.containerName", input.containerName);
}

/** `input` as fargate.toml's document, in the file's key order; absent settings stay absent (undefined). */
function fargateDocument(input: FargateConfigInput): FargateToml {
  const subnets = unique(input.subnets ?? []);
  const securityGroups = unique(input.securityGroups);
  const strategy = input.capacityProviderStrategy?.map((item) => ({
    CapacityProvider: item.capacityProvider,
    Weight: item.weight ?? 1,
    Base: item.base ?? 0,
  }));
  const tags = input.tags && Object.keys(input.tags).length > 0 ? { ...input.tags } : undefined;
  const credentials = input.registryCredentials;
  const registryCredentials = credentials && Object.keys(credentials).length > 0 ? { ...credentials } : undefined;
  const hasTimeouts =
    input.taskRunningTimeoutSeconds !== undefined ||
    input.sshReadyTimeoutSeconds !== undefined ||
    input.taskIdleSeconds !== undefined;
  return {
    LogLevel: input.logLevel ?? FARGATE_TOML_DEFAULTS.logLevel,
    LogFormat: input.logFormat ?? FARGATE_TOML_DEFAULTS.logFormat,
    Fargate: {
      Cluster: input.cluster,
      Region: input.region,
      Subnet: subnets[0],
      Subnets: subnets,
      SecurityGroup: securityGroups[0],
      SecurityGroups: securityGroups,
      TaskDefinition: input.taskDefinition,
      EnablePublicIP: input.enablePublicIp ?? false,
      UsePublicIP: input.usePublicIp ?? false,
      PlatformVersion: input.platformVersion,
      ContainerName: input.containerName,
      AllowedTaskDefinitions: input.allowedTaskDefinitions?.length ? unique(input.allowedTaskDefinitions) : undefined,
      MaxTaskCPU: input.maxTaskSize?.cpu,
      MaxTaskMemory: input.maxTaskSize?.memory,
      CapacityProviderStrategy: strategy?.length ? strategy : undefined,
      Tags: tags,
      // An empty list is written as no key: the driver reads an absent key as "ignore image: / services:".
      AllowedImages: input.allowedImages?.length ? unique(input.allowedImages) : undefined,
      AllowedServices: input.allowedServices?.length ? unique(input.allowedServices) : undefined,
      RegistryCredentials: registryCredentials,
    },
    TaskMetadata: { Directory: FARGATE_TOML_DEFAULTS.metadataDirectory },
    SSH: {
      Username: input.sshUsername ?? FARGATE_TOML_DEFAULTS.sshUsername,
      Port: input.sshPort ?? FARGATE_TOML_DEFAULTS.sshPort,
    },
    Timeouts: hasTimeouts
      ? {
          TaskRunning: input.taskRunningTimeoutSeconds,
          SSHReady: input.sshReadyTimeoutSeconds,
          TaskIdle: input.taskIdleSeconds,
        }
      : undefined,
    Manager: input.managerId === undefined ? undefined : { ID: input.managerId },
  };
}

/**
 * The driver's `fargate.toml` (Go-driver keys plus ours), checked by the driver's own rules and messages
 * (driver/contract/fargateToml.ts) after the component's. Throws on invalid input, naming the key.
 */
export function renderFargateToml(input: FargateConfigInput): string {
  checkComponentRules(input);
  return renderDriverFargateToml(fargateDocument(input));
}

/**
 * gitlab-runner's global `config.toml`, without any `[[runners]]` (the registration script writes it fresh before
 * every `gitlab-runner register`, so the file always ends with exactly one runner). Throws on invalid input.
 */
export function renderGlobalConfigToml(input: RunnerGlobalConfigInput = {}): string {
  requireInteger("runner.concurrent", input.concurrent, 1, 1000);
  requireInteger("runner.checkIntervalSeconds", input.checkIntervalSeconds, 0, 3600);
  requireInteger("runner.shutdownTimeoutSeconds", input.shutdownTimeoutSeconds, 1, 86400);
  oneOf("runner.logLevel", input.logLevel, ["debug", "info", "warn", "error", "fatal", "panic"]);
  oneOf("runner.logFormat", input.logFormat, ["runner", "text", "json"]);
  return (
    stringify({
      concurrent: input.concurrent ?? 10,
      check_interval: input.checkIntervalSeconds ?? 3,
      log_level: input.logLevel ?? "info",
      log_format: input.logFormat ?? "runner",
      shutdown_timeout: input.shutdownTimeoutSeconds ?? 30,
    }) + "\n"
  );
}

function s3Endpoint(region: string): string {
  return region.startsWith("cn-") ? `s3.${region}.amazonaws.com.cn` : `s3.${region}.amazonaws.com`;
}

function renderCache(cache: RunnerCacheInput): Record<string, unknown> {
  requireNonEmpty("cache.bucketName", cache.bucketName);
  const regionIssue = regionProblem(cache.region ?? "");
  if (regionIssue !== undefined) fail("cache.region", regionIssue);
  oneOf("cache.serverSideEncryption", cache.serverSideEncryption, ["S3", "KMS"]);
  if (cache.kmsKeyId !== undefined && cache.serverSideEncryption !== "KMS") {
    fail("cache.kmsKeyId", 'is only used with cache.serverSideEncryption "KMS"');
  }
  const s3: Record<string, unknown> = {
    ServerAddress: cache.serverAddress ?? s3Endpoint(cache.region),
    BucketName: cache.bucketName,
    BucketLocation: cache.region,
    AuthenticationType: "iam",
    ServerSideEncryption: cache.serverSideEncryption ?? "S3",
  };
  if (cache.kmsKeyId !== undefined) s3.ServerSideEncryptionKeyID = cache.kmsKeyId;
  const section: Record<string, unknown> = { Type: "s3" };
  if (cache.path !== undefined) section.Path = cache.path;
  section.Shared = cache.shared ?? false;
  section.s3 = s3;
  return section;
}

/**
 * The `[[runners]]` template for `gitlab-runner register --template-config`: the custom executor calling our
 * driver for every stage. It holds no url, token or name (those come from the register command). Throws on invalid
 * input.
 */
export function renderRunnerTemplateToml(input: RunnerTemplateInput = {}): string {
  requireInteger("runner.limit", input.limit, 0, 10000);
  requireInteger("runner.requestConcurrency", input.requestConcurrency, 1, 100);
  requireInteger("runner.outputLimitKiB", input.outputLimitKiB, 1, 1048576);
  for (const key of ["configExecTimeoutSeconds", "prepareExecTimeoutSeconds", "cleanupExecTimeoutSeconds"] as const) {
    requireInteger(`runner.${key}`, input[key], 1, 86400);
  }
  requireInteger("runner.gracefulKillTimeoutSeconds", input.gracefulKillTimeoutSeconds, 1, 86400);
  requireInteger("runner.forceKillTimeoutSeconds", input.forceKillTimeoutSeconds, 1, 86400);
  for (const entry of input.environment ?? []) {
    if (!ENVIRONMENT_ENTRY.test(entry)) fail("runner.environment", `"${entry}" is not KEY=VALUE`);
  }

  const stageArgs = (stage: string) => ["--config", MANAGER_PATHS.fargateConfigFile, "custom", stage];
  const custom: Record<string, unknown> = {
    // The answer never changes for a manager: rendered by the driver at registration, read here in a millisecond.
    config_exec: "/bin/cat",
    config_args: [MANAGER_PATHS.configStageAnswer],
    config_exec_timeout: input.configExecTimeoutSeconds ?? 120,
    prepare_exec: MANAGER_PATHS.launcher,
    prepare_args: stageArgs("prepare"),
    prepare_exec_timeout: input.prepareExecTimeoutSeconds ?? 1200,
    run_exec: MANAGER_PATHS.launcher,
    run_args: stageArgs("run"),
    cleanup_exec: MANAGER_PATHS.launcher,
    cleanup_args: stageArgs("cleanup"),
    cleanup_exec_timeout: input.cleanupExecTimeoutSeconds ?? 300,
  };
  if (input.gracefulKillTimeoutSeconds !== undefined) custom.graceful_kill_timeout = input.gracefulKillTimeoutSeconds;
  if (input.forceKillTimeoutSeconds !== undefined) custom.force_kill_timeout = input.forceKillTimeoutSeconds;

  const runner: Record<string, unknown> = {
    executor: "custom",
    builds_dir: MANAGER_PATHS.buildsDirectory,
    cache_dir: MANAGER_PATHS.cacheDirectory,
    shell: "bash",
  };
  if (input.limit !== undefined) runner.limit = input.limit;
  if (input.requestConcurrency !== undefined) runner.request_concurrency = input.requestConcurrency;
  if (input.outputLimitKiB !== undefined) runner.output_limit = input.outputLimitKiB;
  if (input.privateCa) runner["tls-ca-file"] = MANAGER_PATHS.caCertificateFile;
  if (input.environment?.length) runner.environment = [...input.environment];
  runner.custom = custom;
  if (input.cache) runner.cache = renderCache(input.cache);
  return stringify({ runners: [runner] }) + "\n";
}

/** Everything the manager needs, rendered together so the settings agree with each other. */
export interface ManagerConfigurationInput {
  fargate: FargateConfigInput;
  global?: RunnerGlobalConfigInput;
  template?: RunnerTemplateInput;
}

/** The three TOML files of the manager. */
export interface ManagerConfiguration {
  /** `/etc/gitlab-runner/fargate.toml`. */
  fargateToml: string;
  /** `/etc/gitlab-runner/config.toml` before registration (global settings only). */
  globalConfigToml: string;
  /** `/etc/gitlab-runner/runner-template.toml`. */
  runnerTemplateToml: string;
}

/**
 * Renders the three files. The default `prepare_exec_timeout` covers the driver's task-start and sshd waits plus five
 * minutes; an explicit one shorter than those waits is refused (the driver would be killed while still waiting).
 */
export function renderManagerConfiguration(input: ManagerConfigurationInput): ManagerConfiguration {
  const driverWaits =
    (input.fargate.taskRunningTimeoutSeconds ?? FARGATE_TOML_DEFAULTS.taskRunningSeconds) +
    (input.fargate.sshReadyTimeoutSeconds ?? FARGATE_TOML_DEFAULTS.sshReadySeconds);
  const template = input.template ?? {};
  const prepare = template.prepareExecTimeoutSeconds ?? Math.max(1200, driverWaits + 300);
  if (prepare <= driverWaits) {
    fail(
      "runner.prepareExecTimeoutSeconds",
      `${prepare} must exceed fargate.taskRunningTimeoutSeconds + fargate.sshReadyTimeoutSeconds (${driverWaits})`,
    );
  }
  return {
    fargateToml: renderFargateToml(input.fargate),
    globalConfigToml: renderGlobalConfigToml(input.global),
    runnerTemplateToml: renderRunnerTemplateToml({ ...template, prepareExecTimeoutSeconds: prepare }),
  };
}
