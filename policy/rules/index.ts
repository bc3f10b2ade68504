import { Policies, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { computePolicies } from "./compute";
import { ecsPolicies } from "./ecs";
import { iamPolicies } from "./iam";
import { networkPolicies } from "./network";
import { storagePolicies } from "./storage";

const groups = [networkPolicies, computePolicies, storagePolicies, iamPolicies, ecsPolicies];

/** Policies that look at one resource at a time (run on every resource's inputs). */
export const resourcePolicies: ResourceValidationPolicy[] = groups.flatMap((group) => group.resource);

/** Policies that correlate resources (run once over the whole stack's outputs). */
export const stackPolicies: StackValidationPolicy[] = groups.flatMap((group) => group.stack);

/** Every policy of the pack. */
export const policies: Policies = [...resourcePolicies, ...stackPolicies];
