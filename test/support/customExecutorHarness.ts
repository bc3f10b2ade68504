/**
 * Plays gitlab-runner's side of the custom executor protocol against the built driver
 * (https://docs.gitlab.com/runner/executors/custom/): config → prepare → run for every sub-stage → cleanup, one
 * process per stage, with the CUSTOM_ENV_* job variables, BUILD_FAILURE_EXIT_CODE / SYSTEM_FAILURE_EXIT_CODE,
 * BUILD_EXIT_CODE_FILE, JOB_RESPONSE_FILE, a per-job TMPDIR and the config stage's job_env; cancellation sends
 * SIGTERM to the stage's process group, then SIGKILL after a grace period, and cleanup still runs.
 * A job's `image:` and `services:` reach the driver as gitlab-runner passes them (executors/custom/custom.go):
 * CUSTOM_ENV_CI_JOB_IMAGE (only when the job names an image), CUSTOM_ENV_CI_JOB_SERVICES (a JSON array, empty
 * when there are none) and `image`/`services` in JOB_RESPONSE_FILE.
 * It collects the job log (stdout+stderr of prepare and run) with runner-style section headers. The stage scripts
 * run under bash and under busybox sh alike (an image may have no bash).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { killProcessesNaming } from "./managerProcesses";

export const BUILD_FAILURE_EXIT_CODE = 1;
export const SYSTEM_FAILURE_EXIT_CODE = 2;

/** The built driver bundle. */
export const DRIVER_BUNDLE = resolve(__dirname, "../../dist/driver/fargate.js");

/**
 * Run sub-stages in the order gitlab-runner calls them, named as its custom executor names them to the driver: the
 * `script:` step arrives as `build_script` (executors/custom/custom.go renames step_script).
 */
export const RUN_STAGES = [
  "prepare_script",
  "get_sources",
  "restore_cache",
  "download_artifacts",
  "build_script",
  "after_script",
  "archive_cache",
  "upload_artifacts_on_success",
  "cleanup_file_variables",
] as const;

const STAGE_TITLES: Record<string, string> = {
  prepare_script: "Preparing environment",
  get_sources: "Getting source from Git repository",
  restore_cache: "Restoring cache",
  download_artifacts: "Downloading artifacts",
  build_script: 'Executing "step_script" stage of the job script',
  after_script: "Running after_script",
  archive_cache: "Saving cache for successful job",
  archive_cache_on_failure: "Saving cache for failed job",
  upload_artifacts_on_success: "Uploading artifacts for successful job",
  upload_artifacts_on_failure: "Uploading artifacts for failed job",
  cleanup_file_variables: "Cleaning up project directory and file based variables",
};

/** A job as .gitlab-ci.yml would describe it. */
export interface JobSpec {
  jobId: number;
  pipelineId?: number;
  /** namespace/project */
  projectPath?: string;
  jobName?: string;
  /** Commands of `script:`. */
  script: string[];
  /** Commands of `after_script:`. */
  afterScript?: string[];
  /** Extra CI/CD variables (arrive as CUSTOM_ENV_<name>). */
  variables?: Record<string, string>;
  /** `image:` (its name). */
  image?: string;
  /** `services:`, in order. */
  services?: JobService[];
  /**
   * Commands appended to other sub-stages' scripts, e.g. `{ upload_artifacts_on_success: ["ls out/"] }` to look at
   * what the job left from where gitlab-runner's artifact upload runs. They run in the project directory.
   */
  stageCommands?: Partial<Record<string, string[]>>;
}

/** One entry of `services:` in .gitlab-ci.yml. */
export interface JobService {
  name: string;
  alias?: string;
  entrypoint?: string[];
  command?: string[];
  /** The service's own `variables:` (they may refer to the job's, as `$NAME`). */
  variables?: Record<string, string>;
}

export interface HarnessOptions {
  /** fargate.toml passed as `--config`. */
  configFile: string;
  /** Extra environment of every stage process (e.g. AWS_ENDPOINT_URL_ECS, dummy credentials). */
  env?: Record<string, string>;
  /** CI_RUNNER_SHORT_TOKEN; default "h4rn3ss1". */
  runnerShortToken?: string;
  /** Builds directory when the config stage does not return one; default /tmp/builds (private to each task host). */
  defaultBuildsDir?: string;
  /** Driver bundle; default dist/driver/fargate.js. */
  driver?: string;
  /** The Node.js binary that runs the driver; default the one running the harness. */
  node?: string;
  /** Command prefix for each stage process (e.g. ["/usr/bin/time", "-f", "%M", "-o", FILE]); default none. */
  wrap?: (stage: string) => string[];
  /**
   * Cancel the job: SIGTERM to the running stage `afterMs` after it started, or later once `when` holds (polled),
   * then SIGKILL after `graceKillMs`.
   */
  cancel?: { atStage: "prepare" | string; afterMs: number; when?: () => boolean };
  /**
   * The manager dies (its machine is lost): with `atStage`, SIGKILL to that stage's process group `afterMs` after it
   * started, or later once `when` holds (polled); with `afterStage`, once that stage ended. Nothing runs for the job
   * after that, not even cleanup; the job's status is "lost".
   */
  managerDies?: { atStage: string; afterMs: number; when?: () => boolean } | { afterStage: string };
  /** The manager's state directory (TaskMetadata.Directory): the driver's processes naming it die with the manager. */
  managerStateDirectory?: string;
  /** Grace period between SIGTERM and SIGKILL on cancel; default 10 s (runner default is 10 min). */
  graceKillMs?: number;
  /** Attempts of the prepare stage on SYSTEM_FAILURE (gitlab-runner: 3, 3 s apart); default 1. */
  prepareAttempts?: number;
  /** Keep the per-job TMPDIR (for inspection); default false. */
  keepTmpDir?: boolean;
  /** Called after a successful prepare, before the run stages (e.g. to lose the metadata file). */
  afterPrepare?: (env: NodeJS.ProcessEnv) => Promise<void> | void;
  /** Run the run sub-stages after prepare; default true (false: prepare then straight to cleanup). */
  runStages?: boolean;
  /**
   * Called once the job is decided and before the cleanup stage runs (whenever cleanup is due), with the stages run
   * so far: to observe what prepare or run left behind before cleanup tidies up. Record state here; assertions
   * belong after runJob returns (an exception here is reported only after cleanup ran).
   */
  beforeCleanup?: (stages: readonly StageRun[]) => Promise<void> | void;
}

export interface StageRun {
  /** "config", "prepare", "cleanup" or "run:<sub-stage>". */
  stage: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in arrival order. */
  output: string;
  startedAt: number;
  endedAt: number;
  /** Whether this stage was cancelled with SIGTERM. */
  cancelled: boolean;
}

export type JobStatus = "success" | "build_failure" | "system_failure" | "unknown_failure" | "cancelled" | "lost";

export interface JobResult {
  status: JobStatus;
  /** Exit code of the stage that decided the status (0 on success). */
  exitCode: number;
  /** Content of BUILD_EXIT_CODE_FILE after a build failure, if the driver wrote it. */
  buildExitCode?: number;
  /** What a GitLab user sees in the job log. */
  log: string;
  stages: StageRun[];
  /** Parsed config stage output. */
  config?: Record<string, unknown>;
  /** The per-job TMPDIR (deleted unless keepTmpDir). */
  tmpDir: string;
  /** Environment the stages ran with (to call a stage again, e.g. a second cleanup). */
  env: NodeJS.ProcessEnv;
}

/** Bash single-quoting. */
function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

interface JobContext {
  spec: JobSpec;
  variables: Record<string, string>;
  projectDir: string;
}

function jobVariables(spec: JobSpec, shortToken: string, buildsDir: string): Record<string, string> {
  const projectPath = spec.projectPath ?? "demo-group/demo-project";
  const projectName = projectPath.split("/").pop() ?? projectPath;
  const namespace = projectPath.split("/").slice(0, -1).join("/");
  return {
    CI: "true",
    GITLAB_CI: "true",
    CI_SERVER_URL: "https://gitlab.example.com",
    CI_JOB_ID: String(spec.jobId),
    CI_JOB_NAME: spec.jobName ?? "test",
    CI_JOB_STAGE: "test",
    CI_PIPELINE_ID: String(spec.pipelineId ?? 1000 + spec.jobId),
    CI_PROJECT_ID: "42",
    CI_PROJECT_PATH: projectPath,
    CI_PROJECT_NAME: projectName,
    CI_PROJECT_NAMESPACE: namespace,
    CI_PROJECT_URL: `https://gitlab.example.com/${projectPath}`,
    CI_PROJECT_DIR: `${buildsDir}/${projectPath}`,
    CI_BUILDS_DIR: buildsDir,
    CI_RUNNER_ID: "7",
    CI_RUNNER_SHORT_TOKEN: shortToken,
    CI_CONCURRENT_ID: "0",
    CI_CONCURRENT_PROJECT_ID: "0",
    CI_COMMIT_SHA: "0123456789abcdef0123456789abcdef01234567",
    CI_COMMIT_REF_NAME: "main",
    // gitlab-runner adds CI_JOB_IMAGE itself, only when the job names an image (common/build.go).
    ...(spec.image ? { CI_JOB_IMAGE: spec.image } : {}),
    ...spec.variables,
  };
}

/** `$NAME` and `${NAME}` replaced by the variable's value (empty when unknown), as gitlab-runner expands them. */
function expand(value: string, variables: Record<string, string>): string {
  return value.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, braced, bare) => {
    return variables[(braced ?? bare) as string] ?? "";
  });
}

/**
 * CUSTOM_ENV_CI_JOB_SERVICES as gitlab-runner's custom executor builds it: a JSON array of {name, alias,
 * entrypoint, command, variables} (alias: the first of the service's aliases or ""; entrypoint and command null
 * when unset; variables only when the service has some, expanded against the job's), "" without services.
 */
export function jobServicesVariable(spec: JobSpec, variables: Record<string, string>): string {
  const services = spec.services ?? [];
  if (services.length === 0) return "";
  return JSON.stringify(
    services.map((service) => {
      const own = service.variables ?? {};
      const expanded = Object.keys(own).length
        ? Object.fromEntries(Object.entries(own).map(([k, v]) => [k, expand(v, { ...variables, ...own })]))
        : undefined;
      return {
        name: service.name,
        alias: (service.alias ?? "").split(/[\s,]+/).filter(Boolean)[0] ?? "",
        entrypoint: service.entrypoint ?? null,
        command: service.command ?? null,
        ...(expanded ? { variables: expanded } : {}),
      };
    }),
  );
}

/**
 * The job payload gitlab-runner writes to JOB_RESPONSE_FILE: what GitLab sent, which a job cannot change. Its
 * variables list the predefined ones first and the job's own after them, duplicates included, as GitLab sends them.
 */
function jobPayload(spec: JobSpec, shortToken: string, buildsDir: string): Record<string, unknown> {
  // CI_JOB_IMAGE is not among GitLab's variables: gitlab-runner adds it.
  const { CI_JOB_IMAGE: _image, ...own } = jobVariables({ ...spec, variables: undefined }, shortToken, buildsDir);
  const listed = [...Object.entries(own), ...Object.entries(spec.variables ?? {})];
  return {
    id: spec.jobId,
    token: `job-token-${spec.jobId}-${randomBytes(8).toString("hex")}`,
    job_info: {
      name: own.CI_JOB_NAME,
      stage: own.CI_JOB_STAGE,
      pipeline_id: Number(own.CI_PIPELINE_ID),
      project_id: Number(own.CI_PROJECT_ID),
      project_full_path: own.CI_PROJECT_PATH,
    },
    variables: listed.map(([key, value]) => ({ key, value, public: true })),
    steps: [{ name: "script", script: spec.script, when: "on_success" }],
    // As gitlab-runner writes the job it received: `image` always an object (name "" without one).
    image: { name: spec.image ?? "" },
    services: (spec.services ?? []).map((service) => ({
      name: service.name,
      ...(service.alias !== undefined ? { alias: service.alias } : {}),
      ...(service.entrypoint ? { entrypoint: service.entrypoint } : {}),
      ...(service.command ? { command: service.command } : {}),
      ...(service.variables
        ? { variables: Object.entries(service.variables).map(([key, value]) => ({ key, value, public: true })) }
        : {}),
    })),
  };
}

/** The script gitlab-runner would generate for a sub-stage (bash), simplified: no GitLab to fetch from here. */
export function stageScript(stage: string, context: JobContext): string {
  const lines = ["#!/usr/bin/env bash", "set -eo pipefail", "set +o noclobber"];
  for (const [name, value] of Object.entries(context.variables)) lines.push(`export ${name}=${quote(value)}`);
  const project = quote(context.projectDir);
  const echoCommand = (command: string) => `echo ${quote(`\x1b[32;1m$ ${command}\x1b[0;m`)}`;
  switch (stage) {
    case "prepare_script":
      lines.push('echo "Running on $(hostname)..."');
      break;
    case "get_sources":
      // Stand-in for the runner's git fetch: a fresh repository holding one commit.
      lines.push(
        `mkdir -p ${project} && cd ${project}`,
        'echo "Initialized empty Git repository in $PWD/.git/"',
        "git init -q . && git config user.email ci@example.com && git config user.name ci",
        "echo 'demo' > README.md && git add README.md && git commit -qm 'initial commit'",
        'echo "Checking out $(git rev-parse --short HEAD) as detached HEAD (ref is main)..."',
      );
      break;
    case "build_script":
    case "step_script":
    case "after_script": {
      const commands = stage === "after_script" ? (context.spec.afterScript ?? []) : context.spec.script;
      lines.push(`cd ${project}`);
      for (const command of commands) lines.push(echoCommand(command), command);
      break;
    }
    case "cleanup_file_variables":
      lines.push(`rm -rf ${quote(`${context.projectDir}.tmp`)}`);
      break;
    default:
      lines.push(":");
  }
  const extra = context.spec.stageCommands?.[stage] ?? [];
  if (extra.length > 0) lines.push(`cd ${project}`, ...extra);
  return `${lines.join("\n")}\n`;
}

interface StageProcessOptions {
  stage: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  options: HarnessOptions;
  onOutput?: (text: string) => void;
}

/** Runs one driver stage process the way gitlab-runner does (its own process group). */
export function runDriverStage(stage: string, args: string[], env: NodeJS.ProcessEnv, options: HarnessOptions) {
  return runStageProcess({ stage, args, env, options });
}

function runStageProcess({ stage, args, env, options, onOutput }: StageProcessOptions): Promise<StageRun> {
  const driver = options.driver ?? DRIVER_BUNDLE;
  const command = [
    ...(options.wrap?.(stage) ?? []),
    options.node ?? process.execPath,
    driver,
    "--config",
    options.configFile,
    "custom",
    ...args,
  ];
  const startedAt = Date.now();
  return new Promise((resolveRun) => {
    const child = spawn(command[0], command.slice(1), { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    let output = "";
    let cancelled = false;
    const timers: NodeJS.Timeout[] = [];
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      output += chunk.toString("utf8");
      onOutput?.(chunk.toString("utf8"));
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      output += chunk.toString("utf8");
      onOutput?.(chunk.toString("utf8"));
    });
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // the group is gone
      }
    };
    const cancel = options.cancel;
    if (cancel && isStage(stage, cancel.atStage)) {
      const fire = (): void => {
        if (cancel.when && !cancel.when()) {
          timers.push(setTimeout(fire, 20));
          return;
        }
        cancelled = true;
        signalGroup("SIGTERM");
        timers.push(setTimeout(() => signalGroup("SIGKILL"), options.graceKillMs ?? 10_000));
      };
      timers.push(setTimeout(fire, cancel.afterMs));
    }
    const dies = options.managerDies;
    if (dies && "atStage" in dies && isStage(stage, dies.atStage)) {
      const kill = (): void => {
        if (dies.when && !dies.when()) timers.push(setTimeout(kill, 20));
        else {
          signalGroup("SIGKILL");
          if (options.managerStateDirectory) killProcessesNaming(options.managerStateDirectory);
        }
      };
      timers.push(setTimeout(kill, dies.afterMs));
    }
    child.on("close", (exitCode, signal) => {
      timers.forEach(clearTimeout);
      resolveRun({ stage, exitCode, signal, stdout, stderr, output, startedAt, endedAt: Date.now(), cancelled });
    });
  });
}

/** Whether a stage run ("prepare", "run:build_script") is the stage an option names ("prepare", "build_script"). */
function isStage(run: string, named: string): boolean {
  return run === named || run === `run:${named}`;
}

function statusOf(run: StageRun): JobStatus {
  if (run.cancelled) return "cancelled";
  if (run.exitCode === 0) return "success";
  if (run.exitCode === BUILD_FAILURE_EXIT_CODE) return "build_failure";
  if (run.exitCode === SYSTEM_FAILURE_EXIT_CODE) return "system_failure";
  return "unknown_failure";
}

/** Runs one job through the driver the way gitlab-runner's custom executor does. */
export async function runJob(spec: JobSpec, options: HarnessOptions): Promise<JobResult> {
  const tmpDir = mkdtempSync(join(tmpdir(), `job-${spec.jobId}-`));
  const shortToken = options.runnerShortToken ?? "h4rn3ss1";
  const stages: StageRun[] = [];
  const logParts: string[] = [];
  const log = (text: string) => logParts.push(text.endsWith("\n") || text === "" ? text : `${text}\n`);
  const buildExitCodeFile = join(tmpDir, "build-exit-code");
  const jobResponseFile = join(tmpDir, "job-response.json");
  let baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    BUILD_FAILURE_EXIT_CODE: String(BUILD_FAILURE_EXIT_CODE),
    SYSTEM_FAILURE_EXIT_CODE: String(SYSTEM_FAILURE_EXIT_CODE),
    BUILD_EXIT_CODE_FILE: buildExitCodeFile,
    JOB_RESPONSE_FILE: jobResponseFile,
    TMPDIR: tmpDir,
  };
  const dies = options.managerDies;
  class ManagerDied extends Error {}
  const stage = async (name: string, args: string[], inLog: boolean): Promise<StageRun> => {
    const run = await runStageProcess({ stage: name, args, env: baseEnv, options });
    stages.push(run);
    if (inLog) log(run.output);
    if (dies && isStage(name, "atStage" in dies ? dies.atStage : dies.afterStage)) {
      if (options.managerStateDirectory) killProcessesNaming(options.managerStateDirectory);
      throw new ManagerDied();
    }
    return run;
  };

  let result: Omit<JobResult, "log" | "stages" | "tmpDir" | "config" | "env">;
  let parsed: Record<string, unknown> | undefined;
  let cleanupNeeded = false;
  try {
    // config: one JSON object on stdout.
    const defaultBuildsDir = options.defaultBuildsDir ?? "/tmp/builds";
    let variables = jobVariables(spec, shortToken, defaultBuildsDir);
    for (const [name, value] of Object.entries(variables)) baseEnv[`CUSTOM_ENV_${name}`] = value;
    baseEnv.CUSTOM_ENV_CI_JOB_SERVICES = jobServicesVariable(spec, variables);
    writeFileSync(jobResponseFile, JSON.stringify(jobPayload(spec, shortToken, defaultBuildsDir)), { mode: 0o600 });
    log(`Running with gitlab-runner (custom executor harness)\n  on harness ${shortToken}`);
    const config = await stage("config", ["config"], false);
    if (config.exitCode === 0) {
      try {
        parsed = JSON.parse(config.stdout || "{}") as Record<string, unknown>;
      } catch {
        parsed = undefined;
      }
    }
    if (!parsed) {
      log(config.stderr);
      result = { status: "system_failure", exitCode: config.exitCode ?? -1 };
      log(
        `ERROR: Job failed (system failure): config stage: ${config.exitCode === 0 ? "invalid JSON" : `exit status ${config.exitCode}`}`,
      );
      return finish();
    }
    const jobEnv = (parsed.job_env ?? {}) as Record<string, string>;
    baseEnv = { ...baseEnv, ...jobEnv };
    if (typeof parsed.builds_dir === "string" && parsed.builds_dir !== "") {
      variables = jobVariables(spec, shortToken, parsed.builds_dir);
      for (const [name, value] of Object.entries(variables)) baseEnv[`CUSTOM_ENV_${name}`] = value;
      baseEnv.CUSTOM_ENV_CI_JOB_SERVICES = jobServicesVariable(spec, variables);
    }
    const driver = parsed.driver as { name?: string; version?: string } | undefined;
    log(`Preparing the "custom" executor`);
    if (driver) log(`Using Custom executor with driver ${driver.name ?? "?"} ${driver.version ?? "?"}...`);

    cleanupNeeded = true;
    let prepare = await stage("prepare", ["prepare"], true);
    for (
      let attempt = 2;
      attempt <= (options.prepareAttempts ?? 1) && statusOf(prepare) === "system_failure";
      attempt++
    ) {
      await new Promise((r) => setTimeout(r, 3000));
      prepare = await stage("prepare", ["prepare"], true);
    }
    if (statusOf(prepare) !== "success") {
      result = { status: statusOf(prepare), exitCode: prepare.exitCode ?? -1 };
      log(failureLine(result.status, "prepare", prepare.exitCode));
      return finish();
    }

    await options.afterPrepare?.(baseEnv);
    if (options.runStages === false) {
      result = { status: "success", exitCode: 0 };
      return finish();
    }
    const context: JobContext = { spec, variables, projectDir: variables.CI_PROJECT_DIR };
    let failed: StageRun | undefined;
    let buildExitCode: number | undefined;
    for (const base of RUN_STAGES) {
      const name = subStageName(base, failed !== undefined);
      const afterFailureAllowed =
        ["after_script", "cleanup_file_variables"].includes(base) || name.endsWith("_on_failure");
      if (failed && statusOf(failed) === "cancelled") break;
      if (failed && !afterFailureAllowed) continue;
      if (failed && statusOf(failed) !== "build_failure" && base !== "cleanup_file_variables") continue;
      const scriptDir = join(tmpDir, `script-${name}`);
      mkdirSync(scriptDir, { mode: 0o700 });
      const scriptPath = join(scriptDir, "script.");
      writeFileSync(scriptPath, stageScript(name, context), { mode: 0o700 });
      rmSync(buildExitCodeFile, { force: true });
      log(`\n${STAGE_TITLES[name] ?? name}`);
      const run = await stage(`run:${name}`, ["run", scriptPath, name], true);
      if (statusOf(run) !== "success" && !failed && !["after_script", "cleanup_file_variables"].includes(base)) {
        failed = run;
        // Read right away, as the runner does: the next stage may overwrite the file.
        buildExitCode = existsSync(buildExitCodeFile)
          ? Number(readFileSync(buildExitCodeFile, "utf8").trim())
          : undefined;
      }
    }
    if (!failed) {
      result = { status: "success", exitCode: 0 };
      log("\nJob succeeded");
      return finish();
    }
    const status = statusOf(failed);
    result = { status, exitCode: failed.exitCode ?? -1, buildExitCode };
    log(failureLine(status, failed.stage, buildExitCode ?? failed.exitCode));
    return finish();
  } catch (error) {
    if (!(error instanceof ManagerDied)) throw error;
    cleanupNeeded = false;
    result = { status: "lost", exitCode: -1 };
    return finish();
  } finally {
    // Cleanup is always called once a prepare started, whatever happened; its output is not in the job log.
    try {
      if (cleanupNeeded) {
        try {
          await options.beforeCleanup?.(stages);
        } finally {
          await stage("cleanup", ["cleanup"], false);
        }
      }
    } finally {
      if (!options.keepTmpDir) rmSync(tmpDir, { recursive: true, force: true });
    }
  }

  function finish(): JobResult {
    return { ...result, log: logParts.join(""), stages, config: parsed, tmpDir, env: baseEnv };
  }
}

function subStageName(base: (typeof RUN_STAGES)[number], failed: boolean): string {
  if (!failed) return base;
  if (base === "archive_cache") return "archive_cache_on_failure";
  if (base === "upload_artifacts_on_success") return "upload_artifacts_on_failure";
  return base;
}

function failureLine(status: JobStatus, stage: string, code: number | null): string {
  switch (status) {
    case "build_failure":
      return `\nERROR: Job failed: exit code ${code}`;
    case "system_failure":
      return `\nERROR: Job failed (system failure): ${stage} stage exited with code ${code}`;
    case "cancelled":
      return `\nERROR: Job failed: canceled`;
    default:
      return `\nERROR: Job failed (unknown failure): ${stage} stage exited with code ${code}`;
  }
}
