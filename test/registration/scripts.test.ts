import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "smol-toml";
import { managerUserData } from "../../components/bootstrap";
import { LAUNCHER_SCRIPT, REGISTER_SCRIPT, UNREGISTER_SCRIPT } from "../../components/managerScripts";
import {
  registrationEnvironment,
  RegistrationEnvironmentInput,
  remoteScriptCommand,
} from "../../components/registration";
import { renderManagerConfiguration } from "../../components/runnerConfig";
import { version } from "../../package.json";
import { FakeManagerHost, RecordedCall } from "../support/fakeManagerHost";

const TOKEN = "glrt-t1_s3cr3tRunnerT0ken";
const URL = "https://gitlab.example.com";

function runnerEntries(host: FakeManagerHost): Record<string, unknown>[] {
  const text = fs.readFileSync(host.file("/etc/gitlab-runner/config.toml"), "utf8");
  return ((parse(text).runners as Record<string, unknown>[] | undefined) ?? []).map((r) => ({ ...r }));
}

function mode(file: string): string {
  return (fs.statSync(file).mode & 0o777).toString(8);
}

function named(calls: RecordedCall[], command: string, subcommand?: string): RecordedCall[] {
  return calls.filter((c) => c.command === command && (subcommand === undefined || c.argv[0] === subcommand));
}

/** Stages what the deployment uploads: the scripts, launcher and TOMLs exactly as shipped. */
function stageEverything(host: FakeManagerHost, cluster = "ci-cluster", extra: Record<string, string> = {}): void {
  const files = renderManagerConfiguration({
    fargate: {
      cluster,
      region: "eu-west-1",
      subnets: ["subnet-0a1b2c3d"],
      securityGroups: ["sg-0123abcd"],
      taskDefinition: "ci-coordinator:3",
    },
    global: { concurrent: 7 },
    template: { privateCa: extra["ca.crt"] !== undefined },
  });
  host.stage({
    "register.sh": REGISTER_SCRIPT,
    "unregister.sh": UNREGISTER_SCRIPT,
    fargate: LAUNCHER_SCRIPT,
    "fargate.js": "// driver bundle\n",
    "fargate.toml": files.fargateToml,
    "config.toml": files.globalConfigToml,
    "runner-template.toml": files.runnerTemplateToml,
    ...extra,
  });
}

/** The create and delete command lines the Pulumi command runs, built by the same functions. */
function commands(host: FakeManagerHost, input: Partial<RegistrationEnvironmentInput> = {}) {
  const env = registrationEnvironment({
    stagingDirectory: host.staging,
    url: URL,
    name: "fargate-runner",
    tokenKind: "runner",
    privateCa: false,
    ...input,
  });
  return {
    register: remoteScriptCommand(`${host.staging}/register.sh`, env),
    unregister: remoteScriptCommand(`${host.staging}/unregister.sh`, { GFR_STAGING: host.staging }),
  };
}

function assertTokenNeverInArgv(calls: RecordedCall[], token: string): void {
  for (const call of calls) {
    assert.ok(!call.argv.some((arg) => arg.includes(token)), `${call.command} got the token on its command line`);
  }
}

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
    it(`${title} passes shellcheck`, () => {
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
    fs.copyFileSync(path.resolve(__dirname, "../../dist/driver/fargate.js"), path.join(dir, "fargate.js"));
    fs.mkdirSync(path.join(dir, "node/bin"), { recursive: true });
    fs.symlinkSync(process.execPath, path.join(dir, "node/bin/node"));
    const out = execFileSync(path.join(dir, "fargate"), ["--version"], { encoding: "utf8", cwd: os.tmpdir() });
    assert.equal(out.trim(), version);

    fs.writeFileSync(path.join(dir, "fargate.js"), "process.stdout.write(JSON.stringify(process.argv.slice(2)));\n");
    const args = ["--config", "/etc/gitlab-runner/fargate.toml", "custom", "run", "script with spaces", "step_script"];
    assert.deepEqual(JSON.parse(execFileSync(path.join(dir, "fargate"), args, { encoding: "utf8" })), args);
  });
});

describe("registration scripts: register and unregister, executed against fakes", () => {
  let host: FakeManagerHost;
  beforeEach(() => {
    host = new FakeManagerHost();
  });
  afterEach(() => host.cleanup());

  it("registers with the token from stdin passed by environment only, installs the files and restarts", () => {
    stageEverything(host);
    const { register } = commands(host);
    assert.ok(!register.includes(TOKEN));
    const result = host.run(register, `${TOKEN}\n`);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /registered runner 'fargate-runner' with https:\/\/gitlab\.example\.com/);
    assert.ok(!(result.stdout + result.stderr).includes(TOKEN), "the token leaked into the command's output");

    const calls = host.calls();
    assert.deepEqual(
      calls.map((c) => `${c.command} ${c.argv[0]}`),
      ["sudo -n", "cloud-init status", "gitlab-runner register", "systemctl enable", "systemctl restart"],
    );
    assert.deepEqual(named(calls, "cloud-init")[0].argv, ["status", "--wait"]);
    const [registration] = named(calls, "gitlab-runner", "register");
    assert.deepEqual(registration.argv, [
      "register",
      "--non-interactive",
      "--config",
      host.file("/etc/gitlab-runner/config.toml"),
      "--url",
      URL,
      "--name",
      "fargate-runner",
      "--executor",
      "custom",
      "--template-config",
      host.file("/etc/gitlab-runner/runner-template.toml"),
    ]);
    assert.deepEqual(registration.env, { CI_SERVER_TOKEN: TOKEN });
    assert.equal(registration.stdin, "", "gitlab-runner gets no standard input");
    assertTokenNeverInArgv(calls, TOKEN);
    assert.deepEqual(named(calls, "systemctl", "restart")[0].argv, ["restart", "gitlab-runner"]);

    const entries = runnerEntries(host);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].token, TOKEN);
    assert.equal((entries[0].custom as Record<string, unknown>).run_exec, "/opt/gitlab-runner/fargate");
    const config = parse(fs.readFileSync(host.file("/etc/gitlab-runner/config.toml"), "utf8"));
    assert.equal(config.concurrent, 7, "config.toml starts from the pushed global settings");

    assert.equal(
      fs.readFileSync(host.file("/etc/gitlab-runner/fargate.toml"), "utf8"),
      fs.readFileSync(path.join(host.staging, "fargate.toml"), "utf8"),
    );
    assert.equal(mode(host.file("/etc/gitlab-runner/fargate.toml")), "600");
    assert.equal(mode(host.file("/etc/gitlab-runner/config.toml")), "600");
    assert.equal(mode(host.file("/opt/gitlab-runner/fargate")), "755");
    assert.equal(fs.readFileSync(host.file("/opt/gitlab-runner/fargate.js"), "utf8"), "// driver bundle\n");
    assert.equal(mode(host.file("/opt/gitlab-runner/metadata")), "700");
    assert.equal(mode(host.file("/var/log/gitlab-fargate-runner/registration.log")), "600");
  });

  it("a second run unregisters the previous entry first and leaves exactly one runner", () => {
    stageEverything(host);
    const { register } = commands(host);
    assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
    host.clearCalls();

    stageEverything(host, "other-cluster");
    const second = host.run(register, `${TOKEN}\n`);
    assert.equal(second.status, 0, second.stderr);
    const calls = host.calls();
    assert.deepEqual(
      calls.filter((c) => c.command === "gitlab-runner").map((c) => c.argv[0]),
      ["unregister", "register"],
    );
    assert.deepEqual(named(calls, "gitlab-runner", "unregister")[0].argv, [
      "unregister",
      "--config",
      host.file("/etc/gitlab-runner/config.toml"),
      "--all-runners",
    ]);
    assert.equal(runnerEntries(host).length, 1);
    assert.match(fs.readFileSync(host.file("/etc/gitlab-runner/fargate.toml"), "utf8"), /Cluster = "other-cluster"/);
    assert.equal(named(calls, "systemctl", "restart").length, 1);
  });

  it("a rotated token replaces the entry: one runner, with the new token", () => {
    stageEverything(host);
    const { register } = commands(host);
    assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
    const rotated = "glrt-rotated_T0ken";
    const result = host.run(register, `${rotated}\n`);
    assert.equal(result.status, 0, result.stderr);
    const entries = runnerEntries(host);
    assert.deepEqual(
      entries.map((e) => e.token),
      [rotated],
    );
    assertTokenNeverInArgv(host.calls(), rotated);
    assert.ok(!(result.stdout + result.stderr).includes(rotated));
  });

  it("legacy registration token: REGISTRATION_TOKEN environment and the tag, run-untagged and locked flags", () => {
    stageEverything(host);
    const legacy = "GR1348941legacyT0ken";
    const { register } = commands(host, {
      tokenKind: "registration",
      legacyRegistration: { tags: ["fargate", "aws"], locked: false },
    });
    const result = host.run(register, `${legacy}\n`);
    assert.equal(result.status, 0, result.stderr);
    const [registration] = named(host.calls(), "gitlab-runner", "register");
    assert.deepEqual(registration.env, { REGISTRATION_TOKEN: legacy });
    assert.deepEqual(registration.argv.slice(-4), [
      "--run-untagged=false",
      "--locked=false",
      "--tag-list",
      "fargate,aws",
    ]);
    assertTokenNeverInArgv(host.calls(), legacy);
  });

  it("private CA: installs the certificate and registers with --tls-ca-file", () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    stageEverything(host, "ci-cluster", { "ca.crt": pem });
    const result = host.run(commands(host, { privateCa: true }).register, `${TOKEN}\n`);
    assert.equal(result.status, 0, result.stderr);
    const ca = host.file("/etc/gitlab-runner/certs/ca.crt");
    assert.equal(fs.readFileSync(ca, "utf8"), pem);
    const [registration] = named(host.calls(), "gitlab-runner", "register");
    assert.deepEqual(registration.argv.slice(-2), ["--tls-ca-file", ca]);
    assert.equal(runnerEntries(host)[0]["tls-ca-file"], "/etc/gitlab-runner/certs/ca.crt");
  });

  it("stops before registering when the first-boot script failed", () => {
    stageEverything(host);
    const result = host.run(commands(host).register, `${TOKEN}\n`, { cloudInitStatus: 1 });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /first-boot script failed \(cloud-init status 1\)/);
    assert.equal(named(host.calls(), "gitlab-runner").length, 0);
    assert.equal(fs.existsSync(host.file("/etc/gitlab-runner/config.toml")), false);
  });

  it("accepts cloud-init's 'done with recoverable errors' (status 2)", () => {
    stageEverything(host);
    assert.equal(host.run(commands(host).register, `${TOKEN}\n`, { cloudInitStatus: 2 }).status, 0);
  });

  it("a failed registration shows gitlab-runner's log with the token masked, and fails", () => {
    stageEverything(host);
    const result = host.run(commands(host).register, `${TOKEN}\n`, { registerFails: true });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /gitlab-runner register failed/);
    assert.match(result.stderr, /is not valid runner=\[MASKED\]/);
    assert.ok(!(result.stdout + result.stderr).includes(TOKEN));
    assert.ok(!(result.stdout + result.stderr).includes("s3cr3t"));
    assert.equal(named(host.calls(), "systemctl", "restart").length, 0);
  });

  it("refuses to run without a token on stdin", () => {
    stageEverything(host);
    const result = host.run(commands(host).register, "");
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /no token on standard input/);
    assert.equal(named(host.calls(), "gitlab-runner").length, 0);
  });

  it("delete: unregisters this manager from GitLab, then stops gitlab-runner", () => {
    stageEverything(host);
    const { register, unregister } = commands(host);
    assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
    host.clearCalls();

    const result = host.run(unregister, "");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /unregistered this manager from GitLab/);
    assert.ok(!(result.stdout + result.stderr).includes(TOKEN));
    assert.deepEqual(
      host.calls().map((c) => `${c.command} ${c.argv.join(" ")}`),
      [
        `sudo -n env GFR_STAGING=${host.staging} sh ${host.staging}/unregister.sh`,
        `gitlab-runner unregister --config ${host.file("/etc/gitlab-runner/config.toml")} --all-runners`,
        "systemctl stop gitlab-runner",
        "systemctl disable --quiet gitlab-runner",
      ],
    );
    assert.equal(runnerEntries(host).length, 0);
  });

  it("delete when GitLab does not answer: warns, still stops gitlab-runner, and does not block the destroy", () => {
    stageEverything(host);
    const { register, unregister } = commands(host);
    assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
    const result = host.run(unregister, "", { unregisterFails: true });
    assert.equal(result.status, 0);
    assert.match(result.stderr, /warning: GitLab did not confirm the removal/);
    assert.equal(named(host.calls(), "systemctl", "stop").length, 1);
  });

  it("delete on a manager that never registered: nothing to unregister, service stopped", () => {
    stageEverything(host);
    const result = host.run(commands(host).unregister, "");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /no runner registered/);
    assert.equal(named(host.calls(), "gitlab-runner").length, 0);
    assert.equal(named(host.calls(), "systemctl", "stop").length, 1);
  });
});
