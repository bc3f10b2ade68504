#!/bin/sh
# Drains this manager and removes it from GitLab. Run as root by the deployment over SSH when the manager instance
# is deleted or replaced ("pulumi destroy", a lower manager.count, a new AMI or instance type):
#   1. stops gitlab-runner and waits: with the drop-in register.sh installs, systemd sends it SIGQUIT, so it takes
#      no new job and finishes the running ones, for at most runner.drainTimeoutMinutes (then systemd kills it);
#   2. stops the tasks still tagged with this manager (jobs killed at that limit): the driver's reap;
#   3. unregisters this manager from GitLab (with a glrt- token: this manager only, the runner stays).
# When GitLab cannot be reached (or the token was already revoked) it warns and goes on, so a destroy never gets
# stuck; the runner then shows as stale in GitLab. A failed reap only warns too: those tasks stop themselves.
#   GFR_CONFIG_FILE, GFR_LOG_DIRECTORY, GFR_LAUNCHER, GFR_FARGATE_CONFIG_FILE, GFR_METADATA_DIRECTORY
#             where things live on the manager: MANAGER_PATHS of driver/contract/managerPaths.ts. The defaults below
#             are the same paths, for the delete command Pulumi saved with an earlier release, which set only the
#             first two (a test keeps them equal).
#   GFR_ROOT  prefix of every absolute path; empty on the manager, a temporary directory in tests
set -e
umask 077

config=$GFR_ROOT${GFR_CONFIG_FILE:-/etc/gitlab-runner/config.toml}
log_dir=$GFR_ROOT${GFR_LOG_DIRECTORY:-/var/log/gitlab-fargate-runner}
launcher=$GFR_ROOT${GFR_LAUNCHER:-/opt/gitlab-runner/fargate}
fargate_config=$GFR_ROOT${GFR_FARGATE_CONFIG_FILE:-/etc/gitlab-runner/fargate.toml}
metadata_dir=$GFR_ROOT${GFR_METADATA_DIRECTORY:-/opt/gitlab-runner/metadata}
log=$log_dir/unregistration.log
install -d -m 0700 "$log_dir"
: >"$log"

# shellcheck source-path=SCRIPTDIR source=unregister-all.sh
. "$(dirname "$0")/unregister-all.sh"

# Jobs still running: the driver keeps one metadata file per job.
running_jobs() {
  find "$metadata_dir" -type f 2>/dev/null | wc -l | tr -d ' '
}

# 1. Drain. "systemctl stop" returns once gitlab-runner has exited; meanwhile a line a minute keeps the deployment's
# SSH session busy and says how far it is.
echo "unregister: stopping gitlab-runner; it takes no new job and finishes the $(running_jobs) it runs" >&2
(
  minutes=0
  while sleep 60 >/dev/null 2>&1; do
    minutes=$((minutes + 1))
    echo "unregister: still draining after $minutes min: $(running_jobs) job(s) running" >&2
  done
) &
ticker=$!
if systemctl stop gitlab-runner; then
  echo "gitlab-runner stopped"
else
  echo "unregister: warning: could not stop gitlab-runner" >&2
fi
kill "$ticker" 2>/dev/null || true
systemctl disable --quiet gitlab-runner || true

# 2. Reap: the tasks of jobs that did not finish in time, found by this manager's tag. Never while gitlab-runner
# still runs (its stop failed): those tasks would belong to live jobs.
if [ -x "$launcher" ] && [ -f "$fargate_config" ]; then
  if systemctl is-active --quiet gitlab-runner; then
    echo "unregister: warning: gitlab-runner is still running; not stopping its tasks" >&2
  elif "$launcher" --config "$fargate_config" reap </dev/null >>"$log" 2>&1; then
    echo "stopped this manager's leftover tasks, if any"
  else
    echo "unregister: warning: could not stop this manager's leftover tasks (details in $log on the manager);" \
      "they stop themselves once idle (jobs.idleTimeoutSeconds)" >&2
  fi
fi

# 3. Unregister.
if [ -f "$config" ] && grep -qF '[[runners]]' "$config"; then
  if unregister_all "$config"; then
    echo "unregistered this manager from GitLab"
  else
    echo "unregister: warning: GitLab did not confirm the removal (details in $log on the manager);" \
      "check the runner list in GitLab" >&2
  fi
else
  echo "no runner registered on this manager"
fi
