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
 * A resource pattern that matches every role: one that matches a made-up role ARN in its own partition and account
 * when it names them ("arn:aws-cn:iam::123456789012:role/*"), else in aws and a sample account ("*", "arn:*").
 */
export function isAnyRole(resource: string): boolean {
  const [, partition, , , account] = resource.trim().split(":");
  const literal = (part: string | undefined, fallback: string) => (part && !/[*?]/.test(part) ? part : fallback);
  const madeUpRole = `arn:${literal(partition, "aws")}:iam::${literal(account, "123456789012")}:role/zz-any-role`;
  return iamPattern(resource).test(madeUpRole);
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
 * AWS managed policies far broader than a runner needs. AmazonECS_FullAccess is what GitLab's manual guide attaches
 * to the manager; AdministratorAccess/PowerUserAccess and the *FullAccess policies of the guarded services are as bad.
 */
export const BROAD_MANAGED_POLICIES = [
  "AdministratorAccess",
  "PowerUserAccess",
  "IAMFullAccess",
  "AmazonECS_FullAccess",
  "AmazonEC2FullAccess",
  "AmazonS3FullAccess",
  "SecretsManagerReadWrite",
  "AWSKeyManagementServicePowerUser",
  "AmazonEC2ContainerRegistryFullAccess",
];

/** The name of an AWS managed policy ARN ("arn:aws:iam::aws:policy/AmazonECS_FullAccess"), else undefined. */
function awsManagedPolicyName(arn: string): string | undefined {
  const match = /^arn:[^:]+:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn.trim());
  return match?.[1];
}

function reportBroadManaged(label: string, arns: string[], reportViolation: ReportViolation): void {
  for (const arn of arns) {
    const name = awsManagedPolicyName(arn);
    if (name && BROAD_MANAGED_POLICIES.includes(name)) {
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
  resource: [iamNoWildcardActions, iamPassRoleScoped, iamNoBroadManagedPolicies],
  stack: [],
};
