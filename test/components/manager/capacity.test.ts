// How many jobs a manager instance holds (components/manager/capacity.ts).
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  checkConcurrency,
  DRIVER_JOB_RSS_MIB,
  instanceMemoryMiB,
  jobsThatFit,
  MANAGER_MEMORY_RESERVE_MIB,
} from "../../../components/manager/capacity";

describe("manager capacity: the memory of instance types and the jobs it holds", () => {
  it("knows the memory of the common types, nano to 2xlarge and beyond (GiB as AWS lists them)", () => {
    const gib: Record<string, number> = {
      "t3.nano": 0.5,
      "t3.micro": 1,
      "t3.small": 2,
      "t3.medium": 4,
      "t3.large": 8,
      "t3.xlarge": 16,
      "t3.2xlarge": 32,
      "t3a.small": 2,
      "t4g.nano": 0.5,
      "t4g.2xlarge": 32,
      "t2.micro": 1,
      "m5.large": 8,
      "m5.xlarge": 16,
      "m5.2xlarge": 32,
      "m5.4xlarge": 64,
      "m6i.large": 8,
      "m6i.2xlarge": 32,
      "m6a.xlarge": 16,
      "m7i-flex.large": 8,
      "m7g.medium": 4,
      "m7g.large": 8,
      "m7g.2xlarge": 32,
      "m6g.medium": 4,
      "c5.large": 4,
      "c6i.large": 4,
      "c6i.xlarge": 8,
      "c6i.2xlarge": 16,
      "c7g.medium": 2,
      "c7i.4xlarge": 32,
      "r6i.large": 16,
      "r7g.medium": 8,
      "a1.medium": 2,
      "a1.4xlarge": 32,
    };
    for (const [type, expected] of Object.entries(gib)) assert.equal(instanceMemoryMiB(type), expected * 1024, type);
  });

  it("does not guess: unknown families and sizes, sizes a family lacks, and malformed types", () => {
    for (const type of [
      "x2iedn.xlarge",
      "z1d.large",
      "m5.medium",
      "c6i.medium",
      "t3.4xlarge",
      "m5.metal",
      "a1.8xlarge",
    ]) {
      assert.equal(instanceMemoryMiB(type), undefined, type);
    }
    for (const type of ["t3", "t3.small.extra", "", "."]) assert.equal(instanceMemoryMiB(type), undefined, type);
  });

  it("jobs that fit: (memory − the reserve for the OS and gitlab-runner) / the driver's per-job RSS, rounded down", () => {
    assert.equal(jobsThatFit(512), 0);
    assert.equal(jobsThatFit(256), 0, "never negative");
    assert.equal(jobsThatFit(MANAGER_MEMORY_RESERVE_MIB + DRIVER_JOB_RSS_MIB), 1);
    assert.equal(jobsThatFit(MANAGER_MEMORY_RESERVE_MIB + 2 * DRIVER_JOB_RSS_MIB - 1), 1);
    assert.equal(jobsThatFit(2048), 18);
    assert.equal(jobsThatFit(1024), 6);
  });

  it("the default manager (t3.small) holds the default concurrency (10)", () => {
    assert.deepEqual(checkConcurrency("t3.small", 10), { kind: "fits", capacity: 18 });
  });

  it("refuses past the capacity, suggesting the smallest size of the family that holds it", () => {
    const check = checkConcurrency("c6i.large", 100);
    assert.equal(check.kind, "refused");
    assert.equal(check.kind === "refused" && check.capacity, 42);
    assert.match(check.kind === "refused" ? check.message : "", /such as c6i\.2xlarge/);
    const beyond = checkConcurrency("t3.2xlarge", 1000);
    assert.match(beyond.kind === "refused" ? beyond.message : "", /or choose a larger instance type/);
  });

  it("an unknown type is not refused: the outcome names what each job needs", () => {
    const check = checkConcurrency("x2iedn.xlarge", 4);
    assert.equal(check.kind, "unknown");
    assert.match(check.kind === "unknown" ? check.message : "", /at least 852 MiB/);
  });

  it("the per-job figure is the one docs/benchmarks.md records", () => {
    const doc = fs.readFileSync(path.resolve(__dirname, "../../../docs/benchmarks.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Per-job memory on the manager"));
    assert.ok(section.length > 0 && doc.includes("## Per-job memory on the manager"));
    assert.match(section, new RegExp(`\`DRIVER_JOB_RSS_MIB\` = ${DRIVER_JOB_RSS_MIB}`));
  });
});
