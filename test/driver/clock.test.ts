import { strict as assert } from "node:assert";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { withTimeout } from "../../driver/clock";

/** A full garbage collection, without starting Node.js with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe("a stage's signal bounded in time", () => {
  it("aborts after its time, even when a garbage collection runs before that", async () => {
    const bounded = withTimeout(new AbortController().signal, 200);
    let fired = false;
    bounded.addEventListener("abort", () => (fired = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(fired, true);
    assert.equal((bounded.reason as DOMException).name, "TimeoutError");
  });

  it("aborts with the stage's signal", () => {
    const stage = new AbortController();
    const bounded = withTimeout(stage.signal, 60_000);
    stage.abort();
    assert.equal(bounded.aborted, true);
  });
});
