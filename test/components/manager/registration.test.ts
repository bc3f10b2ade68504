import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as iarna from "@iarna/toml";
import * as pulumi from "@pulumi/pulumi";
import { parse as smolParse } from "smol-toml";
import type * as Registration from "../../../components/manager/registration";
import { TEST_CA_A } from "../../support/testCertificates";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const TOKEN = "glrt-mock_runner_T0ken";

interface Captured {
  type: string;
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inputs: Record<string, any>;
}

function settled<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** Stands in for the manager's aws.ec2.Instance. */
class FakeInstance extends pulumi.CustomResource {
  constructor(name: string, opts: pulumi.CustomResourceOptions) {
    super("aws:ec2/instance:Instance", name, {}, opts);
  }
}

function isSecret(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && SECRET_SIG in value;
}

describe("registerRunner under Pulumi mocks", () => {
  const resources: Captured[] = [];
  const options = new Map<string, pulumi.ResourceOptions>();
  let registration: typeof Registration;
  let workdir: string;
  let driverA: string;
  let driverB: string;

  before(async () => {
    pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          resources.push({ type: args.type, name: args.name, inputs: args.inputs });
          return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
      },
      "project",
      "stack",
      false,
    );
    registration = await import("../../../components/manager/registration");
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), "gfr-registration-"));
    driverA = path.join(workdir, "a.js");
    driverB = path.join(workdir, "b.js");
    fs.writeFileSync(driverA, "console.log('driver A');\n");
    fs.writeFileSync(driverB, "console.log('driver B');\n");
    fs.writeFileSync(path.join(workdir, "awsSdk.js"), "// the driver's AWS SDK part\n");
  });
  after(() => fs.rmSync(workdir, { recursive: true, force: true }));

  function byName(name: string): Captured {
    const found = resources.filter((r) => r.name === name);
    assert.equal(found.length, 1, `expected one resource named ${name}`);
    return found[0];
  }

  /** A parent that records every child's options, and a stand-in manager instance. */
  function scaffold(name: string) {
    const parent = new pulumi.ComponentResource(
      "test:index:Parent",
      name,
      {},
      {
        transformations: [
          (args) => {
            options.set(args.name, args.opts);
            return undefined;
          },
        ],
      },
    );
    const instance = new FakeInstance(`${name}-manager`, { parent });
    return { parent, instance };
  }

  function baseFargate(): Registration.RegistrationFargateArgs {
    return {
      cluster: pulumi.output("ci-cluster"),
      region: "eu-west-1",
      subnetIds: pulumi.output(["subnet-0a1b2c3d", "subnet-0e0f1a2b"]),
      securityGroupIds: [pulumi.output("sg-0123abcd")],
      taskDefinition: pulumi.output("ci-coordinator:3"),
    };
  }

  function baseArgs(overrides: Partial<Registration.RegisterRunnerArgs> = {}): Registration.RegisterRunnerArgs {
    return {
      connection: { host: "203.0.113.10", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n" },
      gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
      runner: { name: "fargate-runner", concurrent: 4 },
      fargate: baseFargate(),
      instanceId: "i-0123456789abcdef0",
      driverBundlePath: driverA,
      ...overrides,
    };
  }

  async function register(name: string, args: Registration.RegisterRunnerArgs) {
    const { parent, instance } = scaffold(name);
    const result = registration.registerRunner(name, args, { parent, dependsOn: [instance] });
    await Promise.all([...Object.values(result.copies).map((c) => settled(c.id)), settled(result.command.id)]);
    return { result, instance };
  }

  async function stagedText(name: string): Promise<string> {
    const source = byName(name).inputs.source;
    return await source.text;
  }

  it("stages every file, then registers after the copies and the instance; never deletes before replacing", async () => {
    const { result, instance } = await register("order", baseArgs());
    const copyNames = resources.filter((r) => r.type === "command:remote:CopyToRemote" && r.name.startsWith("order-"));
    assert.deepEqual(copyNames.map((r) => r.inputs.remotePath).sort(), [
      "/home/ubuntu/gitlab-fargate-runner/awsSdk.js",
      "/home/ubuntu/gitlab-fargate-runner/config.toml",
      "/home/ubuntu/gitlab-fargate-runner/fargate",
      "/home/ubuntu/gitlab-fargate-runner/fargate.js",
      "/home/ubuntu/gitlab-fargate-runner/fargate.toml",
      "/home/ubuntu/gitlab-fargate-runner/gitlab-runner.conf",
      "/home/ubuntu/gitlab-fargate-runner/register.sh",
      "/home/ubuntu/gitlab-fargate-runner/runner-template.toml",
      "/home/ubuntu/gitlab-fargate-runner/unregister.sh",
    ]);
    assert.equal(byName("order-register").type, "command:remote:Command");

    for (const captured of copyNames) {
      const deps = options.get(captured.name)?.dependsOn as pulumi.Resource[];
      assert.ok(deps.includes(instance), `${captured.name} waits for the instance`);
    }
    const commandOpts = options.get("order-register") as pulumi.CustomResourceOptions;
    const deps = commandOpts.dependsOn as pulumi.Resource[];
    assert.ok(deps.includes(instance), "the register command waits for the instance");
    for (const copy of Object.values(result.copies)) {
      assert.ok(deps.includes(copy), "the register command waits for every copy");
    }
    assert.equal(commandOpts.deleteBeforeReplace, undefined);
    for (const captured of copyNames) {
      assert.equal((options.get(captured.name) as pulumi.CustomResourceOptions).deleteBeforeReplace, undefined);
    }
    for (const output of ["stdout", "stderr"]) {
      assert.ok(commandOpts.additionalSecretOutputs?.includes(output), `${output} is kept as a secret in state`);
    }
  });

  it("the token reaches the command only as secret stdin, never in a command line or a staged file", async () => {
    await register("secret", baseArgs());
    const command = byName("secret-register").inputs;
    assert.ok(isSecret(command.stdin), "stdin is a secret");
    assert.equal(command.stdin.value, `${TOKEN}\n`);
    assert.ok(isSecret(command.connection), "the connection (private key) is a secret");
    assert.equal(command.logging, "stderr");
    const { stdin: _stdin, ...rest } = command;
    assert.ok(!JSON.stringify(rest).includes(TOKEN), "the token appears outside stdin");
    for (const captured of resources.filter((r) => r.name.startsWith("secret-stage-"))) {
      const text = captured.inputs.source.text ? await captured.inputs.source.text : "";
      assert.ok(!text.includes(TOKEN), `${captured.name} holds the token`);
    }
  });

  it("create/update run the register script and delete the unregister script, as the script tests run them", async () => {
    const { result } = await register("lines", baseArgs());
    const command = byName("lines-register").inputs;
    const env = registration.registrationEnvironment({
      stagingDirectory: "/home/ubuntu/gitlab-fargate-runner",
      url: "https://gitlab.example.com",
      name: "fargate-runner",
      tokenKind: "runner",
      privateCa: false,
    });
    const revision = await settled(result.revision);
    assert.match(revision, /^sha256:[0-9a-f]{64}$/);
    const expected = registration.remoteScriptCommand("/home/ubuntu/gitlab-fargate-runner/register.sh", {
      ...env,
      GFR_REVISION: revision,
    });
    assert.equal(command.create, expected);
    assert.equal(command.update, expected);
    assert.equal(
      command.delete,
      "sudo -n env GFR_STAGING='/home/ubuntu/gitlab-fargate-runner' GFR_CONFIG_FILE='/etc/gitlab-runner/config.toml' " +
        "GFR_LOG_DIRECTORY='/var/log/gitlab-fargate-runner' GFR_LAUNCHER='/opt/gitlab-runner/fargate' " +
        "GFR_FARGATE_CONFIG_FILE='/etc/gitlab-runner/fargate.toml' GFR_METADATA_DIRECTORY='/opt/gitlab-runner/metadata' " +
        "sh '/home/ubuntu/gitlab-fargate-runner/unregister.sh'",
    );
    assert.equal(
      await stagedText("lines-stage-register-sh"),
      (await import("../../../components/manager/pushedScripts")).REGISTER_SCRIPT,
    );
  });

  it("a pushed file or a new instance changes the command line (an update), never triggers (a replacement)", async () => {
    const runs = {
      t1: await register("t1", baseArgs()),
      t2: await register("t2", baseArgs({ fargate: { ...baseArgs().fargate, cluster: "other-cluster" } })),
      t3: await register("t3", baseArgs({ driverBundlePath: driverB })),
      t4: await register("t4", baseArgs({ instanceId: "i-0fedcba9876543210" })),
      same: await register("t5", baseArgs()),
    };
    // @pulumi/command replaces a Command whose triggers change, and this one is deleted before it is replaced:
    // the delete step would unregister the working runner before the new token is tried.
    for (const name of ["t1", "t2", "t3", "t4"]) assert.equal(byName(`${name}-register`).inputs.triggers, undefined);

    const hashes1 = await settled(runs.t1.result.fileHashes);
    assert.deepEqual(Object.keys(hashes1).sort(), [
      "awsSdk.js",
      "config.toml",
      "fargate",
      "fargate.js",
      "fargate.toml",
      "gitlab-runner.conf",
      "register.sh",
      "runner-template.toml",
      "unregister.sh",
    ]);
    assert.equal(hashes1["fargate.toml"], registration.contentHash(await stagedText("t1-stage-fargate-toml")));
    assert.equal(hashes1["fargate.js"], registration.contentHash(fs.readFileSync(driverA)));
    assert.equal(
      await settled(runs.t1.result.revision),
      registration.registrationRevision(hashes1, "i-0123456789abcdef0"),
    );

    const update = (name: string) => byName(`${name}-register`).inputs.update as string;
    const revisionOf = (name: string) => /GFR_REVISION='(sha256:[0-9a-f]+)'/.exec(update(name))?.[1];
    assert.ok(revisionOf("t1"));
    assert.equal(revisionOf("t5"), revisionOf("t1"), "nothing changed: the same command line, no re-run");
    assert.notEqual(revisionOf("t2"), revisionOf("t1"), "a new fargate.toml re-registers");
    assert.notEqual(revisionOf("t3"), revisionOf("t1"), "a new driver bundle re-registers");
    assert.equal(await byName("t3-stage-driver").inputs.source.path, driverB);
    assert.notEqual(revisionOf("t4"), revisionOf("t1"), "a replaced instance re-registers");
    assert.equal(
      update("t2").replace(/GFR_REVISION='[^']*' /, ""),
      update("t1").replace(/GFR_REVISION='[^']*' /, ""),
      "only the revision differs",
    );
  });

  it("a new instance gets every file again: each copy is replaced with the instance (triggers)", async () => {
    await register("again", baseArgs());
    const copies = resources.filter((r) => r.type === "command:remote:CopyToRemote" && r.name.startsWith("again-"));
    assert.equal(copies.length, 9);
    for (const copy of copies) assert.deepEqual(copy.inputs.triggers, ["i-0123456789abcdef0"], copy.name);
    const { parent } = scaffold("again-none");
    const bare = registration.registerRunner("again-none", { ...baseArgs(), instanceId: undefined }, { parent });
    await settled(bare.command.id);
    assert.equal(byName("again-none-stage-driver").inputs.triggers, undefined);
  });

  it("fargate.toml names this manager (Manager.ID = the instance id) and the tasks' idle timeout", async () => {
    await register("identity", baseArgs({ fargate: { ...baseFargate(), taskIdleTimeoutSeconds: 900 } }));
    const toml = smolParse(await stagedText("identity-stage-fargate-toml")) as Record<string, Record<string, unknown>>;
    assert.deepEqual({ ...toml.Manager }, { ID: "i-0123456789abcdef0" });
    assert.equal(toml.Timeouts.TaskIdle, 900);
  });

  it("stages gitlab-runner's systemd drop-in with the drain timeout (default 60 minutes)", async () => {
    await register("dropin", baseArgs());
    assert.match(await stagedText("dropin-stage-gitlab-runner-conf"), /^TimeoutStopSec=3600$/m);
    await register("dropin90", baseArgs({ runner: { name: "fargate-runner", drainTimeoutMinutes: 90 } }));
    const text = await stagedText("dropin90-stage-gitlab-runner-conf");
    assert.equal(
      text,
      (await import("../../../components/manager/systemd")).renderGitLabRunnerDropIn({ drainTimeoutMinutes: 90 }),
    );
    assert.throws(
      () => registration.registerRunner("dropin-bad", baseArgs({ runner: { name: "r", drainTimeoutMinutes: 0 } })),
      /runner\.drainTimeoutMinutes/,
    );
  });

  it("with drainConnection: a drain command, replaced with the instance, drains and unregisters at that address", async () => {
    const drainConnection = {
      host: "10.0.1.23",
      privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n",
      proxy: { host: "203.0.113.10" },
    };
    const { result } = await register("drained", baseArgs({ drainConnection }));
    assert.ok(result.drain);
    await settled(result.drain.id);
    const drain = byName("drained-drain").inputs;
    assert.ok(isSecret(drain.connection));
    const connection = drain.connection.value as {
      host: string;
      user: string;
      proxy: { host: string; privateKey: string };
    };
    assert.equal(connection.host, "10.0.1.23");
    assert.equal(connection.user, "ubuntu");
    assert.equal(connection.proxy.host, "203.0.113.10");
    assert.equal(connection.proxy.privateKey, drainConnection.privateKey);
    assert.deepEqual(drain.triggers, ["i-0123456789abcdef0"], "a new instance replaces it: the old one is drained");
    assert.equal(drain.create, "test -f '/home/ubuntu/gitlab-fargate-runner/unregister.sh'");
    assert.equal(drain.update, undefined);
    assert.equal(
      drain.delete,
      registration.remoteScriptCommand(
        "/home/ubuntu/gitlab-fargate-runner/unregister.sh",
        registration.unregistrationEnvironment("/home/ubuntu/gitlab-fargate-runner"),
      ),
    );
    assert.equal(byName("drained-register").inputs.delete, undefined, "the drain command unregisters instead");
    const drainOpts = options.get("drained-drain") as pulumi.CustomResourceOptions;
    assert.ok((drainOpts.dependsOn as pulumi.Resource[]).includes(result.command), "after the registration");
    assert.equal(drainOpts.deleteBeforeReplace, undefined, "the replacement is registered before the old one drains");
    assert.ok(drainOpts.additionalSecretOutputs?.includes("stdout"));

    const { result: plain } = await register("undrained", baseArgs());
    assert.equal(plain.drain, undefined);
    assert.match(byName("undrained-register").inputs.delete, /unregister\.sh'$/);
  });

  it("legacy token, private CA and cache: staged TOMLs read the same in two parsers and carry no token", async () => {
    const legacy = "GR1348941legacy_T0ken";
    const pem = `subject=CN = Test CA a\n${TEST_CA_A}\n`;
    await register(
      "legacy",
      baseArgs({
        gitlab: {
          url: "https://gitlab.internal",
          registrationToken: legacy,
          legacyRegistration: { tags: ["fargate"] },
          tlsCaCertificate: pem,
        },
        cache: { bucketName: pulumi.output("ci-cache"), region: "eu-west-1" },
        fargate: { ...baseArgs().fargate, enablePublicIp: true },
      }),
    );
    for (const file of ["fargate-toml", "config-toml", "runner-template-toml"]) {
      const text = await stagedText(`legacy-stage-${file}`);
      assert.deepEqual(JSON.parse(JSON.stringify(smolParse(text))), JSON.parse(JSON.stringify(iarna.parse(text))));
      assert.ok(!text.includes(legacy));
    }
    const fargate = smolParse(await stagedText("legacy-stage-fargate-toml")).Fargate as Record<string, unknown>;
    assert.equal(fargate.EnablePublicIP, true);
    assert.equal(fargate.UsePublicIP, false, "public tasks are still reached on their private IP by default");
    const runner = (
      smolParse(await stagedText("legacy-stage-runner-template-toml")).runners as Record<string, unknown>[]
    )[0];
    assert.equal(runner["tls-ca-file"], "/etc/gitlab-runner/certs/ca.crt");
    assert.equal(((runner.cache as Record<string, unknown>).s3 as Record<string, unknown>).BucketName, "ci-cache");
    assert.equal(await stagedText("legacy-stage-ca-crt"), `${TEST_CA_A}\n`, "only the certificate is installed");
    const command = byName("legacy-register").inputs;
    assert.equal(command.stdin.value, `${legacy}\n`);
    assert.match(command.create, /GFR_TOKEN_KIND='registration'/);
    assert.match(command.create, /GFR_TAG_LIST='fargate' GFR_RUN_UNTAGGED='false' GFR_LOCKED='true'/);
    assert.match(command.create, /GFR_PRIVATE_CA='true'/);
  });

  it("registers with the parsed, normalised GitLab URL", async () => {
    await register("url", baseArgs({ gitlab: { url: "https://GitLab.Example.COM:443/gitlab/", runnerToken: TOKEN } }));
    assert.match(byName("url-register").inputs.create, / GFR_URL='https:\/\/gitlab\.example\.com\/gitlab' /);
  });

  it("connects with generous dial retries, as ubuntu, optionally through a bastion", async () => {
    await register(
      "proxy",
      baseArgs({
        connection: {
          host: "203.0.113.10",
          privateKey: "manager-key",
          proxy: { host: "198.51.100.7", user: "jump" },
        },
      }),
    );
    const connection = byName("proxy-register").inputs.connection.value;
    assert.equal(connection.user, "ubuntu");
    assert.equal(connection.dialErrorLimit, 60);
    assert.equal(connection.perDialTimeout, 30);
    assert.equal(connection.proxy.host, "198.51.100.7");
    assert.equal(connection.proxy.user, "jump");
    assert.equal(connection.proxy.privateKey, "manager-key", "the bastion uses the manager's key by default");
  });

  describe("invalid arguments fail at program time, naming them", () => {
    const cases: [string, Partial<Registration.RegisterRunnerArgs>, RegExp][] = [
      [
        "both tokens",
        { gitlab: { url: "https://g.example", runnerToken: TOKEN, registrationToken: "GR1348941x" } },
        /gitlab\.runnerToken and gitlab\.registrationToken are mutually exclusive/,
      ],
      [
        "no token",
        { gitlab: { url: "https://g.example" } },
        /gitlab\.runnerToken .* or gitlab\.registrationToken .* is required/,
      ],
      [
        "legacy attributes with a runner token",
        { gitlab: { url: "https://g.example", runnerToken: TOKEN, legacyRegistration: { tags: ["a"] } } },
        /gitlab\.legacyRegistration: it applies only to gitlab\.registrationToken/,
      ],
      ["plain http", { gitlab: { url: "http://g.example", runnerToken: TOKEN } }, /gitlab\.url: must use https/],
      [
        "user and password in the URL",
        { gitlab: { url: "https://ci:pa55word@g.example", runnerToken: TOKEN } },
        /^gitlab\.url: .*user name or password(?!.*pa55word)/,
      ],
      [
        "a newline in the URL",
        { gitlab: { url: "https://g.example/\nx", runnerToken: TOKEN } },
        /gitlab\.url: .*control/,
      ],
      [
        "a glrt- token as registrationToken",
        { gitlab: { url: "https://g.example", registrationToken: "glrt-abc" } },
        /gitlab\.registrationToken: .*gitlab\.runnerToken(?!.*glrt-abc)/,
      ],
      [
        "legacy runUntagged false without tags",
        { gitlab: { url: "https://g.example", registrationToken: "x", legacyRegistration: { runUntagged: false } } },
        /gitlab\.legacyRegistration\.runUntagged/,
      ],
      [
        "51 legacy tags",
        {
          gitlab: {
            url: "https://g.example",
            registrationToken: "x",
            legacyRegistration: { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) },
          },
        },
        /gitlab\.legacyRegistration\.tags: .*at most 50/,
      ],
      [
        "a private key in the CA bundle",
        {
          gitlab: {
            url: "https://g.example",
            runnerToken: TOKEN,
            tlsCaCertificate: `${TEST_CA_A}\n-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n`,
          },
        },
        /gitlab\.tlsCaCertificate: .*private key/,
      ],
      [
        "a CA bundle that is no certificate",
        {
          gitlab: {
            url: "https://g.example",
            runnerToken: TOKEN,
            tlsCaCertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
          },
        },
        /gitlab\.tlsCaCertificate: certificate 1 .*X\.509/,
      ],
      [
        "a subnet id the driver refuses",
        { fargate: { ...baseFargate(), subnetIds: ["subnet-0a1b2c3d", "subnet-q1"] } },
        /fargate\.subnetIds: "subnet-q1"/,
      ],
      [
        "a security group id the driver refuses",
        { fargate: { ...baseFargate(), securityGroupIds: ["sg-1"] } },
        /fargate\.securityGroupIds: "sg-1"/,
      ],
      ["a runner name over 1024 characters", { runner: { name: "n".repeat(1025) } }, /runner\.name: .*1024/],
      ["empty runner name", { runner: { name: " " } }, /runner\.name/],
      [
        "tag with a comma",
        { gitlab: { url: "https://g.example", registrationToken: "x", legacyRegistration: { tags: ["a,b"] } } },
        /gitlab\.legacyRegistration\.tags.*"a,b"/,
      ],
      ["missing driver bundle", { driverBundlePath: "/nonexistent/fargate.js" }, /driverBundlePath: .* does not exist/],
    ];
    for (const [title, overrides, message] of cases) {
      it(title, async () => {
        const name = `bad-${title.replace(/\W+/g, "-")}`;
        assert.throws(
          () => registration.registerRunner(name, baseArgs(overrides)),
          (error: Error) => message.test(error.message),
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual(
          resources.filter((r) => r.name.startsWith(name)).map((r) => r.name),
          [],
          "refused before any resource is created",
        );
      });
    }
  });

  it("finds the built driver bundle by default", () => {
    const found = registration.defaultDriverBundlePath();
    assert.equal(found, path.resolve(__dirname, "../../../dist/driver/fargate.js"));
  });
});
