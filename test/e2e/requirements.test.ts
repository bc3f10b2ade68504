/** The guard that turns "skipped: requirement missing" into a failure on CI (REQUIRE_E2E=1), and its summary. */
import { strict as assert } from "node:assert";
import {
  missingCommand,
  REQUIRE_E2E_VARIABLE,
  requirementsEnforced,
  SkippedTests,
  skipUnlessAvailable,
} from "../support/requirements";

class Skipped extends Error {}

/** A stand-in mocha context: records skip() the way mocha does (by throwing). */
function fakeContext(): Mocha.Context {
  return {
    test: { fullTitle: () => "suite needs sshd", parent: { fullTitle: () => "suite" } },
    skip: () => {
      throw new Skipped();
    },
  } as unknown as Mocha.Context;
}

describe("test requirements guard (REQUIRE_E2E)", () => {
  const saved = process.env[REQUIRE_E2E_VARIABLE];
  afterEach(() => {
    if (saved === undefined) delete process.env[REQUIRE_E2E_VARIABLE];
    else process.env[REQUIRE_E2E_VARIABLE] = saved;
  });

  it("is enforced only by REQUIRE_E2E=1", () => {
    assert.equal(requirementsEnforced({ REQUIRE_E2E: "1" }), true);
    for (const value of [undefined, "", "0", "true", "yes"]) {
      assert.equal(requirementsEnforced({ REQUIRE_E2E: value }), false, `REQUIRE_E2E=${value}`);
    }
  });

  it("does nothing when the requirement is met", () => {
    const skipped = new SkippedTests();
    process.env[REQUIRE_E2E_VARIABLE] = "1";
    skipUnlessAvailable(fakeContext(), undefined, skipped);
    delete process.env[REQUIRE_E2E_VARIABLE];
    skipUnlessAvailable(fakeContext(), undefined, skipped);
    assert.equal(skipped.summary(), undefined);
  });

  it("skips when a requirement is missing and REQUIRE_E2E is not set, for one summary at the end", () => {
    delete process.env[REQUIRE_E2E_VARIABLE];
    const skipped = new SkippedTests();
    assert.throws(() => skipUnlessAvailable(fakeContext(), "needs root (namespaces)", skipped), Skipped);
    assert.throws(() => skipUnlessAvailable(fakeContext(), "needs root (namespaces)", skipped), Skipped);
    assert.throws(
      () => skipUnlessAvailable(fakeContext(), "needs tini on PATH (apt-get install tini)", skipped),
      Skipped,
    );
    const summary = skipped.summary() ?? "";
    assert.match(summary, /^3 tests skipped: this machine lacks what they need\.\n/);
    assert.match(summary, /\n {2}- needs root \(namespaces\): 2 tests in "suite"\n/);
    assert.match(summary, /\n {2}- needs tini on PATH \(apt-get install tini\): 1 test in "suite"\n/);
    assert.match(summary, /sudo apt-get install .*tini.*REQUIRE_E2E=1/s, "says how to get everything");
  });

  it("fails, naming the test and what is missing, when REQUIRE_E2E=1", () => {
    process.env[REQUIRE_E2E_VARIABLE] = "1";
    assert.throws(
      () => skipUnlessAvailable(fakeContext(), "needs tini on PATH", new SkippedTests()),
      (error: unknown) =>
        !(error instanceof Skipped) &&
        error instanceof Error &&
        error.message === "suite needs sshd: needs tini on PATH, and REQUIRE_E2E=1 forbids skipping it",
    );
  });

  it("finds commands on PATH and names the install hint of missing ones", () => {
    assert.equal(missingCommand("sh", "always there"), undefined);
    assert.equal(
      missingCommand("no-such-command-h4", "apt-get install h4"),
      "needs no-such-command-h4 on PATH (apt-get install h4)",
    );
    assert.equal(missingCommand("/dev/null", "not a program"), "needs /dev/null (not a program)");
  });
});
