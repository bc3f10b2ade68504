import * as aws from "@pulumi/aws";
import { Scope } from "./scope";

export interface JobCluster {
  cluster: aws.ecs.Cluster;
  capacityProviders: aws.ecs.ClusterCapacityProviders;
}

/** Where the cluster places job tasks. */
export interface JobClusterArgs {
  /** The default capacity provider. */
  capacityProvider: "FARGATE" | "FARGATE_SPOT";
  /** With `FARGATE_SPOT`: the first N tasks run on on-demand FARGATE. */
  onDemandBase: number;
}

/**
 * The default capacity provider strategy: RunTask calls that name no launch type use it. Without one, ECS answers
 * "No Container Instances were found in your cluster". Pure.
 */
function defaultCapacityProviderStrategy(args: JobClusterArgs) {
  if (args.capacityProvider === "FARGATE") return [{ capacityProvider: "FARGATE", weight: 1, base: 0 }];
  const strategy = [{ capacityProvider: "FARGATE_SPOT", weight: 1, base: 0 }];
  // Only the first `onDemandBase` tasks go to on-demand FARGATE (weight 0: nothing beyond the base).
  if (args.onDemandBase > 0) strategy.push({ capacityProvider: "FARGATE", weight: 0, base: args.onDemandBase });
  return strategy;
}

/** The ECS cluster job tasks run in, with FARGATE and FARGATE_SPOT and a default capacity provider strategy. */
export function createJobCluster({ name, tags, parent }: Scope, args: JobClusterArgs): JobCluster {
  const cluster = new aws.ecs.Cluster(
    `${name}-cluster`,
    { settings: [{ name: "containerInsights", value: "disabled" }], tags },
    { parent },
  );
  const capacityProviders = new aws.ecs.ClusterCapacityProviders(
    `${name}-capacity-providers`,
    {
      clusterName: cluster.name,
      capacityProviders: ["FARGATE", "FARGATE_SPOT"],
      defaultCapacityProviderStrategies: defaultCapacityProviderStrategy(args),
    },
    { parent },
  );
  return { cluster, capacityProviders };
}
