/**
 * Per-job task sizes, checked against Fargate's CPU/memory combinations (./contract/fargateTaskSizes, shared so the
 * component and the driver cannot disagree). CPU in units (1024 = 1 vCPU), memory in MiB.
 */
import { allowedMemory, FARGATE_CPU_VALUES } from "./contract/fargateTaskSizes";
import { SystemFailure } from "./errors";

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
  const memories = allowedMemory(cpu);
  if (memories.length === 0) {
    throw new SystemFailure(
      `FARGATE_TASK_CPU=${cpu} is not a Fargate CPU size; valid values: ${FARGATE_CPU_VALUES.join(", ")}`,
    );
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
