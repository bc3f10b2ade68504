/**
 * The tools of a job with `image:`, run for real. install-job-tools.sh (the gitlab-tools container) copies the
 * image's static busybox into the tools volume. enter-build-container.sh (run by the driver in ci-coordinator) finds
 * the build container's pause in the task's shared PID namespace and runs the job's script in the job's image as
 * its user: here against namespaces built by ./buildContainer.ts, with Fargate's default capabilities, so a change
 * that needs more (SYS_ADMIN) or that works only for root images fails. Needs root, util-linux and busybox-static.
 */
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingCommand, missingRoot, skipUnlessAvailable } from "../support/requirements";
import {
  BUILDS_DIRECTORY,
  BUSYBOX,
  ENTER_BUILD_CONTAINER,
  FARGATE_DEFAULT_CAPABILITIES,
  IMAGE_DIRECTORY,
  IMAGE_MARKER,
  IMAGE_USER,
  INSTALL_JOB_TOOLS,
  ImageOptions,
  makeImage,
  missingNamespaceSupport,
  Pause,
  SharedPidNamespace,
  TOOLS_DIRECTORY,
} from "./buildContainer";

/** enter-build-container's own failures (documented at the top of the script). */
const ENTER_FAILED = 125;
const BUSYBOX_SETUP = "apt-get install busybox-static";

function installJobTools(args: string[], env: NodeJS.ProcessEnv = {}, asUser?: number) {
  const command = ["sh", INSTALL_JOB_TOOLS, ...args];
  const [file, ...rest] =
    asUser === undefined
      ? command
      : ["setpriv", "--reuid", String(asUser), "--regid", String(asUser), "--clear-groups", ...command];
  const result = spawnSync(file, rest, { encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("install-job-tools (gitlab-tools container)", () => {
  let dir: string;

  before(function () {
    skipUnlessAvailable(this, missingCommand(BUSYBOX, BUSYBOX_SETUP));
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "job-tools-"));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The tools directory holds nothing (no busybox, no partial copy). */
  const assertEmpty = (tools: string) => assert.deepEqual(readdirSync(tools), []);

  it("copies the static busybox into the directory, mode 0755, and it runs from there", () => {
    const tools = join(dir, "tools");
    mkdirSync(tools);
    const result = installJobTools([tools]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `install-job-tools: installed ${tools}/busybox\n`);
    assert.deepEqual(readdirSync(tools), ["busybox"]);
    const installed = statSync(join(tools, "busybox"));
    assert.equal(installed.mode & 0o7777, 0o755);
    assert.ok(readFileSync(join(tools, "busybox")).equals(readFileSync(BUSYBOX)), "a copy of /bin/busybox");
    assert.equal(execFileSync(join(tools, "busybox"), ["echo", "runs"], { encoding: "utf8" }), "runs\n");
    // Again over an existing copy (a task volume is fresh, but a rerun must not fail).
    assert.equal(installJobTools([tools]).code, 0);
    assert.deepEqual(readdirSync(tools), ["busybox"]);
  });

  it("installs it with mode 0755 whatever the source's mode", () => {
    const source = mkdtempSync(join(tmpdir(), "job-tools-src-"));
    try {
      writeFileSync(join(source, "busybox"), readFileSync(BUSYBOX), { mode: 0o600 });
      const result = installJobTools([dir], { INSTALL_JOB_TOOLS_BUSYBOX: join(source, "busybox") });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(statSync(join(dir, "busybox")).mode & 0o7777, 0o755);
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
  });

  it("refuses a missing, empty or extra argument, naming the usage", () => {
    for (const args of [[], [""], [dir, dir]]) {
      const result = installJobTools(args);
      assert.equal(result.code, 1, `arguments ${JSON.stringify(args)}`);
      assert.match(result.stderr, /^install-job-tools: (usage: install-job-tools <tools directory>|.*is empty)/);
      assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
    }
    assertEmpty(dir);
  });

  it("refuses a directory that does not exist, or a file", () => {
    const missing = installJobTools([join(dir, "nope")]);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      `install-job-tools: the tools directory ${dir}/nope does not exist (is the task volume mounted there?)\n`,
    );
    writeFileSync(join(dir, "file"), "");
    assert.equal(
      installJobTools([join(dir, "file")]).stderr,
      `install-job-tools: the tools directory ${dir}/file is not a directory\n`,
    );
  });

  it("refuses a directory it cannot write", function () {
    skipUnlessAvailable(
      this,
      missingRoot("runs the script as another user") ?? missingCommand("setpriv", "apt-get install util-linux"),
    );
    chmodSync(dir, 0o755);
    const result = installJobTools([dir], {}, 65534);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^install-job-tools: the tools directory .* is not writable \(mount the task volume read-write/,
    );
    assertEmpty(dir);
  });

  it("fails clearly when the image has no busybox", () => {
    const result = installJobTools([dir], { INSTALL_JOB_TOOLS_BUSYBOX: join(dir, "absent") });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `install-job-tools: ${dir}/absent is missing: this image lacks Debian's busybox-static package\n`,
    );
    assertEmpty(dir);
  });

  it("fails when the copy does not run", () => {
    const source = mkdtempSync(join(tmpdir(), "job-tools-src-"));
    try {
      writeFileSync(join(source, "busybox"), readFileSync(BUSYBOX).subarray(0, 4096));
      const result = installJobTools([dir], { INSTALL_JOB_TOOLS_BUSYBOX: join(source, "busybox") });
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`^install-job-tools: ${dir}/busybox does not run`));
      assertEmpty(dir);
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
  });
});

describe("enter-build-container in a task's shared PID namespace", function () {
  let work: string;
  let tools: string;
  let builds: string;
  let task: SharedPidNamespace | undefined;

  /** The pause's environment: the image's variables. Values hold newlines, "=", quotes, shell syntax, UTF-8. */
  const IMAGE_ENVIRONMENT = [
    "PATH=/usr/local/bin:/usr/bin:/bin",
    `HOME=${IMAGE_USER.home}`,
    "BUILD_ONLY=set on the build container",
    "MULTILINE=first line\nsecond=line\n\n$(not run) `neither` 'quoted' \"double\" \\ tab\there é",
    "EMPTY=",
  ];

  before(function () {
    skipUnlessAvailable(this, missingNamespaceSupport());
    work = mkdtempSync(join(tmpdir(), "enter-build-"));
    tools = join(work, "tools");
    mkdirSync(tools);
    const installed = installJobTools([tools]);
    assert.equal(installed.code, 0, installed.stderr);
    builds = join(work, "builds");
  });

  beforeEach(async () => {
    rmSync(builds, { recursive: true, force: true });
    mkdirSync(builds);
    chmodSync(builds, 0o777);
    task = await SharedPidNamespace.start();
  });

  afterEach(async () => {
    const stopping = task;
    task = undefined;
    await stopping?.stop();
    assert.deepEqual(stopping?.processes() ?? [], [], "no process of the task survives");
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const image = (options?: ImageOptions) => makeImage(work, options);
  const startPause = (root: string, environment = IMAGE_ENVIRONMENT, workdir?: string): Promise<Pause> =>
    task!.startPause({ image: root, tools, builds, environment, workdir });

  it("runs the script from stdin in the image's files, as its user and directory, with its environment only", async () => {
    await startPause(image());
    const script = [
      "set -e",
      'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) pwd=$(pwd)"',
      "cat /image-marker",
      'echo "build=$BUILD_ONLY coordinator=${COORDINATOR_ONLY-unset} empty=${EMPTY-unset}"',
      `printf '%s' "$MULTILINE" > ${BUILDS_DIRECTORY}/multiline`,
      // What the shell was started with, byte for byte.
      `cat /proc/$$/environ > ${BUILDS_DIRECTORY}/environ`,
    ].join("\n");
    const result = await task!.enter([], { stdin: script, environment: { COORDINATOR_ONLY: "ssh session" } });
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    assert.equal(
      result.stdout,
      `uid=1000 gid=1000 groups=1000 pwd=${IMAGE_USER.home}\n${IMAGE_MARKER}` +
        "build=set on the build container coordinator=unset empty=\n",
    );
    assert.equal(readFileSync(join(builds, "environ"), "utf8"), `${IMAGE_ENVIRONMENT.join("\0")}\0`);
    const multiline = join(builds, "multiline");
    assert.equal(readFileSync(multiline, "utf8"), IMAGE_ENVIRONMENT[3].slice("MULTILINE=".length));
    assert.equal(statSync(multiline).uid, IMAGE_USER.uid, "written in the shared builds directory as the image's user");
  });

  it("passes the script's exit status through and hands it the whole of stdin", async () => {
    await startPause(image());
    assert.equal((await task!.enter([], { stdin: "exit 7\n" })).code, 7);
    assert.equal((await task!.enter([], { stdin: "true\n" })).code, 0);
    assert.equal((await task!.enter([], { stdin: "kill -TERM $$\n" })).signal, "SIGTERM");
    // Longer than a pipe's buffer: nothing of it may be read before the shell gets it.
    const long = `${"# a long comment\n".repeat(20_000)}echo "reached the end"\nexit 3\n`;
    const result = await task!.enter([], { stdin: long });
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, "reached the end\n");
  });

  it("uses the image's bash when its PATH has one", async () => {
    await startPause(image({ bash: "/usr/local/bin/bash" }));
    const result = await task!.enter([], { stdin: 'echo "$CHOSEN_SHELL"' });
    assert.equal(result.stdout, "image bash\n", result.stderr);
  });

  it("uses the image's sh when bash is not on its PATH", async () => {
    await startPause(image({ bash: "/opt/elsewhere/bash" }));
    const result = await task!.enter([], { stdin: "echo \"${CHOSEN_SHELL-none}\"; tr '\\0' ' ' </proc/$$/cmdline" });
    assert.equal(result.stdout, "none\n/bin/sh ", result.stderr);
  });

  it("uses the tools' busybox sh when the image has no shell at all", async () => {
    await startPause(image({ sh: false }));
    const result = await task!.enter([], { stdin: "tr '\\0' ' ' </proc/$$/cmdline; cat /image-marker" });
    assert.equal(result.stdout, `${TOOLS_DIRECTORY}/busybox sh ${IMAGE_MARKER}`, result.stderr);
  });

  it("enters a root image as root", async () => {
    const root = image();
    await task!.startPause({
      image: root,
      tools,
      builds,
      environment: IMAGE_ENVIRONMENT,
      uid: 0,
      gid: 0,
      workdir: "/",
    });
    const result = await task!.enter([], { stdin: "id -u; pwd" });
    assert.equal(result.stdout, "0\n/\n", result.stderr);
  });

  it("refuses, without SYS_PTRACE, to enter an image whose user is not root, saying why", async () => {
    await startPause(image());
    const result = await task!.enter([], {
      stdin: `touch ${BUILDS_DIRECTORY}/ran`,
      capabilities: FARGATE_DEFAULT_CAPABILITIES,
    });
    assert.equal(result.code, ENTER_FAILED);
    assert.match(
      result.stderr,
      /^enter-build-container: cannot read the environment of the build container's pause \(PID \d+, uid 1000\): .*needs the SYS_PTRACE capability in ci-coordinator/,
    );
    assert.equal(result.stderr.trim().split("\n").length, 1);
    assert.equal(existsSync(join(builds, "ran")), false, "the script did not run");
  });

  it("waits for the pause to start", async () => {
    const root = image();
    const entering = task!.enter([], {
      stdin: "cat /image-marker",
      environment: { ENTER_BUILD_CONTAINER_WAIT_SECONDS: "20" },
    });
    let settled = false;
    void entering.then(() => (settled = true));
    await new Promise((done) => setTimeout(done, 700));
    assert.equal(settled, false, "still waiting while no pause runs");
    await startPause(root);
    const result = await entering;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, IMAGE_MARKER);
  });

  it("fails after the wait when no pause starts", async () => {
    const result = await task!.enter([], {
      stdin: `touch ${BUILDS_DIRECTORY}/ran`,
      environment: { ENTER_BUILD_CONTAINER_WAIT_SECONDS: "1" },
    });
    assert.equal(result.code, ENTER_FAILED);
    assert.match(
      result.stderr,
      /^enter-build-container: the build container did not start: no process "\/gitlab-fargate-tools\/busybox sleep 2147483647" with parent PID 0 appeared within 1s/,
    );
    assert.ok(result.elapsedMs >= 1000 && result.elapsedMs < 8000, `waited ${result.elapsedMs} ms`);
    assert.equal(readdirSync(builds).length, 0);
  });

  it("refuses a wait that is not a whole number of seconds", async () => {
    const result = await task!.enter([], { environment: { ENTER_BUILD_CONTAINER_WAIT_SECONDS: "1; rm -rf /" } });
    assert.equal(result.code, ENTER_FAILED);
    assert.match(result.stderr, /^enter-build-container: ENTER_BUILD_CONTAINER_WAIT_SECONDS must be a whole number/);
  });

  it("never takes a job's process that imitates the pause for it", async () => {
    const pause = await startPause(image());
    const imitate = `env -i IMITATION=yes ${TOOLS_DIRECTORY}/busybox sleep 2147483647 </dev/null >/dev/null 2>&1 &`;
    assert.equal((await task!.enter([], { stdin: imitate })).code, 0);
    const pauseCmdline = readFileSync(`/proc/${pause.hostPid}/cmdline`, "utf8");
    const cmdline = (pid: number) =>
      existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
    for (let tries = 0; ; tries++) {
      const imitations = task!.processes().filter((pid) => pid !== pause.hostPid && cmdline(pid) === pauseCmdline);
      if (imitations.length === 1) break;
      assert.ok(tries < 250, "the job left a process with the pause's exact command line");
      await new Promise((done) => setTimeout(done, 20));
    }

    const entered = await task!.enter([], { stdin: 'echo "$BUILD_ONLY ${IMITATION-none}"' });
    assert.equal(entered.stdout, "set on the build container none\n", entered.stderr);

    process.kill(pause.hostPid, "SIGKILL");
    const alone = await task!.enter([], { environment: { ENTER_BUILD_CONTAINER_WAIT_SECONDS: "1" } });
    assert.equal(alone.code, ENTER_FAILED);
    assert.match(alone.stderr, /the build container did not start/);
  });

  it("never takes a service container imitating the pause (it has no tools volume) for the build container", async () => {
    const build = image();
    const service = image();
    writeFileSync(join(build, "image-marker"), "build image\n");
    writeFileSync(join(service, "image-marker"), "service image\n");
    await task!.startPause({ image: service, tools, builds, environment: IMAGE_ENVIRONMENT, mountTools: false });
    await startPause(build);
    const entered = await task!.enter([], { stdin: "cat /image-marker" });
    assert.equal(entered.code, 0, entered.stderr);
    assert.equal(entered.stdout, "build image\n");
  });

  it("refuses to choose between two pauses, naming both", async () => {
    const first = await startPause(image());
    const second = await startPause(image());
    const result = await task!.enter([], { stdin: `touch ${BUILDS_DIRECTORY}/ran` });
    assert.equal(result.code, ENTER_FAILED);
    const pids = [first.pid, second.pid].sort((a, b) => a - b).join(" ");
    assert.match(
      result.stderr,
      new RegExp(`^enter-build-container: found 2 processes .*\\(PIDs ${pids}\\), expected exactly one`),
    );
    assert.equal(readdirSync(builds).length, 0);
  });

  it("refuses unknown arguments", async () => {
    for (const args of [["--host", "db"], ["-c", "id"], [""], ["--hosts"], ["--hosts", "db", "extra"]]) {
      const result = await task!.enter(args);
      assert.equal(result.code, ENTER_FAILED, JSON.stringify(args));
      assert.match(result.stderr, /^enter-build-container: .*usage: enter-build-container/);
    }
  });

  describe("--hosts", () => {
    const hostsOf = (root: string) => readFileSync(join(root, "etc/hosts"), "utf8");

    it("adds one 127.0.0.1 line for the aliases to the build container's /etc/hosts, as root", async () => {
      const root = image({ hosts: "127.0.0.1\tlocalhost" });
      await startPause(root);
      const result = await task!.enter(["--hosts", "db cache.internal my_service-1"], { stdin: "exit 9\n" });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(hostsOf(root), "127.0.0.1\tlocalhost\n127.0.0.1 db cache.internal my_service-1\n");
      assert.equal(lstatSync(join(root, "etc/hosts")).uid, 0, "still root's");
      assert.equal((await task!.enter(["--hosts", "  redis  "])).code, 0);
      assert.equal(hostsOf(root), "127.0.0.1\tlocalhost\n127.0.0.1 db cache.internal my_service-1\n127.0.0.1 redis\n");
    });

    it("refuses, without SYS_PTRACE, to write into an image whose user is not root, saying why", async () => {
      const root = image();
      await startPause(root);
      const before = hostsOf(root);
      const result = await task!.enter(["--hosts", "db"], { capabilities: FARGATE_DEFAULT_CAPABILITIES });
      assert.equal(result.code, ENTER_FAILED);
      assert.match(result.stderr, /^enter-build-container: .*needs the SYS_PTRACE capability in ci-coordinator/);
      assert.equal(hostsOf(root), before);
    });

    it("creates /etc/hosts when the image has none", async () => {
      const root = image({ hosts: null });
      await startPause(root);
      assert.equal((await task!.enter(["--hosts", "db"])).code, 0);
      assert.equal(hostsOf(root), "127.0.0.1 db\n");
    });

    it("refuses an /etc/hosts that is a link (it could lead out through /proc) or a pipe, writing nothing", async () => {
      // A link through /proc/1/root leaves the image's root for ci-coordinator's files, a pipe would block.
      const outside = join(work, `outside-${process.pid}`);
      writeFileSync(outside, "ci-coordinator file\n");
      const linked = image({ hosts: { symlinkTo: `/proc/1/root${outside}` } });
      const pause = await startPause(linked);
      const result = await task!.enter(["--hosts", "db"]);
      assert.equal(result.code, ENTER_FAILED, result.stderr);
      assert.match(result.stderr, /\/etc\/hosts of the image is not a regular file/);
      assert.equal(readFileSync(outside, "utf8"), "ci-coordinator file\n", "nothing written outside the image");
      process.kill(pause.hostPid, "SIGKILL");

      const piped = image({ hosts: null });
      execFileSync("mkfifo", [join(piped, "etc/hosts")]);
      await startPause(piped);
      const blocked = await task!.enter(["--hosts", "db"]);
      assert.equal(blocked.code, ENTER_FAILED, blocked.stderr);
      assert.match(blocked.stderr, /not a regular file/);
    });

    it("waits for the pause, then fails after the wait when none starts", async () => {
      const result = await task!.enter(["--hosts", "db"], { environment: { ENTER_BUILD_CONTAINER_WAIT_SECONDS: "1" } });
      assert.equal(result.code, ENTER_FAILED);
      assert.match(result.stderr, /the build container did not start/);
    });

    it("refuses anything but letters, digits, '.', '-' and '_', writing nothing", async () => {
      const root = image();
      await startPause(root);
      const before = hostsOf(root);
      for (const aliases of ["db;touch /x", "a/b", "$(id)", "db\nevil", "tab\there", "é", "", "   ", "ok bad!"]) {
        const result = await task!.enter(["--hosts", aliases]);
        assert.equal(result.code, ENTER_FAILED, JSON.stringify(aliases));
        assert.match(result.stderr, /^enter-build-container: (refusing|--hosts needs at least one host name)/);
      }
      assert.equal(hostsOf(root), before);
    });
  });
});

describe("job tools in the image", () => {
  const dockerfile = readFileSync(join(IMAGE_DIRECTORY, "Dockerfile"), "utf8");
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

  it("are shellcheck-clean", function () {
    skipUnlessAvailable(this, missingCommand("shellcheck", "apt-get install shellcheck"));
    const result = spawnSync("shellcheck", ["--severity=style", INSTALL_JOB_TOOLS, ENTER_BUILD_CONTAINER], {
      encoding: "utf8",
    });
    assert.equal(result.status, 0, result.stdout);
  });

  it("are installed by the Dockerfile's final stage, with busybox-static, at the paths the task definition uses", () => {
    assert.match(
      finalStage,
      /apt-get install -y --no-install-recommends \\\n(?:\s+[^\n]*\\\n)*\s+[^\n]*\bbusybox-static\b/,
    );
    assert.match(finalStage, /^COPY install-job-tools\.sh \/usr\/local\/bin\/install-job-tools$/m);
    assert.match(finalStage, /^COPY enter-build-container\.sh \/usr\/local\/bin\/enter-build-container$/m);
    const chmod = /^RUN .*chmod 755 ([^&\n]*)/m.exec(finalStage.replace(/\\\n\s*/g, " "))?.[1] ?? "";
    assert.match(chmod, /\/usr\/local\/bin\/install-job-tools\b/);
    assert.match(chmod, /\/usr\/local\/bin\/enter-build-container\b/);
  });
});
