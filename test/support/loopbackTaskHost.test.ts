import { strict as assert } from "node:assert";
import {
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  Task,
} from "@aws-sdk/client-ecs";
import { startEcsEmulator } from "./ecsEmulator";
import { ciCoordinatorTaskDefinition } from "./ecsTaskDefinitions";
import { LoopbackTaskHost } from "./loopbackTaskHost";

describe("loopback task host (unprivileged)", () => {
  it("refuses a task with containers besides ci-coordinator, and the emulator stops it saying why", async () => {
    const host = new LoopbackTaskHost();
    const emulator = await startEcsEmulator({ launcher: host });
    const ecs = new ECSClient({
      region: "eu-west-1",
      endpoint: emulator.endpoint,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });
    try {
      const base = ciCoordinatorTaskDefinition({ family: "ci-image" });
      const registered = await ecs.send(
        new RegisterTaskDefinitionCommand({
          ...base,
          containerDefinitions: [
            ...(base.containerDefinitions ?? []),
            { name: "build", image: "alpine:3", essential: true, entryPoint: ["sleep", "60"] },
          ],
        }),
      );
      const out = await ecs.send(
        new RunTaskCommand({
          cluster: "c",
          taskDefinition: registered.taskDefinition?.taskDefinitionArn,
          networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-1"] } },
          overrides: {
            containerOverrides: [{ name: "ci-coordinator", environment: [{ name: "SSH_PUBLIC_KEY", value: "k" }] }],
          },
        }),
      );
      let task: Task | undefined;
      for (let i = 0; i < 200 && task?.lastStatus !== "STOPPED"; i++) {
        await new Promise((r) => setTimeout(r, 20));
        task = (await ecs.send(new DescribeTasksCommand({ cluster: "c", tasks: [out.tasks?.[0]?.taskArn ?? ""] })))
          .tasks?.[0];
      }
      assert.equal(task?.lastStatus, "STOPPED");
      assert.equal(task?.stopCode, "TaskFailedToStart");
      assert.match(
        task?.stoppedReason ?? "",
        /unprivileged loopback task host runs only the ci-coordinator container.*build \(alpine:3\).*image: or services:/,
      );
      assert.deepEqual(host.history(), [], "no SSH server was started");
    } finally {
      ecs.destroy();
      await emulator.close();
      await host.stopAll();
    }
  });
});
