import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { ResolvedArgs } from "./validation";

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

/** Creates the VPC (awsx, with NAT gateways on Elastic IPs we own) or adopts the caller's network. */
export function createNetwork(args: ResolvedArgs, parent: pulumi.Resource): Network {
  const { name, tags } = args;
  const { existing, taskPlacement } = args.network;
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

  const azCount = args.network.availabilityZoneCount;
  const natCount = taskPlacement === "public" ? 0 : args.network.natGateways === "onePerAz" ? azCount : 1;
  // The NAT gateways' Elastic IPs are created here rather than inside the VPC component so that their addresses
  // are known outputs: GitLab instances that allow-list IPs need them.
  const natEips = Array.from(
    { length: natCount },
    (_, i) =>
      new aws.ec2.Eip(
        `${name}-nat-eip-${i + 1}`,
        { domain: "vpc", tags: { ...tags, Name: `${name}-nat-${i + 1}` } },
        {
          parent,
        },
      ),
  );
  const vpc = new awsx.ec2.Vpc(
    `${name}-vpc`,
    {
      cidrBlock: args.network.cidrBlock,
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

export interface SecurityGroups {
  manager: aws.ec2.SecurityGroup;
  task: aws.ec2.SecurityGroup;
  /** The manager group's rules: what the manager needs to boot, be reached by the deployer and reach GitLab. */
  managerRules: pulumi.Resource[];
  /** The task group's rules: what a job task needs to be reached over SSH and reach GitLab. */
  taskRules: pulumi.Resource[];
}

/**
 * Manager SG: SSH in only from the admin CIDR blocks; out to the web (GitLab, AWS APIs, packages) and SSH to
 * tasks. Task SG: SSH in only from the manager SG (a group reference, never a CIDR); out on the task egress
 * ports. Traffic needed: see docs of gitlab-runner on Fargate (manager → GitLab 443, task → GitLab 443, manager →
 * task 22). DNS to the VPC resolver is not filtered by security groups.
 */
export function createSecurityGroups(
  args: ResolvedArgs,
  vpcId: pulumi.Output<string>,
  parent: pulumi.Resource,
): SecurityGroups {
  const { name, tags } = args;
  const opts = { parent };
  const manager = new aws.ec2.SecurityGroup(
    `${name}-manager-sg`,
    { vpcId, description: `GitLab runner manager ${name}`, tags: { ...tags, Name: `${name}-manager` } },
    opts,
  );
  const task = new aws.ec2.SecurityGroup(
    `${name}-task-sg`,
    {
      vpcId,
      description: `GitLab CI job tasks of ${name}`,
      tags: { ...tags, Name: `${name}-task`, "gitlab-fargate-runner:role": "job-task" },
    },
    opts,
  );

  const managerRules: pulumi.Resource[] = args.admin.sshCidrBlocks.map((cidr, i) => {
    const ipv6 = cidr.includes(":");
    return new aws.vpc.SecurityGroupIngressRule(
      `${name}-manager-ssh-in-${i + 1}`,
      {
        securityGroupId: manager.id,
        description: "SSH from administrators and the deployer",
        ipProtocol: "tcp",
        fromPort: 22,
        toPort: 22,
        ...(ipv6 ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
        tags,
      },
      opts,
    );
  });
  // Ubuntu's package mirrors are plain HTTP; everything else (GitLab, AWS APIs, packages.gitlab.com) is HTTPS.
  const managerPorts = [...new Set([80, 443, args.gitlab.port])];
  managerRules.push(...allowTcpOut(`${name}-manager`, manager, managerPorts, tags, opts));
  const managerToTasks = new aws.vpc.SecurityGroupEgressRule(
    `${name}-manager-ssh-to-tasks`,
    {
      securityGroupId: manager.id,
      description: "SSH to job tasks",
      ipProtocol: "tcp",
      fromPort: 22,
      toPort: 22,
      referencedSecurityGroupId: task.id,
      tags,
    },
    opts,
  );

  managerRules.push(managerToTasks);

  const taskFromManager = new aws.vpc.SecurityGroupIngressRule(
    `${name}-task-ssh-from-manager`,
    {
      securityGroupId: task.id,
      description: "SSH from the runner manager only",
      ipProtocol: "tcp",
      fromPort: 22,
      toPort: 22,
      referencedSecurityGroupId: manager.id,
      tags,
    },
    opts,
  );
  const taskRules = [taskFromManager, ...allowTcpOut(`${name}-task`, task, args.network.taskEgressPorts, tags, opts)];
  return { manager, task, managerRules, taskRules };
}

/** Egress rules `<prefix>-out-<port>`: TCP to anywhere on each port. */
function allowTcpOut(
  prefix: string,
  group: aws.ec2.SecurityGroup,
  ports: number[],
  tags: Record<string, string>,
  opts: pulumi.CustomResourceOptions,
): aws.vpc.SecurityGroupEgressRule[] {
  return ports.map(
    (port) =>
      new aws.vpc.SecurityGroupEgressRule(
        `${prefix}-out-${port}`,
        {
          securityGroupId: group.id,
          description: `TCP ${port} out`,
          ipProtocol: "tcp",
          fromPort: port,
          toPort: port,
          cidrIpv4: "0.0.0.0/0",
          tags,
        },
        opts,
      ),
  );
}
