import { strict as assert } from "node:assert";
import { generateKeyPairSync } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type * as Components from "../../../components";
import * as gitlabArguments from "../../../components/gitlab/arguments";
import type * as Validation from "../../../components/validation";
import { TEST_CA_A, TEST_CA_B } from "../../support/testCertificates";
import { Args, loadValidation, outputFailure, outputValue, refuses, required, TOKEN } from "../argumentValidation";

let validation: typeof Validation;

describe("GitLabFargateRunner argument validation", () => {
  before(async () => {
    ({ validation } = await loadValidation());
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
      const { isSecretOutput } = await import("../../support/pulumiMocks");
      const resolved = validation.resolveArgs("ok", {
        ...required,
        gitlab: { url: "https://gitlab.example.com/", runnerToken: TOKEN },
      });
      assert.equal(resolved.gitlab.url, "https://gitlab.example.com");
      assert.equal(resolved.gitlab.token.kind, "runner");
      assert.ok(await isSecretOutput(resolved.gitlab.token.value));
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
      gitlabArguments.validateCreateRunnerArgs({ accessToken: pulumi.secret("x"), scope: { instance: true } });
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
      ["the former scope word", { scope: "instance" as never }, /gitlab\.createRunner\.scope: .*\{ instance: true \}/],
      [
        "two scope members",
        { scope: { groupId: 1, projectId: 2 } },
        /gitlab\.createRunner\.scope: give exactly one of instance, groupId and projectId .*got groupId and projectId/,
      ],
      [
        "all three scope members",
        { scope: { instance: true, groupId: 1, projectId: 2 } },
        /exactly one of instance, groupId and projectId .*got instance and groupId and projectId/,
      ],
      ["no scope member", { scope: {} }, /scope: give exactly one of instance, groupId and projectId .*got none/],
      ["instance false", { scope: { instance: false } }, /gitlab\.createRunner\.scope\.instance: it must be true/],
      ["an unknown scope member", { scope: { group: 3 } as never }, /scope: it has no member group; give exactly one/],
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
});
