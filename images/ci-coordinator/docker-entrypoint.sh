#!/usr/bin/env bash
# Entrypoint of the ci-coordinator job container (run by tini as PID 1).
# The Fargate driver starts each job's task with the job's one-off public key in SSH_PUBLIC_KEY. This script
# authorises that key for root, makes the container's environment visible to SSH sessions, creates fresh host
# keys and replaces itself with sshd in the foreground, logging to stderr (the task's log stream).
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
exec /usr/sbin/sshd -D -e
