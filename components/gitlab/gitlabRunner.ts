/**
 * The GitLab runner itself, owned by the stack: created with `POST /api/v4/user/runners` on `pulumi up`, updated in
 * place with `PUT /api/v4/runners/:id`, deleted with `DELETE /api/v4/runners/:id` on `pulumi destroy`.
 *
 * It is a Pulumi dynamic resource. Its provider object is serialized by Pulumi's closure serialization and runs in
 * the dynamic-provider process, so the provider's methods use only plain functions from this file and from
 * gitlabApi.ts (no `pulumi` calls inside them).
 */
import * as pulumi from "@pulumi/pulumi";
import {
  createUserRunner,
  deleteRunner,
  getRunner,
  updateRunner,
  type CreateRunnerRequest,
  type GitLabConnection,
  type RunnerAttributes,
  type RunnerDetails,
  type RunnerType,
} from "./gitlabApi";
import type { CreateRunnerArgs, RunnerAccessLevel } from "../args";
import { checkedInput } from "../checks";
import { checkRunnerDescription, normaliseGitLabUrl, validateCreateRunnerArgs } from "./arguments";

/** The default maintenance note, so that whoever sees the runner in GitLab knows where it is managed. */
export const DEFAULT_MAINTENANCE_NOTE =
  "Managed by Pulumi (gitlab-fargate-runner): change it in the stack; it is deleted by `pulumi destroy`.";

/** The runner's settings as the dynamic provider receives them (defaults applied, GitLab's vocabulary for enums). */
export interface RunnerSettings {
  runnerType: RunnerType;
  groupId?: number;
  projectId?: number;
  description: string;
  tagList: string[];
  runUntagged: boolean;
  locked?: boolean;
  accessLevel: RunnerAccessLevel;
  maximumTimeout?: number;
  paused: boolean;
  maintenanceNote: string;
}

/** Inputs of the dynamic resource, resolved. */
export interface RunnerInputs extends RunnerSettings {
  url: string;
  accessToken: string;
}

/** State of the dynamic resource: its inputs plus what GitLab returned on creation. */
export interface RunnerState extends RunnerInputs {
  runnerId: number;
  token: string;
  tokenExpiresAt?: string;
}

/** Applies the documented defaults to validated `gitlab.createRunner` args. Pure. */
export function runnerSettings(args: CreateRunnerArgs, defaultDescription: string): RunnerSettings {
  const tags = args.tags ?? [];
  const scope = args.scope;
  const settings: RunnerSettings = {
    runnerType:
      scope.groupId !== undefined ? "group_type" : scope.projectId !== undefined ? "project_type" : "instance_type",
    description: args.description ?? defaultDescription,
    tagList: [...tags],
    runUntagged: args.runUntagged ?? tags.length === 0,
    accessLevel: args.accessLevel ?? "not_protected",
    paused: args.paused ?? false,
    maintenanceNote: args.maintenanceNote ?? DEFAULT_MAINTENANCE_NOTE,
  };
  if (scope.groupId !== undefined) settings.groupId = scope.groupId;
  if (scope.projectId !== undefined) {
    settings.projectId = scope.projectId;
    settings.locked = args.locked ?? true;
  }
  if (args.maximumTimeout !== undefined) settings.maximumTimeout = args.maximumTimeout;
  return settings;
}

/** Properties whose change needs a new runner (another GitLab, or another instance/group/project). */
const REPLACE_KEYS = ["url", "runnerType", "groupId", "projectId"] as const;
/** Properties changed in place with `PUT /runners/:id` (accessToken: stored for later updates and destroy). */
const UPDATE_KEYS = [
  "accessToken",
  "description",
  "tagList",
  "runUntagged",
  "locked",
  "accessLevel",
  "maximumTimeout",
  "paused",
  "maintenanceNote",
] as const;

/** What changed between the stored state and new inputs. Pure. */
export function diffRunner(olds: Partial<RunnerState>, news: RunnerInputs): pulumi.dynamic.DiffResult {
  const replaces = REPLACE_KEYS.filter((key) => !sameValue(key, olds[key], news[key]));
  const updates = UPDATE_KEYS.filter((key) => !sameValue(key, olds[key], news[key]));
  return { changes: replaces.length + updates.length > 0, replaces, deleteBeforeReplace: false };
}

function sameValue(key: string, a: unknown, b: unknown): boolean {
  if (key === "url") return canonicalUrl(a) === canonicalUrl(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    // Tag order means nothing to GitLab, and GitLab may return tags in another order after a refresh.
    const sorted = (v: unknown) => (Array.isArray(v) ? [...v].map(String).sort() : []);
    return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
  }
  return (a ?? null) === (b ?? null);
}

/**
 * A URL as `new URL` writes it, without trailing slashes. Inputs arrive normalised (normaliseGitLabUrl); this keeps a
 * runner stored before that from being replaced because the same GitLab was written differently.
 */
function canonicalUrl(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return new URL(value).href.replace(/\/+$/, "");
  } catch {
    return value;
  }
}

function connectionOf(inputs: Pick<RunnerInputs, "url" | "accessToken">): GitLabConnection {
  return { url: inputs.url, accessToken: inputs.accessToken };
}

/**
 * The settings in GitLab's field names. Unset optional fields are left out; `maximum_timeout: null` is sent only
 * to clear a timeout the previous settings had. Pure.
 */
export function runnerAttributes(settings: RunnerSettings, previous?: Partial<RunnerSettings>): RunnerAttributes {
  const attributes: RunnerAttributes = {
    description: settings.description,
    paused: settings.paused,
    run_untagged: settings.runUntagged,
    tag_list: settings.tagList,
    access_level: settings.accessLevel,
    maintenance_note: settings.maintenanceNote,
  };
  if (settings.locked !== undefined) attributes.locked = settings.locked;
  if (settings.maximumTimeout !== undefined) attributes.maximum_timeout = settings.maximumTimeout;
  else if (previous?.maximumTimeout !== undefined) attributes.maximum_timeout = null;
  return attributes;
}

/** The body of `POST /user/runners` for these settings. Pure. */
export function createRunnerRequest(settings: RunnerSettings): CreateRunnerRequest {
  const request: CreateRunnerRequest = { runner_type: settings.runnerType, ...runnerAttributes(settings) };
  if (settings.groupId !== undefined) request.group_id = settings.groupId;
  if (settings.projectId !== undefined) request.project_id = settings.projectId;
  return request;
}

/** The managed settings as GitLab reports them, over the stored state (for `pulumi refresh`). Pure. */
function refreshedState(state: RunnerState, details: RunnerDetails & { active?: boolean }): RunnerState {
  const next: RunnerState = { ...state };
  if (typeof details.description === "string") next.description = details.description;
  if (Array.isArray(details.tag_list)) next.tagList = [...details.tag_list];
  if (typeof details.run_untagged === "boolean") next.runUntagged = details.run_untagged;
  if (state.locked !== undefined && typeof details.locked === "boolean") next.locked = details.locked;
  if (details.access_level === "not_protected" || details.access_level === "ref_protected") {
    next.accessLevel = details.access_level;
  }
  if (typeof details.maximum_timeout === "number") next.maximumTimeout = details.maximum_timeout;
  else if (details.maximum_timeout === null) delete next.maximumTimeout;
  if (typeof details.paused === "boolean") next.paused = details.paused;
  else if (typeof details.active === "boolean") next.paused = !details.active;
  if (typeof details.maintenance_note === "string") next.maintenanceNote = details.maintenance_note;
  return next;
}

/**
 * The dynamic provider. `create` returns the runner's id as the resource id, and stores the access token (secret)
 * so that later updates and `pulumi destroy` can authenticate.
 */
export const gitlabRunnerProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: RunnerInputs): Promise<pulumi.dynamic.CreateResult> {
    const created = await createUserRunner(connectionOf(inputs), createRunnerRequest(inputs));
    const outs: RunnerState = { ...inputs, runnerId: created.id, token: created.token };
    if (created.tokenExpiresAt !== null) outs.tokenExpiresAt = created.tokenExpiresAt;
    return { id: String(created.id), outs };
  },

  async diff(_id: string, olds: RunnerState, news: RunnerInputs): Promise<pulumi.dynamic.DiffResult> {
    return diffRunner(olds, news);
  },

  async update(id: string, olds: RunnerState, news: RunnerInputs): Promise<pulumi.dynamic.UpdateResult> {
    await updateRunner(connectionOf(news), Number(id), runnerAttributes(news, olds));
    const outs: RunnerState = { ...news, runnerId: olds.runnerId, token: olds.token };
    if (olds.tokenExpiresAt !== undefined) outs.tokenExpiresAt = olds.tokenExpiresAt;
    return { outs };
  },

  async read(id: string, props: RunnerState): Promise<pulumi.dynamic.ReadResult> {
    const details = await getRunner(connectionOf(props), Number(id));
    // An empty id tells Pulumi the runner is gone: `pulumi refresh` drops it and the next `up` creates a new one.
    if (details === undefined) return { id: "", props: {} };
    return { id, props: refreshedState(props, details) };
  },

  async delete(id: string, props: RunnerState): Promise<void> {
    await deleteRunner(connectionOf(props), Number(id));
  },
};

/** Arguments of {@link GitLabRunner}: `gitlab.createRunner` plus GitLab's URL. */
export interface GitLabRunnerArgs extends CreateRunnerArgs {
  /**
   * GitLab's base URL (`gitlab.url`), e.g. `https://gitlab.com`: https, without user name, password, query or
   * control characters; GitLab gets it normalised (see `normaliseGitLabUrl`). Changing it replaces the runner.
   */
  url: pulumi.Input<string>;
  /** Description used when `description` is not given. Default: the resource's name. */
  defaultDescription?: string;
}

/**
 * A GitLab runner created through GitLab's REST API and deleted on `pulumi destroy`. Its `token` (the `glrt-`
 * runner authentication token) is a secret output to pass to `gitlab-runner register --token`.
 */
export class GitLabRunner extends pulumi.dynamic.Resource {
  /** GitLab's id of the runner (`#123` in GitLab's runner list). */
  declare public readonly runnerId: pulumi.Output<number>;
  /** The runner authentication token (`glrt-…`). Secret. */
  declare public readonly token: pulumi.Output<string>;
  /** When GitLab will expire the token (ISO 8601), if the instance enforces runner token expiry. */
  declare public readonly tokenExpiresAt: pulumi.Output<string | undefined>;

  constructor(name: string, args: GitLabRunnerArgs, opts?: pulumi.CustomResourceOptions) {
    validateCreateRunnerArgs(args);
    const settings = runnerSettings(args, args.defaultDescription ?? name);
    if (args.description === undefined) checkRunnerDescription(settings.description, "defaultDescription");
    // Checked now when given as a string (before the resource exists), else as soon as it resolves.
    const url = checkedInput(args.url, (value) => normaliseGitLabUrl(value).url);
    super(
      gitlabRunnerProvider,
      name,
      {
        url,
        accessToken: pulumi.secret(args.accessToken),
        ...settings,
        runnerId: undefined,
        token: undefined,
        tokenExpiresAt: undefined,
      },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["token", "accessToken"] }),
    );
    // The engine marks `token` secret in the state (additionalSecretOutputs); wrapping it here as well keeps it
    // secret for every consumer in this program, whatever engine or mock answers.
    this.token = pulumi.secret(this.token);
  }
}
