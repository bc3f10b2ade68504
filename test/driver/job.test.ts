import { strict as assert } from "node:assert";
import { parseFargateToml } from "../../driver/contract/fargateToml";
import {
  isAllowedTaskDefinition,
  jobFromPayload,
  jobOverrides,
  readJob,
  startedByFor,
  taskTags,
} from "../../driver/job";
import { expectFailure } from "./expectFailure";

describe("driver job identity, startedBy and tags", () => {
  const payload = (fields: Record<string, unknown>) =>
    JSON.stringify({
      id: 987654321,
      token: "job-token-1",
      job_info: { pipeline_id: 55, project_id: 12, project_full_path: "group/sub/app" },
      ...fields,
    });

  it("takes the job's id, pipeline and project from the payload gitlab-runner wrote", () => {
    const job = jobFromPayload(payload({}), "response.json");
    assert.equal(job.id, "987654321");
    assert.equal(job.pipelineId, "55");
    assert.equal(job.project, "group/sub/app");
    assert.equal(startedByFor(job), "gitlab-job-987654321");
  });

  it("ignores job variables that claim another job's identity", () => {
    const variables = [
      { key: "CI_JOB_ID", value: "987654321" },
      { key: "CI_JOB_ID", value: "1" },
      { key: "CI_PIPELINE_ID", value: "2" },
      { key: "CI_PROJECT_PATH", value: "victim/app" },
    ];
    const job = jobFromPayload(payload({ variables }), "response.json");
    assert.deepEqual([job.id, job.pipelineId, job.project], ["987654321", "55", "group/sub/app"]);
  });

  it("binds the job to its id and token: another token or another id gives another binding", () => {
    const binding = jobFromPayload(payload({}), "r").binding;
    assert.equal(jobFromPayload(payload({}), "r").binding, binding, "stable across stages");
    assert.notEqual(jobFromPayload(payload({ token: "job-token-2" }), "r").binding, binding);
    assert.notEqual(jobFromPayload(payload({ id: 987654322 }), "r").binding, binding);
  });

  it("falls back to the project id when GitLab sends no project path", () => {
    const job = jobFromPayload(payload({ job_info: { project_id: 12 } }), "r");
    assert.equal(job.project, "12");
    assert.equal(job.pipelineId, undefined);
  });

  it("keeps startedBy within ECS's 36 allowed characters for the longest job ids", () => {
    const value = startedByFor({ id: "12345678901234567890" });
    assert.ok(value.length <= 36, value);
    assert.match(value, /^[A-Za-z0-9_/-]+$/);
  });

  it("names the payload file when it is missing, unreadable or has no job id", () => {
    expectFailure(() => readJob({}), /JOB_RESPONSE_FILE is not set/);
    expectFailure(() => readJob({ JOB_RESPONSE_FILE: "/nonexistent/response.json" }), /cannot read the job payload/);
    expectFailure(() => jobFromPayload("{", "r.json"), /job payload r\.json is not JSON/);
    expectFailure(() => jobFromPayload(payload({ id: "12a" }), "r.json"), /job payload r\.json has no job id/);
    expectFailure(() => jobFromPayload(payload({ id: 0 }), "r.json"), /has no job id/);
  });

  it("tags tasks with project, pipeline and job, cleaned for AWS, after the configured tags", () => {
    const job = { ...jobFromPayload(payload({}), "r"), project: "group/app (copy)" };
    const tags = taskTags(job, { team: "x", "gitlab:job": "mine" });
    assert.deepEqual(tags, [
      { key: "team", value: "x" },
      { key: "gitlab:job", value: "mine" },
      { key: "gitlab:project", value: "group/app _copy_" },
      { key: "gitlab:pipeline", value: "55" },
    ]);
  });
});

describe("driver per-job overrides", () => {
  const settings = parseFargateToml(
    `[Fargate]\nCluster = "c"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci:3"\nPlatformVersion = "1.4.0"\nAllowedTaskDefinitions = ["big", "gpu:2"]\n`,
    "f.toml",
  ).fargate;

  it("allows the configured definition, any revision of a listed family, and exactly a listed revision", () => {
    assert.equal(isAllowedTaskDefinition("ci:3", settings), true);
    assert.equal(isAllowedTaskDefinition("big", settings), true);
    assert.equal(isAllowedTaskDefinition("big:7", settings), true);
    assert.equal(isAllowedTaskDefinition("gpu:2", settings), true);
    assert.equal(isAllowedTaskDefinition("gpu:3", settings), false);
    assert.equal(isAllowedTaskDefinition("gpu", settings), false);
    assert.equal(isAllowedTaskDefinition("ci:4", settings), false);
    assert.equal(isAllowedTaskDefinition("arn:aws:ecs:eu-west-1:1:task-definition/big:1", settings), false);
  });

  it("uses the job's FARGATE_TASK_DEFINITION and FARGATE_PLATFORM_VERSION when allowed", () => {
    const o = jobOverrides(
      { CUSTOM_ENV_FARGATE_TASK_DEFINITION: "big:7", CUSTOM_ENV_FARGATE_PLATFORM_VERSION: "LATEST" },
      settings,
    );
    assert.equal(o.taskDefinition, "big:7");
    assert.equal(o.platformVersion, "LATEST");
    assert.deepEqual(jobOverrides({}, settings), { taskDefinition: "ci:3", platformVersion: "1.4.0", size: {} });
  });

  it("refuses a task definition outside the allow-list, naming the variable and the setting", () => {
    expectFailure(
      () => jobOverrides({ CUSTOM_ENV_FARGATE_TASK_DEFINITION: "evil:1" }, settings),
      /FARGATE_TASK_DEFINITION "evil:1" is not allowed .*Fargate\.AllowedTaskDefinitions/,
    );
    expectFailure(
      () => jobOverrides({ CUSTOM_ENV_FARGATE_PLATFORM_VERSION: "new" }, settings),
      /FARGATE_PLATFORM_VERSION must be LATEST/,
    );
  });

  it("refuses per-job task sizes unless fargate.toml sets MaxTaskCPU and MaxTaskMemory, naming both keys", () => {
    const size = { CUSTOM_ENV_FARGATE_TASK_CPU: "512", CUSTOM_ENV_FARGATE_TASK_MEMORY: "1024" };
    expectFailure(
      () => jobOverrides(size, settings),
      /FARGATE_TASK_CPU \/ FARGATE_TASK_MEMORY are not allowed on this runner: .*Fargate\.MaxTaskCPU and Fargate\.MaxTaskMemory/,
    );
    expectFailure(
      () => jobOverrides({ CUSTOM_ENV_FARGATE_TASK_MEMORY: "1024" }, settings),
      /Fargate\.MaxTaskCPU and Fargate\.MaxTaskMemory/,
    );
  });

  describe("with MaxTaskCPU = 4096 and MaxTaskMemory = 16384", () => {
    const capped = parseFargateToml(
      `[Fargate]\nCluster = "c"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci:3"\nMaxTaskCPU = 4096\nMaxTaskMemory = 16384\n`,
      "f.toml",
    ).fargate;
    const size = (cpu?: string, memory?: string) =>
      jobOverrides({ CUSTOM_ENV_FARGATE_TASK_CPU: cpu, CUSTOM_ENV_FARGATE_TASK_MEMORY: memory }, capped).size;

    it("passes a valid size within the limits to RunTask", () => {
      assert.deepEqual(size("2048", "16384"), { cpu: "2048", memory: "16384" });
      assert.deepEqual(size("4096", "8192"), { cpu: "4096", memory: "8192" });
      assert.deepEqual(size(), {});
    });

    it("refuses sizes above either limit, naming the key", () => {
      expectFailure(
        () => size("8192", "16384"),
        /FARGATE_TASK_CPU=8192 exceeds this runner's Fargate\.MaxTaskCPU = 4096/,
      );
      expectFailure(
        () => size("4096", "17408"),
        /FARGATE_TASK_MEMORY=17408 exceeds this runner's Fargate\.MaxTaskMemory = 16384/,
      );
    });

    it("requires CPU and memory together", () => {
      expectFailure(() => size("1024", undefined), /must be set together \(only CPU is set\)/);
      expectFailure(() => size(undefined, "2048"), /must be set together \(only memory is set\)/);
    });
  });
});
