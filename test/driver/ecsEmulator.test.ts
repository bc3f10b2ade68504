import { strict as assert } from "node:assert";
import { DescribeNetworkInterfacesCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  ContainerCondition,
  ContainerDefinition,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  RunTaskCommandInput,
  StopTaskCommand,
  Task,
} from "@aws-sdk/client-ecs";
import { EcsEmulator, EcsEmulatorOptions, startEcsEmulator } from "../support/ecsEmulator";
import { ciCoordinatorTaskDefinition } from "../support/ecsTaskDefinitions";
import { FakeTaskLauncher } from "../support/fakeTaskLauncher";
import { LOCAL_CI_COORDINATOR_IMAGE } from "../support/taskLauncher";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

/** A task definition shaped like the driver's for a job with `image:` and one service. */
function imageTaskDefinition(family = "ci-image-0123456789abcdef"): RegisterTaskDefinitionCommandInput {
  const base = ciCoordinatorTaskDefinition({ family });
  const coordinator = base.containerDefinitions?.[0] as ContainerDefinition;
  const tools = { sourceVolume: "gitlab-tools", containerPath: "/gitlab-fargate-tools" };
  const builds = { sourceVolume: "gitlab-builds", containerPath: "/opt/gitlab-runner/builds" };
  return {
    ...base,
    pidMode: "task",
    volumes: [{ name: "gitlab-builds" }, { name: "gitlab-tools" }],
    containerDefinitions: [
      {
        name: "gitlab-tools",
        image: coordinator.image,
        essential: false,
        entryPoint: ["/usr/local/bin/install-job-tools"],
        command: ["/gitlab-fargate-tools"],
        mountPoints: [{ ...tools, readOnly: false }],
      },
      {
        ...coordinator,
        environment: [{ name: "FROM_DEFINITION", value: "td" }],
        mountPoints: [builds, { ...tools, readOnly: true }],
        linuxParameters: { capabilities: { add: ["SYS_PTRACE"] } },
      },
      {
        name: "build",
        image: "registry.example.com/team/build:1",
        essential: true,
        entryPoint: ["/gitlab-fargate-tools/busybox", "sleep", "2147483647"],
        command: [],
        user: "1000:1000",
        workingDirectory: "/work",
        mountPoints: [builds, { ...tools, readOnly: true }],
        dependsOn: [{ containerName: "gitlab-tools", condition: "SUCCESS" }],
      },
      {
        name: "service-0",
        image: "postgres:16",
        essential: false,
        command: ["postgres", "-c", "fsync=off"],
        environment: [{ name: "POSTGRES_DB", value: "td-db" }],
      },
    ],
  };
}

describe("ECS emulator (through the real AWS SDK)", () => {
  let emulator: EcsEmulator;
  let launcher: FakeTaskLauncher;
  let ecs: ECSClient;

  const start = async (options: Partial<EcsEmulatorOptions> = {}) => {
    emulator = await startEcsEmulator({
      launcher,
      taskDefinitions: [ciCoordinatorTaskDefinition({ family: "ci", revision: 3 })],
      ...options,
    });
    ecs = new ECSClient({ region: "eu-west-1", endpoint: emulator.endpoint, credentials, maxAttempts: 1 });
  };

  beforeEach(async () => {
    launcher = new FakeTaskLauncher({ privateIp: "10.0.0.7", publicIp: "203.0.113.9" });
    await start();
  });
  afterEach(async () => {
    ecs.destroy();
    await emulator.close();
  });

  const runInput: RunTaskCommandInput = {
    cluster: "c1",
    taskDefinition: "ci:3",
    startedBy: "gl-abc-1",
    networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-a"], securityGroups: ["sg-1"] } },
    overrides: {
      containerOverrides: [{ name: "ci-coordinator", environment: [{ name: "SSH_PUBLIC_KEY", value: "k" }] }],
    },
    tags: [{ key: "team", value: "x" }],
  };

  async function waitFor(arn: string, status: string): Promise<Task> {
    for (;;) {
      const out = await ecs.send(new DescribeTasksCommand({ cluster: "c1", tasks: [arn] }));
      if (out.tasks?.[0]?.lastStatus === status) return out.tasks[0];
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function describeTask(arn: string): Promise<Task> {
    const out = await ecs.send(new DescribeTasksCommand({ cluster: "c1", tasks: [arn] }));
    return out.tasks?.[0] as Task;
  }

  it("runs a task to RUNNING with its IP, passes the container environment to the launcher, and stops it", async () => {
    const out = await ecs.send(new RunTaskCommand(runInput));
    const arn = out.tasks?.[0]?.taskArn ?? "";
    assert.match(arn, /^arn:aws:ecs:eu-west-1:123456789012:task\/c1\/[0-9a-f]{32}$/);
    const running = await waitFor(arn, "RUNNING");
    const details = running.attachments?.[0]?.details ?? [];
    assert.equal(details.find((d) => d.name === "privateIPv4Address")?.value, "10.0.0.7");
    assert.equal(running.taskDefinitionArn, "arn:aws:ecs:eu-west-1:123456789012:task-definition/ci:3");
    assert.deepEqual(
      running.containers?.map((c) => [c.name, c.image, c.lastStatus]),
      [["ci-coordinator", LOCAL_CI_COORDINATOR_IMAGE, "RUNNING"]],
    );
    assert.equal(launcher.launched[0].environment.SSH_PUBLIC_KEY, "k");
    assert.equal(launcher.launched[0].coordinator, "ci-coordinator");
    assert.deepEqual(emulator.runningTasks()[0].tags, [{ key: "team", value: "x" }]);

    const listed = await ecs.send(new ListTasksCommand({ cluster: "c1", startedBy: "gl-abc-1" }));
    assert.deepEqual(listed.taskArns, [arn]);

    await ecs.send(new StopTaskCommand({ cluster: "c1", task: arn, reason: "done" }));
    assert.equal(emulator.runningTasks().length, 0);
    assert.equal(emulator.tasks()[0].stoppedReason, "done");
    assert.deepEqual(launcher.stopped, [arn]);
    const after = await ecs.send(new ListTasksCommand({ cluster: "c1", startedBy: "gl-abc-1" }));
    assert.deepEqual(after.taskArns, []);
  });

  it("answers DescribeNetworkInterfaces with the public IP over the EC2 query protocol", async () => {
    const out = await ecs.send(new RunTaskCommand(runInput));
    const running = await waitFor(out.tasks?.[0]?.taskArn ?? "", "RUNNING");
    const eni = running.attachments?.[0]?.details?.find((d) => d.name === "networkInterfaceId")?.value;
    const ec2 = new EC2Client({ region: "eu-west-1", endpoint: emulator.endpoint, credentials, maxAttempts: 1 });
    try {
      const nis = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni ?? ""] }));
      assert.equal(nis.NetworkInterfaces?.[0]?.Association?.PublicIp, "203.0.113.9");
      await assert.rejects(
        ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ["eni-missing"] })),
        /InvalidNetworkInterfaceID.NotFound|does not exist/,
      );
    } finally {
      ec2.destroy();
    }
  });

  it("returns RunTask failures, stops tasks before RUNNING, and throttles on request", async () => {
    emulator.faults.runTaskFailures = 1;
    emulator.faults.runTaskFailureReason = "RESOURCE:MEMORY";
    const failed = await ecs.send(new RunTaskCommand(runInput));
    assert.equal(failed.tasks?.length, 0);
    assert.equal(failed.failures?.[0]?.reason, "RESOURCE:MEMORY");

    emulator.faults.stopBeforeRunning = { stoppedReason: "CannotPullContainerError: nope", containerReason: "pull" };
    const out = await ecs.send(new RunTaskCommand(runInput));
    const stopped = await waitFor(out.tasks?.[0]?.taskArn ?? "", "STOPPED");
    assert.equal(stopped.stoppedReason, "CannotPullContainerError: nope");
    assert.equal(stopped.containers?.[0]?.reason, "pull");
    assert.equal(launcher.launched.length, 0);

    emulator.faults.throttleRate = 1;
    await assert.rejects(ecs.send(new ListTasksCommand({ cluster: "c1" })), { name: "ThrottlingException" });
    assert.equal(emulator.calls.at(-1)?.action, "ListTasks");
  });

  it("rejects RunTask without awsvpc subnets and StopTask of an unknown task", async () => {
    await assert.rejects(
      ecs.send(new RunTaskCommand({ cluster: "c1", taskDefinition: "ci" })),
      /Network Configuration must be provided/,
    );
    await assert.rejects(ecs.send(new StopTaskCommand({ cluster: "c1", task: "nope" })), /not found/);
  });

  describe("task definitions", () => {
    it("registers revisions per family and answers with the whole task definition, defaults filled in", async () => {
      const first = await ecs.send(new RegisterTaskDefinitionCommand(imageTaskDefinition("jobs")));
      const second = await ecs.send(
        new RegisterTaskDefinitionCommand({ ...imageTaskDefinition("jobs"), tags: [{ key: "k", value: "v" }] }),
      );
      const other = await ecs.send(new RegisterTaskDefinitionCommand(imageTaskDefinition("other-jobs")));
      assert.equal(first.taskDefinition?.revision, 1);
      assert.equal(second.taskDefinition?.revision, 2);
      assert.equal(other.taskDefinition?.revision, 1);
      assert.deepEqual(second.tags, [{ key: "k", value: "v" }]);
      const td = second.taskDefinition;
      assert.equal(td?.taskDefinitionArn, "arn:aws:ecs:eu-west-1:123456789012:task-definition/jobs:2");
      assert.equal(td?.status, "ACTIVE");
      assert.equal(td?.family, "jobs");
      assert.equal(td?.pidMode, "task");
      assert.equal(td?.cpu, "1024");
      assert.equal(td?.memory, "2048");
      assert.deepEqual(td?.requiresCompatibilities, ["FARGATE"]);
      assert.deepEqual(td?.compatibilities, ["EC2", "FARGATE"]);
      assert.deepEqual(td?.runtimePlatform, { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" });
      assert.match(td?.executionRoleArn ?? "", /^arn:aws:iam::123456789012:role\//);
      assert.ok(td?.registeredAt instanceof Date);
      assert.deepEqual(td?.volumes, [
        { name: "gitlab-builds", host: {} },
        { name: "gitlab-tools", host: {} },
      ]);
      const service = td?.containerDefinitions?.find((c) => c.name === "service-0");
      assert.equal(service?.essential, false);
      assert.equal(service?.cpu, 0);
      assert.deepEqual(service?.mountPoints, []);
      assert.deepEqual(service?.volumesFrom, []);
      const coordinator = td?.containerDefinitions?.find((c) => c.name === "ci-coordinator");
      assert.equal(coordinator?.essential, true);
      assert.deepEqual(coordinator?.portMappings, [{ containerPort: 22, hostPort: 22, protocol: "tcp" }]);
      assert.deepEqual(coordinator?.linuxParameters, { capabilities: { add: ["SYS_PTRACE"] } });
      assert.deepEqual(
        emulator.taskDefinitions().map((t) => `${t.family}:${t.revision}`),
        ["ci:3", "jobs:1", "jobs:2", "other-jobs:1"],
      );
      assert.deepEqual(
        emulator.calls.map((call) => call.action),
        ["RegisterTaskDefinition", "RegisterTaskDefinition", "RegisterTaskDefinition"],
      );
    });

    it("describes a family's latest revision, a family:revision, an ARN, with tags on request", async () => {
      await ecs.send(new RegisterTaskDefinitionCommand(imageTaskDefinition("jobs")));
      await ecs.send(
        new RegisterTaskDefinitionCommand({ ...imageTaskDefinition("jobs"), tags: [{ key: "k", value: "v" }] }),
      );
      const latest = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "jobs" }));
      assert.equal(latest.taskDefinition?.revision, 2);
      assert.equal(latest.tags, undefined, "tags only when asked for");
      const first = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "jobs:1" }));
      assert.equal(first.taskDefinition?.revision, 1);
      const byArn = await ecs.send(
        new DescribeTaskDefinitionCommand({
          taskDefinition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/jobs:2",
          include: ["TAGS"],
        }),
      );
      assert.equal(byArn.taskDefinition?.revision, 2);
      assert.deepEqual(byArn.tags, [{ key: "k", value: "v" }]);
      const seeded = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "ci" }));
      assert.equal(seeded.taskDefinition?.taskDefinitionArn, "arn:aws:ecs:eu-west-1:123456789012:task-definition/ci:3");
      for (const unknown of [
        "nope",
        "jobs:3",
        "ci:1",
        "jobs:x",
        "arn:aws:ecs:us-east-1:123456789012:task-definition/jobs:1",
      ]) {
        await assert.rejects(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: unknown })), {
          name: "ClientException",
          message: "Unable to describe task definition.",
        });
      }
    });

    const invalid: [string, (td: RegisterTaskDefinitionCommandInput) => RegisterTaskDefinitionCommandInput, RegExp][] =
      [
        ["a family with a dot", (td) => ({ ...td, family: "jobs.v2" }), /Family "jobs\.v2" is invalid/],
        ["a family of 256 characters", (td) => ({ ...td, family: "f".repeat(256) }), /Family .* is invalid/],
        ["no container", (td) => ({ ...td, containerDefinitions: [] }), /Container list cannot be empty/],
        [
          "two containers of one name",
          (td) => ({
            ...td,
            containerDefinitions: [...(td.containerDefinitions ?? []), { name: "build", image: "x" }],
          }),
          /unique.*"build"/,
        ],
        [
          "no essential container",
          (td) => ({ ...td, containerDefinitions: td.containerDefinitions?.map((c) => ({ ...c, essential: false })) }),
          /does not have any essential container/,
        ],
        [
          "a dependency on a container that does not exist",
          (td) => withContainer(td, "build", { dependsOn: [{ containerName: "tools", condition: "SUCCESS" }] }),
          /depends on container "tools", which is not in the task definition/,
        ],
        [
          "an unknown dependency condition",
          (td) =>
            withContainer(td, "build", {
              dependsOn: [{ containerName: "gitlab-tools", condition: "DONE" as ContainerCondition }],
            }),
          /Invalid dependency condition "DONE"/,
        ],
        [
          "SUCCESS on an essential container",
          (td) =>
            withContainer(td, "build", { dependsOn: [{ containerName: "ci-coordinator", condition: "SUCCESS" }] }),
          /cannot be set on an essential container/,
        ],
        [
          "HEALTHY on a container without health check",
          (td) => withContainer(td, "build", { dependsOn: [{ containerName: "service-0", condition: "HEALTHY" }] }),
          /has no health check/,
        ],
        [
          "a dependency cycle",
          (td) =>
            withContainer(
              withContainer(td, "service-0", { dependsOn: [{ containerName: "build", condition: "START" }] }),
              "build",
              { dependsOn: [{ containerName: "service-0", condition: "START" }] },
            ),
          /cycle/,
        ],
        ["pidMode host on Fargate", (td) => ({ ...td, pidMode: "host" }), /Fargate only supports pidMode 'task'/],
        [
          "a mount point of an undeclared volume",
          (td) => ({ ...td, volumes: [{ name: "gitlab-builds" }] }),
          /mounts unknown volume "gitlab-tools"/,
        ],
        [
          "a capability other than SYS_PTRACE added on Fargate",
          (td) => withContainer(td, "build", { linuxParameters: { capabilities: { add: ["NET_ADMIN"] } } }),
          /only support adding the SYS_PTRACE kernel capability/,
        ],
        [
          "awslogs without an execution role",
          (td) => ({ ...td, executionRoleArn: undefined }),
          /execution role ARN to support log driver awslogs/,
        ],
        ["another network mode on Fargate", (td) => ({ ...td, networkMode: "bridge" }), /only supports network mode/],
      ];
    for (const [title, change, message] of invalid) {
      it(`refuses ${title} with ClientException`, async () => {
        await assert.rejects(ecs.send(new RegisterTaskDefinitionCommand(change(imageTaskDefinition("jobs")))), (e) => {
          assert.equal((e as Error).name, "ClientException");
          assert.match((e as Error).message, message);
          return true;
        });
        assert.deepEqual(
          emulator.taskDefinitions().map((t) => t.family),
          ["ci"],
          "nothing was registered",
        );
      });
    }

    it("rate-limits RegisterTaskDefinition like AWS: a burst, then about one per second", async () => {
      emulator.faults.registerTaskDefinitionRate = { burst: 2, perSecond: 5 };
      const register = () => ecs.send(new RegisterTaskDefinitionCommand(imageTaskDefinition("jobs")));
      await register();
      await register();
      await assert.rejects(register(), { name: "ThrottlingException", message: "Rate exceeded" });
      assert.deepEqual(
        emulator.calls.map((call) => call.throttled ?? false),
        [false, false, true],
      );
      // Other actions are not charged to this bucket.
      await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "jobs" }));
      await new Promise((r) => setTimeout(r, 250));
      const refilled = await register();
      assert.equal(refilled.taskDefinition?.revision, 3, "the throttled call registered nothing");
    });

    it("has a default RegisterTaskDefinition rate of a small burst", async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => ecs.send(new RegisterTaskDefinitionCommand(imageTaskDefinition("jobs")))),
      );
      const throttled = results.filter((r) => r.status === "rejected");
      assert.ok(throttled.length >= 2 && throttled.length <= 6, `${throttled.length} of 8 calls throttled`);
      for (const r of throttled) assert.equal((r as PromiseRejectedResult).reason.name, "ThrottlingException");
    });
  });

  describe("RunTask of a registered task definition", () => {
    it("refuses a task definition that is not registered, and overrides of containers it lacks", async () => {
      for (const taskDefinition of ["missing", "ci:2", "ci:4"]) {
        await assert.rejects(ecs.send(new RunTaskCommand({ ...runInput, taskDefinition })), {
          name: "ClientException",
          message: "TaskDefinition not found.",
        });
      }
      await assert.rejects(
        ecs.send(
          new RunTaskCommand({
            ...runInput,
            overrides: { containerOverrides: [{ name: "sidecar", environment: [] }] },
          }),
        ),
        { name: "InvalidParameterException", message: /Override for container named sidecar/ },
      );
      assert.equal(emulator.tasks().length, 0);
    });

    it("resolves a family to its latest revision and hands the launcher every container, overrides applied", async () => {
      await ecs.send(new RegisterTaskDefinitionCommand(imageTaskDefinition("jobs")));
      const out = await ecs.send(
        new RunTaskCommand({
          ...runInput,
          taskDefinition: "jobs",
          overrides: {
            containerOverrides: [
              {
                name: "ci-coordinator",
                environment: [
                  { name: "SSH_PUBLIC_KEY", value: "k" },
                  { name: "FROM_DEFINITION", value: "overridden" },
                ],
              },
              { name: "service-0", environment: [{ name: "POSTGRES_PASSWORD", value: "pw" }], command: ["postgres"] },
            ],
          },
        }),
      );
      const task = await waitFor(out.tasks?.[0]?.taskArn ?? "", "RUNNING");
      assert.equal(task.taskDefinitionArn, "arn:aws:ecs:eu-west-1:123456789012:task-definition/jobs:1");
      assert.equal(task.group, "family:jobs");
      const [request] = launcher.launched;
      assert.equal(request.pidMode, "task");
      assert.deepEqual(request.volumes, [{ name: "gitlab-builds" }, { name: "gitlab-tools" }]);
      assert.equal(request.coordinator, "ci-coordinator");
      assert.deepEqual(request.environment, { FROM_DEFINITION: "overridden", SSH_PUBLIC_KEY: "k" });
      const byName = new Map(request.containers?.map((c) => [c.name, c]));
      assert.deepEqual([...byName.keys()], ["gitlab-tools", "ci-coordinator", "build", "service-0"]);
      assert.deepEqual(byName.get("gitlab-tools"), {
        name: "gitlab-tools",
        image: LOCAL_CI_COORDINATOR_IMAGE,
        essential: false,
        entryPoint: ["/usr/local/bin/install-job-tools"],
        command: ["/gitlab-fargate-tools"],
        environment: {},
        dependsOn: [],
        mountPoints: [{ sourceVolume: "gitlab-tools", containerPath: "/gitlab-fargate-tools", readOnly: false }],
        capabilities: { add: [], drop: [] },
      });
      assert.deepEqual(byName.get("ci-coordinator")?.capabilities, { add: ["SYS_PTRACE"], drop: [] });
      assert.deepEqual(byName.get("ci-coordinator")?.mountPoints, [
        { sourceVolume: "gitlab-builds", containerPath: "/opt/gitlab-runner/builds", readOnly: false },
        { sourceVolume: "gitlab-tools", containerPath: "/gitlab-fargate-tools", readOnly: true },
      ]);
      const build = byName.get("build");
      assert.equal(build?.user, "1000:1000");
      assert.equal(build?.workingDirectory, "/work");
      assert.deepEqual(build?.dependsOn, [{ containerName: "gitlab-tools", condition: "SUCCESS" }]);
      assert.deepEqual(build?.command, []);
      assert.deepEqual(byName.get("service-0")?.environment, { POSTGRES_DB: "td-db", POSTGRES_PASSWORD: "pw" });
      assert.deepEqual(byName.get("service-0")?.command, ["postgres"]);
    });

    it("shows each container's state: a non-essential one exits and the task runs on; an essential one stops it", async () => {
      await ecs.send(new RegisterTaskDefinitionCommand(imageTaskDefinition("jobs")));
      const out = await ecs.send(new RunTaskCommand({ ...runInput, taskDefinition: "jobs" }));
      const arn = out.tasks?.[0]?.taskArn ?? "";
      assert.deepEqual(
        out.tasks?.[0]?.containers?.map((c) => [c.name, c.lastStatus]),
        [
          ["gitlab-tools", "PENDING"],
          ["ci-coordinator", "PENDING"],
          ["build", "PENDING"],
          ["service-0", "PENDING"],
        ],
      );
      await waitFor(arn, "RUNNING");
      launcher.exitContainer(arn, "gitlab-tools", 0);
      launcher.exitContainer(arn, "service-0", 3);
      const running = await describeTask(arn);
      assert.equal(running.lastStatus, "RUNNING", "non-essential containers may stop");
      assert.deepEqual(
        running.containers?.map((c) => [c.name, c.lastStatus, c.exitCode]),
        [
          ["gitlab-tools", "STOPPED", 0],
          ["ci-coordinator", "RUNNING", undefined],
          ["build", "RUNNING", undefined],
          ["service-0", "STOPPED", 3],
        ],
      );
      launcher.exitContainer(arn, "build", 2);
      const stopped = await describeTask(arn);
      assert.equal(stopped.lastStatus, "STOPPED");
      assert.equal(stopped.stoppedReason, "Essential container in task exited");
      assert.equal(stopped.stopCode, "EssentialContainerExited");
      assert.equal(stopped.containers?.find((c) => c.name === "build")?.exitCode, 2);
      assert.ok(stopped.containers?.every((c) => c.lastStatus === "STOPPED"));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(launcher.stopped, [arn], "the launcher was told to stop the task");
    });

    it("stops a task whose image cannot be pulled: TaskFailedToStart, CannotPullContainerError naming the image", async () => {
      await ecs.send(new RegisterTaskDefinitionCommand(imageTaskDefinition("jobs")));
      launcher.unpullableImages.add("registry.example.com/team/build:1");
      const out = await ecs.send(new RunTaskCommand({ ...runInput, taskDefinition: "jobs" }));
      const stopped = await waitFor(out.tasks?.[0]?.taskArn ?? "", "STOPPED");
      assert.equal(stopped.stopCode, "TaskFailedToStart");
      assert.match(stopped.stoppedReason ?? "", /^CannotPullContainerError: .*registry\.example\.com\/team\/build:1/);
      const build = stopped.containers?.find((c) => c.name === "build");
      assert.match(build?.reason ?? "", /^CannotPullContainerError: .*registry\.example\.com\/team\/build:1/);
      assert.equal(stopped.containers?.find((c) => c.name === "ci-coordinator")?.reason, undefined);
      assert.equal(launcher.launched.length, 0);
    });
  });
});

function withContainer(
  td: RegisterTaskDefinitionCommandInput,
  name: string,
  change: Partial<ContainerDefinition>,
): RegisterTaskDefinitionCommandInput {
  return {
    ...td,
    containerDefinitions: td.containerDefinitions?.map((c) => (c.name === name ? { ...c, ...change } : c)),
  };
}
