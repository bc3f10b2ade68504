import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { TEST_PACKAGES } from "./requirements";

const ROOT = resolve(__dirname, "../..");
const packages = (text: string) => text.trim().split(/\s+/).sort();

describe("the Debian packages of the optional tests", () => {
  it("are the same list in CI's install step, the README and the tests' skip messages", () => {
    const ci = readFileSync(resolve(ROOT, ".ci/run"), "utf8");
    const install = /apt-get install -y -qq --no-install-recommends \\\n\s*([^>]+)>/.exec(ci)?.[1];
    assert.ok(install, ".ci/run has an apt-get install line");
    assert.deepEqual(packages(install), packages(TEST_PACKAGES));
    const readme = readFileSync(resolve(ROOT, "README.md"), "utf8");
    const documented = /^sudo apt-get install (.+)$/m.exec(readme)?.[1];
    assert.ok(documented, "the README shows the install command");
    assert.deepEqual(packages(documented), packages(TEST_PACKAGES));
  });
});
