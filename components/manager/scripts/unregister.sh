#!/bin/sh
# Removes this manager from GitLab, then stops gitlab-runner. Run as root by the deployment over SSH on
# "pulumi destroy" and before a replaced registration is created again.
# When GitLab cannot be reached (or the token was already revoked) it warns and goes on, so a destroy never gets
# stuck; the runner then shows as stale in GitLab.
#   GFR_CONFIG_FILE, GFR_LOG_DIRECTORY  gitlab-runner's config.toml and the scripts' log directory:
#             MANAGER_PATHS of driver/contract/managerPaths.ts. The defaults below are the same paths, for the delete
#             command Pulumi saved with an earlier release, which set neither (a test keeps them equal).
#   GFR_ROOT  prefix of every absolute path; empty on the manager, a temporary directory in tests
set -e
umask 077

config=$GFR_ROOT${GFR_CONFIG_FILE:-/etc/gitlab-runner/config.toml}
log_dir=$GFR_ROOT${GFR_LOG_DIRECTORY:-/var/log/gitlab-fargate-runner}
log=$log_dir/unregistration.log
install -d -m 0700 "$log_dir"
: >"$log"

# shellcheck source-path=SCRIPTDIR source=unregister-all.sh
. "$(dirname "$0")/unregister-all.sh"

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

if systemctl stop gitlab-runner; then
  systemctl disable --quiet gitlab-runner || true
  echo "gitlab-runner stopped"
else
  echo "unregister: warning: could not stop gitlab-runner" >&2
fi
