/** Characters ECS (and most AWS services) allow in tag keys and values. */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** ECS allows 50 tags per task; the driver keeps 4 for its own. */
const MAX_TASK_TAGS = 46;

/**
 * Why `tags` cannot be put on a job task (too many, or a key or value AWS refuses), or undefined when they can.
 * @see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-using-tags.html#tag-restrictions
 */
export function taskTagProblem(tags: Record<string, unknown>): string | undefined {
  const entries = Object.entries(tags);
  if (entries.length > MAX_TASK_TAGS) return `at most ${MAX_TASK_TAGS} tags, got ${entries.length}`;
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > 128 || !TAG_TEXT.test(key) || key.toLowerCase().startsWith("aws:")) {
      return `tag key "${key}" must be 1–128 letters, digits, spaces or _.:/=+-@, not starting with "aws:"`;
    }
    if (typeof value !== "string" || value.length > 256 || !TAG_TEXT.test(value)) {
      return `tag "${key}": the value must be up to 256 letters, digits, spaces or _.:/=+-@`;
    }
  }
  return undefined;
}
