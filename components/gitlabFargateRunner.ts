import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { GitLabFargateRunnerArgs } from "./args";
import { createCacheBucket } from "./cache";
import { CONTAINER_NAME, createJobCluster, createJobTaskDefinition } from "./cluster";
import { AwsContext, createManagerIdentity, createTaskRoles } from "./iam";
import { createManager, MANAGER_SSH_USER } from "./manager";
import { GitLabRunner } from "./gitlabRunner";
import { createNetwork, createSecurityGroups } from "./network";
import { defaultDriverBundlePath, registerRunner, RunnerRegistration } from "./registration";
import { createJobImage } from "./registry";
import { resolveArgs, ResolvedArgs } from "./validation";

export const GITLAB_FARGATE_RUNNER_TYPE = "gitlab-fargate-runner:index:GitLabFargateRunner";

/** Component names in use, per Pulumi program (the resource monitor identifies one program run). */
const namesInUse = new WeakMap<object, Set<string>>();
const noMonitor = {};

function claimName(name: string) {
  const program = pulumi.runtime.getMonitor() ?? noMonitor;
  const names = namesInUse.get(program) ?? new Set<string>();
  namesInUse.set(program, names);
  // Child names are `${name}-<part>`: "a" and "a-cache" could produce the same child name.
  const clash = [...names].find(
    (other) => other === name || name.startsWith(`${other}-`) || other.startsWith(`${name}-`),
  );
  if (clash !== undefined) {
    throw new Error(
      `GitLabFargateRunner: invalid name: "${name}" collides with the runner "${clash}" already in this program; ` +
        `give each runner a distinct name that is not a prefix of another followed by "-"`,
    );
  }
  names.add(name);
}

/**
 * A GitLab runner manager on EC2 whose every CI job runs in its own AWS Fargate task.
 *
 * Creates (all children named `<name>-<part>`): a VPC with NAT (or uses yours), security groups, an ECR repository
 * and job image (or uses yours), an ECS cluster with FARGATE/FARGATE_SPOT capacity providers and a default
 * strategy, the job task definition and its log group, IAM roles, the manager instance with an Elastic IP, and the
 * S3 cache bucket.
 *
 * @see https://docs.gitlab.com/runner/configuration/runner_autoscale_aws_fargate/
 */
export class GitLabFargateRunner extends pulumi.ComponentResource {
  /** The VPC of the manager and the job tasks. */
  public readonly vpcId: pulumi.Output<string>;
  /** Public subnets (the manager runs in the first). */
  public readonly publicSubnetIds: pulumi.Output<string[]>;
  /** Private subnets (empty when a new VPC is created with `taskPlacement: "public"`). */
  public readonly privateSubnetIds: pulumi.Output<string[]>;
  /** The subnets RunTask places job tasks in (fargate.toml `Subnets`). */
  public readonly taskSubnetIds: pulumi.Output<string[]>;
  /** True when tasks get a public IP (`taskPlacement: "public"`; fargate.toml `EnablePublicIP`). */
  public readonly tasksUsePublicIp: boolean;
  /**
   * Always false: the driver must SSH to the task's private IP (fargate.toml `UsePublicIP = false`), also with public
   * tasks, because the task SG admits the manager's SG by reference and such a rule matches only traffic inside the
   * VPC; through a public IP the connection would time out.
   */
  public readonly connectToTaskPublicIp = false;
  /** The ECS cluster job tasks run in (fargate.toml `Cluster`). */
  public readonly clusterName: pulumi.Output<string>;
  /** ARN of that cluster (the manager's `ecs:cluster` condition). */
  public readonly clusterArn: pulumi.Output<string>;
  /** The AWS region everything runs in. */
  public readonly region: pulumi.Output<string>;
  /** ARN of the job task definition (with its revision). */
  public readonly taskDefinitionArn: pulumi.Output<string>;
  /** `family:revision` of the job task definition (fargate.toml `TaskDefinition`). */
  public readonly taskDefinition: pulumi.Output<string>;
  /** Family of the job task definition (`jobs.family`); the manager may run only this family. */
  public readonly taskDefinitionFamily: string;
  /** The name of the job container (fargate.toml `ContainerName`). */
  public readonly containerName: string;
  /** Fargate platform version for RunTask (`LATEST` unless set). */
  public readonly platformVersion: string;
  /** Security group of the job tasks: SSH in from the manager's group only. */
  public readonly taskSecurityGroupId: pulumi.Output<string>;
  /** Security group of the manager: SSH in from `admin.sshCidrBlocks` only. */
  public readonly managerSecurityGroupId: pulumi.Output<string>;
  /** The manager EC2 instance. */
  public readonly managerInstanceId: pulumi.Output<string>;
  /** The manager's Elastic IP: SSH target and its address towards GitLab. */
  public readonly managerPublicIp: pulumi.Output<string>;
  /** Login user on the manager. */
  public readonly managerSshUser: string;
  /** OpenSSH private key for `managerSshUser@managerPublicIp` (secret). */
  public readonly managerSshPrivateKey: pulumi.Output<string>;
  /** The manager's IAM role (instance profile): what the driver may do in AWS. */
  public readonly managerRoleArn: pulumi.Output<string>;
  /**
   * Every public IP GitLab sees from this runner: the manager's EIP and the NAT gateways' EIPs created here. Tasks
   * with public IPs (`taskPlacement: "public"`) and NATs of your own VPC are not included.
   */
  public readonly egressIps: pulumi.Output<string[]>;
  /** The job image reference the task definition uses. */
  public readonly imageUri: pulumi.Output<string>;
  /** The S3 cache bucket, or undefined when `cache.enabled` is false. */
  public readonly cacheBucketName: pulumi.Output<string | undefined>;
  /** The cache bucket's region, or undefined when the cache is off. */
  public readonly cacheBucketRegion: pulumi.Output<string | undefined>;
  /** CloudWatch log group of the job containers. */
  public readonly logGroupName: pulumi.Output<string>;
  /** The task execution role (image pull, logs, private registry credentials). */
  public readonly executionRoleArn: pulumi.Output<string>;
  /** The job tasks' own role: no permissions unless `jobs.taskRolePolicyArns` gives some. */
  public readonly taskRoleArn: pulumi.Output<string>;
  /**
   * What must exist before the runner takes a job (a `dependsOn` for the registration step): the capacity provider
   * strategy, the manager's permissions, the task definition and the task security group's rules.
   */
  public readonly jobInfrastructure: pulumi.Resource[];
  /** The runner the stack created in GitLab (`gitlab.createRunner`), or undefined when a token was given. */
  public readonly gitlabRunner?: GitLabRunner;
  /** GitLab's id of the runner created with `gitlab.createRunner`, or undefined when a token was given. */
  public readonly runnerId: pulumi.Output<number | undefined>;
  /** The commands that push the driver and the configuration to the manager and register the runner. */
  public readonly registration: RunnerRegistration;

  constructor(name: string, args: GitLabFargateRunnerArgs, opts?: pulumi.ComponentResourceOptions) {
    const resolved: ResolvedArgs = resolveArgs(name, args);
    // Checked before any resource exists: a missing bundle (`npm run build` not run) must not leave half a stack.
    const driverBundlePath = defaultDriverBundlePath();
    claimName(name);
    // No inputs on the component itself: tokens and keys must not land in its state.
    super(GITLAB_FARGATE_RUNNER_TYPE, name, {}, opts);
    const invokeOpts = { parent: this };

    const ctx: AwsContext = {
      partition: aws.getPartitionOutput({}, invokeOpts).partition,
      region: aws.getRegionOutput({}, invokeOpts).region,
      accountId: aws.getCallerIdentityOutput({}, invokeOpts).accountId,
    };
    const tasksUsePublicIp = resolved.network.taskPlacement === "public";

    const network = createNetwork(resolved, this);
    const securityGroups = createSecurityGroups(resolved, network.vpcId, this);
    const image = createJobImage(resolved, this);
    const roles = createTaskRoles(resolved, ctx, image.credentialsSecretArn, this);
    const { cluster, capacityProviders } = createJobCluster(resolved, this);
    const { taskDefinition, logGroup } = createJobTaskDefinition(resolved, image, roles, ctx.region, this);
    const cacheBucket = resolved.cache.enabled ? createCacheBucket(resolved, this) : undefined;
    const identity = createManagerIdentity(
      resolved,
      ctx,
      {
        clusterName: cluster.name,
        clusterArn: cluster.arn,
        family: resolved.jobs.family,
        roles,
        cacheBucketArn: cacheBucket?.arn,
      },
      this,
    );
    const manager = createManager(
      resolved,
      {
        subnetId: network.publicSubnetIds.apply((ids) => ids[0]),
        securityGroupId: securityGroups.manager.id,
        securityGroupRules: securityGroups.managerRules,
        instanceProfileName: identity.instanceProfile.name,
      },
      this,
    );

    this.vpcId = network.vpcId;
    this.publicSubnetIds = network.publicSubnetIds;
    this.privateSubnetIds = network.privateSubnetIds;
    this.taskSubnetIds = network.taskSubnetIds;
    this.tasksUsePublicIp = tasksUsePublicIp;
    this.clusterName = cluster.name;
    this.clusterArn = cluster.arn;
    this.region = ctx.region;
    this.taskDefinitionArn = taskDefinition.arn;
    this.taskDefinition = pulumi.interpolate`${taskDefinition.family}:${taskDefinition.revision}`;
    this.taskDefinitionFamily = resolved.jobs.family;
    this.containerName = CONTAINER_NAME;
    this.platformVersion = resolved.jobs.platformVersion;
    this.taskSecurityGroupId = securityGroups.task.id;
    this.managerSecurityGroupId = securityGroups.manager.id;
    this.managerInstanceId = manager.instance.id;
    this.managerPublicIp = manager.eip.publicIp;
    this.managerSshUser = MANAGER_SSH_USER;
    this.managerSshPrivateKey = manager.sshPrivateKey;
    this.managerRoleArn = identity.role.arn;
    this.egressIps = pulumi.all([manager.eip.publicIp, network.natPublicIps]).apply(([ip, nat]) => [ip, ...nat]);
    this.imageUri = image.imageUri;
    this.cacheBucketName = cacheBucket ? cacheBucket.bucket : pulumi.output(undefined);
    this.cacheBucketRegion = cacheBucket ? ctx.region : pulumi.output(undefined);
    this.logGroupName = logGroup.name;
    this.executionRoleArn = roles.execution.arn;
    this.taskRoleArn = roles.task.arn;
    this.jobInfrastructure = [capacityProviders, identity.policy, taskDefinition, ...securityGroups.taskRules];

    const token = resolved.gitlab.token;
    this.gitlabRunner =
      token.kind === "create"
        ? new GitLabRunner(
            `${name}-gitlab-runner`,
            { ...token.createRunner, url: resolved.gitlab.url, defaultDescription: resolved.runner.name },
            { parent: this },
          )
        : undefined;
    this.runnerId = this.gitlabRunner ? this.gitlabRunner.runnerId : pulumi.output(undefined);
    const gitlabCredentials =
      token.kind === "create"
        ? { runnerToken: this.gitlabRunner!.token }
        : token.kind === "runner"
          ? { runnerToken: token.value }
          : { registrationToken: token.value, legacyRegistration: resolved.gitlab.legacyRegistration };
    this.registration = registerRunner(
      name,
      {
        connection: {
          host: this.managerPublicIp,
          user: MANAGER_SSH_USER,
          privateKey: manager.sshPrivateKey,
          proxy: resolved.manager.sshProxy,
        },
        gitlab: { url: resolved.gitlab.url, tlsCaCertificate: resolved.gitlab.tlsCaCertificate, ...gitlabCredentials },
        runner: {
          name: resolved.runner.name,
          concurrent: resolved.runner.concurrent,
          checkIntervalSeconds: resolved.runner.checkInterval,
        },
        fargate: {
          cluster: cluster.name,
          region: ctx.region,
          subnetIds: network.taskSubnetIds,
          securityGroupIds: [securityGroups.task.id],
          taskDefinition: this.taskDefinition,
          enablePublicIp: tasksUsePublicIp,
          usePublicIp: this.connectToTaskPublicIp,
          platformVersion: resolved.jobs.platformVersion,
          containerName: CONTAINER_NAME,
          maxTaskSize: resolved.jobs.maxTaskSize,
          tags: resolved.tags,
        },
        cache: cacheBucket ? { bucketName: cacheBucket.bucket, region: ctx.region } : undefined,
        instanceId: manager.instance.id,
        driverBundlePath,
      },
      {
        parent: this,
        // The manager unregisters (the Command's delete) before a created runner is deleted in GitLab.
        dependsOn: [
          manager.instance,
          manager.eip,
          ...this.jobInfrastructure,
          ...(this.gitlabRunner ? [this.gitlabRunner] : []),
        ],
      },
    );

    this.registerOutputs({
      vpcId: this.vpcId,
      privateSubnetIds: this.privateSubnetIds,
      taskSubnetIds: this.taskSubnetIds,
      clusterName: this.clusterName,
      clusterArn: this.clusterArn,
      taskDefinitionArn: this.taskDefinitionArn,
      taskSecurityGroupId: this.taskSecurityGroupId,
      managerSecurityGroupId: this.managerSecurityGroupId,
      managerInstanceId: this.managerInstanceId,
      managerPublicIp: this.managerPublicIp,
      egressIps: this.egressIps,
      imageUri: this.imageUri,
      cacheBucketName: this.cacheBucketName,
      logGroupName: this.logGroupName,
      runnerId: this.runnerId,
    });
  }
}
