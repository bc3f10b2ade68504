import * as assert from "node:assert/strict";
import { ecsCoordinatorContainer, ecsTaskDefinitionHardened, logGroupRetention } from "../../../policy/rules/ecs";
import { T, validateResource } from "../harness";
import { assertPasses, assertViolates } from "./helpers";

describe("policy ecs-task-definition-hardened", () => {
  const container = {
    name: "ci-coordinator",
    image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ci:1",
    essential: true,
    portMappings: [{ containerPort: 22, protocol: "tcp" }],
    logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/runner" } },
  };
  const taskDefinition = (containers: object[], networkMode = "awsvpc") => ({
    family: "runner",
    networkMode,
    requiresCompatibilities: ["FARGATE"],
    containerDefinitions: JSON.stringify(containers),
  });

  it("passes an awsvpc task definition with logged, unprivileged containers", async () => {
    assertPasses(
      await validateResource(ecsTaskDefinitionHardened, T.taskDefinition, "jobs", taskDefinition([container])),
    );
  });

  it("fails bridge networking, a privileged container and a container without logs", async () => {
    const { logConfiguration: _omitted, ...unlogged } = container;
    const outcome = await validateResource(
      ecsTaskDefinitionHardened,
      T.taskDefinition,
      "jobs",
      taskDefinition(
        [
          { ...container, privileged: true },
          { ...unlogged, name: "sidecar" },
        ],
        "bridge",
      ),
    );
    assertViolates(outcome, "jobs", [], 3);
    assert.match(outcome.violations[0].message, /"bridge".*networkMode: "awsvpc"/);
    assert.match(outcome.violations[1].message, /container "ci-coordinator" privileged/);
    assert.match(outcome.violations[2].message, /logConfiguration on container "sidecar"/);
  });
});

describe("policy ecs-task-definition-ci-coordinator (advisory)", () => {
  const withContainers = (containers: object[], tags: Record<string, string> = { "gitlab-fargate-runner": "ci" }) => ({
    family: "jobs",
    containerDefinitions: JSON.stringify(containers),
    tags,
  });

  it("passes a ci-coordinator container that maps TCP 22", async () => {
    const containers = [{ name: "ci-coordinator", portMappings: [{ containerPort: 22 }] }];
    assertPasses(await validateResource(ecsCoordinatorContainer, T.taskDefinition, "jobs", withContainers(containers)));
  });

  it("fails a missing ci-coordinator and one without port 22", async () => {
    const missing = await validateResource(
      ecsCoordinatorContainer,
      T.taskDefinition,
      "jobs",
      withContainers([{ name: "build" }]),
    );
    assertViolates(missing, "jobs", ['name the job container "ci-coordinator"']);
    const noPort = await validateResource(
      ecsCoordinatorContainer,
      T.taskDefinition,
      "jobs",
      withContainers([{ name: "ci-coordinator", portMappings: [{ containerPort: 2222 }] }]),
    );
    assertViolates(noPort, "jobs", ["containerPort: 22"]);
  });

  it("applies only to task definitions tagged by the component, not to a stack's other task definitions", async () => {
    const web = withContainers([{ name: "nginx", portMappings: [{ containerPort: 80 }] }], { team: "web" });
    const outcome = await validateResource(ecsCoordinatorContainer, T.taskDefinition, "web", web);
    assert.equal(outcome.notApplicable, true);
    assert.deepEqual(outcome.violations, []);
    const untagged = { family: "web", containerDefinitions: JSON.stringify([{ name: "nginx" }]) };
    assert.equal(
      (await validateResource(ecsCoordinatorContainer, T.taskDefinition, "u", untagged)).notApplicable,
      true,
    );
  });
});

describe("policy cloudwatch-log-group-retention (advisory)", () => {
  it("passes a log group with a retention", async () => {
    assertPasses(await validateResource(logGroupRetention, T.logGroup, "jobs", { retentionInDays: 14 }));
  });

  it("fails a log group kept forever", async () => {
    assertViolates(await validateResource(logGroupRetention, T.logGroup, "jobs", {}), "jobs", ["retentionInDays"]);
  });
});
