/**
 * The component's arguments checked and resolved: every default applied, every rule of the component's own
 * arguments here; the GitLab rules live in gitlab/arguments.ts, the AWS rules the driver applies too (ids, region,
 * platform version, tags, secret ARNs, registry hosts, task families) in driver/contract/awsRules.ts (ids through
 * aws/ids.ts).
 */
import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import {
  Architecture,
  CreateRunnerArgs,
  ExistingNetworkArgs,
  ExternalImageArgs,
  GitLabFargateRunnerArgs,
  TaskPlacement,
} from "./args";
import {
  platformVersionProblem,
  registryHostProblem,
  secretArnProblem,
  TASK_FAMILY,
  taskTagProblem,
} from "../driver/contract/awsRules";
import { MAX_BASE_FAMILY_LENGTH } from "../driver/contract/imageTasks";
import { checkAwsId } from "./aws/ids";
import { checkConcurrency } from "./manager/capacity";
import { checkedInput } from "./checks";
import { allowedMemory, FARGATE_CPU_VALUES } from "../driver/contract/fargateTaskSizes";
import {
  caCertificateBundle,
  checkLegacyRegistration,
  checkRunnerName,
  checkToken,
  chooseToken,
  normaliseGitLabUrl,
  validateCreateRunnerArgs,
} from "./gitlab/arguments";

/** The component's arguments after validation, with every default applied. Pure data, no resources. */
export interface ResolvedArgs {
  name: string;
  gitlab: {
    url: string;
    /** Port of the GitLab URL (443 unless the URL names another). */
    port: number;
    /** A given token (always secret), or the runner the stack creates in GitLab. */
    token:
      | { kind: "runner" | "registration"; value: pulumi.Output<string> }
      | { kind: "create"; createRunner: CreateRunnerArgs };
    legacyRegistration?: { tags?: string[]; runUntagged?: boolean; locked?: boolean };
    tlsCaCertificate?: pulumi.Output<string>;
  };
  admin: { sshCidrBlocks: string[] };
  network: {
    existing?: ExistingNetworkArgs;
    cidrBlock: string;
    availabilityZoneCount: number;
    natGateways: "single" | "onePerAz";
    taskPlacement: TaskPlacement;
    taskEgressPorts: number[];
  };
  manager: {
    /** Manager instances behind the one runner (1–10). */
    count: number;
    instanceType: string;
    architecture: Architecture;
    amiId?: pulumi.Input<string>;
    rootVolumeSizeGiB: number;
    sshKey?: { publicKey: string; privateKey: pulumi.Output<string> };
    sshProxy?: {
      host: pulumi.Input<string>;
      user?: string;
      port?: number;
      privateKey: pulumi.Output<string>;
      hostKey?: pulumi.Input<string>;
    };
  };
  jobs: {
    cpu: number;
    memory: number;
    architecture: Architecture;
    ephemeralStorageGiB?: number;
    capacityProvider: "FARGATE" | "FARGATE_SPOT";
    onDemandBase: number;
    platformVersion: string;
    maxTaskSize?: { cpu: number; memory: number };
    family: string;
    logRetentionDays: number;
    /** Seconds without an SSH session after which a job's task stops itself (fargate.toml `TaskIdle`). */
    idleTimeoutSeconds: number;
    taskRolePolicyArns: pulumi.Input<string>[];
    image?: ExternalImageArgs;
    build: { context?: string; keepImages: number; forceDelete: boolean };
    /** Glob patterns of the images jobs may run in; empty: `image:` is ignored. */
    allowedImages: string[];
    /** Glob patterns of the service images jobs may start; empty: `services:` are ignored. */
    allowedServices: string[];
    /** Registry host → Secrets Manager secret ARN (checked, an Output as soon as it resolves). */
    registryCredentials: Record<string, pulumi.Input<string>>;
  };
  cache: { enabled: boolean; expirationDays: number; forceDestroy: boolean };
  runner: {
    name: string;
    concurrent: number;
    checkInterval: number;
    /** Minutes gitlab-runner may take to finish its jobs when it is stopped (systemd `TimeoutStopSec`). */
    drainTimeoutMinutes: number;
  };
  /** Caller tags plus the tag naming this runner. */
  tags: Record<string, string>;
  /** What the caller should know but that does not stop the deployment (logged as warnings). */
  warnings: string[];
}

/** Values CloudWatch Logs accepts for a log group's retention. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** Most manager instances one runner may have (`manager.count`). */
export const MAX_MANAGER_COUNT = 10;

/** Tag key put on every resource, valued with the component name. */
const RUNNER_TAG = "gitlab-fargate-runner";

function fail(argument: string, problem: string): never {
  throw new Error(`GitLabFargateRunner: invalid ${argument}: ${problem}`);
}

/**
 * Runs rules shared with registerRunner and GitLabRunner (their Errors read `<argument>: <problem>`) and reports a
 * broken one the way the component reports its own.
 */
function asComponent<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    const message = (error as Error).message;
    throw message.startsWith("GitLabFargateRunner: ") ? error : new Error(`GitLabFargateRunner: invalid ${message}`);
  }
}

function positiveInteger(argument: string, value: number | undefined, fallback: number, min = 1, max = Infinity) {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < min || result > max) {
    fail(argument, `${value} is not an integer between ${min} and ${max === Infinity ? "∞" : max}`);
  }
  return result;
}

function resolveToken(gitlab: GitLabFargateRunnerArgs["gitlab"]): ResolvedArgs["gitlab"]["token"] {
  const choice = chooseToken(gitlab);
  if (choice === "createRunner") {
    const createRunner = gitlab.createRunner as CreateRunnerArgs;
    validateCreateRunnerArgs(createRunner);
    return { kind: "create", createRunner };
  }
  checkLegacyRegistration(gitlab.legacyRegistration);
  // A token only known at deploy time (stack config, another resource) is checked as soon as it resolves.
  const value = checkedInput(gitlab[choice] as pulumi.Input<string>, (token) =>
    asComponent(() => checkToken(choice, token)),
  );
  return { kind: choice === "runnerToken" ? "runner" : "registration", value: pulumi.secret(value) };
}

/**
 * A list argument the runner is planned from (how many managers go in which subnet, which security group rules exist)
 * must be a list when the program runs. TypeScript's types say so; a Python, Go, C#, Java or YAML program can still
 * pass one Output of a whole list (a stack reference, another resource's list), which would otherwise read as missing.
 */
function refuseWholeListOutput(argument: string, value: unknown, items: string): void {
  if (pulumi.Output.isInstance(value)) {
    fail(
      argument,
      `give a list of ${items} (each of them may be an Output), not one Output of a whole list: the runner is ` +
        `planned from the list's length and items`,
    );
  }
}

/** Checks one CIDR block; returns its IP family. */
function cidrFamily(argument: string, cidr: string): 4 | 6 {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  const family = match ? net.isIP(match[1]) : 0;
  const bits = match ? Number(match[2]) : -1;
  if (!match || family === 0 || bits > (family === 4 ? 32 : 128)) {
    fail(argument, `"${cidr}" is not a CIDR block such as 203.0.113.7/32 or 2001:db8::/48`);
  }
  if (family === 4) {
    const network = ipv4NetworkAddress(match![1], bits);
    if (network !== match![1]) fail(argument, `"${cidr}" has host bits set; did you mean ${network}/${bits}?`);
  }
  return family as 4 | 6;
}

/** The IPv4 address with every bit after the first `bits` cleared. */
function ipv4NetworkAddress(address: string, bits: number): string {
  const value = address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
  const network = Number(BigInt(value) & BigInt(mask));
  return [24, 16, 8, 0].map((shift) => (network >>> shift) & 255).join(".");
}

/**
 * The widest blocks `admin.sshCidrBlocks` accepts: /8 for IPv4, /32 for IPv6 (a large provider's allocation). A wider
 * block opens SSH to a large part of the internet: the internet split into halves (0.0.0.0/1 + 128.0.0.0/1) is
 * refused like 0.0.0.0/0.
 */
export const MIN_SSH_PREFIX_LENGTH = { ipv4: 8, ipv6: 32 } as const;

function resolveSshCidrBlocks(blocks: string[] | undefined): string[] {
  const argument = "admin.sshCidrBlocks";
  refuseWholeListOutput(argument, blocks, "CIDR blocks");
  if (!Array.isArray(blocks) || blocks.length === 0) {
    fail(argument, "give at least one CIDR block (your office, VPN or the deploying machine, e.g. 203.0.113.7/32)");
  }
  for (const cidr of blocks) {
    const family = cidrFamily(argument, cidr);
    const bits = Number(cidr.split("/")[1]);
    const min = family === 4 ? MIN_SSH_PREFIX_LENGTH.ipv4 : MIN_SSH_PREFIX_LENGTH.ipv6;
    if (bits < min) {
      fail(
        argument,
        `"${cidr}" opens SSH to ${bits === 0 ? "the whole internet" : "a large part of the internet"} (the widest ` +
          `block accepted is /${min} for IPv${family}); list only the addresses that need it`,
      );
    }
  }
  return [...new Set(blocks)];
}

/** An id given as a plain string is checked now, one known only at deploy time as soon as it resolves. */
function checkedAwsId(argument: string, kind: "vpc" | "subnet", id: pulumi.Input<string>): pulumi.Input<string> {
  const check = (value: string) => asComponent(() => checkAwsId(argument, kind, value));
  return typeof id === "string" ? check(id) : pulumi.output(id).apply(check);
}

function resolveExistingNetwork(
  existing: ExistingNetworkArgs | undefined,
  taskPlacement: TaskPlacement,
): ExistingNetworkArgs | undefined {
  if (existing === undefined) return undefined;
  for (const key of ["publicSubnetIds", "privateSubnetIds"] as const) {
    refuseWholeListOutput(`network.existing.${key}`, existing[key], "subnet ids");
  }
  const missing: string[] = [];
  if (!existing.vpcId) missing.push("vpcId");
  if (!existing.publicSubnetIds?.length) missing.push("publicSubnetIds");
  if (taskPlacement === "private" && !existing.privateSubnetIds?.length) missing.push("privateSubnetIds");
  if (missing.length > 0) {
    fail(
      "network.existing",
      `an existing network needs vpcId, publicSubnetIds and privateSubnetIds together` +
        ` (privateSubnetIds optional only with taskPlacement "public"); missing: ${missing.join(", ")}`,
    );
  }
  return {
    vpcId: checkedAwsId("network.existing.vpcId", "vpc", existing.vpcId),
    publicSubnetIds: existing.publicSubnetIds.map((id) =>
      checkedAwsId("network.existing.publicSubnetIds", "subnet", id),
    ),
    privateSubnetIds: existing.privateSubnetIds?.map((id) =>
      checkedAwsId("network.existing.privateSubnetIds", "subnet", id),
    ),
  };
}

/** Graviton instance families (t4g, m7g, c6gn, …, and a1) run arm64. */
export function instanceArchitecture(instanceType: string): Architecture {
  return /^(a1|[a-z]+\d+g[a-z]*)\./.test(instanceType) ? "arm64" : "amd64";
}

function resolveCpuMemory(cpu: number | undefined, memory: number | undefined, argument = "jobs") {
  const resolvedCpu = cpu ?? 1024;
  if (!FARGATE_CPU_VALUES.includes(resolvedCpu)) {
    fail(`${argument}.cpu`, `${cpu} is not a Fargate CPU value; use one of ${FARGATE_CPU_VALUES.join(", ")}`);
  }
  const resolvedMemory = memory ?? 2048;
  const allowed = allowedMemory(resolvedCpu);
  if (!allowed.includes(resolvedMemory)) {
    fail(
      `${argument}.memory`,
      `${resolvedMemory} MiB is not allowed with cpu ${resolvedCpu}; valid: ${allowed.join(", ")}`,
    );
  }
  return { cpu: resolvedCpu, memory: resolvedMemory };
}

/**
 * A Secrets Manager secret ARN a role will read exactly (the driver's rule, `secretArnProblem`): checked now when it
 * is a plain string, as soon as it resolves when it is an Output (another resource, stack config).
 */
function checkedSecretArn(argument: string, arn: pulumi.Input<string>): pulumi.Input<string> {
  const check = (value: string) => {
    const problem = secretArnProblem(value);
    if (problem !== undefined) fail(argument, problem);
    return value;
  };
  return typeof arn === "string" ? check(arn) : pulumi.output(arn).apply(check);
}

function resolveImage(image: ExternalImageArgs | undefined): ExternalImageArgs | undefined {
  if (image === undefined) return undefined;
  if (!image.uri || (typeof image.uri === "string" && image.uri.trim() === "")) {
    fail("jobs.image.uri", "it is required when jobs.image is given");
  }
  const arn = image.credentialsSecretArn;
  if (arn === undefined) return image;
  return { ...image, credentialsSecretArn: checkedSecretArn("jobs.image.credentialsSecretArn", arn) };
}

/**
 * Image patterns (`jobs.allowedImages`, `jobs.allowedServices`), each once: non-empty strings (the driver's rule)
 * without whitespace (an image reference has none, so such a pattern would never match). `[]` stays `[]`.
 */
function resolvePatterns(argument: string, patterns: string[] | undefined): string[] {
  if (patterns === undefined) return ["*"];
  if (!Array.isArray(patterns)) fail(argument, 'it must be a list of image patterns, e.g. ["*"] or []');
  patterns.forEach((pattern, index) => {
    if (typeof pattern !== "string" || pattern === "") {
      fail(`${argument}[${index}]`, `it must be a non-empty string (an image pattern such as "node:*")`);
    }
    if (/\s/.test(pattern)) {
      fail(`${argument}[${index}]`, `${JSON.stringify(pattern)} contains whitespace, which no image reference has`);
    }
  });
  return [...new Set(patterns)];
}

/** Registry host → secret ARN, both checked with the driver's rules; refused when nothing would use them. */
function resolveRegistryCredentials(
  credentials: Record<string, pulumi.Input<string>> | undefined,
  allowedImages: string[],
  allowedServices: string[],
): Record<string, pulumi.Input<string>> {
  const entries = Object.entries(credentials ?? {});
  if (entries.length > 0 && allowedImages.length === 0 && allowedServices.length === 0) {
    fail(
      "jobs.registryCredentials",
      "they are used only for jobs' images and services, and jobs.allowedImages and jobs.allowedServices are both " +
        "[] (jobs cannot choose either); drop the credentials or allow some images",
    );
  }
  return Object.fromEntries(
    entries.map(([host, arn]) => {
      const argument = `jobs.registryCredentials[${JSON.stringify(host)}]`;
      const hostProblem = registryHostProblem(host);
      if (hostProblem !== undefined) fail(argument, hostProblem);
      if (arn === undefined || arn === null || arn === "") fail(argument, "give the secret's full ARN");
      return [host, checkedSecretArn(argument, arn)];
    }),
  );
}

function resolvePlatformVersion(version: string | undefined): string {
  const result = version ?? "LATEST";
  const problem = platformVersionProblem(result);
  if (problem !== undefined) fail("jobs.platformVersion", problem);
  return result;
}

/**
 * The base family: ECS's rule (`TASK_FAMILY`), and short enough that the driver's image task families
 * (`<family>-image-<hash>`) still fit ECS's 255 characters. The default is cut to fit.
 */
function resolveFamily(name: string, family: string | undefined): string {
  const result =
    family ?? `gitlab-${name}-${pulumi.getStack()}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, MAX_BASE_FAMILY_LENGTH);
  if (!TASK_FAMILY.test(result)) {
    fail("jobs.family", `"${family}" may contain only letters, digits, hyphens and underscores (1 to 255)`);
  }
  if (result.length > MAX_BASE_FAMILY_LENGTH) {
    fail(
      "jobs.family",
      `"${result}" has ${result.length} characters; at most ${MAX_BASE_FAMILY_LENGTH}, so that the families the ` +
        `driver registers for jobs with an image or services (<family>-image-<16 hex digits>) fit ECS's 255`,
    );
  }
  return result;
}

function resolveRunnerName(given: string | undefined, componentName: string): string {
  return given === undefined ? componentName : asComponent(() => checkRunnerName(given));
}

function resolveTags(name: string, tags: Record<string, string> | undefined): Record<string, string> {
  // The same tags go on every job task (cost allocation), so they must also fit ECS's task limits.
  const resolved = { ...tags, [RUNNER_TAG]: name };
  const problem = taskTagProblem(resolved);
  if (problem !== undefined) fail("tags", problem);
  return resolved;
}

/** Validates the arguments and applies defaults. Throws an Error naming the argument on bad input. */
export function resolveArgs(name: string, args: GitLabFargateRunnerArgs): ResolvedArgs {
  // Children are auto-named `<name>-<part>-<random>`: S3 bucket names allow only lowercase, IAM role names 64 chars.
  if (typeof name !== "string" || !/^[a-z0-9][a-z0-9-]{0,31}$/.test(name)) {
    fail("name", `"${name}" must be 1-32 lowercase letters, digits or hyphens (it prefixes S3 and IAM names)`);
  }
  if (args === undefined || args === null) fail("args", "gitlab and admin are required");
  if (!args.gitlab) fail("gitlab", "it is required: { url, runnerToken }");
  if (!args.admin) fail("admin", "it is required: { sshCidrBlocks }");
  const { url, port } = asComponent(() => normaliseGitLabUrl(args.gitlab.url));
  const network = args.network ?? {};
  const taskPlacement = network.taskPlacement ?? "private";
  if (taskPlacement !== "private" && taskPlacement !== "public") {
    fail("network.taskPlacement", `"${taskPlacement}" is neither "private" nor "public"`);
  }
  const natGateways = network.natGateways ?? "single";
  if (natGateways !== "single" && natGateways !== "onePerAz") {
    fail("network.natGateways", `"${natGateways}" is neither "single" nor "onePerAz"`);
  }
  const cidrBlock = network.cidrBlock ?? "10.0.0.0/16";
  if (cidrFamily("network.cidrBlock", cidrBlock) !== 4) fail("network.cidrBlock", "it must be an IPv4 block");
  const taskEgressPorts = network.taskEgressPorts ?? [...new Set([443, port])];
  taskEgressPorts.forEach((p) => positiveInteger("network.taskEgressPorts", p, p, 1, 65535));

  const manager = args.manager ?? {};
  const instanceType = manager.instanceType ?? "t3.small";
  if (!/^[a-z0-9-]+\.[a-z0-9]+$/.test(instanceType)) {
    fail("manager.instanceType", `"${instanceType}" is not an EC2 instance type`);
  }
  if (manager.sshKey && (!manager.sshKey.publicKey || !manager.sshKey.privateKey)) {
    fail("manager.sshKey", "give both publicKey and privateKey");
  }
  if (manager.sshProxy && (!manager.sshProxy.host || !manager.sshProxy.privateKey)) {
    fail("manager.sshProxy", "give at least host and privateKey of the bastion");
  }

  const jobs = args.jobs ?? {};
  const architecture = jobs.architecture ?? "amd64";
  if (architecture !== "amd64" && architecture !== "arm64") {
    fail("jobs.architecture", `"${architecture}" is neither "amd64" nor "arm64"`);
  }
  const capacityProvider = jobs.capacityProvider ?? "FARGATE";
  if (capacityProvider !== "FARGATE" && capacityProvider !== "FARGATE_SPOT") {
    fail("jobs.capacityProvider", `"${capacityProvider}" is neither FARGATE nor FARGATE_SPOT`);
  }
  if (jobs.onDemandBase !== undefined && capacityProvider !== "FARGATE_SPOT") {
    fail("jobs.onDemandBase", 'it applies only with capacityProvider "FARGATE_SPOT"');
  }
  const logRetentionDays = jobs.logRetentionDays ?? 14;
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    fail("jobs.logRetentionDays", `${logRetentionDays} is not one of ${LOG_RETENTION_DAYS.join(", ")}`);
  }
  if (jobs.image && jobs.build) fail("jobs.image / jobs.build", "give only one: an external image or a build");
  const allowedImages = resolvePatterns("jobs.allowedImages", jobs.allowedImages);
  const allowedServices = resolvePatterns("jobs.allowedServices", jobs.allowedServices);

  const cache = args.cache ?? {};
  const runner = args.runner ?? {};
  const concurrent = positiveInteger("runner.concurrent", runner.concurrent, 10, 1, 1000);
  const warnings: string[] = [];
  // The manager's memory bounds how many jobs it runs at once: refused now, before any resource exists.
  const capacity = checkConcurrency(instanceType, concurrent);
  if (capacity.kind === "refused") fail("runner.concurrent", capacity.message);
  if (capacity.kind === "unknown") warnings.push(`GitLabFargateRunner ${name}: ${capacity.message}`);

  return {
    name,
    gitlab: {
      url,
      port,
      token: asComponent(() => resolveToken(args.gitlab)),
      legacyRegistration: args.gitlab.legacyRegistration,
      tlsCaCertificate:
        args.gitlab.tlsCaCertificate === undefined
          ? undefined
          : checkedInput(args.gitlab.tlsCaCertificate, (pem) => asComponent(() => caCertificateBundle(pem))),
    },
    admin: { sshCidrBlocks: resolveSshCidrBlocks(args.admin.sshCidrBlocks) },
    network: {
      existing: resolveExistingNetwork(network.existing, taskPlacement),
      cidrBlock,
      availabilityZoneCount: positiveInteger("network.availabilityZoneCount", network.availabilityZoneCount, 2, 2, 4),
      natGateways,
      taskPlacement,
      taskEgressPorts,
    },
    manager: {
      count: positiveInteger("manager.count", manager.count, 1, 1, MAX_MANAGER_COUNT),
      instanceType,
      architecture: instanceArchitecture(instanceType),
      amiId: manager.amiId,
      rootVolumeSizeGiB: positiveInteger("manager.rootVolumeSizeGiB", manager.rootVolumeSizeGiB, 20, 8, 16384),
      sshKey: manager.sshKey && {
        publicKey: manager.sshKey.publicKey,
        privateKey: pulumi.secret(pulumi.output(manager.sshKey.privateKey)),
      },
      sshProxy: manager.sshProxy && {
        ...manager.sshProxy,
        privateKey: pulumi.secret(pulumi.output(manager.sshProxy.privateKey)),
      },
    },
    jobs: {
      ...resolveCpuMemory(jobs.cpu, jobs.memory),
      architecture,
      ephemeralStorageGiB:
        jobs.ephemeralStorageGiB === undefined
          ? undefined
          : positiveInteger("jobs.ephemeralStorageGiB", jobs.ephemeralStorageGiB, 21, 21, 200),
      capacityProvider,
      onDemandBase: positiveInteger("jobs.onDemandBase", jobs.onDemandBase, 0, 0, 100000),
      platformVersion: resolvePlatformVersion(jobs.platformVersion),
      maxTaskSize:
        jobs.maxTaskSize &&
        resolveCpuMemory(jobs.maxTaskSize.cpu ?? -1, jobs.maxTaskSize.memory ?? -1, "jobs.maxTaskSize"),
      family: resolveFamily(name, jobs.family),
      logRetentionDays,
      idleTimeoutSeconds: positiveInteger("jobs.idleTimeoutSeconds", jobs.idleTimeoutSeconds, 600, 60, 86400),
      taskRolePolicyArns: jobs.taskRolePolicyArns ?? [],
      image: resolveImage(jobs.image),
      build: {
        context: jobs.build?.context,
        keepImages: positiveInteger("jobs.build.keepImages", jobs.build?.keepImages, 10, 1, 10000),
        forceDelete: jobs.build?.forceDelete ?? false,
      },
      allowedImages,
      allowedServices,
      registryCredentials: resolveRegistryCredentials(jobs.registryCredentials, allowedImages, allowedServices),
    },
    cache: {
      enabled: cache.enabled ?? true,
      expirationDays: positiveInteger("cache.expirationDays", cache.expirationDays, 14, 1, 3650),
      forceDestroy: cache.forceDestroy ?? false,
    },
    runner: {
      name: resolveRunnerName(runner.name, name),
      concurrent,
      checkInterval: positiveInteger("runner.checkInterval", runner.checkInterval, 3, 1, 3600),
      drainTimeoutMinutes: positiveInteger("runner.drainTimeoutMinutes", runner.drainTimeoutMinutes, 60, 1, 1440),
    },
    tags: resolveTags(name, args.tags),
    warnings,
  };
}
