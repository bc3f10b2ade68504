/**
 * Where things live on the manager: the paths the first-boot script creates and config.toml and fargate.toml name.
 * The driver and the registration scripts still write some of them out themselves (driver/stages/config.ts,
 * driver/settings.ts, scripts/register.sh).
 */
export const MANAGER_PATHS = {
  configDirectory: "/etc/gitlab-runner",
  fargateConfigFile: "/etc/gitlab-runner/fargate.toml",
  caCertificateFile: "/etc/gitlab-runner/certs/ca.crt",
  launcher: "/opt/gitlab-runner/fargate",
  nodeDirectory: "/opt/gitlab-runner/node",
  buildsDirectory: "/opt/gitlab-runner/builds",
  cacheDirectory: "/opt/gitlab-runner/cache",
  metadataDirectory: "/opt/gitlab-runner/metadata",
} as const;
