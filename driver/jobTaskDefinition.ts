/**
 * The task definition a job with its own image or services runs: found by its content-hash family, registered once
 * when missing. Driver processes on one manager take turns through a lock file, so ten jobs starting with a new image
 * register it once (RegisterTaskDefinition is throttled to about one call per second per account); managers that race
 * each other register equal revisions, which is harmless.
 */
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { SystemFailure } from "./errors";
import { ImageTaskOptions, imageTaskDefinition } from "./imageTaskDefinition";
import { JobContainers } from "./jobImages";
import { Clock, TaskDefinitionPort } from "./ports";

export interface JobTaskDefinitionDeps {
  ecs: TaskDefinitionPort;
  clock: Clock;
  /** Where the lock files live (TaskMetadata.Directory: private to the manager's driver). */
  lockDirectory: string;
  signal: AbortSignal;
  /** How long to wait for another process's registration before registering anyway, ms (default 60 s). */
  waitMs?: number;
  /** Polling interval while another process registers, ms (default 500). */
  pollMs?: number;
}

export interface ResolvedTaskDefinition {
  /** `family:revision` for RunTask. */
  taskDefinition: string;
  registered: boolean;
}

/** A lock older than this was left by a process that died while registering. */
const STALE_LOCK_MS = 120_000;

function tryLock(path: string, now: number): boolean {
  try {
    const fd = openSync(path, "wx", 0o600);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  try {
    if (now - statSync(path).mtimeMs > STALE_LOCK_MS) rmSync(path, { force: true });
  } catch {
    // Released meanwhile: the next attempt takes it.
  }
  return false;
}

export async function jobTaskDefinition(
  deps: JobTaskDefinitionDeps,
  baseReference: string,
  containers: Pick<JobContainers, "image" | "services">,
  options: ImageTaskOptions,
): Promise<ResolvedTaskDefinition> {
  const { ecs, clock, signal } = deps;
  const base = await ecs.describeTaskDefinition(baseReference, signal);
  if (!base) throw new SystemFailure(`ECS knows no task definition "${baseReference}" (Fargate.TaskDefinition)`);
  const input = imageTaskDefinition(base, containers, options);
  const family = input.family ?? "";
  const existing = async () => {
    const found = await ecs.describeTaskDefinition(family, signal);
    return found?.revision === undefined ? undefined : `${family}:${found.revision}`;
  };

  mkdirSync(deps.lockDirectory, { recursive: true, mode: 0o700 });
  const lock = join(deps.lockDirectory, `.register-${family}.lock`);
  const deadline = clock.now() + (deps.waitMs ?? 60_000);
  for (;;) {
    const found = await existing();
    if (found) return { taskDefinition: found, registered: false };
    if (tryLock(lock, clock.now())) {
      try {
        const registeredMeanwhile = await existing();
        if (registeredMeanwhile) return { taskDefinition: registeredMeanwhile, registered: false };
        return { taskDefinition: await ecs.registerTaskDefinition(input, signal), registered: true };
      } finally {
        rmSync(lock, { force: true });
      }
    }
    if (clock.now() >= deadline) {
      return { taskDefinition: await ecs.registerTaskDefinition(input, signal), registered: true };
    }
    await clock.sleep(deps.pollMs ?? 500, signal);
  }
}
