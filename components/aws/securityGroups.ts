import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Scope } from "./scope";

export interface SecurityGroups {
  manager: aws.ec2.SecurityGroup;
  task: aws.ec2.SecurityGroup;
  /** The manager group's rules: what the manager needs to boot, be reached by the deployer and reach GitLab. */
  managerRules: pulumi.Resource[];
  /** The task group's rules: what a job task needs to be reached over SSH and reach GitLab. */
  taskRules: pulumi.Resource[];
}

/** What decides the security groups' rules. */
export interface SecurityGroupsArgs {
  vpcId: pulumi.Output<string>;
  /** Who may SSH to the manager (`admin.sshCidrBlocks`), IPv4 or IPv6 blocks. */
  adminCidrBlocks: string[];
  /** Port of the GitLab URL: the manager may reach it. */
  gitlabPort: number;
  /** TCP ports job tasks may open to anywhere. */
  taskEgressPorts: number[];
  /**
   * Managers may SSH to each other (a group reference to their own group): the deployment drains a replaced manager
   * at its private address by jumping through the Elastic IP its replacement holds by then. False when the
   * deployment jumps through a bastion of its own (`manager.sshProxy`).
   */
  managersJumpToManagers: boolean;
}

/**
 * Manager SG: SSH in only from the admin CIDR blocks (and from managers, for the drain jump); out to the web
 * (GitLab, AWS APIs, packages) and SSH to tasks (and to managers). Task SG: SSH in only from the manager SG (a group reference, never a CIDR); out on the task egress
 * ports. Traffic needed: see docs of gitlab-runner on Fargate (manager → GitLab 443, task → GitLab 443, manager →
 * task 22). DNS to the VPC resolver is not filtered by security groups.
 */
export function createSecurityGroups({ name, tags, parent }: Scope, args: SecurityGroupsArgs): SecurityGroups {
  const { vpcId } = args;
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

  const managerRules: pulumi.Resource[] = args.adminCidrBlocks.map((cidr, i) => {
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
  const managerPorts = [...new Set([80, 443, args.gitlabPort])];
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
  if (args.managersJumpToManagers) {
    const managerSsh = {
      securityGroupId: manager.id,
      ipProtocol: "tcp",
      fromPort: 22,
      toPort: 22,
      referencedSecurityGroupId: manager.id,
      tags,
    };
    const why = "the deployment drains a replaced manager through its replacement";
    managerRules.push(
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-manager-ssh-from-managers`,
        { ...managerSsh, description: `SSH from managers: ${why}` },
        opts,
      ),
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-manager-ssh-to-managers`,
        { ...managerSsh, description: `SSH to managers: ${why}` },
        opts,
      ),
    );
  }

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
  const taskRules = [taskFromManager, ...allowTcpOut(`${name}-task`, task, args.taskEgressPorts, tags, opts)];
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
