import { strict as assert } from "node:assert";
import { DescribeNetworkInterfacesCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  Task,
} from "@aws-sdk/client-ecs";
import { EcsEmulator, startEcsEmulator } from "../support/ecsEmulator";
import { FakeTaskLauncher } from "../support/fakeTaskLauncher";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

describe("ECS emulator (through the real AWS SDK)", () => {
  let emulator: EcsEmulator;
  let launcher: FakeTaskLauncher;
  let ecs: ECSClient;

  beforeEach(async () => {
    launcher = new FakeTaskLauncher({ privateIp: "10.0.0.7", publicIp: "203.0.113.9" });
    emulator = await startEcsEmulator({ launcher });
    ecs = new ECSClient({ region: "eu-west-1", endpoint: emulator.endpoint, credentials, maxAttempts: 1 });
  });
  afterEach(async () => {
    ecs.destroy();
    await emulator.close();
  });

  const runInput = {
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

  it("runs a task to RUNNING with its IP, passes the container environment to the launcher, and stops it", async () => {
    const out = await ecs.send(new RunTaskCommand(runInput));
    const arn = out.tasks?.[0]?.taskArn ?? "";
    assert.match(arn, /^arn:aws:ecs:eu-west-1:123456789012:task\/c1\/[0-9a-f]{32}$/);
    const running = await waitFor(arn, "RUNNING");
    const details = running.attachments?.[0]?.details ?? [];
    assert.equal(details.find((d) => d.name === "privateIPv4Address")?.value, "10.0.0.7");
    assert.equal(launcher.launched[0].environment.SSH_PUBLIC_KEY, "k");
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
});
