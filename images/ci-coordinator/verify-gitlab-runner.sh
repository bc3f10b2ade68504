#!/bin/sh
# Verifies a downloaded gitlab-runner binary against its release, at image build time:
#   1. release.sha256 carries a valid OpenPGP signature (release.sha256.asc) made by the key whose primary
#      fingerprint is pinned (any other key in KEY_FILE, or a key fetched from elsewhere, is not accepted);
#   2. release.sha256 lists NAME exactly once, and BINARY has that SHA-256.
# Usage: verify-gitlab-runner.sh FINGERPRINT KEY_FILE RELEASE_SHA256 RELEASE_SHA256_ASC BINARY NAME
# Exits non-zero with a message on stderr when anything does not verify.
set -eu

fail() {
  echo "verify-gitlab-runner: $*" >&2
  exit 1
}

[ "$#" -eq 6 ] || fail "usage: $0 FINGERPRINT KEY_FILE RELEASE_SHA256 RELEASE_SHA256_ASC BINARY NAME"
fingerprint="$(printf '%s' "$1" | tr -d ' ' | tr 'a-f' 'A-F')"
key_file="$2" checksums="$3" signature="$4" binary="$5" name="$6"

printf '%s' "${fingerprint}" | grep -Eqx '[0-9A-F]{40}' ||
  fail "FINGERPRINT must be a 40-digit hexadecimal OpenPGP fingerprint, got '$1'"
for file in "${key_file}" "${checksums}" "${signature}" "${binary}"; do
  [ -f "${file}" ] || fail "${file} does not exist"
done

GNUPGHOME="$(mktemp -d)"
export GNUPGHOME
trap 'rm -rf "${GNUPGHOME}"' EXIT

gpg --batch --quiet --no-autostart --import "${key_file}" 2>/dev/null || fail "${key_file} holds no OpenPGP public key"
# VALIDSIG's last field is the primary key's fingerprint, also when a subkey made the signature.
status="$(gpg --batch --no-autostart --status-fd 1 --verify "${signature}" "${checksums}" 2>/dev/null)" ||
  fail "${signature} is not a valid signature of ${checksums}"
printf '%s\n' "${status}" | awk -v want="${fingerprint}" '$1 == "[GNUPG:]" && $2 == "VALIDSIG" && $NF == want { ok = 1 } END { exit !ok }' ||
  fail "${checksums} is not signed by the pinned key ${fingerprint}"

# Lines are "<sha256>  <path>" (or " *<path>"); paths may start with "./".
expected="$(awk -v want="${name}" '{ path = $2; sub(/^\*/, "", path); sub(/^\.\//, "", path) } path == want { print $1 }' "${checksums}")"
[ -n "${expected}" ] || fail "${checksums} does not list ${name}"
[ "$(printf '%s\n' "${expected}" | wc -l)" -eq 1 ] || fail "${checksums} lists ${name} more than once"
printf '%s' "${expected}" | grep -Eqx '[0-9a-fA-F]{64}' || fail "${checksums} has no SHA-256 for ${name}"
echo "${expected}  ${binary}" | sha256sum -c --quiet - >/dev/null 2>&1 ||
  fail "${binary} does not match the SHA-256 of ${name} in the signed ${checksums}"
echo "verify-gitlab-runner: ${name} matches the release.sha256 signed by ${fingerprint}"
