#!/bin/sh
# install-job-tools <tools directory>
# Entrypoint of the `gitlab-tools` container of a job with `image:` (installed as /usr/local/bin/install-job-tools).
# It copies this image's static busybox (Debian's busybox-static) into the task volume that every container of the
# task mounts at /gitlab-fargate-tools, and checks that the copy runs there. The `build` container's first process
# is that busybox ("the pause": `/gitlab-fargate-tools/busybox sleep 2147483647`), and enter-build-container runs a
# shell with it when the job's image has none, so the job's image needs neither a shell nor any other tool.
# Exit status: 0 when <dir>/busybox is in place and runs; 1 with one line on stderr otherwise (the `build` container
# depends on this container's SUCCESS, so the task then stops instead of running a job that cannot be entered).
# INSTALL_JOB_TOOLS_BUSYBOX replaces the source file (/bin/busybox); it exists for this script's tests only.
set -eu

fail() {
  echo "install-job-tools: $*" >&2
  exit 1
}

[ "$#" -eq 1 ] || fail "usage: install-job-tools <tools directory> (got $# arguments)"
dir=$1
source=${INSTALL_JOB_TOOLS_BUSYBOX:-/bin/busybox}

[ -n "$dir" ] || fail "the tools directory argument is empty"
[ -e "$dir" ] || fail "the tools directory $dir does not exist (is the task volume mounted there?)"
[ -d "$dir" ] || fail "the tools directory $dir is not a directory"
[ -w "$dir" ] || fail "the tools directory $dir is not writable (mount the task volume read-write in this container)"
[ -f "$source" ] || fail "$source is missing: this image lacks Debian's busybox-static package"

# Copy beside the target, then rename: a reader never sees a half-written busybox.
target=$dir/busybox
partial=$dir/.busybox.partial.$$
if ! { cp "$source" "$partial" && chmod 0755 "$partial" && mv -f "$partial" "$target"; } 2>/dev/null; then
  rm -f "$partial"
  fail "could not copy $source to $target"
fi
if ! "$target" true >/dev/null 2>&1; then
  rm -f "$target"
  fail "$target does not run (is the tools volume mounted noexec, or is $source not a busybox for this CPU?)"
fi
echo "install-job-tools: installed $target"
