import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { version } from "../package.json";
import { MANAGER_PATHS } from "../driver/contract/managerPaths";

describe("driver bundle", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driver-bundle-"));
    writeFileSync(
      join(dir, "fargate.toml"),
      '[Fargate]\nCluster = "ci"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci:1"\n',
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const stage = (name: string) =>
    spawnSync(process.execPath, [join(dir, "fargate.js"), "--config", join(dir, "fargate.toml"), "custom", name], {
      encoding: "utf8",
      env: { PATH: process.env.PATH },
    });

  it("is a runnable entry file that prints the package version", () => {
    const out = execFileSync(process.execPath, ["dist/driver/fargate.js", "--version"], { encoding: "utf8" });
    assert.equal(out.trim(), version);
  });

  it("answers config without its AWS SDK part, which only the AWS stages load, from beside the entry", () => {
    copyFileSync("dist/driver/fargate.js", join(dir, "fargate.js"));
    const config = stage("config");
    assert.equal(config.status, 0, config.stderr);
    assert.equal(JSON.parse(config.stdout).driver.version, version);
    const sdkPart = basename(MANAGER_PATHS.driverSdkBundle);
    assert.match(stage("cleanup").stderr, new RegExp(`Cannot find module '\\./${sdkPart.replace(/\.js$/, "")}'`));

    copyFileSync(join("dist/driver", sdkPart), join(dir, sdkPart));
    const cleanup = stage("cleanup");
    assert.doesNotMatch(cleanup.stderr, /Cannot find module/);
    assert.match(cleanup.stderr, /JOB_RESPONSE_FILE/, "with both parts, cleanup gets as far as reading the job");
  });
});
