#!/usr/bin/env bash
# enter-build-container: runs a job's script inside the `build` container of its Fargate task (jobs with `image:`).
# Installed as /usr/local/bin/enter-build-container; runs as root in ci-coordinator, over the job's SSH connection.
#
#   enter-build-container <script
#       Runs the script read from stdin in the job's image: its filesystem, working directory, user (uid and gid)
#       and environment, with the image's `bash` if its PATH has one, else its `sh`, else busybox's sh from the
#       tools volume. This command never reads stdin itself: the shell reads the script from it.
#   enter-build-container --hosts "<name> …"
#       Adds the line "127.0.0.1 <name> …" to the build container's /etc/hosts (services' aliases), as root.
#       Names may hold letters, digits, ".", "-" and "_" only. stdin is not read.
#
# How: every container of the task shares one PID namespace (pidMode "task"). The build container's first process,
# "the pause", is `/gitlab-fargate-tools/busybox sleep 2147483647`, started as the image's USER; a container's first
# process has parent PID 0 there (its parent is outside the namespace), whereas anything a job starts has a parent
# inside it. This command waits for exactly one such process, then enters the image's filesystem through
# /proc/<pause>/root with nsenter, as the pause's effective uid and gid, with only the pause's environment.
# Reading another user's /proc/<pid>/environ and /proc/<pid>/root needs SYS_PTRACE, which the driver adds to
# ci-coordinator; chroot needs SYS_CHROOT, one of Fargate's default capabilities.
#
# Exit status: the script's own status (a shell killed by a signal is reported as that signal), or 125 when this
# command fails before the script starts (no pause or several, unreadable pause, no process can be started in the
# build container, bad arguments), with the line "enter-build-container: <why>" last on stderr. 125 is what env,
# chroot and docker run use for "the wrapper failed, not the command". `--hosts` exits 0 or 125.
#
# Environment: ENTER_BUILD_CONTAINER_WAIT_SECONDS, how long to wait for the pause to appear (whole seconds,
# default 60).
set -euo pipefail
shopt -s nullglob
# Byte-wise matching and ASCII ranges in patterns, whatever the session's locale.
LC_ALL=C

readonly FAILURE=125
readonly TOOLS_DIR=/gitlab-fargate-tools
readonly TOOLS_BUSYBOX=$TOOLS_DIR/busybox
readonly PAUSE_ARGV=("$TOOLS_BUSYBOX" sleep 2147483647)
# Docker's PATH, used to look for a shell when the pause has no PATH variable.
readonly DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

fail() {
  echo "enter-build-container: $*" >&2
  exit "$FAILURE"
}

wait_seconds=${ENTER_BUILD_CONTAINER_WAIT_SECONDS:-60}
[[ $wait_seconds =~ ^[0-9]{1,6}$ ]] ||
  fail "ENTER_BUILD_CONTAINER_WAIT_SECONDS must be a whole number of seconds, not \"$wait_seconds\""

# Sets status_ppid, status_uid and status_gid (effective ids) from /proc/$1/status; false when unreadable.
read_status() {
  local key first second rest
  status_ppid="" status_uid="" status_gid=""
  {
    while IFS=$'\t' read -r key first second rest; do
      case $key in
        PPid:) status_ppid=$first ;;
        Uid:) status_uid=$second ;;
        Gid:) status_gid=$second ;;
      esac
    done
  } 2>/dev/null <"/proc/$1/status" || return 1
  [[ -n $status_ppid && -n $status_uid && -n $status_gid ]]
}

# True when /proc/$1/cmdline is exactly the pause's arguments, each one NUL-terminated.
is_pause_cmdline() {
  local argument="" arguments=()
  {
    while IFS= read -r -d '' argument; do arguments+=("$argument"); done
  } 2>/dev/null <"/proc/$1/cmdline" || return 1
  # After the loop, $argument holds what followed the last NUL: nothing for an exact match.
  [[ -z $argument && ${#arguments[@]} -eq ${#PAUSE_ARGV[@]} ]] || return 1
  local i
  for i in "${!PAUSE_ARGV[@]}"; do
    [[ ${arguments[i]} == "${PAUSE_ARGV[i]}" ]] || return 1
  done
}

# False when /proc/$1/mountinfo is readable and shows no mount at the tools directory: a service container (its
# image and command are the job's) may run the pause's command line too, but only the build container mounts the
# tools volume. Unreadable (a non-root pause without SYS_PTRACE here) counts as true: entering it fails clearly later.
has_tools_mount() {
  local mountinfo line fields
  mountinfo=$(cat "/proc/$1/mountinfo" 2>/dev/null) || return 0
  while IFS= read -r line; do
    read -r -a fields <<<"$line"
    [[ ${fields[4]-} == "$TOOLS_DIR" ]] && return 0
  done <<<"$mountinfo"
  return 1
}

# Sets pauses to the PIDs of the container-entry processes (parent PID 0) running the pause, with the tools mounted.
find_pauses() {
  local entry pid
  pauses=()
  for entry in /proc/[0-9]*; do
    pid=${entry#/proc/}
    read_status "$pid" || continue
    [[ $status_ppid == 0 ]] || continue
    is_pause_cmdline "$pid" && has_tools_mount "$pid" && pauses+=("$pid")
  done
  return 0
}

# Sets pause_pid once exactly one pause runs; fails when several do, or when none appears in time.
wait_for_pause() {
  local now=${EPOCHREALTIME//[!0-9]/}
  local deadline=$((now + wait_seconds * 1000000))
  while :; do
    find_pauses
    case ${#pauses[@]} in
      1)
        pause_pid=${pauses[0]}
        return 0
        ;;
      0) ;;
      *)
        fail "found ${#pauses[@]} processes that look like the build container's pause (PIDs ${pauses[*]})," \
          "expected exactly one: is this task's PID namespace shared with another build container?"
        ;;
    esac
    now=${EPOCHREALTIME//[!0-9]/}
    if ((now >= deadline)); then
      fail "the build container did not start: no process \"${PAUSE_ARGV[*]}\" with parent PID 0 appeared" \
        "within ${wait_seconds}s (does the task use pidMode \"task\", and did the gitlab-tools container succeed?)"
    fi
    sleep 0.1
  done
}

# Sets pause_uid and pause_gid (effective) of the pause.
read_pause_ids() {
  read_status "$pause_pid" ||
    fail "cannot read /proc/$pause_pid/status: the build container's pause (PID $pause_pid) exited"
  pause_uid=$status_uid
  pause_gid=$status_gid
}

# Fails unless this process may read the pause's environment and root directory (the same kernel check).
require_pause_access() {
  # Opening another user's environ succeeds and reading it fails, which `read` would take for its end: cat tells.
  if ! cat "/proc/$pause_pid/environ" >/dev/null 2>&1; then
    [[ -e /proc/$pause_pid ]] || fail "the build container's pause (PID $pause_pid) exited"
    fail "cannot read the environment of the build container's pause (PID $pause_pid, uid $pause_uid):" \
      "entering a container whose user is not root needs the SYS_PTRACE capability in ci-coordinator" \
      "(linuxParameters.capabilities.add)"
  fi
}

# Sets image_environment to the pause's variables (NAME=value entries; values may hold newlines).
read_pause_environment() {
  local entry=""
  image_environment=()
  {
    while IFS= read -r -d '' entry || [[ -n $entry ]]; do
      [[ $entry == [!=]*=* ]] && image_environment+=("$entry")
      entry=""
    done
  } 2>/dev/null <"/proc/$pause_pid/environ" || fail "the build container's pause (PID $pause_pid) exited"
}

# Sets in_image to the command that runs its arguments (NAME=value… command…) in the image's filesystem and
# working directory, as uid $1 and gid $2, with an empty environment plus the NAME=value arguments.
in_image_as() {
  in_image=(nsenter --target "$pause_pid" --root --wd --setuid "$1" --setgid "$2" -- "$TOOLS_BUSYBOX" env -i --)
}

# A POSIX sh program that prints the path of the first executable file named bash, else sh, in the directories of
# its first argument (a PATH). Busybox's own `command -v sh` would name its applet even where the image has no sh.
# shellcheck disable=SC2016 # Expanded by that sh.
readonly FIND_SHELL='
set -f
IFS=:
for name in bash sh; do
  for dir in $1; do
    [ -n "$dir" ] || dir=.
    if [ -f "$dir/$name" ] && [ -x "$dir/$name" ]; then
      printf "%s\n" "$dir/$name"
      exit 0
    fi
  done
done'

run_script() {
  wait_for_pause
  read_pause_ids
  require_pause_access
  read_pause_environment
  local search_path=$DEFAULT_PATH entry
  for entry in "${image_environment[@]}"; do
    [[ $entry == PATH=* ]] && search_path=${entry#PATH=}
  done
  local found
  in_image_as "$pause_uid" "$pause_gid"
  found=$("${in_image[@]}" "$TOOLS_BUSYBOX" sh -c "$FIND_SHELL" sh "$search_path" </dev/null) ||
    fail "cannot start a process in the build container (pause PID $pause_pid, uid $pause_uid, gid" \
      "$pause_gid); nsenter's message is above"
  # env would take a path holding "=" for a variable and run nothing.
  [[ $found != *=* ]] || fail "refusing the image's shell \"$found\": its path contains \"=\""
  local shell=("$TOOLS_BUSYBOX" sh)
  [[ -n $found ]] && shell=("$found")
  # The shell reads the script from this command's stdin, untouched.
  exec "${in_image[@]}" "${image_environment[@]}" "${shell[@]}"
}

# An sh program that appends the line $1 to /etc/hosts, first ending an unterminated last line. $0 is the tools'
# busybox, to run applets by: its sh would find them through /proc/self/exe, which an image without /proc lacks.
# shellcheck disable=SC2016 # Expanded by that sh.
readonly APPEND_HOSTS_LINE='
file=/etc/hosts
# As root, a symbolic link could lead anywhere through /proc/<pid>/root: only a real /etc and a regular file.
if [ -L /etc ] || [ ! -d /etc ] || [ -L "$file" ] || { [ -e "$file" ] && [ ! -f "$file" ]; }; then
  echo "/etc/hosts of the image is not a regular file in a directory (a link, a pipe…): not writing to it" >&2
  exit 1
fi
if [ -s "$file" ] && [ -n "$("$0" tail -c 1 "$file")" ]; then
  printf "\n" >>"$file" || exit 1
fi
printf "%s\n" "$1" >>"$file"'

add_hosts() {
  local names=() name
  [[ $1 != *$'\n'* ]] || fail "refusing --hosts \"$1\": host names are separated by spaces, on one line"
  IFS=' ' read -r -a names <<<"$1"
  ((${#names[@]} > 0)) || fail "--hosts needs at least one host name"
  for name in "${names[@]}"; do
    [[ $name =~ ^[A-Za-z0-9._-]+$ ]] ||
      fail "refusing host name \"$name\": only letters, digits, \".\", \"-\" and \"_\" are allowed"
  done
  wait_for_pause
  read_pause_ids
  require_pause_access
  # Written as root from inside the image's root directory, and only to a regular file (see APPEND_HOSTS_LINE).
  in_image_as 0 0
  "${in_image[@]}" "$TOOLS_BUSYBOX" sh -c "$APPEND_HOSTS_LINE" "$TOOLS_BUSYBOX" "127.0.0.1 ${names[*]}" </dev/null ||
    fail "cannot add \"127.0.0.1 ${names[*]}\" to the build container's /etc/hosts (pause PID $pause_pid)"
}

case ${1-} in
  "")
    (($# == 0)) || fail "the argument is empty (usage: enter-build-container <script, or --hosts \"<name> …\")"
    run_script
    ;;
  --hosts)
    (($# == 2)) || fail "usage: enter-build-container --hosts \"<name> …\" (one argument after --hosts)"
    add_hosts "$2"
    ;;
  *)
    fail "unknown argument \"$1\" (usage: enter-build-container <script, or --hosts \"<name> …\")"
    ;;
esac
