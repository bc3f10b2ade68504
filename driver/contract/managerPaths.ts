/**
 * Where things live on the runner manager: the one list the driver, the component (first boot, registration,
 * config.toml) and the manager's shell scripts (which get the values through their environment) all use.
 */
export const MANAGER_PATHS = {
  /** gitlab-runner's configuration directory (mode 0700). */
  configDirectory: "/etc/gitlab-runner",
  /** gitlab-runner's config.toml. */
  configFile: "/etc/gitlab-runner/config.toml",
  /** The `[[runners]]` template given to `gitlab-runner register --template-config`. */
  templateFile: "/etc/gitlab-runner/runner-template.toml",
  /** The driver's settings, passed as `--config` to every stage. */
  fargateConfigFile: "/etc/gitlab-runner/fargate.toml",
  /** The private CA that signs GitLab's certificate, when there is one (`tls-ca-file`). */
  caCertificateFile: "/etc/gitlab-runner/certs/ca.crt",
  /** The driver's home: its bundle, launcher, Node.js and working directories. */
  driverDirectory: "/opt/gitlab-runner",
  /** The bundled driver's entry (dist/driver/fargate.js): everything but the AWS SDK. */
  driverBundle: "/opt/gitlab-runner/fargate.js",
  /** The AWS SDK part of the driver (dist/driver/awsSdk.js), which the entry requires from its own directory. */
  driverSdkBundle: "/opt/gitlab-runner/awsSdk.js",
  /** What gitlab-runner executes for the custom-executor stages: the bundle on the pinned Node.js. */
  launcher: "/opt/gitlab-runner/fargate",
  /**
   * The config stage's answer, rendered by the driver at registration (it never changes for a manager):
   * gitlab-runner's config_exec only reads it.
   */
  configStageAnswer: "/opt/gitlab-runner/config-stage.json",
  /** The pinned Node.js the launcher runs. */
  nodeDirectory: "/opt/gitlab-runner/node",
  /** `builds_dir`: where jobs check out their project (inside the job's task). */
  buildsDirectory: "/opt/gitlab-runner/builds",
  /** `cache_dir`: gitlab-runner's local cache directory (inside the job's task). */
  cacheDirectory: "/opt/gitlab-runner/cache",
  /** fargate.toml's `TaskMetadata.Directory`: one file per running job (mode 0700). */
  metadataDirectory: "/opt/gitlab-runner/metadata",
  /** Logs of the registration scripts. */
  logDirectory: "/var/log/gitlab-fargate-runner",
} as const;
