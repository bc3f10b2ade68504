import { strict as assert } from "node:assert";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ciCoordinatorImage,
  CI_COORDINATOR_IMAGE_DIR,
  containerArgv,
  containerCapabilities,
  containerEnvironment,
  FARGATE_DEFAULT_CAPABILITIES,
  parseDockerfile,
  resolveUser,
} from "./netnsContainers";
import { LaunchContainer } from "./taskLauncher";

const container = (change: Partial<LaunchContainer> = {}): LaunchContainer => ({
  name: "c",
  image: "i",
  essential: true,
  environment: {},
  dependsOn: [],
  mountPoints: [],
  capabilities: { add: [], drop: [] },
  ...change,
});

describe("task host containers: what Docker/Fargate would run", () => {
  describe("the ci-coordinator image, read from its Dockerfile", () => {
    it("copies the build context's files of the final stage only, with the modes RUN chmod gives them", () => {
      const image = parseDockerfile(
        [
          "FROM debian AS download",
          "COPY verify.sh /usr/local/bin/verify.sh",
          "FROM debian:slim",
          "# a comment",
          "COPY --from=download /download/tool /usr/local/bin/tool",
          "COPY sshd_config /etc/ssh/sshd_config",
          "COPY a.sh b.sh /usr/local/lib/",
          "COPY --chmod=0700 secret.sh /root/secret.sh",
          "COPY entry.sh /usr/local/bin/entry",
          "RUN chmod 644 /etc/ssh/sshd_config \\",
          "  && chmod 755 /usr/local/bin/entry /usr/local/lib/a.sh",
          'ENV A=1 B="two words"',
          "WORKDIR /srv",
          'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/entry"]',
        ].join("\n"),
        "/ctx",
      );
      assert.deepEqual(image.files, [
        { source: "/ctx/sshd_config", destination: "/etc/ssh/sshd_config", mode: 0o644 },
        { source: "/ctx/a.sh", destination: "/usr/local/lib/a.sh", mode: 0o755 },
        { source: "/ctx/b.sh", destination: "/usr/local/lib/b.sh", mode: undefined },
        { source: "/ctx/secret.sh", destination: "/root/secret.sh", mode: 0o700 },
        { source: "/ctx/entry.sh", destination: "/usr/local/bin/entry", mode: 0o755 },
      ]);
      assert.deepEqual(image.entrypoint, ["/usr/bin/tini", "--", "/usr/local/bin/entry"]);
      assert.equal(image.cmd, undefined);
      assert.equal(image.workingDir, "/srv");
      assert.deepEqual(image.env, { A: "1", B: "two words" });
    });

    it("reads images/ci-coordinator/Dockerfile: its entrypoint and sshd_config, docker-entrypoint.sh at their paths", () => {
      const image = ciCoordinatorImage();
      assert.deepEqual(image.entrypoint, ["/usr/bin/tini", "--", "/usr/local/bin/docker-entrypoint.sh"]);
      const byDestination = new Map(image.files.map((file) => [file.destination, file.source]));
      assert.equal(
        byDestination.get("/usr/local/bin/docker-entrypoint.sh"),
        join(CI_COORDINATOR_IMAGE_DIR, "docker-entrypoint.sh"),
      );
      assert.equal(byDestination.get("/etc/ssh/sshd_config"), join(CI_COORDINATOR_IMAGE_DIR, "sshd_config"));
      assert.ok(
        image.files.every((file) => !file.source.includes("download")),
        "nothing of the download stage",
      );
    });
  });

  it("merges entrypoint and command as Docker does", () => {
    const image = { entrypoint: ["/entry"], cmd: ["default", "args"] };
    assert.deepEqual(containerArgv(image, container()), ["/entry", "default", "args"]);
    assert.deepEqual(containerArgv(image, container({ command: ["mine"] })), ["/entry", "mine"]);
    assert.deepEqual(containerArgv(image, container({ entryPoint: ["/other"] })), ["/other"], "the image's CMD goes");
    assert.deepEqual(containerArgv(image, container({ entryPoint: ["/other"], command: ["x"] })), ["/other", "x"]);
    assert.deepEqual(containerArgv({ cmd: ["sh"] }, container({ command: [] })), ["sh"], "an empty command is unset");
    assert.deepEqual(containerArgv({}, container()), []);
  });

  it("computes capabilities: Fargate's default set, drop first, then add; ALL on either side", () => {
    const defaults = [...FARGATE_DEFAULT_CAPABILITIES].sort();
    assert.deepEqual(containerCapabilities({ add: [], drop: [] }), defaults);
    assert.ok(!defaults.includes("NET_RAW" as never), "Fargate's default lacks NET_RAW");
    assert.deepEqual(containerCapabilities({ add: ["SYS_PTRACE"], drop: [] }), [...defaults, "SYS_PTRACE"].sort());
    assert.deepEqual(
      containerCapabilities({ add: [], drop: ["CHOWN", "CAP_KILL"] }),
      defaults.filter((c) => c !== "CHOWN" && c !== "KILL"),
    );
    assert.deepEqual(containerCapabilities({ add: ["SYS_PTRACE"], drop: ["ALL"] }), ["SYS_PTRACE"]);
    assert.ok(containerCapabilities({ add: ["ALL"], drop: [] }).includes("SYS_ADMIN"));
  });

  describe("users and environment", () => {
    let root: string;
    before(() => {
      root = mkdtempSync(join(tmpdir(), "containers-test-"));
      mkdirSync(join(root, "etc"));
      writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n");
      writeFileSync(join(root, "etc/group"), "root:x:0:\napp:x:1001:\nstaff:x:50:\n");
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    it("resolves a user spec against the image's passwd and group files", () => {
      assert.deepEqual(resolveUser(undefined, root), { uid: 0, gid: 0, home: "/root" });
      assert.deepEqual(resolveUser("app", root), { uid: 1000, gid: 1001, home: "/home/app" });
      assert.deepEqual(resolveUser("1000", root), { uid: 1000, gid: 1001, home: "/home/app" });
      assert.deepEqual(resolveUser("1000:50", root), { uid: 1000, gid: 50, home: "/home/app" });
      assert.deepEqual(resolveUser("app:staff", root), { uid: 1000, gid: 50, home: "/home/app" });
      assert.deepEqual(resolveUser("4242", root), { uid: 4242, gid: 0, home: "/" }, "a uid the image does not know");
      assert.throws(() => resolveUser("nobody", root), /unable to find user nobody/);
      assert.throws(() => resolveUser("app:wheel", root), /unable to find group wheel/);
    });

    it("builds the environment: PATH and HOSTNAME, the image's, the container's, HOME unless set", () => {
      const user = { uid: 1000, gid: 1000, home: "/home/app" };
      assert.deepEqual(containerEnvironment({}, container({ environment: { A: "1" } }), "ip-10-0-0-2", user), {
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        HOSTNAME: "ip-10-0-0-2",
        A: "1",
        HOME: "/home/app",
      });
      const env = containerEnvironment(
        { env: { PATH: "/opt/bin", A: "image", HOME: "/data" } },
        container({ environment: { A: "container" } }),
        "h",
        user,
      );
      assert.deepEqual(env, { PATH: "/opt/bin", HOSTNAME: "h", A: "container", HOME: "/data" });
    });
  });
});
