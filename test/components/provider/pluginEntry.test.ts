/**
 * The plugin as Pulumi starts it for `pulumi package add` and for a Python, Go, C#, Java or YAML program: the Node.js
 * language host runs Pulumi's own plugin runner (`@pulumi/pulumi/cmd/run-plugin`) with the package directory as the
 * program and the user's program directory as the working directory. The runner requires the directory, so
 * package.json `main` decides what starts: it must be this package's provider (secrets marked), not the component
 * library (which the runner would serve with Pulumi's default provider, without secrets) nor the deployable program.
 * Needs dist/ (`npm test` builds it first).
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";

/* eslint-disable @typescript-eslint/no-require-imports -- the generated gRPC stubs @pulumi/pulumi ships */
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
// js-yaml ships with @pulumi/pulumi (its own dependency); used here only to read PulumiPlugin.yaml.
const yaml = require("js-yaml") as { load(text: string): unknown };
/* eslint-enable @typescript-eslint/no-require-imports */

const root = path.join(__dirname, "..", "..", "..");
const manifest = yaml.load(fs.readFileSync(path.join(root, "PulumiPlugin.yaml"), "utf8")) as Record<string, unknown>;
const packageJson = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  main: string;
  exports: Record<string, unknown>;
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

describe("the plugin, started the way Pulumi's Node.js language host starts it", function () {
  this.timeout(240_000);
  let plugin: ChildProcess | undefined;
  let programDirectory: string | undefined;

  after(() => {
    plugin?.kill();
    if (programDirectory) fs.rmSync(programDirectory, { recursive: true, force: true });
  });

  it("is a Node.js plugin whose entry point is package.json main, the compiled provider", () => {
    assert.equal(manifest.runtime, "nodejs");
    // PulumiPlugin.yaml has no `main` key: Pulumi would ignore it, and the file would promise what does not happen.
    assert.equal(manifest.main, undefined);
    assert.equal(path.normalize(packageJson.main), path.join("dist", "components", "provider", "main.js"));
    assert.deepEqual(packageJson.exports["."], {
      types: "./dist/components/index.d.ts",
      default: "./dist/components/index.js",
    });
  });

  it("serves the committed schema over gRPC (GetSchema), secrets marked", async () => {
    assert.ok(fs.existsSync(path.join(root, packageJson.main)), `${packageJson.main} is built (npm run build)`);
    // A Python program's directory: no package.json, no tsconfig.json.
    programDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "python-program-"));
    const runPlugin = path.join(root, "node_modules", "@pulumi", "pulumi", "cmd", "run-plugin");
    plugin = spawn(process.execPath, [runPlugin, root], { cwd: programDirectory, stdio: ["ignore", "pipe", "pipe"] });
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
