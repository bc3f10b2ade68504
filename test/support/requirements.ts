/**
 * Tests that need root or a Debian package (sshd, tini, shellcheck, gnupg…) skip themselves where those are
 * missing, and the run ends with one summary of what was skipped and how to get it (this module is also a mocha
 * root-hook plugin, registered in .mocharc.json). On CI they must not skip: with `REQUIRE_E2E=1` in the environment
 * (set by .ci/run) a missing requirement fails the test or suite instead, naming what is missing.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/** Environment variable that turns "skip: requirement missing" into a failure. */
export const REQUIRE_E2E_VARIABLE = "REQUIRE_E2E";

/** The Debian packages of every optional test, as .ci/run installs them. */
export const TEST_PACKAGES =
  "openssh-server openssh-client iproute2 tini shellcheck util-linux gnupg git openssl busybox-static systemd";

/** True when missing requirements must fail instead of skip (`REQUIRE_E2E=1`). */
export function requirementsEnforced(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[REQUIRE_E2E_VARIABLE] === "1";
}

/** Tests skipped for a missing requirement, grouped by what is missing, for the summary at the end of the run. */
export class SkippedTests {
  private readonly byMissing = new Map<string, { tests: number; suites: Set<string> }>();

  add(missing: string, suite: string, tests: number): void {
    const entry = this.byMissing.get(missing) ?? { tests: 0, suites: new Set<string>() };
    entry.tests += tests;
    entry.suites.add(suite);
    this.byMissing.set(missing, entry);
  }

  /** The summary printed once at the end of the run, or undefined when nothing was skipped. */
  summary(): string | undefined {
    if (this.byMissing.size === 0) return undefined;
    const total = [...this.byMissing.values()].reduce((sum, entry) => sum + entry.tests, 0);
    const lines = [`${total} test${total === 1 ? "" : "s"} skipped: this machine lacks what they need.`];
    for (const [missing, { tests, suites }] of this.byMissing) {
      const names = [...suites].map((suite) => `"${suite}"`);
      const shown = names.length > 3 ? [...names.slice(0, 3), `${names.length - 3} more`] : names;
      lines.push(`  - ${missing}: ${tests} test${tests === 1 ? "" : "s"} in ${shown.join(", ")}`);
    }
    lines.push(
      `To run them all: sudo apt-get install ${TEST_PACKAGES}, then run the tests as root with ` +
        `${REQUIRE_E2E_VARIABLE}=1 (what .ci/run does), e.g. sudo ${REQUIRE_E2E_VARIABLE}=1 npm test.`,
    );
    return lines.join("\n");
  }
}

/** The skips of this mocha run. */
export const skippedTests = new SkippedTests();

/** Mocha root hooks: the summary of skipped tests, once, after every test ran. */
export const mochaHooks = {
  afterAll(): void {
    const summary = skippedTests.summary();
    if (summary) console.log(`\n${summary}`);
  },
};

/**
 * Call at the top of a test or a `before` hook. `missing` is why the test cannot run here (undefined: it can).
 * Skips the test (or the whole suite, from `before`) and records it for the summary, or throws when
 * `REQUIRE_E2E=1`.
 */
export function skipUnlessAvailable(
  context: Mocha.Context,
  missing: string | undefined,
  skipped: SkippedTests = skippedTests,
): void {
  if (missing === undefined) return;
  // From a `before` hook the whole suite is concerned, from a test only that test.
  const runnable = context.test as (Mocha.Runnable & { type?: string }) | undefined;
  const suite = runnable?.type === "hook" ? runnable.parent : undefined;
  const title = (suite ? suite.fullTitle() : runnable?.fullTitle()) ?? "test";
  if (requirementsEnforced()) {
    throw new Error(`${title}: ${missing}, and ${REQUIRE_E2E_VARIABLE}=1 forbids skipping it`);
  }
  skipped.add(missing, suite?.fullTitle() ?? runnable?.parent?.fullTitle() ?? title, suite ? suite.total() : 1);
  context.skip();
}

/** True when `path` is an executable regular file (a binary hidden behind /dev/null is not). */
function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Why `command` (a name looked up on PATH, or an absolute path) cannot be run here, or undefined when it can.
 * `hint` says how to install it.
 */
export function missingCommand(command: string, hint: string): string | undefined {
  const found = command.includes("/")
    ? isExecutableFile(command)
    : (process.env.PATH ?? "").split(delimiter).some((dir) => dir !== "" && isExecutableFile(join(dir, command)));
  return found ? undefined : `needs ${command}${command.includes("/") ? "" : " on PATH"} (${hint})`;
}

/** Why a test needing root cannot run here, or undefined when it runs as root. */
export function missingRoot(what: string): string | undefined {
  return process.getuid?.() === 0 ? undefined : `needs root (${what})`;
}

/** OpenSSH's client tools (ssh, ssh-keygen). */
export const OPENSSH_CLIENT = "apt-get install openssh-client";

/** What test/support/localSshd.ts needs: root (sshd logs in as the current user), sshd and ssh-keygen. */
export function missingLocalSshd(): string | undefined {
  return (
    missingRoot("sshd logs in as root") ??
    missingCommand("/usr/sbin/sshd", "apt-get install openssh-server") ??
    missingCommand("ssh-keygen", OPENSSH_CLIENT)
  );
}
