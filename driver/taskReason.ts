/** How a stopped task is described to the user (job log, cleanup, reap). Pure. */
import { taskLifetimeExitReason } from "./contract/taskLifetime";
import { TaskView } from "./ports";

/** The user-facing reason of a stopped task: stoppedReason plus every container's reason and exit code. */
export function stoppedTaskReason(task: TaskView): string {
  const parts = [task.stoppedReason ?? task.stopCode ?? "no reason given"];
  for (const c of task.containers) {
    const exit = c.exitCode === undefined ? undefined : `exit code ${c.exitCode}`;
    const details = [c.reason, exit, taskLifetimeExitReason(c.exitCode)].filter(Boolean);
    if (details.length > 0) parts.push(`container ${c.name ?? "?"}: ${details.join(", ")}`);
  }
  return parts.join("; ");
}
