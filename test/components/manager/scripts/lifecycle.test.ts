// The manager's life with systemd: register.sh installs gitlab-runner's drop-in, so the first start (and every later
// one) reaps this manager's leftover tasks before gitlab-runner runs; unregister.sh drains (SIGQUIT, waiting), then
// reaps, then unregisters. gitlab-runner, systemctl and the driver are fakes; systemd's handling of the drop-in is
// played by harness.ts's stand-in (ExecStartPre before the start, KillSignal on stop).
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "smol-toml";
import { managerUserData } from "../../../../components/manager/bootstrap";
import { REGISTER_SCRIPT, UNREGISTER_SCRIPT } from "../../../../components/manager/pushedScripts";
import { GITLAB_RUNNER_DROP_IN } from "../../../../components/manager/systemd";
import { MANAGER_PATHS } from "../../../../driver/contract/managerPaths";
import { FakeManagerHost } from "../../../support/fakeManagerHost";
import {
  callLines,
  commands,
  FAKE_LAUNCHER,
  fakeSystemd,
  MANAGER_ID,
  mode,
  removeSystemd,
  runnerEntries,
  stageEverything,
  TOKEN,
  withSystemd,
} from "./harness";

const REAP = `fargate --config ${"<root>"}${MANAGER_PATHS.fargateConfigFile} reap`;
const SYSTEM_ID = `${MANAGER_PATHS.configDirectory}/.runner_system_id`;

describe("registration scripts: drain, heal and reap with systemd", () => {
  let host: FakeManagerHost;
  let systemd: string;
  beforeEach(() => {
    host = new FakeManagerHost();
    systemd = fakeSystemd();
    stageEverything(host);
    host.stage({ fargate: FAKE_LAUNCHER });
  });
  afterEach(() => {
    host.cleanup();
    removeSystemd(systemd);
  });

  /** The calls of the driver, systemd and systemctl, with the fake root shown as <root>. */
  const lines = () =>
    callLines(host, ["fargate", "systemd", "systemctl", "gitlab-runner"]).map((line) =>
      line.split(host.root).join("<root>"),
    );
  const register = (env: Record<string, string> = {}) =>
    host.run(withSystemd(systemd, commands(host).register, env), `${TOKEN}\n`);
  const unregister = (env: Record<string, string> = {}) =>
    host.run(withSystemd(systemd, commands(host).unregister, env), "");

  it("register installs gitlab-runner's drop-in and has systemd load it before gitlab-runner starts", () => {
    const result = register();
    assert.equal(result.status, 0, result.stderr);
    const installed = host.file(GITLAB_RUNNER_DROP_IN);
    assert.equal(
      fs.readFileSync(installed, "utf8"),
      fs.readFileSync(path.join(host.staging, "gitlab-runner.conf"), "utf8"),
    );
    assert.equal(mode(installed), "644");
    const calls = lines();
    const reload = calls.indexOf("systemctl daemon-reload");
    assert.ok(reload >= 0, calls.join("\n"));
    assert.ok(reload < calls.indexOf("systemctl start gitlab-runner"), calls.join("\n"));
  });

  it("the first start reaps this manager's tasks (its fargate.toml, its Manager.ID) before gitlab-runner runs", () => {
    assert.equal(register().status, 0);
    const calls = lines().filter((line) => !line.startsWith("gitlab-runner"));
    const reap = calls.indexOf(REAP);
    assert.ok(reap >= 0, calls.join("\n"));
    assert.ok(reap < calls.indexOf("systemctl start gitlab-runner"), calls.join("\n"));
    assert.match(calls[reap + 1], /^systemd ExecStartPre 0 \/usr\/bin\/timeout \d+ \/opt\/gitlab-runner\/fargate /);
    const fargate = parse(fs.readFileSync(host.file(MANAGER_PATHS.fargateConfigFile), "utf8"));
    assert.deepEqual({ ...(fargate.Manager as object) }, { ID: MANAGER_ID });
  });

  it("a failed reap is logged and ignored: gitlab-runner still starts", () => {
    const result = register({ FAKE_REAP_STATUS: "1" });
    assert.equal(result.status, 0, result.stderr);
    const calls = lines();
    assert.ok(
      calls.some((line) => line.startsWith("systemd ExecStartPre 1 ")),
      calls.join("\n"),
    );
    assert.ok(calls.includes("systemctl start gitlab-runner"), calls.join("\n"));
  });

  it("a running gitlab-runner is only told to reload: no reap (its jobs go on), the drop-in still refreshed", () => {
    assert.equal(register().status, 0);
    host.clearCalls();
    fs.writeFileSync(host.file(GITLAB_RUNNER_DROP_IN), "# an older drop-in\n");
    assert.equal(register().status, 0);
    const calls = lines();
    assert.ok(!calls.some((line) => line.startsWith("fargate")), calls.join("\n"));
    assert.ok(calls.includes("systemctl kill --kill-whom=main --signal=HUP gitlab-runner"), calls.join("\n"));
    assert.ok(calls.includes("systemctl daemon-reload"));
    assert.match(fs.readFileSync(host.file(GITLAB_RUNNER_DROP_IN), "utf8"), /^KillSignal=SIGQUIT$/m);
  });

  it("unregister drains first: SIGQUIT and wait, then the reap, then GitLab; gitlab-runner stays off", () => {
    assert.equal(register().status, 0);
    host.clearCalls();
    const result = unregister();
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /stopping gitlab-runner; it takes no new job and finishes the 0 it runs/);
    assert.match(result.stdout, /gitlab-runner stopped\nstopped this manager's leftover tasks, if any\nunregistered/);
    assert.deepEqual(lines(), [
      "systemd stop-signal SIGQUIT",
      "systemctl stop gitlab-runner",
      "systemctl disable --quiet gitlab-runner",
      "systemctl is-active --quiet gitlab-runner",
      REAP,
      `gitlab-runner unregister --config <root>${MANAGER_PATHS.configFile} --all-runners`,
    ]);
    assert.deepEqual(runnerEntries(host), []);
    assert.deepEqual(host.gitlabEntries(), []);
  });

  it("unregister never reaps while gitlab-runner still runs (its stop failed): those tasks are live jobs", () => {
    assert.equal(register().status, 0);
    host.clearCalls();
    const result = unregister({ FAKE_STOP_FAILS: "1" });
    assert.match(result.stderr, /warning: gitlab-runner is still running; not stopping its tasks/);
    assert.ok(!lines().includes(REAP), lines().join("\n"));
  });

  it("unregister: a failed reap warns and the manager is still unregistered", () => {
    assert.equal(register().status, 0);
    const result = unregister({ FAKE_REAP_STATUS: "1" });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /warning: could not stop this manager's leftover tasks .* stop themselves once idle/);
    assert.match(result.stdout, /unregistered this manager from GitLab/);
    assert.deepEqual(host.gitlabEntries(), []);
  });

  it("unregister on a manager whose driver was never installed: no reap, still stopped and unregistered", () => {
    const result = unregister();
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(lines(), [
      "systemd stop-signal SIGTERM",
      "systemctl stop gitlab-runner",
      "systemctl disable --quiet gitlab-runner",
    ]);
    assert.match(result.stdout, /no runner registered/);
  });
});

describe("registration scripts: every manager instance keeps its own GitLab system id", () => {
  let hosts: FakeManagerHost[];
  beforeEach(() => {
    hosts = [new FakeManagerHost(), new FakeManagerHost()];
  });
  afterEach(() => hosts.forEach((host) => host.cleanup()));

  it("register and unregister neither create, copy, change nor remove .runner_system_id", () => {
    // gitlab-runner writes it on each instance's first start; two instances, two ids.
    hosts.forEach((host, i) => {
      fs.mkdirSync(host.file(MANAGER_PATHS.configDirectory), { recursive: true });
      fs.writeFileSync(host.file(SYSTEM_ID), `s_instance${i}\n`);
      stageEverything(host);
    });
    for (const host of hosts) {
      const { register, unregister } = commands(host);
      assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
      assert.equal(host.run(register, `${TOKEN}\n`).status, 0);
      assert.equal(host.run(unregister, "").status, 0);
    }
    assert.deepEqual(
      hosts.map((host) => fs.readFileSync(host.file(SYSTEM_ID), "utf8")),
      ["s_instance0\n", "s_instance1\n"],
    );
    const fresh = new FakeManagerHost();
    try {
      stageEverything(fresh);
      assert.equal(fresh.run(commands(fresh).register, `${TOKEN}\n`).status, 0);
      assert.equal(fs.existsSync(fresh.file(SYSTEM_ID)), false, "left for gitlab-runner to generate");
    } finally {
      fresh.cleanup();
    }
  });

  it("the shipped scripts and the first-boot script name the system id only in comments", () => {
    const shipped = {
      "register.sh": REGISTER_SCRIPT,
      "unregister.sh": UNREGISTER_SCRIPT,
      "user data": managerUserData({ architecture: "amd64" }),
    };
    for (const [title, text] of Object.entries(shipped)) {
      const code = text
        .split("\n")
        .filter((line) => !/^\s*#/.test(line))
        .join("\n");
      assert.doesNotMatch(code, /runner_system_id/, `${title} touches gitlab-runner's system id`);
    }
  });
});
