import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobServicesVariable, runJob, stageScript } from "./customExecutorHarness";
import { skipUnlessAvailable } from "./requirements";
import { MACHINE_BUSYBOX, testImagesUnsupportedReason } from "./testImages";

/** A stand-in driver that records, per stage, the environment and job payload gitlab-runner's side gave it. */
const RECORDING_DRIVER = `
const { appendFileSync, readFileSync } = require("node:fs");
const stage = process.argv[process.argv.indexOf("custom") + 1];
if (stage === "config") { process.stdout.write("{}"); process.exit(0); }
const seen = {
  stage,
  image: process.env.CUSTOM_ENV_CI_JOB_IMAGE ?? null,
  services: process.env.CUSTOM_ENV_CI_JOB_SERVICES ?? null,
  payload: JSON.parse(readFileSync(process.env.JOB_RESPONSE_FILE, "utf8")),
};
appendFileSync(process.env.RECORD_FILE, JSON.stringify(seen) + "\\n");
`;

/** What the recording driver saw in one stage. */
interface Seen {
  stage: string;
  image: string | null;
  services: string | null;
  payload: { image: unknown; services: unknown; variables: { key: string }[] };
}

describe("custom executor harness", () => {
  describe("image: and services: reach the driver as gitlab-runner passes them", () => {
    let dir: string;
    let driver: string;
    let record: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), "harness-test-"));
      driver = join(dir, "driver.js");
      record = join(dir, "record.jsonl");
      writeFileSync(driver, RECORDING_DRIVER);
      writeFileSync(join(dir, "fargate.toml"), "");
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const seen = () =>
      readFileSync(record, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Seen);

    it("sets CUSTOM_ENV_CI_JOB_IMAGE and CUSTOM_ENV_CI_JOB_SERVICES, and puts both in the job payload", async () => {
      const result = await runJob(
        {
          jobId: 77,
          script: ["true"],
          image: "registry.example.com/team/build:1",
          services: [
            {
              name: "postgres:16",
              alias: "db,database",
              variables: { POSTGRES_DB: "job-$CI_JOB_ID", PLAIN: "x" },
            },
            { name: "redis:7", entrypoint: ["redis-server"], command: ["--port", "6380"] },
          ],
        },
        { configFile: join(dir, "fargate.toml"), driver, env: { RECORD_FILE: record }, runStages: false },
      );
      assert.equal(result.status, "success", result.log);
      const prepare = seen().find((s) => s.stage === "prepare");
      assert.equal(prepare?.image, "registry.example.com/team/build:1");
      assert.deepEqual(JSON.parse(prepare?.services ?? "null"), [
        {
          name: "postgres:16",
          alias: "db",
          entrypoint: null,
          command: null,
          variables: { POSTGRES_DB: "job-77", PLAIN: "x" },
        },
        { name: "redis:7", alias: "", entrypoint: ["redis-server"], command: ["--port", "6380"] },
      ]);
      assert.deepEqual(prepare?.payload.image, { name: "registry.example.com/team/build:1" });
      assert.deepEqual(prepare?.payload.services, [
        {
          name: "postgres:16",
          alias: "db,database",
          variables: [
            { key: "POSTGRES_DB", value: "job-$CI_JOB_ID", public: true },
            { key: "PLAIN", value: "x", public: true },
          ],
        },
        { name: "redis:7", entrypoint: ["redis-server"], command: ["--port", "6380"] },
      ]);
      const keys = (prepare?.payload.variables ?? []).map((v) => v.key);
      assert.ok(!keys.includes("CI_JOB_IMAGE"), "GitLab does not send CI_JOB_IMAGE: gitlab-runner adds it");
    });

    it("without image: no CUSTOM_ENV_CI_JOB_IMAGE at all, an empty CUSTOM_ENV_CI_JOB_SERVICES", async () => {
      const result = await runJob(
        { jobId: 78, script: ["true"] },
        { configFile: join(dir, "fargate.toml"), driver, env: { RECORD_FILE: record }, runStages: false },
      );
      assert.equal(result.status, "success", result.log);
      for (const stage of seen()) {
        assert.equal(stage.image, null, `${stage.stage}: CUSTOM_ENV_CI_JOB_IMAGE is not set`);
        assert.equal(stage.services, "", `${stage.stage}: CUSTOM_ENV_CI_JOB_SERVICES is set and empty`);
        assert.deepEqual(stage.payload.image, { name: "" });
        assert.deepEqual(stage.payload.services, []);
      }
    });

    it("expands service variables against the job's, unknown ones to nothing", () => {
      const value = jobServicesVariable(
        { jobId: 1, script: [], services: [{ name: "s", variables: { A: "${CI_JOB_ID}-$B-$UNKNOWN", B: "b" } }] },
        { CI_JOB_ID: "1" },
      );
      assert.deepEqual(JSON.parse(value)[0].variables, { A: "1-b-", B: "b" });
    });
  });

  describe("stage scripts", () => {
    let projectDir: string;
    beforeEach(() => (projectDir = mkdtempSync(join(tmpdir(), "harness-project-"))));
    afterEach(() => rmSync(projectDir, { recursive: true, force: true }));

    const context = (script: string[], afterScript: string[] = []) => ({
      spec: { jobId: 5, script, afterScript },
      variables: { CI_JOB_ID: "5", QUOTED: 'it\'s "quoted" $NOT_EXPANDED' },
      projectDir,
    });

    function runUnder(shell: string[], script: string) {
      const result = spawnSync(shell[0], shell.slice(1), { input: script, encoding: "utf8" });
      return { code: result.status, stdout: result.stdout };
    }

    it("run the same under busybox sh as under bash (an image may have no bash)", function () {
      skipUnlessAvailable(this, testImagesUnsupportedReason());
      const cases = [
        stageScript("prepare_script", context([])),
        stageScript("step_script", context(['echo "job $CI_JOB_ID: $QUOTED"', "pwd", "echo done"])),
        stageScript("step_script", context(["false | true", "echo not-reached"])),
        stageScript("step_script", context(["exit 7"])),
        stageScript("after_script", context([], ["echo after"])),
        stageScript("cleanup_file_variables", context([])),
        stageScript("archive_cache", context([])),
      ];
      for (const script of cases) {
        const bash = runUnder(["bash"], script);
        const busybox = runUnder([MACHINE_BUSYBOX, "sh"], script);
        assert.deepEqual(busybox, bash, script);
      }
      const step = runUnder([MACHINE_BUSYBOX, "sh"], cases[1]);
      assert.equal(step.code, 0);
      assert.match(step.stdout, /job 5: it's "quoted" \$NOT_EXPANDED/);
      assert.equal(runUnder([MACHINE_BUSYBOX, "sh"], cases[2]).code, 1, "pipefail holds under busybox sh");
      assert.equal(runUnder([MACHINE_BUSYBOX, "sh"], cases[3]).code, 7);
    });
  });
});
