import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Scope } from "./scope";

/** Where the stack deploys: the pieces of every ARN we write. */
export interface AwsContext {
  partition: pulumi.Output<string>;
  region: pulumi.Output<string>;
  accountId: pulumi.Output<string>;
}

/** Every policy in this package is plain JSON built with pulumi.jsonStringify. */
interface Statement {
  Sid: string;
  Effect: "Allow";
  Action: string[];
  Resource: pulumi.Input<string> | pulumi.Input<string>[];
  Condition?: Record<string, Record<string, pulumi.Input<string> | pulumi.Input<string>[]>>;
}

function policyJson(statements: Statement[]): pulumi.Output<string> {
  return pulumi.jsonStringify({ Version: "2012-10-17", Statement: statements });
}

function assumedBy(service: string, ctx: AwsContext): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: service },
        Action: "sts:AssumeRole",
        // Confused-deputy guard: only this account's use of the service may assume the role.
        Condition: { StringEquals: { "aws:SourceAccount": ctx.accountId } },
      },
    ],
  });
}

function arn(ctx: AwsContext, service: string, resource: pulumi.Input<string>) {
  return pulumi.interpolate`arn:${ctx.partition}:${service}:${ctx.region}:${ctx.accountId}:${resource}`;
}

/**
 * What ECS needs to read a private registry's credentials: GetSecretValue on that one secret, and kms:Decrypt (for a
 * secret under a customer managed key) only when Secrets Manager asks KMS for that secret. Nothing for SSM:
 * `repositoryCredentials` takes only a Secrets Manager secret. Pure. The KMS key lives with the secret, so its
 * account and region come from the secret's ARN (validated: one full secret ARN, no wildcard).
 */
function registryCredentialsStatements(secretArn: pulumi.Output<string>): Statement[] {
  const [partition, region, account] = [1, 3, 4].map((i) => secretArn.apply((value) => value.split(":")[i]));
  return [
    {
      Sid: "ReadSecrets",
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: secretArn,
    },
    {
      Sid: "DecryptSecrets",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: pulumi.interpolate`arn:${partition}:kms:${region}:${account}:key/*`,
      Condition: {
        StringEquals: {
          "kms:ViaService": pulumi.interpolate`secretsmanager.${region}.amazonaws.com`,
          // Secrets Manager's encryption context names the secret: the key decrypts this secret and no other.
          "kms:EncryptionContext:SecretARN": secretArn,
        },
      },
    },
  ];
}

export interface TaskRoles {
  execution: aws.iam.Role;
  task: aws.iam.Role;
}

/** What the job roles may do beyond the basics. */
export interface TaskRolesArgs {
  /** The private registry credentials secret the execution role may read, if any. */
  credentialsSecretArn?: pulumi.Output<string>;
  /** Policies attached to the task role (`jobs.taskRolePolicyArns`). */
  taskRolePolicyArns: pulumi.Input<string>[];
}

/**
 * The task execution role (ECS pulls the image, writes logs, reads registry credentials) and the task role (what a
 * job may do in AWS: nothing unless `jobs.taskRolePolicyArns`).
 */
export function createTaskRoles({ name, tags, parent }: Scope, ctx: AwsContext, args: TaskRolesArgs): TaskRoles {
  const { credentialsSecretArn } = args;
  const opts = { parent };
  const execution = new aws.iam.Role(
    `${name}-execution-role`,
    {
      description: `ECS task execution role of GitLab runner ${name}`,
      assumeRolePolicy: assumedBy("ecs-tasks.amazonaws.com", ctx),
      tags,
    },
    opts,
  );
  new aws.iam.RolePolicyAttachment(
    `${name}-execution-managed`,
    {
      role: execution.name,
      policyArn: pulumi.interpolate`arn:${ctx.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`,
    },
    opts,
  );
  // Only with registry credentials may the execution role read a secret, and then only that one (the manager can
  // pass this role to any task it starts, so a broader grant would be every job's).
  if (credentialsSecretArn !== undefined) {
    new aws.iam.RolePolicy(
      `${name}-execution-secrets`,
      { role: execution.id, policy: policyJson(registryCredentialsStatements(credentialsSecretArn)) },
      opts,
    );
  }

  const task = new aws.iam.Role(
    `${name}-task-role`,
    {
      description: `Role of GitLab CI job tasks of ${name}`,
      assumeRolePolicy: assumedBy("ecs-tasks.amazonaws.com", ctx),
      tags,
    },
    opts,
  );
  args.taskRolePolicyArns.forEach(
    (policyArn, i) =>
      new aws.iam.RolePolicyAttachment(`${name}-task-policy-${i + 1}`, { role: task.name, policyArn }, opts),
  );
  return { execution, task };
}

export interface ManagerPolicyInputs {
  clusterName: pulumi.Output<string>;
  clusterArn: pulumi.Output<string>;
  family: string;
  roles: TaskRoles;
  cacheBucketArn?: pulumi.Output<string>;
}

/** The manager's permissions: exactly what the driver and the S3 cache need, nothing else. Pure. */
function managerStatements(ctx: AwsContext, p: ManagerPolicyInputs): Statement[] {
  const onThisCluster = { ArnEquals: { "ecs:cluster": p.clusterArn } };
  const tasksOfCluster = arn(ctx, "ecs", pulumi.interpolate`task/${p.clusterName}/*`);
  const statements: Statement[] = [
    {
      Sid: "RunJobTasks",
      Effect: "Allow",
      Action: ["ecs:RunTask"],
      Resource: arn(ctx, "ecs", `task-definition/${p.family}:*`),
      Condition: onThisCluster,
    },
    {
      Sid: "WatchAndStopJobTasks",
      Effect: "Allow",
      Action: ["ecs:DescribeTasks", "ecs:StopTask"],
      Resource: tasksOfCluster,
      Condition: onThisCluster,
    },
    {
      // ListTasks is authorised against container-instance ARNs (the service authorization reference).
      Sid: "FindOrphanedJobTasks",
      Effect: "Allow",
      Action: ["ecs:ListTasks"],
      Resource: arn(ctx, "ecs", pulumi.interpolate`container-instance/${p.clusterName}/*`),
      Condition: onThisCluster,
    },
    {
      Sid: "TagTasksAtLaunch",
      Effect: "Allow",
      Action: ["ecs:TagResource"],
      Resource: tasksOfCluster,
      Condition: { StringEquals: { "ecs:CreateAction": "RunTask" } },
    },
    {
      Sid: "PassJobRoles",
      Effect: "Allow",
      Action: ["iam:PassRole"],
      Resource: [p.roles.execution.arn, p.roles.task.arn],
      Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
    },
  ];
  // No ec2:DescribeNetworkInterfaces (an action EC2 allows only on Resource "*"): the driver always connects to the
  // task's private IP, also with public tasks (see GitLabFargateRunner.connectToTaskPublicIp).
  if (p.cacheBucketArn) {
    statements.push({
      Sid: "UseCacheBucket",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"],
      Resource: pulumi.interpolate`${p.cacheBucketArn}/*`,
    });
  }
  return statements;
}

export interface ManagerIdentity {
  role: aws.iam.Role;
  policy: aws.iam.RolePolicy;
  instanceProfile: aws.iam.InstanceProfile;
}

/** The manager's role, its one inline policy and the instance profile. */
export function createManagerIdentity(
  { name, tags, parent }: Scope,
  ctx: AwsContext,
  needs: ManagerPolicyInputs,
): ManagerIdentity {
  const opts = { parent };
  const role = new aws.iam.Role(
    `${name}-manager-role`,
    {
      description: `GitLab runner manager ${name}: starts and stops its job tasks`,
      assumeRolePolicy: assumedBy("ec2.amazonaws.com", ctx),
      tags,
    },
    opts,
  );
  const policy = new aws.iam.RolePolicy(
    `${name}-manager-policy`,
    { role: role.id, policy: policyJson(managerStatements(ctx, needs)) },
    opts,
  );
  const instanceProfile = new aws.iam.InstanceProfile(`${name}-manager-profile`, { role: role.name, tags }, opts);
  return { role, policy, instanceProfile };
}
