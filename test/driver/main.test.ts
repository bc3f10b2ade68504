import { strict as assert } from "node:assert";
import { parseArgs } from "../../driver/main";
import { expectFailure } from "./expectFailure";

describe("driver command line", () => {
  it("parses the Go driver's command line", () => {
    assert.deepEqual(
      parseArgs(["--config", "/etc/f.toml", "--log-level=warn", "custom", "run", "/tmp/s", "step_script"]),
      {
        version: false,
        config: "/etc/f.toml",
        logLevel: "warn",
        stage: "run",
        scriptPath: "/tmp/s",
        stageName: "step_script",
      },
    );
    assert.equal(parseArgs(["--version"]).version, true);
    assert.equal(parseArgs(["--debug", "--config", "f", "custom", "cleanup"]).logLevel, "debug");
    assert.equal(
      parseArgs(["--log-file", "/var/log/f.log", "--config", "f", "custom", "cleanup"]).logFile,
      "/var/log/f.log",
    );
    expectFailure(() => parseArgs(["custom", "config"]), /--config is required/);
    expectFailure(() => parseArgs(["--config", "f", "custom", "prepare", "extra"]), /unexpected argument "extra"/);
    expectFailure(
      () => parseArgs(["--config", "f", "--log-format", "xml", "custom", "config"]),
      /--log-format must be one of/,
    );
    expectFailure(() => parseArgs(["--config"]), /--config needs a value/);
    expectFailure(() => parseArgs(["--frobnicate", "custom", "config"]), /unknown option --frobnicate/);
  });

  it("reads options in the Go driver's forms: short, inline, in any case, in order, also after the command", () => {
    const cleanup = ["custom", "cleanup"];
    assert.equal(parseArgs(["-c", "f", ...cleanup]).config, "f");
    assert.equal(parseArgs(["--config=f", ...cleanup]).config, "f");
    assert.equal(parseArgs([...cleanup, "--config", "f"]).config, "f");
    assert.equal(parseArgs(["-v"]).version, true);
    assert.equal(parseArgs(["--log-level=WARN", "-c", "f", ...cleanup]).logLevel, "warn");
    assert.equal(parseArgs(["--log-format", "JSON", "-c", "f", ...cleanup]).logFormat, "json");
    assert.equal(parseArgs(["--debug", "--log-level", "info", "-c", "f", ...cleanup]).logLevel, "info");
    assert.equal(parseArgs(["--log-level", "info", "--debug", "-c", "f", ...cleanup]).logLevel, "debug");
    expectFailure(() => parseArgs(["--config=", ...cleanup]), /^--config needs a value; usage: /);
    expectFailure(() => parseArgs(["-c"]), /^-c needs a value/);
    expectFailure(() => parseArgs(["--log-level", "loud", "-c", "f", ...cleanup]), /^--log-level must be one of debug/);
    expectFailure(() => parseArgs(["-c", "f", ...cleanup, "--frobnicate"]), /unexpected argument "--frobnicate"/);
    expectFailure(() => parseArgs(["-c", "f", "custom"]), /unknown stage ""/);
    expectFailure(() => parseArgs(["-c", "f", "deploy"]), /expected the "custom" command/);
  });

  it("reads a word that only starts with a short option as one word: a stage name after the command, else an error", () => {
    const run = ["-c", "f", "custom", "run", "/s.sh"];
    for (const stageName of ["-abc", "-step_script", "-verbose", "-cache"]) {
      const args = parseArgs([...run, stageName]);
      assert.deepEqual([args.config, args.version, args.stageName], ["f", false, stageName]);
    }
    for (const word of ["-cache", "-cf.toml", "-c=f.toml", "-vc", "-"]) {
      expectFailure(() => parseArgs(["-c", "f", word, "custom", "config"]), new RegExp(`^unknown option ${word}; `));
    }
  });
});
