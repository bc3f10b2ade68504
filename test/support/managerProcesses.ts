/**
 * The driver's processes that outlive a stage (a job's SSH connection), found by the directory their command line
 * names: what a manager would still run for its jobs, and what dies with it.
 */
import { readdirSync, readFileSync } from "node:fs";

/** "<pid> <command line>" of every process whose command line contains `directory`. */
export function processesNaming(directory: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      if (cmdline.includes(directory)) found.push(`${entry} ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** SIGKILLs them: the manager's machine is lost. */
export function killProcessesNaming(directory: string): void {
  for (const line of processesNaming(directory)) {
    try {
      process.kill(Number(line.split(" ")[0]), "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}
