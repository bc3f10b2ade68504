#!/bin/sh
# Registers this runner manager with GitLab. Run as root by the deployment over SSH, on every change:
#   1. waits until the first-boot script (cloud-init) has finished,
#   2. installs the runner template and the private CA staged in $GFR_STAGING (register needs them),
#   3. registers exactly one runner into config.toml.new, built from the staged global settings; if GitLab
#      refuses, it stops here: config.toml, the driver and the running gitlab-runner stay as they were,
#   4. if config.toml held an entry with another token (a new token, or a legacy registration), unregisters that
#      old entry, so GitLab keeps no stale record of this manager; the same runner token reuses this manager's
#      system id (.runner_system_id next to config.toml), so there is nothing to unregister,
#   5. installs the staged driver, launcher, fargate.toml and gitlab-runner's systemd drop-in (drain on stop, restart
#      when it dies, reap this manager's leftover tasks before it starts), swaps in the new config.toml, then starts
#      gitlab-runner, or makes the running one reload its configuration (SIGHUP) so the jobs it runs are not aborted.
# It never writes, copies or removes gitlab-runner's system id (.runner_system_id next to config.toml): gitlab-runner
# generates it on each instance's first start, so every manager instance is a runner manager of its own in GitLab.
# The token is read from standard input and reaches gitlab-runner only through its environment: never a command
# line (visible in ps), never this script's output. gitlab-runner's own output goes to a root-only log file.
#
# Settings (environment; none of them secret):
#   GFR_STAGING     directory holding the staged files (required)
#   GFR_URL         GitLab URL (required)
#   GFR_NAME        runner name written to config.toml (required)
#   GFR_TOKEN_KIND  "runner" (glrt- runner authentication token, default) or "registration" (legacy token)
#   GFR_TAG_LIST, GFR_RUN_UNTAGGED, GFR_LOCKED   legacy registration token only
#   GFR_PRIVATE_CA  "true": install $GFR_STAGING/ca.crt and trust it for GitLab
#   GFR_REVISION    ignored here; the deployment changes it with any staged file or the instance, to run again
#   GFR_CONFIG_DIRECTORY, GFR_CONFIG_FILE, GFR_TEMPLATE_FILE, GFR_FARGATE_CONFIG_FILE, GFR_CA_CERTIFICATE_FILE,
#   GFR_DRIVER_DIRECTORY, GFR_DRIVER_BUNDLE, GFR_DRIVER_SDK_BUNDLE, GFR_LAUNCHER, GFR_NODE_DIRECTORY,
#   GFR_CONFIG_STAGE_ANSWER, GFR_BUILDS_DIRECTORY, GFR_CACHE_DIRECTORY, GFR_METADATA_DIRECTORY, GFR_LOG_DIRECTORY
#                   where things live on the manager (required): MANAGER_PATHS of driver/contract/managerPaths.ts
#   GFR_SYSTEMD_DROP_IN  where gitlab-runner's drop-in goes (required): GITLAB_RUNNER_DROP_IN of systemd.ts
#   GFR_ROOT        prefix of every absolute path; empty on the manager, a temporary directory in tests
set -e
umask 077

die() {
  echo "register: $*" >&2
  exit 1
}

[ -n "$GFR_STAGING" ] || die "GFR_STAGING is not set"
[ -n "$GFR_URL" ] || die "GFR_URL is not set"
[ -n "$GFR_NAME" ] || die "GFR_NAME is not set"
kind=$GFR_TOKEN_KIND
[ -n "$kind" ] || kind=runner
case $kind in
  runner | registration) ;;
  *) die "GFR_TOKEN_KIND must be runner or registration, got '$kind'" ;;
esac

config_dir=$GFR_ROOT${GFR_CONFIG_DIRECTORY:?is not set}
config=$GFR_ROOT${GFR_CONFIG_FILE:?is not set}
new_config=$config.new
template=$GFR_ROOT${GFR_TEMPLATE_FILE:?is not set}
fargate_config=$GFR_ROOT${GFR_FARGATE_CONFIG_FILE:?is not set}
ca=$GFR_ROOT${GFR_CA_CERTIFICATE_FILE:?is not set}
driver_dir=$GFR_ROOT${GFR_DRIVER_DIRECTORY:?is not set}
driver=$GFR_ROOT${GFR_DRIVER_BUNDLE:?is not set}
driver_sdk=$GFR_ROOT${GFR_DRIVER_SDK_BUNDLE:?is not set}
node=$GFR_ROOT${GFR_NODE_DIRECTORY:?is not set}/bin/node
config_answer=$GFR_ROOT${GFR_CONFIG_STAGE_ANSWER:?is not set}
launcher=$GFR_ROOT${GFR_LAUNCHER:?is not set}
builds_dir=$GFR_ROOT${GFR_BUILDS_DIRECTORY:?is not set}
cache_dir=$GFR_ROOT${GFR_CACHE_DIRECTORY:?is not set}
metadata_dir=$GFR_ROOT${GFR_METADATA_DIRECTORY:?is not set}
log_dir=$GFR_ROOT${GFR_LOG_DIRECTORY:?is not set}
drop_in=$GFR_ROOT${GFR_SYSTEMD_DROP_IN:?is not set}
log=$log_dir/registration.log

token=
IFS= read -r token || true
exec </dev/null
[ -n "$token" ] || die "no token on standard input"

# The end of gitlab-runner's log with the token masked; awk gets the token through its environment.
show_log() {
  echo "register: last lines of $log on the manager:" >&2
  tail -n 20 "$log" | TOKEN=$token awk '
    {
      line = $0
      secret = ENVIRON["TOKEN"]
      while (secret != "" && (i = index(line, secret)) > 0)
        line = substr(line, 1, i - 1) "[MASKED]" substr(line, i + length(secret))
      gsub(/glrt-[A-Za-z0-9_-]+/, "[MASKED]", line)
      gsub(/GR1348941[A-Za-z0-9_-]+/, "[MASKED]", line)
      print line
    }' >&2
}

# runner_token FILE: the token of the first [[runners]] entry of FILE, empty when there is none. The value goes
# to standard output only (captured into a variable), never onto a command line.
runner_token() {
  [ -f "$1" ] || return 0
  awk '
    /^[[:space:]]*\[\[runners\]\]/ { inside = 1; next }
    inside && /^[[:space:]]*token[[:space:]]*=/ {
      value = $0
      sub(/^[^=]*=[[:space:]]*"/, "", value)
      sub(/".*$/, "", value)
      print value
      exit
    }' "$1"
}

# put MODE SOURCE DESTINATION: replaces DESTINATION in one rename, so a stage starting meanwhile sees the old or
# the new file, never half of one.
put() {
  [ -f "$2" ] || die "staged file $2 is missing"
  install -m "$1" "$2" "$3.new"
  mv -f "$3.new" "$3"
}

# shellcheck source-path=SCRIPTDIR source=unregister-all.sh
. "$(dirname "$0")/unregister-all.sh"

status=0
cloud-init status --wait >/dev/null 2>&1 || status=$?
case $status in
  0 | 2) ;; # 2: finished with recoverable errors (for example deprecated keys)
  *)
    cloud-init status --long >&2 || true
    die "the first-boot script failed (cloud-init status $status); see /var/log/cloud-init-output.log on the manager"
    ;;
esac
command -v gitlab-runner >/dev/null || die "gitlab-runner is not installed; see /var/log/cloud-init-output.log"

for staged in fargate.js awsSdk.js fargate fargate.toml config.toml runner-template.toml gitlab-runner.conf; do
  [ -f "$GFR_STAGING/$staged" ] || die "staged file $GFR_STAGING/$staged is missing"
done
# The config stage's answer never changes for a manager: the staged driver renders it once from the staged
# fargate.toml, and gitlab-runner's config_exec only reads it. A fargate.toml the driver refuses changes nothing.
[ -x "$node" ] || die "Node.js is not installed at $node; see /var/log/cloud-init-output.log"
"$node" "$GFR_STAGING/fargate.js" --config "$GFR_STAGING/fargate.toml" custom config >"$GFR_STAGING/config-stage.json" ||
  die "the staged driver refused the staged fargate.toml (see above); nothing was changed"
[ -s "$GFR_STAGING/config-stage.json" ] || die "the staged driver gave no config answer; nothing was changed"
install -d -m 0700 "$config_dir" "$log_dir" "$metadata_dir"
install -d -m 0755 "$driver_dir" "$builds_dir" "$cache_dir"
put 0600 "$GFR_STAGING/runner-template.toml" "$template"
if [ "$GFR_PRIVATE_CA" = true ]; then
  install -d -m 0755 "$(dirname "$ca")"
  put 0644 "$GFR_STAGING/ca.crt" "$ca"
fi

: >"$log"
rm -f "$new_config"
install -m 0600 "$GFR_STAGING/config.toml" "$new_config"
set -- register --non-interactive --config "$new_config" --url "$GFR_URL" --name "$GFR_NAME" \
  --executor custom --template-config "$template"
if [ "$GFR_PRIVATE_CA" = true ]; then
  set -- "$@" --tls-ca-file "$ca"
fi
if [ "$kind" = registration ]; then
  set -- "$@" --run-untagged="$GFR_RUN_UNTAGGED" --locked="$GFR_LOCKED"
  if [ -n "$GFR_TAG_LIST" ]; then
    set -- "$@" --tag-list "$GFR_TAG_LIST"
  fi
fi
registered=true
if [ "$kind" = runner ]; then
  CI_SERVER_TOKEN=$token gitlab-runner "$@" </dev/null >>"$log" 2>&1 || registered=false
else
  REGISTRATION_TOKEN=$token gitlab-runner "$@" </dev/null >>"$log" 2>&1 || registered=false
fi
if [ "$registered" = false ]; then
  show_log
  rm -f "$new_config"
  die "gitlab-runner register failed (check the URL, the token and that the manager reaches GitLab on 443);" \
    "nothing was changed: gitlab-runner keeps running with its current registration"
fi

count=$(grep -cF '[[runners]]' "$new_config" || true)
if [ "$count" != 1 ]; then
  rm -f "$new_config"
  die "gitlab-runner register wrote $count runner entries instead of 1; nothing was changed"
fi

# [ is a shell builtin: comparing the tokens puts neither on a command line.
old_token=$(runner_token "$config")
new_token=$(runner_token "$new_config")
if [ -n "$old_token" ] && [ "$old_token" != "$new_token" ]; then
  if ! unregister_all "$config"; then
    echo "register: warning: GitLab did not confirm removing the previous entry of this manager; it stays listed" \
      "as stale in GitLab until GitLab cleans it up" >&2
  fi
fi

# The SDK part first: the entry bundle running jobs' stages use now does not need it, the new one does.
put 0644 "$GFR_STAGING/awsSdk.js" "$driver_sdk"
put 0644 "$GFR_STAGING/fargate.js" "$driver"
put 0644 "$GFR_STAGING/config-stage.json" "$config_answer"
put 0755 "$GFR_STAGING/fargate" "$launcher"
put 0600 "$GFR_STAGING/fargate.toml" "$fargate_config"
install -d -m 0755 "$(dirname "$drop_in")"
put 0644 "$GFR_STAGING/gitlab-runner.conf" "$drop_in"
systemctl daemon-reload || die "systemd did not load gitlab-runner's drop-in $GFR_SYSTEMD_DROP_IN"
mv -f "$new_config" "$config"
if [ "$GFR_PRIVATE_CA" != true ]; then
  rm -f "$ca"
fi

systemctl enable --quiet gitlab-runner
if systemctl is-active --quiet gitlab-runner; then
  # SIGHUP makes gitlab-runner reload config.toml; a restart (SIGTERM) would abort the jobs it is running.
  systemctl kill --kill-whom=main --signal=HUP gitlab-runner ||
    die "could not tell gitlab-runner to reload; see: journalctl -u gitlab-runner"
  echo "registered runner '$GFR_NAME' with $GFR_URL; gitlab-runner reloaded its configuration (running jobs go on)"
else
  # The drop-in's ExecStartPre stops this manager's leftover tasks first (the reap).
  systemctl start gitlab-runner || die "gitlab-runner did not start; see: journalctl -u gitlab-runner"
  echo "registered runner '$GFR_NAME' with $GFR_URL; gitlab-runner started"
fi
