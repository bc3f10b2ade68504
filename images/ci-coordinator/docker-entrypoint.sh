#!/usr/bin/env bash
# Entrypoint of the ci-coordinator job container (run by tini as PID 1).
# The Fargate driver starts each job's task with the job's one-off public key in SSH_PUBLIC_KEY. This script
# authorises that key for root, makes the container's environment visible to SSH sessions, creates fresh host
# keys and runs sshd in the foreground, relaying its log to stderr (the task's log stream).
# It is also the task's dead-man's switch (driver/contract/taskLifetime.ts): it stops sshd and exits, which stops the
# task, when nobody logged in within GITLAB_FARGATE_FIRST_CONTACT_SECONDS of the start (exit code 90), when no SSH
# connection has been open for GITLAB_FARGATE_IDLE_SECONDS (91), or GITLAB_FARGATE_MAX_LIFETIME_SECONDS after the
# start (92). Each check is off when its variable is not set.
set -euo pipefail

readonly ssh_dir=/root/.ssh
readonly host_key=/etc/ssh/ssh_host_ed25519_key

fail() {
  echo "docker-entrypoint.sh: $*" >&2
  exit 1
}

if [[ -z "${SSH_PUBLIC_KEY:-}" ]]; then
  fail "SSH_PUBLIC_KEY is not set. The Fargate driver passes each job's public key in this variable" \
    "(containerOverrides of the ci-coordinator container); refusing to start sshd without it."
fi

umask 077
install -d -m 700 -o root -g root "$ssh_dir"

# Validate before authorising: a malformed key would only show up later as an opaque login failure.
printf '%s\n' "$SSH_PUBLIC_KEY" >"$ssh_dir/authorized_keys.new"
if ! ssh-keygen -l -f "$ssh_dir/authorized_keys.new" >/dev/null 2>&1; then
  rm -f "$ssh_dir/authorized_keys.new"
  fail "SSH_PUBLIC_KEY does not hold an OpenSSH public key (expected e.g. \"ssh-ed25519 AAAA... comment\")."
fi
chmod 600 "$ssh_dir/authorized_keys.new"
mv -f "$ssh_dir/authorized_keys.new" "$ssh_dir/authorized_keys"
unset SSH_PUBLIC_KEY

for name in GITLAB_FARGATE_FIRST_CONTACT_SECONDS GITLAB_FARGATE_IDLE_SECONDS GITLAB_FARGATE_MAX_LIFETIME_SECONDS; do
  if [[ -v $name && ! ${!name} =~ ^[1-9][0-9]{0,8}$ ]]; then
    fail "$name must be a whole number of seconds from 1 to 999999999, not \"${!name}\"."
  fi
done
readonly first_contact=${GITLAB_FARGATE_FIRST_CONTACT_SECONDS-}
readonly idle=${GITLAB_FARGATE_IDLE_SECONDS-}
readonly max_lifetime=${GITLAB_FARGATE_MAX_LIFETIME_SECONDS-}
unset GITLAB_FARGATE_FIRST_CONTACT_SECONDS GITLAB_FARGATE_IDLE_SECONDS GITLAB_FARGATE_MAX_LIFETIME_SECONDS

# sshd starts sessions with a clean environment; hand them the container's own (task definition variables,
# AWS_CONTAINER_CREDENTIALS_RELATIVE_URI of the task role, the image's PATH), minus per-process variables.
env_file="$ssh_dir/environment"
: >"$env_file"
while IFS= read -r name; do
  case "$name" in
    HOME | HOSTNAME | PWD | OLDPWD | SHLVL | _ | TERM) continue ;;
  esac
  value="${!name}"
  [[ "$value" == *$'\n'* ]] && continue
  printf '%s=%s\n' "$name" "$value" >>"$env_file"
done < <(compgen -e)
chmod 600 "$env_file"

if [[ ! -s "$host_key" ]]; then
  ssh-keygen -q -t ed25519 -N '' -C "ci-coordinator@$(hostname)" -f "$host_key"
fi
echo "docker-entrypoint.sh: host key $(ssh-keygen -l -f "$host_key.pub")" >&2

install -d -m 755 /run/sshd
exec {sshd_log}< <(exec /usr/sbin/sshd -D -e 2>&1)
sshd_pid=$!

# Copies one line of sshd's log to stderr, waiting up to $1 seconds for it; fails when none came.
# sshd logs every login ("Accepted publickey for root from ..."), however short the connection.
relay_log_line() {
  local line
  IFS= read -r -t "$1" -u "$sshd_log" line || return 1
  printf '%s\n' "$line" >&2
  if [[ $line == "Accepted "* ]]; then
    logged_in=true
    last_open=$SECONDS
  fi
}

# Whether a TCP connection to sshd's port 22 is established in the task's network namespace.
ssh_connection_open() {
  local table local_address state
  for table in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $table ]] || continue
    while read -r _ local_address _ state _; do
      [[ $local_address == *:0016 && $state == 01 ]] && return 0
    done <"$table"
  done
  return 1
}

# Sends sshd and the connections it serves the signal $1, then SIGKILL to whatever is left after 5 seconds.
stop_sshd() {
  local connections=() i
  { read -ra connections <"/proc/$sshd_pid/task/$sshd_pid/children"; } 2>/dev/null || true
  kill "-$1" "$sshd_pid" "${connections[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$sshd_pid" "${connections[@]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$sshd_pid" "${connections[@]}" 2>/dev/null || true
  while relay_log_line 1; do :; done
}

expire() {
  stop_sshd TERM
  echo "docker-entrypoint.sh: stopping the task (exit code $1): $2" >&2
  exit "$1"
}

# Whether a check is on (limit $1 set) and its limit has passed ($2 seconds elapsed).
past() {
  [[ -n $1 ]] && (($2 >= $1))
}

# ECS stops a task with SIGTERM (tini passes it on to this script); the loop below passes it on to sshd.
received_signal=
trap 'received_signal=TERM' TERM
trap 'received_signal=INT' INT

echo "docker-entrypoint.sh: the task stops itself after (seconds) first contact ${first_contact:-off}," \
  "idle ${idle:-off}, max lifetime ${max_lifetime:-off}" >&2
logged_in=false
last_open=0
while kill -0 "$sshd_pid" 2>/dev/null; do
  relay_log_line 1 || true
  if ssh_connection_open; then
    logged_in=true
    last_open=$SECONDS
  fi
  if [[ -n $received_signal ]]; then
    stop_sshd "$received_signal"
  elif past "$max_lifetime" "$SECONDS"; then
    expire 92 "it ran for $SECONDS s, GITLAB_FARGATE_MAX_LIFETIME_SECONDS=$max_lifetime"
  elif ! $logged_in && past "$first_contact" "$SECONDS"; then
    expire 90 "no SSH login in its first $SECONDS s, GITLAB_FARGATE_FIRST_CONTACT_SECONDS=$first_contact"
  # Idle time counts from the last open connection; before the first login, from the start unless the first-contact
  # deadline applies instead.
  elif { $logged_in || [[ -z $first_contact ]]; } && past "$idle" $((SECONDS - last_open)); then
    expire 91 "no SSH connection for $((SECONDS - last_open)) s, GITLAB_FARGATE_IDLE_SECONDS=$idle"
  fi
done
# sshd ended, by itself or on the signal passed on: the container ends with its status, its last lines logged.
while relay_log_line 1; do :; done
status=0
wait "$sshd_pid" || status=$?
exit "$status"
