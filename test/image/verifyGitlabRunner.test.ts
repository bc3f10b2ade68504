/**
 * images/ci-coordinator/verify-gitlab-runner.sh, which the Dockerfile runs on the downloaded gitlab-runner, run for
 * real with GnuPG against a release signed by throwaway keys: it accepts only a release.sha256 signed by the pinned
 * fingerprint that lists the binary's SHA-256, and refuses signatures by a revoked or expired key and expired
 * signatures. release.sha256 names no version, so the image build then runs check-gitlab-runner-version.sh, here
 * against a fake gitlab-runner: the installed binary must be the pinned GITLAB_RUNNER_VERSION, not an older, validly
 * signed release. The Dockerfile downloads from the bucket address GitLab documents.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { missingCommand, skipUnlessAvailable } from "../support/requirements";

const SCRIPT = resolve(__dirname, "../../images/ci-coordinator/verify-gitlab-runner.sh");
const VERSION_CHECK = resolve(__dirname, "../../images/ci-coordinator/check-gitlab-runner-version.sh");
const DOCKERFILE = resolve(__dirname, "../../images/ci-coordinator/Dockerfile");
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
      // --faked-system-time warns on stderr; a failure still reports it.
      stdio: ["ignore", "pipe", "pipe"],
    });

  /** `--faked-system-time` for a moment in the past (UTC), as gpg spells it. */
  const at = (time: string) => [`--faked-system-time`, `${time}!`];

  /**
   * Generates a key in the signer's keyring and returns its primary fingerprint: by default a signing key that never
   * expires, created now.
   */
  function newKey(uid: string, usage = "sign", expire = "never", time: string[] = []): string {
    gpg(signerHome, [...time, "--passphrase", "", "--quick-gen-key", uid, "ed25519", usage, expire]);
    const line = gpg(signerHome, ["--with-colons", "--fingerprint", uid])
      .split("\n")
      .find((entry) => entry.startsWith("fpr:"));
    return line!.split(":")[9];
  }

  /** Exports `fingerprint`'s public key, as the signer's keyring has it now, to a key file; returns its path. */
  function exportKey(fingerprint: string, file: string): string {
    writeFileSync(path(file), gpg(signerHome, ["--armor", "--export", fingerprint]));
    return path(file);
  }

  /** Writes release.sha256 and signs it with `signer` (at a faked time with `time`). */
  function release(manifest: string, signer: string, time: string[] = []): void {
    writeFileSync(path("release.sha256"), manifest);
    rmSync(path("release.sha256.asc"), { force: true });
    gpg(signerHome, [
      ...time,
      "--local-user",
      signer,
      "--armor",
      "--detach-sign",
      "--output",
      path("release.sha256.asc"),
      path("release.sha256"),
    ]);
  }

  function verify(
    fingerprint = pinned,
    name = NAME,
    keyFile = path("key.asc"),
  ): { code: number | null; stderr: string; stdout: string } {
    const result = spawnSync(
      "sh",
      [SCRIPT, fingerprint, keyFile, path("release.sha256"), path("release.sha256.asc"), path("gitlab-runner"), name],
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

  it("refuses a release signed by the pinned key once that key is revoked, though it signed before the revocation", () => {
    const revoked = newKey("Revoked release key <revoked@example.test>");
    release(manifestFor("the real gitlab-runner\n"), revoked);
    const before = verify(revoked, NAME, exportKey(revoked, "revoked-before.asc"));
    assert.equal(before.code, 0, `accepted before the revocation: ${before.stderr}`);
    // gpg writes a revocation certificate for every key it generates; the leading ":" guards it from a stray import.
    const certificate = readFileSync(join(signerHome, "openpgp-revocs.d", `${revoked}.rev`), "utf8");
    writeFileSync(path("revoked.rev"), certificate.replace(/^:-----BEGIN/m, "-----BEGIN"));
    gpg(signerHome, ["--import", path("revoked.rev")]);
    // gpg --verify reports REVKEYSIG + VALIDSIG (+ KEYREVOKED) and exits 0 for this signature.
    const result = verify(revoked, NAME, exportKey(revoked, "revoked.asc"));
    assert.notEqual(result.code, 0, result.stdout);
    assert.ok(
      result.stderr.includes(`is signed by a revoked key (pinned: ${revoked}, key file: ${path("revoked.asc")})`),
      result.stderr,
    );
    assert.match(result.stderr, /signatures by revoked keys are not trusted/);
    assert.equal(result.stdout, "");
  });

  it("refuses a release signed by the pinned key once that key has expired, saying to refresh the key file", () => {
    // Created and used in 2020, expired at the end of that year: gpg reports EXPKEYSIG + VALIDSIG (+ KEYEXPIRED).
    const expiring = newKey("Expired release key <expired@example.test>", "sign", "1y", at("20200101T000000"));
    release(manifestFor("the real gitlab-runner\n"), expiring, at("20200601T000000"));
    const keyFile = exportKey(expiring, "expired.asc");
    const result = verify(expiring, NAME, keyFile);
    assert.notEqual(result.code, 0, result.stdout);
    assert.ok(
      result.stderr.includes(`the pinned key ${expiring} in ${keyFile} has expired: refresh ${keyFile}`),
      result.stderr,
    );
    assert.equal(result.stdout, "");
    // What the message asks for: the key's owner extends its expiry date, the refreshed key file passes.
    gpg(signerHome, ["--passphrase", "", "--quick-set-expire", expiring, "never"]);
    const refreshed = verify(expiring, NAME, exportKey(expiring, "refreshed.asc"));
    assert.equal(refreshed.code, 0, refreshed.stderr);
  });

  it("refuses a release whose signature by the pinned key has expired, saying to download the release again", () => {
    // A key created in 2020 that never expires signed in 2020 with a signature that expired a day later: gpg reports
    // EXPSIG + VALIDSIG and exits 0.
    const signer = newKey("Expiring signatures <expsig@example.test>", "sign", "never", at("20200101T000000"));
    const keyFile = exportKey(signer, "expsig.asc");
    release(manifestFor("the real gitlab-runner\n"), signer, [...at("20200601T000000"), "--default-sig-expire", "1d"]);
    const result = verify(signer, NAME, keyFile);
    assert.notEqual(result.code, 0, result.stdout);
    const signature = path("release.sha256.asc");
    assert.ok(
      result.stderr.includes(
        `the signature ${signature} of ${path("release.sha256")} by the pinned key ${signer} has expired`,
      ),
      result.stderr,
    );
    assert.match(result.stderr, /download the release files again/);
    assert.match(result.stderr, /GITLAB_RUNNER_VERSION .* too old/);
    assert.doesNotMatch(result.stderr, /not signed by the pinned key|has expired: refresh/);
    assert.equal(result.stdout, "");
    // The same release signed at the same time without an expiry passes.
    release(manifestFor("the real gitlab-runner\n"), signer, at("20200601T000000"));
    const renewed = verify(signer, NAME, keyFile);
    assert.equal(renewed.code, 0, renewed.stderr);
  });

  it("accepts the pinned key with an expired, unused subkey (gpg's KEYEXPIRED alone is not about the signing key)", () => {
    // A long-lived release key: an old signing subkey expired, a newer one signs. gpg still emits KEYEXPIRED lines.
    const rotated = newKey("Rotated release key <rotated@example.test>", "cert", "never", at("20200101T000000"));
    gpg(signerHome, [
      ...at("20200101T000001"),
      "--passphrase",
      "",
      "--quick-add-key",
      rotated,
      "ed25519",
      "sign",
      "1y",
    ]);
    gpg(signerHome, [...at("20200101T000002"), "--passphrase", "", "--quick-add-key", rotated, "ed25519", "sign"]);
    release(manifestFor("the real gitlab-runner\n"), rotated);
    const result = verify(rotated, NAME, exportKey(rotated, "rotated.asc"));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`signed by ${rotated}`));
  });
});

describe("job image: gitlab-runner download address", () => {
  const dockerfile = readFileSync(DOCKERFILE, "utf8");

  it("downloads from the bucket address GitLab documents (S3 dual-stack, us-east-1), not the old hostname", () => {
    const base = 'base="https://s3.dualstack.us-east-1.amazonaws.com/gitlab-runner-downloads/${GITLAB_RUNNER_VERSION}"';
    assert.ok(dockerfile.includes(base), `the Dockerfile sets ${base}`);
    assert.ok(!dockerfile.includes("gitlab-runner-downloads.s3.amazonaws.com"), "the old hostname is gone");
    // The binary, release.sha256 and its signature all come from that one base.
    for (const file of ['"${base}/${file}"', '"${base}/release.sha256"', '"${base}/release.sha256.asc"']) {
      assert.ok(dockerfile.includes(file), `the Dockerfile fetches ${file}`);
    }
  });
});

describe("job image: gitlab-runner version check", () => {
  let dir: string;

  /** A fake gitlab-runner that prints `output` for `--version` and exits with `code`. */
  function fakeRunner(output: string, code = 0): string {
    const file = join(dir, "gitlab-runner");
    writeFileSync(file, `#!/bin/sh\n[ "$*" = "--version" ] || exit 64\ncat <<'EOF'\n${output}EOF\nexit ${code}\n`, {
      mode: 0o755,
    });
    return file;
  }

  /** What gitlab-runner --version prints (real layout, from a v18 release). */
  const versionOutput = (version: string) =>
    `Version:      ${version}\nGit revision: 0123abcd\nGit branch:   18-5-stable\nGO version:   go1.24.6\n` +
    `Built:        2025-10-16T12:00:00Z\nOS/Arch:      linux/amd64\n`;

  function check(pinned: string, binary = join(dir, "gitlab-runner")) {
    const result = spawnSync("sh", [VERSION_CHECK, pinned, binary], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    return { code: result.status, stderr: result.stderr, stdout: result.stdout };
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "runner-version-"));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts the binary of the pinned version, with or without the tag's leading v", () => {
    fakeRunner(versionOutput("18.5.0"));
    const result = check("v18.5.0");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\/gitlab-runner is version 18\.5\.0, the pinned GITLAB_RUNNER_VERSION v18\.5\.0/);
    assert.equal(check("18.5.0").code, 0);
  });

  it("refuses an older release (validly signed, but not the pinned version), naming both versions", () => {
    fakeRunner(versionOutput("18.4.0"));
    const result = check("v18.5.0");
    assert.notEqual(result.code, 0, result.stdout);
    assert.match(result.stderr, /is version 18\.4\.0, not the pinned GITLAB_RUNNER_VERSION v18\.5\.0/);
    assert.equal(result.stdout, "");
  });

  it("compares the whole version, not a prefix", () => {
    fakeRunner(versionOutput("18.5.01"));
    assert.notEqual(check("v18.5.0").code, 0);
    fakeRunner(versionOutput("18.5.0"));
    assert.notEqual(check("v18.5.0-rc1").code, 0);
    assert.notEqual(check("v18.5").code, 0);
  });

  it("refuses a binary that prints no Version: line or does not run", () => {
    fakeRunner("gitlab-runner, some version\n");
    const noLine = check("v18.5.0");
    assert.notEqual(noLine.code, 0);
    assert.match(noLine.stderr, /printed no "Version:" line/);
    fakeRunner(versionOutput("18.5.0"), 3);
    const failing = check("v18.5.0");
    assert.notEqual(failing.code, 0);
    assert.match(failing.stderr, /--version failed/);
    const missing = check("v18.5.0", join(dir, "absent"));
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /absent/);
  });

  it("refuses an empty pinned version", () => {
    fakeRunner(versionOutput("18.5.0"));
    const result = check("");
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /GITLAB_RUNNER_VERSION is empty/);
  });

  it("the Dockerfile runs it on the installed binary with the pinned version, in the stage that can execute it", () => {
    const dockerfile = readFileSync(DOCKERFILE, "utf8");
    const [, image] = dockerfile.split(/^# Stage 2: the job image\.$/m);
    assert.ok(image, "the Dockerfile has a job image stage");
    // The version's default is global, so both stages see the same GITLAB_RUNNER_VERSION.
    assert.match(dockerfile.split(/^FROM /m)[0], /^ARG GITLAB_RUNNER_VERSION=v\d+\.\d+\.\d+$/m);
    assert.match(image, /^ARG GITLAB_RUNNER_VERSION$/m);
    const install = image.indexOf("COPY --from=gitlab-runner /download/gitlab-runner /usr/local/bin/gitlab-runner");
    const run = image.search(
      /^RUN --mount=type=bind,source=check-gitlab-runner-version\.sh,target=\/tmp\/check-gitlab-runner-version\.sh \\\n\s+sh \/tmp\/check-gitlab-runner-version\.sh "\$\{GITLAB_RUNNER_VERSION\}" \/usr\/local\/bin\/gitlab-runner$/m,
    );
    assert.ok(install >= 0 && run > install, "the check runs after the binary is installed");
  });
});
