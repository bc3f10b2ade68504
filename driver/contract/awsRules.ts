/**
 * What AWS accepts, for values both the component (its arguments, fargate.toml it writes) and the driver
 * (fargate.toml it reads, a job's variables) check: one rule each. A `…Problem` function returns the rule's phrase
 * for a value that breaks it (the caller puts the key or argument in front), or undefined when the value is fine.
 */

/** The only shapes AWS issues for an id: a prefix, then 8 or 17 lowercase hex digits. */
const awsId = (prefix: string): RegExp => new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`);

/** Subnet ids: `subnet-` and 8 or 17 lowercase hex digits. */
export const SUBNET_ID = awsId("subnet");
/** Security group ids: `sg-` and 8 or 17 lowercase hex digits. */
export const SECURITY_GROUP_ID = awsId("sg");
/** VPC ids: `vpc-` and 8 or 17 lowercase hex digits. */
export const VPC_ID = awsId("vpc");

const AWS_IDS = {
  subnet: { pattern: SUBNET_ID, name: "a subnet ID (subnet- and 8 or 17 hex digits)" },
  securityGroup: { pattern: SECURITY_GROUP_ID, name: "a security group ID (sg- and 8 or 17 hex digits)" },
  vpc: { pattern: VPC_ID, name: "a VPC ID (vpc- and 8 or 17 hex digits)" },
} as const;

export type AwsIdKind = keyof typeof AWS_IDS;

export function awsIdProblem(kind: AwsIdKind, id: string): string | undefined {
  const { pattern, name } = AWS_IDS[kind];
  return pattern.test(id) ? undefined : `${JSON.stringify(id)} does not look like ${name}`;
}

/** RunTask's awsvpc limits. */
export const MAX_SUBNETS = 16;
export const MAX_SECURITY_GROUPS = 5;

/** AWS region names, such as `eu-west-1` or `us-gov-east-1`. */
export const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export function regionProblem(region: string): string | undefined {
  return AWS_REGION.test(region)
    ? undefined
    : `${JSON.stringify(region)} does not look like an AWS region (e.g. eu-west-1)`;
}

/** Fargate platform versions RunTask takes: `LATEST` or a version such as `1.4.0`. */
export const PLATFORM_VERSION = /^(LATEST|\d+\.\d+\.\d+)$/;

export function platformVersionProblem(version: string): string | undefined {
  return PLATFORM_VERSION.test(version) ? undefined : `must be LATEST or like 1.4.0, got ${JSON.stringify(version)}`;
}

/**
 * Tags: characters ECS (and most AWS services) allow in tag keys and values, and their limits.
 * @see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-using-tags.html#tag-restrictions
 */
const TAG_CHARACTERS = String.raw`\p{L}\p{Z}\p{N}_.:/=+\-@`;
const TAG_TEXT = new RegExp(`^[${TAG_CHARACTERS}]*$`, "u");
const NOT_TAG_TEXT = new RegExp(`[^${TAG_CHARACTERS}]`, "gu");
const MAX_TAG_KEY_LENGTH = 128;
const MAX_TAG_VALUE_LENGTH = 256;

/** ECS allows 50 tags per task; the driver keeps 4 for its own. */
export const MAX_TASK_TAGS = 46;

export function tagKeyProblem(key: string): string | undefined {
  const fine =
    key.length > 0 && key.length <= MAX_TAG_KEY_LENGTH && TAG_TEXT.test(key) && !key.toLowerCase().startsWith("aws:");
  return fine
    ? undefined
    : `must be 1–${MAX_TAG_KEY_LENGTH} letters, digits, spaces or _.:/=+-@, not starting with "aws:"`;
}

export function tagValueProblem(value: string): string | undefined {
  return value.length <= MAX_TAG_VALUE_LENGTH && TAG_TEXT.test(value)
    ? undefined
    : `must be up to ${MAX_TAG_VALUE_LENGTH} letters, digits, spaces or _.:/=+-@`;
}

export function tagCountProblem(count: number): string | undefined {
  return count > MAX_TASK_TAGS ? `at most ${MAX_TASK_TAGS} tags, got ${count}` : undefined;
}

/** Why `tags` cannot be put on a job task (too many, or a key or value AWS refuses), or undefined when they can. */
export function taskTagProblem(tags: Record<string, unknown>): string | undefined {
  const entries = Object.entries(tags);
  const count = tagCountProblem(entries.length);
  if (count !== undefined) return count;
  for (const [key, value] of entries) {
    const keyProblem = tagKeyProblem(key);
    if (keyProblem !== undefined) return `tag key ${JSON.stringify(key)} ${keyProblem}`;
    const valueProblem = typeof value === "string" ? tagValueProblem(value) : "must be a string";
    if (valueProblem !== undefined) return `tag ${JSON.stringify(key)}: the value ${valueProblem}`;
  }
  return undefined;
}

/** `text` as a tag value AWS accepts: characters it refuses become `_`, cut to the maximum length. */
export function toTagValue(text: string): string {
  return text.replace(NOT_TAG_TEXT, "_").slice(0, MAX_TAG_VALUE_LENGTH);
}

/** A Secrets Manager secret's full ARN: `arn:aws…:secretsmanager:<region>:<account>:secret:<name>-<6 characters>`. */
const SECRET_ARN = new RegExp(
  `^arn:aws[a-z-]*:secretsmanager:${AWS_REGION.source.slice(1, -1)}:\\d{12}:secret:[A-Za-z0-9/_+=.@-]+$`,
);

/**
 * A role may read exactly this ARN, so it must name one Secrets Manager secret in full: ECS takes registry credentials
 * only from Secrets Manager, and IAM matches the full ARN, with the 6-character suffix Secrets Manager adds.
 */
export function secretArnProblem(arn: string): string | undefined {
  if (/[*?]/.test(arn)) {
    return `"${arn}" contains a wildcard (* or ?); give the full ARN of the one secret the execution role may read`;
  }
  if (!SECRET_ARN.test(arn)) {
    return `"${arn}" is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)`;
  }
  if (!/-[A-Za-z0-9]{6}$/.test(arn)) {
    return `"${arn}" is a partial ARN; give the full ARN, ending in the 6-character suffix Secrets Manager adds`;
  }
  return undefined;
}

/** Task definition families: letters, digits, hyphens and underscores, at most 255. */
export const TASK_FAMILY = /^[A-Za-z0-9_-]{1,255}$/;

/** A container registry host as image references name it: `registry.example.com`, `localhost:5000`, `docker.io`. */
export const REGISTRY_HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/;

export function registryHostProblem(host: string): string | undefined {
  return REGISTRY_HOST.test(host)
    ? undefined
    : `${JSON.stringify(host)} is not a registry host (lowercase name with an optional :port, e.g. ghcr.io)`;
}
