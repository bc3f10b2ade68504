import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { GitLabFargateRunnerArgs } from "./args";
import { createCacheBucket } from "./aws/cacheBucket";
import { createJobCluster } from "./aws/cluster";
import { AwsContext, createManagerIdentity, createTaskRoles, ManagerIdentity, TaskRoles } from "./aws/iam";
import { createJobImage, JobImage } from "./aws/jobImage";
import { createManagers, Manager, MANAGER_SSH_USER } from "./aws/managerInstance";
import { createNetwork, Network } from "./aws/network";
import { Scope } from "./aws/scope";
import { createSecurityGroups, SecurityGroups } from "./aws/securityGroups";
import { CONTAINER_NAME, createJobTaskDefinition } from "./aws/taskDefinition";
import { GitLabRunner } from "./gitlab/gitlabRunner";
import { managerUserData } from "./manager/bootstrap";
import { defaultDriverBundlePath, registerRunner, RunnerRegistration } from "./manager/registration";
import { resolveArgs, ResolvedArgs } from "./validation";

export const GITLAB_FARGATE_RUNNER_TYPE = "gitlab-fargate-runner:index:GitLabFargateRunner";

/** See {@link GitLabFargateRunner.connectToTaskPublicIp}. */
const CONNECT_TO_TASK_PUBLIC_IP = false;

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
 * strategy, the job task definition and its log group, IAM roles, the manager instances (`manager.count`, each with
 * an Elastic IP, registered as managers of one GitLab runner), and the S3 cache bucket.
 *
 * @see https://docs.gitlab.com/runner/configuration/runner_autoscale_aws_fargate/
 */
export class GitLabFargateRunner extends pulumi.ComponentResource {
  /** The VPC of the manager and the job tasks. */
  public readonly vpcId!: pulumi.Output<string>;
  /** Public subnets (the managers run in them round-robin, the first manager in the first). */
  public readonly publicSubnetIds!: pulumi.Output<string[]>;
  /** Private subnets (empty when a new VPC is created with `taskPlacement: "public"`). */
  public readonly privateSubnetIds!: pulumi.Output<string[]>;
  /** The subnets RunTask places job tasks in (fargate.toml `Subnets`). */
  public readonly taskSubnetIds!: pulumi.Output<string[]>;
  /** True when tasks get a public IP (`taskPlacement: "public"`; fargate.toml `EnablePublicIP`). */
  public readonly tasksUsePublicIp!: boolean;
  /**
   * Always false: the driver must SSH to the task's private IP (fargate.toml `UsePublicIP = false`), also with public
   * tasks, because the task SG admits the manager's SG by reference and such a rule matches only traffic inside the
   * VPC; through a public IP the connection would time out.
   */
  public readonly connectToTaskPublicIp: boolean = CONNECT_TO_TASK_PUBLIC_IP;
  /** The ECS cluster job tasks run in (fargate.toml `Cluster`). */
  public readonly clusterName!: pulumi.Output<string>;
  /** ARN of that cluster (the manager's `ecs:cluster` condition). */
  public readonly clusterArn!: pulumi.Output<string>;
  /** The AWS region everything runs in. */
  public readonly region!: pulumi.Output<string>;
  /** ARN of the job task definition (with its revision). */
  public readonly taskDefinitionArn!: pulumi.Output<string>;
  /** `family:revision` of the job task definition (fargate.toml `TaskDefinition`). */
  public readonly taskDefinition!: pulumi.Output<string>;
  /**
   * Family of the job task definition (`jobs.family`). The manager may run only this family and, when jobs may choose
   * their image or services, the families the driver registers for them (`<family>-image-<hash>`).
   */
  public readonly taskDefinitionFamily!: string;
  /** The name of the job container (fargate.toml `ContainerName`). */
  public readonly containerName!: string;
  /** Fargate platform version for RunTask (`LATEST` unless set). */
  public readonly platformVersion!: string;
  /** Security group of the job tasks: SSH in from the manager's group only. */
  public readonly taskSecurityGroupId!: pulumi.Output<string>;
  /** Security group of the managers: SSH in from `admin.sshCidrBlocks` only (and from managers, to drain one). */
  public readonly managerSecurityGroupId!: pulumi.Output<string>;
  /** The first manager EC2 instance (the only one with the default `manager.count` 1). */
  public readonly managerInstanceId!: pulumi.Output<string>;
  /** The first manager's Elastic IP: SSH target and its address towards GitLab. */
  public readonly managerPublicIp!: pulumi.Output<string>;
  /** Every manager EC2 instance, in order (`manager.count` of them). */
  public readonly managerInstanceIds!: pulumi.Output<string[]>;
  /** Every manager's Elastic IP, in the order of `managerInstanceIds`. */
  public readonly managerPublicIps!: pulumi.Output<string[]>;
  /** Login user on the manager. */
  public readonly managerSshUser!: string;
  /** OpenSSH private key for `managerSshUser@managerPublicIp`. Always kept as a secret. */
  public readonly managerSshPrivateKey!: pulumi.Output<string>;
  /** The manager's IAM role (instance profile): what the driver may do in AWS. */
  public readonly managerRoleArn!: pulumi.Output<string>;
  /**
   * Every public IP GitLab sees from this runner: the managers' EIPs (in order, the first manager's first) and the
   * NAT gateways' EIPs created here. Tasks with public IPs (`taskPlacement: "public"`) and NATs of your own VPC are
   * not included.
   */
  public readonly egressIps!: pulumi.Output<string[]>;
  /** The job image reference the task definition uses. */
  public readonly imageUri!: pulumi.Output<string>;
  /** The S3 cache bucket, or undefined when `cache.enabled` is false. */
  public readonly cacheBucketName!: pulumi.Output<string | undefined>;
  /** The cache bucket's region, or undefined when the cache is off. */
  public readonly cacheBucketRegion!: pulumi.Output<string | undefined>;
  /** CloudWatch log group of the job containers. */
  public readonly logGroupName!: pulumi.Output<string>;
  /** The task execution role (image pull, logs, private registry credentials). */
  public readonly executionRoleArn!: pulumi.Output<string>;
  /** The job tasks' own role: no permissions unless `jobs.taskRolePolicyArns` gives some. */
  public readonly taskRoleArn!: pulumi.Output<string>;
  /** GitLab's id of the runner created with `gitlab.createRunner`, or undefined when a token was given. */
  public readonly runnerId!: pulumi.Output<number | undefined>;

  // The child resources below are for TypeScript programs only (getters, so they are not in the package schema:
  // another language reaches them through the ids above).

  /**
   * What must exist before the runner takes a job (a `dependsOn` for the registration step): the capacity provider
   * strategy, the manager's permissions, the task definition and the task security group's rules. TypeScript only.
   */
  public get jobInfrastructure(): pulumi.Resource[] {
    return this.children().jobInfrastructure;
  }
  /**
   * The runner the stack created in GitLab (`gitlab.createRunner`), or undefined when a token was given. TypeScript
   * only; its id is `runnerId`.
   */
  public get gitlabRunner(): GitLabRunner | undefined {
    return this.children().gitlabRunner;
  }
  /**
   * The commands that push the driver and the configuration to the first manager, register and drain it.
   * TypeScript only.
   */
  public get registration(): RunnerRegistration {
    return this.children().registration;
  }
  /** The same for every manager, in the order of `managerInstanceIds`. TypeScript only. */
  public get registrations(): RunnerRegistration[] {
    return this.children().registrations;
  }

  constructor(name: string, args: GitLabFargateRunnerArgs, opts?: pulumi.ComponentResourceOptions) {
    const resolved = resolveArgs(name, args);
    // Checked before any resource exists: a missing bundle (`npm run build` not run) must not leave half a stack.
    const driverBundlePath = defaultDriverBundlePath();
    claimName(name);
    // No inputs on the component itself: tokens and keys must not land in its state.
    super(GITLAB_FARGATE_RUNNER_TYPE, name, {}, opts);
    for (const warning of resolved.warnings) pulumi.log.warn(warning, this);
    const scope: Scope = { name, tags: resolved.tags, parent: this };
    const where = awsContext(this);
    const { jobs } = resolved;

    // The network, and who may reach what in it.
    const network = createNetwork(scope, resolved.network);
    const securityGroups = createSecurityGroups(scope, {
      vpcId: network.vpcId,
      adminCidrBlocks: resolved.admin.sshCidrBlocks,
      gitlabPort: resolved.gitlab.port,
      taskEgressPorts: resolved.network.taskEgressPorts,
      managersJumpToManagers: resolved.manager.sshProxy === undefined,
    });

    // Where every job runs: its image, its roles, the cluster and the task definition; the cache jobs share.
    const image = createJobImage(scope, jobs);
    const roles = createTaskRoles(scope, where, {
      registrySecretArns: [
        ...(image.credentialsSecretArn ? [image.credentialsSecretArn] : []),
        ...Object.values(jobs.registryCredentials),
      ],
      taskRolePolicyArns: jobs.taskRolePolicyArns,
    });
    const { cluster, capacityProviders } = createJobCluster(scope, jobs);
    const { taskDefinition, logGroup } = createJobTaskDefinition(scope, jobs, { image, roles, region: where.region });
    const cacheBucket = resolved.cache.enabled ? createCacheBucket(scope, resolved.cache) : undefined;

    // The managers: what they may do in AWS, and the instances that first boot into gitlab-runner and Node.js.
    const identity = createManagerIdentity(scope, where, {
      clusterName: cluster.name,
      clusterArn: cluster.arn,
      family: jobs.family,
      imageTasks: jobs.allowedImages.length > 0 || jobs.allowedServices.length > 0,
      roles,
      cacheBucketArn: cacheBucket?.arn,
    });
    const managers = createManagers(
      scope,
      { ...resolved.manager, userData: managerUserData({ architecture: resolved.manager.architecture }) },
      {
        subnetIds: network.publicSubnetIds,
        securityGroupId: securityGroups.manager.id,
        securityGroupRules: securityGroups.managerRules,
        instanceProfileName: identity.instanceProfile.name,
      },
    );

    // GitLab: the runner, when the stack creates it, and each manager registered as a manager of that runner.
    const gitlabRunner = createGitLabRunner(scope, resolved.gitlab, resolved.runner.name);
    const parts: Parts = {
      where,
      network,
      securityGroups,
      image,
      roles,
      cluster,
      capacityProviders,
      taskDefinition,
      logGroup,
      cacheBucket,
      identity,
      managers,
      gitlabRunner,
    };
    const registrations = managers.map((manager) => registerManager(scope, resolved, parts, manager, driverBundlePath));

    Object.assign(this, outputsOf(resolved, parts));
    childrenOf.set(this, {
      jobInfrastructure: jobInfrastructure(parts),
      gitlabRunner,
      registration: registrations[0],
      registrations,
    });
    this.registerOutputs(registeredOutputs(this));
  }

  private children(): Children {
    const children = childrenOf.get(this);
    if (children === undefined) throw new Error("GitLabFargateRunner: its child resources are not created yet");
    return children;
  }
}

/** The child resources a TypeScript program may use (the getters of {@link GitLabFargateRunner}). */
type Children = Pick<GitLabFargateRunner, "jobInfrastructure" | "gitlabRunner" | "registration" | "registrations">;

/** Kept outside the instance: every field of the class is an output in the package schema. */
const childrenOf = new WeakMap<GitLabFargateRunner, Children>();

/** What the constructor built: the registration and the outputs are wired from these. */
interface Parts {
  where: AwsContext;
  network: Network;
  securityGroups: SecurityGroups;
  image: JobImage;
  roles: TaskRoles;
  cluster: aws.ecs.Cluster;
  capacityProviders: aws.ecs.ClusterCapacityProviders;
  taskDefinition: aws.ecs.TaskDefinition;
  logGroup: aws.cloudwatch.LogGroup;
  cacheBucket?: aws.s3.Bucket;
  identity: ManagerIdentity;
  managers: Manager[];
  gitlabRunner?: GitLabRunner;
}

/** The component's outputs: every public field but the constant one (the getters are {@link Children}). */
type Outputs = Omit<GitLabFargateRunner, keyof pulumi.ComponentResource | "connectToTaskPublicIp" | keyof Children>;

/** Partition, region and account of the stack, looked up once. */
function awsContext(parent: pulumi.Resource): AwsContext {
  const invokeOpts = { parent };
  return {
    partition: aws.getPartitionOutput({}, invokeOpts).partition,
    region: aws.getRegionOutput({}, invokeOpts).region,
    accountId: aws.getCallerIdentityOutput({}, invokeOpts).accountId,
  };
}

/** The runner in GitLab with `gitlab.createRunner`; undefined when a token was given. */
function createGitLabRunner(
  { name, parent }: Scope,
  gitlab: ResolvedArgs["gitlab"],
  defaultDescription: string,
): GitLabRunner | undefined {
  if (gitlab.token.kind !== "create") return undefined;
  return new GitLabRunner(
    `${name}-gitlab-runner`,
    { ...gitlab.token.createRunner, url: gitlab.url, defaultDescription },
    { parent },
  );
}

/** `family:revision` of the job task definition (fargate.toml `TaskDefinition`). */
function familyRevision(taskDefinition: aws.ecs.TaskDefinition): pulumi.Output<string> {
  return pulumi.interpolate`${taskDefinition.family}:${taskDefinition.revision}`;
}

/**
 * What must exist before the runner takes a job: the capacity provider strategy, the manager's permissions, the task
 * definition and the task security group's rules.
 */
function jobInfrastructure(parts: Parts): pulumi.Resource[] {
  return [parts.capacityProviders, parts.identity.policy, parts.taskDefinition, ...parts.securityGroups.taskRules];
}

/**
 * Pushes the driver and the configuration to one manager and registers it with GitLab, and drains it when it goes
 * (registration.ts). The first manager's resources keep the names they had when there was only one (`<name>-register`,
 * `<name>-stage-…`, `<name>-drain`); the n-th's are `<name>-manager-<n>-…`.
 */
function registerManager(
  { name, parent }: Scope,
  resolved: ResolvedArgs,
  parts: Parts,
  manager: Manager,
  driverBundlePath: string,
): RunnerRegistration {
  const { network, securityGroups, cluster, cacheBucket, gitlabRunner, where } = parts;
  const token = resolved.gitlab.token;
  const gitlabCredentials =
    token.kind === "create"
      ? { runnerToken: gitlabRunner!.token }
      : token.kind === "runner"
        ? { runnerToken: token.value }
        : { registrationToken: token.value, legacyRegistration: resolved.gitlab.legacyRegistration };
  const connection = {
    host: manager.eip.publicIp,
    user: MANAGER_SSH_USER,
    privateKey: manager.sshPrivateKey,
    proxy: resolved.manager.sshProxy,
  };
  return registerRunner(
    manager.index === 0 ? name : manager.resourceName,
    {
      connection,
      // The instance's own address, reached through its Elastic IP (or the bastion): when the instance is replaced,
      // the Elastic IP leads to the replacement, which reaches the old instance in the VPC.
      drainConnection: {
        ...connection,
        host: manager.instance.privateIp,
        proxy: resolved.manager.sshProxy ?? { host: manager.eip.publicIp, user: MANAGER_SSH_USER },
      },
      gitlab: { url: resolved.gitlab.url, tlsCaCertificate: resolved.gitlab.tlsCaCertificate, ...gitlabCredentials },
      runner: {
        name: resolved.runner.name,
        concurrent: resolved.runner.concurrent,
        checkIntervalSeconds: resolved.runner.checkInterval,
        drainTimeoutMinutes: resolved.runner.drainTimeoutMinutes,
      },
      fargate: {
        cluster: cluster.name,
        region: where.region,
        subnetIds: network.taskSubnetIds,
        securityGroupIds: [securityGroups.task.id],
        taskDefinition: familyRevision(parts.taskDefinition),
        enablePublicIp: resolved.network.taskPlacement === "public",
        usePublicIp: CONNECT_TO_TASK_PUBLIC_IP,
        platformVersion: resolved.jobs.platformVersion,
        containerName: CONTAINER_NAME,
        taskIdleTimeoutSeconds: resolved.jobs.idleTimeoutSeconds,
        maxTaskSize: resolved.jobs.maxTaskSize,
        tags: resolved.tags,
        allowedImages: resolved.jobs.allowedImages,
        allowedServices: resolved.jobs.allowedServices,
        registryCredentials: resolved.jobs.registryCredentials,
      },
      cache: cacheBucket ? { bucketName: cacheBucket.bucket, region: where.region } : undefined,
      instanceId: manager.instance.id,
      driverBundlePath,
    },
    {
      parent,
      // The manager unregisters (the Command's delete) before a created runner is deleted in GitLab.
      dependsOn: [manager.instance, manager.eip, ...jobInfrastructure(parts), ...(gitlabRunner ? [gitlabRunner] : [])],
    },
  );
}

/** The component's outputs, from the parts it built. */
function outputsOf(resolved: ResolvedArgs, parts: Parts): Outputs {
  const { where, network, securityGroups, image, roles, cluster, taskDefinition, logGroup } = parts;
  const { cacheBucket, identity, managers, gitlabRunner } = parts;
  const managerPublicIps = pulumi.all(managers.map((manager) => manager.eip.publicIp));
  return {
    vpcId: network.vpcId,
    publicSubnetIds: network.publicSubnetIds,
    privateSubnetIds: network.privateSubnetIds,
    taskSubnetIds: network.taskSubnetIds,
    tasksUsePublicIp: resolved.network.taskPlacement === "public",
    clusterName: cluster.name,
    clusterArn: cluster.arn,
    region: where.region,
    taskDefinitionArn: taskDefinition.arn,
    taskDefinition: familyRevision(taskDefinition),
    taskDefinitionFamily: resolved.jobs.family,
    containerName: CONTAINER_NAME,
    platformVersion: resolved.jobs.platformVersion,
    taskSecurityGroupId: securityGroups.task.id,
    managerSecurityGroupId: securityGroups.manager.id,
    managerInstanceId: managers[0].instance.id,
    managerPublicIp: managers[0].eip.publicIp,
    managerInstanceIds: pulumi.all(managers.map((manager) => manager.instance.id)),
    managerPublicIps,
    managerSshUser: MANAGER_SSH_USER,
    managerSshPrivateKey: managers[0].sshPrivateKey,
    managerRoleArn: identity.role.arn,
    egressIps: pulumi.all([managerPublicIps, network.natPublicIps]).apply(([ips, nat]) => [...ips, ...nat]),
    imageUri: image.imageUri,
    cacheBucketName: cacheBucket ? cacheBucket.bucket : pulumi.output(undefined),
    cacheBucketRegion: cacheBucket ? where.region : pulumi.output(undefined),
    logGroupName: logGroup.name,
    executionRoleArn: roles.execution.arn,
    taskRoleArn: roles.task.arn,
    runnerId: gitlabRunner ? gitlabRunner.runnerId : pulumi.output(undefined),
  };
}

/** The outputs recorded in the component's state (`registerOutputs`). */
function registeredOutputs(runner: GitLabFargateRunner): pulumi.Inputs {
  return {
    vpcId: runner.vpcId,
    privateSubnetIds: runner.privateSubnetIds,
    taskSubnetIds: runner.taskSubnetIds,
    clusterName: runner.clusterName,
    clusterArn: runner.clusterArn,
    taskDefinitionArn: runner.taskDefinitionArn,
    taskSecurityGroupId: runner.taskSecurityGroupId,
    managerSecurityGroupId: runner.managerSecurityGroupId,
    managerInstanceId: runner.managerInstanceId,
    managerPublicIp: runner.managerPublicIp,
    managerInstanceIds: runner.managerInstanceIds,
    managerPublicIps: runner.managerPublicIps,
    egressIps: runner.egressIps,
    imageUri: runner.imageUri,
    cacheBucketName: runner.cacheBucketName,
    logGroupName: runner.logGroupName,
    runnerId: runner.runnerId,
  };
}
