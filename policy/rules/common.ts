import { PolicyResource } from "@pulumi/policy";

/** A value or a list of values, as AWS policy documents and Pulumi inputs allow. */
export function asList<T>(value: T | T[] | undefined | null): T[] {
  if (value === undefined || value === null) {
    return [];
  }
  return Array.isArray(value) ? value : [value];
}

/** The strings of a value that may be one string, a list, or something else (unknown during preview). */
export function stringsOf(value: unknown): string[] {
  return asList(value as unknown[]).filter((item): item is string => typeof item === "string");
}

/** How a violation names the resource: its type token and its Pulumi name. */
export function resourceLabel(type: string, name: string): string {
  return `${type} "${name}"`;
}

/** Parses a JSON string, or returns the value itself when it is already an object; undefined when unparseable. */
export function parseJsonish(value: unknown): unknown {
  if (typeof value !== "string") {
    return value ?? undefined;
  }
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/** The values by which other resources may refer to `resource`: its id, name-like outputs and ARN. */
function identifiersOf(resource: PolicyResource, keys: string[]): Set<string> {
  const ids = new Set<string>();
  for (const key of keys) {
    const value = resource.props[key];
    if (typeof value === "string" && value.length > 0) {
      ids.add(value);
    }
  }
  return ids;
}

/**
 * Whether `referrer.props[property]` points at `target`: through the engine's property dependencies (works during
 * preview, when ids are unknown) or by value (the target's id, or one of `targetKeys` such as a bucket name).
 */
export function refersTo(
  referrer: PolicyResource,
  property: string,
  target: PolicyResource,
  targetKeys: string[],
): boolean {
  const dependencies = referrer.propertyDependencies?.[property] ?? [];
  if (dependencies.some((dependency) => dependency.urn === target.urn)) {
    return true;
  }
  const value = referrer.props[property];
  return typeof value === "string" && identifiersOf(target, ["id", ...targetKeys]).has(value);
}
