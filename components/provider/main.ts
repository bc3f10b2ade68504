/**
 * The plugin's entry point (PulumiPlugin.yaml `main`): `pulumi package add` runs it to read the schema and generate
 * an SDK, and `pulumi up` in a program of another language runs it to construct the component.
 */
import { main } from "@pulumi/pulumi/provider";
import { GitLabFargateRunnerProvider } from "./schemaProvider";

main(new GitLabFargateRunnerProvider(), process.argv.slice(2)).catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
