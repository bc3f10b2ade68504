/**
 * Fargate task sizes (Linux), checked by the component (`jobs.cpu` / `jobs.memory`, `jobs.maxTaskSize`) and the driver
 * (fargate.toml `MaxTaskCPU`, a job's FARGATE_TASK_CPU / _MEMORY): for each CPU value, the memory values (MiB) Fargate
 * accepts.
 */
const ranges: Record<number, { from: number; to: number; step: number }[]> = {
  256: [
    { from: 512, to: 1024, step: 512 },
    { from: 2048, to: 2048, step: 1 },
  ],
  512: [{ from: 1024, to: 4096, step: 1024 }],
  1024: [{ from: 2048, to: 8192, step: 1024 }],
  2048: [{ from: 4096, to: 16384, step: 1024 }],
  4096: [{ from: 8192, to: 30720, step: 1024 }],
  8192: [{ from: 16384, to: 61440, step: 4096 }],
  16384: [{ from: 32768, to: 122880, step: 8192 }],
};

export const FARGATE_CPU_VALUES: readonly number[] = Object.keys(ranges).map(Number);

/** Memory values (MiB) Fargate allows for `cpu`; empty when `cpu` itself is not a Fargate value. */
export function allowedMemory(cpu: number): number[] {
  const values: number[] = [];
  for (const { from, to, step } of ranges[cpu] ?? []) {
    for (let memory = from; memory <= to; memory += step) values.push(memory);
  }
  return values;
}
