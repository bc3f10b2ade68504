import { strict as assert } from "node:assert";
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RegisterTaskDefinitionCommandInput, TaskDefinition } from "@aws-sdk/client-ecs";
import { systemClock } from "../../driver/clock";
import { jobTaskDefinition } from "../../driver/jobTaskDefinition";
import { TaskDefinitionPort } from "../../driver/ports";

const BASE: TaskDefinition = {
  family: "ci",
  revision: 1,
  containerDefinitions: [{ name: "ci-coordinator", image: "ci:1", essential: true }],
};
const options = { coordinatorName: "ci-coordinator", registryCredentials: {} };

/** Task definitions in memory; registering takes `registerMs`, like a throttled API. */
class Registry implements TaskDefinitionPort {
  readonly registered: RegisterTaskDefinitionCommandInput[] = [];
  private readonly revisions = new Map<string, number>([["ci", 1]]);
  constructor(private readonly registerMs = 0) {}
  async describeTaskDefinition(reference: string) {
    if (reference === "ci" || reference === "ci:1") return BASE;
    const revision = this.revisions.get(reference);
    return revision === undefined ? undefined : { family: reference, revision };
  }
  async registerTaskDefinition(input: RegisterTaskDefinitionCommandInput) {
    await new Promise((r) => setTimeout(r, this.registerMs));
    this.registered.push(input);
    const revision = (this.revisions.get(input.family ?? "") ?? 0) + 1;
    this.revisions.set(input.family ?? "", revision);
    return `${input.family}:${revision}`;
  }
}

describe("finding or registering a job's task definition", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "td-lock-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const deps = (ecs: TaskDefinitionPort, extra = {}) => ({
    ecs,
    clock: systemClock,
    lockDirectory: dir,
    signal: new AbortController().signal,
    pollMs: 20,
    ...extra,
  });

  it("registers a new image once and reuses it afterwards", async () => {
    const ecs = new Registry();
    const first = await jobTaskDefinition(deps(ecs), "ci", { image: "app:1", services: [] }, options);
    const second = await jobTaskDefinition(deps(ecs), "ci", { image: "app:1", services: [] }, options);
    assert.equal(first.registered, true);
    assert.deepEqual(second, { taskDefinition: first.taskDefinition, registered: false });
    assert.match(first.taskDefinition, /^ci-image-[0-9a-f]{16}:1$/);
    assert.equal(ecs.registered.length, 1);
    assert.deepEqual(readdirSync(dir), [], "no lock file left");
  });

  it("registers once when ten jobs with a new image start together", async () => {
    const ecs = new Registry(200);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => jobTaskDefinition(deps(ecs), "ci", { image: "app:2", services: [] }, options)),
    );
    assert.equal(ecs.registered.length, 1);
    assert.equal(new Set(results.map((r) => r.taskDefinition)).size, 1);
    assert.equal(results.filter((r) => r.registered).length, 1);
  });

  it("takes over a lock left by a process that died while registering", async function () {
    this.timeout(5_000); // without the takeover it would wait the full minute for the lock
    const ecs = new Registry();
    const family = (await jobTaskDefinition(deps(ecs), "ci", { image: "app:3", services: [] }, options)).taskDefinition;
    const fresh = new Registry();
    const lock = join(dir, `.register-${family.split(":")[0]}.lock`);
    writeFileSync(lock, "12345\n");
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(lock, old, old);
    const result = await jobTaskDefinition(
      deps(fresh, { waitMs: 60_000 }),
      "ci",
      { image: "app:3", services: [] },
      options,
    );
    assert.equal(result.registered, true);
    assert.equal(fresh.registered.length, 1);
  });

  it("registers anyway when another process holds the lock past the wait", async () => {
    const ecs = new Registry();
    const { taskDefinition } = await jobTaskDefinition(
      deps(new Registry()),
      "ci",
      { image: "app:4", services: [] },
      options,
    );
    writeFileSync(join(dir, `.register-${taskDefinition.split(":")[0]}.lock`), "1\n");
    const result = await jobTaskDefinition(deps(ecs, { waitMs: 100 }), "ci", { image: "app:4", services: [] }, options);
    assert.equal(result.registered, true);
  });

  it("fails clearly when the configured task definition does not exist", async () => {
    await assert.rejects(
      jobTaskDefinition(deps(new Registry()), "missing:4", { image: "app", services: [] }, options),
      /ECS knows no task definition "missing:4"/,
    );
  });
});
