/**
 * Pulumi unit-test mocks that record every resource the program registers. Install in a suite's `before` with
 * `await installMocks()`, then `await import()` the code under test; `settle()` waits until every pending
 * registration has reached the mocks.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export const ACCOUNT_ID = "123456789012";
export const REGION = "eu-west-1";
/** The marker Pulumi puts on secret values it hands to mocks. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export interface CapturedResource {
  type: string;
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inputs: Record<string, any>;
  id: string;
}

export interface CapturedCall {
  token: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inputs: Record<string, any>;
}

export class ResourceRecorder {
  readonly resources: CapturedResource[] = [];
  readonly calls: CapturedCall[] = [];

  /** Resources whose name is `<component>` or starts with `<component>-`. */
  of(component: string): CapturedResource[] {
    return this.resources.filter((r) => r.name === component || r.name.startsWith(`${component}-`));
  }

  /** The single resource of `type` named `<component>-<part>`. */
  one(component: string, type: string, part?: string): CapturedResource {
    const found = this.of(component).filter(
      (r) => r.type === type && (part === undefined || r.name === `${component}-${part}`),
    );
    if (found.length !== 1) {
      throw new Error(`expected one ${type}${part ? ` named ${component}-${part}` : ""}, found ${found.length}`);
    }
    return found[0];
  }

  ofType(component: string, type: string): CapturedResource[] {
    return this.of(component).filter((r) => r.type === type);
  }
}

/**
 * An id of the shape AWS issues (`<prefix>-` and 17 lowercase hex digits), derived from `seed` so it is stable: the
 * component checks subnet, security group and VPC ids with the driver's rules, and mocks answer like AWS does.
 */
export function mockAwsId(prefix: "subnet" | "sg" | "vpc", seed: string): string {
  return `${prefix}-${createHash("sha256").update(seed).digest("hex").slice(0, 17)}`;
}

/** Outputs the cloud would report for a resource (awsx remote components included). */
function outputsFor(
  type: string,
  name: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inputs: Record<string, any>,
  sequence: number,
): Record<string, unknown> {
  const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT_ID}:${resource}`;
  switch (type) {
    case "awsx:ec2:Vpc": {
      const azs = inputs.numberOfAvailabilityZones ?? 3;
      const ids = (kind: string) =>
        Array.from({ length: azs }, (_, i) => mockAwsId("subnet", `${kind}${i + 1}-${name}`));
      const hasPrivate = (inputs.subnetSpecs ?? [{ type: "Private" }]).some(
        (s: { type: string }) => s.type === "Private",
      );
      return {
        vpcId: mockAwsId("vpc", name),
        publicSubnetIds: ids("pub"),
        privateSubnetIds: hasPrivate ? ids("priv") : [],
        isolatedSubnetIds: [],
      };
    }
    case "awsx:ecr:Repository":
      return { url: `${ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/${name}` };
    case "awsx:ecr:Image":
      return { imageUri: `${inputs.repositoryUrl}@sha256:${"ab".repeat(32)}` };
    case "aws:ecs/cluster:Cluster":
      return { ...inputs, name: `${name}-c0ffee`, arn: arn("ecs", `cluster/${name}-c0ffee`) };
    case "aws:ecs/taskDefinition:TaskDefinition":
      return { ...inputs, revision: 3, arn: arn("ecs", `task-definition/${inputs.family}:3`) };
    case "aws:iam/role:Role":
      return { ...inputs, name: `${name}-r0le`, arn: `arn:aws:iam::${ACCOUNT_ID}:role/${name}-r0le` };
    case "aws:iam/instanceProfile:InstanceProfile":
      return { ...inputs, name: `${name}-pr0file`, arn: `arn:aws:iam::${ACCOUNT_ID}:instance-profile/${name}` };
    case "aws:ec2/eip:Eip":
      return { ...inputs, publicIp: `198.51.100.${(sequence % 250) + 1}`, allocationId: `eipalloc-${name}` };
    case "aws:s3/bucket:Bucket":
      return { ...inputs, bucket: `${name}-b4cket`, arn: `arn:aws:s3:::${name}-b4cket` };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { ...inputs, name: `${inputs.namePrefix ?? ""}${name}`, arn: arn("logs", `log-group:${name}`) };
    case "aws:ec2/keyPair:KeyPair":
      return { ...inputs, keyName: `${name}-k3y` };
    case "tls:index/privateKey:PrivateKey":
      return {
        ...inputs,
        publicKeyOpenssh: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${name} generated`,
        privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${name}\n-----END OPENSSH PRIVATE KEY-----\n`,
        privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${name}\n-----END PRIVATE KEY-----\n`,
      };
    case "pulumi-nodejs:dynamic:Resource":
      // The GitLab runner the stack creates: GitLab answers with its id and authentication token.
      return { ...inputs, runnerId: 4200 + sequence, token: `glrt-created-${name}`, tokenExpiresAt: undefined };
    default:
      return { ...inputs, arn: arn("mock", `${type}/${name}`) };
  }
}

function idFor(type: string, name: string): string {
  if (type === "aws:ec2/securityGroup:SecurityGroup") return mockAwsId("sg", name);
  if (type === "aws:ec2/instance:Instance") return `i-${name}`;
  if (type === "aws:s3/bucket:Bucket") return `${name}-b4cket`;
  return `${name}-id`;
}

/** Answers of the provider functions the component calls. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function callResult(token: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (token) {
    case "aws:index/getRegion:getRegion":
      return { id: REGION, name: REGION, region: REGION, description: "Europe (Ireland)", endpoint: "" };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { id: ACCOUNT_ID, accountId: ACCOUNT_ID, arn: `arn:aws:iam::${ACCOUNT_ID}:user/ci`, userId: "AIDA" };
    case "aws:index/getPartition:getPartition":
      return { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" };
    case "aws:index/getAvailabilityZones:getAvailabilityZones":
      return { names: [`${REGION}a`, `${REGION}b`, `${REGION}c`], zoneIds: ["euw1-az1", "euw1-az2", "euw1-az3"] };
    case "aws:ec2/getAmi:getAmi": {
      const arch = inputs.filters?.find((f: { name: string }) => f.name === "architecture")?.values?.[0] ?? "x86_64";
      return { id: `ami-ubuntu-noble-${arch}`, architecture: arch, ...inputs };
    }
    case "aws:iam/getPolicyDocument:getPolicyDocument":
      return { json: JSON.stringify({ Version: "2012-10-17", Statement: inputs.statements ?? [] }) };
    default:
      return inputs;
  }
}

/** Installs mocks that record into a fresh recorder; call from a suite's `before`. */
export async function installMocks(): Promise<ResourceRecorder> {
  const recorder = new ResourceRecorder();
  await pulumi.runtime.setMocks(
    {
      newResource({ type, name, inputs }) {
        const id = idFor(type, name);
        recorder.resources.push({ type, name, inputs, id });
        return { id, state: outputsFor(type, name, inputs, recorder.resources.length) };
      },
      call({ token, inputs }) {
        recorder.calls.push({ token, inputs });
        return callResult(token, inputs);
      },
    },
    "gitlab-fargate-runner",
    "test",
    false,
  );
  return recorder;
}

/** Resolves an Output's value (mocks run with preview=false, so every value becomes known). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** Whether an Output is marked secret. */
export function isSecretOutput(output: pulumi.Output<unknown>): Promise<boolean> {
  return pulumi.isSecret(output);
}

/** Waits until every registration started so far has reached the mocks. */
export async function settle(): Promise<void> {
  // waitForRPCs is internal to @pulumi/pulumi but is exactly "wait until the RPC queue drains".
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  await settings.waitForRPCs();
}

/** Removes Pulumi's secret wrappers, returning the plain value (for reading a secret input's content). */
export function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (SECRET_SIG in record) return unwrapSecrets(record.value);
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/** Paths (a.b[0].c) where `needle` occurs in `value` outside secret wrappers. */
export function plainOccurrences(value: unknown, needle: string, path = ""): string[] {
  if (typeof value === "string") return value.includes(needle) ? [path || "(root)"] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => plainOccurrences(v, needle, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (SECRET_SIG in record) return [];
    return Object.entries(record).flatMap(([k, v]) => plainOccurrences(v, needle, path ? `${path}.${k}` : k));
  }
  return [];
}
