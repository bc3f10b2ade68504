/**
 * Turns the manager instance into a registered GitLab runner manager with @pulumi/command, and back:
 * stage the files over SFTP (`remote.CopyToRemote`), then one `remote.Command` that installs them and registers
 * (create and update), and one that drains the instance (stops gitlab-runner gracefully, stops its leftover tasks)
 * and unregisters it when it is deleted or replaced.
 * @see https://www.pulumi.com/registry/packages/command/api-docs/remote/command/
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { remote, types } from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { MANAGER_PATHS } from "../../driver/contract/managerPaths";
import type { GitLabArgs } from "../args";
import { checkAwsId } from "../aws/ids";
import { checkedInput } from "../checks";
import {
  caCertificateBundle,
  checkLegacyRegistration,
  checkRunnerName,
  checkToken,
  chooseToken,
  normaliseGitLabUrl,
} from "../gitlab/arguments";
import {
  CapacityProviderStrategyItem,
  DriverLogFormat,
  DriverLogLevel,
  renderManagerConfiguration,
  RunnerCacheInput,
  RunnerGlobalConfigInput,
  RunnerTemplateInput,
} from "./runnerConfig";
import { LAUNCHER_SCRIPT, REGISTER_SCRIPT, UNREGISTER_SCRIPT } from "./pushedScripts";
import { GITLAB_RUNNER_DROP_IN, renderGitLabRunnerDropIn } from "./systemd";

/** An SSH endpoint (the manager itself, or the bastion in front of it). */
export interface RegistrationSshEndpoint {
  /** Host name or IP, e.g. the manager's Elastic IP. Required. */
  host: pulumi.Input<string>;
  /** Login user. Default `ubuntu` (Ubuntu AMIs); it needs password-less sudo. */
  user?: string;
  /** SSH port. Default 22. */
  port?: number;
  /** OpenSSH or PEM private key. Always stored as a secret. Required for the manager. */
  privateKey?: pulumi.Input<string>;
  /** Expected host key (`ssh-ed25519 AAAA…`). Default: none, the host key is not checked. */
  hostKey?: pulumi.Input<string>;
}

/** How the deployment reaches the manager over SSH. */
export interface RegistrationConnectionArgs extends RegistrationSshEndpoint {
  privateKey: pulumi.Input<string>;
  /** A bastion to jump through (SSH `ProxyJump`). Default: connect directly. */
  proxy?: RegistrationSshEndpoint;
  /**
   * Failed dial attempts tolerated before giving up; the instance may still be booting. Default 60 (with the
   * default per-dial timeout, at least several minutes). `-1`: unlimited.
   */
  dialErrorLimit?: number;
  /** Seconds each dial attempt may take. Default 30. */
  perDialTimeoutSeconds?: number;
}

/**
 * Where the runner registers and with which token (the component's `gitlab` arguments, without `createRunner`:
 * pass the created runner's token as `runnerToken`), checked by the component's own rules (gitlab/arguments.ts). Give
 * exactly one of `runnerToken` and `registrationToken`; the token reaches the manager on the register command's
 * standard input and is stored as a secret.
 * @see https://docs.gitlab.com/runner/register/
 */
export type RegistrationGitLabArgs = Pick<
  GitLabArgs,
  "url" | "runnerToken" | "registrationToken" | "legacyRegistration" | "tlsCaCertificate"
>;

/** gitlab-runner's settings: the global section and the `[[runners]]` template (see runnerConfig.ts). */
export interface RegistrationRunnerArgs
  extends RunnerGlobalConfigInput, Omit<RunnerTemplateInput, "privateCa" | "cache"> {
  /** Runner name written to config.toml (`--name`). Required; one line. */
  name: string;
  /**
   * Minutes gitlab-runner may take to finish its running jobs when it is stopped (SIGQUIT, then systemd's
   * `TimeoutStopSec`; see systemd.ts), 1–1440. Default 60.
   */
  drainTimeoutMinutes?: number;
}

/** The driver's view of ECS (fargate.toml); see {@link renderFargateToml} for each key. */
export interface RegistrationFargateArgs {
  /** ECS cluster name. Required. */
  cluster: pulumi.Input<string>;
  /** AWS region of the cluster. Required. */
  region: pulumi.Input<string>;
  /**
   * Subnets of the job tasks. Required, non-empty. Ids given as strings are checked at once with the driver's rule
   * (`subnet-` and 8 or 17 lowercase hex digits).
   */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Security groups of the job tasks. Required, non-empty. Ids given as strings are checked at once with the driver's
   * rule (`sg-` and 8 or 17 lowercase hex digits).
   */
  securityGroupIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Default task definition, `family:revision`. Required. */
  taskDefinition: pulumi.Input<string>;
  /** Tasks get a public IP (public subnets without NAT). Default false. */
  enablePublicIp?: pulumi.Input<boolean>;
  /**
   * The driver connects to the task's public IP. Default false: a task security group that admits the manager's
   * security group by reference (as the component's does) matches only traffic inside the VPC.
   */
  usePublicIp?: pulumi.Input<boolean>;
  /** Fargate platform version. Default: `LATEST`. */
  platformVersion?: pulumi.Input<string>;
  /** RunTask capacity provider strategy. Default: the cluster's default strategy. */
  capacityProviderStrategy?: CapacityProviderStrategyItem[];
  /** Extra tags on every task. Default: none. */
  tags?: pulumi.Input<Record<string, string>>;
  /** Container that receives the job's SSH key. Default: the driver's `ci-coordinator`. */
  containerName?: string;
  /** Task definitions a job may pick with `FARGATE_TASK_DEFINITION`. Default: none. */
  allowedTaskDefinitions?: pulumi.Input<pulumi.Input<string>[]>;
  /** Largest task size jobs may ask for (`FARGATE_TASK_CPU`/`FARGATE_TASK_MEMORY`). Default: no per-job sizes. */
  maxTaskSize?: { cpu: number; memory: number };
  /** Seconds until a task is RUNNING. Default: the driver's (600). */
  taskRunningTimeoutSeconds?: number;
  /** Seconds until the task's sshd answers. Default: the driver's (180). */
  sshReadyTimeoutSeconds?: number;
  /** Seconds without an SSH session after which a task stops itself (`TaskIdle`). Default: the driver's (600). */
  taskIdleTimeoutSeconds?: number;
  /** Driver log level. Default `info`. */
  logLevel?: DriverLogLevel;
  /** Driver log format. Default `text`. */
  logFormat?: DriverLogFormat;
  /** Glob patterns of the images jobs may run in (`image:`). Default: none, `image:` is ignored (also for `[]`). */
  allowedImages?: pulumi.Input<pulumi.Input<string>[]>;
  /** Glob patterns of the images jobs may start as `services:`. Default: none, `services:` are ignored. */
  allowedServices?: pulumi.Input<pulumi.Input<string>[]>;
  /** Registry host → Secrets Manager secret ARN for jobs' images and services. Default: none. */
  registryCredentials?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The S3 distributed cache; omit to run without one. */
export interface RegistrationCacheArgs extends Omit<RunnerCacheInput, "bucketName" | "region"> {
  /** Bucket name. Required. */
  bucketName: pulumi.Input<string>;
  /** Bucket region. Required. */
  region: pulumi.Input<string>;
}

/** Arguments of {@link registerRunner}. */
export interface RegisterRunnerArgs {
  /** SSH access to the manager. */
  connection: RegistrationConnectionArgs;
  /** GitLab URL and token. */
  gitlab: RegistrationGitLabArgs;
  /** gitlab-runner settings. */
  runner: RegistrationRunnerArgs;
  /** ECS settings for the driver. */
  fargate: RegistrationFargateArgs;
  /** S3 cache. Default: none. */
  cache?: RegistrationCacheArgs;
  /**
   * The manager instance id, also this manager's identity in fargate.toml (`[Manager] ID`): the driver tags every
   * task with it, and its `reap` (run before gitlab-runner starts, and when the instance is drained) stops the tasks
   * so tagged. A new id (the instance was replaced) stages the files on the new instance and re-runs the
   * registration there. Default: none (pass it; otherwise a replaced instance stays unregistered until something
   * else changes, and tasks carry no manager identity).
   */
  instanceId?: pulumi.Input<string>;
  /**
   * How the deployment reaches this instance to drain it, at an address that stays the instance's own while a
   * replacement takes over: its private IP, through a jump host (the manager's Elastic IP, which by then may lead to
   * the replacement, or a bastion in the VPC). With it (and `instanceId`), a `${name}-drain` command is created per
   * instance: deleting it, when the instance is replaced or removed, stops gitlab-runner gracefully (its running
   * jobs finish), stops the instance's leftover tasks and unregisters it; the register command then does nothing on
   * delete. Default: none: the register command's delete does that, through `connection`.
   */
  drainConnection?: RegistrationConnectionArgs;
  /**
   * The bundled driver to push. Default: `dist/driver/fargate.js` of this package (built by `npm run build`), with
   * its AWS SDK part `awsSdk.js` next to it; a missing file is an error at program time.
   */
  driverBundlePath?: string;
  /** Directory on the manager, writable by the SSH user, where files are staged. Default `/home/<user>/gitlab-fargate-runner`. */
  stagingDirectory?: string;
}

/** What {@link registerRunner} created. */
export interface RunnerRegistration {
  /** One upload per staged file, keyed by file name (`fargate.js`, `fargate.toml`, …). */
  copies: Record<string, remote.CopyToRemote>;
  /** The command that registers on create/update and unregisters on delete. */
  command: remote.Command;
  /** SHA-256 of every staged file, keyed by file name. */
  fileHashes: pulumi.Output<Record<string, string>>;
  /** {@link registrationRevision} of the staged files and the instance: `GFR_REVISION` in the command line. */
  revision: pulumi.Output<string>;
  /** The command that drains and unregisters the instance when it is deleted; with `drainConnection` only. */
  drain?: remote.Command;
}

/** `sha256:<hex>` of a text or file content. */
export function contentHash(content: string | Buffer): string {
  return `sha256:${createHash("sha256").update(content).digest("hex")}`;
}

/**
 * One hash of every staged file's hash and the instance id. It goes into the register command line as
 * `GFR_REVISION`, so any change to them re-runs the registration as an update of the command.
 */
export function registrationRevision(fileHashes: Record<string, string>, instanceId: string): string {
  const files = Object.keys(fileHashes)
    .sort()
    .map((file) => `${file}=${fileHashes[file]}`);
  return contentHash([...files, `instance=${instanceId}`].join("\n"));
}

/** Quotes a value for POSIX sh. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The driver bundle shipped with this package: `dist/driver/fargate.js`, looked up from the compiled module
 * (`dist/components/manager`) and from the sources (`components/manager`). Throws a clear error when it was not built.
 */
export function defaultDriverBundlePath(): string {
  const candidates = [
    path.resolve(__dirname, "../../driver/fargate.js"),
    path.resolve(__dirname, "../../dist/driver/fargate.js"),
  ];
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (!found) {
    throw new Error(
      `registerRunner: the driver bundle was not found (looked for ${candidates.join(" and ")}). ` +
        'Run "npm run build" first, or pass driverBundlePath.',
    );
  }
  return found;
}

/** Which token the registration uses. */
export type TokenKind = "runner" | "registration";

/**
 * Picks the token (the component's rule: exactly one of `runnerToken` and `registrationToken`, `legacyRegistration`
 * only with `registrationToken`, a plain-string token of the right kind); throws naming the arguments.
 */
function selectToken(gitlab: RegistrationGitLabArgs): { kind: TokenKind; token: pulumi.Input<string> } {
  const choice = chooseToken(gitlab, ["runnerToken", "registrationToken"]);
  return choice === "runnerToken"
    ? { kind: "runner", token: gitlab.runnerToken as pulumi.Input<string> }
    : { kind: "registration", token: gitlab.registrationToken as pulumi.Input<string> };
}

/**
 * Subnet and security group ids given as plain strings are checked now with the driver's own rules, so a deploy
 * never succeeds with ids every job then refuses. Ids that are Outputs come from AWS resources.
 */
function checkFargateIds(fargate: RegistrationFargateArgs): void {
  const check = (argument: string, kind: "subnet" | "securityGroup", ids: RegistrationFargateArgs["subnetIds"]) => {
    if (!Array.isArray(ids)) return;
    for (const id of ids) if (typeof id === "string") checkAwsId(argument, kind, id);
  };
  check("fargate.subnetIds", "subnet", fargate.subnetIds);
  check("fargate.securityGroupIds", "securityGroup", fargate.securityGroupIds);
}

type ManagerPath = keyof typeof MANAGER_PATHS;

/** The driver's AWS SDK part: this name next to the entry bundle, here and on the manager. */
const DRIVER_SDK_FILE = path.basename(MANAGER_PATHS.driverSdkBundle);

/** The manager paths register.sh uses (see its header). */
const REGISTER_SCRIPT_PATHS: readonly ManagerPath[] = [
  "configDirectory",
  "configFile",
  "templateFile",
  "fargateConfigFile",
  "caCertificateFile",
  "driverDirectory",
  "driverBundle",
  "driverSdkBundle",
  "launcher",
  "nodeDirectory",
  "configStageAnswer",
  "buildsDirectory",
  "cacheDirectory",
  "metadataDirectory",
  "logDirectory",
];

/** The manager paths unregister.sh uses (see its header). */
const UNREGISTER_SCRIPT_PATHS: readonly ManagerPath[] = [
  "configFile",
  "logDirectory",
  "launcher",
  "fargateConfigFile",
  "metadataDirectory",
];

/** How the scripts get {@link MANAGER_PATHS}: `GFR_<KEY>` for each key (`configFile` → `GFR_CONFIG_FILE`). */
function managerPathsEnvironment(keys: readonly ManagerPath[]): Record<string, string> {
  return Object.fromEntries(
    keys.map((key) => [`GFR_${key.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()}`, MANAGER_PATHS[key]]),
  );
}

/** Settings of the register and unregister scripts (environment variables; nothing secret). */
export interface RegistrationEnvironmentInput {
  stagingDirectory: string;
  url: string;
  name: string;
  tokenKind: TokenKind;
  legacyRegistration?: RegistrationGitLabArgs["legacyRegistration"];
  privateCa: boolean;
}

/**
 * The environment the register script runs with (see the script's header). Throws on invalid legacy settings
 * ({@link checkLegacyRegistration}).
 */
export function registrationEnvironment(input: RegistrationEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {
    GFR_STAGING: input.stagingDirectory,
    GFR_URL: input.url,
    GFR_NAME: input.name,
    GFR_TOKEN_KIND: input.tokenKind,
    GFR_PRIVATE_CA: input.privateCa ? "true" : "false",
  };
  if (input.tokenKind === "registration") {
    checkLegacyRegistration(input.legacyRegistration);
    const tags = input.legacyRegistration?.tags ?? [];
    env.GFR_TAG_LIST = tags.join(",");
    env.GFR_RUN_UNTAGGED = String(input.legacyRegistration?.runUntagged ?? tags.length === 0);
    env.GFR_LOCKED = String(input.legacyRegistration?.locked ?? true);
  }
  return { ...env, ...managerPathsEnvironment(REGISTER_SCRIPT_PATHS), GFR_SYSTEMD_DROP_IN: GITLAB_RUNNER_DROP_IN };
}

/** The environment the unregister script runs with (see the script's header). */
export function unregistrationEnvironment(stagingDirectory: string): Record<string, string> {
  return { GFR_STAGING: stagingDirectory, ...managerPathsEnvironment(UNREGISTER_SCRIPT_PATHS) };
}

/** `sudo -n env K='v'… sh '<script>'`: how the command runs a staged script as root. */
export function remoteScriptCommand(scriptPath: string, env: Record<string, string>): string {
  const assignments = Object.entries(env).map(([key, value]) => `${key}=${shellQuote(value)}`);
  return ["sudo", "-n", "env", ...assignments, "sh", shellQuote(scriptPath)].join(" ");
}

/** `dependsOn` plus `extra`, keeping whatever form (resource, array, output) the caller used. */
function withDependencies(
  dependsOn: pulumi.CustomResourceOptions["dependsOn"],
  extra: pulumi.Resource[],
): pulumi.CustomResourceOptions["dependsOn"] {
  if (dependsOn === undefined) return extra;
  if (Array.isArray(dependsOn)) return [...dependsOn, ...extra];
  if (pulumi.Resource.isInstance(dependsOn)) return [dependsOn, ...extra];
  return pulumi
    .output(dependsOn as pulumi.Input<pulumi.Input<pulumi.Resource>[]>)
    .apply((resolved) => [...resolved, ...extra]);
}

function connectionArgs(connection: RegistrationConnectionArgs): types.input.remote.ConnectionArgs {
  const proxy = connection.proxy;
  return {
    host: connection.host,
    port: connection.port ?? 22,
    user: connection.user ?? "ubuntu",
    privateKey: pulumi.secret(connection.privateKey),
    hostKey: connection.hostKey,
    dialErrorLimit: connection.dialErrorLimit ?? 60,
    perDialTimeout: connection.perDialTimeoutSeconds ?? 30,
    proxy: proxy && {
      host: proxy.host,
      port: proxy.port ?? 22,
      user: proxy.user ?? connection.user ?? "ubuntu",
      privateKey: pulumi.secret(proxy.privateKey ?? connection.privateKey),
      hostKey: proxy.hostKey,
    },
  };
}

/**
 * Registers the manager as a GitLab runner and drains and unregisters it on delete.
 *
 * Resources (all with `opts`; the staging copies and the commands also wait for `opts.dependsOn`, e.g. the instance
 * and its Elastic IP):
 * - `${name}-stage-<file>`: `remote.CopyToRemote` of each file into the staging directory; a new `instanceId`
 *   replaces them (its `triggers`), so a replaced instance gets every file again;
 * - `${name}-register`: `remote.Command` after every copy. Create/update run the register script (token on stdin,
 *   `cloud-init status --wait` first). Its command line carries {@link registrationRevision} of every staged file and
 *   the instance id, so any change (or a new token on stdin) updates it: the script registers anew and swaps the
 *   entry only once GitLab accepted the token. Without `drainConnection`, its delete runs the unregister script;
 * - `${name}-drain` (with `drainConnection` and `instanceId`): `remote.Command` after the register command, replaced
 *   with the instance (`triggers`). Pulumi creates a replacement before it deletes what it replaces, so when the
 *   instance is replaced the new one is registered first; then this command's delete runs the unregister script on
 *   the old instance, at its private address: gitlab-runner finishes its jobs (SIGQUIT, at most
 *   `runner.drainTimeoutMinutes`), the instance's leftover tasks are stopped and it is unregistered; only then is
 *   the old instance deleted. `pulumi destroy` and a removed instance take the same path.
 *
 * Throws at program time on invalid arguments (naming them) and when the driver bundle is missing.
 */
export function registerRunner(
  name: string,
  args: RegisterRunnerArgs,
  opts: pulumi.CustomResourceOptions = {},
): RunnerRegistration {
  const { kind, token } = selectToken(args.gitlab);
  const tokenOption = kind === "runner" ? "runnerToken" : "registrationToken";
  const { url } = normaliseGitLabUrl(args.gitlab.url);
  checkRunnerName(args.runner?.name);
  checkFargateIds(args.fargate);
  const user = args.connection.user ?? "ubuntu";
  const stagingDirectory = args.stagingDirectory ?? `/home/${user}/gitlab-fargate-runner`;
  if (!path.posix.isAbsolute(stagingDirectory)) throw new Error("stagingDirectory: must be an absolute path");
  const privateCa = args.gitlab.tlsCaCertificate !== undefined;
  // Only the certificates are staged; a plain-string bundle is checked now, an Output as soon as it resolves.
  const caCertificate = privateCa
    ? checkedInput(args.gitlab.tlsCaCertificate as pulumi.Input<string>, caCertificateBundle)
    : undefined;
  const env = registrationEnvironment({
    stagingDirectory,
    url,
    name: args.runner.name,
    tokenKind: kind,
    legacyRegistration: args.gitlab.legacyRegistration,
    privateCa,
  });

  const driverPath = path.resolve(args.driverBundlePath ?? defaultDriverBundlePath());
  if (!fs.existsSync(driverPath)) throw new Error(`driverBundlePath: ${driverPath} does not exist`);
  const driverHash = contentHash(fs.readFileSync(driverPath));
  const sdkPath = path.join(path.dirname(driverPath), DRIVER_SDK_FILE);
  if (!fs.existsSync(sdkPath)) {
    throw new Error(`driverBundlePath: ${sdkPath}, the driver's AWS SDK part, must be next to ${driverPath}`);
  }

  const { name: _runnerName, drainTimeoutMinutes, ...runnerSettings } = args.runner;
  const dropIn = renderGitLabRunnerDropIn({ drainTimeoutMinutes: drainTimeoutMinutes ?? 60 });
  const configuration = pulumi
    .all([
      pulumi.output(args.fargate),
      args.cache ? pulumi.output(args.cache) : undefined,
      pulumi.output(args.instanceId),
    ])
    .apply(([fargate, cache, managerId]) =>
      renderManagerConfiguration({
        fargate: {
          cluster: fargate.cluster,
          region: fargate.region,
          subnets: fargate.subnetIds,
          securityGroups: fargate.securityGroupIds,
          taskDefinition: fargate.taskDefinition,
          enablePublicIp: fargate.enablePublicIp ?? false,
          usePublicIp: fargate.usePublicIp ?? false,
          platformVersion: fargate.platformVersion,
          capacityProviderStrategy: fargate.capacityProviderStrategy,
          tags: fargate.tags,
          containerName: fargate.containerName,
          allowedTaskDefinitions: fargate.allowedTaskDefinitions,
          maxTaskSize: fargate.maxTaskSize,
          taskRunningTimeoutSeconds: fargate.taskRunningTimeoutSeconds,
          sshReadyTimeoutSeconds: fargate.sshReadyTimeoutSeconds,
          taskIdleSeconds: fargate.taskIdleTimeoutSeconds,
          managerId,
          logLevel: fargate.logLevel,
          logFormat: fargate.logFormat,
          allowedImages: fargate.allowedImages,
          allowedServices: fargate.allowedServices,
          registryCredentials: fargate.registryCredentials,
        },
        global: runnerSettings,
        template: { ...runnerSettings, privateCa, cache },
      }),
    );

  const texts: Record<string, pulumi.Input<string>> = {
    fargate: LAUNCHER_SCRIPT,
    "fargate.toml": configuration.fargateToml,
    "config.toml": configuration.globalConfigToml,
    "runner-template.toml": configuration.runnerTemplateToml,
    "gitlab-runner.conf": dropIn,
    "register.sh": REGISTER_SCRIPT,
    "unregister.sh": UNREGISTER_SCRIPT,
  };
  if (caCertificate) texts["ca.crt"] = caCertificate;

  const connection = connectionArgs(args.connection);
  const stageOpts: pulumi.CustomResourceOptions = { ...opts };
  // A copy runs again only when its content changes: a replaced instance must get every file anew.
  const triggers = args.instanceId === undefined ? undefined : [args.instanceId];
  const copies: Record<string, remote.CopyToRemote> = {
    "fargate.js": new remote.CopyToRemote(
      `${name}-stage-driver`,
      {
        connection,
        source: new pulumi.asset.FileAsset(driverPath),
        remotePath: `${stagingDirectory}/fargate.js`,
        triggers,
      },
      stageOpts,
    ),
  };
  // The SDK part is staged as well, so register.sh installs both together.
  copies[DRIVER_SDK_FILE] = new remote.CopyToRemote(
    `${name}-stage-driver-sdk`,
    {
      connection,
      source: new pulumi.asset.FileAsset(sdkPath),
      remotePath: `${stagingDirectory}/${DRIVER_SDK_FILE}`,
      triggers,
    },
    stageOpts,
  );
  const hashes: Record<string, pulumi.Input<string>> = {
    "fargate.js": driverHash,
    [DRIVER_SDK_FILE]: contentHash(fs.readFileSync(sdkPath)),
  };
  for (const [file, text] of Object.entries(texts)) {
    copies[file] = new remote.CopyToRemote(
      `${name}-stage-${file === "fargate" ? "launcher" : file.replace(/\./g, "-")}`,
      {
        connection,
        source: pulumi.output(text).apply((content) => new pulumi.asset.StringAsset(content)),
        remotePath: `${stagingDirectory}/${file}`,
        triggers,
      },
      stageOpts,
    );
    hashes[file] = pulumi.output(text).apply(contentHash);
  }
  const fileHashes = pulumi.output(hashes) as pulumi.Output<Record<string, string>>;

  // A changed staged file or a new instance changes the command line, which makes Pulumi *update* the command
  // (run the register script again). `triggers` would *replace* it instead, with a delete step that ran before the
  // new token is known to work.
  const revision = pulumi
    .all([fileHashes, args.instanceId ?? ""])
    .apply(([files, instanceId]) => registrationRevision(files, instanceId));
  const registerCommand = revision.apply((value) =>
    remoteScriptCommand(`${stagingDirectory}/register.sh`, { ...env, GFR_REVISION: value }),
  );
  const unregisterCommand = remoteScriptCommand(
    `${stagingDirectory}/unregister.sh`,
    unregistrationEnvironment(stagingDirectory),
  );
  const drains = args.drainConnection !== undefined && args.instanceId !== undefined;
  const command = new remote.Command(
    `${name}-register`,
    {
      connection,
      create: registerCommand,
      update: registerCommand,
      // With a drain command, that one drains and unregisters, at the instance's own address.
      delete: drains ? undefined : unregisterCommand,
      stdin: pulumi.secret(checkedInput(token, (value) => `${checkToken(tokenOption, value)}\n`)),
      logging: "stderr",
      addPreviousOutputInEnv: false,
    },
    {
      ...opts,
      dependsOn: withDependencies(opts.dependsOn, Object.values(copies)),
      additionalSecretOutputs: ["stdout", "stderr"],
    },
  );
  const drain = drains
    ? new remote.Command(
        `${name}-drain`,
        {
          // Stored with the resource, so its delete reaches the instance it was created for, even replaced.
          connection: connectionArgs({ dialErrorLimit: 10, ...args.drainConnection! }),
          // Checks at once that the instance can be reached the way its drain will reach it.
          create: `test -f ${shellQuote(`${stagingDirectory}/unregister.sh`)}`,
          delete: unregisterCommand,
          triggers: [args.instanceId],
          logging: "stderr",
          addPreviousOutputInEnv: false,
        },
        {
          ...opts,
          dependsOn: withDependencies(opts.dependsOn, [command]),
          additionalSecretOutputs: ["stdout", "stderr"],
        },
      )
    : undefined;
  return { copies, command, fileHashes, revision, drain };
}
