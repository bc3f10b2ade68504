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

/** What {@link readKnown} puts where the engine has no value yet (an output of a resource not created, in preview). */
export const NOT_KNOWN_YET = Symbol("not known yet");

/**
 * Whether `error` is the engine's UnknownValueError: its props proxy throws it on reading a value that is unknown
 * during preview. The class is internal to @pulumi/policy, so it is recognised by shape.
 */
export function isUnknownValueError(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.constructor.name === "UnknownValueError" &&
    Array.isArray((error as { props?: unknown }).props)
  );
}

/**
 * `container[key]` as plain data, read through the engine's unknown-checking proxy without throwing: a value unknown
 * in preview becomes {@link NOT_KNOWN_YET}, at any depth (so one unknown list element does not hide its known
 * neighbours).
 */
export function readKnown(container: unknown, key: string | number): unknown {
  let value: unknown;
  try {
    value = (container as Record<string | number, unknown> | undefined)?.[key];
  } catch (error) {
    if (isUnknownValueError(error)) {
      return NOT_KNOWN_YET;
    }
    throw error;
  }
  if (Array.isArray(value)) {
    return Array.from({ length: value.length }, (_, index) => readKnown(value, index));
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).map((name) => [name, readKnown(value, name)]));
  }
  return value;
}

/** `container[key]` read with {@link readKnown} when it is a list; an empty list otherwise (unset, or not known yet). */
export function listAt(container: unknown, key: string): unknown[] {
  const value = readKnown(container, key);
  return Array.isArray(value) ? value : [];
}

/** Whether {@link readKnown}'s result holds a value the engine does not know yet, at any depth. */
export function hasUnknown(value: unknown): boolean {
  if (value === NOT_KNOWN_YET) {
    return true;
  }
  if (value !== null && typeof value === "object") {
    return Object.values(value).some(hasUnknown);
  }
  return false;
}

/** The values by which other resources may refer to `resource`: its id, name-like outputs and ARN (known ones). */
export function identifiersOf(resource: PolicyResource, keys: string[]): Set<string> {
  const ids = new Set<string>();
  for (const key of keys) {
    const value = readKnown(resource.props, key);
    if (typeof value === "string" && value.length > 0) {
      ids.add(value);
    }
  }
  return ids;
}

/**
 * Whether `referrer.props[property]` points at `target`: through the engine's property dependencies first (they are
 * known in preview, when ids are not), else by value (the target's id, or one of `targetKeys` such as a bucket name).
 * A value unknown in preview refers to nothing that can be told.
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
  const value = readKnown(referrer.props, property);
  return typeof value === "string" && identifiersOf(target, ["id", ...targetKeys]).has(value);
}
