/**
 * Runs the registration scripts (register.sh, unregister.sh) on a FakeManagerHost: stages what the deployment
 * uploads and builds the command lines the Pulumi command runs, with the same functions. {@link withSystemd} adds
 * what systemd itself does with gitlab-runner's drop-in; {@link FAKE_LAUNCHER} stands in for the driver.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify, TomlDate, type TomlTable } from "smol-toml";
import {
  registrationEnvironment,
  RegistrationEnvironmentInput,
  remoteScriptCommand,
  unregistrationEnvironment,
} from "../../../../components/manager/registration";
import { renderManagerConfiguration } from "../../../../components/manager/runnerConfig";
import { LAUNCHER_SCRIPT, REGISTER_SCRIPT, UNREGISTER_SCRIPT } from "../../../../components/manager/pushedScripts";
import { GITLAB_RUNNER_DROP_IN, renderGitLabRunnerDropIn } from "../../../../components/manager/systemd";
import { FakeManagerHost, RecordedCall } from "../../../support/fakeManagerHost";

export const TOKEN = "glrt-t1_s3cr3tRunnerT0ken";
export const URL = "https://gitlab.example.com";
export const CONFIG = "/etc/gitlab-runner/config.toml";
/** The manager identity the staged fargate.toml carries. */
export const MANAGER_ID = "i-0123456789abcdef0";
/** GitLab's answers to an unregister that gitlab-runner logs as a failure, and still exits 0 on. */
export const GITLAB_REFUSALS = ["forbidden", "unreachable"] as const;
export const REFUSAL_TITLES = { forbidden: "refuses (403)", unreachable: "cannot be reached" } as const;
/** Real tools the register script runs, wrapped to record their command lines. */
export const TRACED_TOOLS = ["awk", "grep", "tail", "install", "mv", "rm"];

export function runnerEntries(host: FakeManagerHost): Record<string, unknown>[] {
  const text = fs.readFileSync(host.file(CONFIG), "utf8");
  return ((parse(text).runners as Record<string, unknown>[] | undefined) ?? []).map((r) => ({ ...r }));
}

export function mode(file: string): string {
  return (fs.statSync(file).mode & 0o777).toString(8);
}

export function named(calls: RecordedCall[], command: string, subcommand?: string): RecordedCall[] {
  return calls.filter((c) => c.command === command && (subcommand === undefined || c.argv[0] === subcommand));
}

/** A running gitlab-runner was told to reload its configuration (SIGHUP), never restarted (that aborts its jobs). */
export function assertReloadedNotRestarted(calls: RecordedCall[]): void {
  assert.equal(named(calls, "systemctl", "restart").length, 0, "a restart would abort running jobs");
  const kills = named(calls, "systemctl", "kill");
  assert.ok(kills.length >= 1, "the running service was not told to reload");
  for (const kill of kills) assert.deepEqual(kill.argv, ["kill", "--kill-whom=main", "--signal=HUP", "gitlab-runner"]);
}

/** The built driver (`npm run build`): register.sh runs it to render the config stage's answer. */
export const DRIVER_BUNDLE = fs.readFileSync(path.resolve(__dirname, "../../../../dist/driver/fargate.js"), "utf8");

/** Stages what the deployment uploads: the scripts, launcher and TOMLs exactly as shipped. */
export function stageEverything(
  host: FakeManagerHost,
  cluster = "ci-cluster",
  extra: Record<string, string> = {},
): void {
  const files = renderManagerConfiguration({
    fargate: {
      cluster,
      region: "eu-west-1",
      subnets: ["subnet-0a1b2c3d"],
      securityGroups: ["sg-0123abcd"],
      taskDefinition: "ci-coordinator:3",
      managerId: MANAGER_ID,
      taskIdleSeconds: 600,
    },
    global: { concurrent: 7 },
    template: { privateCa: extra["ca.crt"] !== undefined },
  });
  host.stage({
    "register.sh": REGISTER_SCRIPT,
    "unregister.sh": UNREGISTER_SCRIPT,
    "gitlab-runner.conf": renderGitLabRunnerDropIn({ drainTimeoutMinutes: 60 }),
    fargate: LAUNCHER_SCRIPT,
    "fargate.js": DRIVER_BUNDLE,
    "awsSdk.js": "// the driver's AWS SDK part\n",
    "fargate.toml": files.fargateToml,
    "config.toml": files.globalConfigToml,
    "runner-template.toml": files.runnerTemplateToml,
    ...extra,
  });
}

/** The create and delete command lines the Pulumi command runs, built by the same functions. */
export function commands(host: FakeManagerHost, input: Partial<RegistrationEnvironmentInput> = {}) {
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
    unregister: remoteScriptCommand(`${host.staging}/unregister.sh`, unregistrationEnvironment(host.staging)),
  };
}

export function assertTokenNeverInArgv(calls: RecordedCall[], token: string): void {
  for (const call of calls) {
    assert.ok(!call.argv.some((arg) => arg.includes(token)), `${call.command} got the token on its command line`);
  }
}

/** The gitlab-runner subcommands run, in order. */
export function runnerSubcommands(host: FakeManagerHost): string[] {
  return named(host.calls(), "gitlab-runner").map((c) => c.argv[0]);
}

/** What a run must not have touched: the files the running gitlab-runner uses. */
export function installedFiles(host: FakeManagerHost): Record<string, string> {
  const files = [
    CONFIG,
    "/etc/gitlab-runner/fargate.toml",
    "/opt/gitlab-runner/fargate.js",
    "/opt/gitlab-runner/awsSdk.js",
    "/opt/gitlab-runner/fargate",
  ];
  return Object.fromEntries(files.map((file) => [file, fs.readFileSync(host.file(file), "utf8")]));
}

/**
 * gitlab-runner's own token rotation: it saves the new token into config.toml, written in its own layout (entries
 * indented, the token followed by token_obtained_at and token_expires_at).
 */
export function rotateTokenLikeGitLabRunner(host: FakeManagerHost, rotated: string): void {
  const doc = parse(fs.readFileSync(host.file(CONFIG), "utf8"));
  const [{ name, url, token: _old, ...rest }] = doc.runners as TomlTable[];
  doc.runners = [
    {
      name,
      url,
      id: 42,
      token: rotated,
      token_obtained_at: new TomlDate("2026-11-01T10:00:00Z"),
      token_expires_at: new TomlDate("2026-12-01T10:00:00Z"),
      ...rest,
    },
  ];
  const [global, entries] = stringify(doc).split("[[runners]]");
  const indented = entries.replace(/\n(?=.)/g, "\n  ");
  fs.writeFileSync(host.file(CONFIG), `${global}[[runners]]${indented}`);
  assert.match(fs.readFileSync(host.file(CONFIG), "utf8"), new RegExp(`\\n  token = "${rotated}"\\n`));
}

/**
 * Stands in for the driver's launcher (`/opt/gitlab-runner/fargate`; stage it as `fargate`): records its command line
 * as the command `fargate` in the host's call log, and exits with $FAKE_REAP_STATUS (default 0).
 */
export const FAKE_LAUNCHER = `#!${process.execPath}
require("node:fs").appendFileSync(
  process.env.FAKE_LOG,
  JSON.stringify({ command: "fargate", argv: process.argv.slice(2), env: {}, stdin: "" }) + "\\n",
);
process.exit(Number(process.env.FAKE_REAP_STATUS || 0));
`;

/**
 * What systemd does with gitlab-runner's drop-in, in front of the host's fake systemctl (which keeps whether the
 * service runs): on start or restart it runs each `ExecStartPre=` of the installed drop-in first, its absolute
 * /opt and /etc paths under $GFR_ROOT, and records the outcome as `systemd ExecStartPre <status> <command…>`; a
 * failing one stops the start unless it is prefixed with `-` (systemd's rule). On stop it records the signal the
 * drop-in names (`systemd stop-signal <KillSignal>`, SIGTERM without one), then hands over to the host's fake.
 */
const FAKE_SYSTEMD = String.raw`
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const args = process.argv.slice(2);
const record = (argv) =>
  fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify({ command: "systemd", argv, env: {}, stdin: "" }) + "\n");
const dropIn = path.join(process.env.GFR_ROOT, DROP_IN);
const settings = fs.existsSync(dropIn)
  ? fs.readFileSync(dropIn, "utf8").split("\n").filter((line) => /^[A-Za-z]+=/.test(line))
  : [];
const values = (key) => settings.filter((line) => line.startsWith(key + "=")).map((line) => line.slice(key.length + 1));
if ((args[0] === "start" || args[0] === "restart") && args[1] === "gitlab-runner") {
  for (const line of values("ExecStartPre")) {
    const tolerant = line.startsWith("-");
    const words = (tolerant ? line.slice(1) : line).split(" ");
    const rooted = words.map((word) => (/^\/(opt|etc)\//.test(word) ? process.env.GFR_ROOT + word : word));
    const result = spawnSync(rooted[0], rooted.slice(1), { stdio: "inherit" });
    record(["ExecStartPre", String(result.status), ...words]);
    if (result.status !== 0 && !tolerant) process.exit(1);
  }
}
if (args[0] === "stop" && args[1] === "gitlab-runner") record(["stop-signal", values("KillSignal").pop() || "SIGTERM"]);
const here = path.dirname(process.argv[1]);
const next = process.env.PATH.split(":")
  .filter((dir) => dir !== here)
  .map((dir) => path.join(dir, "systemctl"))
  .find((file) => fs.existsSync(file));
process.exit(spawnSync(next, args, { stdio: "inherit" }).status ?? 1);
`;

/** A directory holding the systemd stand-in as `systemctl`; remove it with {@link removeSystemd}. */
export function fakeSystemd(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gfr-systemd-"));
  const body = `const DROP_IN = ${JSON.stringify(GITLAB_RUNNER_DROP_IN)};\n${FAKE_SYSTEMD}`;
  fs.writeFileSync(path.join(dir, "systemctl"), `#!${process.execPath}\n${body}`, { mode: 0o755 });
  return dir;
}

export function removeSystemd(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** `commandLine` with the systemd stand-in of `dir` first on PATH, and extra environment variables. */
export function withSystemd(dir: string, commandLine: string, env: Record<string, string> = {}): string {
  const assignments = Object.entries(env).map(([key, value]) => `${key}='${value}' `);
  return `PATH='${dir}':"$PATH" ${assignments.join("")}${commandLine}`;
}

/** The recorded calls as `command argv…` lines, those of `commands` only. */
export function callLines(host: FakeManagerHost, commands: string[]): string[] {
  return host
    .calls()
    .filter((call) => commands.includes(call.command))
    .map((call) => [call.command, ...call.argv].join(" "));
}
