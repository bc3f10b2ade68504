import * as aws from "@pulumi/aws";
import { Resource } from "@pulumi/pulumi";
import { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { asList, parseJsonish, resourceLabel, stringsOf } from "./common";

/** Services whose `service:*` wildcard (or `*`) gives a job or a stolen credential far too much. */
export const GUARDED_SERVICES = ["iam", "ecs", "ec2", "s3", "secretsmanager", "kms"];

/** One statement of an identity policy, as far as these rules need it. */
export interface Statement {
  effect: string;
  actions: string[];
  notActions: string[];
  resources: string[];
  notResources: string[];
}

/** A named policy document found on a resource ("policy", or "inlinePolicies[0] (name)"). */
export interface FoundDocument {
  where: string;
  statements: Statement[];
}

/** The statements of a policy document given as JSON text or as an object. */
export function statementsOf(document: unknown): Statement[] {
  const parsed = parseJsonish(document) as { Statement?: unknown } | undefined;
  return asList(parsed?.Statement as Record<string, unknown>[]).map((statement) => ({
    effect: String(statement?.Effect ?? ""),
    actions: stringsOf(statement?.Action),
    notActions: stringsOf(statement?.NotAction),
    resources: stringsOf(statement?.Resource),
    notResources: stringsOf(statement?.NotResource),
  }));
}

const STANDALONE_POLICY_CLASSES = [aws.iam.Policy, aws.iam.RolePolicy, aws.iam.UserPolicy, aws.iam.GroupPolicy];

/** The identity-policy documents a resource declares (trust policies are not checked here). */
export function documentsOf(args: ResourceValidationArgs): FoundDocument[] {
  if (STANDALONE_POLICY_CLASSES.some((resourceClass) => args.isType<Resource>(resourceClass))) {
    return [{ where: "policy", statements: statementsOf(args.props.policy) }];
  }
  if (args.isType(aws.iam.Role)) {
    return asList(args.props.inlinePolicies as { name?: string; policy?: unknown }[]).map((inline, index) => ({
      where: `inlinePolicies[${index}]${inline?.name ? ` (${inline.name})` : ""}`,
      statements: statementsOf(inline?.policy),
    }));
  }
  return [];
}

/** Runs `check` on every Allow statement of an IAM resource's policy documents. */
function forEachAllowStatement(
  args: ResourceValidationArgs,
  check: (statement: Statement, where: string, label: string) => void,
): void {
  if (![...STANDALONE_POLICY_CLASSES, aws.iam.Role].some((resourceClass) => args.isType<Resource>(resourceClass))) {
    return args.notApplicable("Applies to IAM policies, role/user/group policies and role inline policies");
  }
  const label = resourceLabel(args.type, args.name);
  for (const document of documentsOf(args)) {
    document.statements.forEach((statement, index) => {
      if (statement.effect === "Allow") {
        check(statement, `${document.where} Statement[${index}]`, label);
      }
    });
  }
}

/**
 * An IAM wildcard pattern as a RegExp with IAM's own semantics: case-insensitive, `*` any run of characters (none
 * included), `?` exactly one character, everything else literal.
 */
export function iamPattern(pattern: string): RegExp {
  const source = [...pattern.trim()]
    .map((char) => (char === "*" ? ".*" : char === "?" ? "." : char.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, "is");
}

/** Actions no service has: a pattern that matches both for a service allows every action of that service. */
const MADE_UP_ACTIONS = ["ZzNoSuchAction", "QqMadeUpAction"];

/** The action pattern itself when it allows every action of a guarded service ("*", "iam:*", "iam:?*"…). */
export function overBroadAction(action: string): string | undefined {
  const pattern = iamPattern(action);
  const broad = GUARDED_SERVICES.some((service) => MADE_UP_ACTIONS.every((name) => pattern.test(`${service}:${name}`)));
  return broad ? action : undefined;
}

/** No `*` or `service:*` actions (and no NotAction allows) for iam, ecs, ec2, s3, secretsmanager, kms. */
export const iamNoWildcardActions: ResourceValidationPolicy = {
  name: "iam-no-wildcard-actions",
  description: `IAM policies allow no "*" action, no "service:*" action for ${GUARDED_SERVICES.join(", ")}, and no NotAction.`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation: ReportViolation) =>
    forEachAllowStatement(args, (statement, where, label) => {
      for (const action of statement.actions.map(overBroadAction).filter((a): a is string => a !== undefined)) {
        reportViolation(
          `${label} allows the wildcard action "${action}" (${where}). ` +
            "Fix: list the exact actions needed (for example ecs:RunTask, ecs:DescribeTasks) on specific resources.",
        );
      }
      if (statement.notActions.length > 0) {
        reportViolation(
          `${label} allows everything except ${statement.notActions.join(", ")} with NotAction (${where}). ` +
            "Fix: replace NotAction with an explicit Action list.",
        );
      }
    }),
};

/** Whether an action pattern grants iam:PassRole ("iam:PassRole", "iam:Pass*", "iam:PassRol?", "*"). */
export function grantsPassRole(action: string): boolean {
  return iamPattern(action).test("iam:PassRole");
}

/**
 * Whether a resource pattern covers every resource of one kind: it matches a made-up one (`service` and `tail`, such as
 * "iam" and "role/zz-any") in the pattern's own partition, region and account when it names them
 * ("arn:aws-cn:iam::123456789012:role/*"), else in aws, us-east-1 and a sample account ("*", "arn:*").
 */
export function coversEvery(resource: string, service: string, tail: string): boolean {
  const [, partition, , region, account] = resource.trim().split(":");
  const literal = (part: string | undefined, fallback: string) => (part && !/[*?]/.test(part) ? part : fallback);
  const madeUpRegion = service === "iam" ? "" : literal(region, "us-east-1");
  const madeUp = `arn:${literal(partition, "aws")}:${service}:${madeUpRegion}:${literal(account, "123456789012")}:${tail}`;
  return iamPattern(resource).test(madeUp);
}

/** A resource pattern that matches every role ("*", "arn:*", "arn:aws:iam::123456789012:role/*"…). */
export function isAnyRole(resource: string): boolean {
  return coversEvery(resource, "iam", "role/zz-any-role");
}

/** iam:PassRole only on named roles: never "*", never every role, never via NotResource. */
export const iamPassRoleScoped: ResourceValidationPolicy = {
  name: "iam-passrole-scoped",
  description: 'iam:PassRole is allowed only on specific role ARNs, never on "*" (or every role).',
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation: ReportViolation) =>
    forEachAllowStatement(args, (statement, where, label) => {
      if (!statement.actions.some(grantsPassRole)) {
        return;
      }
      const broad = statement.resources.filter(isAnyRole);
      const unscoped = statement.notResources.length > 0 || statement.resources.length === 0;
      if (broad.length > 0 || unscoped) {
        const what = broad.length > 0 ? broad.join(", ") : "every resource (NotResource or no Resource)";
        reportViolation(
          `${label} allows iam:PassRole on ${what} (${where}). ` +
            "Fix: name the exact role ARNs (the task execution and task roles) and add the condition " +
            '"iam:PassedToService": "ecs-tasks.amazonaws.com".',
        );
      }
    }),
};

/**
 * Action families by which a principal raises its own (or another principal's) rights: writing or attaching policies,
 * creating policy versions, access keys, login profiles or roles, assuming roles. Every action of a family counts.
 * iam:PassRole is iam-passrole-scoped's concern.
 */
const ESCALATION_FAMILIES = ["iam:Put*", "iam:Attach*", "iam:Create*", "sts:AssumeRole"];

/** Services where one call runs commands or code with another role's rights: their whole-service wildcard counts. */
const ESCALATION_SERVICES = ["ssm", "lambda"];

/**
 * Known escalation actions, so a pattern that names no family but matches one of them ("iam:*Policy", "ssm:Send*",
 * "lambda:Update*") counts too.
 */
const ESCALATION_ACTIONS = [
  "iam:PutRolePolicy",
  "iam:PutUserPolicy",
  "iam:PutGroupPolicy",
  "iam:PutRolePermissionsBoundary",
  "iam:PutUserPermissionsBoundary",
  "iam:DeleteRolePermissionsBoundary",
  "iam:DeleteUserPermissionsBoundary",
  "iam:AttachRolePolicy",
  "iam:AttachUserPolicy",
  "iam:AttachGroupPolicy",
  "iam:CreatePolicyVersion",
  "iam:CreateAccessKey",
  "iam:CreateLoginProfile",
  "iam:UpdateLoginProfile",
  "iam:UpdateAssumeRolePolicy",
  "iam:SetDefaultPolicyVersion",
  "iam:AddUserToGroup",
  "sts:AssumeRole",
  "ssm:SendCommand",
  "ssm:StartSession",
  "ssm:StartAutomationExecution",
  "lambda:CreateFunction",
  "lambda:UpdateFunctionCode",
  "lambda:UpdateFunctionConfiguration",
  "lambda:InvokeFunction",
  "lambda:AddPermission",
];

/** Actions a pattern allows when it covers a whole family or service (made-up names no real action has). */
const ESCALATION_EXAMPLES = [
  ...ESCALATION_FAMILIES.map((family) => family.replace("*", MADE_UP_ACTIONS[0])),
  ...ESCALATION_SERVICES.map((service) => `${service}:${MADE_UP_ACTIONS[0]}`),
  ...ESCALATION_ACTIONS,
];

/** Whether an action pattern allows privilege escalation: it names a family's action or matches an escalating one. */
export function allowsEscalation(action: string): boolean {
  const pattern = iamPattern(action);
  return (
    ESCALATION_FAMILIES.some((family) => iamPattern(family).test(action)) ||
    ESCALATION_EXAMPLES.some((example) => pattern.test(example))
  );
}

/** Made-up resources of every kind escalation works on: roles, users, groups, policies, functions, SSM targets. */
const ESCALATION_TARGETS: [string, string][] = [
  ["iam", "role/zz-any"],
  ["iam", "user/zz-any"],
  ["iam", "group/zz-any"],
  ["iam", "policy/zz-any"],
  ["lambda", "function:zz-any"],
  ["ssm", "document/zz-any"],
  ["ssm", "parameter/zz-any"],
  ["ssm", "managed-instance/mi-0zzany"],
  ["ec2", "instance/i-0zzany"],
];

/** Whether a resource pattern covers every resource of a kind escalation works on ("*", "arn:*", "…:role/*"…). */
function coversEveryTarget(resource: string): boolean {
  return ESCALATION_TARGETS.some(([service, tail]) => coversEvery(resource, service, tail));
}

/** No privilege-escalation action (iam:Put*, iam:Attach*, iam:Create*, sts:AssumeRole, ssm:*, lambda:*…) on everything. */
export const iamNoPrivilegeEscalation: ResourceValidationPolicy = {
  name: "iam-no-privilege-escalation",
  description:
    "IAM policies allow no privilege-escalation action (iam:Put*, iam:Attach*, iam:Create*, sts:AssumeRole, ssm:*, lambda:*, or a wildcard that includes one) on every resource of a kind.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation: ReportViolation) =>
    forEachAllowStatement(args, (statement, where, label) => {
      const broad = statement.resources.filter(coversEveryTarget);
      const unscoped = statement.notResources.length > 0 || statement.resources.length === 0;
      if (broad.length === 0 && !unscoped) {
        return;
      }
      const what = broad.length > 0 ? broad.join(", ") : "every resource (NotResource or no Resource)";
      for (const action of statement.actions.filter(allowsEscalation)) {
        reportViolation(
          `${label} allows "${action}" on ${what} (${where}), with which it can raise its own or another ` +
            "principal's rights (write or attach policies, create keys or roles, assume roles, run commands or code " +
            "as another role). Fix: name the exact resources it needs, or drop the action.",
        );
      }
    }),
};

/**
 * AWS managed policies far broader than a runner or a job needs, as IAM-style patterns of the policy name.
 * AmazonECS_FullAccess is what GitLab's manual guide attaches to the manager; the administrator policies and every
 * *FullAccess policy are as bad, the job-function policies (SystemAdministrator, DatabaseAdministrator, …) and
 * *PowerUser policies nearly so, and the read-only ones (ReadOnlyAccess, ViewOnlyAccess, AmazonS3ReadOnlyAccess, …)
 * let every job read every bucket, table or parameter of their service.
 */
export const BROAD_MANAGED_POLICIES = [
  "AdministratorAccess*",
  "*Administrator",
  "*PowerUser",
  "PowerUserAccess",
  "*ReadOnlyAccess",
  "ViewOnlyAccess",
  "*FullAccess",
  "SecretsManagerReadWrite",
];

/** Whether an AWS managed policy name is one of {@link BROAD_MANAGED_POLICIES}. */
export function isBroadManagedPolicy(name: string): boolean {
  return BROAD_MANAGED_POLICIES.some((pattern) => iamPattern(pattern).test(name));
}

/** The name of an AWS managed policy ARN ("arn:aws:iam::aws:policy/AmazonECS_FullAccess"), else undefined. */
function awsManagedPolicyName(arn: string): string | undefined {
  const match = /^arn:[^:]+:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn.trim());
  return match?.[1];
}

function reportBroadManaged(label: string, arns: string[], reportViolation: ReportViolation): void {
  for (const arn of arns) {
    const name = awsManagedPolicyName(arn);
    if (name && isBroadManagedPolicy(name)) {
      reportViolation(
        `${label} attaches the AWS managed policy ${name}, which grants far more than a runner needs. ` +
          "Fix: attach a customer policy with the exact actions and resources instead.",
      );
    }
  }
}

/** Resources that attach managed policies, and the property holding the ARN(s). */
const ATTACHMENT_PROPERTIES: [Parameters<ResourceValidationArgs["isType"]>[0], string][] = [
  [aws.iam.Role, "managedPolicyArns"],
  [aws.iam.RolePolicyAttachment, "policyArn"],
  [aws.iam.UserPolicyAttachment, "policyArn"],
  [aws.iam.GroupPolicyAttachment, "policyArn"],
  [aws.iam.PolicyAttachment, "policyArn"],
  [aws.iam.RolePolicyAttachmentsExclusive, "policyArns"],
  [aws.iam.UserPolicyAttachmentsExclusive, "policyArns"],
  [aws.iam.GroupPolicyAttachmentsExclusive, "policyArns"],
];

/** No over-broad AWS managed policies (AmazonECS_FullAccess, AdministratorAccess, …) on roles, users or groups. */
export const iamNoBroadManagedPolicies: ResourceValidationPolicy = {
  name: "iam-no-broad-managed-policies",
  description: `Roles, users and groups attach none of these AWS managed policies: ${BROAD_MANAGED_POLICIES.join(", ")}.`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation: ReportViolation) => {
    const found = ATTACHMENT_PROPERTIES.find(([resourceClass]) => args.isType<Resource>(resourceClass));
    if (!found) {
      return args.notApplicable(
        "Applies to aws.iam.Role and the aws.iam policy attachment resources (Role/User/Group/PolicyAttachment, *PolicyAttachmentsExclusive) only",
      );
    }
    reportBroadManaged(resourceLabel(args.type, args.name), stringsOf(args.props[found[1]]), reportViolation);
  },
};

export const iamPolicies = {
  resource: [iamNoWildcardActions, iamPassRoleScoped, iamNoPrivilegeEscalation, iamNoBroadManagedPolicies],
  stack: [],
};
