import * as pulumi from "@pulumi/pulumi";

/**
 * Arguments of {@link GitLabFargateRunner}. Only `gitlab` and `admin` are required; every other group has secure,
 * inexpensive defaults.
 */
export interface GitLabFargateRunnerArgs {
  /** Where the runner registers and how it authenticates. Required. */
  gitlab: GitLabArgs;
  /** Who may reach the manager instance. Required. */
  admin: AdminArgs;
  /** VPC, subnets and where job tasks run. Default: a new VPC in 2 AZs with one NAT gateway. */
  network?: NetworkArgs;
  /** The runner manager EC2 instances: how many, their size, their AMI and how the deployment reaches them. */
  manager?: ManagerArgs;
  /** The Fargate task every CI job runs in. */
  jobs?: JobsArgs;
  /** The S3 distributed cache (on by default). */
  cache?: CacheArgs;
  /** gitlab-runner's own settings (read by the bootstrap/registration step). */
  runner?: RunnerArgs;
  /**
   * Tags added to every taggable AWS resource, next to the tag `gitlab-fargate-runner = <component name>`.
   * Default: none.
   */
  tags?: Record<string, string>;
}

/** @see https://docs.gitlab.com/runner/register/ */
export interface GitLabArgs {
  /**
   * HTTPS URL of the GitLab instance, e.g. `https://gitlab.com`. Required. Refused: `http://`, a user name or password
   * (`https://user:password@…`), a query or fragment, whitespace and control characters. Used as parsed everywhere
   * (lower-case host, no default port, no trailing slash).
   */
  url: string;
  /**
   * Runner authentication token (`glrt-…`) of a runner created in GitLab (UI or `POST /api/v4/user/runners`).
   * Always treated as a secret. Give exactly one of `runnerToken`, `registrationToken` and `createRunner`.
   * @see https://docs.gitlab.com/ci/runners/runners_scope/
   */
  runnerToken?: pulumi.Input<string>;
  /**
   * Legacy registration token (deprecated by GitLab, scheduled for removal). Always treated as a secret.
   * Give exactly one of `runnerToken`, `registrationToken` and `createRunner`. A `glrt-` runner token is refused
   * here: give it as `runnerToken`.
   * @see https://docs.gitlab.com/ci/runners/new_creation_workflow/
   */
  registrationToken?: pulumi.Input<string>;
  /**
   * Runner attributes that only the legacy `registrationToken` flow sets at registration time. Only with
   * `registrationToken`.
   */
  legacyRegistration?: LegacyRegistrationArgs;
  /**
   * Let the stack create the runner in GitLab (`POST /api/v4/user/runners`) with an access token, register with the
   * token GitLab returns, and delete the runner on `pulumi destroy`. Give exactly one of `runnerToken`,
   * `registrationToken` and `createRunner`. Default: none. See the README section "Runner lifecycle".
   * @see https://docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user
   */
  createRunner?: CreateRunnerArgs;
  /**
   * PEM certificate(s) of a private CA that signed GitLab's TLS certificate. Installed on the manager as
   * `/etc/gitlab-runner/certs/ca.crt` and set as the runner's `tls-ca-file`. Only `CERTIFICATE` blocks, each a valid
   * X.509 certificate, are accepted (and only they are installed); a private key or any other block is refused.
   * Default: the system's CA bundle.
   * @see https://docs.gitlab.com/runner/configuration/tls-self-signed/
   */
  tlsCaCertificate?: pulumi.Input<string>;
}

/** `gitlab.legacyRegistration`: what gitlab-runner sets when it registers with a legacy registration token. */
export interface LegacyRegistrationArgs {
  /** Job tags this runner picks up: at most 50, without commas or surrounding spaces. Default: none. */
  tags?: string[];
  /**
   * Also run jobs without tags. Default: true when `tags` is empty, else false (gitlab-runner's rule). `false`
   * needs `tags`: gitlab-runner registers a runner without tags to run untagged jobs anyway.
   */
  runUntagged?: boolean;
  /** Lock the runner to its project. Default true (gitlab-runner's default). */
  locked?: boolean;
}

/** Who may reach the manager instances. */
export interface AdminArgs {
  /**
   * CIDR blocks (IPv4 or IPv6) allowed to SSH (TCP 22) to the manager. Must include the machine running
   * `pulumi up`, which connects to register the runner. Blocks wider than /8 (IPv4) or /32 (IPv6) are refused, such
   * as `0.0.0.0/0`, `::/0` or the internet in halves (`0.0.0.0/1` + `128.0.0.0/1`). Required, non-empty.
   */
  sshCidrBlocks: string[];
}

/** Where job tasks run: `private` subnets behind NAT (default) or `public` subnets with a public IP and no NAT. */
export const TaskPlacement = {
  /** Private subnets: no public IP, internet through NAT. */
  Private: "private",
  /** Public subnets: a public IP, no NAT. */
  Public: "public",
} as const;
/** Where job tasks run: `private` subnets behind NAT (default) or `public` subnets with a public IP and no NAT. */
export type TaskPlacement = (typeof TaskPlacement)[keyof typeof TaskPlacement];

/** NAT gateways of a new VPC. */
export const NatGatewayStrategy = {
  /** One NAT gateway for all availability zones (cheapest). */
  Single: "single",
  /** One NAT gateway per availability zone (survives an AZ outage). */
  OnePerAz: "onePerAz",
} as const;
/** NAT gateways of a new VPC: `single` or `onePerAz`. */
export type NatGatewayStrategy = (typeof NatGatewayStrategy)[keyof typeof NatGatewayStrategy];

/** A VPC and subnets you already have. All three ids are validated together. */
export interface ExistingNetworkArgs {
  /** The VPC id: `vpc-` and 8 or 17 lowercase hex digits. */
  vpcId: pulumi.Input<string>;
  /**
   * Public subnets (with a route to an internet gateway); the manager goes in the first. At least one. Subnet ids are
   * checked with the driver's rule (`subnet-` and 8 or 17 lowercase hex digits); ids known only at deploy time are
   * checked when they resolve.
   */
  publicSubnetIds: pulumi.Input<string>[];
  /** Private subnets with a route to a NAT; job tasks run here. Required unless `taskPlacement` is `public`. */
  privateSubnetIds?: pulumi.Input<string>[];
}

/** @see https://www.pulumi.com/registry/packages/awsx/api-docs/ec2/vpc/ */
export interface NetworkArgs {
  /** Use your own VPC instead of creating one. Default: a new awsx VPC. */
  existing?: ExistingNetworkArgs;
  /** CIDR block of the new VPC. Ignored with `existing`. Default `10.0.0.0/16`. */
  cidrBlock?: string;
  /** Number of availability zones of the new VPC (2–4). Ignored with `existing`. Default 2. */
  availabilityZoneCount?: number;
  /**
   * NAT gateways of the new VPC: `single` (cheapest) or `onePerAz` (survives an AZ outage).
   * Ignored with `existing` or `taskPlacement: "public"`. Default `single`.
   */
  natGateways?: NatGatewayStrategy;
  /**
   * `private` (default): tasks get no public IP and reach the internet through NAT; their egress IPs are the
   * NAT EIPs (see the `egressIps` output). `public`: tasks run in public subnets with a public IP and no NAT is
   * created (cheapest); SSH to them is still allowed only from the manager's security group.
   */
  taskPlacement?: TaskPlacement;
  /** TCP ports job tasks may open to anywhere (IPv4). Default `[443]` plus the GitLab URL's port if not 443. */
  taskEgressPorts?: number[];
}

/** CPU architecture of EC2 instances and Fargate tasks. */
export const Architecture = {
  /** x86-64. */
  Amd64: "amd64",
  /** 64-bit ARM (AWS Graviton). */
  Arm64: "arm64",
} as const;
/** CPU architecture of EC2 instances and Fargate tasks: `amd64` or `arm64`. */
export type Architecture = (typeof Architecture)[keyof typeof Architecture];

/** The capacity provider job tasks run on. */
export const CapacityProvider = {
  /** On-demand Fargate. */
  Fargate: "FARGATE",
  /** Fargate Spot: up to 70% cheaper, tasks may be interrupted. */
  FargateSpot: "FARGATE_SPOT",
} as const;
/** The capacity provider job tasks run on: `FARGATE` or `FARGATE_SPOT`. */
export type CapacityProvider = (typeof CapacityProvider)[keyof typeof CapacityProvider];

/** `manager.sshKey`: your own SSH key pair for the managers' `ubuntu` user. */
export interface ManagerSshKeyArgs {
  /** OpenSSH public key (one line, e.g. `ssh-ed25519 AAAA…`), installed on every manager. */
  publicKey: string;
  /** Its OpenSSH private key; the deployment connects with it to register the runner. Always kept as a secret. */
  privateKey: pulumi.Input<string>;
}

/** `manager.sshProxy`: the bastion the deployment jumps through (SSH `ProxyJump`) to reach the managers. */
export interface SshProxyArgs {
  /** Host name or IP of the bastion. */
  host: pulumi.Input<string>;
  /** Login user on the bastion. Default `ubuntu`. */
  user?: string;
  /** SSH port of the bastion. Default 22. */
  port?: number;
  /** Private key for the bastion. Always kept as a secret. */
  privateKey: pulumi.Input<string>;
  /** Expected host key of the bastion (`ssh-ed25519 AAAA…`). Default: not checked. */
  hostKey?: pulumi.Input<string>;
}

/** @see https://docs.gitlab.com/runner/configuration/runner_autoscale_aws_fargate/ */
export interface ManagerArgs {
  /**
   * Manager instances (1–10) behind the one GitLab runner: each its own EC2 instance with its own Elastic IP (all in
   * the `egressIps` output), its own registration and its own `fargate.toml`, placed round-robin over the public
   * subnets (so over the availability zones). GitLab lists them as the runner's managers, told apart by the system
   * id gitlab-runner generates on each instance's first start. Each runs up to `runner.concurrent` jobs. With a legacy
   * `gitlab.registrationToken`, each instance registers a runner of its own. Default 1.
   * @see https://docs.gitlab.com/ci/runners/new_creation_workflow/#runner-manager
   */
  count?: number;
  /**
   * EC2 instance type of the managers. Graviton types (`t4g.small`…) select an arm64 AMI. Its memory bounds
   * `runner.concurrent`: each running job needs about 85 MiB on the manager (its driver process; see
   * docs/benchmarks.md) next to 512 MiB for the OS and gitlab-runner, and a `runner.concurrent` the type cannot hold
   * is refused before any resource is created, naming the numbers. A type whose memory the component does not know
   * (it knows t2/t3/t3a/t4g nano–2xlarge and the m5…m8g, c5…c8g and r5…r8g families) is not checked: a warning says
   * so. Changing it replaces the instances one by one, each new one before the old one is drained (see the README,
   * "Managers: scale out, drain and heal"). Default `t3.small`.
   */
  instanceType?: string;
  /**
   * AMI id. Default: the newest Ubuntu 24.04 LTS from Canonical (owner 099720109477) for the instance's arch, looked
   * up at the first deploy; newer Canonical images later do not replace the manager (roll it with
   * `pulumi up --replace <manager urn>`, or set this option).
   * @see https://documentation.ubuntu.com/aws/aws-how-to/instances/find-ubuntu-images/
   */
  amiId?: pulumi.Input<string>;
  /** Root volume size in GiB (encrypted gp3). Default 20. */
  rootVolumeSizeGiB?: number;
  /**
   * Your SSH key for the manager's `ubuntu` user: OpenSSH public key and its private key (the deployment connects
   * with it to register the runner). Default: an ED25519 key the stack generates, its private key a secret in the
   * stack's state.
   */
  sshKey?: ManagerSshKeyArgs;
  /**
   * A bastion the deployment jumps through (SSH `ProxyJump`) to reach the manager, when the machine running
   * `pulumi up` cannot reach the manager directly. `admin.sshCidrBlocks` must then include the bastion's address.
   * Default: connect directly to the manager's Elastic IP.
   * @see https://www.pulumi.com/registry/packages/command/api-docs/remote/command/#proxyconnection
   */
  sshProxy?: SshProxyArgs;
}

/** A job image you build and publish yourself. */
export interface ExternalImageArgs {
  /** Image reference, e.g. `registry.example.com/ci/coordinator:1.4`. */
  uri: pulumi.Input<string>;
  /**
   * ARN of a Secrets Manager secret with `{"username","password"}` for a private registry (the container's
   * `repositoryCredentials`). Default: none (public or ECR image), and then the task execution role may read no
   * secret at all. When given, the execution role may read exactly this secret (`secretsmanager:GetSecretValue`, and
   * `kms:Decrypt` only through Secrets Manager for this secret), so give the secret's full ARN, with the 6-character
   * suffix Secrets Manager adds (`arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf`). Wildcards
   * (`*`, `?`), partial ARNs, secret names and SSM parameters are refused before any resource is created (an ARN
   * that is a Pulumi Output is checked when it resolves).
   * @see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/private-auth.html
   */
  credentialsSecretArn?: pulumi.Input<string>;
}

/** The ECR repository and image build used when no external image is given. */
export interface BuiltImageArgs {
  /** Docker build context. Default: the package's `images/ci-coordinator`. */
  context?: string;
  /** Images kept by the repository's lifecycle policy. Default 10. */
  keepImages?: number;
  /** Delete the repository even when it still holds images. Default false. */
  forceDelete?: boolean;
}

/** A Fargate task size: a vCPU value and a memory size Fargate allows with it. */
export interface TaskSizeArgs {
  /** vCPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384. */
  cpu: number;
  /** Memory (MiB), one of the values Fargate allows for `cpu`. */
  memory: number;
}

/** @see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html */
export interface JobsArgs {
  /**
   * vCPU units of the task: 256, 512, 1024, 2048, 4096, 8192 or 16384. Default 1024.
   * @see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
   */
  cpu?: number;
  /** Memory (MiB), one of the values Fargate allows for `cpu`. Default 2048. */
  memory?: number;
  /**
   * Let a job pick its own task size with the CI variables `FARGATE_TASK_CPU` and `FARGATE_TASK_MEMORY`, up to
   * this size (a valid Fargate cpu/memory pair). Default: jobs run with `cpu`/`memory` and cannot change them.
   * See docs/driver.md.
   */
  maxTaskSize?: TaskSizeArgs;
  /** CPU architecture of the task (and of the built image). Default `amd64`. */
  architecture?: Architecture;
  /** Ephemeral storage in GiB (21–200). Default: Fargate's 20 GiB. */
  ephemeralStorageGiB?: number;
  /**
   * The cluster's default capacity provider: `FARGATE` (default) or `FARGATE_SPOT` (up to 70% cheaper, tasks may
   * be interrupted). @see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html
   */
  capacityProvider?: CapacityProvider;
  /** With `FARGATE_SPOT`: the first N tasks run on on-demand FARGATE. Default 0. */
  onDemandBase?: number;
  /** Fargate platform version for RunTask, e.g. `1.4.0`. Default `LATEST`. */
  platformVersion?: string;
  /**
   * Task definition family: letters, digits, hyphens and underscores, at most 232 characters, so that the families
   * the driver registers for jobs with an image or services (`<family>-image-<16 hex digits>`) fit ECS's 255. The
   * manager may run this family and those, and register only those. Default `gitlab-<name>-<stack>` (cut to fit).
   */
  family?: string;
  /** Days CloudWatch keeps job container logs (a CloudWatch-allowed value). Default 14. */
  logRetentionDays?: number;
  /**
   * Seconds a job's task may go without an SSH session from its manager before it stops itself (the driver holds
   * one during every stage, so a working job never idles that long). This is what stops the task of a job whose
   * manager died, lost its connection or crashed: no task outlives its job by more than this. Whole seconds, 60 to
   * 86400. Written to fargate.toml as `[Timeouts] TaskIdle`. Default 600.
   */
  idleTimeoutSeconds?: number;
  /** IAM policy ARNs attached to the task role (what jobs may do in AWS). Default: none — no permissions. */
  taskRolePolicyArns?: pulumi.Input<string>[];
  /** Use an image you publish instead of building `images/ci-coordinator` into a new ECR repository. */
  image?: ExternalImageArgs;
  /** Settings of the ECR repository and build (ignored with `image`). */
  build?: BuiltImageArgs;
  /**
   * The images a job may run its scripts in with `image:` in `.gitlab-ci.yml`, as glob patterns matched against the
   * image reference exactly as the job writes it (`*` any run of characters, `/` included; `?` one character; no
   * whitespace), for example `["registry.example.com/ci/*", "node:2?-bookworm"]`. A job naming another image fails
   * with a message listing the patterns. Such a job runs in a task definition the driver registers once per distinct
   * set of containers (family `<jobs.family>-image-<hash>`): the job image's `ci-coordinator` container still clones,
   * caches and uploads, and the scripts run inside the job's image as its `USER`. Written to fargate.toml as
   * `AllowedImages`.
   *
   * Default `["*"]`: every image. `[]` turns the feature off: `image:` is ignored (said once in the job log) and
   * scripts run in `ci-coordinator`, as with GitLab's own Fargate driver. With both this and `allowedServices` empty
   * the manager may neither register nor read task definitions. See docs/driver.md.
   * @see https://docs.gitlab.com/ci/yaml/#image
   */
  allowedImages?: string[];
  /**
   * The images a job may start as `services:` (one container each in the job's task, reachable at `127.0.0.1` and
   * under its alias), as glob patterns like `allowedImages`. Written to fargate.toml as
   * `AllowedServices`. Default `["*"]`: every image. `[]` turns services off: `services:` is ignored.
   * @see https://docs.gitlab.com/ci/services/
   */
  allowedServices?: string[];
  /**
   * Credentials of private registries for jobs' images and services: registry host as image references name it
   * (`ghcr.io`, `registry.example.com:5000`; lowercase) → full ARN of a Secrets Manager secret holding
   * `{"username","password"}`, with the 6-character suffix Secrets Manager adds. The driver gives a job's container
   * the secret of its image's registry host (`repositoryCredentials`); every job whose image or service is allowed
   * and on that host pulls with these credentials. The task execution role may read exactly these secrets (and
   * `jobs.image.credentialsSecretArn`), with `kms:Decrypt` only through Secrets Manager for them. Wildcards, partial
   * ARNs, secret names and SSM parameters are refused before any resource is created (an ARN that is a Pulumi Output
   * when it resolves). Refused when `allowedImages` and `allowedServices` are both `[]` (nothing would use them).
   * Written to fargate.toml as `[Fargate.RegistryCredentials]`. Default: none (public registries, and ECR through
   * the execution role's managed policy).
   * @see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/private-auth.html
   */
  registryCredentials?: Record<string, pulumi.Input<string>>;
}

/** @see https://docs.gitlab.com/runner/configuration/advanced-configuration/#the-runnerscache-section */
export interface CacheArgs {
  /** Create the S3 bucket and let jobs use it as the distributed cache. Default true. */
  enabled?: boolean;
  /** Days after which cache objects expire. Default 14. */
  expirationDays?: number;
  /** Delete the bucket on `pulumi destroy` even when it holds objects. Default false. */
  forceDestroy?: boolean;
}

/** gitlab-runner global and `[[runners]]` settings. @see https://docs.gitlab.com/runner/configuration/advanced-configuration/ */
export interface RunnerArgs {
  /**
   * Runner name in config.toml, and the runner's description in GitLab when the stack creates it without a
   * description or registers with a legacy token: one line, at most 1024 characters. Default: the component name.
   */
  name?: string;
  /**
   * Jobs each manager runs at once (config.toml `concurrent`); with `manager.count` N the runner runs up to N times
   * this. Bounded by the manager's memory: see `manager.instanceType`. Default 10.
   */
  concurrent?: number;
  /** Seconds between job polls (config.toml `check_interval`). Default 3. */
  checkInterval?: number;
  /**
   * Minutes gitlab-runner may take to stop gracefully: on `systemctl stop`, a reboot, `pulumi destroy`, a lower
   * `manager.count` or the replacement of an instance, it gets SIGQUIT, takes no new job and finishes the ones it
   * runs; jobs still running after this many minutes are killed (and their tasks stopped). Whole minutes, 1 to 1440.
   * `pulumi up` and `pulumi destroy` wait for it while they drain an instance. Written as systemd's `TimeoutStopSec`
   * of gitlab-runner. Default 60.
   * @see https://docs.gitlab.com/runner/commands/#signals
   */
  drainTimeoutMinutes?: number;
}

/** Which jobs a runner created with `gitlab.createRunner` takes: of any branch or tag, or of protected ones only. */
export const RunnerAccessLevel = {
  /** Jobs of any branch or tag. */
  NotProtected: "not_protected",
  /** Only jobs of protected branches and tags. */
  RefProtected: "ref_protected",
} as const;
/** Which jobs a created runner takes: `not_protected` (any branch or tag) or `ref_protected` (protected only). */
export type RunnerAccessLevel = (typeof RunnerAccessLevel)[keyof typeof RunnerAccessLevel];

/**
 * Where the runner lives in GitLab. Give exactly one member: `instance: true` (an instance runner; the token's user
 * must be an administrator), `groupId` (a group runner; Owner role in the group) or `projectId` (a project runner;
 * Owner role in the project). Changing the scope replaces the runner.
 * See https://docs.gitlab.com/ci/runners/runners_scope/
 */
export interface RunnerScope {
  /**
   * `true`: an instance runner, available to every project (the access token's user must be an administrator).
   * Give exactly one of `instance`, `groupId` and `projectId`.
   */
  instance?: boolean;
  /**
   * A group runner in this group: GitLab's numeric group id (shown on the group's page); the access token's user
   * needs the Owner role in the group. Give exactly one of `instance`, `groupId` and `projectId`.
   */
  groupId?: number;
  /**
   * A project runner in this project: GitLab's numeric project id (shown on the project's page); the access token's
   * user needs the Owner role in the project. Give exactly one of `instance`, `groupId` and `projectId`.
   */
  projectId?: number;
}

/**
 * `gitlab.createRunner`: let the stack create the GitLab runner (and delete it on `pulumi destroy`) instead of
 * passing the `glrt-` token of a runner made by hand. Mutually exclusive with `gitlab.runnerToken` and
 * `gitlab.registrationToken`.
 * See https://docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user
 */
export interface CreateRunnerArgs {
  /**
   * A GitLab personal, group or project access token with the `create_runner` scope (to create the runner) and the
   * `manage_runner` scope (to update and delete it; GitLab 17.1+, the `api` scope on older versions). Its user needs
   * the Owner role in the group or project (administrator for an instance runner). Always stored as a secret, even
   * when passed as a plain string; use `config.requireSecret(...)`.
   * Required. See https://docs.gitlab.com/security/tokens/access_token_scopes/
   */
  accessToken: pulumi.Input<string>;
  /**
   * Instance, group or project runner: exactly one of `{ instance: true }`, `{ groupId }` and `{ projectId }` (see
   * `RunnerScope`). Required. Changing it replaces the runner.
   */
  scope: RunnerScope;
  /**
   * The runner's description, shown in GitLab's runner list: at most 1024 characters (GitLab's limit, checked before
   * any call). Default: the runner's name (`runner.name`, else the name of the component).
   * See https://docs.gitlab.com/api/runners/#update-runners-details
   */
  description?: string;
  /**
   * Runner tags: jobs with `tags:` run here only if all their tags are in this list. At most 50 (GitLab's limit),
   * each a non-empty string without commas or surrounding spaces, none twice. Default: no tags.
   * See https://docs.gitlab.com/ci/yaml/#tags
   */
  tags?: string[];
  /**
   * Whether the runner also picks jobs that have no `tags:`. Default: `true` when `tags` is empty (GitLab requires
   * it then), `false` when tags are given. See https://docs.gitlab.com/ci/runners/configure_runners/#use-tags-to-control-which-jobs-a-runner-can-run
   */
  runUntagged?: boolean;
  /**
   * Project runners only: lock the runner to its project so it cannot be enabled in other projects.
   * Default: `true` for a project runner. Not allowed for instance and group runners.
   * See https://docs.gitlab.com/ci/runners/runners_scope/#prevent-a-project-runner-from-being-enabled-for-other-projects
   */
  locked?: boolean;
  /**
   * `"not_protected"`: run jobs of any branch or tag. `"ref_protected"`: run only jobs of protected branches and
   * tags (use it when jobs get deployment credentials). Default: `"not_protected"` (GitLab's default).
   * See https://docs.gitlab.com/ci/runners/configure_runners/#prevent-runners-from-revealing-sensitive-information
   */
  accessLevel?: RunnerAccessLevel;
  /**
   * Maximum job timeout in seconds for jobs on this runner (GitLab requires at least 600). Default: none (each
   * project's own timeout applies). See https://docs.gitlab.com/ci/runners/configure_runners/#set-the-maximum-job-timeout
   */
  maximumTimeout?: number;
  /** Create the runner paused (it picks no jobs until resumed). Default: `false`. */
  paused?: boolean;
  /**
   * Free-form maintenance note shown to GitLab administrators (at most 1024 characters). Default: a note saying
   * the runner is managed by this Pulumi component.
   */
  maintenanceNote?: string;
}
