// Runs policies the way the Pulumi engine's analyzer does (see @pulumi/policy/server.js), without the CLI:
// ResourceValidationArgs / StackValidationArgs built from plain props, isType by type token, notApplicable throwing.
import {
  PolicyResource,
  PolicyResourceOptions,
  ResourceValidation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import * as policyProxy from "@pulumi/policy/proxy";

/** The engine's own props wrapper (internal to @pulumi/policy, so untyped): reading an unknown value throws. */
const engineProxy = policyProxy as unknown as {
  unknownCheckingProxy<T extends object>(props: T): T;
  unknownStringValue: string;
  UnknownValueError: new (...args: never[]) => Error;
};

/**
 * A value the engine does not know during preview (an output of a resource not created yet). The engine sends every
 * unknown as this string sentinel and wraps props in {@link engineProxy}, which throws when a policy reads one.
 */
export const UNKNOWN = engineProxy.unknownStringValue;

/** Whether `error` is the engine's "can't be known during preview" error (reported by the engine as advisory). */
export function isUnknownValueError(error: unknown): boolean {
  return error instanceof engineProxy.UnknownValueError;
}

/**
 * What a policy run produced: its violations (message + urn), whether every validation was not applicable, and the
 * "can't run during preview" errors the engine would turn into advisory notes (a policy stopped by an unknown value).
 */
export interface PolicyOutcome {
  violations: { message: string; urn?: string }[];
  notApplicable: boolean;
  cannotRunInPreview: string[];
}

class NotApplicable extends Error {}

const OPTIONS: PolicyResourceOptions = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

/** The analyzer's type test: a class matches when its static `__pulumiType` equals the resource's type token. */
function isTypeOf(type: string, resourceClass: unknown): boolean {
  return (resourceClass as { __pulumiType?: string }).__pulumiType === type;
}

function throwNotApplicable(reason?: string): never {
  throw new NotApplicable(reason);
}

export function urnOf(type: string, name: string): string {
  return `urn:pulumi:test::policy-tests::${type}::${name}`;
}

/** Fake ResourceValidationArgs for a resource of `type` named `name` with inputs `props`, wrapped as the engine does. */
export function resourceArgs(type: string, name: string, plainProps: Record<string, unknown>): ResourceValidationArgs {
  const props = engineProxy.unknownCheckingProxy(plainProps);
  return {
    type,
    name,
    props,
    urn: urnOf(type, name),
    opts: OPTIONS,
    stackTags: new Map(),
    isType: (resourceClass) => isTypeOf(type, resourceClass),
    asType: ((resourceClass: unknown) =>
      isTypeOf(type, resourceClass) ? props : undefined) as ResourceValidationArgs["asType"],
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: throwNotApplicable,
  };
}

/** Runs every validation of `policy` on one resource, as the analyzer does. */
export async function validateResource(
  policy: ResourceValidationPolicy,
  type: string,
  name: string,
  props: Record<string, unknown>,
): Promise<PolicyOutcome> {
  const validations: ResourceValidation[] = Array.isArray(policy.validateResource)
    ? policy.validateResource
    : policy.validateResource
      ? [policy.validateResource]
      : [];
  const outcome: PolicyOutcome = { violations: [], notApplicable: true, cannotRunInPreview: [] };
  for (const validation of validations) {
    try {
      await validation(resourceArgs(type, name, props), (message, urn) => outcome.violations.push({ message, urn }));
      outcome.notApplicable = false;
    } catch (error) {
      if (isUnknownValueError(error)) {
        outcome.notApplicable = false;
        outcome.cannotRunInPreview.push((error as Error).message);
      } else if (!(error instanceof NotApplicable)) {
        throw error;
      }
    }
  }
  return outcome;
}

/** A resource of a stack as a stack policy sees it; `dependsOn` fills propertyDependencies (property → resources). */
export interface StackResource {
  type: string;
  name: string;
  props: Record<string, unknown>;
  dependsOn?: Record<string, StackResource[]>;
}

/**
 * Fake StackValidationArgs over `resources`, their props wrapped in the engine's unknown-checking proxy (as
 * @pulumi/policy's server does for every run): a policy that reads an {@link UNKNOWN} value gets the engine's error.
 */
export function stackArgs(resources: StackResource[]): StackValidationArgs {
  const byResource = new Map<StackResource, PolicyResource>();
  for (const resource of resources) {
    const props = engineProxy.unknownCheckingProxy(resource.props);
    byResource.set(resource, {
      type: resource.type,
      name: resource.name,
      props,
      urn: urnOf(resource.type, resource.name),
      opts: OPTIONS,
      dependencies: [],
      propertyDependencies: {},
      isType: (resourceClass) => isTypeOf(resource.type, resourceClass),
      asType: ((resourceClass: unknown) =>
        isTypeOf(resource.type, resourceClass) ? props : undefined) as PolicyResource["asType"],
    });
  }
  for (const [resource, policyResource] of byResource) {
    for (const [property, targets] of Object.entries(resource.dependsOn ?? {})) {
      const resolved = targets.map((target) => byResource.get(target)).filter((r): r is PolicyResource => !!r);
      policyResource.propertyDependencies[property] = resolved;
      policyResource.dependencies.push(...resolved);
    }
  }
  return {
    resources: [...byResource.values()],
    stackTags: new Map(),
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: throwNotApplicable,
  };
}

/** Runs a stack policy over `resources`. */
export async function validateStack(policy: StackValidationPolicy, resources: StackResource[]): Promise<PolicyOutcome> {
  const outcome: PolicyOutcome = { violations: [], notApplicable: false, cannotRunInPreview: [] };
  try {
    await policy.validateStack(stackArgs(resources), (message, urn) => outcome.violations.push({ message, urn }));
  } catch (error) {
    if (isUnknownValueError(error)) {
      outcome.cannotRunInPreview.push((error as Error).message);
    } else if (error instanceof NotApplicable) {
      outcome.notApplicable = true;
    } else {
      throw error;
    }
  }
  return outcome;
}

/** Type tokens used by the tests, written out so a renamed token in @pulumi/aws would fail them. */
export const T = {
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  instance: "aws:ec2/instance:Instance",
  launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
  spotInstanceRequest: "aws:ec2/spotInstanceRequest:SpotInstanceRequest",
  spotFleetRequest: "aws:ec2/spotFleetRequest:SpotFleetRequest",
  fleet: "aws:ec2/fleet:Fleet",
  launchConfiguration: "aws:ec2/launchConfiguration:LaunchConfiguration",
  autoscalingGroup: "aws:autoscaling/group:Group",
  volume: "aws:ebs/volume:Volume",
  ecrRepository: "aws:ecr/repository:Repository",
  awsxRepository: "awsx:ecr:Repository",
  bucket: "aws:s3/bucket:Bucket",
  bucketEncryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  bucketPublicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  iamPolicy: "aws:iam/policy:Policy",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  role: "aws:iam/role:Role",
  rolePolicyAttachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  taskDefinition: "aws:ecs/taskDefinition:TaskDefinition",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
} as const;

/** One violation found by {@link runPack}, with the policy that reported it. */
export interface PackViolation {
  policy: string;
  enforcementLevel?: string;
  message: string;
}

/**
 * Runs every resource policy on every resource and every stack policy on the whole list, as `pulumi preview
 * --policy-pack` would. Returns the violations, the names of the policies that applied to something, and the
 * policies an unknown value stopped (the engine's advisory "can't run … during preview").
 */
export async function runPack(
  resourcePolicies: ResourceValidationPolicy[],
  stackPolicies: StackValidationPolicy[],
  resources: StackResource[],
): Promise<{ violations: PackViolation[]; applied: Set<string>; cannotRunInPreview: PackViolation[] }> {
  const violations: PackViolation[] = [];
  const cannotRunInPreview: PackViolation[] = [];
  const applied = new Set<string>();
  const record = (policy: ResourceValidationPolicy | StackValidationPolicy, outcome: PolicyOutcome) => {
    if (!outcome.notApplicable) {
      applied.add(policy.name);
    }
    for (const { message } of outcome.violations) {
      violations.push({ policy: policy.name, enforcementLevel: policy.enforcementLevel, message });
    }
    for (const message of outcome.cannotRunInPreview) {
      cannotRunInPreview.push({ policy: policy.name, enforcementLevel: "advisory", message });
    }
  };
  for (const policy of resourcePolicies) {
    for (const resource of resources) {
      record(policy, await validateResource(policy, resource.type, resource.name, resource.props));
    }
  }
  for (const policy of stackPolicies) {
    record(policy, await validateStack(policy, resources));
  }
  return { violations, applied, cannotRunInPreview };
}
