/**
 * The fargate.toml contract: its keys and their types ({@link FargateToml}), defaults, validation, unknown-key
 * detection and error messages. The driver reads the file with {@link parseFargateToml}; the component writes it
 * with {@link renderFargateToml}, which applies the same rules. Every key, its default and its meaning:
 * docs/driver.md. The Go driver's keys keep their meaning so an existing manager can switch binaries.
 *
 * Pure functions: no I/O. Errors are SystemFailures reading `<source>: <Key> <problem>`.
 */
import { parse, stringify, TomlError } from "smol-toml";
import { FARGATE_CPU_VALUES } from "./fargateTaskSizes";
import { SystemFailure } from "../errors";
import {
  awsIdProblem,
  AwsIdKind,
  MAX_SECURITY_GROUPS,
  MAX_SUBNETS,
  platformVersionProblem,
  regionProblem,
  registryHostProblem,
  secretArnProblem,
  tagCountProblem,
  tagKeyProblem,
  tagValueProblem,
} from "./awsRules";
import { MANAGER_PATHS } from "./managerPaths";
import { isTable, Table, TableReader } from "./tableReader";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "text-simple" | "json";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
export const LOG_FORMATS: readonly LogFormat[] = ["text", "text-simple", "json"];

/** One `[[Fargate.CapacityProviderStrategy]]` entry as written. */
export interface CapacityProviderToml {
  CapacityProvider: string;
  /** 0–1000. */
  Weight?: number;
  /** 0–100000. */
  Base?: number;
}

/** The `[Fargate]` table as written. */
export interface FargateSectionToml {
  /** Required: cluster name or ARN. */
  Cluster: string;
  /** Default: the SDK's region (AWS_REGION). */
  Region?: string;
  /** `Subnet` and `Subnets` are merged and de-duplicated: at least one, at most 16. */
  Subnet?: string;
  Subnets?: string[];
  /** `SecurityGroup` and `SecurityGroups` are merged: at most 5; none: the VPC's default group. */
  SecurityGroup?: string;
  SecurityGroups?: string[];
  /** Required: family[:revision] or ARN. */
  TaskDefinition: string;
  /** Default false: awsvpc assignPublicIp. */
  EnablePublicIP?: boolean;
  /** Default false: connect to the ENI's public IP. */
  UsePublicIP?: boolean;
  /** Default: LATEST. */
  PlatformVersion?: string;
  /** Default "ci-coordinator": the container that receives SSH_PUBLIC_KEY. */
  ContainerName?: string;
  /** Default none: what a job's FARGATE_TASK_DEFINITION may select. */
  AllowedTaskDefinitions?: string[];
  /** Default: the cluster's default strategy. */
  CapacityProviderStrategy?: CapacityProviderToml[];
  /** Extra tags on every task: at most 46 (the driver adds 4 gitlab:* tags; ECS allows 50). */
  Tags?: Record<string, string>;
  /** Set together, or neither (then jobs may not choose their task size). CPU units and MiB. */
  MaxTaskCPU?: number;
  MaxTaskMemory?: number;
  /**
   * Default absent: a job's `image:` is ignored (as by GitLab's Go driver). Glob patterns (`*` any characters, `/`
   * included; `?` one character) of the images jobs may run their scripts in; `["*"]` allows every image.
   */
  AllowedImages?: string[];
  /** Default absent: a job's `services:` are ignored. Glob patterns of the service images jobs may start. */
  AllowedServices?: string[];
  /** Registry host (`ghcr.io`, `registry.example.com:5000`) → Secrets Manager secret ARN with its credentials. */
  RegistryCredentials?: Record<string, string>;
}

/** fargate.toml as written: the Go driver's keys plus ours. */
export interface FargateToml {
  /** Default "info" (any case). */
  LogLevel?: LogLevel;
  /** Default "text" (any case). */
  LogFormat?: LogFormat;
  Fargate: FargateSectionToml;
  /** Default: {@link MANAGER_PATHS}.metadataDirectory. */
  TaskMetadata?: { Directory?: string };
  /** Defaults: "root" and 22. */
  SSH?: { Username?: string; Port?: number };
  /** Seconds, 1–86400. Defaults: {@link FARGATE_TOML_DEFAULTS}; TaskMaxLifetime: the job's timeout + 600. */
  Timeouts?: { TaskRunning?: number; SSHReady?: number; TaskIdle?: number; TaskMaxLifetime?: number };
  /** This manager's identity (e.g. its EC2 instance id): tagged on every task, what `reap` stops. */
  Manager?: { ID?: string };
}

export interface CapacityProviderItem {
  capacityProvider: string;
  weight?: number;
  base?: number;
}

/** fargate.toml validated, with every default applied: what the driver works with. */
export interface Settings {
  logLevel: LogLevel;
  logFormat: LogFormat;
  fargate: {
    cluster: string;
    /** Undefined: the SDK's region (AWS_REGION). */
    region?: string;
    /** `Subnet` + `Subnets`, de-duplicated; at least one. */
    subnets: string[];
    /** `SecurityGroup` + `SecurityGroups`, de-duplicated; empty: the VPC's default group. */
    securityGroups: string[];
    taskDefinition: string;
    enablePublicIp: boolean;
    usePublicIp: boolean;
    /** Undefined: LATEST. */
    platformVersion?: string;
    containerName: string;
    allowedTaskDefinitions: string[];
    /** Empty: the cluster's default strategy. */
    capacityProviderStrategy: CapacityProviderItem[];
    tags: Record<string, string>;
    /** Both or neither; undefined: jobs may not choose their task size (FARGATE_TASK_CPU / _MEMORY are refused). */
    maxTaskCpu?: number;
    maxTaskMemory?: number;
    /** Undefined: jobs' `image:` is ignored. Otherwise the glob patterns an image must match. */
    allowedImages?: string[];
    /** Undefined: jobs' `services:` are ignored. Otherwise the glob patterns a service image must match. */
    allowedServices?: string[];
    /** Registry host → Secrets Manager secret ARN (repositoryCredentials of job images and services). */
    registryCredentials: Record<string, string>;
  };
  metadataDirectory: string;
  ssh: { username: string; port: number };
  timeouts: {
    taskRunningSeconds: number;
    sshReadySeconds: number;
    /** The task stops itself after this long without an SSH session. */
    taskIdleSeconds: number;
    /** The task stops itself this long after it started; undefined: the job's timeout + a margin. */
    taskMaxLifetimeSeconds?: number;
  };
  /** Undefined: tasks carry no manager identity, and `reap` refuses to run. */
  managerId?: string;
  /** Keys present in the file that the driver does not know (reported as warnings, not errors). */
  unknownKeys: string[];
  /** Where this driver reads the file differently from GitLab's Go driver: one line each, logged by prepare. */
  notices: string[];
}

/** What an absent key means. */
export const FARGATE_TOML_DEFAULTS = {
  logLevel: "info" as LogLevel,
  logFormat: "text" as LogFormat,
  containerName: "ci-coordinator",
  metadataDirectory: MANAGER_PATHS.metadataDirectory,
  sshUsername: "root",
  sshPort: 22,
  /** `Timeouts.TaskRunning`: seconds from RunTask until the task is RUNNING. */
  taskRunningSeconds: 600,
  /** `Timeouts.SSHReady`: seconds from RUNNING (or sshd's first answer, when sooner) until sshd accepts the job's key. */
  sshReadySeconds: 180,
  /** `Timeouts.TaskIdle`: seconds without an SSH session after which the task stops itself. */
  taskIdleSeconds: 600,
} as const;

/** Login names accepted for SSH.Username (POSIX-portable). */
export const SSH_USERNAME = /^[a-z_][a-z0-9_.-]{0,31}$/i;

export function sshUsernameProblem(name: string): string | undefined {
  return SSH_USERNAME.test(name)
    ? undefined
    : `${JSON.stringify(name)} is not a valid user name (letters, digits, _ . -; at most 32; not starting with a ` +
        `digit, . or -)`;
}

/** The keys of `T`, checked by the compiler against the type: none missing, none extra. */
const keysOf = <T>(keys: Record<keyof T, true>): readonly string[] => Object.keys(keys);

/** Every key the driver reads, per table; `X[]` names every item of the array of tables X. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  "": keysOf<FargateToml>({
    LogLevel: true,
    LogFormat: true,
    Fargate: true,
    TaskMetadata: true,
    SSH: true,
    Timeouts: true,
    Manager: true,
  }),
  Fargate: keysOf<FargateSectionToml>({
    Cluster: true,
    Region: true,
    Subnet: true,
    Subnets: true,
    SecurityGroup: true,
    SecurityGroups: true,
    TaskDefinition: true,
    EnablePublicIP: true,
    UsePublicIP: true,
    PlatformVersion: true,
    ContainerName: true,
    AllowedTaskDefinitions: true,
    CapacityProviderStrategy: true,
    Tags: true,
    MaxTaskCPU: true,
    MaxTaskMemory: true,
    AllowedImages: true,
    AllowedServices: true,
    RegistryCredentials: true,
  }),
  "Fargate.CapacityProviderStrategy[]": keysOf<CapacityProviderToml>({
    CapacityProvider: true,
    Weight: true,
    Base: true,
  }),
  TaskMetadata: keysOf<NonNullable<FargateToml["TaskMetadata"]>>({ Directory: true }),
  SSH: keysOf<NonNullable<FargateToml["SSH"]>>({ Username: true, Port: true }),
  Timeouts: keysOf<NonNullable<FargateToml["Timeouts"]>>({
    TaskRunning: true,
    SSHReady: true,
    TaskIdle: true,
    TaskMaxLifetime: true,
  }),
  Manager: keysOf<NonNullable<FargateToml["Manager"]>>({ ID: true }),
};

/** The tables a KNOWN_KEYS section names: `Fargate` is one table, `Fargate.X[]` every item of the array Fargate.X. */
function tablesOf(root: Table, section: string): [string, Table][] {
  if (section === "") return [["", root]];
  const path = section.replace(/\[\]$/, "").split(".");
  let value: unknown = root;
  for (const part of path) value = isTable(value) ? value[part] : undefined;
  const name = path.join(".");
  if (section.endsWith("[]")) {
    return Array.isArray(value)
      ? value.flatMap((item, i): [string, Table][] => (isTable(item) ? [[`${name}[${i}]`, item]] : []))
      : [];
  }
  return isTable(value) ? [[name, value]] : [];
}

/** Keys of the document the driver does not know, as dotted paths (tag names are free-form, never unknown). */
function findUnknownKeys(root: Table): string[] {
  const unknown: string[] = [];
  for (const [section, known] of Object.entries(KNOWN_KEYS)) {
    for (const [name, table] of tablesOf(root, section)) {
      for (const key of Object.keys(table)) {
        if (!known.includes(key)) unknown.push(name === "" ? key : `${name}.${key}`);
      }
    }
  }
  return unknown;
}

const unique = (values: string[]): string[] => [...new Set(values)];

/** Reads one id key (`Subnet`) and its list form (`Subnets`), checking each value and naming the key it came from. */
function readIds(f: TableReader, single: string, list: string, kind: AwsIdKind): string[] {
  const one = f.string(single);
  const many = f.stringList(list);
  if (one !== undefined) f.check(single, one, (id) => awsIdProblem(kind, id));
  many.forEach((id, index) => f.check(`${list}[${index}]`, id, (value) => awsIdProblem(kind, value)));
  return unique([...(one !== undefined ? [one] : []), ...many]);
}

function readMaxTaskSize(f: TableReader): { maxTaskCpu?: number; maxTaskMemory?: number } {
  const cpus = FARGATE_CPU_VALUES;
  const maxTaskCpu = f.optionalInteger("MaxTaskCPU", cpus[0], cpus[cpus.length - 1]);
  const maxTaskMemory = f.optionalInteger("MaxTaskMemory", 512, 122880);
  if ((maxTaskCpu === undefined) !== (maxTaskMemory === undefined)) {
    f.error(`${f.name("MaxTaskCPU")} and ${f.name("MaxTaskMemory")} must be set together`);
  }
  if (maxTaskCpu !== undefined && !cpus.includes(maxTaskCpu)) {
    f.fail("MaxTaskCPU", `must be a Fargate CPU size (${cpus.join(", ")}), got ${maxTaskCpu}`);
  }
  return { maxTaskCpu, maxTaskMemory };
}

function readTags(f: TableReader): Record<string, string> {
  const entries = Object.entries(f.table("Tags"));
  const tooMany = tagCountProblem(entries.length);
  if (tooMany !== undefined) f.error(`${f.name("Tags")}: ${tooMany}`);
  const tags = f.section("Tags");
  for (const [key, value] of entries) {
    if (typeof value !== "string") return tags.fail(key, "must be a string");
    const keyProblem = tagKeyProblem(key);
    if (keyProblem !== undefined) tags.error(`${tags.name(key)}: the key ${keyProblem}`);
    const valueProblem = tagValueProblem(value);
    if (valueProblem !== undefined) tags.error(`${tags.name(key)}: the value ${valueProblem}`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** A list of image patterns, or undefined when the key is absent (the feature is off). */
function readPatterns(f: TableReader, key: string): string[] | undefined {
  return f.has(key) ? f.stringList(key) : undefined;
}

function readRegistryCredentials(f: TableReader): Record<string, string> {
  const entries = Object.entries(f.table("RegistryCredentials"));
  const credentials = f.section("RegistryCredentials");
  for (const [host, arn] of entries) {
    credentials.check(host, host, registryHostProblem);
    if (typeof arn !== "string") return credentials.fail(host, "must be a string (a secret ARN)");
    credentials.check(host, arn, secretArnProblem);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function readStrategy(f: TableReader): CapacityProviderItem[] {
  return f.sections("CapacityProviderStrategy").map((item) => ({
    capacityProvider: item.requiredString("CapacityProvider"),
    weight: item.optionalInteger("Weight", 0, 1000),
    base: item.optionalInteger("Base", 0, 100000),
  }));
}

function goDriverDifferences(fargate: Table): string[] {
  if (fargate.EnablePublicIP !== true || fargate.UsePublicIP !== undefined) return [];
  return [
    "Fargate.EnablePublicIP = true without Fargate.UsePublicIP: connecting to each task's private IP (GitLab's Go " +
      "driver connected to the public one); set UsePublicIP = true to connect to the public IP",
  ];
}

/** Validates a parsed document and applies the defaults. */
function readSettings(root: Table, source: string): Settings {
  const top = new TableReader(root, "", source);
  const f = top.section("Fargate");
  const subnets = readIds(f, "Subnet", "Subnets", "subnet");
  if (subnets.length === 0) f.error(`${f.name("Subnet")} or ${f.name("Subnets")} is required`);
  const securityGroups = readIds(f, "SecurityGroup", "SecurityGroups", "securityGroup");
  if (securityGroups.length > MAX_SECURITY_GROUPS)
    f.fail("SecurityGroups", `allows at most ${MAX_SECURITY_GROUPS} groups`);
  if (subnets.length > MAX_SUBNETS) f.fail("Subnets", `allows at most ${MAX_SUBNETS} subnets`);
  const platformVersion = f.string("PlatformVersion");
  if (platformVersion !== undefined) f.check("PlatformVersion", platformVersion, platformVersionProblem);
  const region = f.string("Region");
  if (region !== undefined) f.check("Region", region, regionProblem);
  const metadata = top.section("TaskMetadata");
  const manager = top.section("Manager");
  const managerId = manager.string("ID");
  if (managerId !== undefined)
    manager.check("ID", managerId, (id) => (id === "" ? "must not be empty" : tagValueProblem(id)));
  const ssh = top.section("SSH");
  const timeouts = top.section("Timeouts");
  const username = ssh.string("Username") ?? FARGATE_TOML_DEFAULTS.sshUsername;
  ssh.check("Username", username, sshUsernameProblem);
  return {
    logLevel: top.oneOf("LogLevel", LOG_LEVELS, FARGATE_TOML_DEFAULTS.logLevel),
    logFormat: top.oneOf("LogFormat", LOG_FORMATS, FARGATE_TOML_DEFAULTS.logFormat),
    fargate: {
      cluster: f.requiredString("Cluster"),
      region,
      subnets,
      securityGroups,
      taskDefinition: f.requiredString("TaskDefinition"),
      enablePublicIp: f.boolean("EnablePublicIP", false),
      usePublicIp: f.boolean("UsePublicIP", false),
      platformVersion,
      containerName: f.string("ContainerName") ?? FARGATE_TOML_DEFAULTS.containerName,
      allowedTaskDefinitions: f.stringList("AllowedTaskDefinitions"),
      capacityProviderStrategy: readStrategy(f),
      tags: readTags(f),
      ...readMaxTaskSize(f),
      allowedImages: readPatterns(f, "AllowedImages"),
      allowedServices: readPatterns(f, "AllowedServices"),
      registryCredentials: readRegistryCredentials(f),
    },
    metadataDirectory: metadata.string("Directory") ?? FARGATE_TOML_DEFAULTS.metadataDirectory,
    ssh: { username, port: ssh.integer("Port", FARGATE_TOML_DEFAULTS.sshPort, 1, 65535) },
    timeouts: {
      taskRunningSeconds: timeouts.integer("TaskRunning", FARGATE_TOML_DEFAULTS.taskRunningSeconds, 1, 86400),
      sshReadySeconds: timeouts.integer("SSHReady", FARGATE_TOML_DEFAULTS.sshReadySeconds, 1, 86400),
      taskIdleSeconds: timeouts.integer("TaskIdle", FARGATE_TOML_DEFAULTS.taskIdleSeconds, 1, 86400),
      taskMaxLifetimeSeconds: timeouts.optionalInteger("TaskMaxLifetime", 1, 7 * 86400),
    },
    managerId,
    unknownKeys: findUnknownKeys(root),
    notices: goDriverDifferences(top.table("Fargate")),
  };
}

/** Parses and validates fargate.toml text. `source` (the file path) prefixes every error message. */
export function parseFargateToml(text: string, source: string): Settings {
  let root: Table;
  try {
    root = parse(text) as Table;
  } catch (err) {
    const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : "";
    const first = (err as Error).message.split("\n")[0];
    throw new SystemFailure(`${source}: invalid TOML${where}: ${first}`);
  }
  return readSettings(root, source);
}

/** Validates a document by the rules the driver reads it with; returns the settings the driver would use. */
export function validateFargateToml(document: FargateToml, source = "fargate.toml"): Settings {
  return readSettings(withoutUndefined(document) as Table, source);
}

/** `value` without undefined entries at any depth, so that an absent optional key is not written. */
function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (!isTable(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, withoutUndefined(v)]),
  );
}

/**
 * The file's text for `document`, after the driver's own validation; a key the driver would ignore is an error
 * here (a writer has no reason to emit one). Absent (undefined) keys are not written.
 */
export function renderFargateToml(document: FargateToml, source = "fargate.toml"): string {
  const clean = withoutUndefined(document) as Table;
  const { unknownKeys } = readSettings(clean, source);
  if (unknownKeys.length > 0) {
    throw new SystemFailure(`${source}: unknown keys ${unknownKeys.join(", ")} (the driver would ignore them)`);
  }
  return `${stringify(clean)}\n`;
}
