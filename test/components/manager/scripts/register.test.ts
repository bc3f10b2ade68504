// register.sh (components/manager/scripts/register.sh) run on a fake manager: gitlab-runner, systemctl and cloud-init
// are fakes, the file tools are real.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "smol-toml";
import { FakeManagerHost } from "../../../support/fakeManagerHost";
import {
  TOKEN,
  URL,
  CONFIG,
  GITLAB_REFUSALS,
  REFUSAL_TITLES,
  TRACED_TOOLS,
  runnerEntries,
  mode,
  named,
  assertReloadedNotRestarted,
  stageEverything,
  commands,
  assertTokenNeverInArgv,
  runnerSubcommands,
  installedFiles,
  rotateTokenLikeGitLabRunner,
  DRIVER_BUNDLE,
} from "./harness";

describe("registration scripts: register.sh, executed against fakes", () => {
  let host: FakeManagerHost;
  beforeEach(() => {
    host = new FakeManagerHost();
  });
  afterEach(() => host.cleanup());

  it("registers with the token from stdin passed by environment only, installs the files and starts the service", () => {
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
      [
        "sudo -n",
        "cloud-init status",
        "gitlab-runner register",
        "systemctl daemon-reload",
        "systemctl enable",
        "systemctl is-active",
        "systemctl start",
      ],
    );
    assert.deepEqual(named(calls, "cloud-init")[0].argv, ["status", "--wait"]);
    const [registration] = named(calls, "gitlab-runner", "register");
    assert.deepEqual(registration.argv, [
      "register",
      "--non-interactive",
      "--config",
      host.file(`${CONFIG}.new`),
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
    assert.deepEqual(named(calls, "systemctl", "start")[0].argv, ["start", "gitlab-runner"]);

    const entries = runnerEntries(host);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].token, TOKEN);
    assert.equal(fs.existsSync(host.file(`${CONFIG}.new`)), false, "the new config was renamed into place");
    assert.deepEqual(host.gitlabEntries(), [TOKEN]);
    assert.equal((entries[0].custom as Record<string, unknown>).run_exec, "/opt/gitlab-runner/fargate");
    const config = parse(fs.readFileSync(host.file(CONFIG), "utf8"));
    assert.equal(config.concurrent, 7, "config.toml starts from the pushed global settings");

    assert.equal(
      fs.readFileSync(host.file("/etc/gitlab-runner/fargate.toml"), "utf8"),
      fs.readFileSync(path.join(host.staging, "fargate.toml"), "utf8"),
    );
    assert.equal(mode(host.file("/etc/gitlab-runner/fargate.toml")), "600");
    assert.equal(mode(host.file(CONFIG)), "600");
    assert.equal(mode(host.file("/opt/gitlab-runner/fargate")), "755");
    assert.equal(fs.readFileSync(host.file("/opt/gitlab-runner/fargate.js"), "utf8"), DRIVER_BUNDLE);
    // gitlab-runner's config stage reads the answer the staged driver rendered from the staged fargate.toml.
    const custom = entries[0].custom as Record<string, unknown>;
    assert.equal(custom.config_exec, "/bin/cat");
    assert.deepEqual(custom.config_args, ["/opt/gitlab-runner/config-stage.json"]);
    const answer = JSON.parse(fs.readFileSync(host.file("/opt/gitlab-runner/config-stage.json"), "utf8"));
    assert.equal(answer.driver.name, "gitlab-fargate-runner");
    assert.equal(answer.builds_dir, "/opt/gitlab-runner/builds");
    assert.equal(mode(host.file("/opt/gitlab-runner/config-stage.json")), "644");
    assert.equal(fs.readFileSync(host.file("/opt/gitlab-runner/awsSdk.js"), "utf8"), "// the driver's AWS SDK part\n");
    assert.equal(mode(host.file("/opt/gitlab-runner/metadata")), "700");
    assert.equal(mode(host.file("/var/log/gitlab-fargate-runner/registration.log")), "600");
  });

  it("a re-run with the same token registers again without unregistering, and applies the new files", () => {
    stageEverything(host);
    const { register } = commands(host);
    assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
    host.clearCalls();

    stageEverything(host, "other-cluster");
    const second = host.run(register, `${TOKEN}\n`);
    assert.equal(second.status, 0, second.stderr);
    assert.deepEqual(runnerSubcommands(host), ["register"], "the same token is this same manager: nothing to remove");
    assert.deepEqual(
      runnerEntries(host).map((e) => e.token),
      [TOKEN],
    );
    assert.deepEqual(host.gitlabEntries(), [TOKEN]);
    assert.match(fs.readFileSync(host.file("/etc/gitlab-runner/fargate.toml"), "utf8"), /Cluster = "other-cluster"/);
    assertReloadedNotRestarted(host.calls());
  });

  it("a new token registers first, then unregisters the old entry from the old config: one runner, new token", () => {
    stageEverything(host);
    const { register } = commands(host);
    assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
    host.clearCalls();

    const rotated = "glrt-rotated_T0ken";
    const result = host.run(register, `${rotated}\n`);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(runnerSubcommands(host), ["register", "unregister"]);
    const [unregistration] = named(host.calls(), "gitlab-runner", "unregister");
    assert.deepEqual(unregistration.argv, ["unregister", "--config", host.file(CONFIG), "--all-runners"]);
    // The fake unregisters the entries of the file it is given: GitLab keeping only the new token shows that the
    // old config (old token) was unregistered, not the new one.
    assert.deepEqual(host.gitlabEntries(), [rotated], "GitLab holds the new entry only: the old one was removed");
    assert.deepEqual(
      runnerEntries(host).map((e) => e.token),
      [rotated],
    );
    assertReloadedNotRestarted(host.calls());
    assert.ok(!(result.stdout + result.stderr).includes(rotated));
    assert.ok(!(result.stdout + result.stderr).includes(TOKEN));
  });

  it("neither token reaches a command line, including awk, grep and the file tools the script runs", () => {
    host.cleanup();
    host = new FakeManagerHost({ traceTools: TRACED_TOOLS });
    stageEverything(host);
    const { register } = commands(host);
    assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
    const rotated = "glrt-rotated_T0ken";
    const result = host.run(register, `${rotated}\n`);
    assert.equal(result.status, 0, result.stderr);
    const failed = host.run(register, `${TOKEN}\n`, { registerFails: true });
    assert.notEqual(failed.status, 0);

    const calls = host.calls();
    for (const tool of ["awk", "grep", "install", "mv", "rm"]) {
      assert.ok(named(calls, tool).length > 0, `${tool} was traced`);
    }
    const awkInputs = named(calls, "awk").map((c) => c.argv.slice(1));
    assert.deepEqual(
      awkInputs.filter((files) => files.length > 0).sort(),
      [[host.file(CONFIG)], [host.file(`${CONFIG}.new`)], [host.file(`${CONFIG}.new`)]].sort(),
      "awk read the tokens of the old and the new config from the files",
    );
    assert.equal(awkInputs.filter((files) => files.length === 0).length, 1, "awk masked the failure's log once");
    assert.equal(named(calls, "tail").length, 1);
    assertTokenNeverInArgv(calls, TOKEN);
    assertTokenNeverInArgv(calls, rotated);
    assert.deepEqual(host.gitlabEntries(), [rotated]);
  });

  it("a refused token (revoked, mistyped, or rotated by gitlab-runner itself) changes nothing and fails", () => {
    stageEverything(host);
    const { register } = commands(host);
    assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
    // GitLab enforces token expiry: gitlab-runner rotated its token; the one the stack holds is now refused.
    const selfRotated = "glrt-rotated_by_gitlab_runner";
    rotateTokenLikeGitLabRunner(host, selfRotated);
    const before = installedFiles(host);
    host.clearCalls();

    stageEverything(host, "other-cluster");
    fs.writeFileSync(path.join(host.staging, "fargate.js"), `${DRIVER_BUNDLE}// a new driver bundle\n`);
    const result = host.run(register, `${TOKEN}\n`, { registerFails: true });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /gitlab-runner register failed/);
    assert.match(result.stderr, /nothing was changed: gitlab-runner keeps running with its current registration/);
    assert.deepEqual(runnerSubcommands(host), ["register"], "the working entry is not unregistered");
    assert.deepEqual(installedFiles(host), before, "config.toml, the driver and fargate.toml are untouched");
    assert.deepEqual(
      runnerEntries(host).map((e) => e.token),
      [selfRotated],
    );
    assert.equal(fs.existsSync(host.file(`${CONFIG}.new`)), false, "the half-built config is removed");
    assert.equal(named(host.calls(), "systemctl").length, 0, "gitlab-runner is neither restarted nor stopped");
    assert.ok(!(result.stdout + result.stderr).includes(TOKEN));

    // With a fresh token set, the next run goes through and removes the entry the self-rotated token holds.
    const fresh = "glrt-fresh_T0ken";
    host.clearCalls();
    const retry = host.run(register, `${fresh}\n`);
    assert.equal(retry.status, 0, retry.stderr);
    assert.deepEqual(
      runnerSubcommands(host),
      ["register", "unregister"],
      "the token in gitlab-runner's layout is read",
    );
    assert.deepEqual(
      runnerEntries(host).map((e) => e.token),
      [fresh],
    );
    assert.match(fs.readFileSync(host.file("/etc/gitlab-runner/fargate.toml"), "utf8"), /Cluster = "other-cluster"/);
  });

  it("recognises its own token in config.toml as written by gitlab-runner: the same token unregisters nothing", () => {
    stageEverything(host);
    const { register } = commands(host);
    assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
    const selfRotated = "glrt-rotated_by_gitlab_runner";
    rotateTokenLikeGitLabRunner(host, selfRotated);
    host.clearCalls();
    const result = host.run(register, `${selfRotated}\n`);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(runnerSubcommands(host), ["register"]);
    assert.deepEqual(
      runnerEntries(host).map((e) => e.token),
      [selfRotated],
    );
  });

  for (const answer of GITLAB_REFUSALS) {
    it(`a new token, GitLab ${REFUSAL_TITLES[answer]} on removing the old entry: warns, never confirms, switches`, () => {
      stageEverything(host);
      const { register } = commands(host);
      assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
      const fresh = "glrt-new_T0ken";
      const result = host.run(register, `${fresh}\n`, { unregister: answer });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(runnerSubcommands(host).slice(-2), ["register", "unregister"]);
      assert.match(result.stderr, /warning: GitLab did not confirm removing the previous entry/);
      assert.deepEqual(host.gitlabEntries(), [TOKEN, fresh], "GitLab still lists the old entry: it is stale");
      assert.deepEqual(
        runnerEntries(host).map((e) => e.token),
        [fresh],
      );
      assertReloadedNotRestarted(host.calls());
      assert.ok(!(result.stdout + result.stderr).includes(TOKEN));
      assert.ok(!(result.stdout + result.stderr).includes(fresh));
    });
  }

  it("legacy registration token: GitLab refusing to delete the previous runner is reported, not taken as done", () => {
    stageEverything(host);
    const legacy = "GR1348941legacyT0ken";
    const { register } = commands(host, { tokenKind: "registration", legacyRegistration: { tags: ["fargate"] } });
    assert.equal(host.run(register, `${legacy}\n`).status, 0);
    const [first] = runnerEntries(host).map((e) => e.token);
    const result = host.run(register, `${legacy}\n`, { unregister: "forbidden" });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /warning: GitLab did not confirm removing the previous entry/);
    const [second] = runnerEntries(host).map((e) => e.token);
    assert.notEqual(second, first);
    assert.deepEqual(host.gitlabEntries(), [first, second]);
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
    const [first] = runnerEntries(host).map((e) => e.token);

    // Each legacy registration creates a new runner: the re-run removes the previous one.
    host.clearCalls();
    assert.equal(host.run(register, `${legacy}\n`).status, 0);
    assert.deepEqual(runnerSubcommands(host), ["register", "unregister"]);
    const entries = runnerEntries(host).map((e) => e.token);
    assert.equal(entries.length, 1);
    assert.notEqual(entries[0], first);
    assert.deepEqual(host.gitlabEntries(), entries);
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

    // Dropping the private CA: the running runner still trusts it until a registration without it succeeded.
    stageEverything(host);
    const withoutCa = commands(host).register;
    assert.notEqual(host.run(withoutCa, `${TOKEN}\n`, { registerFails: true }).status, 0);
    assert.equal(fs.readFileSync(ca, "utf8"), pem, "a failed run keeps the CA the running config uses");
    assert.equal(host.run(withoutCa, `${TOKEN}\n`).status, 0);
    assert.equal(fs.existsSync(ca), false);
    assert.equal(runnerEntries(host)[0]["tls-ca-file"], undefined);
  });

  it("stops before registering when the first-boot script failed", () => {
    stageEverything(host);
    const result = host.run(commands(host).register, `${TOKEN}\n`, { cloudInitStatus: 1 });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /first-boot script failed \(cloud-init status 1\)/);
    assert.equal(named(host.calls(), "gitlab-runner").length, 0);
    assert.equal(fs.existsSync(host.file(CONFIG)), false);
  });

  it("a fargate.toml the staged driver refuses fails before anything is registered or installed", () => {
    stageEverything(host);
    fs.writeFileSync(path.join(host.staging, "fargate.toml"), '[Fargate]\nSubnet = "subnet-0a0a0a0a"\n');
    const result = host.run(commands(host).register, `${TOKEN}\n`);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /Fargate\.Cluster is required/);
    assert.match(result.stderr, /the staged driver refused the staged fargate\.toml/);
    assert.equal(named(host.calls(), "gitlab-runner").length, 0);
    assert.equal(fs.existsSync(host.file("/opt/gitlab-runner/config-stage.json")), false);
    assert.equal(fs.existsSync(host.file(CONFIG)), false);
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
    assert.equal(named(host.calls(), "systemctl", "start").length + named(host.calls(), "systemctl", "kill").length, 0);
    assert.equal(fs.existsSync(host.file(CONFIG)), false, "no config.toml without a registration");
    assert.equal(fs.existsSync(host.file(`${CONFIG}.new`)), false);
    assert.deepEqual(host.gitlabEntries(), []);
  });

  it("refuses to run without a token on stdin", () => {
    stageEverything(host);
    const result = host.run(commands(host).register, "");
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /no token on standard input/);
    assert.equal(named(host.calls(), "gitlab-runner").length, 0);
  });
});
