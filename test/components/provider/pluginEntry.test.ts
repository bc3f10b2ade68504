/**
 * The plugin as `pulumi package add` starts it: PulumiPlugin.yaml names the runtime and the entry point, and
 * Pulumi's own plugin runner (`@pulumi/pulumi/cmd/run-plugin`, what the Node.js language host runs, TypeScript
 * type-checked with ts-node) starts the provider, which serves the committed schema over gRPC.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";

/* eslint-disable @typescript-eslint/no-require-imports -- the generated gRPC stubs @pulumi/pulumi ships */
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
// js-yaml ships with @pulumi/pulumi (its own dependency); used here only to read PulumiPlugin.yaml.
const yaml = require("js-yaml") as { load(text: string): unknown };
/* eslint-enable @typescript-eslint/no-require-imports */

const root = path.join(__dirname, "..", "..", "..");
const manifest = yaml.load(fs.readFileSync(path.join(root, "PulumiPlugin.yaml"), "utf8")) as {
  runtime: string;
  main: string;
};

/** The first line the plugin prints: the port of its gRPC server. */
function portOf(plugin: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    plugin.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = /^(\d+)\n/.exec(stdout);
      if (line) resolve(Number(line[1]));
    });
    plugin.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    plugin.on("exit", (code) => reject(new Error(`the plugin exited (${code}) before serving:\n${stdout}${stderr}`)));
  });
}

describe("the plugin entry point (PulumiPlugin.yaml), started by Pulumi's plugin runner", function () {
  this.timeout(240_000);
  let plugin: ChildProcess | undefined;

  after(() => {
    plugin?.kill();
  });

  it("is a Node.js plugin whose entry point exists", () => {
    assert.equal(manifest.runtime, "nodejs");
    assert.ok(fs.existsSync(path.join(root, manifest.main)), `${manifest.main} exists`);
  });

  it("serves the committed schema over gRPC (GetSchema), secrets marked", async () => {
    const runPlugin = path.join(root, "node_modules", "@pulumi", "pulumi", "cmd", "run-plugin");
    plugin = spawn(process.execPath, [runPlugin, manifest.main], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const port = await portOf(plugin);
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const served = await new Promise<string>((resolve, reject) =>
      client.getSchema(new provproto.GetSchemaRequest(), (error: Error | null, response: { getSchema(): string }) =>
        error ? reject(error) : resolve(response.getSchema()),
      ),
    );
    client.close();
    const committed = JSON.parse(fs.readFileSync(path.join(root, "schema.json"), "utf8"));
    assert.deepEqual(JSON.parse(served), committed);
    assert.match(served, /"secret":true/);
  });
});
