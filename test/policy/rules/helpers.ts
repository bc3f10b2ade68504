import * as assert from "node:assert/strict";
import { PolicyOutcome } from "../harness";

export function assertPasses(outcome: PolicyOutcome): void {
  assert.equal(outcome.notApplicable, false, "the policy should have applied to this resource");
  assert.deepEqual(outcome.violations, []);
}

/** Exactly `count` violations, each naming the resource and every fragment of `mentions` (the fix). */
export function assertViolates(outcome: PolicyOutcome, name: string, mentions: string[], count = 1): void {
  assert.equal(outcome.violations.length, count, JSON.stringify(outcome.violations, null, 2));
  for (const { message } of outcome.violations) {
    assert.ok(message.includes(`"${name}"`), `message names the resource "${name}": ${message}`);
    assert.ok(message.includes("Fix:"), `message says how to fix it: ${message}`);
    for (const mention of mentions) {
      assert.ok(message.includes(mention), `message mentions ${mention}: ${message}`);
    }
  }
}
