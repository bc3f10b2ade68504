# shellcheck shell=sh disable=SC2154 # $log: set by the script that sources this file
# unregister_all CONFIG: unregisters every runner entry of CONFIG from GitLab, gitlab-runner's output going to
# $log. Succeeds only when GitLab confirmed each removal: "gitlab-runner unregister --all-runners" exits 0 even
# when GitLab refuses or cannot be reached; it then logs "Failed to unregister runners" and keeps the entry in CONFIG.
unregister_all() {
  unregister_status=0
  unregister_output=$(gitlab-runner unregister --config "$1" --all-runners </dev/null 2>&1) || unregister_status=$?
  printf '%s\n' "$unregister_output" >>"$log"
  [ "$unregister_status" = 0 ] || return 1
  case $unregister_output in
    *"Failed to unregister"*) return 1 ;;
  esac
  [ -f "$1" ] && ! grep -qF '[[runners]]' "$1"
}
