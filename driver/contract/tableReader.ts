/**
 * Typed reading of one TOML table, with errors that name the file and the full key: `<source>: <Section.Key> <problem>`.
 * Blank strings count as absent (the Go driver's `PlatformVersion = ""` means "not set").
 */
import { SystemFailure } from "../errors";

export type Table = Record<string, unknown>;

export function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date";
  return typeof v === "string" ? `"${v}"` : typeof v === "object" ? "a table" : String(v);
}

export class TableReader {
  /** `prefix` is the section's name with a trailing dot (`Fargate.`), empty for the top level. */
  constructor(
    private readonly values: Table,
    private readonly prefix: string,
    private readonly source: string,
  ) {}

  /** The full dotted name of `key`, as messages show it (`Fargate.Subnet`). */
  name(key: string): string {
    return `${this.prefix}${key}`;
  }

  /** Throws `<source>: <message>`. */
  error(message: string): never {
    throw new SystemFailure(`${this.source}: ${message}`);
  }

  /** Throws the error for `key`: `<source>: <prefix><key> <problem>`. */
  fail(key: string, problem: string): never {
    return this.error(`${this.name(key)} ${problem}`);
  }

  /** Fails for `key` when a shared rule finds a problem with its value. */
  check<T>(key: string, value: T, problem: (value: T) => string | undefined): void {
    const found = problem(value);
    if (found !== undefined) this.fail(key, found);
  }

  has(key: string): boolean {
    return this.values[key] !== undefined;
  }

  string(key: string): string | undefined {
    const v = this.values[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string") this.fail(key, `must be a string, got ${describe(v)}`);
    return v.trim() === "" ? undefined : v.trim();
  }

  requiredString(key: string): string {
    return this.string(key) ?? this.fail(key, "is required");
  }

  /** One of `allowed`, in any case. */
  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.string(key);
    if (v === undefined) return fallback;
    const lower = v.toLowerCase() as T;
    if (!allowed.includes(lower)) this.fail(key, `must be one of ${allowed.join(", ")}, got "${v}"`);
    return lower;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.values[key];
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") this.fail(key, `must be true or false, got ${describe(v)}`);
    return v;
  }

  optionalInteger(key: string, min: number, max: number): number | undefined {
    return this.has(key) ? this.integer(key, 0, min, max) : undefined;
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    const v = this.values[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `must be an integer from ${min} to ${max}, got ${describe(v)}`);
    }
    return v;
  }

  stringList(key: string): string[] {
    const v = this.values[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((item) => typeof item !== "string" || item.trim() === "")) {
      this.fail(key, `must be a list of non-empty strings, got ${describe(v)}`);
    }
    return (v as string[]).map((s) => s.trim());
  }

  table(key: string): Table {
    const v = this.values[key];
    if (v === undefined) return {};
    if (!isTable(v)) this.fail(key, `must be a table, got ${describe(v)}`);
    return v;
  }

  /** A sub-table, read with its own prefix. */
  section(key: string): TableReader {
    return new TableReader(this.table(key), `${this.name(key)}.`, this.source);
  }

  /** Every table of an array of tables (`[[key]]`), each read with its own prefix (`key[i].`). */
  sections(key: string): TableReader[] {
    return this.tableList(key).map((item, i) => new TableReader(item, `${this.name(key)}[${i}].`, this.source));
  }

  private tableList(key: string): Table[] {
    const v = this.values[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((item) => typeof item !== "object" || item === null || Array.isArray(item))) {
      this.fail(key, `must be an array of tables ([[${this.prefix}${key}]]), got ${describe(v)}`);
    }
    return v as Table[];
  }
}
