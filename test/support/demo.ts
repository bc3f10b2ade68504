/**
 * `npm run demo`: one sample job end to end on this machine — the built driver, called stage by stage like
 * gitlab-runner's custom executor, against the local ECS emulator. Prints the job log a GitLab user would see, then
 * shows no task is left. Two task hosts (see localFargate.ts):
 * - isolated, when this machine can (root + Debian packages) or with `--isolated`: each task is a network namespace
 *   running the job image's real entrypoint and OpenSSH's sshd;
 * - unprivileged otherwise: each task is a loopback address with an in-process SSH server running bash as you.
 * In isolated mode a second job names its own `image:` (a busybox image as a non-root user) and a service; the
 * unprivileged task host cannot run containers, so it skips that job and says why.
 */
import { JobResult, JobSpec } from "./customExecutorHarness";
import { LocalFargate, startLocalFargate, startUnprivilegedLocalFargate } from "./localFargate";
import { imageTaskHostUnsupportedReason, taskHostUnsupportedReason } from "./netnsTaskHost";
import { missingCommand, OPENSSH_CLIENT, TEST_PACKAGES } from "./requirements";
import { TaskLauncher } from "./taskLauncher";
import { busyboxImage, httpServiceImage } from "./testImages";

const SAMPLE_JOB = {
  jobId: 4242,
  pipelineId: 1717,
  projectPath: "demo-group/hello-fargate",
  jobName: "test",
  // .gitlab-ci.yml:  test: { script: [...], after_script: [...] }
  script: [
    'echo "Hello from CI job $CI_JOB_ID of $CI_PROJECT_PATH"',
    'echo "running on $(hostname) as $(id -un), reached over SSH at $(echo "$SSH_CONNECTION" | cut -d " " -f 3,4)"',
    "git log --oneline -1",
    "uname -sm",
  ],
  afterScript: ['echo "after_script: done"'],
};

const DEMO_IMAGE = "registry.example.com/demo/busybox:1";
const DEMO_SERVICE = "registry.example.com/demo/web:1";

/** .gitlab-ci.yml:  test-in-image: { image: …, services: [{ name: …, alias: web }], script: [...] } */
const IMAGE_JOB: JobSpec = {
  jobId: 4243,
  pipelineId: 1717,
  projectPath: "demo-group/hello-fargate",
  jobName: "test-in-image",
  image: DEMO_IMAGE,
  services: [{ name: DEMO_SERVICE, alias: "web" }],
  script: [
    'echo "in $(cat /marker) as $(id -un) (uid $(id -u)), shell: $(readlink -f /bin/sh)"',
    "ls",
    "wget -qO- http://web:8080/",
  ],
};

async function main(args: string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== "--isolated");
  if (unknown.length > 0) {
    console.error(`npm run demo: unknown argument ${unknown.join(" ")} (usage: npm run demo [-- --isolated])`);
    return 2;
  }
  // The job checks out its sources with git, as gitlab-runner does; the driver reaches its task with OpenSSH's ssh.
  const missing = missingCommand("git", "apt-get install git") ?? missingCommand("ssh", OPENSSH_CLIENT);
  if (missing) {
    console.log(`npm run demo is skipped: it ${missing}.`);
    return 0;
  }
  const isolatedUnsupported = taskHostUnsupportedReason();
  if (args.includes("--isolated") && isolatedUnsupported) {
    console.error(
      `npm run demo -- --isolated cannot run here: it ${isolatedUnsupported}. ` +
        `The isolated mode runs as root, after: sudo apt-get install ${TEST_PACKAGES}`,
    );
    return 1;
  }
  if (isolatedUnsupported) {
    console.log(
      "Task host: unprivileged — each task is a loopback address with an in-process SSH server running bash as " +
        `you (isolated mode: ${isolatedUnsupported}).`,
    );
    console.log(
      "The job with its own image: and services: is skipped: the unprivileged task host runs no containers " +
        `(isolated mode: ${isolatedUnsupported}).`,
    );
    return runDemo(await startUnprivilegedLocalFargate(), "task SSH servers", [SAMPLE_JOB]);
  }
  console.log(
    "Task host: isolated — each task is a network namespace running the job image's docker-entrypoint.sh and sshd.",
  );
  const noImages = imageTaskHostUnsupportedReason();
  if (noImages) {
    console.log(`The job with its own image: and services: is skipped: it ${noImages}.`);
    return runDemo(await startLocalFargate(), "task namespaces", [SAMPLE_JOB]);
  }
  const image = busyboxImage({ user: "1000:1000", userName: "builder", marker: `the job's image ${DEMO_IMAGE}` });
  const service = httpServiceImage({ body: `hello from the ${DEMO_SERVICE} service\n` });
  try {
    const fargate = await startLocalFargate({
      images: { [DEMO_IMAGE]: image, [DEMO_SERVICE]: service },
      fargateToml: ['AllowedImages = ["*"]', 'AllowedServices = ["*"]'],
    });
    return await runDemo(fargate, "task namespaces", [SAMPLE_JOB, IMAGE_JOB]);
  } finally {
    image.remove();
    service.remove();
  }
}

async function runDemo<Host extends TaskLauncher & { history(): unknown[] }>(
  fargate: LocalFargate<Host>,
  /** What of a task its host could leave behind. */
  hostLeftovers: "task namespaces" | "task SSH servers",
  jobs: JobSpec[],
): Promise<number> {
  try {
    console.log(`Local Fargate: ECS emulator at ${fargate.emulator.endpoint}, driver dist/driver/fargate.js`);
    let succeeded = 0;
    for (const job of jobs) {
      console.log(`\n──────── job log: ${job.jobName} ────────`);
      const result: JobResult = await fargate.runJob(job);
      process.stdout.write(result.log);
      console.log("──────── end of job log ────────\n");
      const seconds = (stage: string) => {
        const run = result.stages.find((candidate) => candidate.stage === stage);
        return run ? `${((run.endedAt - run.startedAt) / 1000).toFixed(2)} s` : "-";
      };
      console.log(
        `status: ${result.status} (exit ${result.exitCode}); prepare ${seconds("prepare")}, cleanup ${seconds("cleanup")}`,
      );
      if (result.status === "success") succeeded += 1;
    }
    for (const task of fargate.emulator.tasks())
      console.log(`task ${task.taskArn}: ${task.lastStatus} (${task.stoppedReason ?? "no reason"})`);
    const left = fargate.leftovers();
    const hostLeft = left.namespaces.length + left.sshServers.length + left.processes.length;
    console.log(`tasks left running: ${left.tasks.length}; ${hostLeftovers} or job SSH connections left: ${hostLeft}`);
    const launched = fargate.taskHost.history().length;
    if (launched !== jobs.length) console.log(`expected one task per job, the driver launched ${launched}`);
    const ok = succeeded === jobs.length && launched === jobs.length && left.tasks.length === 0 && hostLeft === 0;
    return ok ? 0 : 1;
  } finally {
    await fargate.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
