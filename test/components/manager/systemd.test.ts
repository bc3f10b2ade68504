// gitlab-runner's systemd drop-in (components/manager/systemd.ts): drain, heal, reap.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  GITLAB_RUNNER_DROP_IN,
  reapCommand,
  renderGitLabRunnerDropIn,
  REAP_TIMEOUT_SECONDS,
} from "../../../components/manager/systemd";
import { parseArgs } from "../../../driver/main";
import { MANAGER_PATHS } from "../../../driver/contract/managerPaths";
import { missingCommand, skipUnlessAvailable } from "../../support/requirements";

/** The drop-in's settings: section → key → every value assigned, in order (systemd keeps the last of most keys). */
function settings(text: string): Record<string, Record<string, string[]>> {
  const result: Record<string, Record<string, string[]>> = {};
  let section = "";
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1];
      result[section] ??= {};
      continue;
    }
    const at = line.indexOf("=");
    assert.ok(section !== "" && at > 0, `not a setting of a section: ${line}`);
    const key = line.slice(0, at);
    (result[section][key] ??= []).push(line.slice(at + 1));
  }
  return result;
}

describe("gitlab-runner's systemd drop-in", () => {
  const dropIn = settings(renderGitLabRunnerDropIn({ drainTimeoutMinutes: 60 }));

  it("drains: SIGQUIT to gitlab-runner only (its jobs finish), for at most runner.drainTimeoutMinutes", () => {
    assert.deepEqual(dropIn.Service.KillSignal, ["SIGQUIT"]);
    assert.deepEqual(dropIn.Service.KillMode, ["mixed"], "the driver processes of running jobs must not get SIGQUIT");
    assert.deepEqual(dropIn.Service.TimeoutStopSec, ["3600"]);
    const short = settings(renderGitLabRunnerDropIn({ drainTimeoutMinutes: 5 }));
    assert.deepEqual(short.Service.TimeoutStopSec, ["300"]);
  });

  it("heals: restarts gitlab-runner whenever it exits, without a start limit", () => {
    assert.deepEqual(dropIn.Service.Restart, ["always"]);
    assert.deepEqual(dropIn.Service.RestartSec, ["10"]);
    assert.deepEqual(dropIn.Unit.StartLimitIntervalSec, ["0"]);
  });

  it("reaps before gitlab-runner starts: the driver's reap with this manager's fargate.toml, failure ignored", () => {
    assert.deepEqual(dropIn.Service.ExecStartPre, [`-${reapCommand()}`]);
    assert.equal(
      reapCommand(),
      `/usr/bin/timeout ${REAP_TIMEOUT_SECONDS} ${MANAGER_PATHS.launcher} --config ${MANAGER_PATHS.fargateConfigFile} reap`,
    );
    assert.ok(Number(dropIn.Service.TimeoutStartSec[0]) > REAP_TIMEOUT_SECONDS, "timeout(1) ends the reap first");
    assert.deepEqual(dropIn.Unit.After, ["network-online.target"]);
    assert.deepEqual(dropIn.Unit.Wants, ["network-online.target"]);
  });

  it("the reap command line is one the driver accepts", () => {
    const words = reapCommand().split(" ");
    const launcher = words.indexOf(MANAGER_PATHS.launcher);
    assert.ok(launcher > 0);
    const parsed = parseArgs(words.slice(launcher + 1));
    assert.equal(parsed.stage, "reap");
    assert.equal(parsed.config, MANAGER_PATHS.fargateConfigFile);
  });

  it("refuses a drain timeout that is not 1–1440 whole minutes", () => {
    for (const minutes of [0, -1, 1.5, 1441, Number.NaN]) {
      assert.throws(
        () => renderGitLabRunnerDropIn({ drainTimeoutMinutes: minutes }),
        /runner\.drainTimeoutMinutes: must be an integer from 1 to 1440/,
      );
    }
  });

  describe("systemd reads it without a complaint (systemd-analyze verify)", () => {
    let root: string;
    before(function () {
      skipUnlessAvailable(this, missingCommand("systemd-analyze", "apt-get install systemd"));
      root = fs.mkdtempSync(path.join(os.tmpdir(), "gfr-systemd-verify-"));
      // The unit gitlab-runner's Debian package installs (`gitlab-runner install`), then the drop-in beside it.
      const units = path.join(root, "etc/systemd/system");
      fs.mkdirSync(path.join(root, path.dirname(GITLAB_RUNNER_DROP_IN)), { recursive: true });
      fs.writeFileSync(
        path.join(units, "gitlab-runner.service"),
        [
          "[Unit]",
          "Description=GitLab Runner",
          "ConditionFileIsExecutable=/usr/bin/gitlab-runner",
          "After=syslog.target network.target",
          "",
          "[Service]",
          "StartLimitInterval=5",
          "StartLimitBurst=10",
          'ExecStart=/usr/bin/gitlab-runner "run" "--config" "/etc/gitlab-runner/config.toml" "--working-directory" ' +
            '"/home/gitlab-runner" "--service" "gitlab-runner" "--user" "gitlab-runner"',
          "Restart=always",
          "RestartSec=120",
          "EnvironmentFile=-/etc/sysconfig/gitlab-runner",
          "",
          "[Install]",
          "WantedBy=multi-user.target",
          "",
        ].join("\n"),
      );
    });
    after(() => root && fs.rmSync(root, { recursive: true, force: true }));

    /** What systemd-analyze says about the drop-in file (its other complaints are about the bare test root). */
    function complaints(text: string): string[] {
      fs.writeFileSync(path.join(root, GITLAB_RUNNER_DROP_IN), text);
      const result = spawnSync("systemd-analyze", ["verify", `--root=${root}`, "gitlab-runner.service"], {
        encoding: "utf8",
      });
      assert.equal(result.error, undefined);
      return `${result.stdout}${result.stderr}`.split("\n").filter((line) => line.includes(GITLAB_RUNNER_DROP_IN));
    }

    it("no unknown key, no bad value", () => {
      assert.deepEqual(complaints(renderGitLabRunnerDropIn({ drainTimeoutMinutes: 60 })), []);
    });

    it("(the check itself finds a bad key and a bad value)", () => {
      const broken = renderGitLabRunnerDropIn({ drainTimeoutMinutes: 60 })
        .replace("KillSignal=SIGQUIT", "KillSignal=SIGNOPE")
        .replace("RestartSec=", "RestartSecs=");
      assert.equal(complaints(broken).length, 2, complaints(broken).join("\n"));
    });
  });
});
