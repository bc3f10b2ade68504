import { SECURITY_GROUP_ID, SUBNET_ID } from "../../driver/settings";
import { refuse } from "../checks";

/** VPC ids: `vpc-` and 8 or 17 lowercase hex digits, the only shapes AWS issues (like the driver's rules below). */
const VPC_ID = /^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** AWS ids the component and registerRunner accept; subnets and security groups by the driver's own rules. */
const AWS_IDS = {
  vpc: { pattern: VPC_ID, name: "VPC id (vpc- and 8 or 17 lowercase hex digits)" },
  subnet: { pattern: SUBNET_ID, name: "subnet id (subnet- and 8 or 17 lowercase hex digits)" },
  securityGroup: { pattern: SECURITY_GROUP_ID, name: "security group id (sg- and 8 or 17 lowercase hex digits)" },
} as const;

/** Checks one AWS id with the rule every job's driver applies, so a deploy never accepts ids every job refuses. */
export function checkAwsId(argument: string, kind: keyof typeof AWS_IDS, id: unknown): string {
  const rule = AWS_IDS[kind];
  if (typeof id !== "string" || !rule.pattern.test(id)) refuse(argument, `${JSON.stringify(id)} is not a ${rule.name}`);
  return id;
}
