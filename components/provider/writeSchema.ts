/**
 * `npm run schema`: writes the package schema Pulumi's analyzer infers from the component's types and TSDoc to
 * schema.json (committed; a test fails when it drifts from the code).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { GitLabFargateRunnerProvider, packageDirectory, SCHEMA_FILE_NAME } from "./schemaProvider";

/** Where the committed schema lives, next to package.json. */
export const SCHEMA_FILE = path.join(packageDirectory(), SCHEMA_FILE_NAME);

/** The schema as committed: the analyzer's (secrets marked), pretty-printed, with a final newline. */
export async function renderedSchema(provider = new GitLabFargateRunnerProvider()): Promise<string> {
  return `${JSON.stringify(JSON.parse(await provider.analyzedSchema()), null, 2)}\n`;
}

if (require.main === module) {
  renderedSchema()
    .then((schema) => fs.writeFileSync(SCHEMA_FILE, schema))
    .catch((error: Error) => {
      console.error(error.message);
      process.exit(1);
    });
}
