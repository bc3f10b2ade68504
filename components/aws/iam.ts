import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { imageTaskFamilyPattern } from "../../driver/contract/imageTasks";
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
 * What ECS needs to read private registries' credentials: GetSecretValue on exactly these secrets, and kms:Decrypt
 * (for a secret under a customer managed key) only when Secrets Manager asks KMS for one of them. Nothing for SSM:
 * `repositoryCredentials` takes only a Secrets Manager secret. The KMS key lives with its secret, so each KMS grant
 * names the account and region of its secrets' ARNs (validated: full secret ARNs, no wildcard): one statement per
 * account and region, so a secret is decrypted only through Secrets Manager in its own region.
 */
function registryCredentialsStatements(secretArns: string[]): Statement[] {
  const arns = [...new Set(secretArns)].sort();
  const byPlace = new Map<string, string[]>();
  for (const secretArn of arns) {
    const place = secretArn.split(":").slice(1, 5).join(":");
    byPlace.set(place, [...(byPlace.get(place) ?? []), secretArn]);
  }
  const decrypt = [...byPlace].map(([place, secrets], index): Statement => {
    const [partition, , region, account] = place.split(":");
    return {
      Sid: `DecryptSecrets${index === 0 ? "" : index + 1}`,
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: `arn:${partition}:kms:${region}:${account}:key/*`,
      Condition: {
        StringEquals: {
          "kms:ViaService": `secretsmanager.${region}.amazonaws.com`,
          // Secrets Manager's encryption context names the secret: the key decrypts these secrets and no other.
          "kms:EncryptionContext:SecretARN": secrets,
        },
      },
    };
  });
  return [
    { Sid: "ReadSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: arns },
    ...decrypt,
  ];
}

export interface TaskRoles {
  execution: aws.iam.Role;
  task: aws.iam.Role;
}

/** What the job roles may do beyond the basics. */
export interface TaskRolesArgs {
  /**
   * The private registry credentials secrets the execution role may read: the job image's
   * (`jobs.image.credentialsSecretArn`) and those of jobs' images and services (`jobs.registryCredentials`).
   */
  registrySecretArns: pulumi.Input<string>[];
  /** Policies attached to the task role (`jobs.taskRolePolicyArns`). */
  taskRolePolicyArns: pulumi.Input<string>[];
}

/**
 * The task execution role (ECS pulls the image, writes logs, reads registry credentials) and the task role (what a
 * job may do in AWS: nothing unless `jobs.taskRolePolicyArns`).
 */
export function createTaskRoles({ name, tags, parent }: Scope, ctx: AwsContext, args: TaskRolesArgs): TaskRoles {
  const { registrySecretArns } = args;
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
  // Only with registry credentials may the execution role read a secret, and then only those (the manager can
  // pass this role to any task it starts, so a broader grant would be every job's).
  if (registrySecretArns.length > 0) {
    const policy = pulumi.all(registrySecretArns).apply((arns) => policyJson(registryCredentialsStatements(arns)));
    new aws.iam.RolePolicy(`${name}-execution-secrets`, { role: execution.id, policy }, opts);
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
  /** The job task definition's family (`jobs.family`). */
  family: string;
  /**
   * Jobs may choose their image or services (`jobs.allowedImages` / `allowedServices` not both empty), so the driver
   * registers and runs task definitions in the image families of {@link ManagerPolicyInputs.family}.
   */
  imageTasks: boolean;
  roles: TaskRoles;
  cacheBucketArn?: pulumi.Output<string>;
}

/**
 * What the driver needs for jobs with their own image or services: register task definitions in this runner's image
 * families (`<family>-image-<hash>`) and read task definitions (the configured one it copies, and whether an image
 * family is registered already). What AWS allows (Service Authorization Reference, Amazon ECS):
 * - `ecs:RegisterTaskDefinition` takes the `task-definition` resource type (required), ARN
 *   `task-definition/<family>:<revision>`, and the condition keys aws:RequestTag, aws:ResourceTag, aws:TagKeys,
 *   ecs:compute-compatibility, ecs:privileged, ecs:task-cpu and ecs:task-memory. The resource is the image families'
 *   pattern without a `:revision` part, so it matches whether ECS authorises the family or the new revision.
 *   ecs:compute-compatibility must be exactly FARGATE (present, and no other value): the driver copies
 *   requiresCompatibilities from the configured task definition, which is FARGATE only, and a Fargate task
 *   definition cannot hold a privileged container (so ecs:privileged adds nothing). Task size is not pinned: RunTask
 *   may override it anyway (`jobs.maxTaskSize`). Its dependent actions: iam:PassRole for the task definition's roles
 *   (iam:PassedToService = ecs-tasks.amazonaws.com), granted by the PassJobRoles statement for the two job roles
 *   only; ecs:TagResource only when the request carries tags, which the driver's does not, so it is not granted.
 * - `ecs:DescribeTaskDefinition` takes no resource type and no condition key: AWS allows it only on Resource "*".
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
 */
function imageTaskStatements(ctx: AwsContext, family: string): Statement[] {
  return [
    {
      Sid: "RegisterImageTaskDefinitions",
      Effect: "Allow",
      Action: ["ecs:RegisterTaskDefinition"],
      Resource: arn(ctx, "ecs", `task-definition/${imageTaskFamilyPattern(family)}`),
      Condition: {
        "ForAllValues:StringEquals": { "ecs:compute-compatibility": ["FARGATE"] },
        Null: { "ecs:compute-compatibility": "false" },
      },
    },
    {
      Sid: "ReadTaskDefinitions",
      Effect: "Allow",
      Action: ["ecs:DescribeTaskDefinition"],
      Resource: "*",
    },
  ];
}

/** The manager's permissions: exactly what the driver and the S3 cache need, nothing else. Pure. */
function managerStatements(ctx: AwsContext, p: ManagerPolicyInputs): Statement[] {
  const onThisCluster = { ArnEquals: { "ecs:cluster": p.clusterArn } };
  const tasksOfCluster = arn(ctx, "ecs", pulumi.interpolate`task/${p.clusterName}/*`);
  const families = [p.family, ...(p.imageTasks ? [imageTaskFamilyPattern(p.family)] : [])];
  const statements: Statement[] = [
    {
      Sid: "RunJobTasks",
      Effect: "Allow",
      Action: ["ecs:RunTask"],
      Resource: families.map((family) => arn(ctx, "ecs", `task-definition/${family}:*`)),
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
      // RunTask passes the task definition's roles, and so does RegisterTaskDefinition (image tasks): both only these.
      Sid: "PassJobRoles",
      Effect: "Allow",
      Action: ["iam:PassRole"],
      Resource: [p.roles.execution.arn, p.roles.task.arn],
      Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
    },
    ...(p.imageTasks ? imageTaskStatements(ctx, p.family) : []),
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
