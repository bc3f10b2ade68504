import { AwsIdKind, awsIdProblem } from "../../driver/contract/awsRules";
import { refuse } from "../checks";

/**
 * Checks one AWS id (a subnet, security group or VPC) with the rule every job's driver applies
 * (driver/contract/awsRules.ts), so a deploy never accepts ids every job then refuses.
 */
export function checkAwsId(argument: string, kind: AwsIdKind, id: unknown): string {
  // A value that is not a string fails the pattern too, and the message shows it as given.
  const problem = awsIdProblem(kind, id as string);
  if (problem !== undefined) refuse(argument, problem);
  return id as string;
}
