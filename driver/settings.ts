/**
 * fargate.toml → typed, validated settings. Keys and defaults are documented in docs/driver.md; the Go driver's
 * keys keep their meaning so an existing manager can switch binaries.
 */
import { readFileSync } from "node:fs";
import { parse, TomlError } from "smol-toml";
import { SystemFailure } from "./errors";
import { FARGATE_CPU_VALUES } from "../components/fargate";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "text-simple" | "json";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
export const LOG_FORMATS: readonly LogFormat[] = ["text", "text-simple", "json"];

export interface CapacityProviderItem {
  capacityProvider: string;
  weight?: number;
  base?: number;
}

/** Validated fargate.toml. Every key, its default and its meaning: docs/driver.md. */
export interface Settings {
  /** `LogLevel`, default "info". */
  logLevel: LogLevel;
  /** `LogFormat`, default "text". */
  logFormat: LogFormat;
  fargate: {
    /** `Fargate.Cluster` (required): cluster name or ARN. */
    cluster: string;
    /** `Fargate.Region`; undefined: the SDK's region (AWS_REGION). */
    region?: string;
    /** `Fargate.Subnet` + `Fargate.Subnets`, de-duplicated; at least one. */
    subnets: string[];
    /** `Fargate.SecurityGroup` + `Fargate.SecurityGroups`; empty: the VPC's default group. */
    securityGroups: string[];
    /** `Fargate.TaskDefinition` (required): family[:revision] or ARN. */
    taskDefinition: string;
    /** `Fargate.EnablePublicIP`, default false: awsvpc assignPublicIp. */
    enablePublicIp: boolean;
    /** `Fargate.UsePublicIP`, default false: connect to the ENI's public IP. */
    usePublicIp: boolean;
    /** `Fargate.PlatformVersion`; undefined: LATEST. */
    platformVersion?: string;
    /** `Fargate.ContainerName`, default "ci-coordinator": receives SSH_PUBLIC_KEY. */
    containerName: string;
    /** `Fargate.AllowedTaskDefinitions`, default none: what FARGATE_TASK_DEFINITION may select. */
    allowedTaskDefinitions: string[];
    /** `[[Fargate.CapacityProviderStrategy]]`; empty: the cluster's default strategy. */
    capacityProviderStrategy: CapacityProviderItem[];
    /** `[Fargate.Tags]`: extra tags on every task. */
    tags: Record<string, string>;
    /**
     * `Fargate.MaxTaskCPU` / `Fargate.MaxTaskMemory` (CPU units, MiB), set together; undefined: jobs may not choose
     * their task size (FARGATE_TASK_CPU / FARGATE_TASK_MEMORY are refused).
     */
    maxTaskCpu?: number;
    maxTaskMemory?: number;
  };
  /** `TaskMetadata.Directory`, default /opt/gitlab-runner/metadata. */
  metadataDirectory: string;
  /** `SSH.Username` (default "root") and `SSH.Port` (default 22). */
  ssh: { username: string; port: number };
  /** `Timeouts.TaskRunning` (default 600 s) and `Timeouts.SSHReady` (default 180 s). */
  timeouts: { taskRunningSeconds: number; sshReadySeconds: number };
  /** Keys present in the file that the driver does not know (reported as warnings, not errors). */
  unknownKeys: string[];
  /** Where this driver reads the file differently from GitLab's Go driver: one line each, logged by prepare. */
  notices: string[];
}

export const DEFAULTS = {
  logLevel: "info" as LogLevel,
  logFormat: "text" as LogFormat,
  containerName: "ci-coordinator",
  metadataDirectory: "/opt/gitlab-runner/metadata",
  sshUsername: "root",
  sshPort: 22,
  taskRunningSeconds: 600,
  sshReadySeconds: 180,
};

const KNOWN_KEYS: Record<string, readonly string[]> = {
  "": ["LogLevel", "LogFormat", "Fargate", "TaskMetadata", "SSH", "Timeouts"],
  Fargate: [
    "Cluster",
    "Region",
    "Subnet",
    "Subnets",
    "SecurityGroup",
    "SecurityGroups",
    "TaskDefinition",
    "EnablePublicIP",
    "UsePublicIP",
    "PlatformVersion",
    "ContainerName",
    "AllowedTaskDefinitions",
    "CapacityProviderStrategy",
    "Tags",
    "MaxTaskCPU",
    "MaxTaskMemory",
  ],
  "Fargate.CapacityProviderStrategy[]": ["CapacityProvider", "Weight", "Base"],
  TaskMetadata: ["Directory"],
  SSH: ["Username", "Port"],
  Timeouts: ["TaskRunning", "SSHReady"],
};

type Table = Record<string, unknown>;

/** Reads one section's values with errors that name the full key and the file. */
class Reader {
  constructor(
    private readonly values: Table,
    private readonly prefix: string,
    private readonly source: string,
  ) {}

  private fail(key: string, problem: string): never {
    throw new SystemFailure(`${this.source}: ${this.prefix}${key} ${problem}`);
  }

  private get(key: string): unknown {
    return this.values[key];
  }

  string(key: string): string | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") this.fail(key, `must be a string, got ${describe(v)}`);
    return v.trim() === "" ? undefined : v.trim();
  }

  requiredString(key: string): string {
    return this.string(key) ?? this.fail(key, "is required");
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.string(key);
    if (v === undefined) return fallback;
    const lower = v.toLowerCase() as T;
    if (!allowed.includes(lower)) this.fail(key, `must be one of ${allowed.join(", ")}, got "${v}"`);
    return lower;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.get(key);
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") this.fail(key, `must be true or false, got ${describe(v)}`);
    return v;
  }

  optionalInteger(key: string, min: number, max: number): number | undefined {
    return this.get(key) === undefined ? undefined : this.integer(key, 0, min, max);
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    const v = this.get(key);
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `must be an integer from ${min} to ${max}, got ${describe(v)}`);
    }
    return v;
  }

  stringList(key: string): string[] {
    const v = this.get(key);
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((item) => typeof item !== "string" || item.trim() === "")) {
      this.fail(key, `must be a list of non-empty strings, got ${describe(v)}`);
    }
    return (v as string[]).map((s) => s.trim());
  }

  table(key: string): Table {
    const v = this.get(key);
    if (v === undefined) return {};
    if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Date) {
      this.fail(key, `must be a table, got ${describe(v)}`);
    }
    return v as Table;
  }

  tableList(key: string): Table[] {
    const v = this.get(key);
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((item) => typeof item !== "object" || item === null || Array.isArray(item))) {
      this.fail(key, `must be an array of tables ([[${this.prefix}${key}]]), got ${describe(v)}`);
    }
    return v as Table[];
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date";
  return typeof v === "string" ? `"${v}"` : typeof v === "object" ? "a table" : String(v);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** AWS subnet IDs: `subnet-` and 8 or 17 lowercase hex digits. */
export const SUBNET_ID = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;
/** AWS security group IDs: `sg-` and 8 or 17 lowercase hex digits. */
export const SECURITY_GROUP_ID = /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/;
/** Login names the driver accepts for SSH.Username (POSIX-portable; components/runnerConfig.ts uses the same). */
export const SSH_USERNAME = /^[a-z_][a-z0-9_.-]{0,31}$/i;

/** Reads one id key (`Subnet`) and its list form (`Subnets`), checking each value and naming the key it came from. */
function readIds(source: string, f: Reader, single: string, list: string, pattern: RegExp, kind: string): string[] {
  const one = f.string(single);
  const many = f.stringList(list);
  const check = (key: string, value: string): void => {
    if (!pattern.test(value)) {
      throw new SystemFailure(`${source}: ${key} "${value}" does not look like ${kind}`);
    }
  };
  if (one !== undefined) check(`Fargate.${single}`, one);
  many.forEach((value, index) => check(`Fargate.${list}[${index}]`, value));
  return unique([...(one !== undefined ? [one] : []), ...many]);
}

function readMaxTaskSize(source: string, f: Reader): { maxTaskCpu?: number; maxTaskMemory?: number } {
  const cpus = FARGATE_CPU_VALUES;
  const maxTaskCpu = f.optionalInteger("MaxTaskCPU", cpus[0], cpus[cpus.length - 1]);
  const maxTaskMemory = f.optionalInteger("MaxTaskMemory", 512, 122880);
  if ((maxTaskCpu === undefined) !== (maxTaskMemory === undefined)) {
    throw new SystemFailure(`${source}: Fargate.MaxTaskCPU and Fargate.MaxTaskMemory must be set together`);
  }
  if (maxTaskCpu !== undefined && !cpus.includes(maxTaskCpu)) {
    throw new SystemFailure(
      `${source}: Fargate.MaxTaskCPU must be a Fargate CPU size (${cpus.join(", ")}), got ${maxTaskCpu}`,
    );
  }
  return { maxTaskCpu, maxTaskMemory };
}

const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** RunTask accepts 50 tags; the driver adds 4 of its own. */
export const MAX_USER_TAGS = 46;

function readTags(source: string, table: Table): Record<string, string> {
  const entries = Object.entries(table);
  if (entries.length > MAX_USER_TAGS) {
    throw new SystemFailure(`${source}: Fargate.Tags has ${entries.length} tags; at most ${MAX_USER_TAGS} are allowed`);
  }
  const tags: Record<string, string> = {};
  for (const [key, value] of entries) {
    const name = `Fargate.Tags.${key}`;
    if (typeof value !== "string") throw new SystemFailure(`${source}: ${name} must be a string`);
    if (key.length === 0 || key.length > 128 || !TAG_TEXT.test(key) || key.toLowerCase().startsWith("aws:")) {
      throw new SystemFailure(
        `${source}: ${name}: tag keys are 1-128 letters, digits, spaces or _.:/=+-@ and must not start with "aws:"`,
      );
    }
    if (value.length > 256 || !TAG_TEXT.test(value)) {
      throw new SystemFailure(`${source}: ${name}: tag values are up to 256 letters, digits, spaces or _.:/=+-@`);
    }
    tags[key] = value;
  }
  return tags;
}

function readStrategy(source: string, items: Table[]): CapacityProviderItem[] {
  return items.map((item, index) => {
    const r = new Reader(item, `Fargate.CapacityProviderStrategy[${index}].`, source);
    const weight = item.Weight === undefined ? undefined : r.integer("Weight", 0, 0, 1000);
    const base = item.Base === undefined ? undefined : r.integer("Base", 0, 0, 100000);
    return { capacityProvider: r.requiredString("CapacityProvider"), weight, base };
  });
}

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

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

/** Parses and validates fargate.toml text. `source` (the file path) prefixes every error message. */
export function parseSettings(text: string, source: string): Settings {
  let root: Table;
  try {
    root = parse(text) as Table;
  } catch (err) {
    const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : "";
    const first = (err as Error).message.split("\n")[0];
    throw new SystemFailure(`${source}: invalid TOML${where}: ${first}`);
  }
  const top = new Reader(root, "", source);
  const f = new Reader(top.table("Fargate"), "Fargate.", source);
  const subnets = readIds(source, f, "Subnet", "Subnets", SUBNET_ID, "a subnet ID (subnet- and 8 or 17 hex digits)");
  if (subnets.length === 0) throw new SystemFailure(`${source}: Fargate.Subnet or Fargate.Subnets is required`);
  const securityGroups = readIds(
    source,
    f,
    "SecurityGroup",
    "SecurityGroups",
    SECURITY_GROUP_ID,
    "a security group ID (sg- and 8 or 17 hex digits)",
  );
  if (securityGroups.length > 5) throw new SystemFailure(`${source}: Fargate.SecurityGroups allows at most 5 groups`);
  if (subnets.length > 16) throw new SystemFailure(`${source}: Fargate.Subnets allows at most 16 subnets`);
  const platformVersion = f.string("PlatformVersion");
  if (platformVersion !== undefined && !/^(LATEST|\d+\.\d+\.\d+)$/.test(platformVersion)) {
    throw new SystemFailure(
      `${source}: Fargate.PlatformVersion must be LATEST or like 1.4.0, got "${platformVersion}"`,
    );
  }
  const region = f.string("Region");
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new SystemFailure(`${source}: Fargate.Region "${region}" does not look like an AWS region (e.g. eu-west-1)`);
  }
  const metadata = new Reader(top.table("TaskMetadata"), "TaskMetadata.", source);
  const ssh = new Reader(top.table("SSH"), "SSH.", source);
  const timeouts = new Reader(top.table("Timeouts"), "Timeouts.", source);
  const username = ssh.string("Username") ?? DEFAULTS.sshUsername;
  if (!SSH_USERNAME.test(username)) {
    throw new SystemFailure(
      `${source}: SSH.Username "${username}" is not a valid user name (letters, digits, _ . -; at most 32)`,
    );
  }
  return {
    logLevel: top.oneOf("LogLevel", LOG_LEVELS, DEFAULTS.logLevel),
    logFormat: top.oneOf("LogFormat", LOG_FORMATS, DEFAULTS.logFormat),
    fargate: {
      cluster: f.requiredString("Cluster"),
      region,
      subnets,
      securityGroups,
      taskDefinition: f.requiredString("TaskDefinition"),
      enablePublicIp: f.boolean("EnablePublicIP", false),
      usePublicIp: f.boolean("UsePublicIP", false),
      platformVersion,
      containerName: f.string("ContainerName") ?? DEFAULTS.containerName,
      allowedTaskDefinitions: f.stringList("AllowedTaskDefinitions"),
      capacityProviderStrategy: readStrategy(source, f.tableList("CapacityProviderStrategy")),
      tags: readTags(source, f.table("Tags")),
      ...readMaxTaskSize(source, f),
    },
    metadataDirectory: metadata.string("Directory") ?? DEFAULTS.metadataDirectory,
    ssh: { username, port: ssh.integer("Port", DEFAULTS.sshPort, 1, 65535) },
    timeouts: {
      taskRunningSeconds: timeouts.integer("TaskRunning", DEFAULTS.taskRunningSeconds, 1, 86400),
      sshReadySeconds: timeouts.integer("SSHReady", DEFAULTS.sshReadySeconds, 1, 86400),
    },
    unknownKeys: findUnknownKeys(root),
    notices: goDriverDifferences(top.table("Fargate")),
  };
}

function goDriverDifferences(fargate: Table): string[] {
  if (fargate.EnablePublicIP !== true || fargate.UsePublicIP !== undefined) return [];
  return [
    "Fargate.EnablePublicIP = true without Fargate.UsePublicIP: connecting to each task's private IP (GitLab's Go " +
      "driver connected to the public one); set UsePublicIP = true to connect to the public IP",
  ];
}

/** Reads and parses the file; a missing or unreadable file is a clear error naming the path. */
export function loadSettings(path: string): Settings {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new SystemFailure(
      `cannot read --config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return parseSettings(text, path);
}
