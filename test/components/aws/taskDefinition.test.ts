import { strict as assert } from "node:assert";
import { ACCOUNT_ID, REGION } from "../../support/pulumiMocks";
import { ComponentFixture, containerOf, T } from "../deployment";

const fixture = new ComponentFixture();
const { deployed } = fixture;

describe("GitLabFargateRunner (Pulumi mocks)", function () {
  before(() => fixture.install());

  describe("task definition", () => {
    it("task definition: FARGATE, awsvpc, 1024/2048, X86_64, the execution and task roles", async () => {
      const { one } = await deployed();
      const td = one(T.taskDefinition).inputs;
      assert.deepEqual(td.requiresCompatibilities, ["FARGATE"]);
      assert.equal(td.networkMode, "awsvpc");
      assert.equal(td.cpu, "1024");
      assert.equal(td.memory, "2048");
      assert.equal(td.runtimePlatform.cpuArchitecture, "X86_64");
      assert.equal(td.ephemeralStorage, undefined);
      assert.equal(td.executionRoleArn, `arn:aws:iam::${ACCOUNT_ID}:role/${one(T.role, "execution-role").name}-r0le`);
      assert.equal(td.taskRoleArn, `arn:aws:iam::${ACCOUNT_ID}:role/${one(T.role, "task-role").name}-r0le`);
    });

    it("one essential container named ci-coordinator, port 22/tcp, awslogs to the log group (14 days)", async () => {
      const { one } = await deployed();
      const container = containerOf(one(T.taskDefinition));
      const logGroup = one(T.logGroup);
      assert.equal(container.name, "ci-coordinator");
      assert.equal(container.essential, true);
      assert.deepEqual(container.portMappings, [{ containerPort: 22, hostPort: 22, protocol: "tcp" }]);
      assert.equal(container.logConfiguration.logDriver, "awslogs");
      assert.equal(
        container.logConfiguration.options["awslogs-group"],
        `${logGroup.inputs.namePrefix}${logGroup.name}`,
      );
      assert.equal(container.logConfiguration.options["awslogs-region"], REGION);
      assert.equal(logGroup.inputs.retentionInDays, 14);
      assert.equal(container.repositoryCredentials, undefined);
    });

    it("takes a valid cpu/memory pair, ephemeral storage, log retention and platform version", async () => {
      const { runner, one } = await deployed({
        jobs: { cpu: 4096, memory: 30720, ephemeralStorageGiB: 100, logRetentionDays: 30, platformVersion: "1.4.0" },
      });
      const td = one(T.taskDefinition).inputs;
      assert.deepEqual([td.cpu, td.memory], ["4096", "30720"]);
      assert.deepEqual(td.ephemeralStorage, { sizeInGib: 100 });
      assert.equal(one(T.logGroup).inputs.retentionInDays, 30);
      assert.equal(runner.platformVersion, "1.4.0");
    });
  });
});
