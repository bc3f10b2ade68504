// The pack as the Pulumi engine meets it: policy/index.ts started in its own directory (as the CLI's analyzer plugin
// does for `--policy-pack ./policy`), serving the analyzer gRPC protocol; this test plays the engine's side.
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as proto from "@pulumi/pulumi/proto/analyzer_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { policies } from "../../policy/rules";
import { T, urnOf } from "./harness";

const POLICY_DIR = path.resolve(__dirname, "../../policy");

/** Starts the pack like the analyzer plugin (cwd = pack directory); `port` resolves with the port it prints. */
function startPack(): { child: ChildProcess; port: Promise<number> } {
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "index.ts"], {
    cwd: POLICY_DIR,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const port = new Promise<number>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk) => {
      stdout += chunk;
      const match = /^(\d+)\s*$/m.exec(stdout);
      if (match) {
        resolve(Number(match[1]));
      }
    });
    child.stderr?.on("data", (chunk) => (stderr += chunk));
    child.on("exit", (code) => reject(new Error(`policy pack exited (${code}) before serving: ${stderr}`)));
  });
  return { child, port };
}

function options(): proto.AnalyzerResourceOptions {
  return new proto.AnalyzerResourceOptions().setCustomtimeouts(new proto.AnalyzerResourceOptions.CustomTimeouts());
}

function analyzeRequest(type: string, name: string, props: Record<string, unknown>): proto.AnalyzeRequest {
  return new proto.AnalyzeRequest()
    .setType(type)
    .setName(name)
    .setUrn(urnOf(type, name))
    .setProperties(Struct.fromJavaScript(props as never))
    .setOptions(options());
}

function stackResource(type: string, name: string, props: Record<string, unknown>): proto.AnalyzerResource {
  return new proto.AnalyzerResource()
    .setType(type)
    .setName(name)
    .setUrn(urnOf(type, name))
    .setProperties(Struct.fromJavaScript(props as never))
    .setOptions(options());
}

/** Settles a unary call's callback as a promise. */
function settle<Res>(start: (done: (error: grpc.ServiceError | null, response: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => start((error, response) => (error ? reject(error) : resolve(response))));
}

describe("policy pack served over the analyzer protocol", function () {
  let child: ChildProcess | undefined;
  let client: AnalyzerClient;

  before(async function () {
    const pack = startPack();
    child = pack.child; // set before awaiting, so `after` stops it even if it never serves
    client = new AnalyzerClient(`127.0.0.1:${await pack.port}`, grpc.credentials.createInsecure());
  });

  async function analyze(request: proto.AnalyzeRequest): Promise<proto.AnalyzeDiagnostic[]> {
    const response = await settle<proto.AnalyzeResponse>((done) => client.analyze(request, done));
    return response.getDiagnosticsList();
  }

  async function analyzeStack(request: proto.AnalyzeStackRequest): Promise<proto.AnalyzeDiagnostic[]> {
    const response = await settle<proto.AnalyzeResponse>((done) => client.analyzeStack(request, done));
    return response.getDiagnosticsList();
  }

  after(async function () {
    client?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  });

  it("announces the pack's name, version (policy/package.json) and every policy with its enforcement level", async () => {
    const info = await settle<proto.AnalyzerInfo>((done) => client.getAnalyzerInfo(new Empty(), done));
    assert.equal(info.getName(), "gitlab-fargate-runner");
    assert.equal(info.getVersion(), "0.1.0");
    const served = Object.fromEntries(info.getPoliciesList().map((p) => [p.getName(), p.getEnforcementlevel()]));
    const expected = Object.fromEntries(
      policies.map((p) => [
        p.name,
        p.enforcementLevel === "advisory" ? proto.EnforcementLevel.ADVISORY : proto.EnforcementLevel.MANDATORY,
      ]),
    );
    assert.deepEqual(served, expected);
  });

  it("blocks (mandatory) a security group that opens SSH to the world, naming the resource and the fix", async () => {
    const request = analyzeRequest(T.securityGroup, "manager", {
      ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }],
    });
    const diagnostics = await analyze(request);
    assert.deepEqual(
      diagnostics.map((d) => [d.getPolicyname(), d.getEnforcementlevel()]),
      [["security-group-no-world-ssh", proto.EnforcementLevel.MANDATORY]],
    );
    assert.match(diagnostics[0].getMessage(), /"manager" opens TCP 22 \(SSH\) to 0\.0\.0\.0\/0.*Fix:/);
  });

  it("passes a compliant instance, and only advises on a log group without retention", async () => {
    const instance = analyzeRequest(T.instance, "manager", {
      metadataOptions: { httpTokens: "required" },
      rootBlockDevice: { encrypted: true },
      userData: "#!/bin/bash\n",
    });
    assert.deepEqual(await analyze(instance), []);
    const logGroup = await analyze(analyzeRequest(T.logGroup, "jobs", {}));
    assert.deepEqual(
      logGroup.map((d) => [d.getPolicyname(), d.getEnforcementlevel()]),
      [["cloudwatch-log-group-retention", proto.EnforcementLevel.ADVISORY]],
    );
  });

  it("runs the stack policies: a bucket without encryption or public access block is reported on the bucket", async () => {
    const request = new proto.AnalyzeStackRequest().setResourcesList([
      stackResource(T.bucket, "cache", { id: "cache-1", bucket: "cache-1" }),
    ]);
    const diagnostics = await analyzeStack(request);
    assert.deepEqual(diagnostics.map((d) => d.getPolicyname()).sort(), [
      "s3-bucket-encryption",
      "s3-bucket-public-access-block",
    ]);
    assert.ok(diagnostics.every((d) => d.getUrn() === urnOf(T.bucket, "cache")));
  });
});
