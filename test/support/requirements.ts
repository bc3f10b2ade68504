/**
 * Tests that need the machine's root, sshd, tini… skip themselves where those are missing. On CI they must not:
 * with `REQUIRE_E2E=1` in the environment (set by .ci/run) a missing requirement fails the test or suite instead,
 * naming what is missing.
 */
import { execFileSync } from "node:child_process";

/** Environment variable that turns "skip: requirement missing" into a failure. */
export const REQUIRE_E2E_VARIABLE = "REQUIRE_E2E";

/** True when missing requirements must fail instead of skip (`REQUIRE_E2E=1`). */
export function requirementsEnforced(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[REQUIRE_E2E_VARIABLE] === "1";
}

/**
 * Call at the top of a test or a `before` hook. `missing` is why the test cannot run here (undefined: it can).
 * Skips the test (or the whole suite, from `before`), or throws when `REQUIRE_E2E=1`.
 */
export function skipUnlessAvailable(context: Mocha.Context, missing: string | undefined): void {
  if (missing === undefined) return;
  // From a `before` hook the whole suite is concerned, from a test only that test.
  const runnable = context.test as (Mocha.Runnable & { type?: string }) | undefined;
  const title = (runnable?.type === "hook" ? runnable.parent?.fullTitle() : runnable?.fullTitle()) ?? "test";
  if (requirementsEnforced()) {
    throw new Error(`${title}: ${missing}, and ${REQUIRE_E2E_VARIABLE}=1 forbids skipping it`);
  }
  console.log(`    (skipped: ${missing}; set ${REQUIRE_E2E_VARIABLE}=1 to make this a failure)`);
  context.skip();
}

/** Why `command` cannot be used (not on PATH), or undefined when it can. `hint` says how to install it. */
export function missingCommand(command: string, hint: string): string | undefined {
  try {
    execFileSync("sh", ["-c", 'command -v "$1"', "sh", command], { stdio: "ignore" });
    return undefined;
  } catch {
    return `needs ${command} on PATH (${hint})`;
  }
}

/** Why a test needing root cannot run here, or undefined when it runs as root. */
export function missingRoot(what: string): string | undefined {
  return process.getuid?.() === 0 ? undefined : `needs root (${what})`;
}
