import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  BootstrapOptions,
  DEFAULT_GITLAB_RUNNER_VERSION,
  DEFAULT_NODE,
  GITLAB_REPOSITORY_KEY_FINGERPRINT,
  managerUserData,
} from "../../../components/manager/bootstrap";
import { missingCommand, missingRoot, skipUnlessAvailable } from "../../support/requirements";

describe("bootstrap: user data content", () => {
  it("pins gitlab-runner and Node.js, per architecture, and never pipes a download into a shell", () => {
    for (const [architecture, nodeArch] of [
      ["amd64", "x64"],
      ["arm64", "arm64"],
    ] as const) {
      const script = managerUserData({ architecture });
      assert.match(script, /^#!\/bin\/bash\n/);
      assert.ok(script.includes(`GITLAB_RUNNER_VERSION='${DEFAULT_GITLAB_RUNNER_VERSION}'`));
      assert.ok(script.includes(`GITLAB_KEY_FINGERPRINT='${GITLAB_REPOSITORY_KEY_FINGERPRINT}'`));
      assert.ok(script.includes(`NODE_TARBALL='node-v${DEFAULT_NODE.version}-linux-${nodeArch}.tar.xz'`));
      assert.ok(script.includes(`NODE_SHA256='${DEFAULT_NODE.sha256[architecture]}'`));
      assert.doesNotMatch(script, /\|\s*(sudo\s+)?(ba)?sh\b/, "no curl | bash");
      assert.doesNotMatch(script, /token/i, "no secrets in user data");
    }
  });

  it("is scripts/bootstrap.sh with every placeholder filled and the template's own comments dropped", () => {
    const template = fs.readFileSync(
      path.resolve(__dirname, "../../../components/manager/scripts/bootstrap.sh"),
      "utf8",
    );
    assert.match(template, /^#@ /m);
    const script = managerUserData({ architecture: "arm64" });
    assert.doesNotMatch(script, /@[A-Z][A-Z0-9_]*@|^#@/m);
    assert.equal(script.split("\n").length, template.split("\n").filter((line) => !line.startsWith("#@")).length);
  });

  const invalid: [string, BootstrapOptions, RegExp][] = [
    ["architecture", { architecture: "x86" as never }, /bootstrap\.architecture/],
    [
      "runner version",
      { architecture: "amd64", gitlabRunnerVersion: "latest; rm -rf /" },
      /bootstrap\.gitlabRunnerVersion/,
    ],
    ["short fingerprint", { architecture: "amd64", gitlabRepositoryKeyFingerprint: "51312F3F" }, /40-hex-digit/],
    [
      "Node 18",
      { architecture: "amd64", node: { version: "18.20.0", sha256: "a".repeat(64) } },
      /bootstrap\.node\.version/,
    ],
    ["odd Node", { architecture: "amd64", node: { version: "23.1.0", sha256: "a".repeat(64) } }, /LTS/],
    ["bad checksum", { architecture: "amd64", node: { version: "22.11.0", sha256: "xyz" } }, /bootstrap\.node\.sha256/],
  ];
  for (const [title, options, message] of invalid) {
    it(`refuses an invalid ${title}`, () => assert.throws(() => managerUserData(options), message));
  }
});

/**
 * Runs the real user data as root in a private mount namespace (tmpfs copies of /etc, /usr/share/keyrings and
 * /opt, so nothing on this machine changes), with fake apt-get, apt-mark, systemctl and curl (serving local
 * fixtures) and the real gpg, sha256sum and tar.
 */
describe("bootstrap: user data executed in a mount namespace", function () {
  let fixtures: string;
  let gnupg: string;
  let expectedFingerprint: string;
  let otherFingerprint: string;
  let nodeSha256: string;
  const nodeVersion = "24.11.1";
  const tarball = `node-v${nodeVersion}-linux-x64.tar.xz`;

  before(function () {
    skipUnlessAvailable(
      this,
      missingRoot("mount namespaces") ??
        missingCommand("gpg", "apt-get install gnupg") ??
        (spawnSync("unshare", ["--mount", "true"]).status === 0
          ? undefined
          : "needs mount namespaces (unshare --mount)"),
    );
    fixtures = fs.mkdtempSync(path.join(os.tmpdir(), "gfr-bootstrap-"));
    gnupg = path.join(fixtures, "gnupg");
    fs.mkdirSync(gnupg, { mode: 0o700 });
    const gpg = (...args: string[]) => execFileSync("gpg", ["--batch", "--quiet", "--homedir", gnupg, ...args]);
    const fingerprintOf = (uid: string) => {
      gpg("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never");
      const listing = gpg("--with-colons", "--list-keys", uid).toString();
      return (/^fpr:+([0-9A-F]{40}):/m.exec(listing) as RegExpExecArray)[1];
    };
    expectedFingerprint = fingerprintOf("Repository <repo@example.test>");
    otherFingerprint = fingerprintOf("Impostor <impostor@example.test>");
    fs.writeFileSync(path.join(fixtures, "gitlab.asc"), gpg("--armor", "--export"));

    const nodeRoot = path.join(fixtures, "node-src", `node-v${nodeVersion}-linux-x64`, "bin");
    fs.mkdirSync(nodeRoot, { recursive: true });
    fs.writeFileSync(path.join(nodeRoot, "node"), `#!/bin/sh\necho v${nodeVersion}\n`, { mode: 0o755 });
    execFileSync("tar", [
      "-cJf",
      path.join(fixtures, tarball),
      "-C",
      path.join(fixtures, "node-src"),
      `node-v${nodeVersion}-linux-x64`,
    ]);
    nodeSha256 = createHash("sha256")
      .update(fs.readFileSync(path.join(fixtures, tarball)))
      .digest("hex");

    const bin = path.join(fixtures, "bin");
    fs.mkdirSync(bin);
    const recorder = '#!/bin/sh\necho "$(basename "$0") $*" >>"$FAKE_LOG"\n';
    for (const name of ["apt-get", "apt-mark", "systemctl"]) {
      fs.writeFileSync(path.join(bin, name), recorder, { mode: 0o755 });
    }
    fs.writeFileSync(
      path.join(bin, "curl"),
      [
        "#!/bin/sh",
        "out=",
        "url=",
        "while [ $# -gt 0 ]; do",
        '  case $1 in -o | --proto) [ "$1" = -o ] && out=$2; shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac',
        "done",
        'echo "curl $url" >>"$FAKE_LOG"',
        "case $url in",
        '  https://packages.gitlab.com/runner/gitlab-runner/gpgkey) cp "$FIXTURES/gitlab.asc" "$out" ;;',
        '  https://nodejs.org/dist/*) cp "$FIXTURES/$(basename "$url")" "$out" ;;',
        "  *) exit 22 ;;",
        "esac",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
  });

  after(() => {
    if (!fixtures) return;
    spawnSync("gpgconf", ["--homedir", gnupg, "--kill", "all"]);
    fs.rmSync(fixtures, { recursive: true, force: true });
  });

  /** Runs the user data; returns its result, the fake calls and what it left in the namespace. */
  function boot(options: BootstrapOptions) {
    const run = fs.mkdtempSync(path.join(fixtures, "run-"));
    const userData = path.join(run, "user-data");
    fs.writeFileSync(userData, managerUserData(options), { mode: 0o755 });
    const out = path.join(run, "out");
    fs.mkdirSync(out);
    const wrapper = [
      "set -e",
      'snapshot=$(mktemp -d "$RUN/etc.XXXXXX")',
      'mount --bind /etc "$snapshot"',
      "mount -t tmpfs tmpfs /etc",
      'cp -a "$snapshot"/. /etc/',
      'umount "$snapshot"',
      "mount -t tmpfs tmpfs /usr/share/keyrings",
      "mount -t tmpfs tmpfs /opt",
      'status=0; bash "$USER_DATA" || status=$?',
      'cp /etc/apt/sources.list.d/gitlab-runner.list "$OUT/" 2>/dev/null || true',
      'cp /usr/share/keyrings/gitlab-runner-archive-keyring.gpg "$OUT/" 2>/dev/null || true',
      'stat -c "%a %n" /opt/gitlab-runner/* /etc/gitlab-runner >"$OUT/modes" 2>/dev/null || true',
      'exit "$status"',
    ].join("\n");
    const result = spawnSync("unshare", ["--mount", "sh", "-c", wrapper], {
      encoding: "utf8",
      timeout: 60000,
      env: {
        PATH: `${path.join(fixtures, "bin")}:/usr/sbin:/usr/bin:/sbin:/bin`,
        FAKE_LOG: path.join(run, "calls"),
        FIXTURES: fixtures,
        RUN: run,
        USER_DATA: userData,
        OUT: out,
      },
    });
    const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
    return {
      status: result.status,
      output: result.stdout + result.stderr,
      calls: read(path.join(run, "calls")).split("\n").filter(Boolean),
      out,
      read,
    };
  }

  it("installs the pinned packages from the verified repository key, Node.js, and the driver's directories", () => {
    const result = boot({
      architecture: "amd64",
      gitlabRepositoryKeyFingerprint: expectedFingerprint,
      node: { version: nodeVersion, sha256: nodeSha256 },
    });
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, new RegExp(`v${nodeVersion.replace(/\./g, "\\.")}`), "node --version ran");
    const v = DEFAULT_GITLAB_RUNNER_VERSION;
    assert.deepEqual(
      result.calls.filter((c) => !c.startsWith("apt-get update")),
      [
        "apt-get install -y -q --no-install-recommends ca-certificates curl gnupg xz-utils openssh-client",
        "curl https://packages.gitlab.com/runner/gitlab-runner/gpgkey",
        `apt-get install -y -q gitlab-runner=${v} gitlab-runner-helper-images=${v}`,
        "apt-mark hold gitlab-runner gitlab-runner-helper-images",
        `curl https://nodejs.org/dist/v${nodeVersion}/${tarball}`,
        "systemctl enable --now gitlab-runner",
      ],
    );
    const codename = /^VERSION_CODENAME=(.*)$/m.exec(fs.readFileSync("/etc/os-release", "utf8"))?.[1];
    assert.equal(
      result.read(path.join(result.out, "gitlab-runner.list")).trim(),
      `deb [signed-by=/usr/share/keyrings/gitlab-runner-archive-keyring.gpg] https://packages.gitlab.com/runner/gitlab-runner/ubuntu/ ${codename} main`,
    );
    const keyring = execFileSync("gpg", [
      "--batch",
      "--no-autostart",
      "--homedir",
      gnupg,
      "--with-colons",
      "--show-keys",
      path.join(result.out, "gitlab-runner-archive-keyring.gpg"),
    ]).toString();
    const primaries = [...keyring.matchAll(/^pub:.*\nfpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]);
    assert.deepEqual(primaries, [expectedFingerprint], "apt trusts the pinned key only, not the other key served");
    assert.ok(!keyring.includes(otherFingerprint));
    const modes = result.read(path.join(result.out, "modes"));
    for (const expected of [
      "755 /opt/gitlab-runner/builds",
      "755 /opt/gitlab-runner/cache",
      "700 /opt/gitlab-runner/metadata",
      "755 /opt/gitlab-runner/node",
      "700 /etc/gitlab-runner",
    ]) {
      assert.ok(modes.includes(expected), `${expected} in:\n${modes}`);
    }
  });

  it("refuses a repository key whose fingerprint is not the pinned one, before installing anything from it", () => {
    const result = boot({
      architecture: "amd64",
      gitlabRepositoryKeyFingerprint: GITLAB_REPOSITORY_KEY_FINGERPRINT,
      node: { version: nodeVersion, sha256: nodeSha256 },
    });
    assert.notEqual(result.status, 0);
    assert.match(result.output, /is not F6403F6544A38863DAA0B6E03F01618A51312F3F; refusing to trust it/);
    assert.ok(!result.calls.some((c) => c.includes("gitlab-runner=")));
    assert.equal(fs.existsSync(path.join(result.out, "gitlab-runner-archive-keyring.gpg")), false);
  });

  it("refuses a Node.js tarball that does not match its pinned SHA-256", () => {
    const result = boot({
      architecture: "amd64",
      gitlabRepositoryKeyFingerprint: expectedFingerprint,
      node: { version: nodeVersion, sha256: "0".repeat(64) },
    });
    assert.notEqual(result.status, 0);
    assert.match(result.output, /does not match its pinned SHA-256; refusing to install it/);
    assert.ok(!result.calls.includes("systemctl enable --now gitlab-runner"));
    assert.ok(!result.read(path.join(result.out, "modes")).includes("/opt/gitlab-runner/node"));
  });
});
