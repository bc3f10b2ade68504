import * as aws from "@pulumi/aws";
import {
  PolicyResource,
  ReportViolation,
  ResourceValidationPolicy,
  StackValidationPolicy,
  validateResourceOfType,
} from "@pulumi/policy";
import { refersTo, resourceLabel, stringsOf } from "./common";

const SSH_PORT = 22;

/** One inbound permission, whichever of the three AWS resource shapes declared it. */
export interface Ingress {
  /** Where it was declared, for messages: "ingress[0]" or "this rule". */
  where: string;
  protocol: string;
  fromPort?: number;
  toPort?: number;
  cidrs: string[];
  prefixLists: string[];
  securityGroups: string[];
  self: boolean;
}

/** True for "-1"/"all": every protocol and port. */
export function isAllTraffic(ingress: Ingress): boolean {
  return ingress.protocol === "-1" || ingress.protocol.toLowerCase() === "all";
}

/** Whether the permission lets TCP 22 in (all traffic does too). */
export function coversSsh(ingress: Ingress): boolean {
  if (isAllTraffic(ingress)) {
    return true;
  }
  const protocol = ingress.protocol.toLowerCase();
  if (protocol !== "tcp" && protocol !== "6") {
    return false;
  }
  const from = ingress.fromPort ?? 0;
  const to = ingress.toPort ?? 65535;
  return from <= SSH_PORT && SSH_PORT <= to;
}

/** A CIDR with prefix length 0 (0.0.0.0/0, ::/0) is the whole internet. */
export function isWorldCidr(cidr: string): boolean {
  return cidr.trim().endsWith("/0");
}

/** Inline `ingress` blocks of an aws.ec2.SecurityGroup. */
export function inlineIngress(props: { ingress?: unknown }): Ingress[] {
  const blocks = Array.isArray(props.ingress) ? (props.ingress as Record<string, unknown>[]) : [];
  return blocks.map((block, index) => ({
    where: `ingress[${index}]`,
    protocol: String(block.protocol ?? ""),
    fromPort: block.fromPort as number | undefined,
    toPort: block.toPort as number | undefined,
    cidrs: [...stringsOf(block.cidrBlocks), ...stringsOf(block.ipv6CidrBlocks)],
    prefixLists: stringsOf(block.prefixListIds),
    securityGroups: stringsOf(block.securityGroups),
    self: block.self === true,
  }));
}

/** An aws.ec2.SecurityGroupRule of type "ingress" (egress rules yield nothing). */
export function securityGroupRuleIngress(props: Record<string, unknown>): Ingress[] {
  if (props.type !== "ingress") {
    return [];
  }
  return [
    {
      where: "this rule",
      protocol: String(props.protocol ?? ""),
      fromPort: props.fromPort as number | undefined,
      toPort: props.toPort as number | undefined,
      cidrs: [...stringsOf(props.cidrBlocks), ...stringsOf(props.ipv6CidrBlocks)],
      prefixLists: stringsOf(props.prefixListIds),
      securityGroups: stringsOf(props.sourceSecurityGroupId),
      self: props.self === true,
    },
  ];
}

/** An aws.vpc.SecurityGroupIngressRule (one source per rule). */
export function vpcIngressRule(props: Record<string, unknown>): Ingress[] {
  return [
    {
      where: "this rule",
      protocol: String(props.ipProtocol ?? ""),
      fromPort: props.fromPort as number | undefined,
      toPort: props.toPort as number | undefined,
      cidrs: [...stringsOf(props.cidrIpv4), ...stringsOf(props.cidrIpv6)],
      prefixLists: stringsOf(props.prefixListId),
      securityGroups: stringsOf(props.referencedSecurityGroupId),
      self: false,
    },
  ];
}

function reportWorldOpen(label: string, ingresses: Ingress[], reportViolation: ReportViolation): void {
  for (const ingress of ingresses) {
    for (const cidr of ingress.cidrs.filter(isWorldCidr)) {
      if (isAllTraffic(ingress)) {
        reportViolation(
          `${label} allows all traffic from ${cidr} (${ingress.where}). ` +
            "Fix: allow only the ports needed, from specific CIDR blocks or security groups.",
        );
      } else if (coversSsh(ingress)) {
        reportViolation(
          `${label} opens TCP ${SSH_PORT} (SSH) to ${cidr} (${ingress.where}). ` +
            "Fix: allow SSH only from your admin network CIDRs (admin.sshCidrBlocks) or from a security group reference.",
        );
      }
    }
  }
}

/** No security group or rule opens SSH (or all traffic) to 0.0.0.0/0 or ::/0. */
export const noWorldSsh: ResourceValidationPolicy = {
  name: "security-group-no-world-ssh",
  description: "No security group or ingress rule opens TCP 22, or all traffic, to 0.0.0.0/0 or ::/0.",
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(aws.ec2.SecurityGroup, (sg, args, reportViolation) =>
      reportWorldOpen(resourceLabel(args.type, args.name), inlineIngress(sg), reportViolation),
    ),
    validateResourceOfType(aws.ec2.SecurityGroupRule, (rule, args, reportViolation) =>
      reportWorldOpen(resourceLabel(args.type, args.name), securityGroupRuleIngress(rule), reportViolation),
    ),
    validateResourceOfType(aws.vpc.SecurityGroupIngressRule, (rule, args, reportViolation) =>
      reportWorldOpen(resourceLabel(args.type, args.name), vpcIngressRule(rule), reportViolation),
    ),
  ],
};

/** Tag by which any stack can mark its job task security group. */
export const ROLE_TAG = "gitlab-fargate-runner:role";
/** Value of {@link ROLE_TAG} on the security group attached to job tasks. */
export const JOB_TASK_ROLE = "job-task";
/** Suffix of the Pulumi name GitLabFargateRunner gives its job task security group (`<runner>-task-sg`). */
export const JOB_TASK_NAME_SUFFIX = "-task-sg";

function tagsOf(resource: PolicyResource): Record<string, unknown> {
  const tags = resource.props.tags;
  return tags && typeof tags === "object" ? (tags as Record<string, unknown>) : {};
}

/** The job task security group: named `<runner>-task-sg` by the component, or tagged `gitlab-fargate-runner:role = job-task`. */
export function isJobTaskSecurityGroup(resource: PolicyResource): boolean {
  return (
    resource.isType(aws.ec2.SecurityGroup) &&
    (resource.name.endsWith(JOB_TASK_NAME_SUFFIX) || tagsOf(resource)[ROLE_TAG] === JOB_TASK_ROLE)
  );
}

/**
 * Every inbound permission of `group`: inline blocks and the separate rule resources that target it. A rule whose
 * source is the group itself counts as `self`, however it is written.
 */
function ingressOf(group: PolicyResource, resources: PolicyResource[]): { label: string; ingress: Ingress }[] {
  const groupId = group.props.id;
  const found = inlineIngress(group.props).map((ingress) => ({
    label: resourceLabel(group.type, group.name),
    ingress: { ...ingress, self: ingress.self || ingress.securityGroups.includes(groupId as string) },
  }));
  for (const resource of resources) {
    let ingresses: Ingress[];
    let sourceProperty: string;
    if (resource.isType(aws.ec2.SecurityGroupRule)) {
      [ingresses, sourceProperty] = [securityGroupRuleIngress(resource.props), "sourceSecurityGroupId"];
    } else if (resource.isType(aws.vpc.SecurityGroupIngressRule)) {
      [ingresses, sourceProperty] = [vpcIngressRule(resource.props), "referencedSecurityGroupId"];
    } else {
      continue;
    }
    if (!refersTo(resource, "securityGroupId", group, [])) {
      continue;
    }
    const fromItself = refersTo(resource, sourceProperty, group, []);
    const label = resourceLabel(resource.type, resource.name);
    found.push(...ingresses.map((ingress) => ({ label, ingress: { ...ingress, self: ingress.self || fromItself } })));
  }
  return found;
}

/**
 * The job task security group accepts SSH only from security-group references (the manager's group): no CIDR, no
 * prefix list, and not from itself (that would let one job's task reach another job's sshd).
 */
export const taskSshFromSecurityGroupsOnly: StackValidationPolicy = {
  name: "task-security-group-ssh-from-security-groups-only",
  description:
    "The job task security group (Pulumi name <runner>-task-sg, or tag gitlab-fargate-runner:role=job-task) accepts SSH only from other security groups, never from CIDR blocks, prefix lists or itself.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const taskGroups = args.resources.filter(isJobTaskSecurityGroup);
    if (taskGroups.length === 0) {
      return args.notApplicable("No job task security group in this stack");
    }
    for (const group of taskGroups) {
      for (const { label, ingress } of ingressOf(group, args.resources)) {
        if (!coversSsh(ingress)) {
          continue;
        }
        const sources = [...ingress.cidrs, ...ingress.prefixLists];
        const target = `job task security group "${group.name}"`;
        if (sources.length > 0) {
          reportViolation(
            `${label} lets SSH into the ${target} from ${sources.join(", ")} (${ingress.where}). ` +
              "Fix: allow TCP 22 only from the runner manager's security group (a security group reference).",
            group.urn,
          );
        }
        if (ingress.self) {
          reportViolation(
            `${label} lets job tasks SSH into each other through the ${target} (self = true, ${ingress.where}). ` +
              "Fix: remove self and allow TCP 22 only from the runner manager's security group.",
            group.urn,
          );
        }
      }
    }
  },
};

export const networkPolicies = { resource: [noWorldSsh], stack: [taskSshFromSecurityGroupsOnly] };
