/**
 * The network-namespace task host running a task definition shaped like a job with `image:` and `services:`
 * (pidMode task, tools/builds volumes, gitlab-tools → build dependsOn SUCCESS, a service), started through the ECS
 * emulator with the real AWS SDK and checked from inside ci-coordinator over OpenSSH, as the driver reaches it.
 * Needs root and busybox-static.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  ContainerDefinition,
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  StopTaskCommand,
  Task,
} from "@aws-sdk/client-ecs";
import { EcsEmulator, startEcsEmulator } from "../support/ecsEmulator";
import { ciCoordinatorTaskDefinition } from "../support/ecsTaskDefinitions";
import { ciCoordinatorImage, FARGATE_DEFAULT_CAPABILITIES } from "../support/netnsContainers";
import { imageTaskHostUnsupportedReason, NetnsTaskHost } from "../support/netnsTaskHost";
import { skipUnlessAvailable } from "../support/requirements";
import { busyboxImage, httpServiceImage, TestImage } from "../support/testImages";
import { generateKeyPair, KeyPair, ssh } from "../image/opensshClient";

const BUILD_IMAGE = "registry.example.com/team/build:1";
const SERVICE_IMAGE = "registry.example.com/team/web:2";
const PAUSE = "/gitlab-fargate-tools/busybox sleep 2147483647";
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

/** Capability names of a /proc/<pid>/status mask ("CapBnd" etc.), e.g. 0x80000 → SYS_PTRACE. */
const CAPABILITY_BITS: Record<string, number> = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  NET_BIND_SERVICE: 10,
  NET_RAW: 13,
  SYS_CHROOT: 18,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  MKNOD: 27,
  AUDIT_WRITE: 29,
  SETFCAP: 31,
};
function capabilities(statusText: string, field: string): string[] {
  const mask = BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)$`, "m").exec(statusText)?.[1] ?? "0"}`);
  return Object.entries(CAPABILITY_BITS)
    .filter(([, bit]) => (mask >> BigInt(bit)) & 1n)
    .map(([name]) => name)
    .sort();
}

/** The driver's kind of task definition for a job with `image:` and one service. */
function jobTaskDefinition(options: { tools?: Partial<ContainerDefinition>; coordinatorPtrace?: boolean } = {}) {
  const base = ciCoordinatorTaskDefinition({ family: "ci-image-test" });
  const coordinator = base.containerDefinitions?.[0] as ContainerDefinition;
  const tools = { sourceVolume: "gitlab-tools", containerPath: "/gitlab-fargate-tools" };
  const builds = { sourceVolume: "gitlab-builds", containerPath: "/opt/gitlab-runner/builds", readOnly: false };
  const input: RegisterTaskDefinitionCommandInput = {
    ...base,
    pidMode: "task",
    volumes: [{ name: "gitlab-builds" }, { name: "gitlab-tools" }],
    containerDefinitions: [
      {
        name: "gitlab-tools",
        image: coordinator.image,
        essential: false,
        entryPoint: ["/usr/local/bin/install-job-tools"],
        command: ["/gitlab-fargate-tools"],
        mountPoints: [{ ...tools, readOnly: false }],
        ...options.tools,
      },
      {
        ...coordinator,
        mountPoints: [builds, { ...tools, readOnly: true }],
        ...(options.coordinatorPtrace === false ? {} : { linuxParameters: { capabilities: { add: ["SYS_PTRACE"] } } }),
      },
      {
        name: "build",
        image: BUILD_IMAGE,
        essential: true,
        entryPoint: PAUSE.split(" "),
        command: [],
        environment: [{ name: "FROM_DEFINITION", value: "build-td" }],
        mountPoints: [builds, { ...tools, readOnly: true }],
        dependsOn: [{ containerName: "gitlab-tools", condition: "SUCCESS" }],
      },
      { name: "service-0", image: SERVICE_IMAGE, essential: false },
    ],
  };
  return input;
}

describe("task host: a task of several containers (pidMode task, volumes, dependsOn, images)", function () {
  this.timeout(60_000);
  let host: NetnsTaskHost;
  let emulator: EcsEmulator;
  let ecs: ECSClient;
  let key: KeyPair;
  let buildImage: TestImage;
  let serviceImage: TestImage;

  before(function () {
    skipUnlessAvailable(this, imageTaskHostUnsupportedReason());
    key = generateKeyPair();
    buildImage = busyboxImage({ user: "1000:1000", userName: "builder", marker: "the build image" });
    serviceImage = httpServiceImage({ port: 8080, body: "hello from the service\n" });
  });
  after(() => {
    key?.dispose();
    buildImage?.remove();
    serviceImage?.remove();
  });

  beforeEach(async () => {
    host = new NetnsTaskHost({ images: { [BUILD_IMAGE]: buildImage, [SERVICE_IMAGE]: serviceImage } });
    emulator = await startEcsEmulator({ launcher: host });
    ecs = new ECSClient({ region: "eu-west-1", endpoint: emulator.endpoint, credentials, maxAttempts: 1 });
  });
  afterEach(async () => {
    ecs?.destroy();
    await emulator?.close();
    await host?.stopAll();
    assert.deepEqual(host.leftoverNamespaces(), [], "no task network namespace is left");
    assert.deepEqual(host.leftoverStateDirs(), [], "no task state directory is left");
  });

  async function runTask(definition: RegisterTaskDefinitionCommandInput): Promise<string> {
    const registered = await ecs.send(new RegisterTaskDefinitionCommand(definition));
    const out = await ecs.send(
      new RunTaskCommand({
        cluster: "c",
        taskDefinition: registered.taskDefinition?.taskDefinitionArn,
        networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-1"] } },
        overrides: {
          containerOverrides: [
            { name: "ci-coordinator", environment: [{ name: "SSH_PUBLIC_KEY", value: key.publicKey }] },
            { name: "service-0", environment: [{ name: "SERVICE_VARIABLE", value: "from-override" }] },
          ],
        },
      }),
    );
    return out.tasks?.[0]?.taskArn ?? "";
  }

  async function waitFor(arn: string, status: string): Promise<Task> {
    for (let i = 0; i < 1500; i++) {
      const out = await ecs.send(new DescribeTasksCommand({ cluster: "c", tasks: [arn] }));
      const task = out.tasks?.[0];
      if (task?.lastStatus === status) return task;
      if (task?.lastStatus === "STOPPED") assert.fail(`task stopped: ${task.stoppedReason}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`task ${arn} never reached ${status}`);
  }

  /** A shell command over SSH as root in ci-coordinator; fails the test unless it exits 0. */
  async function inCoordinator(ip: string, command: string): Promise<string> {
    const result = await ssh(ip, command, key.privateKeyFile);
    assert.equal(result.code, 0, `${command}\n${result.stderr}`);
    return result.stdout;
  }

  /** From ci-coordinator: the pause's PID (PPid 0 and the pause's exact command line, as enter-build-container). */
  const FIND_PAUSE = `for p in /proc/[0-9]*; do
  [ "$(awk '/^PPid:/ {print $2}' "$p/status" 2>/dev/null)" = 0 ] || continue
  [ "$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null)" = '${PAUSE} ' ] && echo "\${p#/proc/}"
done; true`;

  it("runs every container in one PID namespace and one network: entry processes PPid 0, a service at 127.0.0.1", async () => {
    const arn = await runTask(jobTaskDefinition());
    const task = await waitFor(arn, "RUNNING");
    const ip = task.containers?.[0]?.networkInterfaces?.[0]?.privateIpv4Address ?? "";
    await host.waitForListening(arn.split("/").pop() ?? "");
    assert.equal(await inCoordinator(ip, "busybox wget -qO- http://127.0.0.1:8080/"), "hello from the service\n");
    // Every container's entry process is in ci-coordinator's PID namespace with PPid 0.
    const processes = await inCoordinator(
      ip,
      `for p in /proc/[0-9]*; do echo "$(awk '/^PPid:/ {print $2}' $p/status) $(awk '/^Uid:/ {print $2}' $p/status) $(tr '\\0' ' ' < $p/cmdline)"; done`,
    );
    const entries = processes
      .split("\n")
      .filter((line) => line.startsWith("0 "))
      .map((line) => line.trim());
    assert.ok(entries.includes("0 0 /usr/bin/tini -- /usr/local/bin/docker-entrypoint.sh"), processes);
    assert.ok(entries.includes(`0 1000 ${PAUSE}`), `the pause runs as the image's user\n${processes}`);
    assert.ok(entries.includes("0 101 httpd -f -v -p 8080 -h /www"), processes);
    const sshd = processes.split("\n").find((line) => line.includes("sshd: /usr/sbin/sshd"));
    assert.ok(sshd && !sshd.startsWith("0 "), "what a container starts has a parent inside the namespace");
    const described = await ecs.send(new DescribeTasksCommand({ cluster: "c", tasks: [arn] }));
    assert.deepEqual(
      described.tasks?.[0]?.containers?.map((c) => [c.name, c.lastStatus, c.exitCode]),
      [
        ["gitlab-tools", "STOPPED", 0],
        ["ci-coordinator", "RUNNING", undefined],
        ["build", "RUNNING", undefined],
        ["service-0", "RUNNING", undefined],
      ],
      "gitlab-tools exited 0 and the task runs on",
    );
  });

  it("starts build after gitlab-tools succeeded, as the image's user, on its rootfs, with the volumes and its environment", async () => {
    const arn = await runTask(jobTaskDefinition());
    const task = await waitFor(arn, "RUNNING");
    const ip = task.containers?.[0]?.networkInterfaces?.[0]?.privateIpv4Address ?? "";
    const info = host.host(arn.split("/").pop() ?? "");
    await host.waitForListening(info?.taskId ?? "");
    const pause = (await inCoordinator(ip, FIND_PAUSE)).trim();
    assert.match(pause, /^\d+$/, "exactly one pause");
    // The tools volume holds what gitlab-tools installed before build started (build's first process is it).
    assert.equal(
      (await inCoordinator(ip, "sha256sum < /gitlab-fargate-tools/busybox")).split(" ")[0],
      createHash("sha256").update(readFileSync("/bin/busybox")).digest("hex"),
    );
    await inCoordinator(ip, "mkdir -m 0777 /opt/gitlab-runner/builds/project");
    const inBuild = await inCoordinator(
      ip,
      `nsenter --target ${pause} --root --wd --setuid 1000 --setgid 1000 /gitlab-fargate-tools/busybox sh -c ` +
        `'id -u; id -g; cat /marker; echo written-by-build > /opt/gitlab-runner/builds/project/file; ` +
        `touch /gitlab-fargate-tools/x 2>/dev/null && echo tools-writable || echo tools-read-only; [ -e /bin/bash ] || echo no-bash'`,
    );
    assert.deepEqual(inBuild.trim().split("\n").slice(0, 5), [
      "1000",
      "1000",
      "the build image",
      "tools-read-only",
      "no-bash",
    ]);
    assert.equal(await inCoordinator(ip, "cat /opt/gitlab-runner/builds/project/file"), "written-by-build\n");
    const environment = (await inCoordinator(ip, `tr '\\0' '\\n' < /proc/${pause}/environ`)).trim().split("\n").sort();
    assert.deepEqual(environment, [
      "FROM_DEFINITION=build-td",
      "HOME=/home/builder",
      `HOSTNAME=${info?.hostname}`,
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]);
    const mounts = await inCoordinator(ip, `cat /proc/${pause}/mountinfo`);
    assert.match(mounts, / \/gitlab-fargate-tools ro,/, "the tools volume is read-only in build");
    assert.match(mounts, / \/opt\/gitlab-runner\/builds rw,/);
    // /etc/hosts of build is its own and writable (enter-build-container --hosts adds aliases there).
    await inCoordinator(ip, `echo '127.0.0.1 db' >> /proc/${pause}/root/etc/hosts`);
    assert.match(await inCoordinator(ip, `cat /proc/${pause}/root/etc/hosts`), /127\.0\.0\.1 db/);
    assert.ok(
      !readFileSync(join(buildImage.rootfs, "etc/hosts"), "utf8").includes(" db"),
      "the image's rootfs is unchanged",
    );
  });

  it("gives containers Fargate's capabilities: the default set, ci-coordinator's SYS_PTRACE, none for a non-root user", async () => {
    const arn = await runTask(jobTaskDefinition());
    const task = await waitFor(arn, "RUNNING");
    const ip = task.containers?.[0]?.networkInterfaces?.[0]?.privateIpv4Address ?? "";
    await host.waitForListening(arn.split("/").pop() ?? "");
    const own = await inCoordinator(ip, "cat /proc/self/status");
    const defaults = [...FARGATE_DEFAULT_CAPABILITIES].sort();
    assert.deepEqual(capabilities(own, "CapBnd"), [...defaults, "SYS_PTRACE"].sort());
    assert.deepEqual(capabilities(own, "CapEff"), [...defaults, "SYS_PTRACE"].sort(), "root keeps them");
    const pause = (await inCoordinator(ip, FIND_PAUSE)).trim();
    const build = await inCoordinator(ip, `cat /proc/${pause}/status`);
    assert.deepEqual(capabilities(build, "CapBnd"), defaults);
    assert.deepEqual(capabilities(build, "CapEff"), [], "a non-root user has no effective capability");
  });

  it("without SYS_PTRACE, ci-coordinator cannot enter a non-root build container", async () => {
    const arn = await runTask(jobTaskDefinition({ coordinatorPtrace: false }));
    const task = await waitFor(arn, "RUNNING");
    const ip = task.containers?.[0]?.networkInterfaces?.[0]?.privateIpv4Address ?? "";
    await host.waitForListening(arn.split("/").pop() ?? "");
    const pause = (await inCoordinator(ip, FIND_PAUSE)).trim();
    const result = await ssh(ip, `ls /proc/${pause}/root/`, key.privateKeyFile);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Permission denied/);
  });

  it("without pidMode every container has its own PID namespace (entry process PID 1); START dependencies", async () => {
    const base = ciCoordinatorTaskDefinition({ family: "ci-sidecar" });
    const arn = await runTask({
      ...base,
      containerDefinitions: [
        ...(base.containerDefinitions ?? []),
        {
          name: "service-0",
          image: SERVICE_IMAGE,
          essential: false,
          dependsOn: [{ containerName: "ci-coordinator", condition: "START" }],
        },
      ],
    });
    const task = await waitFor(arn, "RUNNING");
    const ip = task.containers?.[0]?.networkInterfaces?.[0]?.privateIpv4Address ?? "";
    await host.waitForListening(arn.split("/").pop() ?? "");
    assert.equal(await inCoordinator(ip, "busybox wget -qO- http://127.0.0.1:8080/"), "hello from the service\n");
    const cmdline = await inCoordinator(ip, "tr '\\0' ' ' < /proc/1/cmdline");
    assert.equal(cmdline, "/usr/bin/tini -- /usr/local/bin/docker-entrypoint.sh ", "tini is PID 1, as today");
    assert.doesNotMatch(await inCoordinator(ip, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"), /httpd/);
    const service = host
      .history()[0]
      .containers()
      .find((c) => c.name === "service-0");
    assert.equal(readFileSync(`/proc/${service?.pid()}/status`, "utf8").match(/^NSpid:.*\s(\d+)$/m)?.[1], "1");
  });

  it("a SUCCESS dependency that fails stops the task: build never starts", async () => {
    const arn = await runTask(
      jobTaskDefinition({ tools: { entryPoint: ["/bin/sh", "-c", "echo tools failed >&2; exit 3"] } }),
    );
    let stopped: Task | undefined;
    for (let i = 0; i < 1500 && !stopped; i++) {
      const out = await ecs.send(new DescribeTasksCommand({ cluster: "c", tasks: [arn] }));
      if (out.tasks?.[0]?.lastStatus === "STOPPED") stopped = out.tasks[0];
      else await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(stopped?.stoppedReason, "Essential container in task exited");
    assert.equal(stopped?.startedAt, undefined, "the task never ran");
    const byName = new Map(stopped?.containers?.map((c) => [c.name, c]));
    assert.equal(byName.get("gitlab-tools")?.exitCode, 3);
    assert.equal(byName.get("build")?.exitCode, undefined, "build never ran");
    assert.match(byName.get("build")?.reason ?? "", /gitlab-tools \(SUCCESS\).*exited with code 3/);
    await emulator.close();
    const info = host.history()[0];
    assert.equal(info.containers().find((c) => c.name === "build")?.status, "skipped");
  });

  it("an image nobody can pull: STOPPED, TaskFailedToStart, CannotPullContainerError naming it; nothing started", async () => {
    const definition = jobTaskDefinition();
    definition.containerDefinitions = definition.containerDefinitions?.map((c) =>
      c.name === "build" ? { ...c, image: "registry.example.com/team/missing:9" } : c,
    );
    const arn = await runTask(definition);
    let stopped: Task | undefined;
    for (let i = 0; i < 500 && !stopped; i++) {
      const out = await ecs.send(new DescribeTasksCommand({ cluster: "c", tasks: [arn] }));
      if (out.tasks?.[0]?.lastStatus === "STOPPED") stopped = out.tasks[0];
      else await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(stopped?.stopCode, "TaskFailedToStart");
    assert.match(stopped?.stoppedReason ?? "", /^CannotPullContainerError: .*registry\.example\.com\/team\/missing:9/);
    assert.match(
      stopped?.containers?.find((c) => c.name === "build")?.reason ?? "",
      /^CannotPullContainerError: .*missing:9/,
    );
    assert.deepEqual(host.history(), [], "no namespace, no container");
  });

  it("leaves nothing behind after StopTask: no process, namespace, mount or state directory; images unchanged", async () => {
    const before = readdirSync(buildImage.rootfs).sort();
    const arn = await runTask(jobTaskDefinition());
    await waitFor(arn, "RUNNING");
    const info = host.history()[0];
    const pids = execFileSync("ip", ["netns", "pids", info.namespace], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
    assert.ok(pids.length >= 5, `the task's processes run (${pids.length})`);
    assert.ok(existsSync(info.stateDir));
    await ecs.send(new StopTaskCommand({ cluster: "c", task: arn, reason: "test" }));
    assert.deepEqual(host.hosts(), []);
    assert.ok(
      pids.every((pid) => !existsSync(`/proc/${pid}`)),
      "no process of the task survives",
    );
    assert.deepEqual(host.leftoverNamespaces(), []);
    assert.ok(!existsSync(info.stateDir), "the state directory is deleted");
    assert.ok(!readFileSync("/proc/self/mountinfo", "utf8").includes(info.stateDir), "no mount is left");
    assert.deepEqual(readdirSync(buildImage.rootfs).sort(), before);
    assert.equal(statSync(join(buildImage.rootfs, "etc/hosts")).size, "127.0.0.1\tlocalhost\n".length);
    const stopped = await ecs.send(new DescribeTasksCommand({ cluster: "c", tasks: [arn] }));
    assert.equal(stopped.tasks?.[0]?.containers?.find((c) => c.name === "build")?.exitCode, 137);
  });

  it("the ci-coordinator image holds the files its Dockerfile copies, at their image paths", async () => {
    const files = ciCoordinatorImage().files;
    assert.ok(files.some((file) => file.destination === "/usr/local/bin/docker-entrypoint.sh"));
    const arn = await runTask(jobTaskDefinition());
    const task = await waitFor(arn, "RUNNING");
    const ip = task.containers?.[0]?.networkInterfaces?.[0]?.privateIpv4Address ?? "";
    await host.waitForListening(arn.split("/").pop() ?? "");
    for (const file of files) {
      const listed = await inCoordinator(ip, `stat -c %a ${file.destination}; sha256sum < ${file.destination}`);
      const [mode, sum] = listed.trim().split("\n");
      const expectedMode = (file.mode ?? statSync(file.source).mode & 0o7777).toString(8);
      assert.equal(mode, expectedMode, `${file.destination} mode`);
      assert.equal(sum.split(" ")[0], createHash("sha256").update(readFileSync(file.source)).digest("hex"));
    }
  });
});
