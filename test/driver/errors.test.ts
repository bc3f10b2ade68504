import { strict as assert } from "node:assert";
import { BuildFailure, Cancelled, exitCodeFor, exitCodesFromEnv, SystemFailure } from "../../driver/errors";
import { expectFailure } from "./expectFailure";

describe("driver exit codes", () => {
  it("maps outcomes to gitlab-runner's exit codes from the environment", () => {
    const codes = exitCodesFromEnv({ BUILD_FAILURE_EXIT_CODE: "11", SYSTEM_FAILURE_EXIT_CODE: "12" });
    assert.equal(exitCodeFor(undefined, codes), 0);
    assert.equal(exitCodeFor(new BuildFailure(3), codes), 11);
    assert.equal(exitCodeFor(new SystemFailure("x"), codes), 12);
    assert.equal(exitCodeFor(new Cancelled(), codes), 12);
    assert.equal(exitCodeFor(new Error("unexpected"), codes), 12);
    assert.deepEqual(exitCodesFromEnv({}), { buildFailure: 1, systemFailure: 2, buildExitCodeFile: undefined });
    expectFailure(
      () => exitCodesFromEnv({ SYSTEM_FAILURE_EXIT_CODE: "two" }),
      /SYSTEM_FAILURE_EXIT_CODE must be an integer/,
    );
  });
});
