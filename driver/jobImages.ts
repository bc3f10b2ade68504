/**
 * What a job asks to run in: its `image:` and `services:` as gitlab-runner hands them to every stage
 * (CUSTOM_ENV_CI_JOB_IMAGE, CUSTOM_ENV_CI_JOB_SERVICES), checked against the runner's allow-lists. The job chooses
 * these anyway (they come from its .gitlab-ci.yml), so the variables are read as requests and nothing else: the
 * allow-lists decide. Pure functions.
 */
import { JobError, SystemFailure } from "./errors";
import { Settings } from "./contract/fargateToml";

export interface JobService {
  /** The image reference, as written in `services:`. */
  image: string;
  /** Host names the build container reaches it by: its alias, and the Docker executor's names for the image. */
  hostnames: string[];
  entrypoint?: string[];
  command?: string[];
  /** The service's own variables (already expanded by gitlab-runner). */
  variables: Record<string, string>;
}

export interface JobContainers {
  /** The image user scripts run in; undefined: they run in ci-coordinator, as without this feature. */
  image?: string;
  services: JobService[];
  /** Lines for the job log about what was ignored, and why. */
  notices: string[];
}

/** True when `value` matches the glob `pattern`: `*` any run of characters (`/` included), `?` one character. */
export function globMatches(pattern: string, value: string): boolean {
  const source = [...pattern]
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, "s").test(value);
}

/** An image reference without its tag or digest: `registry:5000/group/app:1.2@sha256:…` → `registry:5000/group/app`. */
export function imageRepository(image: string): string {
  const withoutDigest = image.split("@")[0];
  const lastSlash = withoutDigest.lastIndexOf("/");
  const lastColon = withoutDigest.lastIndexOf(":");
  return lastColon > lastSlash ? withoutDigest.slice(0, lastColon) : withoutDigest;
}

/** The registry host of an image reference: its first path element when that names a host, else Docker Hub. */
export function registryHost(image: string): string {
  const first = image.split("/")[0];
  const namesHost = image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  return namesHost ? first : "docker.io";
}

/**
 * The names gitlab-runner's Docker executor gives a service without an alias: the repository without the
 * registry's port, with `/` replaced by `__`, and by `-` as a second, RFC 1123-friendly name.
 */
export function defaultServiceHostnames(image: string): string[] {
  const repository = imageRepository(image).replace(/^([^/]*?):\d+(?=\/)/, "$1");
  return [...new Set([repository.replace(/\//g, "__"), repository.replace(/\//g, "-")])];
}

/** Host names for /etc/hosts: letters, digits, `.`, `-` and `_`. */
const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$/;

function stringList(value: unknown, what: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw new SystemFailure(`CI_JOB_SERVICES: ${what} must be a list of strings`);
  }
  return value.length > 0 ? (value as string[]) : undefined;
}

/** Parses CUSTOM_ENV_CI_JOB_SERVICES (gitlab-runner's JSON: name, alias, entrypoint, command, variables). */
export function parseJobServices(text: string | undefined): JobService[] {
  if (text === undefined || text.trim() === "" || text.trim() === "null") return [];
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch (err) {
    throw new SystemFailure("CI_JOB_SERVICES is not JSON", { cause: err });
  }
  if (!Array.isArray(items)) throw new SystemFailure("CI_JOB_SERVICES must be a JSON list");
  return items.map((item: Record<string, unknown>, index) => {
    const image = typeof item?.name === "string" ? item.name.trim() : "";
    if (image === "") throw new SystemFailure(`CI_JOB_SERVICES[${index}] has no image name`);
    // gitlab-runner passes the first alias only; the Docker executor adds the image's own names to it.
    const alias = typeof item.alias === "string" ? item.alias.trim() : "";
    const hostnames = [...new Set([...(alias ? [alias] : []), ...defaultServiceHostnames(image)])];
    const bad = hostnames.find((name) => !HOSTNAME.test(name));
    if (bad !== undefined) {
      throw new JobError(`service ${image}: "${bad}" cannot be a host name (letters, digits, ., - and _ only)`);
    }
    const variables = item.variables ?? {};
    if (typeof variables !== "object" || Array.isArray(variables)) {
      throw new SystemFailure(`CI_JOB_SERVICES[${index}].variables must be an object`);
    }
    return {
      image,
      hostnames,
      entrypoint: stringList(item.entrypoint, `[${index}].entrypoint`),
      command: stringList(item.command, `[${index}].command`),
      variables: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
    };
  });
}

/** The image names of CI_JOB_SERVICES, for the notice that they are ignored; nothing else is read. */
function servicesNamed(text: string | undefined): { image: string }[] {
  try {
    const items: unknown = JSON.parse(text ?? "");
    if (!Array.isArray(items)) return [];
    return items.flatMap((item: { name?: unknown }) => (typeof item?.name === "string" ? [{ image: item.name }] : []));
  } catch {
    return [];
  }
}

function refusal(kind: "image" | "service", image: string, key: string, patterns: string[]): JobError {
  const list = patterns.length > 0 ? patterns.map((p) => JSON.stringify(p)).join(", ") : "none";
  return new JobError(
    `${kind} "${image}" is not allowed on this runner: Fargate.${key} = [${list}] (ask the runner's owner to add ` +
      `a pattern, or pick an allowed ${kind})`,
  );
}

/** The job's image when allowed; undefined (with a notice) when the runner does not honour images. */
function jobImage(env: NodeJS.ProcessEnv, fargate: Settings["fargate"], notices: string[]): string | undefined {
  const requested = env.CUSTOM_ENV_CI_JOB_IMAGE?.trim() || undefined;
  if (requested === undefined) return undefined;
  if (fargate.allowedImages === undefined) {
    notices.push(
      `Ignoring image "${requested}": this runner does not set Fargate.AllowedImages, so scripts run in the ` +
        `task definition's ci-coordinator container`,
    );
    return undefined;
  }
  if (!fargate.allowedImages.some((p) => globMatches(p, requested))) {
    throw refusal("image", requested, "AllowedImages", fargate.allowedImages);
  }
  return requested;
}

/** The job's services when allowed; none (with a notice) when the runner does not honour services. */
function jobServices(env: NodeJS.ProcessEnv, fargate: Settings["fargate"], notices: string[]): JobService[] {
  const allowed = fargate.allowedServices;
  if (allowed === undefined) {
    // Only their names, for the notice: with the feature off, nothing in them may fail the job.
    const ignored = servicesNamed(env.CUSTOM_ENV_CI_JOB_SERVICES);
    if (ignored.length > 0) {
      notices.push(
        `Ignoring services ${ignored.map((s) => s.image).join(", ")}: this runner does not set Fargate.AllowedServices`,
      );
    }
    return [];
  }
  const services = parseJobServices(env.CUSTOM_ENV_CI_JOB_SERVICES);
  const refused = services.find((s) => !allowed.some((p) => globMatches(p, s.image)));
  if (refused) throw refusal("service", refused.image, "AllowedServices", allowed);
  return services;
}

/** The job's image and services, checked against Fargate.AllowedImages / AllowedServices. */
export function jobContainers(env: NodeJS.ProcessEnv, fargate: Settings["fargate"]): JobContainers {
  const notices: string[] = [];
  const image = jobImage(env, fargate, notices);
  const services = jobServices(env, fargate, notices);
  return { image, services, notices };
}
