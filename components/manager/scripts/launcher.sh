#!/bin/sh
# GitLab custom executor entry point (config_exec, prepare_exec, run_exec, cleanup_exec): runs the bundled
# Fargate driver next to this file with the Node.js installed by the first-boot script.
here=$(dirname "$0")
exec "$here/node/bin/node" "$here/fargate.js" "$@"
