/**
 * GitLabFargateRunner as a Pulumi component package, for programs in every Pulumi language: Pulumi's own analyzer
 * (`ComponentProvider` from `@pulumi/pulumi/provider/experimental`) infers the schema from the TypeScript types and
 * TSDoc of the component's arguments and fields; this module adds what TypeScript types cannot say (which members
 * are secrets) and accepts the inputs the way another language's SDK sends them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import type { GitLabFargateRunnerArgs } from "../args";
import { GITLAB_FARGATE_RUNNER_TYPE, GitLabFargateRunner } from "../gitlabFargateRunner";

/** The package name: the first part of the type token `gitlab-fargate-runner:index:GitLabFargateRunner`. */
export const PACKAGE_NAME = "gitlab-fargate-runner";

/**
 * The secret members, by type (`<type name>.<member>`) and output: SDKs wrap them in secrets before they leave the
 * program, and the engine stores them encrypted. The component treats each as a secret in TypeScript too.
 */
export const SECRET_MEMBERS = {
  types: [
    "GitLabArgs.runnerToken",
    "GitLabArgs.registrationToken",
    "CreateRunnerArgs.accessToken",
    "ManagerSshKeyArgs.privateKey",
    "SshProxyArgs.privateKey",
  ],
  outputs: ["managerSshPrivateKey"],
} as const;

/** The subset of a Pulumi package schema this module reads and changes. */
interface PackageSchema {
  resources: Record<string, { properties: Record<string, { secret?: boolean }> }>;
  types: Record<string, { properties?: Record<string, { secret?: boolean }> }>;
}

/**
 * Marks {@link SECRET_MEMBERS} `secret: true` in a schema the analyzer generated. Throws when one is missing: a member
 * renamed in TypeScript must be renamed here too, or it would silently stop being secret.
 */
export function markSecrets<T extends PackageSchema>(schema: T): T {
  const mark = (properties: Record<string, { secret?: boolean }> | undefined, member: string, where: string) => {
    if (properties?.[member] === undefined) {
      throw new Error(`${PACKAGE_NAME} schema: the secret member ${where} is not in the schema`);
    }
    properties[member].secret = true;
  };
  for (const entry of SECRET_MEMBERS.types) {
    const [typeName, member] = entry.split(".");
    mark(schema.types[`${PACKAGE_NAME}:index:${typeName}`]?.properties, member, entry);
  }
  const component = schema.resources[`${PACKAGE_NAME}:index:${GitLabFargateRunner.name}`];
  for (const output of SECRET_MEMBERS.outputs) mark(component?.properties, output, `output ${output}`);
  return schema;
}

/**
 * The argument groups as the component needs them: plain objects. An engine or SDK that does not send nested output
 * values pushes the secretness of a member (say `gitlab.runnerToken`) up to its whole group, which then arrives as
 * one secret Output; its value is taken here (the component keeps every token and key secret itself).
 */
export async function plainArgumentGroups(inputs: pulumi.Inputs): Promise<pulumi.Inputs> {
  const entries = await Promise.all(
    Object.entries(inputs).map(async ([key, value]): Promise<[string, unknown]> => {
      if (!pulumi.Output.isInstance(value)) return [key, withoutNulls(value)];
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const output = value as any; // isKnown and promise() are the Output's internal API
      if (!(await output.isKnown)) {
        throw new Error(`GitLabFargateRunner: invalid ${key}: its value must be known when the runner is planned`);
      }
      return [key, withoutNulls(await output.promise())];
    }),
  );
  return Object.fromEntries(entries.filter(([, value]) => value !== null));
}

/**
 * The value with every `null` member of its plain objects left out, at any depth. On the wire a member is either
 * absent or `null` when a program did not give it (a YAML key without a value, `None` in a Python dict); the
 * component reads only absent members as not given, and would take `registrationToken: null` next to a
 * `runnerToken` for a second token, or crash on `existing: null`.
 */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, member]) => member !== null)
      .map(([key, member]) => [key, withoutNulls(member)]),
  );
}

/**
 * The directory of the package, the one with PulumiPlugin.yaml: its package.json, tsconfig.json and TypeScript
 * sources are what the analyzer reads. Found from this file in the sources (components/provider/) and when compiled
 * (dist/components/provider/).
 */
export function packageDirectory(from: string = __dirname): string {
  for (let directory = from; ; directory = path.dirname(directory)) {
    if (fs.existsSync(path.join(directory, "PulumiPlugin.yaml"))) return directory;
    if (path.dirname(directory) === directory) {
      throw new Error(`${PACKAGE_NAME}: no PulumiPlugin.yaml in ${from} or above it`);
    }
  }
}

/** The file, next to package.json, that holds the schema `npm run schema` wrote (committed and published). */
export const SCHEMA_FILE_NAME = "schema.json";

/**
 * The component provider that serves GitLabFargateRunner's schema and constructs it for other languages. At run time
 * (`pulumi package add`, `pulumi preview` and `pulumi up` of another language's program) it serves the committed
 * schema.json: Pulumi's analyzer type-checks the whole package with the TypeScript compiler, which takes seconds and
 * needs the sources and a compiler. `npm run schema` writes schema.json from {@link analyzedSchema}, and a test fails
 * when the two differ.
 */
export class GitLabFargateRunnerProvider extends ComponentProvider {
  private readonly directory: string;
  private servedSchema?: string;

  constructor(dirname: string = packageDirectory()) {
    super({ components: [GitLabFargateRunner], name: PACKAGE_NAME, dirname });
    this.directory = dirname;
  }

  /** The schema Pulumi's analyzer infers from the TypeScript types and TSDoc, with {@link SECRET_MEMBERS} marked. */
  async analyzedSchema(): Promise<string> {
    return JSON.stringify(markSecrets(JSON.parse(await super.getSchema())));
  }

  /** The committed schema.json, as one line of JSON. */
  override async getSchema(): Promise<string> {
    this.servedSchema ??= JSON.stringify(
      JSON.parse(fs.readFileSync(path.join(this.directory, SCHEMA_FILE_NAME), "utf8")),
    );
    return this.servedSchema;
  }

  /** Builds the component from the inputs another language's SDK sent; returns its URN and the schema's outputs. */
  override async construct(
    name: string,
    type: string,
    inputs: pulumi.Inputs,
    options: pulumi.ComponentResourceOptions,
  ): ReturnType<ComponentProvider["construct"]> {
    if (type !== GITLAB_FARGATE_RUNNER_TYPE) {
      throw new Error(`${PACKAGE_NAME} has one component, ${GITLAB_FARGATE_RUNNER_TYPE}; cannot construct ${type}`);
    }
    // Inputs as the SDK sent them; the component validates every argument before any resource exists.
    const args = (await plainArgumentGroups(inputs)) as unknown as GitLabFargateRunnerArgs;
    const runner = new GitLabFargateRunner(name, args, options);
    const schema = JSON.parse(await this.getSchema()) as PackageSchema;
    const outputs = Object.keys(schema.resources[GITLAB_FARGATE_RUNNER_TYPE].properties);
    const state = Object.fromEntries(outputs.map((output) => [output, runner[output as keyof GitLabFargateRunner]]));
    return { urn: runner.urn, state };
  }
}
