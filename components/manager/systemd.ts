/**
 * The systemd drop-in the registration installs for gitlab-runner's unit (the Debian package's
 * `gitlab-runner.service`): how the manager drains, heals and cleans up after itself.
 *
 * - Drain: `systemctl stop` (a reboot, `pulumi destroy`, a replaced instance) sends SIGQUIT to gitlab-runner only
 *   (`KillMode=mixed`): it takes no new job and waits for its running jobs. After `TimeoutStopSec` systemd kills what
 *   is left (SIGKILL to the whole unit).
 * - Heal: gitlab-runner is restarted whenever it exits (`Restart=always`), without a start limit.
 * - Reap: before gitlab-runner starts (boot, crash, restart), the driver's `reap` stops the tasks tagged with this
 *   manager's identity: the jobs this manager ran are gone, so their tasks are leftovers. A failed reap is logged
 *   (journal of the unit) and ignored (`-`), so gitlab-runner still starts; leftovers then stop themselves after
 *   `TaskIdle`.
 *
 * Pure functions: no Pulumi, no I/O.
 * @see https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html
 * @see https://docs.gitlab.com/runner/commands/#signals
 */
import { MANAGER_PATHS } from "../../driver/contract/managerPaths";

/** Where the drop-in is installed on the manager. */
export const GITLAB_RUNNER_DROP_IN = "/etc/systemd/system/gitlab-runner.service.d/gitlab-fargate-runner.conf";

/** Seconds systemd waits before it restarts a gitlab-runner that exited. */
export const RESTART_DELAY_SECONDS = 10;

/**
 * Seconds the reap may take before gitlab-runner starts anyway (`timeout` kills it; the `-` prefix ignores that).
 * The unit's start timeout leaves it room.
 */
export const REAP_TIMEOUT_SECONDS = 120;

/** The command `ExecStartPre` runs: the driver's `reap`, bounded by {@link REAP_TIMEOUT_SECONDS}. */
export function reapCommand(): string {
  return `/usr/bin/timeout ${REAP_TIMEOUT_SECONDS} ${MANAGER_PATHS.launcher} --config ${MANAGER_PATHS.fargateConfigFile} reap`;
}

/** Settings of the drop-in. */
export interface GitLabRunnerDropInInput {
  /** Minutes gitlab-runner may take to finish its running jobs when stopped (`TimeoutStopSec`), 1–1440. */
  drainTimeoutMinutes: number;
}

/** The drop-in's text. Throws on a drain timeout that is not a whole number of minutes from 1 to 1440. */
export function renderGitLabRunnerDropIn(input: GitLabRunnerDropInInput): string {
  const minutes = input.drainTimeoutMinutes;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
    throw new Error(`runner.drainTimeoutMinutes: must be an integer from 1 to 1440, got ${minutes}`);
  }
  return [
    "# gitlab-fargate-runner: drain, heal and reap. Installed by the registration (register.sh); see the README,",
    '# "Managers: scale out, drain and heal". Changes here are overwritten by the next registration.',
    "[Unit]",
    "# The reap below calls AWS: start once the network is up.",
    "Wants=network-online.target",
    "After=network-online.target",
    "# Heal: restart gitlab-runner however often it dies.",
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "# Drain: SIGQUIT to gitlab-runner only; it takes no new job and finishes the running ones, for at most",
    "# TimeoutStopSec; then systemd kills what is left.",
    "KillSignal=SIGQUIT",
    "KillMode=mixed",
    `TimeoutStopSec=${minutes * 60}`,
    "# Heal.",
    "Restart=always",
    `RestartSec=${RESTART_DELAY_SECONDS}`,
    "# Reap: stop this manager's leftover tasks before gitlab-runner takes jobs; a failure is logged and ignored.",
    `ExecStartPre=-${reapCommand()}`,
    `TimeoutStartSec=${REAP_TIMEOUT_SECONDS + 60}`,
    "",
  ].join("\n");
}
