import { strict as assert } from "node:assert";
import type { TaskDefinition } from "@aws-sdk/client-ecs";
import { canonicalJson, imageTaskDefinition } from "../../driver/imageTaskDefinition";
import { IMAGE_TASK } from "../../driver/contract/imageTasks";
import { JobError, SystemFailure } from "../../driver/errors";

const LOGS = { logDriver: "awslogs" as const, options: { "awslogs-group": "/g", "awslogs-stream-prefix": "job" } };
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ghcr-AbCdEf";

/** What DescribeTaskDefinition answers for the component's task definition (read-only fields included). */
function base(overrides: Partial<TaskDefinition> = {}): TaskDefinition {
  return {
    taskDefinitionArn: "arn:aws:ecs:eu-west-1:123456789012:task-definition/ci:3",
    family: "ci",
    revision: 3,
    status: "ACTIVE",
    registeredAt: new Date(0),
    requiresAttributes: [{ name: "ecs.capability.execution-role-awslogs" }],
    compatibilities: ["EC2", "FARGATE"],
    taskRoleArn: "arn:aws:iam::123456789012:role/task",
    executionRoleArn: "arn:aws:iam::123456789012:role/exec",
    networkMode: "awsvpc",
    requiresCompatibilities: ["FARGATE"],
    cpu: "1024",
    memory: "2048",
    runtimePlatform: { cpuArchitecture: "ARM64", operatingSystemFamily: "LINUX" },
    ephemeralStorage: { sizeInGiB: 40 },
    containerDefinitions: [
      {
        name: "ci-coordinator",
        image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ci:1",
        essential: true,
        portMappings: [{ containerPort: 22, hostPort: 22, protocol: "tcp" }],
        logConfiguration: LOGS,
      },
    ],
    ...overrides,
  };
}
const options = { coordinatorName: "ci-coordinator", registryCredentials: { "ghcr.io": SECRET } };
const noServices = { services: [] };

describe("the task definition of a job with its own image", () => {
  it("copies the configured task definition and adds tools, build, volumes, pidMode and SYS_PTRACE", () => {
    const input = imageTaskDefinition(base(), { image: "ghcr.io/org/app:1", ...noServices }, options);
    assert.match(input.family ?? "", /^ci-image-[0-9a-f]{16}$/);
    for (const field of ["taskRoleArn", "executionRoleArn", "cpu", "memory", "runtimePlatform", "ephemeralStorage"]) {
      assert.deepEqual(input[field as keyof typeof input], base()[field as keyof TaskDefinition], field);
    }
    for (const readOnly of [
      "taskDefinitionArn",
      "revision",
      "status",
      "registeredAt",
      "requiresAttributes",
      "compatibilities",
    ]) {
      assert.equal(readOnly in input, false, `${readOnly} is ECS's, not ours to send`);
    }
    assert.equal(input.pidMode, "task");
    assert.deepEqual(input.volumes, [{ name: IMAGE_TASK.buildsVolume }, { name: IMAGE_TASK.toolsVolume }]);
    const byName = new Map(input.containerDefinitions?.map((c) => [c.name, c]));
    assert.deepEqual([...byName.keys()], ["gitlab-tools", "ci-coordinator", "build"]);
    const tools = byName.get("gitlab-tools");
    assert.equal(tools?.image, base().containerDefinitions?.[0].image, "the tools come from our image");
    assert.equal(tools?.essential, false);
    assert.deepEqual(tools?.entryPoint, [IMAGE_TASK.installTools]);
    const coordinator = byName.get("ci-coordinator");
    assert.deepEqual(coordinator?.linuxParameters?.capabilities?.add, ["SYS_PTRACE"]);
    assert.deepEqual(coordinator?.portMappings, base().containerDefinitions?.[0].portMappings);
    assert.deepEqual(
      coordinator?.mountPoints?.map((m) => [m.containerPath, m.readOnly]),
      [
        [IMAGE_TASK.buildsPath, false],
        [IMAGE_TASK.toolsPath, true],
      ],
    );
    const build = byName.get("build");
    assert.equal(build?.image, "ghcr.io/org/app:1");
    assert.equal(build?.essential, true);
    assert.deepEqual(build?.entryPoint, [...IMAGE_TASK.pauseCommand]);
    assert.deepEqual(build?.command, [], "the image's CMD must not reach the pause");
    assert.deepEqual(build?.dependsOn, [{ containerName: "gitlab-tools", condition: "SUCCESS" }]);
    assert.equal(build?.user, undefined, "the image's USER applies");
    assert.deepEqual(build?.repositoryCredentials, { credentialsParameter: SECRET });
    assert.deepEqual(build?.logConfiguration, LOGS);
  });

  it("adds services with their entrypoint and command but never their variables (those go in RunTask)", () => {
    const input = imageTaskDefinition(
      base(),
      {
        services: [
          { image: "postgres:15", hostnames: ["db"], command: ["postgres", "-c", "fsync=off"], variables: { A: "1" } },
          { image: "redis:7", hostnames: ["redis"], variables: {} },
        ],
      },
      options,
    );
    const names = input.containerDefinitions?.map((c) => c.name);
    assert.deepEqual(names, ["ci-coordinator", "service-0", "service-1"], "no build or tools without an image");
    assert.equal(input.pidMode, undefined);
    assert.equal(input.volumes, undefined);
    const service = input.containerDefinitions?.[1];
    assert.deepEqual(service?.command, ["postgres", "-c", "fsync=off"]);
    assert.equal(service?.essential, false);
    assert.equal(service?.environment, undefined);
    assert.equal(JSON.stringify(input).includes('"A"'), false);
  });

  it("names the family by content: equal requests share it, any difference gets another", () => {
    const family = (image: string, variables: Record<string, string> = {}, definition = base()) =>
      imageTaskDefinition(definition, { image, services: [{ image: "redis:7", hostnames: ["r"], variables }] }, options)
        .family;
    assert.equal(family("app:1"), family("app:1"));
    assert.equal(family("app:1", { A: "1" }), family("app:1", { A: "2" }), "service variables do not count");
    assert.notEqual(family("app:1"), family("app:2"));
    assert.notEqual(family("app:1"), family("app:1", {}, base({ memory: "4096" })));
    assert.equal(family("app:1"), family("app:1", {}, base({ revision: 9, registeredAt: new Date() })));
  });

  it("keeps the base's capabilities and does not add SYS_PTRACE twice", () => {
    const withCaps = base();
    withCaps.containerDefinitions![0].linuxParameters = {
      capabilities: { add: ["SYS_PTRACE", "NET_ADMIN"], drop: ["MKNOD"] },
    };
    const input = imageTaskDefinition(withCaps, { image: "app", ...noServices }, options);
    const coordinator = input.containerDefinitions?.find((c) => c.name === "ci-coordinator");
    assert.deepEqual(coordinator?.linuxParameters?.capabilities, { add: ["SYS_PTRACE", "NET_ADMIN"], drop: ["MKNOD"] });
  });

  it("refuses a base without the coordinator or with a container name the job's containers need", () => {
    assert.throws(
      () => imageTaskDefinition(base(), { image: "app", ...noServices }, { ...options, coordinatorName: "other" }),
      (err: unknown) => err instanceof SystemFailure && /no container "other"/.test(err.message),
    );
    const clash = base();
    clash.containerDefinitions!.push({ name: "build", image: "x" });
    assert.throws(() => imageTaskDefinition(clash, { image: "app", ...noServices }, options), /named "build"/);
  });

  it("refuses more services than a Fargate task holds, as the job's error", () => {
    const services = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ image: `svc${i}`, hostnames: [`svc${i}`], variables: {} }));
    assert.equal(
      imageTaskDefinition(base(), { image: "app", services: services(7) }, options).containerDefinitions?.length,
      10,
    );
    assert.throws(
      () => imageTaskDefinition(base(), { image: "app", services: services(8) }, options),
      (err: unknown) =>
        err instanceof JobError &&
        /8 services are too many.*take 3 \(gitlab-tools, ci-coordinator, build\)/.test(err.message),
    );
    assert.equal(imageTaskDefinition(base(), { services: services(9) }, options).containerDefinitions?.length, 10);
  });

  it("serialises canonically: key order does not matter", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 3 } }),
      '{"a":{"c":3,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });
});
