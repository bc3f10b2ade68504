/**
 * Failure kinds and how they map to the exit codes gitlab-runner's custom executor expects.
 * See https://docs.gitlab.com/runner/executors/custom/#build-failure and #system-failure.
 */

/** Anything the infrastructure did: bad configuration, AWS errors, task stopped, SSH unreachable. */
export class SystemFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SystemFailure";
  }
}

/** The stage was cancelled by SIGTERM/SIGINT (job cancelled or timed out). Reported as a system failure. */
export class Cancelled extends SystemFailure {
  constructor(message = "cancelled by signal") {
    super(message);
    this.name = "Cancelled";
  }
}

/** The user's script ran and exited non-zero. */
export class BuildFailure extends Error {
  constructor(readonly scriptExitCode: number) {
    super(`script exited with code ${scriptExitCode}`);
    this.name = "BuildFailure";
  }
}

/**
 * The job's own choices cannot be honoured: an image or service this runner does not allow, or one that cannot be
 * pulled. Like the Docker executor's image errors, it fails the job as a build failure, which gitlab-runner does not
 * retry.
 */
export class JobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "JobError";
  }
}

/** The exit codes and files gitlab-runner hands every stage through the environment. */
export interface ExitCodes {
  /** `BUILD_FAILURE_EXIT_CODE` (gitlab-runner sets 1). */
  buildFailure: number;
  /** `SYSTEM_FAILURE_EXIT_CODE` (gitlab-runner sets 2). */
  systemFailure: number;
  /** `BUILD_EXIT_CODE_FILE`: where the user script's real exit code is written, when set. */
  buildExitCodeFile?: string;
}

const DEFAULT_BUILD_FAILURE = 1;
const DEFAULT_SYSTEM_FAILURE = 2;

function exitCodeVariable(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > 255) {
    throw new SystemFailure(`${name} must be an integer from 0 to 255, got "${raw}"`);
  }
  return Number(raw);
}

/**
 * Reads the exit codes from the environment. Absent variables fall back to gitlab-runner's values (1 and 2);
 * a malformed one is an error naming the variable (the caller exits with the system-failure default then).
 */
export function exitCodesFromEnv(env: NodeJS.ProcessEnv): ExitCodes {
  return {
    buildFailure: exitCodeVariable(env, "BUILD_FAILURE_EXIT_CODE", DEFAULT_BUILD_FAILURE),
    systemFailure: exitCodeVariable(env, "SYSTEM_FAILURE_EXIT_CODE", DEFAULT_SYSTEM_FAILURE),
    buildExitCodeFile: env.BUILD_EXIT_CODE_FILE || undefined,
  };
}

/** The exit code for a stage's outcome: 0 on success, the build code for script failures, else the system code. */
export function exitCodeFor(outcome: unknown, codes: ExitCodes): number {
  if (outcome === undefined) return 0;
  if (outcome instanceof BuildFailure || outcome instanceof JobError) return codes.buildFailure;
  return codes.systemFailure;
}

/** One line describing an error for the job log: the message, plus its cause's message when it adds something. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause && !error.message.includes(cause) ? `${error.message}: ${cause}` : error.message;
}
