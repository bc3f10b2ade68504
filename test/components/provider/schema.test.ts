/**
 * The package schema other languages' SDKs are generated from: inferred by Pulumi's analyzer from the component's
 * TypeScript types and TSDoc, checked here against the TypeScript declarations read with the TypeScript compiler on
 * its own, and against the committed schema.json.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import * as Components from "../../../components";
import {
  GitLabFargateRunnerProvider,
  PACKAGE_NAME,
  packageDirectory,
  SECRET_MEMBERS,
} from "../../../components/provider/schemaProvider";
import { renderedSchema, SCHEMA_FILE } from "../../../components/provider/writeSchema";

interface Property {
  type?: string;
  $ref?: string;
  items?: Property;
  additionalProperties?: Property;
  description?: string;
  secret?: boolean;
  plain?: boolean;
}
interface Schema {
  name: string;
  resources: Record<
    string,
    {
      isComponent: boolean;
      inputProperties: Record<string, Property>;
      requiredInputs: string[];
      properties: Record<string, Property>;
    }
  >;
  types: Record<
    string,
    {
      type: string;
      properties?: Record<string, Property>;
      required?: string[];
      enum?: { name: string; value: string }[];
    }
  >;
}

const root = path.join(__dirname, "..", "..", "..");
const TOKEN = `${PACKAGE_NAME}:index:GitLabFargateRunner`;
const typeToken = (name: string) => `${PACKAGE_NAME}:index:${name}`;
/** Descriptions are compared without line breaks and repeated spaces (TSDoc wraps at 120 columns). */
const flat = (text: string | undefined) => (text ?? "").replace(/\s+/g, " ").trim();

/** A member as the TypeScript compiler declares it: documentation (TSDoc text without tags) and optionality. */
interface Declared {
  doc: string;
  optional: boolean;
}

/** The exported interfaces of components/args.ts and the fields and getters of the class, read by tsc. */
function declarations() {
  const program = ts.createProgram([path.join(root, "components", "index.ts")], { strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const members = (symbols: ts.Symbol[]) =>
    new Map<string, Declared>(
      symbols.map((symbol) => [
        symbol.name,
        {
          doc: flat(ts.displayPartsToString(symbol.getDocumentationComment(checker))),
          optional: (symbol.flags & ts.SymbolFlags.Optional) !== 0,
        },
      ]),
    );
  const interfaces = new Map<string, Map<string, Declared>>();
  const args = program.getSourceFile(path.join(root, "components", "args.ts"))!;
  args.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node)) {
      interfaces.set(node.name.text, members(checker.getTypeAtLocation(node).getProperties()));
    }
  });
  const component = program.getSourceFile(path.join(root, "components", "gitlabFargateRunner.ts"))!;
  let fields = new Map<string, Declared>();
  let getters: string[] = [];
  component.forEachChild((node) => {
    if (ts.isClassDeclaration(node) && node.name?.text === "GitLabFargateRunner") {
      const own = node.members.filter(
        (member) => (ts.getCombinedModifierFlags(member as ts.Declaration) & ts.ModifierFlags.Private) === 0,
      );
      fields = members(own.filter(ts.isPropertyDeclaration).map((member) => checker.getSymbolAtLocation(member.name)!));
      getters = own.filter(ts.isGetAccessorDeclaration).map((member) => member.name.getText());
    }
  });
  return { interfaces, fields, getters };
}

describe("the package schema (Pulumi's analyzer, for every Pulumi language)", function () {
  // The analyzer type-checks the whole package with the TypeScript compiler.
  this.timeout(180_000);
  let provider: GitLabFargateRunnerProvider;
  let schema: Schema;
  let declared: ReturnType<typeof declarations>;

  before(async () => {
    provider = new GitLabFargateRunnerProvider();
    schema = JSON.parse(await provider.analyzedSchema());
    declared = declarations();
  });

  it("is generated, with the component under its fixed type token", () => {
    assert.equal(schema.name, "gitlab-fargate-runner");
    assert.deepEqual(Object.keys(schema.resources), [TOKEN]);
    assert.equal(Components.GITLAB_FARGATE_RUNNER_TYPE, TOKEN);
    assert.equal(schema.resources[TOKEN].isComponent, true);
  });

  it("has every argument group, required as in TypeScript, with its TSDoc as description", () => {
    const args = declared.interfaces.get("GitLabFargateRunnerArgs")!;
    const resource = schema.resources[TOKEN];
    assert.deepEqual(Object.keys(resource.inputProperties).sort(), [...args.keys()].sort());
    assert.deepEqual(resource.requiredInputs, ["admin", "gitlab"]);
    for (const [name, member] of args) {
      assert.ok(member.doc.length > 20, `GitLabFargateRunnerArgs.${name} has TSDoc`);
      assert.equal(flat(resource.inputProperties[name].description), member.doc, `description of ${name}`);
    }
  });

  it("has every member of every argument type, with its TSDoc as description and its optionality", () => {
    for (const [typeName, members] of declared.interfaces) {
      if (typeName === "GitLabFargateRunnerArgs") continue;
      const type = schema.types[typeToken(typeName)];
      assert.ok(type, `type ${typeName} is in the schema`);
      assert.deepEqual(Object.keys(type.properties!).sort(), [...members.keys()].sort(), `members of ${typeName}`);
      const required = [...members].filter(([, member]) => !member.optional).map(([name]) => name);
      assert.deepEqual([...type.required!].sort(), required.sort(), `required members of ${typeName}`);
      for (const [name, member] of members) {
        assert.ok(member.doc.length > 10, `${typeName}.${name} has TSDoc`);
        assert.equal(flat(type.properties![name].description), member.doc, `description of ${typeName}.${name}`);
      }
    }
  });

  it("has the scope as one optional member per alternative", () => {
    const scope = schema.types[typeToken("RunnerScope")];
    assert.deepEqual(Object.fromEntries(Object.entries(scope.properties!).map(([name, p]) => [name, p.type])), {
      instance: "boolean",
      groupId: "number",
      projectId: "number",
    });
    assert.deepEqual(scope.required, []);
    const createRunner = schema.types[typeToken("CreateRunnerArgs")];
    assert.equal(createRunner.properties!.scope.$ref, `#/types/${typeToken("RunnerScope")}`);
  });

  it("has every string choice as an enum of the values TypeScript accepts", () => {
    const enums: Record<string, Record<string, string>> = {
      Architecture: Components.Architecture,
      CapacityProvider: Components.CapacityProvider,
      NatGatewayStrategy: Components.NatGatewayStrategy,
      RunnerAccessLevel: Components.RunnerAccessLevel,
      TaskPlacement: Components.TaskPlacement,
    };
    const inSchema = Object.entries(schema.types).filter(([, type]) => type.enum !== undefined);
    assert.deepEqual(inSchema.map(([token]) => token).sort(), Object.keys(enums).map(typeToken).sort());
    for (const [name, values] of Object.entries(enums)) {
      const type = schema.types[typeToken(name)];
      assert.equal(type.type, "string");
      assert.deepEqual(
        type.enum!.map(({ name: member, value }) => [member, value]),
        Object.entries(values),
        `enum ${name}`,
      );
    }
  });

  it("has every field of the component as an output with its TSDoc, and the child resources only in TypeScript", () => {
    const outputs = schema.resources[TOKEN].properties;
    assert.deepEqual(Object.keys(outputs).sort(), [...declared.fields.keys()].sort());
    for (const [name, field] of declared.fields) {
      assert.ok(field.doc.length > 10, `GitLabFargateRunner.${name} has TSDoc`);
      assert.equal(flat(outputs[name].description), field.doc, `description of output ${name}`);
    }
    assert.deepEqual(declared.getters.sort(), ["gitlabRunner", "jobInfrastructure", "registration", "registrations"]);
    for (const getter of declared.getters) assert.equal(outputs[getter], undefined, `${getter} is not an output`);
  });

  it("marks the tokens and private keys secret, and nothing else", () => {
    const secret: string[] = [];
    const saysSecret: string[] = [];
    const visit = (where: string, properties: Record<string, Property>) => {
      for (const [name, property] of Object.entries(properties)) {
        if (property.secret) secret.push(`${where}.${name}`);
        if (/\b(treated|kept|stored) as a secret\b/i.test(property.description ?? ""))
          saysSecret.push(`${where}.${name}`);
      }
    };
    for (const [token, type] of Object.entries(schema.types)) {
      if (type.properties) visit(token.split(":")[2], type.properties);
    }
    visit("outputs", schema.resources[TOKEN].properties);
    const expected = [...SECRET_MEMBERS.types, ...SECRET_MEMBERS.outputs.map((output) => `outputs.${output}`)];
    assert.deepEqual(secret.sort(), [...expected].sort());
    // The TSDoc promise and the schema agree: every member documented as a secret is one, and only those.
    assert.deepEqual(saysSecret.sort(), [...expected].sort());
  });

  it("has no description the analyzer could not read (an inline {@link} becomes [object Object])", () => {
    assert.doesNotMatch(JSON.stringify(schema), /\[object Object\]/);
  });

  it("is committed as schema.json, and the committed file matches the code (npm run schema)", async () => {
    const committed = fs.readFileSync(SCHEMA_FILE, "utf8");
    assert.equal(
      committed,
      await renderedSchema(provider),
      "schema.json is out of date with the component's types: run `npm run schema` and commit schema.json",
    );
  });
});

describe("the package directory the analyzer reads", () => {
  it("is the one with PulumiPlugin.yaml, from the sources and from the compiled files", () => {
    assert.equal(packageDirectory(), root);
    assert.equal(packageDirectory(path.join(root, "dist", "components", "provider")), root);
    assert.throws(() => packageDirectory(path.parse(root).root), /no PulumiPlugin\.yaml/);
  });
});
