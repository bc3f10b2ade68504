#!/bin/bash
#@ The template of the manager's first-boot script (EC2 user data), rendered by managerUserData (bootstrap.ts):
#@ every @NAME@ becomes its validated value and these #@ lines are dropped. User data has no environment, and a
#@ change of it replaces the manager, so the rendered text must stay exactly what the values make it.
# First boot of the GitLab runner manager (cloud-init user data); no secrets. The deployment waits for it with
# "cloud-init status --wait", then registers the runner over SSH. Output: /var/log/cloud-init-output.log
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

GITLAB_RUNNER_VERSION='@GITLAB_RUNNER_VERSION@'
GITLAB_KEY_FINGERPRINT='@GITLAB_KEY_FINGERPRINT@'
NODE_VERSION='@NODE_VERSION@'
NODE_TARBALL='@NODE_TARBALL@'
NODE_SHA256='@NODE_SHA256@'
KEYRING=/usr/share/keyrings/gitlab-runner-archive-keyring.gpg

log() { echo "gitlab-fargate-runner bootstrap: $*"; }

# Package mirrors and downloads can fail for a while as the instance's network comes up.
retry() {
  local attempt
  for attempt in 1 2 3 4 5; do
    if "$@"; then return 0; fi
    log "attempt $attempt failed: $*"
    sleep $((attempt * 5))
  done
  "$@"
}

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

log "installing prerequisites"
retry apt-get update -q
# openssh-client: the driver keeps one SSH connection per job with it (Ubuntu images have it; minimal ones may not).
retry apt-get install -y -q --no-install-recommends ca-certificates curl gnupg xz-utils openssh-client

log "adding GitLab's runner repository, signed by $GITLAB_KEY_FINGERPRINT"
retry curl -fsSL --proto '=https' -o "$workdir/gitlab.asc" https://packages.gitlab.com/runner/gitlab-runner/gpgkey
install -d -m 0700 "$workdir/gnupg"
gpg --batch --quiet --no-autostart --homedir "$workdir/gnupg" --import "$workdir/gitlab.asc"
gpg --batch --quiet --no-autostart --homedir "$workdir/gnupg" --export "$GITLAB_KEY_FINGERPRINT" >"$workdir/keyring.gpg"
if [ ! -s "$workdir/keyring.gpg" ]; then
  log "the key served by packages.gitlab.com is not $GITLAB_KEY_FINGERPRINT; refusing to trust it"
  exit 1
fi
install -m 0644 "$workdir/keyring.gpg" "$KEYRING"
codename=$(awk -F= '$1 == "VERSION_CODENAME" { print $2 }' /etc/os-release)
echo "deb [signed-by=$KEYRING] https://packages.gitlab.com/runner/gitlab-runner/ubuntu/ $codename main" \
  >/etc/apt/sources.list.d/gitlab-runner.list

log "installing gitlab-runner $GITLAB_RUNNER_VERSION"
retry apt-get update -q
retry apt-get install -y -q "gitlab-runner=$GITLAB_RUNNER_VERSION" \
  "gitlab-runner-helper-images=$GITLAB_RUNNER_VERSION"
apt-mark hold gitlab-runner gitlab-runner-helper-images

log "installing Node.js $NODE_VERSION"
retry curl -fsSL --proto '=https' -o "$workdir/$NODE_TARBALL" "https://nodejs.org/dist/v$NODE_VERSION/$NODE_TARBALL"
if ! echo "$NODE_SHA256  $workdir/$NODE_TARBALL" | sha256sum --check --quiet -; then
  log "$NODE_TARBALL does not match its pinned SHA-256; refusing to install it"
  exit 1
fi
rm -rf '@NODE_DIRECTORY@'
install -d -m 0755 '@NODE_DIRECTORY@'
tar -xJf "$workdir/$NODE_TARBALL" -C '@NODE_DIRECTORY@' --strip-components=1 --no-same-owner
'@NODE_DIRECTORY@/bin/node' --version

log "creating the driver's directories"
#@ @DRIVER_DIRECTORY@ is left unquoted (a fixed path, no special characters): the line renders as it always did.
install -d -m 0755 @DRIVER_DIRECTORY@ '@BUILDS_DIRECTORY@' '@CACHE_DIRECTORY@'
install -d -m 0700 '@METADATA_DIRECTORY@' '@CONFIG_DIRECTORY@'

systemctl enable --now gitlab-runner
log "done"
