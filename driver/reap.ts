/**
 * `fargate --config F reap`: stop every task this manager started. The manager's gitlab-runner runs it before it
 * starts (boot, crash, restart): every job this manager was running is gone by then, and so is any reason for its
 * task to run. Tasks are recognised by the gitlab:manager tag (fargate.toml Manager.ID); other managers' tasks in the
 * same cluster are left alone.
 */
import { describeError, SystemFailure } from "./errors";
import { MANAGER_TAG } from "./job";
import { EcsPort, Print, ReapPort } from "./ports";
import { Settings } from "./contract/fargateToml";

export interface ReapDeps {
  settings: Settings;
  ecs: Pick<EcsPort, "stopTask"> & ReapPort;
  print: Print;
  signal?: AbortSignal;
}

export function reapReason(managerId: string): string {
  return `gitlab-runner restarted on manager ${managerId}: its jobs are gone`;
}

/** Stops this manager's tasks; every stop is attempted, failures are reported together at the end. */
export async function reapManagerTasks({ settings, ecs, print, signal }: ReapDeps): Promise<void> {
  const managerId = settings.managerId;
  if (managerId === undefined) {
    throw new SystemFailure("reap needs Manager.ID in fargate.toml: without it no task says which manager started it");
  }
  const cluster = settings.fargate.cluster;
  const running = await ecs.listRunningTasks(cluster, signal);
  const tags = running.length > 0 ? await ecs.taskTags(cluster, running, signal) : new Map();
  const mine = running.filter((arn) => tags.get(arn)?.[MANAGER_TAG] === managerId);
  const errors: string[] = [];
  for (const arn of mine) {
    try {
      await ecs.stopTask(cluster, arn, reapReason(managerId), signal);
      print(`Stopped task ${arn}`);
    } catch (err) {
      errors.push(`${arn}: ${describeError(err)}`);
    }
  }
  print(
    `Reaped ${mine.length - errors.length} of ${mine.length} tasks of manager ${managerId} in cluster ${cluster} ` +
      `(${running.length - mine.length} other running tasks left alone)`,
  );
  if (errors.length > 0) throw new SystemFailure(`could not stop ${errors.length} tasks: ${errors.join("; ")}`);
}
