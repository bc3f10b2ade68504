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
import { GitLabFargateRunner } from "../gitlabFargateRunner";

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
      if (!pulumi.Output.isInstance(value)) return [key, value];
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const output = value as any; // isKnown and promise() are the Output's internal API
      if (!(await output.isKnown)) {
        throw new Error(`GitLabFargateRunner: invalid ${key}: its value must be known when the runner is planned`);
      }
      return [key, await output.promise()];
    }),
  );
  return Object.fromEntries(entries);
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

/** The component provider that serves GitLabFargateRunner's schema and constructs it for other languages. */
export class GitLabFargateRunnerProvider extends ComponentProvider {
  private markedSchema?: string;

  constructor(dirname: string = packageDirectory()) {
    super({ components: [GitLabFargateRunner], name: PACKAGE_NAME, dirname });
  }

  override async getSchema(): Promise<string> {
    this.markedSchema ??= JSON.stringify(markSecrets(JSON.parse(await super.getSchema())));
    return this.markedSchema;
  }

  override async construct(
    name: string,
    type: string,
    inputs: pulumi.Inputs,
    options: pulumi.ComponentResourceOptions,
  ): ReturnType<ComponentProvider["construct"]> {
    return super.construct(name, type, await plainArgumentGroups(inputs), options);
  }
}
