import { strict as assert } from "node:assert";
import * as iarna from "@iarna/toml";
import { parse as smolParse } from "smol-toml";
import {
  FargateConfigInput,
  ManagerConfigurationInput,
  renderFargateToml,
  renderGlobalConfigToml,
  renderManagerConfiguration,
  renderRunnerTemplateToml,
} from "../../../components/manager/runnerConfig";
import { parseFargateToml as parseSettings } from "../../../driver/contract/fargateToml";

/**
 * Every key we may emit into gitlab-runner's config.toml / template, with where gitlab-runner reads it.
 * Source: gitlab-runner common/config.go (struct tags `toml:"…"`), mirrored in
 * https://docs.gitlab.com/runner/configuration/advanced-configuration/
 */
const GITLAB_RUNNER_KEYS: Record<string, string> = {
  concurrent: "Config.Concurrent",
  check_interval: "Config.CheckInterval",
  log_level: "Config.LogLevel",
  log_format: "Config.LogFormat",
  shutdown_timeout: "Config.ShutdownTimeout",
  "runners.executor": "RunnerSettings.Executor",
  "runners.builds_dir": "RunnerSettings.BuildsDir",
  "runners.cache_dir": "RunnerSettings.CacheDir",
  "runners.shell": "RunnerSettings.Shell",
  "runners.environment": "RunnerSettings.Environment",
  "runners.limit": "RunnerConfig.Limit",
  "runners.request_concurrency": "RunnerConfig.RequestConcurrency",
  "runners.output_limit": "RunnerConfig.OutputLimit",
  "runners.tls-ca-file": "RunnerCredentials.TLSCAFile",
  "runners.custom.config_exec": "CustomConfig.ConfigExec",
  "runners.custom.config_args": "CustomConfig.ConfigArgs",
  "runners.custom.config_exec_timeout": "CustomConfig.ConfigExecTimeout",
  "runners.custom.prepare_exec": "CustomConfig.PrepareExec",
  "runners.custom.prepare_args": "CustomConfig.PrepareArgs",
  "runners.custom.prepare_exec_timeout": "CustomConfig.PrepareExecTimeout",
  "runners.custom.run_exec": "CustomConfig.RunExec",
  "runners.custom.run_args": "CustomConfig.RunArgs",
  "runners.custom.cleanup_exec": "CustomConfig.CleanupExec",
  "runners.custom.cleanup_args": "CustomConfig.CleanupArgs",
  "runners.custom.cleanup_exec_timeout": "CustomConfig.CleanupExecTimeout",
  "runners.custom.graceful_kill_timeout": "CustomConfig.GracefulKillTimeout",
  "runners.custom.force_kill_timeout": "CustomConfig.ForceKillTimeout",
  "runners.cache.Type": "CacheConfig.Type",
  "runners.cache.Path": "CacheConfig.Path",
  "runners.cache.Shared": "CacheConfig.Shared",
  "runners.cache.s3.ServerAddress": "CacheS3Config.ServerAddress",
  "runners.cache.s3.BucketName": "CacheS3Config.BucketName",
  "runners.cache.s3.BucketLocation": "CacheS3Config.BucketLocation",
  "runners.cache.s3.AuthenticationType": "CacheS3Config.AuthenticationType",
  "runners.cache.s3.ServerSideEncryption": "CacheS3Config.ServerSideEncryption",
  "runners.cache.s3.ServerSideEncryptionKeyID": "CacheS3Config.ServerSideEncryptionKeyID",
};

/**
 * Every key the driver reads from fargate.toml. Go-driver keys: GitLab's Fargate guide (seed 000, step 4) and
 * the Go driver's config; our additions: the fargate.toml contract in briefs/common.md and docs/driver.md.
 */
const DRIVER_KEYS: Record<string, string> = {
  LogLevel: "Go driver",
  LogFormat: "Go driver",
  "Fargate.Cluster": "Go driver",
  "Fargate.Region": "Go driver",
  "Fargate.Subnet": "Go driver",
  "Fargate.SecurityGroup": "Go driver",
  "Fargate.TaskDefinition": "Go driver",
  "Fargate.EnablePublicIP": "Go driver",
  "Fargate.UsePublicIP": "Go driver",
  "Fargate.PlatformVersion": "Go driver",
  "TaskMetadata.Directory": "Go driver",
  "SSH.Username": "Go driver",
  "SSH.Port": "Go driver",
  "Fargate.Subnets": "ours",
  "Fargate.SecurityGroups": "ours",
  "Fargate.ContainerName": "ours",
  "Fargate.AllowedTaskDefinitions": "ours",
  "Fargate.MaxTaskCPU": "ours",
  "Fargate.MaxTaskMemory": "ours",
  "Fargate.CapacityProviderStrategy.CapacityProvider": "ours",
  "Fargate.CapacityProviderStrategy.Weight": "ours",
  "Fargate.CapacityProviderStrategy.Base": "ours",
  "Fargate.Tags.*": "ours (free-form tag keys)",
  "Fargate.AllowedImages": "ours",
  "Fargate.AllowedServices": "ours",
  "Fargate.RegistryCredentials.*": "ours (free-form registry hosts)",
  "Timeouts.TaskRunning": "ours",
  "Timeouts.SSHReady": "ours",
  "Timeouts.TaskIdle": "ours",
  "Manager.ID": "ours",
};

/** Parses with both parsers and checks they agree; returns the parsed document. */
function parseBoth(text: string): Record<string, unknown> {
  const smol = JSON.parse(JSON.stringify(smolParse(text)));
  const other = JSON.parse(JSON.stringify(iarna.parse(text)));
  assert.deepEqual(smol, other, "smol-toml and @iarna/toml read the file differently");
  return smol;
}

/** Dotted paths of every leaf key; arrays of tables share their parent's path. */
function keyPaths(value: unknown, prefix = ""): string[] {
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "object" && v !== null)) {
    return value.flatMap((item) => keyPaths(item, prefix));
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([key, child]) => keyPaths(child, prefix ? `${prefix}.${key}` : key));
  }
  return [prefix];
}

function assertOnlyKnownKeys(document: Record<string, unknown>, known: Record<string, string>): void {
  for (const key of keyPaths(document)) {
    const wildcard = key.replace(/^(Fargate\.(Tags|RegistryCredentials))\..+$/, "$1.*");
    assert.ok(known[key] ?? known[wildcard], `emitted key "${key}" is not one the reader knows`);
  }
}

const privateTasks: FargateConfigInput = {
  cluster: "ci-cluster",
  region: "eu-west-1",
  subnets: ["subnet-0a1b2c3d", "subnet-0e0f1a2b"],
  securityGroups: ["sg-0123abcd"],
  taskDefinition: "ci-coordinator:7",
};

const publicTasks: FargateConfigInput = { ...privateTasks, enablePublicIp: true, usePublicIp: true };

const cache = { bucketName: "ci-cache-123", region: "eu-west-1" };
const GHCR_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ghcr-GhCr01";
const LOCAL_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:local-L0cal2";

/** Jobs choose their image and services; private registries' credentials. */
const imageTasks: FargateConfigInput = {
  ...privateTasks,
  allowedImages: ["registry.example.com/ci/*", "node:2?", "registry.example.com/ci/*"],
  allowedServices: ["postgres:*"],
  registryCredentials: { "ghcr.io": GHCR_SECRET, "localhost:5000": LOCAL_SECRET },
};

const scenarios: Record<string, ManagerConfigurationInput> = {
  defaults: { fargate: privateTasks },
  "public tasks": { fargate: publicTasks },
  "cache on": { fargate: privateTasks, template: { cache } },
  "private CA": { fargate: privateTasks, template: { privateCa: true } },
  "image tasks": { fargate: imageTasks },
  "everything set": {
    fargate: {
      ...privateTasks,
      platformVersion: "1.4.0",
      containerName: "ci-coordinator",
      allowedTaskDefinitions: ["other:2", "other"],
      maxTaskSize: { cpu: 4096, memory: 16384 },
      capacityProviderStrategy: [
        { capacityProvider: "FARGATE_SPOT", weight: 3 },
        { capacityProvider: "FARGATE", base: 1 },
      ],
      tags: { team: "platform", "cost-center": "42" },
      taskRunningTimeoutSeconds: 900,
      sshReadyTimeoutSeconds: 120,
      taskIdleSeconds: 1800,
      managerId: "i-0123456789abcdef0",
      logLevel: "debug",
      logFormat: "json",
      sshUsername: "ci",
      sshPort: 2222,
    },
    global: { concurrent: 4, checkIntervalSeconds: 5, logLevel: "warn", logFormat: "json", shutdownTimeoutSeconds: 60 },
    template: {
      limit: 4,
      requestConcurrency: 2,
      outputLimitKiB: 8192,
      environment: ["FOO=bar", "EMPTY="],
      privateCa: true,
      configExecTimeoutSeconds: 30,
      cleanupExecTimeoutSeconds: 200,
      gracefulKillTimeoutSeconds: 120,
      forceKillTimeoutSeconds: 30,
      cache: { ...cache, path: "runner", shared: true, serverSideEncryption: "KMS", kmsKeyId: "alias/ci-cache" },
    },
  },
};

describe("runnerConfig: generated TOML", () => {
  for (const [title, input] of Object.entries(scenarios)) {
    it(`${title}: every file parses identically with two TOML parsers and holds only known keys`, () => {
      const files = renderManagerConfiguration(input);
      assertOnlyKnownKeys(parseBoth(files.fargateToml), DRIVER_KEYS);
      assertOnlyKnownKeys(parseBoth(files.globalConfigToml), GITLAB_RUNNER_KEYS);
      const template = parseBoth(files.runnerTemplateToml);
      assertOnlyKnownKeys(template, GITLAB_RUNNER_KEYS);
      assert.equal((template.runners as unknown[]).length, 1, "the template holds exactly one [[runners]]");
      for (const text of Object.values(files)) {
        assert.doesNotMatch(text, /^\s*(token|url|name)\s*=/m, "no credentials or identity in generated files");
      }
    });
  }

  it("the driver's own settings parser reads every scenario's fargate.toml with no unknown key", () => {
    for (const [title, input] of Object.entries(scenarios)) {
      const settings = parseSettings(renderManagerConfiguration(input).fargateToml, title);
      assert.deepEqual(settings.unknownKeys, [], title);
      assert.equal(settings.fargate.cluster, input.fargate.cluster, title);
      assert.deepEqual(settings.fargate.subnets, input.fargate.subnets, title);
      assert.deepEqual(settings.fargate.securityGroups, input.fargate.securityGroups, title);
      assert.equal(settings.fargate.taskDefinition, input.fargate.taskDefinition, title);
      assert.equal(settings.fargate.enablePublicIp, input.fargate.enablePublicIp ?? false, title);
      assert.equal(settings.fargate.usePublicIp, input.fargate.usePublicIp ?? false, title);
      assert.equal(settings.metadataDirectory, "/opt/gitlab-runner/metadata", title);
    }
    const full = parseSettings(renderManagerConfiguration(scenarios["everything set"]).fargateToml, "full");
    assert.deepEqual(full.fargate.tags, { team: "platform", "cost-center": "42" });
    assert.deepEqual(
      { ...full.timeouts },
      { taskRunningSeconds: 900, sshReadySeconds: 120, taskIdleSeconds: 1800, taskMaxLifetimeSeconds: undefined },
    );
    assert.equal(full.managerId, "i-0123456789abcdef0", "the identity the driver tags tasks with and reaps by");
    const bare = parseSettings(renderManagerConfiguration({ fargate: privateTasks }).fargateToml, "bare");
    assert.equal(bare.managerId, undefined);
    assert.equal(bare.timeouts.taskIdleSeconds, 600, "the driver's default when the component sets none");
    assert.equal(full.fargate.platformVersion, "1.4.0");
  });

  it("defaults: private tasks, GitLab's guide layout for the custom executor, no cache", () => {
    const files = renderManagerConfiguration({ fargate: privateTasks });
    assert.deepEqual(parseBoth(files.fargateToml), {
      LogLevel: "info",
      LogFormat: "text",
      Fargate: {
        Cluster: "ci-cluster",
        Region: "eu-west-1",
        Subnet: "subnet-0a1b2c3d",
        Subnets: ["subnet-0a1b2c3d", "subnet-0e0f1a2b"],
        SecurityGroup: "sg-0123abcd",
        SecurityGroups: ["sg-0123abcd"],
        TaskDefinition: "ci-coordinator:7",
        EnablePublicIP: false,
        UsePublicIP: false,
      },
      TaskMetadata: { Directory: "/opt/gitlab-runner/metadata" },
      SSH: { Username: "root", Port: 22 },
    });
    assert.deepEqual(parseBoth(files.globalConfigToml), {
      concurrent: 10,
      check_interval: 3,
      log_level: "info",
      log_format: "runner",
      shutdown_timeout: 30,
    });
    const runner = (parseBoth(files.runnerTemplateToml).runners as Record<string, unknown>[])[0];
    assert.equal(runner.executor, "custom");
    assert.equal(runner.builds_dir, "/opt/gitlab-runner/builds");
    assert.equal(runner.cache_dir, "/opt/gitlab-runner/cache");
    assert.equal(runner.cache, undefined);
    assert.equal(runner["tls-ca-file"], undefined);
    const custom = runner.custom as Record<string, unknown>;
    // The config stage reads the answer rendered at registration (test/components/manager/scripts/register.test.ts).
    assert.equal(custom.config_exec, "/bin/cat");
    assert.deepEqual(custom.config_args, ["/opt/gitlab-runner/config-stage.json"]);
    for (const stage of ["prepare", "run", "cleanup"]) {
      assert.equal(custom[`${stage}_exec`], "/opt/gitlab-runner/fargate");
      assert.deepEqual(custom[`${stage}_args`], ["--config", "/etc/gitlab-runner/fargate.toml", "custom", stage]);
    }
    assert.equal(custom.prepare_exec_timeout, 1200);
  });

  it("public tasks: EnablePublicIP and UsePublicIP are both true", () => {
    const fargate = parseBoth(renderFargateToml(publicTasks)).Fargate as Record<string, unknown>;
    assert.equal(fargate.EnablePublicIP, true);
    assert.equal(fargate.UsePublicIP, true);
  });

  it("cache on: S3 with the instance profile (iam), bucket, region and encryption", () => {
    const runner = (parseBoth(renderRunnerTemplateToml({ cache })).runners as Record<string, unknown>[])[0];
    assert.deepEqual(runner.cache, {
      Type: "s3",
      Shared: false,
      s3: {
        ServerAddress: "s3.eu-west-1.amazonaws.com",
        BucketName: "ci-cache-123",
        BucketLocation: "eu-west-1",
        AuthenticationType: "iam",
        ServerSideEncryption: "S3",
      },
    });
  });

  it("private CA: tls-ca-file points at the installed certificate", () => {
    const runner = (parseBoth(renderRunnerTemplateToml({ privateCa: true })).runners as Record<string, unknown>[])[0];
    assert.equal(runner["tls-ca-file"], "/etc/gitlab-runner/certs/ca.crt");
  });

  it("everything set: capacity providers, tags and timeouts reach fargate.toml", () => {
    const doc = parseBoth(renderManagerConfiguration(scenarios["everything set"]).fargateToml);
    const fargate = doc.Fargate as Record<string, unknown>;
    assert.deepEqual(fargate.CapacityProviderStrategy, [
      { CapacityProvider: "FARGATE_SPOT", Weight: 3, Base: 0 },
      { CapacityProvider: "FARGATE", Weight: 1, Base: 1 },
    ]);
    assert.deepEqual(fargate.Tags, { team: "platform", "cost-center": "42" });
    assert.deepEqual(fargate.AllowedTaskDefinitions, ["other:2", "other"]);
    assert.equal(fargate.PlatformVersion, "1.4.0");
    assert.deepEqual(doc.Timeouts, { TaskRunning: 900, SSHReady: 120, TaskIdle: 1800 });
    assert.deepEqual(doc.Manager, { ID: "i-0123456789abcdef0" });
    assert.deepEqual(doc.SSH, { Username: "ci", Port: 2222 });
  });

  it("image tasks: AllowedImages and AllowedServices (each pattern once), RegistryCredentials by host", () => {
    const fargate = parseBoth(renderFargateToml(imageTasks)).Fargate as Record<string, unknown>;
    assert.deepEqual(fargate.AllowedImages, ["registry.example.com/ci/*", "node:2?"]);
    assert.deepEqual(fargate.AllowedServices, ["postgres:*"]);
    assert.deepEqual(fargate.RegistryCredentials, { "ghcr.io": GHCR_SECRET, "localhost:5000": LOCAL_SECRET });
    const settings = parseSettings(renderFargateToml(imageTasks), "image tasks").fargate;
    assert.deepEqual(settings.allowedImages, ["registry.example.com/ci/*", "node:2?"]);
    assert.deepEqual(settings.allowedServices, ["postgres:*"]);
    assert.deepEqual(settings.registryCredentials, { "ghcr.io": GHCR_SECRET, "localhost:5000": LOCAL_SECRET });
  });

  it('"*" allows every image; [] and absent lists write no key (the driver then ignores image: / services:)', () => {
    const all = parseBoth(renderFargateToml({ ...privateTasks, allowedImages: ["*"], allowedServices: ["*"] }));
    assert.deepEqual((all.Fargate as Record<string, unknown>).AllowedImages, ["*"]);
    assert.deepEqual((all.Fargate as Record<string, unknown>).AllowedServices, ["*"]);
    for (const off of [
      { ...privateTasks, allowedImages: [], allowedServices: [], registryCredentials: {} },
      privateTasks,
    ]) {
      const fargate = parseBoth(renderFargateToml(off)).Fargate as Record<string, unknown>;
      for (const key of ["AllowedImages", "AllowedServices", "RegistryCredentials"]) {
        assert.ok(!(key in fargate), `${key} is not written`);
      }
      const settings = parseSettings(renderFargateToml(off), "off").fargate;
      assert.equal(settings.allowedImages, undefined);
      assert.equal(settings.allowedServices, undefined);
    }
  });

  it("duplicate subnets and security groups are written once", () => {
    const fargate = parseBoth(
      renderFargateToml({
        ...privateTasks,
        subnets: ["subnet-0a1b2c3d", "subnet-0a1b2c3d"],
        securityGroups: ["sg-0123abcd", "sg-0123abcd"],
      }),
    ).Fargate as Record<string, unknown>;
    assert.deepEqual(fargate.Subnets, ["subnet-0a1b2c3d"]);
    assert.deepEqual(fargate.SecurityGroups, ["sg-0123abcd"]);
  });

  it("the default prepare timeout grows with the driver's waits", () => {
    const files = renderManagerConfiguration({
      fargate: { ...privateTasks, taskRunningTimeoutSeconds: 1500, sshReadyTimeoutSeconds: 300 },
    });
    const custom = (parseBoth(files.runnerTemplateToml).runners as Record<string, Record<string, unknown>>[])[0].custom;
    assert.equal(custom.prepare_exec_timeout, 2100);
  });
});

describe("runnerConfig: invalid settings name the key", () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      "no subnet",
      () => renderFargateToml({ ...privateTasks, subnets: [] }),
      /Fargate\.Subnet or Fargate\.Subnets is required/,
    ],
    [
      "bad subnet id",
      () => renderFargateToml({ ...privateTasks, subnets: ["sg-1"] }),
      /Fargate\.Subnet "sg-1" does not look/,
    ],
    ["bad group id", () => renderFargateToml({ ...privateTasks, securityGroups: ["x"] }), /Fargate\.SecurityGroup "x"/],
    ["bad region", () => renderFargateToml({ ...privateTasks, region: "Ireland" }), /Fargate\.Region "Ireland"/],
    [
      "bad task definition",
      () => renderFargateToml({ ...privateTasks, taskDefinition: "a b" }),
      /fargate\.taskDefinition/,
    ],
    [
      "public IP without one",
      () => renderFargateToml({ ...privateTasks, usePublicIp: true }),
      /fargate\.usePublicIp: requires fargate\.enablePublicIp/,
    ],
    [
      "bad platform version",
      () => renderFargateToml({ ...privateTasks, platformVersion: "v1" }),
      /Fargate\.PlatformVersion must be LATEST/,
    ],
    [
      "reserved tag",
      () => renderFargateToml({ ...privateTasks, tags: { "aws:x": "y" } }),
      /Fargate\.Tags\.aws:x: the key/,
    ],
    ["bad port", () => renderFargateToml({ ...privateTasks, sshPort: 70000 }), /SSH\.Port must be an integer/],
    [
      "bad weight",
      () =>
        renderFargateToml({ ...privateTasks, capacityProviderStrategy: [{ capacityProvider: "FARGATE", weight: -1 }] }),
      /Fargate\.CapacityProviderStrategy\[0\]\.Weight/,
    ],
    [
      "registry host the driver would never match",
      () => renderFargateToml({ ...privateTasks, registryCredentials: { "GHCR.io": GHCR_SECRET } }),
      /Fargate\.RegistryCredentials\.GHCR\.io "GHCR\.io" is not a registry host/,
    ],
    [
      "registry secret that is not one secret's full ARN",
      () => renderFargateToml({ ...privateTasks, registryCredentials: { "ghcr.io": `${GHCR_SECRET.slice(0, -7)}` } }),
      /Fargate\.RegistryCredentials\.ghcr\.io ".*" is a partial ARN/,
    ],
    [
      "blank image pattern",
      () => renderFargateToml({ ...privateTasks, allowedImages: [" "] }),
      /Fargate\.AllowedImages must be a list of non-empty strings/,
    ],
    ["zero concurrent", () => renderGlobalConfigToml({ concurrent: 0 }), /runner\.concurrent/],
    ["bad log format", () => renderGlobalConfigToml({ logFormat: "xml" as never }), /runner\.logFormat/],
    ["bad environment", () => renderRunnerTemplateToml({ environment: ["NOEQUALS"] }), /runner\.environment/],
    ["kms key without kms", () => renderRunnerTemplateToml({ cache: { ...cache, kmsKeyId: "k" } }), /cache\.kmsKeyId/],
    [
      "prepare shorter than the driver's waits",
      () => renderManagerConfiguration({ fargate: privateTasks, template: { prepareExecTimeoutSeconds: 700 } }),
      /runner\.prepareExecTimeoutSeconds: 700 must exceed/,
    ],
  ];
  for (const [title, render, message] of cases) {
    it(title, () => assert.throws(render, (error: Error) => message.test(String(error))));
  }
});
