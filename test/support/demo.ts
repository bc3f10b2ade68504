/**
 * `npm run demo`: one sample job end to end on this machine — the built driver, called stage by stage like
 * gitlab-runner's custom executor, against the local ECS emulator whose task is a network namespace running the
 * job image's real entrypoint and sshd. Prints the job log a GitLab user would see, then shows no task is left.
 */
import { startLocalFargate } from "./localFargate";
import { taskHostUnsupportedReason } from "./netnsTaskHost";

const SAMPLE_JOB = {
  jobId: 4242,
  pipelineId: 1717,
  projectPath: "demo-group/hello-fargate",
  jobName: "test",
  // .gitlab-ci.yml:  test: { script: [...], after_script: [...] }
  script: [
    'echo "Hello from CI job $CI_JOB_ID of $CI_PROJECT_PATH"',
    "echo \"running on $(hostname) at $(ip -4 -o addr show scope global | awk '{print $4}' | head -n1)\"",
    "git log --oneline -1",
    "uname -sm",
  ],
  afterScript: ['echo "after_script: done"'],
};

async function main(): Promise<number> {
  const unsupported = taskHostUnsupportedReason();
  if (unsupported) {
    console.error(`npm run demo ${unsupported}: run it as root, e.g. sudo npm run demo`);
    return 1;
  }
  const fargate = await startLocalFargate();
  try {
    console.log(`Local Fargate: ECS emulator at ${fargate.emulator.endpoint}, driver dist/driver/fargate.js\n`);
    console.log("──────── job log ────────");
    const result = await fargate.runJob(SAMPLE_JOB);
    process.stdout.write(result.log);
    console.log("──────── end of job log ────────\n");
    const seconds = (stage: string) => {
      const run = result.stages.find((candidate) => candidate.stage === stage);
      return run ? `${((run.endedAt - run.startedAt) / 1000).toFixed(2)} s` : "-";
    };
    console.log(
      `status: ${result.status} (exit ${result.exitCode}); prepare ${seconds("prepare")}, cleanup ${seconds("cleanup")}`,
    );
    const tasks = fargate.emulator.tasks();
    for (const task of tasks)
      console.log(`task ${task.taskArn}: ${task.lastStatus} (${task.stoppedReason ?? "no reason"})`);
    const { tasks: left, namespaces } = fargate.leftovers();
    console.log(`tasks left running: ${left.length}; task namespaces left: ${namespaces.length}`);
    const launched = fargate.taskHost.history().length;
    if (launched !== 1) console.log(`expected the job to run in exactly one task, the driver launched ${launched}`);
    return result.status === "success" && launched === 1 && left.length === 0 && namespaces.length === 0 ? 0 : 1;
  } finally {
    await fargate.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
