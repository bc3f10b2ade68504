/**
 * `npm run schema`: writes the package schema Pulumi's analyzer infers from the component's types and TSDoc to
 * schema.json (committed; a test fails when it drifts from the code).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { GitLabFargateRunnerProvider, packageDirectory } from "./schemaProvider";

/** Where the committed schema lives, next to package.json. */
export const SCHEMA_FILE = path.join(packageDirectory(), "schema.json");

/** The schema as committed: the provider's, pretty-printed, with a final newline. */
export async function renderedSchema(provider = new GitLabFargateRunnerProvider()): Promise<string> {
  return `${JSON.stringify(JSON.parse(await provider.getSchema()), null, 2)}\n`;
}

if (require.main === module) {
  renderedSchema()
    .then((schema) => fs.writeFileSync(SCHEMA_FILE, schema))
    .catch((error: Error) => {
      console.error(error.message);
      process.exit(1);
    });
}
