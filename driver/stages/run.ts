/**
 * The run stage (once per sub-stage): feed gitlab-runner's script to bash in the task over the job's SSH connection,
 * stream its output, and report its exit code. Loads no AWS code: everything it needs is in the job's metadata file.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { BuildFailure, SystemFailure } from "../errors";
import { MetadataStore } from "../metadata";
import { SshPort } from "../ports";
import { IMAGE_TASK } from "../contract/imageTasks";

/**
 * gitlab-runner's own sub-stages (common/build.go): clone, caches, artifacts and file variables, the work of its
 * helper, which ci-coordinator's gitlab-runner and git do. Every other sub-stage runs the job's own commands
 * (`build_script`, `step_<name>`, `after_script`, and any stage a later gitlab-runner adds), as gitlab-runner itself
 * decides: in a task with the job's image they run in the `build` container.
 */
const COORDINATOR_STAGES = new Set([
  "prepare_script",
  "get_sources",
  "clear_worktree",
  "restore_cache",
  "download_artifacts",
  "archive_cache",
  "archive_cache_on_failure",
  "upload_artifacts_on_success",
  "upload_artifacts_on_failure",
  "cleanup_file_variables",
]);

export function runsInBuildContainer(stageName: string): boolean {
  return !COORDINATOR_STAGES.has(stageName);
}

/** What the stage's script is fed to over SSH. */
export function stageCommand(stageName: string, buildContainer: boolean): string {
  if (!buildContainer) return "bash";
  // umask 0000: what ci-coordinator writes to the builds volume stays writable for the image's (any) user.
  return runsInBuildContainer(stageName) ? IMAGE_TASK.enterBuild : "umask 0000 && exec bash";
}

export interface RunDeps {
  scriptPath: string;
  stageName: string;
  metadata: MetadataStore;
  ssh: SshPort;
  out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };
  /** BUILD_EXIT_CODE_FILE, when gitlab-runner set it. */
  buildExitCodeFile?: string;
  /** Aborted on SIGTERM/SIGINT. */
  signal: AbortSignal;
}

export async function runRunStage(deps: RunDeps): Promise<void> {
  const record = deps.metadata.read();
  if (!record) {
    throw new SystemFailure(`no job metadata at ${deps.metadata.path}: prepare did not finish for this job`);
  }
  if (!record.host || !record.hostKey || !record.port || !record.username) {
    throw new SystemFailure(`job metadata ${deps.metadata.path} has no SSH address yet: prepare did not finish`);
  }
  let script: string;
  try {
    script = readFileSync(deps.scriptPath, "utf8");
  } catch (err) {
    throw new SystemFailure(`cannot read the ${deps.stageName} script ${deps.scriptPath}`, { cause: err });
  }
  const target = {
    host: record.host,
    port: record.port,
    username: record.username,
    privateKey: record.privateKey,
    hostKey: record.hostKey,
    connectionDirectory: deps.metadata.connectionDirectory,
  };
  const command = stageCommand(deps.stageName, record.buildContainer === true);
  const exitCode = await deps.ssh.runScript(target, script, deps.out, deps.signal, command);
  if (exitCode !== 0) {
    if (deps.buildExitCodeFile) writeFileSync(deps.buildExitCodeFile, `${exitCode}\n`);
    throw new BuildFailure(exitCode);
  }
}
