import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { version } from "../package.json";

describe("driver bundle", () => {
  it("is one runnable file that prints the package version", () => {
    const out = execFileSync(process.execPath, ["dist/driver/fargate.js", "--version"], { encoding: "utf8" });
    assert.equal(out.trim(), version);
  });
});
