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

/** A task-level size override for RunTask (`overrides.cpu` / `overrides.memory`), both optional. */
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
 * so a typo fails in prepare with the valid choices instead of an opaque RunTask error.
 */
export function validateTaskSize(cpuRaw: string | undefined, memoryRaw: string | undefined): TaskSize {
  const cpu = cpuRaw ? parseUnits("FARGATE_TASK_CPU", cpuRaw) : undefined;
  const memory = memoryRaw ? parseUnits("FARGATE_TASK_MEMORY", memoryRaw) : undefined;
  const cpus = [...FARGATE_MEMORY_BY_CPU.keys()];
  if (cpu !== undefined && !FARGATE_MEMORY_BY_CPU.has(cpu)) {
    throw new SystemFailure(`FARGATE_TASK_CPU=${cpu} is not a Fargate CPU size; valid values: ${cpus.join(", ")}`);
  }
  if (memory !== undefined) {
    const candidates = cpu !== undefined ? [cpu] : cpus;
    if (!candidates.some((c) => FARGATE_MEMORY_BY_CPU.get(c)?.includes(memory))) {
      const valid =
        cpu !== undefined
          ? `with ${cpu} CPU units: ${formatMemory(FARGATE_MEMORY_BY_CPU.get(cpu) ?? [])}`
          : "it matches no Fargate CPU size";
      throw new SystemFailure(`FARGATE_TASK_MEMORY=${memory} MiB is not valid ${valid}`);
    }
  }
  return { cpu: cpu?.toString(), memory: memory?.toString() };
}

function formatMemory(values: readonly number[]): string {
  return values.length <= 4
    ? values.join(", ")
    : `${values[0]}..${values[values.length - 1]} in steps of ${values[1] - values[0]}`;
}
