import { strict as assert } from "node:assert";
import { SystemFailure } from "../../driver/errors";

/** Asserts that fn throws a SystemFailure whose message matches pattern. */
export function expectFailure(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SystemFailure, `expected a SystemFailure, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}
