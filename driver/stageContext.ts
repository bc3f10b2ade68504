/** What every stage gets from the command line, and the pieces more than one stage builds from it. */
import { ExitCodes } from "./errors";
import { Job, readJob } from "./job";
import { Logger } from "./log";
import { MetadataStore } from "./metadata";
import { SshPort } from "./ports";
import { createSshPort } from "./ssh";
import { Settings } from "./contract/fargateToml";

export interface StageContext {
  stage?: "config" | "prepare" | "run" | "cleanup" | "reap";
  /** run only: the script gitlab-runner generated, and the sub-stage name. */
  scriptPath?: string;
  stageName?: string;
  settings: Settings;
  codes: ExitCodes;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGTERM/SIGINT. */
  signal: AbortSignal;
}

/** The job gitlab-runner runs (from JOB_RESPONSE_FILE) and its metadata file. */
export function jobFiles(ctx: Pick<StageContext, "env" | "settings">): { job: Job; metadata: MetadataStore } {
  const job = readJob(ctx.env);
  return { job, metadata: new MetadataStore(ctx.settings.metadataDirectory, job) };
}

/**
 * How long a job's connection stays open without a session. Stages follow each other within seconds, and a later
 * stage reconnects when it is gone; while it is open, the task's idle clock does not run.
 */
export const CONNECTION_PERSIST_SECONDS = 60;

export function sshPortFor(settings: Settings): SshPort {
  return createSshPort({ persistSeconds: Math.min(CONNECTION_PERSIST_SECONDS, settings.timeouts.taskIdleSeconds) });
}
