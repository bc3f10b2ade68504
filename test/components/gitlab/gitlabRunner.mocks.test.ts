import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import type * as GitLabRunnerModule from "../../../components/gitlab/gitlabRunner";

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";
const ACCESS_TOKEN = "glpat-mocks-test-access-token";
const RUNNER_TOKEN = "glrt-mocked-runner-token";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

function isSecretWrapped(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG_VALUE
  );
}

function resolved<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

describe("gitlabRunner: GitLabRunner under Pulumi mocks", () => {
  const registered: Registered[] = [];
  let mod: typeof GitLabRunnerModule;

  before(async () => {
    pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          registered.push({ type: args.type, name: args.name, inputs: args.inputs });
          if (args.type === "pulumi-nodejs:dynamic:Resource") {
            // What the dynamic provider's create returns: the inputs plus GitLab's answer (plain, as a provider
            // that does not accept secrets returns them).
            return { id: "123", state: { ...args.inputs, runnerId: 123, token: RUNNER_TOKEN } };
          }
          return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
      },
      "project",
      "stack",
      false,
    );
    mod = await import("../../../components/gitlab/gitlabRunner");
  });
  beforeEach(() => registered.splice(0));

  it("is a dynamic resource whose access token is a secret input even when given as plain text", async () => {
    const runner = new mod.GitLabRunner("ci-runner", {
      url: "https://gitlab.example.com",
      accessToken: ACCESS_TOKEN,
      scope: { groupId: 42 },
      tags: ["fargate"],
    });
    await resolved(runner.runnerId);
    const resource = registered.find((r) => r.name === "ci-runner");
    assert.ok(resource);
    assert.equal(resource.type, "pulumi-nodejs:dynamic:Resource");
    assert.ok(isSecretWrapped(resource.inputs.accessToken), "accessToken arrives secret-wrapped");
    assert.equal(resource.inputs.accessToken.value, ACCESS_TOKEN);
    assert.equal(resource.inputs.runnerType, "group_type");
    assert.equal(resource.inputs.groupId, 42);
    assert.deepEqual(resource.inputs.tagList, ["fargate"]);
    assert.equal(resource.inputs.runUntagged, false);
    assert.equal(resource.inputs.description, "ci-runner", "description defaults to the resource name");
    const provider = resource.inputs.__provider;
    assert.equal(typeof provider, "string", "the serialized provider travels with the inputs");
    assert.ok(!(provider as string).includes(ACCESS_TOKEN), "the serialized provider holds no token");
  });

  it("exposes the glrt- token as a secret output and the runner id in the clear", async () => {
    const runner = new mod.GitLabRunner("token-runner", {
      url: "https://gitlab.example.com",
      accessToken: pulumi.secret(ACCESS_TOKEN),
      scope: { instance: true },
      defaultDescription: "fargate runner",
    });
    assert.equal(await pulumi.isSecret(runner.token), true);
    assert.equal(await resolved(runner.token), RUNNER_TOKEN);
    assert.equal(await pulumi.isSecret(runner.runnerId), false);
    assert.equal(await resolved(runner.runnerId), 123);
    const resource = registered.find((r) => r.name === "token-runner");
    assert.equal(resource?.inputs.description, "fargate runner");
  });

  it("asks the engine to keep the runner token and the access token secret in the state", async () => {
    // Mocks ignore additionalSecretOutputs and the component re-wraps `token` itself, so the isSecret check above
    // would pass without them: look at the options the resource registers with instead.
    const seen = new Map<string, pulumi.ResourceOptions>();
    const parent = new pulumi.ComponentResource(
      "test:index:Parent",
      "options-parent",
      {},
      {
        transformations: [
          (args) => {
            seen.set(args.name, args.opts);
            return undefined;
          },
        ],
      },
    );
    const runner = new mod.GitLabRunner(
      "options-runner",
      { url: "https://gitlab.example.com", accessToken: ACCESS_TOKEN, scope: { groupId: 42 } },
      { parent, additionalSecretOutputs: ["runnerId"] },
    );
    await resolved(runner.runnerId);
    const options = seen.get("options-runner") as pulumi.CustomResourceOptions | undefined;
    assert.ok(options, "the transformation saw the GitLabRunner resource");
    const secretOutputs = options.additionalSecretOutputs ?? [];
    assert.ok(secretOutputs.includes("token"), `token in additionalSecretOutputs: ${JSON.stringify(secretOutputs)}`);
    assert.ok(secretOutputs.includes("accessToken"), "accessToken in additionalSecretOutputs");
    assert.ok(secretOutputs.includes("runnerId"), "the caller's own additionalSecretOutputs are kept");
  });

  it("hands the token on as a secret to whatever consumes it (the registration Command)", async () => {
    const runner = new mod.GitLabRunner("wired-runner", {
      url: "https://gitlab.example.com",
      accessToken: ACCESS_TOKEN,
      scope: { projectId: 7 },
    });
    class Consumer extends pulumi.CustomResource {
      constructor(name: string, props: pulumi.Inputs) {
        super("test:index:Consumer", name, props);
      }
    }
    const consumer = new Consumer("consumer", { runnerToken: runner.token });
    await resolved(consumer.urn);
    const seen = registered.find((r) => r.name === "consumer");
    assert.ok(seen);
    assert.ok(isSecretWrapped(seen.inputs.runnerToken), "the consumer receives the token secret-wrapped");
    assert.equal(seen.inputs.runnerToken.value, RUNNER_TOKEN);
  });

  it("validates its arguments before registering anything, so GitLab is never called with them", async () => {
    const valid = { url: "https://gitlab.example.com", accessToken: ACCESS_TOKEN, scope: { groupId: 42 } };
    const cases: [Partial<GitLabRunnerModule.GitLabRunnerArgs>, RegExp][] = [
      [{ locked: true }, /gitlab\.createRunner\.locked: it applies only to project runners/],
      [{ tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, /gitlab\.createRunner\.tags: .*at most 50/],
      [{ description: "d".repeat(1025) }, /gitlab\.createRunner\.description: .*1024/],
      [{ defaultDescription: "d".repeat(1025) }, /defaultDescription: .*1024/],
      [{ url: "https://ci:pa55@gitlab.example.com" }, /gitlab\.url: .*user name or password/],
      [{ url: "https://gitlab.example.com/\u0000" }, /gitlab\.url: .*control character/],
    ];
    for (const [index, [change, pattern]] of cases.entries()) {
      assert.throws(() => new mod.GitLabRunner(`bad${index}`, { ...valid, ...change }), pattern);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      registered.filter((r) => r.name.startsWith("bad")).map((r) => r.name),
      [],
    );
  });

  it("sends GitLab's parsed, normalised URL to the API client, also when the URL is an Output", async () => {
    for (const [name, url] of [
      ["norm-plain", "https://GitLab.Example.com:443/gitlab/"],
      ["norm-output", pulumi.output("https://GitLab.Example.com:443/gitlab/")],
    ] as const) {
      const runner = new mod.GitLabRunner(name, { url, accessToken: ACCESS_TOKEN, scope: { instance: true } });
      await resolved(runner.runnerId);
      assert.equal(registered.find((r) => r.name === name)?.inputs.url, "https://gitlab.example.com/gitlab", name);
    }
  });
});
