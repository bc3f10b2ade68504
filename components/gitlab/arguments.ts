/**
 * The rules for the GitLab arguments (`gitlab.url`, the tokens, the runner's name, description and tags, legacy
 * registration settings, `gitlab.createRunner` and the private CA), one rule each, shared by the component,
 * registerRunner and GitLabRunner. Pure: no resources; errors read `<argument>: <problem>`.
 */
import { X509Certificate } from "node:crypto";
import type { CreateRunnerArgs, RunnerScope } from "../args";
import { refuse } from "../checks";

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
const GITLAB_RUNNER_LIMITS = {
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
function checkRunnerTags(tags: unknown, argument: string): string[] {
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
  if (args.locked !== undefined && args.scope.projectId === undefined) {
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

/** The members of `RunnerScope`, one per kind of runner. */
const SCOPE_MEMBERS = ["instance", "groupId", "projectId"] as const;

/**
 * `scope`: exactly one of `instance: true`, `groupId` and `projectId` (a member set to `undefined` is not given); an
 * id is GitLab's positive integer id.
 */
function checkScope(scope: unknown, argument: string): asserts scope is RunnerScope {
  const usage = "{ instance: true }, { groupId: <number> } or { projectId: <number> }";
  if (typeof scope !== "object" || scope === null || Array.isArray(scope)) {
    refuse(argument, `it is required and must be ${usage}, got ${JSON.stringify(scope)}`);
  }
  const members = scope as Record<string, unknown>;
  const unknown = Object.keys(members).filter((key) => !(SCOPE_MEMBERS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    refuse(argument, `it has no member ${unknown.join(", ")}; give exactly one of instance, groupId and projectId`);
  }
  const given = SCOPE_MEMBERS.filter((key) => members[key] !== undefined);
  if (given.length !== 1) {
    refuse(
      argument,
      `give exactly one of instance, groupId and projectId (${usage}), got ` +
        (given.length === 0 ? "none" : given.join(" and ")),
    );
  }
  const [member] = given;
  const value = members[member];
  if (member === "instance") {
    if (value !== true) refuse(`${argument}.instance`, `it must be true when given, got ${JSON.stringify(value)}`);
    return;
  }
  if (!Number.isInteger(value) || (value as number) <= 0) {
    refuse(
      `${argument}.${member}`,
      `it must be GitLab's numeric id (a positive integer, shown on the group or project page), got ` +
        JSON.stringify(value),
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
