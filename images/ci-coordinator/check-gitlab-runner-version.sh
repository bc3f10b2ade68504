#!/bin/sh
# Checks, at image build time, that the installed gitlab-runner is the pinned release. verify-gitlab-runner.sh proves
# the binary is one GitLab signed, but the signed release.sha256 names no version: whoever serves the download bucket
# could serve an older, validly signed release under the pinned version's path.
# Usage: check-gitlab-runner-version.sh PINNED_VERSION BINARY
#   PINNED_VERSION: the GITLAB_RUNNER_VERSION build arg, e.g. v18.5.0 (a leading "v" is ignored).
# Compares it with the "Version:" line of `BINARY --version`; exits non-zero with a message on stderr unless equal.
set -eu

fail() {
  echo "check-gitlab-runner-version: $*" >&2
  exit 1
}

[ "$#" -eq 2 ] || fail "usage: $0 PINNED_VERSION BINARY"
pinned="$1" binary="$2"
[ -n "${pinned}" ] || fail "the pinned GITLAB_RUNNER_VERSION is empty"
[ -f "${binary}" ] || fail "${binary} does not exist"

output="$("${binary}" --version)" || fail "${binary} --version failed"
# "Version:      18.5.0" (gitlab-runner prints the version without the tag's "v").
actual="$(printf '%s\n' "${output}" | awk '$1 == "Version:" { print $2; exit }')"
[ -n "${actual}" ] || fail "${binary} --version printed no \"Version:\" line"

[ "${actual#v}" = "${pinned#v}" ] ||
  fail "${binary} is version ${actual}, not the pinned GITLAB_RUNNER_VERSION ${pinned}:" \
    "the download bucket served another release than the one pinned"
echo "check-gitlab-runner-version: ${binary} is version ${actual}, the pinned GITLAB_RUNNER_VERSION ${pinned}"
