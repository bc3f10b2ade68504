import { strict as assert } from "node:assert";
import { parseFargateToml } from "../../driver/contract/fargateToml";
import { TASK_LIFETIME_ENV, TASK_LIFETIME_EXIT_CODES } from "../../driver/contract/taskLifetime";
import {
  jobFromPayload,
  MANAGER_TAG,
  startedByCandidates,
  startedByFor,
  STARTED_BY_MAX,
  taskTags,
} from "../../driver/job";
import { buildRunTaskInput } from "../../driver/stages/prepare";
import { stoppedTaskReason } from "../../driver/taskReason";
import { expectFailure } from "./expectFailure";

const BASE = `[Fargate]\nCluster = "c"\nSubnet = "subnet-0a0a0a0a"\nTaskDefinition = "ci:1"\n`;

describe("the task's lifetime and the manager's identity", () => {
  it("reads Timeouts.TaskIdle (default 600), TaskMaxLifetime and Manager.ID", () => {
    const defaults = parseFargateToml(BASE, "f.toml");
    assert.equal(defaults.timeouts.taskIdleSeconds, 600);
    assert.equal(defaults.timeouts.taskMaxLifetimeSeconds, undefined);
    assert.equal(defaults.managerId, undefined);
    const set = parseFargateToml(
      `${BASE}[Timeouts]\nTaskIdle = 120\nTaskMaxLifetime = 7200\n[Manager]\nID = "i-0abc"\n`,
      "f.toml",
    );
    assert.equal(set.timeouts.taskIdleSeconds, 120);
    assert.equal(set.timeouts.taskMaxLifetimeSeconds, 7200);
    assert.equal(set.managerId, "i-0abc");
    expectFailure(() => parseFargateToml(`${BASE}[Timeouts]\nTaskIdle = 0\n`, "f.toml"), /Timeouts\.TaskIdle/);
    expectFailure(() => parseFargateToml(`${BASE}[Manager]\nID = "a|b"\n`, "f.toml"), /Manager\.ID/);
    assert.deepEqual(parseFargateToml(`${BASE}[Manager]\nID = "i-1"\n`, "f.toml").unknownKeys, []);
  });

  it("passes the dead-man's switch to ci-coordinator: first contact after both of the driver's waits, TaskIdle, the job's timeout + 600", () => {
    // The container's clock starts before RUNNING (images may still be pulling): TaskRunning counts too.
    const settings = parseFargateToml(
      `${BASE}[Timeouts]\nTaskRunning = 300\nSSHReady = 30\nTaskIdle = 300\n`,
      "f.toml",
    );
    const job = jobFromPayload(JSON.stringify({ id: 5, token: "t", runner_info: { timeout: 1800 } }), "payload");
    assert.equal(job.timeoutSeconds, 1800);
    const env = buildRunTaskInput(settings, job, { taskDefinition: "ci:1", size: {} }, "key").overrides
      ?.containerOverrides?.[0].environment;
    assert.deepEqual(env, [
      { name: "SSH_PUBLIC_KEY", value: "key" },
      { name: TASK_LIFETIME_ENV.firstContactSeconds, value: "390" },
      { name: TASK_LIFETIME_ENV.idleSeconds, value: "300" },
      { name: TASK_LIFETIME_ENV.maxLifetimeSeconds, value: "2400" },
    ]);
    const fixed = parseFargateToml(`${BASE}[Timeouts]\nTaskMaxLifetime = 999\n`, "f.toml");
    const noTimeout = jobFromPayload(JSON.stringify({ id: 5, token: "t" }), "payload");
    const lifetime = (s = fixed, j = noTimeout) =>
      buildRunTaskInput(
        s,
        j,
        { taskDefinition: "ci:1", size: {} },
        "k",
      ).overrides?.containerOverrides?.[0].environment?.find((e) => e.name === TASK_LIFETIME_ENV.maxLifetimeSeconds)
        ?.value;
    assert.equal(lifetime(), "999", "TaskMaxLifetime wins");
    assert.equal(lifetime(settings, noTimeout), "4200", "no timeout in the payload: one hour + 600");
  });

  it("puts the manager in a tag and in startedBy, within ECS's 36 characters, and still finds the previous form", () => {
    const job = { id: "12345678901234567890", binding: "b" };
    const startedBy = startedByFor(job, "i-0123456789abcdef0");
    assert.ok(startedBy.length <= STARTED_BY_MAX, startedBy);
    assert.match(startedBy, /^gitlab-job-12345678901234567890-[0-9a-f]{4}$/);
    assert.notEqual(startedBy, startedByFor(job, "i-0fedcba9876543210"));
    assert.deepEqual(startedByCandidates(job, "i-0123456789abcdef0"), [startedBy, "gitlab-job-12345678901234567890"]);
    assert.deepEqual(startedByCandidates(job), ["gitlab-job-12345678901234567890"]);
    const tags = taskTags({ id: "1", binding: "b" }, {}, "i-0abc");
    assert.deepEqual(
      tags.find((t) => t.key === MANAGER_TAG),
      { key: MANAGER_TAG, value: "i-0abc" },
    );
    assert.equal(
      taskTags({ id: "1", binding: "b" }, {}).some((t) => t.key === MANAGER_TAG),
      false,
    );
  });

  it("explains a task that stopped itself, and only the coordinator's exit codes", () => {
    const reason = stoppedTaskReason(
      {
        taskArn: "a",
        stoppedReason: "Essential container in task exited",
        containers: [
          { name: "ci-coordinator", exitCode: TASK_LIFETIME_EXIT_CODES.idle },
          { name: "service-0", exitCode: TASK_LIFETIME_EXIT_CODES.idle },
        ],
      },
      "ci-coordinator",
    );
    assert.match(reason, /exit code 91, the task stopped itself: no SSH session for longer than Timeouts\.TaskIdle/);
    assert.match(reason, /container service-0: exit code 91$/, "a service's own exit code means nothing of the kind");
  });

  it("keeps the manager tag the driver's own, whatever the configured tags say", () => {
    const tags = taskTags({ id: "1", binding: "b" }, { [MANAGER_TAG]: "someone-else" }, "i-0abc");
    assert.deepEqual(
      tags.filter((t) => t.key === MANAGER_TAG),
      [{ key: MANAGER_TAG, value: "i-0abc" }],
    );
  });
});
