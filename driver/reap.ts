/**
 * `fargate --config F reap`: stop every task this manager started. The manager's gitlab-runner runs it before it
 * starts (boot, crash, restart): every job this manager was running is gone by then, and so is any reason for its
 * task to run. Tasks are recognised by the gitlab:manager tag (fargate.toml Manager.ID); other managers' tasks in the
 * same cluster are left alone. The jobs' SSH connections left in the metadata directory are closed and their files
 * (which hold the jobs' keys) deleted.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describeError, SystemFailure } from "./errors";
import { isConnectionDirectoryName, MANAGER_TAG } from "./job";
import { EcsPort, Print, ReapPort, SshPort } from "./ports";
import { Settings } from "./contract/fargateToml";

export interface ReapDeps {
  settings: Settings;
  ecs: Pick<EcsPort, "stopTask"> & ReapPort;
  ssh: Pick<SshPort, "close">;
  print: Print;
  signal?: AbortSignal;
}

export function reapReason(managerId: string): string {
  return `gitlab-runner restarted on manager ${managerId}: its jobs are gone`;
}

/** Stops this manager's tasks; every stop is attempted, failures are reported together at the end. */
export async function reapManagerTasks({ settings, ecs, ssh, print, signal }: ReapDeps): Promise<void> {
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
  await closeLeftoverConnections(settings, ssh, print);
  if (errors.length > 0) throw new SystemFailure(`could not stop ${errors.length} tasks: ${errors.join("; ")}`);
}

/** Job connection directories (MetadataStore.connectionDirectory) left by jobs that ended with their manager. */
async function closeLeftoverConnections(settings: Settings, ssh: Pick<SshPort, "close">, print: Print): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(settings.metadataDirectory).filter(isConnectionDirectoryName);
  } catch {
    return; // no metadata directory: no job ever ran here
  }
  for (const name of names) {
    const { port, username } = settings.ssh;
    await ssh.close({ host: "task", port, username, connectionDirectory: join(settings.metadataDirectory, name) });
  }
  if (names.length > 0) print(`Closed ${names.length} SSH connections of jobs this manager ran`);
}
