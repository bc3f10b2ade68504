/**
 * A stand-in for the runner manager, for running the registration scripts for real: a temporary root (the
 * scripts' $GFR_ROOT), a staging directory, and fake `gitlab-runner`, `systemctl`, `cloud-init` and `sudo` on PATH
 * that record every call (argv, the token variables of their environment, stdin) in one JSON-lines log.
 *
 * The fake gitlab-runner keeps config.toml like the real one: `register` appends a `[[runners]]` entry (url, name,
 * the CI_SERVER_TOKEN, or a new random token for a REGISTRATION_TOKEN, merged with --template-config) to --config,
 * `unregister --all-runners` removes every entry GitLab confirms and, like the real one, keeps the others, logs
 * "Failed to unregister runners" and still exits 0 ({@link FakeBehaviour.unregister}). It prints the token it got,
 * like a careless tool would, so tests can check the scripts hide it. GitLab's side is a list of the tokens
 * registered and not yet unregistered ({@link FakeManagerHost.gitlabEntries}).
 *
 * The first-boot script's Node.js is there: $GFR_ROOT/opt/gitlab-runner/node/bin/node is the Node.js running the tests.
 *
 * With `traceTools`, ordinary tools (awk, grep…) are wrapped too: the wrapper records the call (argv, no stdin),
 * then runs the real tool, so tests can check what reached their command lines.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MANAGER_PATHS } from "../../driver/contract/managerPaths";

export interface RecordedCall {
  command: string;
  argv: string[];
  env: { CI_SERVER_TOKEN?: string; REGISTRATION_TOKEN?: string };
  stdin: string;
}

export interface ScriptResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Behaviour switches of the fakes (environment of one run). */
export interface FakeBehaviour {
  /** Exit code of `cloud-init status --wait`. Default 0. */
  cloudInitStatus?: number;
  /** `gitlab-runner register` fails (after printing the token). */
  registerFails?: boolean;
  /**
   * GitLab's answer to `gitlab-runner unregister`: "forbidden" (403: token revoked, runner deleted) or "unreachable"
   * (no connection). Either way the fake, like the real one, logs the failure, keeps the entry and exits 0.
   * Default: GitLab confirms (204).
   */
  unregister?: "forbidden" | "unreachable";
}

const FAKE_GITLAB_RUNNER = String.raw`
const fs = require("node:fs");
const toml = require(process.env.FAKE_TOML_MODULE);
record("gitlab-runner");
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const configPath = flag("--config");
const gitlabPath = process.env.FAKE_GITLAB_STATE;
const gitlab = () => (fs.existsSync(gitlabPath) ? JSON.parse(fs.readFileSync(gitlabPath, "utf8")) : []);
const saveGitlab = (entries) => fs.writeFileSync(gitlabPath, JSON.stringify(entries));
const read = () => (fs.existsSync(configPath) ? toml.parse(fs.readFileSync(configPath, "utf8")) : { concurrent: 1 });
const write = (doc) => fs.writeFileSync(configPath, toml.stringify(doc), { mode: 0o600 });
if (args[0] === "register") {
  const given = process.env.CI_SERVER_TOKEN || process.env.REGISTRATION_TOKEN || flag("--token") || flag("--registration-token");
  console.log("Verifying runner... runner=" + given);
  if (process.env.FAKE_REGISTER_FAILS) {
    console.error("ERROR: Verifying runner... is not valid runner=" + given);
    process.exit(1);
  }
  // A runner token is kept as is; a legacy registration token creates a new runner with a token of its own.
  const token = process.env.REGISTRATION_TOKEN ? "legacy-" + require("node:crypto").randomBytes(8).toString("hex") : given;
  const template = toml.parse(fs.readFileSync(flag("--template-config"), "utf8")).runners[0];
  const doc = read();
  doc.runners = [...(doc.runners || []), { ...template, name: flag("--name"), url: flag("--url"), token, executor: flag("--executor") }];
  write(doc);
  if (!gitlab().includes(token)) saveGitlab([...gitlab(), token]);
  console.log("Runner registered successfully.");
} else if (args[0] === "unregister") {
  // Like gitlab-runner's commands/unregister.go with --all-runners: each entry is sent to GitLab
  // (network/gitlab.go: DELETE runners/managers for a glrt- token, DELETE runners for a legacy one) and logged in
  // its log format (log/runner_formatter.go, on stderr). An entry GitLab did not confirm stays in the config file,
  // "Failed to unregister runners" is logged, and the exit status is 0 all the same. The real one logs a shortened
  // token; this one logs the whole token, so tests can check the scripts never show that output.
  if (!args.includes("--all-runners")) {
    console.error("fake gitlab-runner: only unregister --all-runners is modelled");
    process.exit(2);
  }
  const answer = process.env.FAKE_UNREGISTER || "confirmed";
  const logLine = (prefix, message, fields) =>
    prefix + message.padEnd(50 - prefix.length) + " " + fields.map(([key, value]) => " " + key + "=" + value).join("");
  const doc = read();
  const runners = doc.runners || [];
  const kept = [];
  const failed = [];
  console.error(logLine("WARNING: ", "Unregistering all runners", []));
  for (const runner of runners) {
    const manager = runner.token.startsWith("glrt-");
    const message = manager ? "Unregistering runner manager from GitLab" : "Unregistering runner from GitLab";
    const fields = [
      ["correlation_id", require("node:crypto").randomBytes(16).toString("hex")],
      ["runner", runner.token],
      ["runner_name", runner.name],
    ];
    if (answer === "confirmed") {
      console.error(logLine("", message + " succeeded", fields));
      saveGitlab(gitlab().filter((token) => token !== runner.token));
      continue;
    }
    kept.push(runner);
    failed.push('failed to unregister runner "' + runner.name + '"');
    const endpoint = runner.url + "/api/v4/runners" + (manager ? "/managers" : "");
    const status =
      answer === "forbidden"
        ? "403 Forbidden"
        : 'execute JSON request: Delete "' + endpoint + '": dial tcp: lookup ' + new URL(runner.url).hostname + ": no such host";
    console.error(logLine("ERROR: ", message + (answer === "forbidden" ? " forbidden" : " failed"), [...fields, ["status", status]]));
  }
  if (failed.length > 0) console.error(logLine("ERROR: ", "Failed to unregister runners", [["error", failed.join("\n")]]));
  if (kept.length !== runners.length) {
    if (kept.length > 0) doc.runners = kept;
    else delete doc.runners;
    write(doc);
    console.error(logLine("", "Updated " + configPath, []));
  }
} else {
  process.exit(2);
}
`;

const FAKE_CLOUD_INIT = String.raw`
record("cloud-init");
process.exit(Number(process.env.FAKE_CLOUD_INIT_STATUS || 0));
`;

/**
 * Keeps whether gitlab-runner runs: start → active, stop → inactive (or, with FAKE_STOP_FAILS, a failed stop that
 * leaves it running); is-active answers from that.
 */
const FAKE_SYSTEMCTL = String.raw`
record("systemctl");
const fs = require("node:fs");
const active = process.env.FAKE_SERVICE_ACTIVE;
const [verb] = process.argv.slice(2);
if (verb === "start" || verb === "restart") fs.writeFileSync(active, "");
if (verb === "stop" && process.env.FAKE_STOP_FAILS) process.exit(1);
if (verb === "stop") fs.rmSync(active, { force: true });
if (verb === "is-active") process.exit(fs.existsSync(active) ? 0 : 3);
`;

/** Password-less sudo: drops -n and runs the rest (the environment passes through, unlike real sudo). */
const FAKE_SUDO = String.raw`
record("sudo");
const args = process.argv.slice(2).filter((a) => a !== "-n");
const result = require("node:child_process").spawnSync(args[0], args.slice(1), { stdio: "inherit" });
process.exit(result.status === null ? 1 : result.status);
`;

/** Records, then runs the real tool (path in REAL_TOOL) with the same argv, stdin and stdout. */
const PASSTHROUGH = String.raw`
record(require("node:path").basename(process.argv[1]), false);
const result = require("node:child_process").spawnSync(REAL_TOOL, process.argv.slice(2), { stdio: "inherit" });
process.exit(result.status === null ? 1 : result.status);
`;

const RECORDER = String.raw`
function record(command, readStdin = command !== "sudo") {
  let stdin = "";
  if (readStdin) {
    try { stdin = require("node:fs").readFileSync(0, "utf8"); } catch { stdin = ""; }
  }
  const env = {};
  for (const key of ["CI_SERVER_TOKEN", "REGISTRATION_TOKEN"]) if (process.env[key] !== undefined) env[key] = process.env[key];
  require("node:fs").appendFileSync(process.env.FAKE_LOG, JSON.stringify({ command, argv: process.argv.slice(2), env, stdin }) + "\n");
}
`;

export class FakeManagerHost {
  /** The scripts' $GFR_ROOT. */
  readonly root: string;
  /** Where the "deployment" stages files. */
  readonly staging: string;
  private readonly bin: string;
  private readonly log: string;
  private readonly gitlabState: string;

  /** @param options.traceTools tools to record on top of the fakes, e.g. `["awk", "grep"]`. */
  constructor(options: { traceTools?: string[] } = {}) {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "gfr-manager-"));
    this.root = path.join(base, "root");
    this.staging = path.join(base, "staging");
    this.bin = path.join(base, "bin");
    this.log = path.join(base, "calls.jsonl");
    this.gitlabState = path.join(base, "gitlab.json");
    for (const dir of [this.root, this.staging, this.bin]) fs.mkdirSync(dir, { recursive: true });
    const fakes: Record<string, string> = {
      "gitlab-runner": FAKE_GITLAB_RUNNER,
      "cloud-init": FAKE_CLOUD_INIT,
      systemctl: FAKE_SYSTEMCTL,
      sudo: FAKE_SUDO,
    };
    const node = path.join(this.root, MANAGER_PATHS.nodeDirectory, "bin", "node");
    fs.mkdirSync(path.dirname(node), { recursive: true });
    fs.symlinkSync(process.execPath, node);
    for (const [name, body] of Object.entries(fakes)) {
      fs.writeFileSync(path.join(this.bin, name), `#!${process.execPath}\n${RECORDER}\n${body}`, { mode: 0o755 });
    }
    for (const tool of options.traceTools ?? []) {
      const real = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
      if (!real.startsWith("/")) throw new Error(`traceTools: ${tool} is not installed`);
      const body = `const REAL_TOOL = ${JSON.stringify(real)};\n${RECORDER}\n${PASSTHROUGH}`;
      fs.writeFileSync(path.join(this.bin, tool), `#!${process.execPath}\n${body}`, { mode: 0o755 });
    }
  }

  /** The tokens GitLab holds a registration for (registered and not unregistered since), in order. */
  gitlabEntries(): string[] {
    return fs.existsSync(this.gitlabState) ? (JSON.parse(fs.readFileSync(this.gitlabState, "utf8")) as string[]) : [];
  }

  /** Writes files into the staging directory. */
  stage(files: Record<string, string>): void {
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(this.staging, name), content);
  }

  /** Runs a command line with `sh -c` as the SSH session would, `stdin` on standard input. */
  run(commandLine: string, stdin: string, behaviour: FakeBehaviour = {}): ScriptResult {
    const env: Record<string, string> = {
      PATH: `${this.bin}:/usr/local/bin:/usr/bin:/bin`,
      HOME: this.root,
      GFR_ROOT: this.root,
      FAKE_LOG: this.log,
      FAKE_GITLAB_STATE: this.gitlabState,
      FAKE_SERVICE_ACTIVE: path.join(this.root, ".fake-gitlab-runner-active"),
      FAKE_TOML_MODULE: require.resolve("smol-toml"),
    };
    if (behaviour.cloudInitStatus !== undefined) env.FAKE_CLOUD_INIT_STATUS = String(behaviour.cloudInitStatus);
    if (behaviour.registerFails) env.FAKE_REGISTER_FAILS = "1";
    if (behaviour.unregister) env.FAKE_UNREGISTER = behaviour.unregister;
    const result = spawnSync("sh", ["-c", commandLine], { input: stdin, env, encoding: "utf8", timeout: 30000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** Every recorded call so far, in order. */
  calls(): RecordedCall[] {
    if (!fs.existsSync(this.log)) return [];
    return fs
      .readFileSync(this.log, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as RecordedCall);
  }

  /** Forgets the recorded calls. */
  clearCalls(): void {
    fs.rmSync(this.log, { force: true });
  }

  /** A path inside the root, e.g. `/etc/gitlab-runner/config.toml`. */
  file(absolutePath: string): string {
    return path.join(this.root, absolutePath);
  }

  /** Removes everything. */
  cleanup(): void {
    fs.rmSync(path.dirname(this.root), { recursive: true, force: true });
  }
}
