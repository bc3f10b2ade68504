import * as aws from "@pulumi/aws";
import {
  PolicyResource,
  ReportViolation,
  ResourceValidationPolicy,
  StackValidationPolicy,
  validateResourceOfType,
} from "@pulumi/policy";
import { NOT_KNOWN_YET, readKnown, refersTo, resourceLabel, stringsOf } from "./common";

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

/**
 * The shortest prefix lengths of a CIDR block that may be open to SSH (the one place this pack keeps them). A /8 is
 * already 16.7 million IPv4 addresses and a /32 a whole IPv6 provider allocation (RIRs allocate /32 to LIRs); anything
 * wider is the internet for this purpose, so 0.0.0.0/0 split into 0.0.0.0/1 + 128.0.0.0/1 is refused like /0.
 * components/validation.ts refuses admin.sshCidrBlocks by the same numbers; the pack is published on its own, so it
 * cannot import them from there.
 */
export const MIN_SSH_PREFIX_LENGTH = { ipv4: 8, ipv6: 32 } as const;

/** How messages state {@link MIN_SSH_PREFIX_LENGTH}. */
const MIN_SSH_PREFIX_TEXT = `/${MIN_SSH_PREFIX_LENGTH.ipv4} (IPv4) or /${MIN_SSH_PREFIX_LENGTH.ipv6} (IPv6)`;

/** Whether `cidr` is wider than {@link MIN_SSH_PREFIX_LENGTH} allows for its family; a block without a prefix length counts. */
export function isTooWideCidr(cidr: string): boolean {
  const [address, prefix = ""] = cidr.trim().split("/");
  const minimum = address.includes(":") ? MIN_SSH_PREFIX_LENGTH.ipv6 : MIN_SSH_PREFIX_LENGTH.ipv4;
  return !/^\d{1,3}$/.test(prefix) || Number(prefix) < minimum;
}

/** The property names one resource shape uses for an inbound permission. */
interface IngressKeys {
  protocol: string;
  cidrs: string[];
  prefixLists: string[];
  securityGroups: string[];
  self?: string;
}

/**
 * One inbound permission read from `block` (resource props or an inline block), through the engine's proxy. Undefined
 * when its protocol or ports are not known yet (preview): what it lets in cannot be told. An unknown source is left
 * out (it is not known to be bad).
 */
function ingressFrom(where: string, block: unknown, keys: IngressKeys): Ingress | undefined {
  const [protocol, fromPort, toPort] = [keys.protocol, "fromPort", "toPort"].map((key) => readKnown(block, key));
  if ([protocol, fromPort, toPort].includes(NOT_KNOWN_YET)) {
    return undefined;
  }
  const strings = (names: string[]) => names.flatMap((name) => stringsOf(readKnown(block, name)));
  return {
    where,
    protocol: String(protocol ?? ""),
    fromPort: typeof fromPort === "number" ? fromPort : undefined,
    toPort: typeof toPort === "number" ? toPort : undefined,
    cidrs: strings(keys.cidrs),
    prefixLists: strings(keys.prefixLists),
    securityGroups: strings(keys.securityGroups),
    self: keys.self !== undefined && readKnown(block, keys.self) === true,
  };
}

const defined = <T>(value: T | undefined): value is T => value !== undefined;

/** Inline `ingress` blocks of an aws.ec2.SecurityGroup or aws.ec2.DefaultSecurityGroup (none while unknown). */
export function inlineIngress(props: unknown): Ingress[] {
  const blocks = readKnown(props, "ingress");
  if (!Array.isArray(blocks)) {
    return [];
  }
  return blocks
    .map((block, index) =>
      ingressFrom(`ingress[${index}]`, block, {
        protocol: "protocol",
        cidrs: ["cidrBlocks", "ipv6CidrBlocks"],
        prefixLists: ["prefixListIds"],
        securityGroups: ["securityGroups"],
        self: "self",
      }),
    )
    .filter(defined);
}

/** An aws.ec2.SecurityGroupRule of type "ingress" (egress rules yield nothing). */
export function securityGroupRuleIngress(props: unknown): Ingress[] {
  if (readKnown(props, "type") !== "ingress") {
    return [];
  }
  const ingress = ingressFrom("this rule", props, {
    protocol: "protocol",
    cidrs: ["cidrBlocks", "ipv6CidrBlocks"],
    prefixLists: ["prefixListIds"],
    securityGroups: ["sourceSecurityGroupId"],
    self: "self",
  });
  return [ingress].filter(defined);
}

/** An aws.vpc.SecurityGroupIngressRule (one source per rule). */
export function vpcIngressRule(props: unknown): Ingress[] {
  const ingress = ingressFrom("this rule", props, {
    protocol: "ipProtocol",
    cidrs: ["cidrIpv4", "cidrIpv6"],
    prefixLists: ["prefixListId"],
    securityGroups: ["referencedSecurityGroupId"],
  });
  return [ingress].filter(defined);
}

/**
 * Reports SSH (or all traffic) open to a CIDR block wider than {@link MIN_SSH_PREFIX_LENGTH}, or to a prefix list: its
 * entries live outside the stack and can change at any time, so the pack cannot verify them.
 */
function reportWorldOpen(label: string, ingresses: Ingress[], reportViolation: ReportViolation): void {
  for (const ingress of ingresses.filter(coversSsh)) {
    const [opens, fix] = isAllTraffic(ingress)
      ? ["allows all traffic from", "Fix: allow only the ports needed, from specific CIDR blocks or security groups."]
      : [
          `opens TCP ${SSH_PORT} (SSH) to`,
          "Fix: allow SSH only from your admin network CIDRs (admin.sshCidrBlocks) or from a security group reference.",
        ];
    for (const cidr of ingress.cidrs.filter(isTooWideCidr)) {
      reportViolation(
        `${label} ${opens} ${cidr} (${ingress.where}), wider than ${MIN_SSH_PREFIX_TEXT}, the widest blocks ` +
          `the pack allows. ${fix}`,
      );
    }
    for (const prefixList of ingress.prefixLists) {
      reportViolation(
        `${label} ${opens} prefix list ${prefixList} (${ingress.where}), whose entries the pack cannot verify. ${fix}`,
      );
    }
  }
}

/** No security group or rule opens SSH (or all traffic) to the internet, to wide blocks or to prefix lists. */
export const noWorldSsh: ResourceValidationPolicy = {
  name: "security-group-no-world-ssh",
  description: `No security group (default ones included) or ingress rule opens TCP 22, or all traffic, to a CIDR block wider than ${MIN_SSH_PREFIX_TEXT} (0.0.0.0/0, ::/0, or the internet in halves such as 0.0.0.0/1) or to a prefix list.`,
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(aws.ec2.SecurityGroup, (sg, args, reportViolation) =>
      reportWorldOpen(resourceLabel(args.type, args.name), inlineIngress(sg), reportViolation),
    ),
    validateResourceOfType(aws.ec2.DefaultSecurityGroup, (sg, args, reportViolation) =>
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
/** The job task security group: an aws.ec2.SecurityGroup tagged `gitlab-fargate-runner:role = job-task`. */
export function isJobTaskSecurityGroup(resource: PolicyResource): boolean {
  if (!resource.isType(aws.ec2.SecurityGroup)) {
    return false;
  }
  const tags = readKnown(resource.props, "tags");
  return tags !== null && typeof tags === "object" && (tags as Record<string, unknown>)[ROLE_TAG] === JOB_TASK_ROLE;
}

/**
 * Every inbound permission of `group` that is known: inline blocks and the separate rule resources that target it
 * (found by property dependency first, so in preview too). A rule whose source is the group itself counts as `self`,
 * however it is written. Values the engine does not know yet (preview) are left out: they are not known to be bad.
 */
function ingressOf(group: PolicyResource, resources: PolicyResource[]): { label: string; ingress: Ingress }[] {
  const groupId = readKnown(group.props, "id");
  const found = inlineIngress(group.props).map((ingress) => ({
    label: resourceLabel(group.type, group.name),
    ingress: { ...ingress, self: ingress.self || ingress.securityGroups.some((source) => source === groupId) },
  }));
  for (const resource of resources) {
    const shape = resource.isType(aws.ec2.SecurityGroupRule)
      ? { read: securityGroupRuleIngress, sourceProperty: "sourceSecurityGroupId" }
      : resource.isType(aws.vpc.SecurityGroupIngressRule)
        ? { read: vpcIngressRule, sourceProperty: "referencedSecurityGroupId" }
        : undefined;
    if (!shape || !refersTo(resource, "securityGroupId", group, [])) {
      continue;
    }
    const ingresses = shape.read(resource.props);
    const sourceProperty = shape.sourceProperty;
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
    "The job task security group (tag gitlab-fargate-runner:role=job-task) accepts SSH only from other security groups, never from CIDR blocks, prefix lists or itself.",
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
