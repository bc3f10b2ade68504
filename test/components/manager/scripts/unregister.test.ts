// unregister.sh (components/manager/scripts/unregister.sh) and the shared unregister_all, run on a fake manager whose
// gitlab-runner unregisters like the real one.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { remoteScriptCommand } from "../../../../components/manager/registration";
import { MANAGER_PATHS } from "../../../../driver/contract/managerPaths";
import { FakeManagerHost } from "../../../support/fakeManagerHost";
import {
  TOKEN,
  CONFIG,
  GITLAB_REFUSALS,
  REFUSAL_TITLES,
  runnerEntries,
  named,
  stageEverything,
  commands,
} from "./harness";

describe("registration scripts: the fake gitlab-runner unregisters like the real one", () => {
  let host: FakeManagerHost;
  beforeEach(() => {
    host = new FakeManagerHost();
    stageEverything(host);
    assert.equal(host.run(commands(host).register, `${TOKEN}\n`).status, 0);
  });
  afterEach(() => host.cleanup());
  const unregisterAll = `gitlab-runner unregister --config "$GFR_ROOT${CONFIG}" --all-runners`;

  it("GitLab confirms: logs success, removes the entry, exits 0", () => {
    const result = host.run(unregisterAll, "");
    assert.equal(result.status, 0);
    assert.match(result.stderr, /^Unregistering runner manager from GitLab succeeded +correlation_id=/m);
    assert.deepEqual(runnerEntries(host), []);
    assert.deepEqual(host.gitlabEntries(), []);
  });

  // gitlab-runner's commands/unregister.go, unregisterAllRunners and Execute: a runner GitLab did not confirm is
  // kept in the config ("If unregister fails, leave the runner in the config"), the joined error is only logged
  // ("Failed to unregister runners"), and Execute returns normally: exit status 0.
  for (const [answer, line] of [
    ["forbidden", /^ERROR: Unregistering runner manager from GitLab forbidden .* status=403 Forbidden$/m],
    ["unreachable", /^ERROR: Unregistering runner manager from GitLab failed .* status=execute JSON request: Delete /m],
  ] as const) {
    it(`GitLab ${REFUSAL_TITLES[answer]}: logs the failure, keeps the entry, and still exits 0`, () => {
      const before = fs.readFileSync(host.file(CONFIG), "utf8");
      const result = host.run(unregisterAll, "", { unregister: answer });
      assert.equal(result.status, 0, "gitlab-runner unregister --all-runners exits 0 when GitLab refuses");
      assert.match(result.stderr, line);
      assert.match(
        result.stderr,
        /^ERROR: Failed to unregister runners +error=failed to unregister runner "fargate-runner"$/m,
      );
      assert.doesNotMatch(result.stderr, /succeeded/);
      assert.equal(fs.readFileSync(host.file(CONFIG), "utf8"), before, "nothing removed: the file is not rewritten");
      assert.deepEqual(host.gitlabEntries(), [TOKEN]);
    });
  }
});

describe("registration scripts: unregister.sh, executed against fakes", () => {
  let host: FakeManagerHost;
  beforeEach(() => {
    host = new FakeManagerHost();
  });
  afterEach(() => host.cleanup());
  it("delete: stops gitlab-runner, then unregisters this manager from GitLab", () => {
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
        `sudo -n env GFR_STAGING=${host.staging} GFR_CONFIG_FILE=/etc/gitlab-runner/config.toml ` +
          `GFR_LOG_DIRECTORY=/var/log/gitlab-fargate-runner GFR_LAUNCHER=/opt/gitlab-runner/fargate ` +
          `GFR_FARGATE_CONFIG_FILE=/etc/gitlab-runner/fargate.toml GFR_METADATA_DIRECTORY=/opt/gitlab-runner/metadata ` +
          `sh ${host.staging}/unregister.sh`,
        "systemctl stop gitlab-runner",
        "systemctl disable --quiet gitlab-runner",
        "systemctl is-active --quiet gitlab-runner",
        `gitlab-runner unregister --config ${host.file(CONFIG)} --all-runners`,
      ],
    );
    assert.equal(runnerEntries(host).length, 0);
  });

  it("delete with the command an earlier release saved (no path variables): still unregisters and stops", () => {
    stageEverything(host);
    assert.equal(host.run(commands(host).register, `${TOKEN}\n`).status, 0);
    const saved = remoteScriptCommand(`${host.staging}/unregister.sh`, { GFR_STAGING: host.staging });
    const result = host.run(saved, "");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /unregistered this manager from GitLab/);
    assert.equal(runnerEntries(host).length, 0);
    assert.ok(fs.existsSync(host.file(`${MANAGER_PATHS.logDirectory}/unregistration.log`)));
  });

  it("its default paths are MANAGER_PATHS", () => {
    const script = fs.readFileSync("components/manager/scripts/unregister.sh", "utf8");
    assert.match(script, new RegExp(`\\$\\{GFR_CONFIG_FILE:-${MANAGER_PATHS.configFile}\\}`));
    assert.match(script, new RegExp(`\\$\\{GFR_LOG_DIRECTORY:-${MANAGER_PATHS.logDirectory}\\}`));
    assert.match(script, new RegExp(`\\$\\{GFR_LAUNCHER:-${MANAGER_PATHS.launcher}\\}`));
    assert.match(script, new RegExp(`\\$\\{GFR_FARGATE_CONFIG_FILE:-${MANAGER_PATHS.fargateConfigFile}\\}`));
    assert.match(script, new RegExp(`\\$\\{GFR_METADATA_DIRECTORY:-${MANAGER_PATHS.metadataDirectory}\\}`));
  });

  for (const answer of GITLAB_REFUSALS) {
    it(`delete when GitLab ${REFUSAL_TITLES[answer]}: warns instead of reporting success, stops, does not block`, () => {
      stageEverything(host);
      const { register, unregister } = commands(host);
      assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
      host.clearCalls();
      const result = host.run(unregister, "", { unregister: answer });
      assert.equal(result.status, 0, "a destroy never gets stuck on GitLab");
      assert.match(result.stderr, /warning: GitLab did not confirm the removal/);
      assert.doesNotMatch(result.stdout, /unregistered this manager/);
      assert.ok(!(result.stdout + result.stderr).includes(TOKEN));
      assert.deepEqual(host.gitlabEntries(), [TOKEN], "GitLab still lists this manager");
      assert.deepEqual(
        runnerEntries(host).map((e) => e.token),
        [TOKEN],
        "gitlab-runner keeps the entry GitLab did not confirm",
      );
      const log = fs.readFileSync(host.file("/var/log/gitlab-fargate-runner/unregistration.log"), "utf8");
      assert.match(log, /Failed to unregister runners/, "gitlab-runner's output is kept in the log");
      assert.equal(named(host.calls(), "systemctl", "stop").length, 1);
    });
  }

  it("delete on a manager that never registered: nothing to unregister, service stopped", () => {
    stageEverything(host);
    const result = host.run(commands(host).unregister, "");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /no runner registered/);
    assert.equal(named(host.calls(), "gitlab-runner").length, 0);
    assert.equal(named(host.calls(), "systemctl", "stop").length, 1);
  });
});
