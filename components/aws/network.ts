import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import type { ExistingNetworkArgs, TaskPlacement } from "../args";
import { Scope } from "./scope";

export interface Network {
  vpcId: pulumi.Output<string>;
  publicSubnetIds: pulumi.Output<string[]>;
  /** Empty when tasks run in public subnets of a VPC this component creates. */
  privateSubnetIds: pulumi.Output<string[]>;
  /** Where job tasks run: the private subnets, or the public ones with `taskPlacement: "public"`. */
  taskSubnetIds: pulumi.Output<string[]>;
  /** Public IPs of the NAT gateways this component created (none with an existing VPC or public tasks). */
  natPublicIps: pulumi.Output<string[]>;
}

/** What {@link createNetwork} builds, or the caller's network it adopts. */
export interface NetworkArgs {
  /** The caller's VPC and subnets (validated); when given, nothing is created. */
  existing?: ExistingNetworkArgs;
  /** CIDR block of a new VPC. */
  cidrBlock: string;
  availabilityZoneCount: number;
  natGateways: "single" | "onePerAz";
  /** `public`: tasks in public subnets, no private subnets and no NAT gateway. */
  taskPlacement: TaskPlacement;
}

/** Creates the VPC (awsx, with NAT gateways on Elastic IPs we own) or adopts the caller's network. */
export function createNetwork({ name, tags, parent }: Scope, args: NetworkArgs): Network {
  const { existing, taskPlacement } = args;
  if (existing) {
    const publicSubnetIds = pulumi.output(existing.publicSubnetIds);
    const privateSubnetIds = pulumi.output(existing.privateSubnetIds ?? []);
    return {
      vpcId: pulumi.output(existing.vpcId),
      publicSubnetIds,
      privateSubnetIds,
      taskSubnetIds: taskPlacement === "public" ? publicSubnetIds : privateSubnetIds,
      natPublicIps: pulumi.output([]),
    };
  }

  const azCount = args.availabilityZoneCount;
  const natCount = taskPlacement === "public" ? 0 : args.natGateways === "onePerAz" ? azCount : 1;
  // The NAT gateways' Elastic IPs are created here rather than inside the VPC component so that their addresses
  // are known outputs: GitLab instances that allow-list IPs need them.
  const natEips = Array.from(
    { length: natCount },
    (_, i) =>
      new aws.ec2.Eip(
        `${name}-nat-eip-${i + 1}`,
        { domain: "vpc", tags: { ...tags, Name: `${name}-nat-${i + 1}` } },
        { parent },
      ),
  );
  const vpc = new awsx.ec2.Vpc(
    `${name}-vpc`,
    {
      cidrBlock: args.cidrBlock,
      numberOfAvailabilityZones: azCount,
      enableDnsHostnames: true,
      subnetSpecs: taskPlacement === "public" ? [{ type: "Public" }] : [{ type: "Public" }, { type: "Private" }],
      natGateways:
        natCount === 0
          ? { strategy: "None" }
          : {
              strategy: natCount === 1 ? "Single" : "OnePerAz",
              elasticIpAllocationIds: natEips.map((eip) => eip.allocationId),
            },
      tags: { ...tags, Name: name },
    },
    { parent },
  );
  return {
    vpcId: vpc.vpcId,
    publicSubnetIds: vpc.publicSubnetIds,
    privateSubnetIds: taskPlacement === "public" ? pulumi.output([]) : vpc.privateSubnetIds,
    taskSubnetIds: taskPlacement === "public" ? vpc.publicSubnetIds : vpc.privateSubnetIds,
    natPublicIps: pulumi.all(natEips.map((eip) => eip.publicIp)),
  };
}
