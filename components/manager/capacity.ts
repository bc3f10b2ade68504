/**
 * How many jobs at once a manager instance can hold in memory. Every running job has one driver stage process
 * (`node fargate.js … custom <stage>`) at a time on the manager; the largest is `prepare`, which loads the AWS SDK.
 * So `runner.concurrent` jobs need about `runner.concurrent × DRIVER_JOB_RSS_MIB` next to the OS and gitlab-runner.
 *
 * Pure functions: no Pulumi, no I/O.
 */

/**
 * Peak resident memory (MiB) of one job's largest driver stage process, `prepare`, measured with GNU time's
 * `%M` on whole jobs run through the custom-executor harness: 84.5 MiB (Node.js 20), rounded up. The figure, the
 * command and the machine: docs/benchmarks.md, "Per-job memory on the manager".
 */
export const DRIVER_JOB_RSS_MIB = 85;

/**
 * Memory (MiB) kept for everything but the jobs' driver processes: Ubuntu with its agents, gitlab-runner itself,
 * the page cache it needs, and the kernel's share (an instance's usable memory is below its nominal size).
 */
export const MANAGER_MEMORY_RESERVE_MIB = 512;

/** Burstable families: nominal memory in GiB by size (the same in t2, t3, t3a and t4g). */
const BURSTABLE_GIB: Record<string, number> = {
  nano: 0.5,
  micro: 1,
  small: 2,
  medium: 4,
  large: 8,
  xlarge: 16,
  "2xlarge": 32,
};
const BURSTABLE_FAMILIES = ["t2", "t3", "t3a", "t4g"];

/** Families whose memory is a fixed multiple of their vCPUs: GiB per vCPU. */
const GIB_PER_VCPU: Record<string, number> = {
  ...perVcpu(2, "a1", "c5", "c5a", "c5d", "c6i", "c6id", "c6a", "c6g", "c6gd", "c7i", "c7i-flex", "c7a", "c7g", "c7gd"),
  ...perVcpu(2, "c8g"),
  ...perVcpu(4, "m5", "m5a", "m5d", "m5ad", "m5n", "m6i", "m6id", "m6a", "m6g", "m6gd", "m7i", "m7i-flex", "m7a"),
  ...perVcpu(4, "m7g", "m7gd", "m8g"),
  ...perVcpu(8, "r5", "r5a", "r5d", "r6i", "r6id", "r6a", "r6g", "r6gd", "r7i", "r7a", "r7g", "r7gd", "r8g"),
};

function perVcpu(gib: number, ...families: string[]): Record<string, number> {
  return Object.fromEntries(families.map((family) => [family, gib]));
}

/** vCPUs by size, for the families above (`medium` exists only in Graviton families, and a1). */
const VCPUS: Record<string, number> = {
  medium: 1,
  large: 2,
  xlarge: 4,
  "2xlarge": 8,
  "4xlarge": 16,
  "8xlarge": 32,
  "12xlarge": 48,
  "16xlarge": 64,
};

/** Graviton families (and a1) have a `medium` size; the x86 families of the table start at `large`. */
function hasMedium(family: string): boolean {
  return family === "a1" || /g[a-z]*$/.test(family);
}

/**
 * Nominal memory of an EC2 instance type in MiB, or undefined when this module does not know the type: the
 * burstable t2/t3/t3a/t4g (nano to 2xlarge) and the general-purpose, compute and memory families of the last
 * generations (m5…m8g, c5…c8g, r5…r8g, a1; medium or large to 16xlarge).
 * @see https://aws.amazon.com/ec2/instance-types/
 */
export function instanceMemoryMiB(instanceType: string): number | undefined {
  const [family, size, ...rest] = instanceType.split(".");
  if (rest.length > 0 || family === undefined || size === undefined) return undefined;
  if (BURSTABLE_FAMILIES.includes(family)) {
    const gib = BURSTABLE_GIB[size];
    return gib === undefined ? undefined : gib * 1024;
  }
  const perVcpu = GIB_PER_VCPU[family];
  const vcpus = VCPUS[size];
  if (perVcpu === undefined || vcpus === undefined) return undefined;
  if (size === "medium" && !hasMedium(family)) return undefined;
  if (family === "a1" && vcpus > 16) return undefined;
  return perVcpu * vcpus * 1024;
}

/** Jobs at once that `memoryMiB` of instance memory holds: what is left after the reserve, per job. */
export function jobsThatFit(memoryMiB: number): number {
  return Math.max(0, Math.floor((memoryMiB - MANAGER_MEMORY_RESERVE_MIB) / DRIVER_JOB_RSS_MIB));
}

/** The outcome of {@link checkConcurrency}. */
export type ConcurrencyCheck =
  | { kind: "fits"; capacity: number }
  | { kind: "refused"; capacity: number; message: string }
  | { kind: "unknown"; message: string };

/** The sizes of a known family, smallest first, that hold `concurrent` jobs. */
function largerSizes(instanceType: string, concurrent: number): string[] {
  const [family] = instanceType.split(".");
  const sizes = BURSTABLE_FAMILIES.includes(family) ? Object.keys(BURSTABLE_GIB) : Object.keys(VCPUS);
  return sizes
    .map((size) => `${family}.${size}`)
    .filter((type) => {
      const memory = instanceMemoryMiB(type);
      return memory !== undefined && jobsThatFit(memory) >= concurrent;
    });
}

/**
 * Whether a manager of `instanceType` can hold `concurrent` jobs at once, with a message naming the numbers when it
 * cannot (refused) or when the type's memory is unknown here (then it is not checked).
 */
export function checkConcurrency(instanceType: string, concurrent: number): ConcurrencyCheck {
  const memory = instanceMemoryMiB(instanceType);
  const perJob = `${DRIVER_JOB_RSS_MIB} MiB`;
  if (memory === undefined) {
    return {
      kind: "unknown",
      message:
        `the memory of manager.instanceType "${instanceType}" is not known to this component, so runner.concurrent ` +
        `${concurrent} is not checked against it: each running job needs about ${perJob} on the manager (its ` +
        `driver process), next to ${MANAGER_MEMORY_RESERVE_MIB} MiB for the OS and gitlab-runner, so the instance ` +
        `needs at least ${MANAGER_MEMORY_RESERVE_MIB + concurrent * DRIVER_JOB_RSS_MIB} MiB`,
    };
  }
  const capacity = jobsThatFit(memory);
  if (concurrent <= capacity) return { kind: "fits", capacity };
  const bigger = largerSizes(instanceType, concurrent)[0];
  const held = capacity === 0 ? "cannot hold a single job" : `holds at most ${capacity} jobs at once`;
  return {
    kind: "refused",
    capacity,
    message:
      `${concurrent} jobs at once need about ${concurrent} × ${perJob} = ${concurrent * DRIVER_JOB_RSS_MIB} MiB ` +
      `for their driver processes, and ${instanceType} (${memory} MiB, of which ${MANAGER_MEMORY_RESERVE_MIB} MiB ` +
      `stay for the OS and gitlab-runner) ${held}: (${memory} − ${MANAGER_MEMORY_RESERVE_MIB}) / ` +
      `${DRIVER_JOB_RSS_MIB} = ${capacity}. Lower runner.concurrent` +
      (capacity > 0 ? ` to ${capacity}` : "") +
      (bigger ? `, or choose a larger manager.instanceType such as ${bigger}` : ", or choose a larger instance type") +
      (capacity > 0 ? ", or spread the jobs over more managers (manager.count)" : ""),
  };
}
