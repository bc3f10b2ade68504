/**
 * The job image's entrypoint and sshd configuration, run for real: each task is a network namespace where
 * images/ci-coordinator/docker-entrypoint.sh runs under tini and starts the machine's /usr/sbin/sshd with the
 * image's sshd_config. Checked with OpenSSH's own client. Needs root.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateEd25519KeyPair } from "../../driver/sshKeys";
import { NetnsTaskHost, taskHostUnsupportedReason } from "../support/netnsTaskHost";
import { missingCommand, missingRoot, OPENSSH_CLIENT, skipUnlessAvailable } from "../support/requirements";
import { generateKeyPair, KeyPair, ssh } from "./opensshClient";

function pidsInNamespace(namespace: string): number[] {
  return execFileSync("ip", ["netns", "pids", namespace], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
}

function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

function machineFileState(path: string): string {
  return existsSync(path) ? `${statSync(path).mtimeMs}:${readFileSync(path, "utf8")}` : "absent";
}

describe("job image entrypoint in a task host", function () {
  let host: NetnsTaskHost;
  let key: KeyPair;
  let taskCounter = 0;
  const launch = (environment: Record<string, string>) =>
    host.launch({
      taskArn: `arn:aws:ecs:eu-west-1:1:task/c/t${++taskCounter}`,
      taskId: `img${taskCounter}`,
      environment,
    });

  before(function () {
    skipUnlessAvailable(this, taskHostUnsupportedReason() ?? missingCommand("ssh", OPENSSH_CLIENT));
    key = generateKeyPair();
  });

  beforeEach(() => {
    host = new NetnsTaskHost();
  });

  afterEach(async () => {
    await host?.stopAll();
    assert.deepEqual(host?.leftoverNamespaces() ?? [], [], "every task network namespace is deleted");
  });

  after(() => key?.dispose());

  it("refuses to start without SSH_PUBLIC_KEY, with a clear message and a non-zero exit", async () => {
    const task = await launch({ MARKER: "x" });
    const exited = await task.exited;
    assert.equal(exited.exitCode, 1);
    assert.match(exited.reason, /SSH_PUBLIC_KEY is not set/);
    assert.equal(host.host(`img${taskCounter}`)?.listeningAt, undefined, "sshd never listened");
  });

  it("refuses a SSH_PUBLIC_KEY that is not a public key", async () => {
    const task = await launch({ SSH_PUBLIC_KEY: "not a key" });
    const exited = await task.exited;
    assert.equal(exited.exitCode, 1);
    assert.match(exited.reason, /does not hold an OpenSSH public key/);
  });

  it("authorises exactly the given key with 0700/0600 root-owned files and leaves the machine's /root alone", async () => {
    const machineKeys = machineFileState("/root/.ssh/authorized_keys");
    const task = await launch({ SSH_PUBLIC_KEY: key.publicKey });
    await host.waitForListening(`img${taskCounter}`);
    const result = await ssh(
      task.privateIp,
      "stat -c '%a %U' /root/.ssh /root/.ssh/authorized_keys; cat /root/.ssh/authorized_keys",
      key.privateKeyFile,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `700 root\n600 root\n${key.publicKey}\n`);
    assert.equal(machineFileState("/root/.ssh/authorized_keys"), machineKeys);
  });

  it("starts sshd without SSH_PUBLIC_KEY or the task lifetime variables in its environment", async () => {
    // sshd rewrites its own /proc/<pid>/environ (setproctitle), so the exec'd environment is read from a stand-in
    // sshd: the "sshd never starts" knob puts `sleep infinity` at /usr/sbin/sshd, started by the real entrypoint.
    host.faults.sshdNeverStarts = true;
    await launch({
      SSH_PUBLIC_KEY: key.publicKey,
      TASK_MARKER: "from-task-definition",
      GITLAB_FARGATE_IDLE_SECONDS: "600",
      GITLAB_FARGATE_MAX_LIFETIME_SECONDS: "4200",
    });
    const info = host.host(`img${taskCounter}`)!;
    let sshd: number | undefined;
    for (let i = 0; i < 500 && sshd === undefined; i++) {
      sshd = pidsInNamespace(info.namespace).find((pid) => processName(pid) === "sleep");
      if (sshd === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(sshd, "the entrypoint exec'd /usr/sbin/sshd");
    const environ = readFileSync(`/proc/${sshd}/environ`, "utf8").split("\0");
    assert.ok(environ.includes("TASK_MARKER=from-task-definition"), "read the environment of the right process");
    assert.ok(!environ.some((entry) => entry.startsWith("SSH_PUBLIC_KEY=")), "sshd was started with SSH_PUBLIC_KEY");
    assert.ok(
      !environ.some((entry) => entry.startsWith("GITLAB_FARGATE_")),
      "sshd was started with the lifetime variables",
    );
  });

  it("gives sessions the container's variables but not SSH_PUBLIC_KEY", async () => {
    const task = await launch({ SSH_PUBLIC_KEY: key.publicKey, TASK_MARKER: "from-task-definition" });
    await host.waitForListening(`img${taskCounter}`);
    const session = await ssh(
      task.privateIp,
      'echo "marker=$TASK_MARKER key=${SSH_PUBLIC_KEY:-unset}"',
      key.privateKeyFile,
    );
    assert.equal(session.stdout, "marker=from-task-definition key=unset\n", session.stderr);
  });

  it("runs sessions inside the task: its own hostname and address", async () => {
    const task = await launch({ SSH_PUBLIC_KEY: key.publicKey });
    await host.waitForListening(`img${taskCounter}`);
    const result = await ssh(task.privateIp, "hostname; ip -4 -o addr show scope global", key.privateKeyFile);
    assert.equal(result.code, 0, result.stderr);
    const [hostname, ...addresses] = result.stdout.trim().split("\n");
    assert.equal(hostname, `ip-${task.privateIp.replace(/\./g, "-")}`);
    assert.ok(addresses.some((line) => line.includes(`${task.privateIp}/30`)));
  });

  it("refuses password and keyboard-interactive login, and keys it was not given", async () => {
    const task = await launch({ SSH_PUBLIC_KEY: key.publicKey });
    await host.waitForListening(`img${taskCounter}`);
    const password = await ssh(task.privateIp, "true", undefined, [
      "-o",
      "PubkeyAuthentication=no",
      "-o",
      "PreferredAuthentications=password,keyboard-interactive",
    ]);
    assert.notEqual(password.code, 0);
    assert.match(password.stderr, /Permission denied \(publickey\)/, "publickey is the only method offered");
    const stranger = generateKeyPair();
    try {
      const other = await ssh(task.privateIp, "true", stranger.privateKeyFile);
      assert.notEqual(other.code, 0);
      assert.match(other.stderr, /Permission denied/);
    } finally {
      stranger.dispose();
    }
  });

  it("generates a fresh host key for every task", async () => {
    const first = await launch({ SSH_PUBLIC_KEY: key.publicKey });
    const firstId = `img${taskCounter}`;
    const second = await launch({ SSH_PUBLIC_KEY: key.publicKey });
    const secondId = `img${taskCounter}`;
    await host.waitForListening(firstId);
    await host.waitForListening(secondId);
    const hostKey = async (ip: string) =>
      (await ssh(ip, "ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub", key.privateKeyFile)).stdout.split(" ")[1];
    const [a, b] = [await hostKey(first.privateIp), await hostKey(second.privateIp)];
    assert.match(a ?? "", /^SHA256:/);
    assert.notEqual(a, b);
  });

  it("fault knob: sshd never starts while the container stays up", async () => {
    host.faults.sshdNeverStarts = true;
    const task = await launch({ SSH_PUBLIC_KEY: key.publicKey });
    let exited: string | undefined;
    void task.exited.then((result) => (exited = result.reason));
    await assert.rejects(host.waitForListening(`img${taskCounter}`, 1500), /did not listen/);
    assert.equal(exited, undefined, "the container did not exit while sshd was awaited");
    // Its processes are alive right now: tini (PID 1) and the stand-in sshd the entrypoint exec'd.
    const alive = pidsInNamespace(host.host(`img${taskCounter}`)!.namespace).map(processName);
    assert.ok(alive.includes("tini"), `tini runs in the task (processes: ${alive.join(", ")})`);
    assert.ok(alive.includes("sleep"), `the stand-in sshd runs in the task (processes: ${alive.join(", ")})`);
  });

  it("stop() kills every process of the task and deletes its namespace and veth", async () => {
    const task = await launch({ SSH_PUBLIC_KEY: key.publicKey });
    await host.waitForListening(`img${taskCounter}`);
    const info = host.host(`img${taskCounter}`)!;
    const pids = pidsInNamespace(info.namespace);
    assert.ok(pids.length >= 2, "tini and sshd run in the namespace");
    await task.stop();
    await task.stop();
    assert.deepEqual(host.leftoverNamespaces(), []);
    assert.ok(
      pids.every((pid) => !existsSync(`/proc/${pid}`)),
      "no process of the task survives",
    );
    const links = execFileSync("ip", ["-o", "link"], { encoding: "utf8" });
    assert.ok(!links.includes(`fgv${info.namespace.split("-")[1]}h`), "the host end of the veth is gone");
    assert.notEqual((await task.exited).exitCode, 0);
  });
});

describe("job image files", () => {
  const dir = `${__dirname}/../../images/ci-coordinator`;
  const dockerfile = readFileSync(`${dir}/Dockerfile`, "utf8");

  it("entrypoint and download verification script are shellcheck-clean", function () {
    skipUnlessAvailable(this, missingCommand("shellcheck", "apt-get install shellcheck"));
    execFileSync("shellcheck", [`${dir}/docker-entrypoint.sh`, `${dir}/verify-gitlab-runner.sh`], { encoding: "utf8" });
  });

  it("sshd_config passes sshd's own check", function () {
    skipUnlessAvailable(
      this,
      missingRoot("sshd -T reads its host key as root") ??
        missingCommand("/usr/sbin/sshd", "apt-get install openssh-server") ??
        missingCommand("ssh-keygen", OPENSSH_CLIENT),
    );
    const hostKey = generateKeyPair();
    try {
      // -T prints the effective configuration: it proves keys-only, root by key only.
      const effective = execFileSync(
        "/usr/sbin/sshd",
        ["-T", "-f", `${dir}/sshd_config`, "-h", hostKey.privateKeyFile],
        {
          encoding: "utf8",
        },
      );
      for (const line of [
        "permitrootlogin without-password",
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "pubkeyauthentication yes",
        "authenticationmethods publickey",
        "usepam no",
        "port 22",
        // A vanished client is dropped within a minute, well within the task's idle period.
        "clientaliveinterval 10",
        "clientalivecountmax 2",
        "tcpkeepalive no",
      ]) {
        assert.ok(effective.split("\n").includes(line), `effective sshd config lacks "${line}"`);
      }
    } finally {
      hostKey.dispose();
    }
  });

  it("Dockerfile pins its base and gitlab-runner, verifies the download, bakes no host key and runs tini", () => {
    const froms = dockerfile.match(/^FROM .*$/gm) ?? [];
    assert.equal(froms.length, 2, "a download stage and the image");
    for (const from of froms) assert.match(from, /^FROM (--platform=\$BUILDPLATFORM )?debian:bookworm-\d{8}-slim\b/);
    assert.match(dockerfile, /^ARG GITLAB_RUNNER_VERSION=v\d+\.\d+\.\d+$/m);
    // GitLab's release signing key, as published in its docs (linux-repository, "Current GPG public key").
    assert.match(dockerfile, /^ARG GITLAB_RUNNER_GPG_FINGERPRINT=931DA69CFA3AFEBBC97DAA8C6C57C29C6BA75A4E$/m);
    assert.match(dockerfile, /release\.sha256\.asc/);
    assert.match(dockerfile, /gitlab-runner-linux-\$\{TARGETARCH\}/);
    // The verification runs, on every download, with the pinned fingerprint and the binary's release path.
    assert.match(
      dockerfile,
      /sh \/usr\/local\/bin\/verify-gitlab-runner\.sh "\$\{GITLAB_RUNNER_GPG_FINGERPRINT\}" \\\n\s+release-key\.asc release\.sha256 release\.sha256\.asc gitlab-runner "\$\{file\}"/,
    );
    assert.match(dockerfile, /^COPY --from=gitlab-runner \/download\/gitlab-runner \/usr\/local\/bin\/gitlab-runner$/m);
    assert.doesNotMatch(dockerfile, /GITLAB_RUNNER_SHA256_/, "no unsigned digest source is left");
    assert.match(dockerfile, /rm -f \/etc\/ssh\/ssh_host_\*/);
    assert.match(dockerfile, /^EXPOSE 22$/m);
    assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "\/usr\/local\/bin\/docker-entrypoint\.sh"\]$/m);
  });
});

describe("driver keys and the image's OpenSSH", () => {
  it("every key pair the driver generates is a valid OpenSSH ed25519 public key", function () {
    skipUnlessAvailable(this, missingCommand("ssh-keygen", OPENSSH_CLIENT));
    // ssh2 alone gets about 1 key in 256 wrong (a dropped leading zero byte); 1000 keys catch that ~98 % of runs.
    const keys = Array.from({ length: 1000 }, (_, i) => generateEd25519KeyPair(`job-${i}`).publicKey);
    const dir = mkdtempSync(join(tmpdir(), "h4keys-"));
    try {
      writeFileSync(join(dir, "keys"), `${keys.join("\n")}\n`);
      const listed = execFileSync("ssh-keygen", ["-l", "-f", join(dir, "keys")], { encoding: "utf8" });
      assert.equal(
        listed
          .trim()
          .split("\n")
          .filter((line) => line.startsWith("256 SHA256:")).length,
        keys.length,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
