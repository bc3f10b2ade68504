/**
 * Fargate's valid task-level CPU/memory combinations (Linux), from
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
 * CPU in units (1024 = 1 vCPU), memory in MiB.
 */
import { SystemFailure } from "./errors";

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let v = from; v <= to; v += step) values.push(v);
  return values;
}

export const FARGATE_MEMORY_BY_CPU: ReadonlyMap<number, readonly number[]> = new Map([
  [256, [512, 1024, 2048]],
  [512, range(1024, 4096, 1024)],
  [1024, range(2048, 8192, 1024)],
  [2048, range(4096, 16384, 1024)],
  [4096, range(8192, 30720, 1024)],
  [8192, range(16384, 61440, 4096)],
  [16384, range(32768, 122880, 8192)],
]);

/** A task-level size override for RunTask (`overrides.cpu` / `overrides.memory`): both, or neither. */
export interface TaskSize {
  cpu?: string;
  memory?: string;
}

function parseUnits(name: string, raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new SystemFailure(`${name} must be a whole number, got "${raw}"`);
  return Number(raw.trim());
}

/**
 * Validates a per-job size (job variables FARGATE_TASK_CPU / FARGATE_TASK_MEMORY) against Fargate's combinations,
 * so a typo fails in prepare with the valid choices instead of an opaque RunTask error. Both must be given: one
 * alone would be checked against a task definition size the driver does not know.
 */
export function validateTaskSize(cpuRaw: string, memoryRaw: string): { cpu: number; memory: number } {
  const cpu = parseUnits("FARGATE_TASK_CPU", cpuRaw);
  const memory = parseUnits("FARGATE_TASK_MEMORY", memoryRaw);
  const memories = FARGATE_MEMORY_BY_CPU.get(cpu);
  if (!memories) {
    const cpus = [...FARGATE_MEMORY_BY_CPU.keys()];
    throw new SystemFailure(`FARGATE_TASK_CPU=${cpu} is not a Fargate CPU size; valid values: ${cpus.join(", ")}`);
  }
  if (!memories.includes(memory)) {
    throw new SystemFailure(
      `FARGATE_TASK_MEMORY=${memory} MiB is not valid with ${cpu} CPU units; valid: ${formatMemory(memories)}`,
    );
  }
  return { cpu, memory };
}

function formatMemory(values: readonly number[]): string {
  return values.length <= 4
    ? values.join(", ")
    : `${values[0]}..${values[values.length - 1]} in steps of ${values[1] - values[0]}`;
}
