import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Cancelled, describeError, SystemFailure } from "../../driver/errors";
import { createSshPort, describeSshFailure, formatHostKey, generateEd25519KeyPair, SshError } from "../../driver/ssh";
import { fingerprint } from "../../driver/stages/prepare";
import { freePort, LocalSshd, startLocalSshd } from "../support/localSshd";
import { missingLocalSshd, skipUnlessAvailable } from "../support/requirements";

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

describe("ssh port against a real OpenSSH sshd", function () {
  let sshd: LocalSshd;
  let dir: string;
  const keys = generateEd25519KeyPair("driver-test");
  const ssh = createSshPort({ readyTimeoutMs: 5000 });

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
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const target = () => ({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey: keys.privateKey });

  it("generates OpenSSH ed25519 keys", () => {
    assert.match(keys.publicKey, /^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ driver-test$/);
    assert.match(keys.privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----/);
  });

  it("authenticates with the job key and reports the server's host key", async () => {
    assert.equal(await ssh.probe(target()), sshd.hostKey);
  });

  it("names IP:port and the key problem when sshd refuses the key", async () => {
    const stranger = generateEd25519KeyPair("stranger");
    await assert.rejects(ssh.probe({ ...target(), privateKey: stranger.privateKey }), (err: unknown) => {
      assert.ok(err instanceof SshError);
      assert.equal(err.kind, "auth");
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${sshd.port}.*authorized_keys`));
      return true;
    });
  });

  it("names IP:port and 'sshd not listening' when the connection is refused", async () => {
    const port = await freePort();
    await assert.rejects(ssh.probe({ ...target(), port }), (err: unknown) => {
      assert.ok(err instanceof SshError);
      assert.equal(err.kind, "refused");
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port} refused: sshd is not listening`));
      return true;
    });
  });

  it("feeds the script to bash through stdin (not the command line), one output stream, and returns its exit code", async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const padding = `# ${"x".repeat(300_000)}\n`; // longer than one command-line argument may be (128 KiB)
    const script = `${padding}echo "MARKER-out"; tr '\\0' ' ' < /proc/$$/cmdline; echo; echo "MARKER-err" >&2; exit 3\n`;
    const code = await ssh.runScript({ ...target(), hostKey: sshd.hostKey }, script, { stdout, stderr });
    assert.equal(code, 3);
    const [first, cmdline, last] = stdout.text.split("\n");
    assert.equal(first, "MARKER-out");
    assert.match(cmdline, /bash/);
    assert.doesNotMatch(cmdline, /MARKER/);
    assert.equal(last, "MARKER-err", "the script's stderr joins its stdout, in order");
    assert.equal(stderr.text, "");
  });

  it("maps a script killed by a signal to 128 + signal number", async () => {
    const out = { stdout: new Capture(), stderr: new Capture() };
    assert.equal(await ssh.runScript({ ...target(), hostKey: sshd.hostKey }, "kill -KILL $$\n", out), 137);
  });

  it("streams output while the script is still running", async () => {
    const flag = join(dir, "go-on");
    const stdout = new Capture((text) => {
      // The script waits for this file, which is only written once its first line has arrived here.
      if (text.includes("first")) writeFileSync(flag, "");
    });
    const script = `echo first; while [ ! -e ${flag} ]; do sleep 0.05; done; echo second\n`;
    const code = await ssh.runScript({ ...target(), hostKey: sshd.hostKey }, script, { stdout, stderr: new Capture() });
    assert.equal(code, 0);
    assert.equal(stdout.text, "first\nsecond\n");
  });

  it("refuses a server whose host key differs from the recorded one, before running anything", async () => {
    const other = await startLocalSshd();
    try {
      other.authorize(keys.publicKey);
      const marker = join(dir, "ran");
      await assert.rejects(
        ssh.runScript({ ...target(), port: other.port, hostKey: sshd.hostKey }, `touch ${marker}\n`, {
          stdout: new Capture(),
          stderr: new Capture(),
        }),
        (err: unknown) => err instanceof SshError && err.kind === "hostkey" && /differs/.test(err.message),
      );
      assert.equal(existsSync(marker), false);
      // The same key is accepted by the server it belongs to.
      assert.equal(await ssh.probe({ ...target(), port: other.port }), other.hostKey);
    } finally {
      await other.stop();
    }
  });

  it("on abort, closes the session and rejects with Cancelled while the script still runs", async () => {
    const controller = new AbortController();
    const stdout = new Capture((text) => {
      if (text.includes("started")) controller.abort();
    });
    const marker = join(dir, "finished");
    await assert.rejects(
      ssh.runScript(
        { ...target(), hostKey: sshd.hostKey },
        `echo started; sleep 30; touch ${marker}\n`,
        { stdout, stderr: new Capture() },
        controller.signal,
      ),
      (err: unknown) => err instanceof Cancelled,
    );
    assert.equal(existsSync(marker), false, "returned before the script finished");
  });
});

describe("SSH failure messages and host keys", () => {
  it("explains SSH failures by cause, naming IP:port", () => {
    const target = { host: "10.0.1.2", port: 22, username: "root" };
    const refused = describeSshFailure(Object.assign(new Error("x"), { code: "ECONNREFUSED" }), target);
    assert.equal(refused.kind, "refused");
    assert.match(refused.message, /10\.0\.1\.2:22 refused: sshd is not listening/);
    const timeout = describeSshFailure(Object.assign(new Error("Timed out"), { level: "client-timeout" }), target);
    assert.equal(timeout.kind, "timeout");
    assert.match(timeout.message, /no SSH answer from 10\.0\.1\.2:22: a security group/);
    const auth = describeSshFailure(Object.assign(new Error("All"), { level: "client-authentication" }), target);
    assert.match(auth.message, /refused the job's key for user "root"/);
    assert.match(describeError(new SystemFailure("outer", { cause: new Error("inner") })), /^outer: inner$/);
  });

  it("formats host keys like OpenSSH and fingerprints them like ssh-keygen -l", () => {
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.alloc(36, 1)]);
    const key = formatHostKey(blob);
    assert.equal(key, `ssh-ed25519 ${blob.toString("base64")}`);
    assert.match(fingerprint(key), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
