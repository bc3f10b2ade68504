#!/bin/sh
# Verifies a downloaded gitlab-runner binary against its release, at image build time:
#   1. release.sha256 carries a good OpenPGP signature (release.sha256.asc) made by the key whose primary
#      fingerprint is pinned (any other key in KEY_FILE, or a key fetched from elsewhere, is not accepted), and that
#      key is neither revoked nor expired (gpg --verify exits 0 for both; only its status lines tell), and the
#      signature itself has not expired (gpg exits 1 for that, like for a bad signature: its status lines tell them
#      apart);
#   2. release.sha256 lists NAME exactly once, and BINARY has that SHA-256.
# release.sha256 names no version: check-gitlab-runner-version.sh then checks the installed binary's version.
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
verified=0
status="$(gpg --batch --no-autostart --status-fd 1 --verify "${signature}" "${checksums}" 2>/dev/null)" || verified=$?
# gpg's status lines (GnuPG doc/DETAILS): per signature exactly one of GOODSIG, EXPSIG, EXPKEYSIG, REVKEYSIG, BADSIG
# or ERRSIG, then, when it is cryptographically valid, VALIDSIG, whose last field is the primary key's fingerprint
# (also when a subkey signed). Only GOODSIG means a key neither revoked nor expired and a signature not expired;
# KEYREVOKED is emitted for a key that verified a signature. KEYEXPIRED is no verdict: gpg also emits it for an
# expired subkey that did not sign. EXPSIG (the signature's own expiry date has passed) makes gpg exit 1.
verdict="$(printf '%s\n' "${status}" | awk -v want="${fingerprint}" '
  $1 != "[GNUPG:]" { next }
  $2 ~ /^(GOODSIG|EXPSIG|EXPKEYSIG|REVKEYSIG|BADSIG|ERRSIG)$/ { result = $2 }
  $2 == "VALIDSIG" && $NF == want { pinned[result] = 1 }
  $2 == "KEYREVOKED" { revoked = 1 }
  END {
    if (revoked || pinned["REVKEYSIG"]) print "revoked"
    else if (pinned["EXPKEYSIG"]) print "expired"
    else if (pinned["EXPSIG"]) print "signature-expired"
    else if (pinned["GOODSIG"]) print "good"
    else print "unsigned"
  }')"
case "${verdict}" in
  good) [ "${verified}" -eq 0 ] || fail "${signature} is not a valid signature of ${checksums}" ;;
  revoked)
    fail "${checksums} is signed by a revoked key (pinned: ${fingerprint}, key file: ${key_file});" \
      "signatures by revoked keys are not trusted"
    ;;
  expired)
    fail "the pinned key ${fingerprint} in ${key_file} has expired: refresh ${key_file} from GitLab's current" \
      "public key (build args GITLAB_RUNNER_GPG_KEY_URL, and GITLAB_RUNNER_GPG_FINGERPRINT if GitLab replaced the key)"
    ;;
  signature-expired)
    fail "the signature ${signature} of ${checksums} by the pinned key ${fingerprint} has expired:" \
      "download the release files again (GitLab may have re-signed them); if they still carry this signature, the" \
      "pinned GITLAB_RUNNER_VERSION is too old: pin a newer release"
    ;;
  *)
    [ "${verified}" -eq 0 ] || fail "${signature} is not a valid signature of ${checksums}"
    fail "${checksums} is not signed by the pinned key ${fingerprint}"
    ;;
esac

# Lines are "<sha256>  <path>" (or " *<path>"); paths may start with "./".
expected="$(awk -v want="${name}" '{ path = $2; sub(/^\*/, "", path); sub(/^\.\//, "", path) } path == want { print $1 }' "${checksums}")"
[ -n "${expected}" ] || fail "${checksums} does not list ${name}"
[ "$(printf '%s\n' "${expected}" | wc -l)" -eq 1 ] || fail "${checksums} lists ${name} more than once"
printf '%s' "${expected}" | grep -Eqx '[0-9a-fA-F]{64}' || fail "${checksums} has no SHA-256 for ${name}"
echo "${expected}  ${binary}" | sha256sum -c --quiet - >/dev/null 2>&1 ||
  fail "${binary} does not match the SHA-256 of ${name} in the signed ${checksums}"
echo "verify-gitlab-runner: ${name} matches the release.sha256 signed by ${fingerprint}"
