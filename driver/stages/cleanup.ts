/**
 * The cleanup stage (always called, also after failures and cancellations): stop the job's task and delete its
 * metadata (which holds the key). Idempotent. Without metadata, the job's tasks are found by their startedBy.
 */
import { describeError } from "../errors";
import { Job, startedByFor } from "../job";
import { Logger } from "../log";
import { MetadataStore } from "../metadata";
import { EcsPort, Print } from "../ports";
import { Settings } from "../settings";

export interface CleanupDeps {
  settings: Settings;
  job: Job;
  ecs: EcsPort;
  metadata: MetadataStore;
  print: Print;
  log: Logger;
  signal?: AbortSignal;
}

export function cleanupReason(job: Pick<Job, "id">): string {
  return `GitLab job ${job.id}: cleanup`;
}

export async function runCleanupStage(deps: CleanupDeps): Promise<void> {
  const { settings, job, ecs, print, signal } = deps;
  const startedBy = startedByFor(job);
  let record;
  try {
    record = deps.metadata.read();
  } catch (err) {
    deps.log.warn("ignoring unreadable job metadata", { error: describeError(err) });
  }
  const cluster = record?.cluster ?? settings.fargate.cluster;
  const arns = new Set<string>();
  if (record) arns.add(record.taskArn);
  else print(`No job metadata at ${deps.metadata.path}; looking for tasks started by ${startedBy}`);
  // Also catches tasks of an interrupted prepare attempt that never reached the metadata file.
  for (const arn of await ecs.listTasksStartedBy(cluster, startedBy, signal)) arns.add(arn);
  const reason = cleanupReason(job);
  for (const arn of arns) {
    await ecs.stopTask(cluster, arn, reason, signal);
    print(`Stopped task ${arn}`);
  }
  if (arns.size === 0) print(`No running task for job ${job.id}`);
  deps.metadata.remove();
}
