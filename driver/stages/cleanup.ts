/**
 * The cleanup stage (always called, also after failures and cancellations): close the job's SSH connection, stop
 * its task and delete its metadata (which holds the key). Idempotent. Without metadata, the job's tasks are found
 * by their startedBy.
 */
import { describeError, SystemFailure } from "../errors";
import { Job, startedByCandidates, startedByFor } from "../job";
import { Logger } from "../log";
import { ForeignMetadata, MetadataStore } from "../metadata";
import { EcsPort, Print, SshPort } from "../ports";
import { stoppedTaskReason } from "../taskReason";
import { Settings } from "../contract/fargateToml";

export interface CleanupDeps {
  settings: Settings;
  job: Job;
  ecs: EcsPort;
  metadata: MetadataStore;
  ssh: Pick<SshPort, "close">;
  print: Print;
  log: Logger;
  signal?: AbortSignal;
}

/** A task that stopped before cleanup (its watchdog, a crash): says why in the job's cleanup output. Best effort. */
async function reportStoppedAlready(deps: CleanupDeps, cluster: string, taskArn: string): Promise<void> {
  try {
    const task = await deps.ecs.describeTask(cluster, taskArn, deps.signal);
    if (task?.lastStatus === "STOPPED")
      deps.print(
        `Task ${taskArn} had already stopped: ${stoppedTaskReason(task, deps.settings.fargate.containerName)}`,
      );
  } catch (err) {
    deps.log.debug("could not describe the task before stopping it", { taskArn, error: describeError(err) });
  }
}

export function cleanupReason(job: Pick<Job, "id">): string {
  return `GitLab job ${job.id}: cleanup`;
}

/**
 * Stops the task named in the metadata first (the one cleanup knows for sure), then every task with the job's
 * startedBy. Every stop is attempted; errors are collected and reported together at the end. The metadata file
 * (it holds the key) is deleted once its task is stopped or gone, and kept otherwise so a later cleanup can retry.
 * A metadata file of another job is a failure before anything is stopped.
 */
export async function runCleanupStage(deps: CleanupDeps): Promise<void> {
  const { settings, job, ecs, print, log, signal } = deps;
  const startedBy = startedByFor(job, settings.managerId);
  let record;
  let corrupt = false;
  try {
    record = deps.metadata.read();
  } catch (err) {
    if (err instanceof ForeignMetadata) throw err;
    corrupt = true;
    log.warn("ignoring unreadable job metadata", { error: describeError(err) });
    print(`Ignoring unreadable job metadata ${deps.metadata.path}; looking for tasks started by ${startedBy}`);
  }
  await deps.ssh.close({
    host: record?.host ?? "task",
    port: record?.port ?? settings.ssh.port,
    username: record?.username ?? settings.ssh.username,
    connectionDirectory: deps.metadata.connectionDirectory,
  });
  const cluster = record?.cluster ?? settings.fargate.cluster;
  const reason = cleanupReason(job);
  const errors: string[] = [];
  const stopped = new Set<string>();
  const stop = async (arn: string, on = cluster): Promise<boolean> => {
    try {
      await ecs.stopTask(on, arn, reason, signal);
      print(`Stopped task ${arn}`);
      stopped.add(arn);
      return true;
    } catch (err) {
      errors.push(describeError(err));
      print(`Could not stop task ${arn}: ${describeError(err)}`);
      return false;
    }
  };

  if (record) await reportStoppedAlready(deps, cluster, record.taskArn);
  const knownStopped = record ? await stop(record.taskArn) : false;
  if (!record && !corrupt) print(`No job metadata at ${deps.metadata.path}; looking for tasks started by ${startedBy}`);

  // Also catches tasks of an interrupted prepare attempt that never reached the metadata file.
  const listed: string[] = [];
  try {
    for (const candidate of startedByCandidates(job, settings.managerId)) {
      listed.push(...(await ecs.listTasksStartedBy(cluster, candidate, signal)));
    }
  } catch (err) {
    // With the metadata, the job's task is dealt with above: a failed search is only a warning then.
    if (!record) errors.push(describeError(err));
    else {
      log.warn("could not look for other tasks of this job", { startedBy, error: describeError(err) });
      print(`Warning: could not look for other tasks started by ${startedBy}: ${describeError(err)}`);
    }
  }
  for (const arn of new Set(listed)) if (arn !== record?.taskArn) await stop(arn);
  // A job that was running while the driver was upgraded: its task and key are in the previous version's file.
  for (const legacy of deps.metadata.legacyRecords(job.id)) {
    if (await stop(legacy.taskArn, legacy.cluster)) legacy.remove();
  }

  if (stopped.size === 0 && errors.length === 0) print(`No running task for job ${job.id}`);
  // A corrupt file names no task anybody could stop: delete it once the startedBy search succeeded.
  if (record ? knownStopped : corrupt && errors.length === 0) deps.metadata.remove();
  if (errors.length > 0) {
    throw new SystemFailure(`cleanup of job ${job.id} failed: ${errors.join("; ")}`);
  }
}
