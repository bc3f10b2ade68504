import { strict as assert } from "node:assert";
import { validateTaskSize } from "../../driver/fargateSizes";
import { expectFailure } from "./expectFailure";

describe("Fargate task sizes", () => {
  // Fixed cases from AWS's table (not the driver's own): "Task CPU and memory" in the ECS developer guide
  // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size).
  const valid: [number, number][] = [
    [256, 512],
    [256, 1024],
    [256, 2048],
    [512, 1024],
    [512, 4096],
    [1024, 2048],
    [1024, 5120],
    [1024, 8192],
    [2048, 4096],
    [2048, 9216],
    [2048, 16384],
    [4096, 8192],
    [4096, 9216],
    [4096, 20480],
    [4096, 30720],
    [8192, 16384],
    [8192, 20480],
    [8192, 61440],
    [16384, 32768],
    [16384, 40960],
    [16384, 122880],
  ];
  const invalid: [number, number][] = [
    [256, 3072],
    [256, 256],
    [512, 512],
    [512, 5120],
    [1024, 1024],
    [1024, 9216],
    [2048, 3072],
    [2048, 17408],
    [4096, 7168],
    [4096, 31744],
    [8192, 15360],
    [8192, 17408],
    [8192, 65536],
    [16384, 30720],
    [16384, 36864],
    [16384, 131072],
  ];

  it("accepts the combinations AWS lists", () => {
    for (const [cpu, memory] of valid) {
      assert.deepEqual(validateTaskSize(String(cpu), String(memory)), { cpu, memory }, `${cpu}/${memory}`);
    }
  });

  it("refuses combinations outside AWS's table, listing the valid memory for that CPU", () => {
    for (const [cpu, memory] of invalid) {
      expectFailure(
        () => validateTaskSize(String(cpu), String(memory)),
        new RegExp(`FARGATE_TASK_MEMORY=${memory} MiB`),
      );
    }
    expectFailure(() => validateTaskSize("256", "4096"), /not valid with 256 CPU units; valid: 512, 1024, 2048$/);
    expectFailure(() => validateTaskSize("4096", "31744"), /valid: 8192\.\.30720 in steps of 1024$/);
    expectFailure(() => validateTaskSize("8192", "20000"), /valid: 16384\.\.61440 in steps of 4096$/);
    expectFailure(() => validateTaskSize("16384", "36864"), /valid: 32768\.\.122880 in steps of 8192$/);
  });

  it("refuses CPU values AWS does not offer and non-numbers", () => {
    for (const cpu of ["128", "1000", "3072", "32768"]) {
      expectFailure(
        () => validateTaskSize(cpu, "2048"),
        new RegExp(
          `FARGATE_TASK_CPU=${cpu} is not a Fargate CPU size; valid values: 256, 512, 1024, 2048, 4096, 8192, 16384$`,
        ),
      );
    }
    expectFailure(() => validateTaskSize("1 vCPU", "2048"), /FARGATE_TASK_CPU must be a whole number/);
    expectFailure(() => validateTaskSize("1024", "2GB"), /FARGATE_TASK_MEMORY must be a whole number/);
  });
});
