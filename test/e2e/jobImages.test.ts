/**
 * Jobs choose their image: whole jobs with `image:` and `services:` through the built driver, the ECS emulator
 * (which registers the driver's task definitions) and the network-namespace task host, which runs every container
 * of the task: ci-coordinator with the real entrypoint and sshd, the tools container with the real
 * install-job-tools, the job's image from a busybox root filesystem as a non-root user without bash, and a service.
 * Needs root and busybox-static.
 */
import { strict as assert } from "node:assert";
import { LOCAL_TASK_DEFINITION, LocalFargate, LocalFargateOptions, startLocalFargate } from "../support/localFargate";
import { imageTaskHostUnsupportedReason } from "../support/netnsTaskHost";
import { skipUnlessAvailable } from "../support/requirements";
import { busyboxImage, httpServiceImage, TestImage } from "../support/testImages";

const BUILD_IMAGE = "registry.example.com/team/build:1";
const SERVICE_IMAGE = "registry.example.com/team/web:2";
const ALLOW_ALL = ['AllowedImages = ["*"]', 'AllowedServices = ["*"]'];

describe("end to end: jobs with their own image and services", function () {
  this.timeout(300_000);
  let fargate: LocalFargate | undefined;
  let buildImage: TestImage;
  let serviceImage: TestImage;
  let nextJobId = 7000 + Math.floor(Math.random() * 1000) * 100;
  const jobId = () => ++nextJobId;

  before(function () {
    skipUnlessAvailable(this, imageTaskHostUnsupportedReason());
    buildImage = busyboxImage({ user: "1000:1000", userName: "builder", marker: "the job's image" });
    serviceImage = httpServiceImage({ body: "hello from web\n" });
  });
  after(() => {
    buildImage?.remove();
    serviceImage?.remove();
  });
  const start = async (fargateToml = ALLOW_ALL, options: LocalFargateOptions = {}) => {
    fargate = await startLocalFargate({
      images: { [BUILD_IMAGE]: buildImage, [SERVICE_IMAGE]: serviceImage },
      fargateToml,
      ...options,
    });
    return fargate;
  };
  afterEach(async () => {
    const local = fargate;
    fargate = undefined;
    await local?.close();
    if (local)
      assert.deepEqual(local.leftovers(), { tasks: [], namespaces: [], sshServers: [], stateDirs: [], processes: [] });
  });
  const calls = (local: LocalFargate, action: string) =>
    local.emulator.calls.filter((call) => call.action === action && !call.throttled).length;

  it("runs the job's commands in its image, as its user, on the sources get_sources cloned; ci-coordinator sees what they left", async () => {
    const local = await start();
    const result = await local.runJob({
      jobId: jobId(),
      image: BUILD_IMAGE,
      script: [
        'echo "uid $(id -u)"',
        "cat /marker",
        "test ! -e /usr/sbin/sshd && echo no-sshd-here",
        "cat README.md",
        "echo made-in-the-image > out.txt",
      ],
      afterScript: ['echo "after_script as $(id -un)"'],
      stageCommands: {
        upload_artifacts_on_success: [
          'echo "artifacts stage: $(cat out.txt), owner $(stat -c %u out.txt)"',
          "test -x /usr/sbin/sshd && test ! -e /marker && echo artifacts-stage-in-ci-coordinator",
        ],
      },
    });
    assert.equal(result.status, "success", result.log);
    const lines = result.log.split("\n");
    for (const line of [
      "uid 1000",
      "the job's image",
      "no-sshd-here",
      "demo",
      "after_script as builder",
      "artifacts stage: made-in-the-image, owner 1000",
      "artifacts-stage-in-ci-coordinator",
    ]) {
      assert.ok(lines.includes(line), `the job log has "${line}"\n${result.log}`);
    }
    assert.match(
      result.log,
      /Using image registry\.example\.com\/team\/build:1 \(task definition ci-coordinator-image-[0-9a-f]{16}:1, registered\)/,
    );
    assert.match(result.log, /Scripts run in the build container/);
  });

  it("reaches services at their aliases and on 127.0.0.1, with their own entrypoint, command and variables", async () => {
    const local = await start();
    const greeter = {
      name: SERVICE_IMAGE,
      alias: "greeter",
      entrypoint: ["/bin/sh", "-c"],
      command: ['mkdir -p /tmp/w && echo "$GREETING" > /tmp/w/index.html && exec httpd -f -p 9090 -h /tmp/w'],
      variables: { GREETING: "hello from the greeter" },
    };
    const result = await local.runJob({
      jobId: jobId(),
      image: BUILD_IMAGE,
      services: [{ name: SERVICE_IMAGE, alias: "web" }, greeter],
      script: [
        "wget -qO- http://web:8080/",
        "wget -qO- http://127.0.0.1:8080/",
        "wget -qO- http://registry.example.com-team-web:8080/",
        "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://greeter:9090/ && break; sleep 1; done",
        'echo "job sees GREETING=${GREETING:-unset}"',
      ],
    });
    assert.equal(result.status, "success", result.log);
    const lines = result.log.split("\n");
    assert.equal(lines.filter((line) => line === "hello from web").length, 3, result.log);
    assert.ok(lines.includes("hello from the greeter"), result.log);
    assert.ok(lines.includes("job sees GREETING=unset"), "service variables stay with the service");
    assert.match(
      result.log,
      /Service registry\.example\.com\/team\/web:2 as web, registry\.example\.com__team__web, registry\.example\.com-team-web \(container service-0\)/,
    );
    const [definition] = local.emulator.taskDefinitions().filter((td) => td.family !== "ci-coordinator");
    assert.ok(
      !JSON.stringify(definition).includes("hello from the greeter"),
      "variables are not in the task definition",
    );
  });

  it("refuses an image outside AllowedImages before any task starts, naming the list", async () => {
    const local = await start(['AllowedImages = ["registry.example.com/approved/*"]']);
    const result = await local.runJob({ jobId: jobId(), image: BUILD_IMAGE, script: ["echo must-not-run"] });
    assert.equal(result.status, "build_failure", result.log);
    assert.match(
      result.log,
      /image "registry\.example\.com\/team\/build:1" is not allowed on this runner: Fargate\.AllowedImages = \["registry\.example\.com\/approved\/\*"\]/,
    );
    assert.equal(calls(local, "RunTask"), 0);
    assert.ok(!result.log.includes("must-not-run"));
  });

  it("fails the job (not the system) with ECS's CannotPullContainerError when its image cannot be pulled", async () => {
    const local = await start();
    const missing = "registry.example.com/team/missing:1";
    const result = await local.runJob({ jobId: jobId(), image: missing, script: ["true"] });
    assert.equal(result.status, "build_failure", result.log);
    assert.match(result.log, /CannotPullContainerError: .*registry\.example\.com\/team\/missing:1/);
    assert.equal(result.stages.filter((s) => s.stage === "prepare").length, 1, "not retried");
  });

  it("registers a new image once when ten jobs with it start together", async () => {
    const local = await start();
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        local.runJob({ jobId: jobId(), image: BUILD_IMAGE, script: ['echo "in $(cat /marker)"'] }),
      ),
    );
    for (const result of results) assert.equal(result.status, "success", result.log);
    assert.equal(calls(local, "RegisterTaskDefinition"), 1);
    assert.equal(results.filter((r) => /, registered\)/.test(r.log)).length, 1);
    assert.equal(results.filter((r) => /, reused\)/.test(r.log)).length, 9);
  });

  it("runs a job without image: exactly as before: the configured task definition, no task definition call", async () => {
    const local = await start();
    const result = await local.runJob({ jobId: jobId(), script: ["test -x /usr/sbin/sshd && echo in-ci-coordinator"] });
    assert.equal(result.status, "success", result.log);
    assert.ok(result.log.split("\n").includes("in-ci-coordinator"), result.log);
    assert.equal(calls(local, "DescribeTaskDefinition") + calls(local, "RegisterTaskDefinition"), 0);
    const [task] = local.emulator.tasks();
    assert.ok(task.taskDefinitionArn.endsWith(`task-definition/${LOCAL_TASK_DEFINITION}`), task.taskDefinitionArn);
  });

  it("ignores image: when the runner does not allow images, and says so (GitLab's Go driver's behaviour)", async () => {
    const local = await start([]);
    const result = await local.runJob({
      jobId: jobId(),
      image: BUILD_IMAGE,
      script: ["test -x /usr/sbin/sshd && echo in-ci-coordinator"],
    });
    assert.equal(result.status, "success", result.log);
    assert.match(
      result.log,
      /Ignoring image "registry\.example\.com\/team\/build:1": this runner does not set Fargate\.AllowedImages/,
    );
    assert.ok(result.log.split("\n").includes("in-ci-coordinator"));
  });
});
