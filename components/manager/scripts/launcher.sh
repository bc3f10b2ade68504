#!/bin/sh
# GitLab custom executor entry point (prepare_exec, run_exec and cleanup_exec; config_exec reads the answer the
# driver rendered at registration): runs the bundled Fargate driver next to this file with the Node.js installed by
# the first-boot script. Node.js 22+ keeps the bundles' compiled code in NODE_COMPILE_CACHE, so later stages start
# without compiling them again.
here=$(dirname "$0")
NODE_COMPILE_CACHE="$here/compile-cache" exec "$here/node/bin/node" "$here/fargate.js" "$@"
