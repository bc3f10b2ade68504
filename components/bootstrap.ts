/** Options of the manager's first-boot script. */
export interface BootstrapOptions {
  /** CPU architecture of the manager instance. */
  architecture: "amd64" | "arm64";
}

/**
 * The manager's user data (cloud-init). Placeholder until the bootstrap issue lands: it only creates the
 * directories the driver uses.
 */
export function managerUserData(_options: BootstrapOptions): string {
  return ["#!/bin/bash", "set -euo pipefail", "mkdir -p /opt/gitlab-runner/metadata /opt/gitlab-runner/builds /opt/gitlab-runner/cache", ""].join("\n");
}
