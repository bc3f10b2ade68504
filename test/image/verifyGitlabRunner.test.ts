/**
 * images/ci-coordinator/verify-gitlab-runner.sh, which the Dockerfile runs on the downloaded gitlab-runner, run for
 * real with GnuPG against a release signed by throwaway keys: it accepts only a release.sha256 signed by the pinned
 * fingerprint that lists the binary's SHA-256.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { missingCommand, skipUnlessAvailable } from "../support/requirements";

const SCRIPT = resolve(__dirname, "../../images/ci-coordinator/verify-gitlab-runner.sh");
const NAME = "binaries/gitlab-runner-linux-amd64";

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

describe("job image: gitlab-runner download verification", function () {
  this.timeout(60_000);
  let dir: string;
  let signerHome: string;
  let pinned: string;
  let stranger: string;
  const path = (name: string) => join(dir, name);

  const gpg = (home: string, args: string[]) =>
    execFileSync("gpg", ["--batch", "--quiet", ...args], {
      env: { ...process.env, GNUPGHOME: home },
      encoding: "utf8",
    });

  /** Generates a signing key in the signer's keyring and returns its primary fingerprint. */
  function newKey(uid: string): string {
    gpg(signerHome, ["--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"]);
    const line = gpg(signerHome, ["--with-colons", "--fingerprint", uid])
      .split("\n")
      .find((entry) => entry.startsWith("fpr:"));
    return line!.split(":")[9];
  }

  /** Writes release.sha256 and signs it with `signer`. */
  function release(manifest: string, signer: string): void {
    writeFileSync(path("release.sha256"), manifest);
    rmSync(path("release.sha256.asc"), { force: true });
    gpg(signerHome, [
      "--local-user",
      signer,
      "--armor",
      "--detach-sign",
      "--output",
      path("release.sha256.asc"),
      path("release.sha256"),
    ]);
  }

  function verify(fingerprint = pinned, name = NAME): { code: number | null; stderr: string; stdout: string } {
    const result = spawnSync(
      "sh",
      [
        SCRIPT,
        fingerprint,
        path("key.asc"),
        path("release.sha256"),
        path("release.sha256.asc"),
        path("gitlab-runner"),
        name,
      ],
      { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
    );
    return { code: result.status, stderr: result.stderr, stdout: result.stdout };
  }

  before(function () {
    skipUnlessAvailable(this, missingCommand("gpg", "apt-get install gnupg"));
    dir = mkdtempSync(join(tmpdir(), "verify-runner-"));
    signerHome = join(dir, "signer-gnupg");
    mkdirSync(signerHome, { mode: 0o700 });
    pinned = newKey("GitLab test release key <release@example.test>");
    stranger = newKey("Someone else <else@example.test>");
    // What the key URL serves: here both keys, so only the fingerprint pin tells them apart.
    writeFileSync(path("key.asc"), gpg(signerHome, ["--armor", "--export"]));
  });

  beforeEach(() => {
    writeFileSync(path("gitlab-runner"), "the real gitlab-runner\n");
  });

  after(() => {
    if (!dir) return;
    // Key generation started a gpg-agent for the signer's home.
    spawnSync("gpgconf", ["--kill", "all"], { env: { ...process.env, GNUPGHOME: signerHome }, stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  });

  const manifestFor = (binary: string) =>
    `${sha256("other")}  binaries/gitlab-runner-linux-arm64\n${sha256(binary)}  ${NAME}\n`;

  it("accepts a binary listed in a release.sha256 signed by the pinned key", () => {
    release(manifestFor("the real gitlab-runner\n"), pinned);
    const result = verify();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`${NAME} matches the release.sha256 signed by ${pinned}`));
  });

  it("accepts the fingerprint written with spaces and lower case, as GitLab's docs print it", () => {
    release(manifestFor("the real gitlab-runner\n"), pinned);
    const spaced = pinned
      .toLowerCase()
      .replace(/(.{4})/g, "$1 ")
      .trim();
    assert.equal(verify(spaced).code, 0);
  });

  it("refuses a release.sha256 changed after signing (tampered binary and checksum)", () => {
    release(manifestFor("the real gitlab-runner\n"), pinned);
    writeFileSync(path("gitlab-runner"), "a trojan\n");
    writeFileSync(path("release.sha256"), manifestFor("a trojan\n"));
    const result = verify();
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /release\.sha256\.asc is not a valid signature of .*release\.sha256/);
  });

  it("refuses a release.sha256 validly signed by another key, even one in the key file", () => {
    release(manifestFor("the real gitlab-runner\n"), stranger);
    const result = verify();
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, new RegExp(`is not signed by the pinned key ${pinned}`));
    assert.equal(verify(stranger).code, 0, "the same files pass when that key is the pinned one");
  });

  it("refuses a binary whose SHA-256 differs from the signed one", () => {
    release(manifestFor("the real gitlab-runner\n"), pinned);
    writeFileSync(path("gitlab-runner"), "truncated");
    const result = verify();
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, new RegExp(`does not match the SHA-256 of ${NAME} in the signed`));
  });

  it("refuses a binary the release does not list, and a malformed fingerprint", () => {
    release(manifestFor("the real gitlab-runner\n"), pinned);
    const unlisted = verify(pinned, "binaries/gitlab-runner-linux-s390x");
    assert.notEqual(unlisted.code, 0);
    assert.match(unlisted.stderr, /does not list binaries\/gitlab-runner-linux-s390x/);
    const shortId = verify(pinned.slice(-16));
    assert.notEqual(shortId.code, 0);
    assert.match(shortId.stderr, /FINGERPRINT must be a 40-digit hexadecimal OpenPGP fingerprint/);
  });
});
