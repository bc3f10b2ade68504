/**
 * The stages that call AWS: prepare, cleanup and reap. The entry point imports this module only for them, and its
 * ECS port requires the AWS SDK's own bundle (dist/driver/awsSdk.js) only then: `config` and `run` never parse it.
 */
import { jobContainers } from "./jobImages";
import { jobOverrides } from "./job";
import { Print } from "./ports";
import { reapManagerTasks } from "./reap";
import { runCleanupStage } from "./stages/cleanup";
import { runPrepareStage } from "./stages/prepare";
import { systemClock } from "./clock";
import { createEcsPort } from "./ecs";
import { waitUntilListening } from "./portProbe";
import { generateEd25519KeyPair } from "./sshKeys";
import { jobFiles, sshPortFor, StageContext } from "./stageContext";
import { Settings } from "./contract/fargateToml";

function createEcs(settings: Settings) {
  // The SDK warns about node 20 on every process; the job log is not the place for it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return createEcsPort({ region: settings.fargate.region });
}

export async function runAwsStage(stage: "prepare" | "cleanup" | "reap", ctx: StageContext, print: Print) {
  const { settings, log, signal } = ctx;
  const ecs = createEcs(settings);
  try {
    switch (stage) {
      case "prepare": {
        for (const notice of settings.notices) log.info(notice);
        const { job, metadata } = jobFiles(ctx);
        await runPrepareStage({
          settings,
          job,
          overrides: jobOverrides(ctx.env, settings.fargate),
          containers: jobContainers(ctx.env, settings.fargate),
          ecs,
          taskDefinitions: ecs,
          ssh: sshPortFor(settings),
          listening: (host, port, signal) => waitUntilListening(host, port, signal),
          clock: systemClock,
          metadata,
          generateKeyPair: () => generateEd25519KeyPair(`gitlab-job-${job.id}`),
          print,
          log,
          signal,
        });
        return;
      }
      case "cleanup": {
        const { job, metadata } = jobFiles(ctx);
        // Cleanup is not cancelled by a signal: stopping the task is the point of it.
        await runCleanupStage({ settings, job, ecs, metadata, ssh: sshPortFor(settings), print, log });
        return;
      }
      case "reap":
        await reapManagerTasks({ settings, ecs, ssh: sshPortFor(settings), print, signal });
        return;
    }
  } finally {
    ecs.destroy();
  }
}
