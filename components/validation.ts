import { X509Certificate } from "node:crypto";
import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { SECURITY_GROUP_ID, SUBNET_ID } from "../driver/settings";
import { Architecture, ExistingNetworkArgs, ExternalImageArgs, GitLabFargateRunnerArgs, TaskPlacement } from "./args";
import { taskTagProblem } from "./awsTags";
import { allowedMemory, FARGATE_CPU_VALUES } from "./fargate";
import type { CreateRunnerArgs, RunnerScope } from "./gitlabRunner";

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
    taskRolePolicyArns: pulumi.Input<string>[];
    image?: ExternalImageArgs;
    build: { context?: string; keepImages: number; forceDelete: boolean };
  };
  cache: { enabled: boolean; expirationDays: number; forceDestroy: boolean };
  runner: { name: string; concurrent: number; checkInterval: number };
  /** Caller tags plus the tag naming this runner. */
  tags: Record<string, string>;
}

/** Values CloudWatch Logs accepts for a log group's retention. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** Tag key put on every resource, valued with the component name. */
export const RUNNER_TAG = "gitlab-fargate-runner";

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

// Rules shared with registerRunner (registration.ts) and GitLabRunner (gitlabRunner.ts): one rule each.

/** A broken shared rule: `<argument>: <problem>`. */
function refuse(argument: string, problem: string): never {
  throw new Error(`${argument}: ${problem}`);
}

/**
 * Applies `check` to a plain string now, so a bad argument fails before any resource exists, and to an Output as
 * soon as it resolves (a value from stack config or another resource). A secret Output stays secret.
 */
export function checkedInput(input: pulumi.Input<string>, check: (value: string) => string): pulumi.Output<string> {
  return typeof input === "string" ? pulumi.output(check(input)) : pulumi.output(input).apply(check);
}

/** Characters no GitLab URL, token or runner name contains: C0/C1 control characters and DEL. */
function hasControlCharacter(text: string): boolean {
  return [...text].some((c) => {
    const code = c.codePointAt(0) as number;
    return code < 0x20 || (code >= 0x7f && code <= 0x9f);
  });
}

/** The URL for messages: quoted, control characters escaped, a user name or password never repeated. */
function shownUrl(url: string): string {
  return JSON.stringify(url.replace(/^([^@/?#]*\/\/)?[^/?#]*@/, "$1…@"));
}

/**
 * `gitlab.url`: GitLab's base URL, parsed. Refuses a user name or password (they would be stored in plain text in
 * the stack's Command inputs and config.toml), control characters and whitespace (raw or percent-encoded: the URL
 * parser drops tabs and line breaks silently), a query or fragment, and anything but https. Returns the URL as
 * `new URL` writes it (lower-case host, no default port) without trailing slashes, and its port: the one URL the
 * register script, config.toml and the API client get.
 */
export function normaliseGitLabUrl(url: unknown): { url: string; port: number } {
  const argument = "gitlab.url";
  if (url === undefined || url === "") refuse(argument, "it is required (e.g. https://gitlab.com)");
  if (typeof url !== "string") refuse(argument, "it must be a string such as https://gitlab.com");
  if (hasControlCharacter(url) || /\s|%[01][0-9a-f]|%7f/i.test(url)) {
    refuse(argument, `${shownUrl(url)} contains a control character or whitespace; a GitLab URL has none`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse(argument, `${shownUrl(url)} is not a URL`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    refuse(
      argument,
      "it must not contain a user name or password (https://user:password@…): they would be stored in plain text " +
        "in the stack and on the manager; the runner authenticates with its token",
    );
  }
  if (parsed.protocol !== "https:") refuse(argument, `must use https://, got ${shownUrl(url)}`);
  if (parsed.search !== "" || parsed.hash !== "" || /[?#]/.test(url)) {
    refuse(argument, `${shownUrl(url)} has a query (?…) or fragment (#…); give GitLab's base URL without them`);
  }
  return { url: parsed.href.replace(/\/+$/, ""), port: parsed.port === "" ? 443 : Number(parsed.port) };
}

/** The ways to give the runner's token, each as messages name it. */
const TOKEN_OPTIONS = {
  runnerToken: "gitlab.runnerToken (a glrt- runner authentication token, recommended)",
  registrationToken: "gitlab.registrationToken (a legacy registration token)",
  createRunner: "gitlab.createRunner (an access token with the create_runner scope)",
} as const;

/** One of `gitlab.runnerToken`, `gitlab.registrationToken` and `gitlab.createRunner`. */
export type TokenOption = keyof typeof TOKEN_OPTIONS;

/**
 * Which option gives the runner's token, among `allowed` (registerRunner has no `createRunner`). Throws unless
 * exactly one is given, when `legacyRegistration` comes without `registrationToken`, and when a token given as a
 * plain string breaks {@link checkToken}.
 */
export function chooseToken(
  gitlab: Partial<Record<TokenOption | "legacyRegistration", unknown>>,
  allowed: readonly TokenOption[] = ["runnerToken", "registrationToken", "createRunner"],
): TokenOption {
  const list = allowed.map((key) => TOKEN_OPTIONS[key]);
  const ways = `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
  const given = allowed.filter((key) => gitlab[key] !== undefined);
  if (given.length > 1) {
    refuse(
      "gitlab",
      `${given.map((key) => `gitlab.${key}`).join(" and ")} are mutually exclusive: give one of ${ways}`,
    );
  }
  if (given.length === 0) refuse("gitlab", `one of ${ways} is required`);
  const choice = given[0];
  if (gitlab.legacyRegistration !== undefined && choice !== "registrationToken") {
    refuse(
      "gitlab.legacyRegistration",
      `it applies only to gitlab.registrationToken; ` +
        (choice === "createRunner"
          ? "set tags, runUntagged and locked in gitlab.createRunner"
          : "a runnerToken's runner keeps its tags, run-untagged and locked settings in GitLab"),
    );
  }
  const token = gitlab[choice];
  if (choice !== "createRunner" && typeof token === "string") checkToken(choice, token);
  return choice;
}

/**
 * A runner or registration token's value: one word, and of the kind its option expects. A `glrt-` token given as
 * `registrationToken` would make gitlab-runner register with it as a runner token and silently ignore
 * `legacyRegistration`. Returns the token without surrounding whitespace; messages never repeat it.
 */
export function checkToken(option: "runnerToken" | "registrationToken", token: string): string {
  const argument = `gitlab.${option}`;
  const value = token.trim();
  if (value === "") refuse(argument, "it is empty");
  if (/\s/.test(value) || hasControlCharacter(value)) {
    refuse(argument, "it must be one word (no spaces or line breaks)");
  }
  if (option === "runnerToken" && value.startsWith("GR1348941")) {
    refuse(argument, "this is a legacy registration token (GR1348941…); pass it as gitlab.registrationToken");
  }
  if (option === "registrationToken" && value.startsWith("glrt-")) {
    refuse(
      argument,
      "this is a runner authentication token (glrt-…), not a registration token; pass it as gitlab.runnerToken " +
        "(its tags, run-untagged and locked settings are kept in GitLab)",
    );
  }
  return value;
}

/** Limits GitLab's runner model enforces (app/models/ci/runner.rb, `Ci::Runner` validations). */
export const GITLAB_RUNNER_LIMITS = {
  /** `validates :description, length: { maximum: 1024 }` (characters). */
  descriptionLength: 1024,
  /** `validates :maintenance_note, length: { maximum: 1024 }`. */
  maintenanceNoteLength: 1024,
  /** `TAG_LIST_MAX_LENGTH = 50`. */
  tags: 50,
  /** `maximum_timeout` must be at least 600 seconds. */
  minimumMaximumTimeout: 600,
} as const;

/** Length in characters (code points), as GitLab (Ruby) counts it. */
function characters(text: string): number {
  return [...text].length;
}

/**
 * `runner.name`: written to config.toml, and the runner's description in GitLab when the stack creates the runner
 * without a description or registers with a legacy token. A single line of at most 1024 characters.
 */
export function checkRunnerName(name: unknown, argument = "runner.name"): string {
  const max = GITLAB_RUNNER_LIMITS.descriptionLength;
  if (typeof name !== "string" || name.trim() === "" || hasControlCharacter(name) || characters(name) > max) {
    refuse(argument, `it must be a non-empty single line of at most ${max} characters (GitLab's description limit)`);
  }
  return name;
}

/** A runner's description in GitLab: a non-empty string of at most 1024 characters. */
export function checkRunnerDescription(description: unknown, argument: string): void {
  const max = GITLAB_RUNNER_LIMITS.descriptionLength;
  if (typeof description !== "string" || description.trim() === "") {
    refuse(argument, "it must be a non-empty string when given");
  }
  if (characters(description) > max) {
    refuse(argument, `it has ${characters(description)} characters; GitLab accepts at most ${max}`);
  }
}

/** Runner tags: at most 50, each non-empty, without commas or surrounding spaces, no duplicates. */
export function checkRunnerTags(tags: unknown, argument: string): string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) refuse(argument, "it must be an array of strings");
  const seen = new Set<string>();
  for (const tag of tags) {
    if (typeof tag !== "string" || tag.trim() === "" || tag !== tag.trim() || tag.includes(",")) {
      refuse(
        argument,
        `it contains ${JSON.stringify(tag)}: each tag must be a non-empty string without commas or ` +
          `leading/trailing spaces`,
      );
    }
    if (seen.has(tag)) refuse(argument, `it lists ${JSON.stringify(tag)} twice`);
    seen.add(tag);
  }
  if (tags.length > GITLAB_RUNNER_LIMITS.tags) {
    refuse(argument, `it has ${tags.length} tags; GitLab accepts at most ${GITLAB_RUNNER_LIMITS.tags}`);
  }
  return tags;
}

/**
 * `gitlab.legacyRegistration`, which goes with `registrationToken`. `runUntagged: false` needs tags: without tags,
 * gitlab-runner registers the runner to run untagged jobs anyway (commands/register.go), so the setting would be
 * silently ignored.
 */
export function checkLegacyRegistration(legacy: unknown): void {
  const argument = "gitlab.legacyRegistration";
  if (legacy === undefined) return;
  if (typeof legacy !== "object" || legacy === null || Array.isArray(legacy)) {
    refuse(argument, "it must be an object { tags?, runUntagged?, locked? }");
  }
  const { tags, runUntagged, locked } = legacy as Record<string, unknown>;
  const checkedTags = checkRunnerTags(tags, `${argument}.tags`);
  for (const [key, value] of Object.entries({ runUntagged, locked })) {
    if (value !== undefined && typeof value !== "boolean") refuse(`${argument}.${key}`, "it must be true or false");
  }
  if (runUntagged === false && checkedTags.length === 0) {
    refuse(
      `${argument}.runUntagged`,
      "false needs tags: without tags gitlab-runner registers the runner to run untagged jobs anyway (and a runner " +
        "with neither could never pick a job); add tags or drop runUntagged",
    );
  }
}

const ACCESS_LEVELS: readonly string[] = ["not_protected", "ref_protected"];

/**
 * `gitlab.createRunner` (and GitLabRunner's arguments): checked before any call to GitLab. Values that are
 * Pulumi Outputs (only `accessToken` may be one) are checked when known.
 */
export function validateCreateRunnerArgs(args: CreateRunnerArgs, option = "gitlab.createRunner"): void {
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    refuse(option, "it must be an object with at least accessToken and scope");
  }
  checkAccessToken(args.accessToken, `${option}.accessToken`);
  checkScope(args.scope, `${option}.scope`);
  if (args.description !== undefined) checkRunnerDescription(args.description, `${option}.description`);
  const tags = checkRunnerTags(args.tags, `${option}.tags`);
  for (const key of ["runUntagged", "locked", "paused"] as const) {
    if (args[key] !== undefined && typeof args[key] !== "boolean") {
      refuse(`${option}.${key}`, "it must be true or false");
    }
  }
  if (args.runUntagged === false && tags.length === 0) {
    refuse(
      `${option}.runUntagged`,
      `false needs tags, but ${option}.tags is empty: the runner could never pick a job, and GitLab rejects it; ` +
        `add tags or drop runUntagged`,
    );
  }
  if (args.locked !== undefined && !(typeof args.scope === "object" && "projectId" in args.scope)) {
    refuse(`${option}.locked`, "it applies only to project runners (scope { projectId }); remove it");
  }
  if (args.accessLevel !== undefined && !ACCESS_LEVELS.includes(args.accessLevel)) {
    refuse(
      `${option}.accessLevel`,
      `it must be "not_protected" or "ref_protected", got ${JSON.stringify(args.accessLevel)}`,
    );
  }
  const minTimeout = GITLAB_RUNNER_LIMITS.minimumMaximumTimeout;
  if (
    args.maximumTimeout !== undefined &&
    (!Number.isInteger(args.maximumTimeout) || args.maximumTimeout < minTimeout)
  ) {
    refuse(
      `${option}.maximumTimeout`,
      `it must be a whole number of seconds, at least ${minTimeout} (GitLab's minimum), got ` +
        JSON.stringify(args.maximumTimeout),
    );
  }
  const maxNote = GITLAB_RUNNER_LIMITS.maintenanceNoteLength;
  if (
    args.maintenanceNote !== undefined &&
    (typeof args.maintenanceNote !== "string" || characters(args.maintenanceNote) > maxNote)
  ) {
    refuse(`${option}.maintenanceNote`, `it must be a string of at most ${maxNote} characters`);
  }
}

function checkAccessToken(token: unknown, argument: string): void {
  if (token === undefined || token === null || token === "") {
    refuse(
      argument,
      `it is required: a GitLab access token with the create_runner and manage_runner scopes ` +
        `(see the README section "Runner lifecycle")`,
    );
  }
  if (typeof token !== "string") return; // an Output: known only at deployment
  if (token.startsWith("glrt-")) {
    refuse(
      argument,
      `this is a runner authentication token (glrt-…), not an access token: pass it as gitlab.runnerToken ` +
        `instead, or give an access token with the create_runner scope here`,
    );
  }
  if (token.startsWith("GR1348941")) {
    refuse(
      argument,
      `this is a runner registration token (GR1348941…), not an access token: pass it as ` +
        `gitlab.registrationToken instead, or give an access token with the create_runner scope here`,
    );
  }
}

function checkScope(scope: unknown, argument: string): asserts scope is RunnerScope {
  const usage = `"instance", { groupId: <number> } or { projectId: <number> }`;
  if (scope === "instance") return;
  if (typeof scope !== "object" || scope === null) {
    refuse(argument, `it is required and must be ${usage}, got ${JSON.stringify(scope)}`);
  }
  const keys = Object.keys(scope);
  if (keys.length !== 1 || (keys[0] !== "groupId" && keys[0] !== "projectId")) {
    refuse(argument, `it must be ${usage} (exactly one key), got keys ${JSON.stringify(keys)}`);
  }
  const id = (scope as Record<string, unknown>)[keys[0]];
  if (!Number.isInteger(id) || (id as number) <= 0) {
    refuse(
      `${argument}.${keys[0]}`,
      `it must be GitLab's numeric id (a positive integer, shown on the group or project page), got ` +
        JSON.stringify(id),
    );
  }
}

const CERTIFICATE_PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * `gitlab.tlsCaCertificate`: the certificates to install on the manager, as the PEM text of their CERTIFICATE blocks
 * (text between blocks, such as `subject=` lines, is dropped). Refuses an empty value, any private key, any other
 * block type, a block without its END line and a certificate node:crypto cannot parse as X.509.
 */
export function caCertificateBundle(pem: string): string {
  const argument = "gitlab.tlsCaCertificate";
  if (typeof pem !== "string" || pem.trim() === "") {
    refuse(argument, "it is empty; give the PEM certificate(s) of the CA that signed GitLab's certificate");
  }
  if (/PRIVATE KEY/.test(pem)) {
    refuse(argument, "it contains a private key; give only the CA's certificates (-----BEGIN CERTIFICATE-----)");
  }
  const blocks = [...pem.matchAll(CERTIFICATE_PEM_BLOCK)];
  const other = blocks.find(([, label]) => label !== "CERTIFICATE");
  if (other) refuse(argument, `it contains a ${other[1]} block; only CERTIFICATE blocks are accepted`);
  const begins = pem.split("-----BEGIN ").length - 1;
  if (begins === 0) {
    refuse(argument, "it holds no PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)");
  }
  if (begins !== blocks.length) refuse(argument, "a PEM block is not closed by its matching -----END line");
  blocks.forEach(([block], index) => {
    try {
      new X509Certificate(block);
    } catch {
      refuse(argument, `certificate ${index + 1} is not an X.509 certificate (node:crypto cannot parse it)`);
    }
  });
  return `${blocks.map(([block]) => block).join("\n")}\n`;
}

/** VPC ids: `vpc-` and 8 or 17 lowercase hex digits, the only shapes AWS issues (like the driver's rules below). */
const VPC_ID = /^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** AWS ids the component and registerRunner accept; subnets and security groups by the driver's own rules. */
const AWS_IDS = {
  vpc: { pattern: VPC_ID, name: "VPC id (vpc- and 8 or 17 lowercase hex digits)" },
  subnet: { pattern: SUBNET_ID, name: "subnet id (subnet- and 8 or 17 lowercase hex digits)" },
  securityGroup: { pattern: SECURITY_GROUP_ID, name: "security group id (sg- and 8 or 17 lowercase hex digits)" },
} as const;

/** Checks one AWS id with the rule every job's driver applies, so a deploy never accepts ids every job refuses. */
export function checkAwsId(argument: string, kind: keyof typeof AWS_IDS, id: unknown): string {
  const rule = AWS_IDS[kind];
  if (typeof id !== "string" || !rule.pattern.test(id)) refuse(argument, `${JSON.stringify(id)} is not a ${rule.name}`);
  return id;
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

/** Checks one CIDR block; returns its IP family. */
export function cidrFamily(argument: string, cidr: string): 4 | 6 {
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

function resolveImage(image: ExternalImageArgs | undefined): ExternalImageArgs | undefined {
  if (image === undefined) return undefined;
  if (!image.uri || (typeof image.uri === "string" && image.uri.trim() === "")) {
    fail("jobs.image.uri", "it is required when jobs.image is given");
  }
  const arn = image.credentialsSecretArn;
  if (arn === undefined) return image;
  const checkedArn = (value: string) => {
    const problem = credentialsSecretArnProblem(value);
    if (problem !== undefined) fail("jobs.image.credentialsSecretArn", problem);
    return value;
  };
  if (typeof arn === "string") return { ...image, credentialsSecretArn: checkedArn(arn) };
  // An ARN only known at deploy time (another resource, stack config) is checked as soon as it resolves.
  return { ...image, credentialsSecretArn: pulumi.output(arn).apply(checkedArn) };
}

/**
 * The execution role may read exactly this ARN, so it must name one Secrets Manager secret in full (ECS takes
 * registry credentials only from Secrets Manager; IAM matches the full ARN, with the 6-character suffix).
 */
function credentialsSecretArnProblem(arn: string): string | undefined {
  if (/[*?]/.test(arn)) {
    return `"${arn}" contains a wildcard (* or ?); give the full ARN of the one secret the execution role may read`;
  }
  if (!/^arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/.test(arn)) {
    return `"${arn}" is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)`;
  }
  if (!/-[A-Za-z0-9]{6}$/.test(arn)) {
    return `"${arn}" is a partial ARN; give the full ARN, ending in the 6-character suffix Secrets Manager adds`;
  }
  return undefined;
}

function resolvePlatformVersion(version: string | undefined): string {
  const result = version ?? "LATEST";
  if (result !== "LATEST" && !/^\d+\.\d+\.\d+$/.test(result)) {
    fail("jobs.platformVersion", `"${version}" is neither LATEST nor a version like 1.4.0`);
  }
  return result;
}

function resolveFamily(name: string, family: string | undefined): string {
  const result = family ?? `gitlab-${name}-${pulumi.getStack()}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 255);
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(result)) {
    fail("jobs.family", `"${family}" may contain only letters, digits, hyphens and underscores (max 255)`);
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

  const cache = args.cache ?? {};
  const runner = args.runner ?? {};

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
      taskRolePolicyArns: jobs.taskRolePolicyArns ?? [],
      image: resolveImage(jobs.image),
      build: {
        context: jobs.build?.context,
        keepImages: positiveInteger("jobs.build.keepImages", jobs.build?.keepImages, 10, 1, 10000),
        forceDelete: jobs.build?.forceDelete ?? false,
      },
    },
    cache: {
      enabled: cache.enabled ?? true,
      expirationDays: positiveInteger("cache.expirationDays", cache.expirationDays, 14, 1, 3650),
      forceDestroy: cache.forceDestroy ?? false,
    },
    runner: {
      name: resolveRunnerName(runner.name, name),
      concurrent: positiveInteger("runner.concurrent", runner.concurrent, 10, 1, 1000),
      checkInterval: positiveInteger("runner.checkInterval", runner.checkInterval, 3, 1, 3600),
    },
    tags: resolveTags(name, args.tags),
  };
}
