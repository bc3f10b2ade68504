import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Cancelled } from "../../driver/errors";
import { createSshPort, SshError } from "../../driver/ssh";
import {
  connectionFiles,
  DEFAULT_SSH_OPTIONS,
  describeSshFailure,
  diagnostics,
  recordedHostKey,
  remoteCommand,
  reportedExitCode,
  sshArguments,
} from "../../driver/sshCommand";
import { fingerprint, generateEd25519KeyPair } from "../../driver/sshKeys";
import { freePort, LocalSshd, startLocalSshd } from "../support/localSshd";
import { missingCommand, missingLocalSshd, skipUnlessAvailable } from "../support/requirements";

class Capture extends Writable {
  text = "";
  constructor(private readonly onText?: (text: string) => void) {
    super();
  }
  _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    this.onText?.(this.text);
    done();
  }
}

const capture = () => ({ stdout: new Capture(), stderr: new Capture() });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Logins sshd accepted so far: one per SSH connection (sessions over a kept connection log none). */
const logins = (sshd: LocalSshd) => sshd.log().match(/Accepted publickey/g)?.length ?? 0;

/** Whether a ControlMaster answers on the job's socket. */
function masterRunning(directory: string): boolean {
  const control = connectionFiles(directory).control ?? "";
  return spawnSync("ssh", ["-F", "/dev/null", "-o", `ControlPath=${control}`, "-O", "check", "task"]).status === 0;
}

describe("OpenSSH key files", function () {
  before(function () {
    skipUnlessAvailable(this, missingLocalSshd());
  });

  it("writes ed25519 keys that ssh-keygen reads back to the same public key", () => {
    const dir = mkdtempSync(join(tmpdir(), "driver-keys-"));
    try {
      for (let i = 0; i < 40; i += 1) {
        const keys = generateEd25519KeyPair(`gitlab-job-${i}`);
        writeFileSync(join(dir, "key"), keys.privateKey, { mode: 0o600 });
        const derived = execFileSync("ssh-keygen", ["-y", "-f", join(dir, "key")], { encoding: "utf8" });
        assert.equal(derived.trim().split(" ").slice(0, 2).join(" "), keys.publicKey.split(" ").slice(0, 2).join(" "));
        assert.match(
          keys.publicKey,
          new RegExp(`^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} gitlab-job-${i}$`),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fingerprints host keys like ssh-keygen -l", () => {
    const dir = mkdtempSync(join(tmpdir(), "driver-keys-"));
    try {
      const keys = generateEd25519KeyPair("k");
      writeFileSync(join(dir, "key.pub"), `${keys.publicKey}\n`);
      const listed = execFileSync("ssh-keygen", ["-l", "-f", join(dir, "key.pub")], { encoding: "utf8" });
      assert.equal(listed.split(" ")[1], fingerprint(keys.publicKey));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ssh port against a real OpenSSH sshd", function () {
  this.timeout(30_000);
  let sshd: LocalSshd;
  let dir: string;
  const keys = generateEd25519KeyPair("driver-test");
  const ssh = createSshPort({ connectTimeoutSeconds: 5 });

  before(async function () {
    skipUnlessAvailable(this, missingLocalSshd());
    sshd = await startLocalSshd();
    sshd.authorize(keys.publicKey);
  });
  after(async () => {
    await sshd?.stop();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "driver-ssh-"));
  });
  afterEach(async () => {
    await ssh.close(target());
    rmSync(dir, { recursive: true, force: true });
  });

  const target = () => ({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: keys.privateKey,
    connectionDirectory: join(dir, "job.ssh"),
  });
  const opened = async () => ({ ...target(), hostKey: await ssh.open(target()) });

  it("opens the job's connection with its key, records the host key and keeps the connection", async () => {
    assert.equal(await ssh.open(target()), sshd.hostKey);
    const files = connectionFiles(target().connectionDirectory);
    assert.equal(statSync(files.directory).mode & 0o777, 0o700);
    assert.equal(statSync(files.key).mode & 0o777, 0o600);
    assert.equal(recordedHostKey(readFileSync(files.knownHosts, "utf8")), sshd.hostKey);
    assert.ok(masterRunning(files.directory), "a ControlMaster answers on the job's socket");
  });

  it("runs every session over the one connection: a single login for open and three scripts", async () => {
    const before = logins(sshd);
    const session = await opened();
    for (const n of [0, 1, 2]) assert.equal(await ssh.runScript(session, `exit ${n}\n`, capture()), n);
    assert.equal(logins(sshd) - before, 1);
  });

  it("names IP:port and the key problem when sshd refuses the key", async () => {
    const stranger = generateEd25519KeyPair("stranger");
    await assert.rejects(ssh.open({ ...target(), privateKey: stranger.privateKey }), (err: unknown) => {
      assert.ok(err instanceof SshError);
      assert.equal(err.kind, "auth");
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${sshd.port}.*authorized_keys`));
      return true;
    });
  });

  it("names IP:port and 'sshd not listening' when the connection is refused", async () => {
    const port = await freePort();
    await assert.rejects(ssh.open({ ...target(), port }), (err: unknown) => {
      assert.ok(err instanceof SshError);
      assert.equal(err.kind, "refused");
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port} refused: sshd is not listening`));
      return true;
    });
  });

  it("feeds the script to bash through stdin (not the command line), one output stream, and returns its exit code", async () => {
    const out = capture();
    const padding = `# ${"x".repeat(300_000)}\n`; // longer than one command-line argument may be (128 KiB)
    const script = `${padding}echo "MARKER-out"; tr '\\0' ' ' < /proc/$$/cmdline; echo; echo "MARKER-err" >&2; exit 3\n`;
    assert.equal(await ssh.runScript(await opened(), script, out), 3);
    const [first, cmdline, last] = out.stdout.text.split("\n");
    assert.equal(first, "MARKER-out");
    assert.match(cmdline, /bash/);
    assert.doesNotMatch(cmdline, /MARKER/);
    assert.equal(last, "MARKER-err", "the script's stderr joins its stdout, in order");
    assert.equal(out.stderr.text, "");
  });

  it("reports exit code 255 as the script's, not as a lost connection", async () => {
    assert.equal(await ssh.runScript(await opened(), "exit 255\n", capture()), 255);
  });

  it("maps a script killed by a signal to 128 + signal number", async () => {
    assert.equal(await ssh.runScript(await opened(), "kill -KILL $$\n", capture()), 137);
  });

  it("a connection lost during the script is a transport failure, not an exit code", async () => {
    // The script's grandparent is sshd's session process: killing it ends the session without an exit status.
    const script = 'echo before; kill -KILL "$(ps -o ppid= -p $PPID)"; sleep 5; echo after\n';
    const out = capture();
    await assert.rejects(ssh.runScript(await opened(), script, out), (err: unknown) => {
      assert.ok(err instanceof SshError, String(err));
      assert.match(err.message, /ended before the script reported an exit status/);
      return true;
    });
    assert.doesNotMatch(out.stdout.text, /after/);
  });

  it("streams output while the script is still running", async () => {
    const flag = join(dir, "go-on");
    const stdout = new Capture((text) => {
      // The script waits for this file, which is only written once its first line has arrived here.
      if (text.includes("first")) writeFileSync(flag, "");
    });
    const script = `echo first; while [ ! -e ${flag} ]; do sleep 0.05; done; echo second\n`;
    assert.equal(await ssh.runScript(await opened(), script, { stdout, stderr: new Capture() }), 0);
    assert.equal(stdout.text, "first\nsecond\n");
  });

  it("connects directly for the stage when the job's connection is gone, still pinning the host key", async () => {
    const session = await opened();
    const master = execFileSync(
      "pgrep",
      ["-f", `ControlPath=${connectionFiles(session.connectionDirectory).control}`],
      {
        encoding: "utf8",
      },
    );
    execFileSync("kill", ["-KILL", ...master.trim().split("\n")]);
    const before = logins(sshd);
    assert.equal(await ssh.runScript(session, "echo direct; exit 4\n", capture()), 4);
    assert.equal(logins(sshd) - before, 1, "one new login for this stage");
  });

  it("a job started by an older driver (no connection files) runs over a direct connection", async () => {
    const session = { ...target(), hostKey: sshd.hostKey };
    assert.equal(existsSync(session.connectionDirectory), false);
    assert.equal(await ssh.runScript(session, "exit 6\n", capture()), 6);
  });

  it("refuses a server whose host key differs from the recorded one, before running anything", async () => {
    const other = await startLocalSshd();
    try {
      other.authorize(keys.publicKey);
      const marker = join(dir, "ran");
      // No kept connection to that server: a direct one, which must present the recorded key.
      const session = { ...target(), port: other.port, hostKey: sshd.hostKey };
      await assert.rejects(
        ssh.runScript(session, `touch ${marker}\n`, capture()),
        (err: unknown) => err instanceof SshError && err.kind === "hostkey" && /differs/.test(err.message),
      );
      assert.equal(existsSync(marker), false);
    } finally {
      await other.stop();
    }
  });

  it("on abort, ends the remote script and rejects with Cancelled", async () => {
    const controller = new AbortController();
    const stdout = new Capture((text) => {
      if (text.includes("started")) controller.abort();
    });
    const marker = join(dir, "finished");
    await assert.rejects(
      ssh.runScript(
        await opened(),
        `echo started; sleep 2; touch ${marker}\n`,
        { stdout, stderr: new Capture() },
        controller.signal,
      ),
      (err: unknown) => err instanceof Cancelled,
    );
    await sleep(3000);
    assert.equal(existsSync(marker), false, "the script was ended, not left to finish");
  });

  it("on an abort that comes before the script starts, still ends the script once the session names itself", async () => {
    const session = await opened();
    const controller = new AbortController();
    const run = ssh.runScript(
      session,
      `touch ${join(dir, "started")}; sleep 2; touch ${join(dir, "survived")}\n`,
      capture(),
      controller.signal,
    );
    controller.abort();
    await assert.rejects(run, (err: unknown) => err instanceof Cancelled);
    await sleep(3000);
    assert.equal(existsSync(join(dir, "survived")), false, "the script was ended, not left to finish");
  });

  it("on abort, ends the script even when it floods the session's own stderr", async () => {
    const controller = new AbortController();
    const stdout = new Capture((text) => {
      if (text.includes("flooded")) controller.abort();
    });
    const flood = `head -c 40000 /dev/zero | tr '\\0' x > /proc/$PPID/fd/2; echo flooded; sleep 2; touch ${join(dir, "survived")}\n`;
    await assert.rejects(
      ssh.runScript(await opened(), flood, { stdout, stderr: new Capture() }, controller.signal),
      (err: unknown) => err instanceof Cancelled,
    );
    await sleep(3000);
    assert.equal(existsSync(join(dir, "survived")), false);
  });

  it("names a changed host key as such when a dead connection's socket is left over", async () => {
    const session = await opened();
    const control = connectionFiles(session.connectionDirectory).control ?? "";
    execFileSync("pkill", ["-KILL", "-f", `ControlPath=${control}`]);
    assert.ok(existsSync(control), "the socket file outlives its process");
    const other = await startLocalSshd();
    try {
      other.authorize(keys.publicKey);
      await assert.rejects(
        ssh.runScript({ ...session, port: other.port }, "true\n", capture()),
        (err: unknown) => err instanceof SshError && err.kind === "hostkey" && /differs/.test(err.message),
      );
    } finally {
      await other.stop();
    }
  });

  it("closes the job's connection and deletes its files", async () => {
    const session = await opened();
    await ssh.close(session);
    assert.equal(masterRunning(session.connectionDirectory), false);
    assert.equal(existsSync(session.connectionDirectory), false);
    const left = spawnSync("pgrep", ["-f", session.connectionDirectory]);
    assert.equal(left.status, 1, "no ssh process of this job is left");
  });

  it("the kept connection ends by itself after persistSeconds without a session", async () => {
    const brief = createSshPort({ persistSeconds: 1 });
    const session = { ...target(), hostKey: await brief.open(target()) };
    assert.ok(masterRunning(session.connectionDirectory));
    for (let waited = 0; waited < 20_000 && masterRunning(session.connectionDirectory); waited += 250) await sleep(250);
    assert.equal(masterRunning(session.connectionDirectory), false);
    assert.equal(await brief.runScript(session, "exit 0\n", capture()), 0, "later stages connect directly");
  });

  it("works without a kept connection when the directory is too deep for a Unix socket", async () => {
    const deep = join(dir, "d".repeat(100), "job.ssh");
    assert.equal(connectionFiles(deep).control, undefined);
    const session = { ...target(), connectionDirectory: deep };
    const hostKey = await ssh.open(session);
    assert.equal(await ssh.runScript({ ...session, hostKey }, "exit 7\n", capture()), 7);
    await ssh.close(session);
    assert.equal(existsSync(deep), false);
  });
});

describe("SSH invocation and failure messages", () => {
  const target = { host: "10.0.1.2", port: 22, username: "root" };

  it("ignores every configuration but its own and uses the job's files only", () => {
    const files = connectionFiles("/opt/gitlab-runner/metadata/gitlab-job-7.ssh");
    const args = sshArguments(target, files, DEFAULT_SSH_OPTIONS, ["-N"]);
    assert.deepEqual(args.slice(0, 3), ["-F", "/dev/null", "-T"]);
    const options = args.filter((_, i) => args[i - 1] === "-o");
    for (const expected of [
      "BatchMode=yes",
      `IdentityFile=${files.key}`,
      "IdentitiesOnly=yes",
      "IdentityAgent=none",
      `UserKnownHostsFile=${files.knownHosts}`,
      "GlobalKnownHostsFile=/dev/null",
      "ForwardAgent=no",
      `ControlPath=${files.control}`,
    ]) {
      assert.ok(options.includes(expected), expected);
    }
    assert.deepEqual(args.slice(-3), ["-N", "--", "10.0.1.2"]);
    assert.ok(
      sshArguments(target, connectionFiles("/a%b"), DEFAULT_SSH_OPTIONS, []).includes("IdentityFile=/a%%b/id_ed25519"),
    );
  });

  it("offers no sntrup761 key exchange, and ML-KEM first where this ssh has it", function () {
    skipUnlessAvailable(this, missingCommand("ssh", "apt-get install openssh-client"));
    const files = connectionFiles("/opt/gitlab-runner/metadata/gitlab-job-7.ssh");
    // -G prints the options this ssh would use, after parsing ours.
    const effective = execFileSync("ssh", sshArguments(target, files, DEFAULT_SSH_OPTIONS, ["-G"]), {
      encoding: "utf8",
    });
    const offered = /^kexalgorithms (.+)$/m.exec(effective)?.[1].split(",") ?? [];
    assert.ok(offered.length > 0, effective);
    assert.deepEqual(
      offered.filter((name) => name.startsWith("sntrup761")),
      [],
    );
    const known = execFileSync("ssh", ["-Q", "kex"], { encoding: "utf8" }).split("\n");
    assert.equal(offered[0], known.includes("mlkem768x25519-sha256") ? "mlkem768x25519-sha256" : "curve25519-sha256");
  });

  it("fails at once, naming it, when the task's sshd offers only sntrup761x25519", async function () {
    skipUnlessAvailable(this, missingLocalSshd());
    const sshd = await startLocalSshd(["KexAlgorithms sntrup761x25519-sha512@openssh.com"]);
    const dir = mkdtempSync(join(tmpdir(), "driver-ssh-"));
    try {
      const keys = generateEd25519KeyPair("negotiation");
      sshd.authorize(keys.publicKey);
      const open = createSshPort({ connectTimeoutSeconds: 5 }).open({
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
        privateKey: keys.privateKey,
        connectionDirectory: join(dir, "job.ssh"),
      });
      await assert.rejects(open, (err: unknown) => {
        assert.ok(err instanceof SshError && err.kind === "negotiation", String(err));
        assert.match(err.message, /no algorithm in common .*sntrup761x25519\): Unable to negotiate/);
        return true;
      });
    } finally {
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says so when the manager has no OpenSSH client", async () => {
    const dir = mkdtempSync(join(tmpdir(), "driver-ssh-"));
    try {
      const ssh = createSshPort({ command: join(dir, "no-such-ssh") });
      const session = {
        ...target,
        privateKey: "KEY",
        hostKey: "ssh-ed25519 AAAA",
        connectionDirectory: join(dir, "c"),
      };
      const missing = (err: unknown) =>
        err instanceof SshError && err.kind === "client" && /not installed/.test(String(err));
      await assert.rejects(ssh.runScript(session, "true\n", capture()), missing);
      await assert.rejects(ssh.open(session), missing);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads the exit code only from the wrapper's last line", () => {
    assert.match(remoteCommand("bash"), /\( bash \) 2>&1/);
    assert.equal(reportedExitCode("gitlab-fargate-session 12\ngitlab-fargate-exit 0\n"), 0);
    assert.equal(reportedExitCode("gitlab-fargate-exit 1\ngitlab-fargate-exit 255\n"), 255);
    assert.equal(reportedExitCode("gitlab-fargate-session 12\nShared connection to x closed.\n"), undefined);
    assert.equal(reportedExitCode("oops gitlab-fargate-exit 0\n"), undefined);
  });

  it("explains SSH failures by cause, naming IP:port", () => {
    const refused = describeSshFailure("ssh: connect to host 10.0.1.2 port 22: Connection refused\n", target);
    assert.equal(refused.kind, "refused");
    assert.match(refused.message, /10\.0\.1\.2:22 refused: sshd is not listening/);
    const timeout = describeSshFailure("ssh: connect to host 10.0.1.2 port 22: Connection timed out\n", target);
    assert.equal(timeout.kind, "timeout");
    assert.match(timeout.message, /no SSH answer from 10\.0\.1\.2:22: a security group/);
    const auth = describeSshFailure("root@10.0.1.2: Permission denied (publickey).\n", target);
    assert.match(auth.message, /refused the job's key for user "root"/);
    assert.equal(describeSshFailure("Host key verification failed.\n", target).kind, "hostkey");
    const stale = "Control socket connect(/m/gitlab-job-7.ssh/control): Connection refused\n";
    assert.equal(describeSshFailure(`${stale}Host key verification failed.\n`, target).kind, "hostkey");
    assert.equal(describeSshFailure(`${stale}root@10.0.1.2: Permission denied (publickey).\n`, target).kind, "auth");
    assert.equal(describeSshFailure("Connection closed by 10.0.1.2 port 22\n", target).kind, "closed");
    assert.match(describeSshFailure("", target).message, /no message/);
    const negotiation = describeSshFailure(
      "Unable to negotiate with 10.0.1.2 port 22: no matching key exchange method found. Their offer: x\n",
      target,
    );
    assert.equal(negotiation.kind, "negotiation");
  });

  it("reads a refused key from ssh's own line, whatever the server's banner says before it", () => {
    const stderr =
      "Warning: Permanently added 'gitlab-fargate-task' (ED25519) to the list of known hosts.\r\n" +
      "Authorized use only. Connection refused to strangers; idle sessions timed out.\r\n" +
      "root@10.0.1.2: Permission denied (publickey).\r\n";
    const failure = describeSshFailure(stderr, target);
    assert.equal(failure.kind, "auth");
    assert.doesNotMatch(diagnostics(stderr), /Permanently added/);
  });
});
