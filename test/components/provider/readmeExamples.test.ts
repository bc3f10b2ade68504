/**
 * The README's Python and YAML examples use the component the way the package schema describes it: every argument,
 * member, enum value and output they name is in the schema, under the name each language gives it.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { GITLAB_FARGATE_RUNNER_TYPE } from "../../../components";
import { PACKAGE_NAME } from "../../../components/provider/schemaProvider";

// js-yaml ships with @pulumi/pulumi (its own dependency); used here only to read the README's YAML example.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as { load(text: string): unknown };

interface Property {
  type?: string;
  $ref?: string;
  items?: Property;
  additionalProperties?: Property;
}
interface TypeSpec {
  properties?: Record<string, Property>;
  required?: string[];
  enum?: { name: string; value: string }[];
}

const root = path.join(__dirname, "..", "..", "..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
// The committed schema (schema.test.ts checks that it is what the analyzer generates from the code).
const schema = JSON.parse(fs.readFileSync(path.join(root, "schema.json"), "utf8")) as {
  resources: Record<
    string,
    { inputProperties: Record<string, Property>; requiredInputs: string[]; properties: Record<string, Property> }
  >;
  types: Record<string, TypeSpec>;
};
const component = schema.resources[GITLAB_FARGATE_RUNNER_TYPE];

/** The README's one fenced block of `language` under the heading "From Python, Go, C#, Java or YAML". */
function example(language: string): string {
  const section = readme.slice(readme.indexOf("### From Python, Go, C#, Java or YAML"));
  const match = new RegExp("```" + language + "\\n([\\s\\S]*?)```").exec(section);
  assert.ok(match, `a ${language} example in the README`);
  return match[1];
}

const typeOf = (property: Property): TypeSpec | undefined =>
  property.$ref ? schema.types[property.$ref.replace(`#/types/`, "")] : undefined;
const camel = (snake: string) => snake.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
/** Python's name of an enum member (`FargateSpot` → `FARGATE_SPOT`). */
const pythonEnumMember = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

/** Checks a YAML object against an object type (or the component's inputs): required members, no unknown ones. */
function checkMembers(value: unknown, type: TypeSpec, where: string): string[] {
  if (typeof value !== "object" || value === null) return [`${where}: not an object`];
  const record = value as Record<string, unknown>;
  const missing = (type.required ?? []).filter((name) => !(name in record)).map((name) => `${where}.${name} missing`);
  return missing.concat(
    Object.entries(record).flatMap(([name, member]) =>
      type.properties![name] ? check(member, type.properties![name], `${where}.${name}`) : [`${where}.${name} unknown`],
    ),
  );
}

/** Checks a YAML value against a schema property; returns the problems, as paths. */
function check(value: unknown, property: Property, where: string): string[] {
  if (typeof value === "string" && value.startsWith("${")) return []; // an interpolation, resolved by Pulumi YAML
  const type = typeOf(property);
  if (type?.enum) {
    return type.enum.some((member) => member.value === value)
      ? []
      : [`${where}: ${String(value)} is not an enum value`];
  }
  if (type?.properties) return checkMembers(value, type, where);
  if (property.type === "array") {
    return Array.isArray(value) ? value.flatMap((item, i) => check(item, property.items!, `${where}[${i}]`)) : [where];
  }
  if (property.type === "object") {
    return Object.entries(value as object).flatMap(([k, v]) =>
      check(v, property.additionalProperties!, `${where}.${k}`),
    );
  }
  return typeof value === property.type ? [] : [`${where}: ${typeof value} is not ${property.type}`];
}

describe("the README's examples for other languages match the schema", () => {
  it("YAML: the type token, every property (required ones included), enum values and outputs", () => {
    const program = yaml.load(example("yaml")) as {
      packages: Record<string, string>;
      resources: Record<string, { type: string; properties: Record<string, unknown> }>;
      outputs: Record<string, string>;
    };
    assert.ok(PACKAGE_NAME in program.packages, "the packages entry names the package");
    const [[resourceName, resource]] = Object.entries(program.resources);
    assert.equal(resource.type, GITLAB_FARGATE_RUNNER_TYPE);
    const inputs: TypeSpec = { properties: component.inputProperties, required: component.requiredInputs };
    assert.deepEqual(checkMembers(resource.properties, inputs, "properties"), []);
    for (const expression of Object.values(program.outputs)) {
      const match = new RegExp(`^\\$\\{${resourceName}\\.(\\w+)\\}$`).exec(expression);
      assert.ok(match && component.properties[match[1]], `output ${expression} is in the schema`);
    }
  });

  it("Python: the keyword arguments, their keys (snake_case), enum members and outputs", () => {
    const python = example("python");
    assert.match(python, /import pulumi_gitlab_fargate_runner as gfr/);
    const call = /gfr\.GitLabFargateRunner\(\n\s+"[a-z-]+",\n([\s\S]*?)\n\)/.exec(python);
    assert.ok(call, "one GitLabFargateRunner(...) call");
    const keywords = [...call[1].matchAll(/^ {4}(\w+)=(.*),$/gm)];
    assert.ok(keywords.length >= 2);
    const given = keywords.map(([, keyword]) => camel(keyword));
    for (const required of component.requiredInputs) assert.ok(given.includes(required), `${required} is given`);
    for (const [, keyword, value] of keywords) {
      const property = component.inputProperties[camel(keyword)];
      assert.ok(property, `${keyword} is an argument`);
      const type = typeOf(property);
      for (const [, key] of value.matchAll(/"(\w+)":/g)) {
        if (type) assert.ok(type.properties![camel(key)], `${keyword}["${key}"] is a member of ${property.$ref}`);
        else assert.equal(property.type, "object", `${keyword} is a map`);
      }
      for (const required of type?.required ?? []) {
        assert.ok(value.includes(`"${required.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}":`), `${required}`);
      }
    }
    for (const [, enumName, member] of python.matchAll(/gfr\.(\w+)\.(\w+)/g)) {
      const type = schema.types[`${PACKAGE_NAME}:index:${enumName}`];
      assert.ok(
        type?.enum?.some((m) => pythonEnumMember(m.name) === member),
        `gfr.${enumName}.${member}`,
      );
    }
    for (const [, output] of python.matchAll(/runner\.(\w+)/g)) {
      assert.ok(component.properties[camel(output)], `runner.${output} is an output`);
    }
  });
});
