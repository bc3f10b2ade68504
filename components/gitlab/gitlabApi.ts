/**
 * A small client for the parts of GitLab's REST API that manage one runner: create it (`POST /user/runners`),
 * read it, update it and delete it (`/runners/:id`), with every failure turned into one message that names the
 * cause and the fix.
 *
 * The dynamic provider in gitlabRunner.ts is serialized by Pulumi's closure serialization and runs in another
 * process, so this module uses only globals (fetch, URL, AbortSignal, JSON) and plain functions.
 *
 * API reference: https://docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user and
 * https://docs.gitlab.com/api/runners/
 */
import type { RunnerAccessLevel } from "../args";

/** Where GitLab is and the access token sent as `PRIVATE-TOKEN`. */
export interface GitLabConnection {
  /** GitLab's base URL, e.g. `https://gitlab.example.com` or `https://example.com/gitlab`. */
  url: string;
  /** Personal, group or project access token. Never part of an error message. */
  accessToken: string;
  /** How long one request may take, in milliseconds. Default 30000. */
  timeoutMs?: number;
}

export type RunnerType = "instance_type" | "group_type" | "project_type";

/** Runner attributes GitLab accepts both on create and on `PUT /runners/:id`, in GitLab's own field names. */
export interface RunnerAttributes {
  description?: string;
  paused?: boolean;
  locked?: boolean;
  run_untagged?: boolean;
  tag_list?: string[];
  access_level?: RunnerAccessLevel;
  /** Seconds; `null` clears it (GitLab reports `null` when none is set). */
  maximum_timeout?: number | null;
  maintenance_note?: string;
}

/** Body of `POST /user/runners`. */
export interface CreateRunnerRequest extends RunnerAttributes {
  runner_type: RunnerType;
  group_id?: number;
  project_id?: number;
}

/** What `POST /user/runners` returns: the runner's id and its authentication token (`glrt-…`). */
export interface CreatedRunner {
  id: number;
  token: string;
  tokenExpiresAt: string | null;
}

/** The runner as `GET /runners/:id` describes it (only the attributes this package manages). */
export type RunnerDetails = RunnerAttributes & { id: number; runner_type?: RunnerType };

export type Operation = "create" | "read" | "update" | "delete";

/** A failed GitLab call. `message` is meant for the user as is; `status` is absent for network failures. */
export type GitLabApiError = Error & { status?: number };

/**
 * Makes a {@link GitLabApiError}. A plain Error, not a subclass: Pulumi's closure serialization rewrites classes
 * into functions, and `Error` called as a function drops the message.
 */
function gitLabApiError(message: string, status?: number): GitLabApiError {
  const error: GitLabApiError = new Error(message);
  error.name = "GitLabApiError";
  if (status !== undefined) error.status = status;
  return error;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const INSTANCE_TARGET = "instance runner";
const MAX_DETAIL_LENGTH = 300;

/** Creates a runner linked to the token's user. */
export async function createUserRunner(conn: GitLabConnection, request: CreateRunnerRequest): Promise<CreatedRunner> {
  const target = creationTarget(request);
  const response = await send(conn, "POST", "user/runners", request, { operation: "create", target });
  if (response.status !== 201 && response.status !== 200) {
    throw failure(conn, response, { operation: "create", target });
  }
  const body = response.body as { id?: unknown; token?: unknown; token_expires_at?: unknown } | undefined;
  if (typeof body?.id !== "number" || typeof body.token !== "string" || body.token === "") {
    throw gitLabApiError(
      `GitLab at ${hostOf(conn.url)} answered the runner creation without a runner id and token: check that ` +
        `gitlab.url points at GitLab itself (not a proxy or login page).`,
      response.status,
    );
  }
  const expires = typeof body.token_expires_at === "string" ? body.token_expires_at : null;
  return { id: body.id, token: body.token, tokenExpiresAt: expires };
}

/** Reads a runner; `undefined` when GitLab no longer knows it. */
export async function getRunner(conn: GitLabConnection, runnerId: number): Promise<RunnerDetails | undefined> {
  const context = { operation: "read" as const, target: `runner #${runnerId}` };
  const response = await send(conn, "GET", `runners/${runnerId}`, undefined, context);
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw failure(conn, response, context);
  return response.body as RunnerDetails;
}

/** Changes a runner's attributes in place. */
export async function updateRunner(conn: GitLabConnection, runnerId: number, attributes: RunnerAttributes) {
  const context = { operation: "update" as const, target: `runner #${runnerId}` };
  const response = await send(conn, "PUT", `runners/${runnerId}`, attributes, context);
  if (response.status !== 200) throw failure(conn, response, context);
}

/** Deletes a runner. A runner that is already gone counts as deleted, so destroy can be repeated safely. */
export async function deleteRunner(conn: GitLabConnection, runnerId: number): Promise<"deleted" | "already-gone"> {
  const context = { operation: "delete" as const, target: `runner #${runnerId}` };
  const response = await send(conn, "DELETE", `runners/${runnerId}`, undefined, context);
  if (response.status === 204 || response.status === 200) return "deleted";
  if (response.status === 404) return "already-gone";
  throw failure(conn, response, context);
}

/** The REST endpoint for `path` under GitLab's base URL, keeping any sub-path GitLab is served under. */
export function apiUrl(baseUrl: string, path: string): URL {
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  return new URL(`api/v4/${path}`, base);
}

interface FailureContext {
  operation: Operation;
  /** What the call was about, for messages: "group 42", "project 7", "instance runner", "runner #9". */
  target: string;
}

interface ApiResponse {
  status: number;
  statusText: string;
  body: unknown;
  location?: string;
}

async function send(
  conn: GitLabConnection,
  method: string,
  path: string,
  body: object | undefined,
  context: FailureContext,
): Promise<ApiResponse> {
  const url = apiUrl(conn.url, path);
  const headers: Record<string, string> = { "PRIVATE-TOKEN": conn.accessToken, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const timeoutMs = conn.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // A redirect would turn POST into GET and could carry the token to another host: report it instead.
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw gitLabApiError(networkFailureMessage(conn.url, context, error, timeoutMs));
  }
  const text = await response.text().catch(() => "");
  return {
    status: response.status,
    statusText: response.statusText,
    body: parseJson(text),
    location: response.headers.get("location") ?? undefined,
  };
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function failure(conn: GitLabConnection, response: ApiResponse, context: FailureContext): GitLabApiError {
  const message = describeFailure({
    ...context,
    host: hostOf(conn.url),
    status: response.status,
    statusText: response.statusText,
    body: response.body,
    location: response.location,
    secrets: [conn.accessToken],
  });
  return gitLabApiError(message, response.status);
}

/** Everything {@link describeFailure} needs to explain one failed answer. */
export interface FailureDescription extends FailureContext {
  host: string;
  status: number;
  statusText?: string;
  body: unknown;
  location?: string;
  /** Values that must never appear in the message (they are replaced by `[redacted]`). */
  secrets: string[];
}

const ACTION: Record<Operation, string> = {
  create: "create the GitLab runner",
  read: "read the GitLab runner",
  update: "update the GitLab runner",
  delete: "delete the GitLab runner",
};

/** One message naming the cause and the fix of a failed GitLab answer. Pure. */
export function describeFailure(d: FailureDescription): string {
  const lead = `Could not ${ACTION[d.operation]} (${d.target}) on ${d.host}`;
  const said = gitlabDetail(d.body, d.secrets);
  const code = `HTTP ${d.status}${d.statusText ? ` ${d.statusText}` : ""}${said ? `: ${said}` : ""}`;
  const optionHint = "gitlab.createRunner.accessToken";
  const manages = d.operation !== "create";
  if (d.status >= 300 && d.status < 400) {
    const where = d.location ? ` to ${redact(d.location, d.secrets)}` : "";
    return (
      `${lead}: GitLab redirected the request${where} (${code}). Set gitlab.url to GitLab's final address ` +
      `(usually https:// and without a trailing path such as /users/sign_in).`
    );
  }
  switch (d.status) {
    case 401:
      return (
        `${lead}: the access token was rejected (${code}); it is wrong, expired or revoked. Create a new ` +
        `token with the create_runner and manage_runner scopes and set ${optionHint}` +
        (manages ? `, then run \`pulumi up\` so the stack stores it (update and destroy use the stored token).` : ".")
      );
    case 403:
      return `${lead}: access denied (${code}). ${forbiddenFix(d)}`;
    case 404:
      return `${lead}: not found (${code}). ${notFoundFix(d)}`;
    case 409:
      return (
        `${lead}: GitLab reported a conflict (${code}); another change to the same runner, group or project ` +
        `was in progress. Wait a moment and run \`pulumi up\` again.`
      );
    case 400:
    case 422:
      return (
        `${lead}: GitLab rejected the runner settings (${code}). Fix the matching option under ` +
        `gitlab.createRunner (description, tags, runUntagged, locked, accessLevel, maximumTimeout, paused).`
      );
    case 429:
      return `${lead}: GitLab is rate limiting this token (${code}). Wait a minute and run \`pulumi up\` again.`;
  }
  if (d.status >= 500) {
    return (
      `${lead}: GitLab answered with a server error (${code}); it is failing, overloaded or being upgraded. ` +
      `Check GitLab's health and retry later.`
    );
  }
  return `${lead}: unexpected answer (${code}). Check gitlab.url and ${optionHint}.`;
}

function forbiddenFix(d: FailureDescription): string {
  const body = d.body as { error?: unknown } | undefined;
  const missingScope = typeof body === "object" && body !== null && body.error === "insufficient_scope";
  const setIt = "set it in gitlab.createRunner.accessToken";
  if (d.operation === "create") {
    if (missingScope) {
      return (
        `The access token lacks the create_runner scope: make one with the create_runner and manage_runner ` +
        `scopes and ${setIt}.`
      );
    }
    return (
      `The token's user must have the Owner role in ${d.target} (be an administrator for an instance runner) ` +
      `and the token needs the create_runner scope; an administrator may also have restricted runner creation ` +
      `to administrators. Use a token of a user with that role and ${setIt}.`
    );
  }
  const then = "then run `pulumi up` so the stack stores it, and retry.";
  if (missingScope) {
    return (
      `The access token lacks the manage_runner scope (GitLab 17.1 or later; the api scope on older versions), ` +
      `which reading, changing and deleting a runner need: make a token with the create_runner and ` +
      `manage_runner scopes, ${setIt}, ${then}`
    );
  }
  return (
    `Reading, changing or deleting a runner needs the manage_runner scope (api before GitLab 17.1) and the ` +
    `Owner role in the runner's group, the Maintainer role in its project, or administrator access for an ` +
    `instance runner. Use a token of a user with that role, ${setIt}, ${then}`
  );
}

function notFoundFix(d: FailureDescription): string {
  if (d.operation === "create") {
    if (d.target === INSTANCE_TARGET) {
      return (
        `GitLab has no /api/v4/user/runners endpoint here: check that gitlab.url is GitLab's root URL and that ` +
        `GitLab is 16.0 or newer.`
      );
    }
    return (
      `${capitalize(d.target)} does not exist or is not visible to the access token's user (a group or project ` +
      `access token sees only its own group or project). Check the id in gitlab.createRunner.scope and the token.`
    );
  }
  return (
    `${capitalize(d.target)} no longer exists in GitLab (deleted outside Pulumi?) or the token cannot see it. ` +
    `Run \`pulumi refresh\` to drop it from the stack; the next \`pulumi up\` creates a new runner.`
  );
}

function networkFailureMessage(url: string, context: FailureContext, error: unknown, timeoutMs: number): string {
  const host = hostOf(url);
  const name = (error as { name?: unknown } | undefined)?.name;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  let reason: string;
  if (name === "TimeoutError" || name === "AbortError") {
    reason = `no answer within ${Math.round(timeoutMs / 1000)} s`;
  } else if (typeof cause?.code === "string") {
    reason = cause.code;
  } else if (typeof cause?.message === "string") {
    reason = cause.message;
  } else {
    reason = error instanceof Error ? error.message : String(error);
  }
  const lead = `Could not reach GitLab at ${host} to ${ACTION[context.operation]} (${context.target}): ${reason}.`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(reason)) {
    return (
      `${lead} This machine does not trust GitLab's TLS certificate: if a private CA signed it, run pulumi with ` +
      `NODE_EXTRA_CA_CERTS=/path/to/ca.pem (the API calls are made from the machine running pulumi).`
    );
  }
  return (
    `${lead} Check gitlab.url (host, scheme, port) and that this machine can reach it over HTTPS (DNS, proxy, ` +
    `firewall).`
  );
}

/** GitLab's own words from an error body: `{message}` (string or field → messages) or `{error, error_description}`. */
function gitlabDetail(body: unknown, secrets: string[]): string {
  let text = "";
  if (typeof body === "string") {
    text = body.trim().startsWith("<") ? "" : body.trim();
  } else if (typeof body === "object" && body !== null) {
    const { message, error, error_description } = body as Record<string, unknown>;
    if (typeof message === "string") text = message;
    else if (typeof message === "object" && message !== null) text = fieldMessages(message as Record<string, unknown>);
    else if (typeof error === "string") {
      text = typeof error_description === "string" ? `${error}: ${error_description}` : error;
    }
  }
  text = redact(text, secrets).replace(/\s+/g, " ").trim();
  return text.length > MAX_DETAIL_LENGTH ? `${text.slice(0, MAX_DETAIL_LENGTH)}…` : text;
}

function fieldMessages(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([field, value]) => `${field} ${Array.isArray(value) ? value.join(", ") : String(value)}`)
    .join("; ");
}

function redact(text: string, secrets: string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((acc, secret) => acc.split(secret).join("[redacted]"), text);
}

function creationTarget(request: CreateRunnerRequest): string {
  if (request.runner_type === "group_type") return `group ${request.group_id}`;
  if (request.runner_type === "project_type") return `project ${request.project_id}`;
  return INSTANCE_TARGET;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(invalid gitlab.url)";
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
