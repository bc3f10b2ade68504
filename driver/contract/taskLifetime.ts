/**
 * The task's dead-man's switch: what the driver passes to every task (RunTask containerOverrides of ci-coordinator)
 * and how the image's entrypoint reports why it stopped the task. The entrypoint (images/ci-coordinator/
 * docker-entrypoint.sh) reads these names; the driver writes them and explains the exit codes in the job log.
 */

/** Environment variables of the ci-coordinator container, in whole seconds. */
export const TASK_LIFETIME_ENV = {
  /** The task stops when no SSH login arrived this long after the container started. */
  firstContactSeconds: "GITLAB_FARGATE_FIRST_CONTACT_SECONDS",
  /** The task stops when no SSH session has been open for this long. */
  idleSeconds: "GITLAB_FARGATE_IDLE_SECONDS",
  /** The task stops this long after the container started, whatever happens. */
  maxLifetimeSeconds: "GITLAB_FARGATE_MAX_LIFETIME_SECONDS",
} as const;

/** Exit codes of the ci-coordinator container when its watchdog stops the task. */
export const TASK_LIFETIME_EXIT_CODES = {
  firstContact: 90,
  idle: 91,
  maxLifetime: 92,
} as const;

/**
 * Seconds between the driver giving up (Timeouts.TaskRunning + Timeouts.SSHReady after RunTask) and the task giving
 * up on the driver. The container's clock starts before the task is RUNNING: a job's image or services may still be
 * pulling then, so the task's first-contact deadline covers both of the driver's waits.
 */
export const FIRST_CONTACT_MARGIN_SECONDS = 60;
/** Seconds added to the job's timeout for the task's hard deadline when Timeouts.TaskMaxLifetime is not set. */
export const MAX_LIFETIME_MARGIN_SECONDS = 600;
/** The job timeout assumed when the job payload has none (gitlab-runner's default job timeout: 1 hour). */
export const DEFAULT_JOB_TIMEOUT_SECONDS = 3600;

/** What a watchdog exit code means, for the job log and the reaper; undefined for any other code. */
export function taskLifetimeExitReason(exitCode: number | undefined): string | undefined {
  switch (exitCode) {
    case TASK_LIFETIME_EXIT_CODES.firstContact:
      return "the task stopped itself: no SSH login from the driver within its first-contact deadline";
    case TASK_LIFETIME_EXIT_CODES.idle:
      return "the task stopped itself: no SSH session for longer than Timeouts.TaskIdle";
    case TASK_LIFETIME_EXIT_CODES.maxLifetime:
      return "the task stopped itself: it reached its hard deadline (the job's timeout + margin, or Timeouts.TaskMaxLifetime)";
    default:
      return undefined;
  }
}
