/** How a stopped task is described to the user (job log, cleanup, reap). Pure. */
import { taskLifetimeExitReason } from "./contract/taskLifetime";
import { TaskView } from "./ports";

/**
 * The user-facing reason of a stopped task: stoppedReason plus every container's reason and exit code, and what the
 * exit code of `coordinatorName` means when its watchdog stopped the task.
 */
export function stoppedTaskReason(task: TaskView, coordinatorName: string): string {
  const parts = [task.stoppedReason ?? task.stopCode ?? "no reason given"];
  for (const c of task.containers) {
    const exit = c.exitCode === undefined ? undefined : `exit code ${c.exitCode}`;
    const watchdog = c.name === coordinatorName ? taskLifetimeExitReason(c.exitCode) : undefined;
    const details = [c.reason, exit, watchdog].filter(Boolean);
    if (details.length > 0) parts.push(`container ${c.name ?? "?"}: ${details.join(", ")}`);
  }
  return parts.join("; ");
}
