import { strict as assert } from "node:assert";
import { generateKeyPairSync } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type * as Components from "../../components";
import * as gitlabArguments from "../../components/gitlab/arguments";
import type * as Validation from "../../components/validation";
import { SUBNET_ID } from "../../driver/settings";
import { installMocks } from "../support/pulumiMocks";
import { TEST_CA_A, TEST_CA_B } from "../support/testCertificates";

const TOKEN = "glrt-validation-token";
let components: typeof Components;
let validation: typeof Validation;
let counter = 0;

type Args = Components.GitLabFargateRunnerArgs;
const required: Args = {
  gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
  admin: { sshCidrBlocks: ["203.0.113.7/32"] },
};

/**
 * Asserts that validation refuses `args` (so the constructor throws before it creates any resource) with an Error
 * whose message matches every pattern.
 */
function refuses(args: Args, ...patterns: RegExp[]) {
  assert.throws(
    () => validation.resolveArgs(`bad${++counter}`, args),
    (error: Error) => {
      assert.ok(error instanceof Error);
      for (const pattern of patterns) assert.match(error.message, pattern);
      assert.ok(!error.message.includes(TOKEN), "an error message must never contain the token");
      return true;
    },
  );
}

/** The value of an Output. */
function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return (output as unknown as { promise(): Promise<T> }).promise();
}

/** The Error an Output fails with once it resolves. */
async function outputFailure(output: pulumi.Output<unknown>): Promise<Error> {
  try {
    await outputValue(output);
  } catch (error) {
    return error as Error;
  }
  return assert.fail("expected the output to fail");
}

describe("GitLabFargateRunner argument validation", () => {
  before(async () => {
    await installMocks();
    components = await import("../../components");
    validation = await import("../../components/validation");
  });

  it("refuses a component name S3 or IAM could not use", () => {
    assert.throws(() => new components.GitLabFargateRunner("Runner_A", required), /invalid name: "Runner_A"/);
    assert.throws(() => new components.GitLabFargateRunner("r".repeat(33), required), /invalid name/);
  });

  describe("gitlab", () => {
    it("requires gitlab.url", () => {
      refuses({ ...required, gitlab: { url: "", runnerToken: TOKEN } }, /gitlab\.url/, /required/);
    });

    it("refuses a non-https gitlab.url", () => {
      refuses(
        { ...required, gitlab: { url: "http://gitlab.example.com", runnerToken: TOKEN } },
        /gitlab\.url/,
        /https/,
      );
    });

    it("refuses a gitlab.url that is not a URL", () => {
      refuses({ ...required, gitlab: { url: "gitlab.example.com", runnerToken: TOKEN } }, /gitlab\.url/, /not a URL/);
    });

    it("refuses an empty runner token", () => {
      refuses(
        { ...required, gitlab: { url: "https://gitlab.example.com", runnerToken: "" } },
        /gitlab\.runnerToken/,
        /empty/,
      );
    });

    it("refuses both runnerToken and registrationToken, naming both", () => {
      refuses(
        { ...required, gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN, registrationToken: "GR1" } },
        /runnerToken/,
        /registrationToken/,
        /mutually exclusive/,
      );
    });

    it("refuses no token at all, naming the three ways to give one", () => {
      refuses(
        { ...required, gitlab: { url: "https://gitlab.example.com" } },
        /runnerToken/,
        /registrationToken/,
        /createRunner/,
      );
    });

    it("keeps the token secret and strips a trailing slash from the URL", async () => {
      const { isSecretOutput } = await import("../support/pulumiMocks");
      const resolved = validation.resolveArgs("ok", {
        ...required,
        gitlab: { url: "https://gitlab.example.com/", runnerToken: TOKEN },
      });
      assert.equal(resolved.gitlab.url, "https://gitlab.example.com");
      assert.equal(resolved.gitlab.token.kind, "runner");
      assert.ok(await isSecretOutput(resolved.gitlab.token.value));
    });
  });

  describe("admin.sshCidrBlocks", () => {
    it("refuses an invalid CIDR block", () => {
      refuses({ ...required, admin: { sshCidrBlocks: ["203.0.113.7"] } }, /admin\.sshCidrBlocks/, /"203\.0\.113\.7"/);
      refuses({ ...required, admin: { sshCidrBlocks: ["203.0.113.7/33"] } }, /admin\.sshCidrBlocks/);
      refuses({ ...required, admin: { sshCidrBlocks: ["999.0.0.1/32"] } }, /admin\.sshCidrBlocks/);
    });

    it("refuses SSH from the whole internet, IPv4 and IPv6", () => {
      refuses({ ...required, admin: { sshCidrBlocks: ["0.0.0.0/0"] } }, /admin\.sshCidrBlocks/, /whole internet/);
      refuses({ ...required, admin: { sshCidrBlocks: ["203.0.113.7/32", "::/0"] } }, /"::\/0"/, /whole internet/);
    });

    it("refuses an empty list", () => {
      refuses({ ...required, admin: { sshCidrBlocks: [] } }, /admin\.sshCidrBlocks/, /at least one/);
    });
  });

  describe("admin.sshCidrBlocks host bits", () => {
    it("refuses an IPv4 block with host bits set, suggesting the network address", () => {
      refuses(
        { ...required, admin: { sshCidrBlocks: ["203.0.113.7/24"] } },
        /admin\.sshCidrBlocks/,
        /203\.0\.113\.0\/24/,
      );
      refuses({ ...required, network: { cidrBlock: "10.1.2.3/16" } }, /network\.cidrBlock/, /10\.1\.0\.0\/16/);
    });
  });

  describe("runner and manager", () => {
    it("refuses an empty or multi-line runner.name and more than 1000 concurrent jobs", () => {
      refuses({ ...required, runner: { name: " " } }, /runner\.name/);
      refuses({ ...required, runner: { name: "a\nb" } }, /runner\.name/);
      refuses({ ...required, runner: { concurrent: 1001 } }, /runner\.concurrent/);
    });

    it("refuses tags a job task could not carry: too many, an aws: key, a value with forbidden characters", () => {
      const many = Object.fromEntries(Array.from({ length: 46 }, (_, i) => [`k${i}`, "v"]));
      refuses({ ...required, tags: many }, /invalid tags/, /at most 46 tags, got 47/);
      refuses({ ...required, tags: { "aws:owner": "me" } }, /invalid tags/, /aws:/);
      refuses({ ...required, tags: { team: "a;b" } }, /invalid tags/, /tag "team"/);
    });

    it("refuses a bastion without host or key", () => {
      refuses({ ...required, manager: { sshProxy: { host: "", privateKey: "k" } } }, /manager\.sshProxy/);
    });
  });

  describe("jobs", () => {
    it("refuses a cpu Fargate does not offer, listing the valid ones", () => {
      refuses({ ...required, jobs: { cpu: 3000 } }, /jobs\.cpu/, /256, 512, 1024, 2048, 4096, 8192, 16384/);
    });

    it("refuses memory not allowed for the cpu, listing the valid memory values", () => {
      refuses(
        { ...required, jobs: { cpu: 1024, memory: 1024 } },
        /jobs\.memory/,
        /cpu 1024/,
        /valid: 2048, 3072, 4096, 5120, 6144, 7168, 8192$/,
      );
      refuses({ ...required, jobs: { cpu: 256, memory: 1536 } }, /valid: 512, 1024, 2048$/);
    });

    it("knows Fargate's cpu/memory table at its edges", async () => {
      const { allowedMemory } = await import("../../components/fargate");
      assert.deepEqual(allowedMemory(8192).slice(0, 2), [16384, 20480]);
      assert.equal(allowedMemory(8192).at(-1), 61440);
      assert.equal(allowedMemory(16384).at(-1), 122880);
      assert.equal(allowedMemory(4096).at(-1), 30720);
      assert.deepEqual(allowedMemory(3000), []);
    });

    it("refuses a log retention CloudWatch does not accept", () => {
      refuses({ ...required, jobs: { logRetentionDays: 10 } }, /jobs\.logRetentionDays/, /1, 3, 5, 7, 14/);
    });

    it("refuses ephemeral storage outside 21-200 GiB", () => {
      refuses({ ...required, jobs: { ephemeralStorageGiB: 201 } }, /jobs\.ephemeralStorageGiB/);
    });

    it("refuses onDemandBase without FARGATE_SPOT", () => {
      refuses({ ...required, jobs: { onDemandBase: 1 } }, /jobs\.onDemandBase/, /FARGATE_SPOT/);
    });

    it("refuses a malformed credentials secret ARN and an image without uri", () => {
      refuses(
        { ...required, jobs: { image: { uri: "r.example.com/i:1", credentialsSecretArn: "my-secret" } } },
        /jobs\.image\.credentialsSecretArn/,
      );
      refuses({ ...required, jobs: { image: { uri: "" } } }, /jobs\.image\.uri/);
    });

    it("refuses a platform version that is neither LATEST nor x.y.z", () => {
      refuses({ ...required, jobs: { platformVersion: "latest-ish" } }, /jobs\.platformVersion/);
    });
  });

  describe("network", () => {
    it("refuses a half-given own network, naming what is missing", () => {
      refuses(
        { ...required, network: { existing: { vpcId: "vpc-1", publicSubnetIds: ["subnet-a"] } } },
        /network\.existing/,
        /missing: privateSubnetIds/,
      );
      refuses(
        { ...required, network: { existing: { vpcId: "vpc-1", publicSubnetIds: [], privateSubnetIds: ["subnet-b"] } } },
        /missing: publicSubnetIds/,
      );
    });

    it("accepts an own network without private subnets in public-task mode", () => {
      const resolved = validation.resolveArgs("pub", {
        ...required,
        network: { taskPlacement: "public", existing: { vpcId: "vpc-0a1b2c3d", publicSubnetIds: ["subnet-0a1b2c3d"] } },
      });
      assert.equal(resolved.network.taskPlacement, "public");
    });

    it("refuses ids of the wrong kind", () => {
      refuses(
        {
          ...required,
          network: {
            existing: {
              vpcId: "subnet-0a1b2c3d",
              publicSubnetIds: ["subnet-0a1b2c3d"],
              privateSubnetIds: ["subnet-0e0f1a2b"],
            },
          },
        },
        /network\.existing\.vpcId/,
      );
    });

    it("refuses an unknown NAT layout and a VPC CIDR that is not IPv4", () => {
      refuses({ ...required, network: { natGateways: "three" as "single" } }, /network\.natGateways/);
      refuses({ ...required, network: { cidrBlock: "2001:db8::/56" } }, /network\.cidrBlock/);
    });
  });

  describe("gitlab.url: one parsed, normalised URL", () => {
    const url = (value: string): Args => ({ ...required, gitlab: { url: value, runnerToken: TOKEN } });

    it("refuses a user name or password in the URL without repeating it", () => {
      for (const value of ["https://deploy:s3cr3t-pw@gitlab.example.com", "https://s3cr3t-pw@gitlab.example.com/"]) {
        assert.throws(
          () => validation.resolveArgs("userinfo", url(value)),
          (error: Error) => {
            assert.match(error.message, /invalid gitlab\.url: .*user name or password/);
            assert.ok(!error.message.includes("s3cr3t-pw"), error.message);
            return true;
          },
        );
      }
    });

    it("refuses control characters and whitespace anywhere, also where the URL parser would drop them", () => {
      for (const value of [
        "https://gitlab.example.com/\nX-Injected: 1",
        "https://gitlab.example.com/gi\ttlab",
        "https://gitlab.example.com\r",
        "https://gitlab.example.com/gitlab?a=\u0007",
        "https://gitlab.example.com/a b",
        " https://gitlab.example.com",
        "https://gitlab.example.com/%0aX-Injected:%201",
        "https://gitlab.example.com/\u0085",
      ]) {
        assert.throws(
          () => validation.resolveArgs("ctl", url(value)),
          /invalid gitlab\.url: .*control character/,
          value,
        );
      }
    });

    it("refuses a query or fragment: GitLab's base URL has neither", () => {
      refuses(url("https://gitlab.example.com/?private_token=x"), /gitlab\.url/, /query/);
      refuses(url("https://gitlab.example.com/#top"), /gitlab\.url/, /fragment/);
    });

    it("hands on the parsed URL: lower-case host, no default port, no trailing slash, sub-path kept", () => {
      const resolved = validation.resolveArgs("norm", url("https://GitLab.Example.COM:443/Tools/gitlab/"));
      assert.equal(resolved.gitlab.url, "https://gitlab.example.com/Tools/gitlab");
      assert.equal(resolved.gitlab.port, 443);
      const custom = validation.resolveArgs("norm", url("https://[2001:DB8::1]:8443"));
      assert.equal(custom.gitlab.url, "https://[2001:db8::1]:8443");
      assert.equal(custom.gitlab.port, 8443);
    });

    it("is one pure function (registerRunner and GitLabRunner call it too) whose errors name gitlab.url", () => {
      assert.deepEqual(gitlabArguments.normaliseGitLabUrl("https://GitLab.example.com//"), {
        url: "https://gitlab.example.com",
        port: 443,
      });
      assert.throws(
        () => gitlabArguments.normaliseGitLabUrl("https://a:b@gitlab.example.com"),
        /^Error: gitlab\.url: /,
      );
    });
  });

  describe("admin.sshCidrBlocks: a minimum prefix length", () => {
    it("refuses the internet split into halves (or any block wider than /8 or /32), like /0", () => {
      const blocks = (...sshCidrBlocks: string[]): Args => ({ ...required, admin: { sshCidrBlocks } });
      refuses(blocks("0.0.0.0/1", "128.0.0.0/1"), /admin\.sshCidrBlocks/, /"0\.0\.0\.0\/1"/, /\/8/);
      refuses(blocks("203.0.113.7/32", "128.0.0.0/1"), /"128\.0\.0\.0\/1"/);
      refuses(blocks("10.0.0.0/7"), /"10\.0\.0\.0\/7"/);
      refuses(blocks("::/1"), /"::\/1"/, /\/32/);
      refuses(blocks("8000::/1"), /"8000::\/1"/);
      refuses(blocks("2001:db8::/31"), /"2001:db8::\/31"/);
      assert.deepEqual(validation.MIN_SSH_PREFIX_LENGTH, { ipv4: 8, ipv6: 32 });
    });

    it("accepts blocks at the minimum", () => {
      const resolved = validation.resolveArgs("cidr", {
        ...required,
        admin: { sshCidrBlocks: ["10.0.0.0/8", "2001:db8::/32"] },
      });
      assert.deepEqual(resolved.admin.sshCidrBlocks, ["10.0.0.0/8", "2001:db8::/32"]);
    });
  });

  describe("gitlab.tlsCaCertificate: CERTIFICATE blocks only", () => {
    const ca = (tlsCaCertificate: pulumi.Input<string>): Args => ({
      ...required,
      gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN, tlsCaCertificate },
    });
    const pkcs8Key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    }) as string;
    const sec1Key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      type: "sec1",
      format: "pem",
    }) as string;
    const publicKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({
      type: "spki",
      format: "pem",
    }) as string;

    it("installs exactly the certificates of a bundle, comments between them dropped", async () => {
      const bundle = `# Issuer: our root\n${TEST_CA_A}\n\nsubject=CN = intermediate\n${TEST_CA_B}`;
      const resolved = validation.resolveArgs("ca", ca(bundle));
      assert.equal(await outputValue(resolved.gitlab.tlsCaCertificate!), `${TEST_CA_A}\n${TEST_CA_B}\n`);
    });

    it("refuses a bundle containing a private key, whatever its PEM label", () => {
      for (const key of [
        pkcs8Key,
        sec1Key,
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
      ]) {
        refuses(ca(`${TEST_CA_A}\n${key}`), /gitlab\.tlsCaCertificate/, /private key/);
      }
    });

    it("refuses other PEM blocks, an empty value, a block that is no X.509 certificate and an unclosed block", () => {
      refuses(ca(`${TEST_CA_A}\n${publicKey}`), /gitlab\.tlsCaCertificate/, /PUBLIC KEY/, /only CERTIFICATE/);
      refuses(ca(""), /gitlab\.tlsCaCertificate/, /empty/);
      refuses(ca(" \n"), /gitlab\.tlsCaCertificate/, /empty/);
      refuses(ca("not a certificate"), /gitlab\.tlsCaCertificate/, /no PEM certificate/);
      refuses(
        ca(`${TEST_CA_A}\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----`),
        /gitlab\.tlsCaCertificate/,
        /certificate 2 .*not an X\.509 certificate/,
      );
      refuses(ca(TEST_CA_A.replace(/-----END CERTIFICATE-----$/, "")), /gitlab\.tlsCaCertificate/, /-----END/);
    });

    it("checks a value known only at deploy time when it resolves", async () => {
      const resolved = validation.resolveArgs("ca-output", ca(pulumi.output(`${TEST_CA_A}\n${pkcs8Key}`)));
      const error = await outputFailure(resolved.gitlab.tlsCaCertificate!);
      assert.match(error.message, /invalid gitlab\.tlsCaCertificate: .*private key/);
    });
  });

  describe("network.existing ids: the driver's own rules", () => {
    const existing = (ids: Partial<Components.ExistingNetworkArgs>): Args => ({
      ...required,
      network: {
        existing: {
          vpcId: "vpc-0a1b2c3d",
          publicSubnetIds: ["subnet-0a1b2c3d"],
          privateSubnetIds: ["subnet-0123456789abcdef0"],
          ...ids,
        },
      },
    });

    it("accepts the id shapes AWS issues (8 or 17 hex digits)", () => {
      const resolved = validation.resolveArgs("ids", existing({}));
      assert.deepEqual(resolved.network.existing?.publicSubnetIds, ["subnet-0a1b2c3d"]);
    });

    it("refuses subnet ids every job would then refuse", () => {
      for (const bad of ["subnet-a", "subnet-0a1b2c3", "subnet-0A1B2C3D", "subnet-0a1b2c3d ", "subnet-0a1b2c3d0"]) {
        assert.equal(SUBNET_ID.test(bad), false, `the driver refuses ${bad}`);
        refuses(existing({ publicSubnetIds: [bad] }), /network\.existing\.publicSubnetIds/, /8 or 17 lowercase hex/);
        refuses(existing({ privateSubnetIds: [bad] }), /network\.existing\.privateSubnetIds/);
      }
      refuses(existing({ vpcId: "vpc-1" }), /network\.existing\.vpcId/);
    });

    it("checks ids known only at deploy time when they resolve", async () => {
      const resolved = validation.resolveArgs(
        "ids-output",
        existing({ privateSubnetIds: [pulumi.output("subnet-q1")] }),
      );
      const error = await outputFailure(pulumi.output(resolved.network.existing!.privateSubnetIds![0]));
      assert.match(error.message, /network\.existing\.privateSubnetIds/);
    });
  });

  describe("legacy registration", () => {
    const legacy = (gitlab: Partial<Components.GitLabArgs>): Args => ({
      ...required,
      gitlab: { url: "https://gitlab.example.com", registrationToken: "GR1348941legacy", ...gitlab },
    });

    it("refuses runUntagged: false without tags (gitlab-runner would register it run-untagged anyway)", () => {
      refuses(
        legacy({ legacyRegistration: { runUntagged: false } }),
        /gitlab\.legacyRegistration\.runUntagged/,
        /tags/,
      );
      refuses(legacy({ legacyRegistration: { runUntagged: false, tags: [] } }), /legacyRegistration\.runUntagged/);
      validation.resolveArgs("legacy-ok", legacy({ legacyRegistration: { runUntagged: false, tags: ["fargate"] } }));
    });

    it("refuses legacy tags GitLab would refuse, before any resource is created", () => {
      refuses(legacy({ legacyRegistration: { tags: ["a,b"] } }), /gitlab\.legacyRegistration\.tags/, /"a,b"/);
      const many = Array.from({ length: 51 }, (_, i) => `t${i}`);
      refuses(legacy({ legacyRegistration: { tags: many } }), /gitlab\.legacyRegistration\.tags/, /at most 50/);
    });

    it("refuses a glrt- runner token given as registrationToken, pointing at runnerToken", () => {
      const runnerToken = "glrt-given-as-registration";
      assert.throws(
        () => validation.resolveArgs("glrt", legacy({ registrationToken: runnerToken })),
        (error: Error) => {
          assert.match(error.message, /gitlab\.registrationToken/);
          assert.match(error.message, /gitlab\.runnerToken/);
          assert.ok(!error.message.includes(runnerToken), "the message never repeats the token");
          return true;
        },
      );
    });

    it("checks a registration token known only at deploy time when it resolves", async () => {
      const resolved = validation.resolveArgs("glrt-output", legacy({ registrationToken: pulumi.secret("glrt-x") }));
      assert.equal(resolved.gitlab.token.kind, "registration");
      const token = resolved.gitlab.token as { value: pulumi.Output<string> };
      assert.match((await outputFailure(token.value)).message, /gitlab\.registrationToken.*gitlab\.runnerToken/);
    });
  });

  describe("gitlab.createRunner: the rules GitLabRunner shares", () => {
    const valid: Components.CreateRunnerArgs = { accessToken: "glpat-validation-test", scope: { groupId: 42 } };

    it("accepts a minimal and a complete configuration, and Output tokens", () => {
      gitlabArguments.validateCreateRunnerArgs(valid);
      gitlabArguments.validateCreateRunnerArgs({ accessToken: pulumi.secret("x"), scope: "instance" });
      gitlabArguments.validateCreateRunnerArgs({
        accessToken: "glpat-validation-test",
        scope: { projectId: 7 },
        description: "fargate",
        tags: ["fargate", "aws"],
        runUntagged: false,
        locked: false,
        accessLevel: "ref_protected",
        maximumTimeout: 600,
        paused: true,
        maintenanceNote: "owned by the platform team",
      });
    });

    const invalid: [string, Partial<Components.CreateRunnerArgs> & Record<string, unknown>, RegExp][] = [
      ["missing access token", { accessToken: undefined }, /gitlab\.createRunner\.accessToken: it is required/],
      [
        "a glrt- token as access token",
        { accessToken: "glrt-abc" },
        /runner authentication token.*gitlab\.runnerToken/,
      ],
      ["a registration token", { accessToken: "GR1348941abc" }, /registration token.*gitlab\.registrationToken/],
      ["missing scope", { scope: undefined }, /gitlab\.createRunner\.scope: it is required/],
      ["unknown scope word", { scope: "group" as never }, /gitlab\.createRunner\.scope: .*"instance"/],
      ["two scope keys", { scope: { groupId: 1, projectId: 2 } as never }, /exactly one key/],
      [
        "non-numeric group id",
        { scope: { groupId: "mygroup" as never } },
        /scope\.groupId: it must be GitLab's numeric id/,
      ],
      ["zero project id", { scope: { projectId: 0 } }, /scope\.projectId: it must be/],
      ["empty description", { description: " " }, /gitlab\.createRunner\.description/],
      ["tags not an array", { tags: "a,b" as never }, /gitlab\.createRunner\.tags: it must be an array/],
      ["tag with a comma", { tags: ["a,b"] }, /tags: it contains "a,b"/],
      ["tag with spaces", { tags: [" a"] }, /tags: it contains " a"/],
      ["duplicate tag", { tags: ["a", "a"] }, /lists "a" twice/],
      ["runUntagged false without tags", { runUntagged: false }, /runUntagged: false needs tags, but .*tags is empty/],
      ["paused not boolean", { paused: "yes" as never }, /gitlab\.createRunner\.paused: it must be true or false/],
      ["locked on a group runner", { locked: true }, /locked: it applies only to project runners/],
      [
        "bad access level",
        { accessLevel: "protected" as never },
        /accessLevel: it must be "not_protected" or "ref_protected"/,
      ],
      ["timeout under 600", { maximumTimeout: 599 }, /maximumTimeout: .*at least 600/],
      ["fractional timeout", { maximumTimeout: 600.5 }, /maximumTimeout: it must be a whole number/],
      ["note too long", { maintenanceNote: "x".repeat(1025) }, /maintenanceNote: .*at most 1024/],
      ["51 tags", { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, /tags: it has 51 tags; .*at most 50/],
      ["a description over 1024 characters", { description: "d".repeat(1025) }, /description: .*at most 1024/],
    ];
    for (const [title, change, pattern] of invalid) {
      it(`rejects ${title}`, () => {
        assert.throws(
          () => gitlabArguments.validateCreateRunnerArgs({ ...valid, ...change } as Components.CreateRunnerArgs),
          pattern,
        );
      });
    }

    it("requires exactly one of runnerToken, registrationToken and createRunner", () => {
      gitlabArguments.chooseToken({ createRunner: valid });
      gitlabArguments.chooseToken({ runnerToken: "glrt-x" });
      assert.throws(
        () => gitlabArguments.chooseToken({ runnerToken: "glrt-x", createRunner: valid }),
        /gitlab\.runnerToken and gitlab\.createRunner are mutually exclusive/,
      );
      assert.throws(
        () => gitlabArguments.chooseToken({ registrationToken: "GR1348941x", createRunner: valid }),
        /gitlab\.registrationToken and gitlab\.createRunner are mutually exclusive/,
      );
      assert.throws(() => gitlabArguments.chooseToken({}), /one of gitlab\.runnerToken .* is required/);
    });
  });

  describe("gitlab.createRunner: GitLab's own limits, checked before any call", () => {
    const create = (createRunner: Partial<Components.CreateRunnerArgs>): Args => ({
      ...required,
      gitlab: {
        url: "https://gitlab.example.com",
        createRunner: { accessToken: "glpat-x", scope: { groupId: 42 }, ...createRunner },
      },
    });

    it("refuses a description over 1024 characters, counting characters as GitLab does", () => {
      refuses(create({ description: "d".repeat(1025) }), /gitlab\.createRunner\.description/, /1024/);
      validation.resolveArgs("desc", create({ description: "🦊".repeat(1024) }));
    });

    it("refuses a runner name over 1024 characters: it becomes the runner's description", () => {
      refuses({ ...create({}), runner: { name: "n".repeat(1025) } }, /runner\.name/, /1024/);
    });

    it("refuses more than 50 tags", () => {
      const tags = Array.from({ length: 51 }, (_, i) => `t${i}`);
      refuses(create({ tags }), /gitlab\.createRunner\.tags/, /at most 50/);
      validation.resolveArgs("tags", create({ tags: tags.slice(1) }));
    });
  });

  describe("defaults", () => {
    it("applies the documented defaults", () => {
      const r = validation.resolveArgs("defaults", required);
      assert.deepEqual(
        {
          cpu: r.jobs.cpu,
          memory: r.jobs.memory,
          arch: r.jobs.architecture,
          capacity: r.jobs.capacityProvider,
          logs: r.jobs.logRetentionDays,
          nat: r.network.natGateways,
          azs: r.network.availabilityZoneCount,
          placement: r.network.taskPlacement,
          instanceType: r.manager.instanceType,
          managerArch: r.manager.architecture,
          cache: r.cache,
          runner: r.runner,
          tags: r.tags,
        },
        {
          cpu: 1024,
          memory: 2048,
          arch: "amd64",
          capacity: "FARGATE",
          logs: 14,
          nat: "single",
          azs: 2,
          placement: "private",
          instanceType: "t3.small",
          managerArch: "amd64",
          cache: { enabled: true, expirationDays: 14, forceDestroy: false },
          runner: { name: "defaults", concurrent: 10, checkInterval: 3 },
          tags: { "gitlab-fargate-runner": "defaults" },
        },
      );
    });

    it("derives the manager architecture from the instance type", () => {
      for (const type of ["t4g.small", "m7g.large", "c6gn.xlarge", "a1.medium"]) {
        assert.equal(validation.instanceArchitecture(type), "arm64", type);
      }
      for (const type of ["t3.small", "m6i.large", "g5.xlarge", "c7a.large"]) {
        assert.equal(validation.instanceArchitecture(type), "amd64", type);
      }
    });
  });
});
