import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { managerUserData } from "../../../components/manager/bootstrap";
import { LAUNCHER_SCRIPT, REGISTER_SCRIPT, UNREGISTER_SCRIPT } from "../../../components/manager/pushedScripts";
import { MANAGER_PATHS } from "../../../driver/contract/managerPaths";
import { version } from "../../../package.json";
import { missingCommand, skipUnlessAvailable } from "../../support/requirements";

/** The scripts as they are in the repository. */
const SCRIPTS = path.resolve(__dirname, "../../../components/manager/scripts");

describe("registration scripts: shellcheck", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gfr-shellcheck-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const shipped: Record<string, () => string> = {
    "register.sh": () => REGISTER_SCRIPT,
    "unregister.sh": () => UNREGISTER_SCRIPT,
    "launcher (fargate)": () => LAUNCHER_SCRIPT,
    "user data amd64": () => managerUserData({ architecture: "amd64" }),
    "user data arm64": () => managerUserData({ architecture: "arm64" }),
  };
  for (const [title, text] of Object.entries(shipped)) {
    it(`${title} passes shellcheck`, function () {
      skipUnlessAvailable(this, missingCommand("shellcheck", "apt-get install shellcheck"));
      const file = path.join(dir, title.replace(/\W+/g, "_"));
      fs.writeFileSync(file, text());
      const result = spawnSync("shellcheck", ["--severity=style", file], { encoding: "utf8" });
      assert.equal(result.error, undefined, "shellcheck must be installed (apt-get install shellcheck)");
      assert.equal(result.status, 0, result.stdout + result.stderr);
    });
  }
});

describe("registration scripts: the launcher", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gfr-launcher-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("runs the bundled driver with the Node.js installed next to it, passing every argument", () => {
    fs.writeFileSync(path.join(dir, "fargate"), LAUNCHER_SCRIPT, { mode: 0o755 });
    fs.copyFileSync(path.resolve(__dirname, "../../../dist/driver/fargate.js"), path.join(dir, "fargate.js"));
    fs.mkdirSync(path.join(dir, "node/bin"), { recursive: true });
    fs.symlinkSync(process.execPath, path.join(dir, "node/bin/node"));
    const out = execFileSync(path.join(dir, "fargate"), ["--version"], { encoding: "utf8", cwd: os.tmpdir() });
    assert.equal(out.trim(), version);

    fs.writeFileSync(
      path.join(dir, "fargate.js"),
      "process.stdout.write(JSON.stringify([process.argv.slice(2), process.env.NODE_COMPILE_CACHE]));\n",
    );
    const args = ["--config", "/etc/gitlab-runner/fargate.toml", "custom", "run", "script with spaces", "step_script"];
    const [passed, compileCache] = JSON.parse(execFileSync(path.join(dir, "fargate"), args, { encoding: "utf8" }));
    assert.deepEqual(passed, args);
    assert.equal(compileCache, `${dir}/compile-cache`, "Node.js keeps the compiled bundles beside the driver");
  });

  it("finds the driver and Node.js where MANAGER_PATHS puts them: beside the launcher", () => {
    const beside = path.posix.dirname(MANAGER_PATHS.launcher);
    assert.equal(MANAGER_PATHS.driverBundle, `${beside}/fargate.js`);
    assert.equal(
      MANAGER_PATHS.driverSdkBundle,
      `${beside}/awsSdk.js`,
      "the entry requires ./awsSdk from its directory",
    );
    assert.equal(MANAGER_PATHS.nodeDirectory, `${beside}/node`);
  });
});

describe("registration scripts: the repository's .sh files", () => {
  const files = fs.readdirSync(SCRIPTS).filter((file) => file.endsWith(".sh"));

  it("are every script pushed to the manager, and nothing else", () => {
    assert.deepEqual(files.sort(), [
      "bootstrap.sh",
      "launcher.sh",
      "register.sh",
      "unregister-all.sh",
      "unregister.sh",
    ]);
  });

  it("pass shellcheck as they are, following the library they source", function () {
    skipUnlessAvailable(this, missingCommand("shellcheck", "apt-get install shellcheck"));
    const result = spawnSync("shellcheck", ["--external-sources", "--severity=style", ...files], {
      cwd: SCRIPTS,
      encoding: "utf8",
    });
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it("ship register.sh and unregister.sh with the one unregister_all of unregister-all.sh inlined", () => {
    const read = (file: string) => fs.readFileSync(path.join(SCRIPTS, file), "utf8");
    const library = read("unregister-all.sh").replace(/^# shellcheck .*\n/, "");
    for (const [file, shipped] of [
      ["register.sh", REGISTER_SCRIPT],
      ["unregister.sh", UNREGISTER_SCRIPT],
    ] as const) {
      assert.doesNotMatch(read(file), /unregister_all\(\)/, `${file} sources the function, it does not copy it`);
      assert.equal(shipped.split("unregister_all() {").length, 2, `${file} is pushed with the function once`);
      assert.ok(shipped.includes(library), `${file} is pushed with the library's text`);
      assert.doesNotMatch(shipped, /dirname "\$0"|shellcheck source/, `${file} is pushed self-contained`);
    }
    assert.equal(LAUNCHER_SCRIPT, read("launcher.sh"));
  });
});
