/**
 * The component built by the provider's `construct` (what `pulumi up` runs for a Python, Go, C#, Java or YAML
 * program), from inputs on the wire as the engine sends them: plain JSON objects, numbers and strings, the tokens as
 * secret output values (or, from older engines and SDKs, as secrets that mark their whole group), read by the
 * provider server's own deserialisation.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { GITLAB_FARGATE_RUNNER_TYPE } from "../../../components";
import { GitLabFargateRunnerProvider, withoutNulls } from "../../../components/provider/schemaProvider";
import { giveInstancesPrivateIps, T } from "../deployment";
import {
  installMocks,
  isSecretOutput,
  plainOccurrences,
  ResourceRecorder,
  settle,
  unwrapSecrets,
  valueOf,
} from "../../support/pulumiMocks";

/* eslint-disable @typescript-eslint/no-require-imports -- internals of @pulumi/pulumi the provider server uses */
const rpc = require("@pulumi/pulumi/runtime/rpc") as {
  specialSigKey: string;
  specialSecretSig: string;
  specialOutputValueSig: string;
  serializeProperties(label: string, props: pulumi.Inputs): Promise<Record<string, unknown>>;
};
const server = require("@pulumi/pulumi/provider/server") as {
  deserializeInputs(inputs: Struct, dependencies: Map<string, unknown>): Promise<pulumi.Inputs>;
};
/* eslint-enable @typescript-eslint/no-require-imports */

const RUNNER_TOKEN = "glrt-construct-test-token-4c3b2a";
const ACCESS_TOKEN = "glpat-construct-test-token-8e7f";

/** A secret as an SDK sends it to a component provider: an output value marked secret. */
const secretOutputValue = (value: string) => ({
  [rpc.specialSigKey]: rpc.specialOutputValueSig,
  value,
  secret: true,
});
/** A secret as older engines and SDKs send it: the secret signature, which marks the whole enclosing group secret. */
const legacySecret = (value: string) => ({ [rpc.specialSigKey]: rpc.specialSecretSig, value });

/** The inputs `construct` receives for `wire`, through the provider server's own deserialisation. */
function received(wire: Record<string, unknown>): Promise<pulumi.Inputs> {
  return server.deserializeInputs(Struct.fromJavaScript(wire as never), new Map());
}

const required = (runnerToken: unknown) => ({
  gitlab: { url: "https://gitlab.example.com", runnerToken },
  admin: { sshCidrBlocks: ["203.0.113.7/32"] },
});

describe("the component provider's construct (another language's program)", function () {
  this.timeout(180_000);
  let recorder: ResourceRecorder;
  let provider: GitLabFargateRunnerProvider;
  let outputNames: string[];

  before(async () => {
    recorder = await installMocks();
    giveInstancesPrivateIps();
    provider = new GitLabFargateRunnerProvider();
    const schema = JSON.parse(await provider.getSchema());
    outputNames = Object.keys(schema.resources[GITLAB_FARGATE_RUNNER_TYPE].properties);
  });

  async function construct(name: string, wire: Record<string, unknown>) {
    const result = await provider.construct(name, GITLAB_FARGATE_RUNNER_TYPE, await received(wire), {});
    const state = result.state as Record<string, pulumi.Output<unknown>>;
    await valueOf(state.managerPublicIp);
    await settle();
    return state;
  }

  it("builds the runner from plain inputs, with every output of the schema, and the token only as a secret", async () => {
    const state = await construct("pyrunner", {
      ...required(secretOutputValue(RUNNER_TOKEN)),
      manager: { count: 2, instanceType: "t4g.small" },
      jobs: { cpu: 2048, memory: 4096, architecture: "arm64", capacityProvider: "FARGATE_SPOT" },
      network: { natGateways: "onePerAz", taskPlacement: "private" },
      tags: { team: "platform" },
    });
    assert.deepEqual(Object.keys(state).sort(), [...outputNames].sort());
    assert.match(String(await valueOf(state.vpcId)), /^vpc-[0-9a-f]{17}$/);
    assert.equal((await valueOf(state.managerPublicIps as pulumi.Output<string[]>)).length, 2);
    assert.equal(recorder.ofType("pyrunner", T.instance).length, 2);
    assert.ok(JSON.stringify(recorder.one("pyrunner", T.taskDefinition).inputs).includes("ARM64"));
    assert.equal(await isSecretOutput(state.managerSshPrivateKey), true);

    const resources = recorder.of("pyrunner");
    assert.deepEqual(
      resources.flatMap((r) => plainOccurrences(r.inputs, RUNNER_TOKEN).map((p) => `${r.name}.${p}`)),
      [],
    );
    assert.ok(JSON.stringify(unwrapSecrets(resources.map((r) => r.inputs))).includes(RUNNER_TOKEN));
    // The state goes back to the engine the way the provider server serialises it.
    const serialised = await rpc.serializeProperties("construct", state);
    assert.deepEqual(plainOccurrences(serialised, "PRIVATE KEY"), []);
  });

  it("accepts a group made secret as a whole by an older engine", async () => {
    const inputs = await received(required(legacySecret(RUNNER_TOKEN)));
    assert.ok(pulumi.Output.isInstance(inputs.gitlab), "the engine's form this test is about");
    const state = await construct("legacyrunner", required(legacySecret(RUNNER_TOKEN)));
    assert.match(String(await valueOf(state.clusterName)), /.+/);
    const resources = recorder.of("legacyrunner");
    assert.deepEqual(
      resources.flatMap((r) => plainOccurrences(r.inputs, RUNNER_TOKEN).map((p) => `${r.name}.${p}`)),
      [],
    );
  });

  it("creates the GitLab runner in the group named by scope.groupId", async () => {
    const state = await construct("grouprunner", {
      gitlab: {
        url: "https://gitlab.example.com",
        createRunner: {
          accessToken: secretOutputValue(ACCESS_TOKEN),
          scope: { groupId: 42 },
          accessLevel: "ref_protected",
          tags: ["fargate"],
        },
      },
      admin: { sshCidrBlocks: ["203.0.113.7/32"] },
    });
    const [runner] = recorder.ofType("grouprunner", "pulumi-nodejs:dynamic:Resource");
    const inputs = unwrapSecrets(runner.inputs) as Record<string, unknown>;
    assert.equal(inputs.runnerType, "group_type");
    assert.equal(inputs.groupId, 42);
    assert.equal(inputs.accessLevel, "ref_protected");
    assert.deepEqual(plainOccurrences(runner.inputs, ACCESS_TOKEN), []);
    assert.ok(pulumi.Output.isInstance(state.runnerId));
  });

  it("needs only package.json and the committed schema.json at run time (no sources, no analyzer)", async () => {
    // What `pulumi preview` of another language's program starts: the analyzer would type-check the whole package
    // (seconds, a TypeScript compiler and the sources) before the first resource; schema.test.ts keeps
    // schema.json equal to what it infers.
    const root = path.join(__dirname, "..", "..", "..");
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "gitlab-fargate-runner-package-"));
    try {
      for (const file of ["package.json", "schema.json"]) {
        fs.copyFileSync(path.join(root, file), path.join(directory, file));
      }
      const published = new GitLabFargateRunnerProvider(directory);
      assert.deepEqual(
        JSON.parse(await published.getSchema()),
        JSON.parse(fs.readFileSync(`${root}/schema.json`, "utf8")),
      );
      const result = await published.construct(
        "plainrunner",
        GITLAB_FARGATE_RUNNER_TYPE,
        await received(required(secretOutputValue(RUNNER_TOKEN))),
        {},
      );
      assert.deepEqual(Object.keys(result.state).sort(), [...outputNames].sort());
      assert.match(String(await valueOf((result.state as Record<string, pulumi.Output<string>>).clusterName)), /.+/);
      await settle();
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });

  it("reads a member sent as null as not given (a YAML key without a value, None in a Python dict)", async () => {
    const state = await construct("nullrunner", {
      gitlab: {
        url: "https://gitlab.example.com",
        runnerToken: secretOutputValue(RUNNER_TOKEN),
        registrationToken: null,
      },
      admin: { sshCidrBlocks: ["203.0.113.7/32"] },
      network: { existing: null, taskPlacement: null },
      manager: null,
      jobs: { cpu: 512, memory: null, maxTaskSize: null },
    });
    assert.match(String(await valueOf(state.clusterName)), /.+/);
    assert.ok(JSON.stringify(recorder.one("nullrunner", T.taskDefinition).inputs).includes('"cpu":"512"'));
    assert.deepEqual(withoutNulls({ createRunner: { scope: { instance: true, groupId: null }, tags: ["a"] } }), {
      createRunner: { scope: { instance: true }, tags: ["a"] },
    });
  });

  it("refuses another type token", async () => {
    await assert.rejects(
      provider.construct("other", "gitlab-fargate-runner:index:Other", {}, {}),
      /has one component, gitlab-fargate-runner:index:GitLabFargateRunner; cannot construct .*Other/,
    );
  });

  it("refuses a scope with two members before any resource exists, naming them", async () => {
    const wire = {
      gitlab: {
        url: "https://gitlab.example.com",
        createRunner: { accessToken: secretOutputValue(ACCESS_TOKEN), scope: { groupId: 42, projectId: 7 } },
      },
      admin: { sshCidrBlocks: ["203.0.113.7/32"] },
    };
    await assert.rejects(
      provider.construct("tworunner", GITLAB_FARGATE_RUNNER_TYPE, await received(wire), {}),
      /gitlab\.createRunner\.scope: give exactly one of instance, groupId and projectId .*got groupId and projectId/,
    );
    assert.deepEqual(recorder.of("tworunner"), []);
  });
});
