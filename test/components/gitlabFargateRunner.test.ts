import { strict as assert } from "node:assert";
import type * as Components from "../../components";
import {
  ACCOUNT_ID,
  CapturedResource,
  installMocks,
  isSecretOutput,
  plainOccurrences,
  REGION,
  ResourceRecorder,
  settle,
  unwrapSecrets,
  valueOf,
} from "../support/pulumiMocks";

const T = {
  vpc: "awsx:ec2:Vpc",
  eip: "aws:ec2/eip:Eip",
  sg: "aws:ec2/securityGroup:SecurityGroup",
  ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
  repository: "awsx:ecr:Repository",
  image: "awsx:ecr:Image",
  cluster: "aws:ecs/cluster:Cluster",
  capacity: "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders",
  taskDefinition: "aws:ecs/taskDefinition:TaskDefinition",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  profile: "aws:iam/instanceProfile:InstanceProfile",
  instance: "aws:ec2/instance:Instance",
  keyPair: "aws:ec2/keyPair:KeyPair",
  sshKey: "tls:index/privateKey:PrivateKey",
  bucket: "aws:s3/bucket:Bucket",
  publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
};

const TOKEN = "glrt-test-token-9f8e7d6c5b4a";
const ADMIN = "203.0.113.7/32";

interface PolicyStatement {
  Sid: string;
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

let recorder: ResourceRecorder;
let components: typeof Components;
let counter = 0;

/** A runner with the required arguments plus `extra`, fully registered; returns it and its resources. */
async function deploy(extra: Partial<Components.GitLabFargateRunnerArgs> = {}) {
  const name = `rn${++counter}`;
  const runner = new components.GitLabFargateRunner(name, {
    gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
    admin: { sshCidrBlocks: [ADMIN] },
    ...extra,
  });
  await valueOf(runner.managerPublicIp);
  await settle();
  const one = (type: string, part?: string) => recorder.one(name, type, part);
  const all = (type: string) => recorder.ofType(name, type);
  return { name, runner, one, all, resources: recorder.of(name) };
}

type Deployment = Awaited<ReturnType<typeof deploy>>;
const deployments = new Map<string, Promise<Deployment>>();

/**
 * Creating resources under mocks costs ~10 ms each (Pulumi records a stack trace per resource), so tests that only
 * read a deployment share one per distinct set of arguments.
 */
function deployed(extra: Partial<Components.GitLabFargateRunnerArgs> = {}): Promise<Deployment> {
  const key = JSON.stringify(extra);
  if (!deployments.has(key)) deployments.set(key, deploy(extra));
  return deployments.get(key)!;
}

function statements(policy: CapturedResource): PolicyStatement[] {
  return JSON.parse(policy.inputs.policy).Statement;
}

function containerOf(taskDefinition: CapturedResource) {
  const containers = JSON.parse(taskDefinition.inputs.containerDefinitions);
  assert.equal(containers.length, 1);
  return containers[0];
}

describe("GitLabFargateRunner (Pulumi mocks)", function () {
  before(async () => {
    recorder = await installMocks();
    components = await import("../../components");
  });

  describe("the component", () => {
    it("registers with type token gitlab-fargate-runner:index:GitLabFargateRunner and no inputs of its own", async () => {
      const { name } = await deployed();
      const component = recorder.resources.find((r) => r.name === name);
      assert.equal(component?.type, "gitlab-fargate-runner:index:GitLabFargateRunner");
      assert.deepEqual(component?.inputs, {});
    });

    it("names every child <name>-<part>", async () => {
      const { name, resources } = await deployed();
      const children = resources.filter((r) => r.name !== name);
      assert.ok(children.length > 20);
      for (const child of children) assert.match(child.name, new RegExp(`^${name}-[a-z0-9-]+$`));
    });

    it("exposes every output the issue lists, with the values of its resources", async () => {
      const { name, runner, one, all } = await deployed();
      const vpc = one(T.vpc);
      assert.equal(await valueOf(runner.vpcId), `vpc-${vpc.name}`);
      assert.deepEqual(await valueOf(runner.privateSubnetIds), [
        `subnet-priv1-${vpc.name}`,
        `subnet-priv2-${vpc.name}`,
      ]);
      assert.equal(await valueOf(runner.clusterName), `${one(T.cluster).name}-c0ffee`);
      assert.match(await valueOf(runner.clusterArn), /^arn:aws:ecs:eu-west-1:123456789012:cluster\//);
      assert.match(await valueOf(runner.taskDefinitionArn), /:task-definition\/gitlab-rn\d+-test:3$/);
      assert.equal(await valueOf(runner.taskSecurityGroupId), one(T.sg, "task-sg").id);
      assert.equal(await valueOf(runner.managerSecurityGroupId), one(T.sg, "manager-sg").id);
      assert.equal(await valueOf(runner.managerInstanceId), one(T.instance).id);
      assert.match(await valueOf(runner.managerPublicIp), /^198\.51\.100\.\d+$/);
      assert.match(await valueOf(runner.imageUri), /\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/.+@sha256:/);
      assert.equal(await valueOf(runner.cacheBucketName), `${one(T.bucket).name}-b4cket`);
      assert.equal(await valueOf(runner.logGroupName), `/gitlab-runner/${name}/${one(T.logGroup).name}`);
      assert.equal(all(T.eip).length, 2);
    });

    it("keeps what the registration step needs: SSH target, secret key, cluster, subnets, SG, task definition", async () => {
      const { runner, one, all } = await deployed();
      assert.equal(runner.managerSshUser, "ubuntu");
      assert.ok(await isSecretOutput(runner.managerSshPrivateKey));
      assert.match(await valueOf(runner.managerSshPrivateKey), /BEGIN OPENSSH PRIVATE KEY/);
      assert.equal(await valueOf(runner.region), REGION);
      assert.deepEqual(await valueOf(runner.taskSubnetIds), await valueOf(runner.privateSubnetIds));
      assert.equal(runner.tasksUsePublicIp, false);
      assert.equal(await valueOf(runner.taskDefinition), `${one(T.taskDefinition).inputs.family}:3`);
      assert.equal(runner.containerName, "ci-coordinator");
      assert.equal(runner.platformVersion, "LATEST");
      assert.equal(await valueOf(runner.cacheBucketRegion), REGION);
      const ready = await Promise.all(runner.jobInfrastructure.map((r) => valueOf(r.urn)));
      assert.deepEqual(
        ready.map((urn) => urn.split("::").at(-1)),
        [
          one(T.capacity).name,
          one(T.rolePolicy, "manager-policy").name,
          one(T.taskDefinition).name,
          one(T.ingress, "task-ssh-from-manager").name,
          ...all(T.egress)
            .filter((rule) => rule.name.includes("-task-out-"))
            .map((rule) => rule.name),
        ],
      );
    });
  });

  describe("network", () => {
    it("creates an awsx VPC in 2 AZs with public and private subnets and one NAT gateway on an EIP it owns", async () => {
      const { runner, one, all } = await deployed();
      const vpc = one(T.vpc).inputs;
      assert.equal(vpc.numberOfAvailabilityZones, 2);
      assert.deepEqual(
        vpc.subnetSpecs.map((s: { type: string }) => s.type),
        ["Public", "Private"],
      );
      assert.equal(vpc.natGateways.strategy, "Single");
      const natEip = one(T.eip, "nat-eip-1");
      assert.deepEqual(vpc.natGateways.elasticIpAllocationIds, [`eipalloc-${natEip.name}`]);
      assert.equal(all(T.eip).length, 2, "the NAT EIP and the manager EIP");
      const egress = await valueOf(runner.egressIps);
      assert.equal(egress.length, 2);
      assert.equal(egress[0], await valueOf(runner.managerPublicIp));
    });

    it("creates one NAT gateway per AZ on request, and lists all their IPs as egress IPs", async () => {
      const { runner, one } = await deployed({ network: { natGateways: "onePerAz", availabilityZoneCount: 3 } });
      const vpc = one(T.vpc).inputs;
      assert.equal(vpc.natGateways.strategy, "OnePerAz");
      assert.equal(vpc.natGateways.elasticIpAllocationIds.length, 3);
      assert.equal(new Set(await valueOf(runner.egressIps)).size, 4);
    });

    it("uses the caller's VPC and subnets: no VPC, no NAT, manager in the first public subnet, tasks in the private ones", async () => {
      const { name, runner, one, all } = await deployed({
        network: {
          existing: {
            vpcId: "vpc-0a0b0c0d",
            publicSubnetIds: ["subnet-0a000001", "subnet-0a000002"],
            privateSubnetIds: ["subnet-0b000001"],
          },
        },
      });
      assert.equal(all(T.vpc).length, 0);
      assert.deepEqual(
        all(T.eip).map((e) => e.name),
        [`${name}-manager-eip`],
      );
      assert.equal(one(T.sg, "manager-sg").inputs.vpcId, "vpc-0a0b0c0d");
      assert.equal(one(T.sg, "task-sg").inputs.vpcId, "vpc-0a0b0c0d");
      assert.equal(one(T.instance).inputs.subnetId, "subnet-0a000001");
      assert.deepEqual(await valueOf(runner.taskSubnetIds), ["subnet-0b000001"]);
      assert.deepEqual(await valueOf(runner.egressIps), [await valueOf(runner.managerPublicIp)]);
    });

    it("public-task mode: public subnets only, no NAT, tasks get public IPs, SSH still only from the manager SG", async () => {
      const { runner, one, all } = await deployed({ network: { taskPlacement: "public" } });
      const vpc = one(T.vpc).inputs;
      assert.deepEqual(vpc.subnetSpecs, [{ type: "Public" }]);
      assert.deepEqual(vpc.natGateways, { strategy: "None" });
      assert.equal(all(T.eip).length, 1, "only the manager's EIP");
      assert.equal(runner.tasksUsePublicIp, true);
      assert.equal(runner.connectToTaskPublicIp, false, "a SG reference only matches traffic to the private IP");
      assert.deepEqual(await valueOf(runner.taskSubnetIds), await valueOf(runner.publicSubnetIds));
      const taskIngress = all(T.ingress).filter((r) => r.inputs.securityGroupId === one(T.sg, "task-sg").id);
      assert.equal(taskIngress.length, 1);
      assert.equal(taskIngress[0].inputs.referencedSecurityGroupId, one(T.sg, "manager-sg").id);
      assert.equal(taskIngress[0].inputs.cidrIpv4, undefined);
    });
  });

  describe("security groups", () => {
    it("manager SG lets TCP 22 in only from admin.sshCidrBlocks (IPv4 and IPv6)", async () => {
      const { one, all } = await deployed({ admin: { sshCidrBlocks: [ADMIN, "2001:db8::/48"] } });
      const managerSg = one(T.sg, "manager-sg").id;
      const ingress = all(T.ingress).filter((r) => r.inputs.securityGroupId === managerSg);
      assert.deepEqual(
        ingress.map((r) => [r.inputs.fromPort, r.inputs.toPort, r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6]),
        [
          [22, 22, ADMIN],
          [22, 22, "2001:db8::/48"],
        ],
      );
    });

    it("task SG lets TCP 22 in only from the manager SG, by reference and never by CIDR", async () => {
      const { one, all } = await deployed();
      const taskSg = one(T.sg, "task-sg").id;
      const ingress = all(T.ingress).filter((r) => r.inputs.securityGroupId === taskSg);
      assert.equal(ingress.length, 1);
      const rule = ingress[0].inputs;
      assert.deepEqual([rule.ipProtocol, rule.fromPort, rule.toPort], ["tcp", 22, 22]);
      assert.equal(rule.referencedSecurityGroupId, one(T.sg, "manager-sg").id);
      assert.equal(rule.cidrIpv4 ?? rule.cidrIpv6, undefined);
    });

    it("egress: manager to the web (80, 443) and SSH to tasks; tasks to 443 only", async () => {
      const { one, all } = await deployed();
      const managerSg = one(T.sg, "manager-sg").id;
      const taskSg = one(T.sg, "task-sg").id;
      const rules = (sg: string) =>
        all(T.egress)
          .filter((r) => r.inputs.securityGroupId === sg)
          .map((r) => `${r.inputs.fromPort}->${r.inputs.cidrIpv4 ?? r.inputs.referencedSecurityGroupId}`)
          .sort();
      assert.deepEqual(rules(managerSg), [`22->${taskSg}`, "443->0.0.0.0/0", "80->0.0.0.0/0"]);
      assert.deepEqual(rules(taskSg), ["443->0.0.0.0/0"]);
    });

    it("opens the GitLab URL's own port when it is not 443", async () => {
      const { one, all } = await deployed({ gitlab: { url: "https://git.example.com:8443", runnerToken: TOKEN } });
      const taskSg = one(T.sg, "task-sg").id;
      const taskPorts = all(T.egress)
        .filter((r) => r.inputs.securityGroupId === taskSg)
        .map((r) => r.inputs.fromPort);
      assert.deepEqual(taskPorts.sort(), [443, 8443]);
    });
  });

  describe("registry and image", () => {
    it("creates an ECR repository with scan on push, a keep-last-N lifecycle and no force delete", async () => {
      const { one } = await deployed();
      const repo = one(T.repository).inputs;
      assert.deepEqual(repo.imageScanningConfiguration, { scanOnPush: true });
      assert.equal(repo.forceDelete, false);
      assert.deepEqual(repo.lifecyclePolicy.rules, [
        { description: "keep the last 10 images", tagStatus: "any", maximumNumberOfImages: 10 },
      ]);
    });

    it("builds images/ci-coordinator for linux/amd64 into that repository", async () => {
      const { one } = await deployed({ jobs: { build: { keepImages: 3, forceDelete: true } } });
      const image = one(T.image).inputs;
      assert.equal(image.platform, "linux/amd64");
      assert.match(image.context, /[/\\]images[/\\]ci-coordinator$/);
      assert.equal(image.repositoryUrl, `${ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/${one(T.repository).name}`);
      assert.equal(one(T.repository).inputs.lifecyclePolicy.rules[0].maximumNumberOfImages, 3);
      assert.equal(one(T.repository).inputs.forceDelete, true);
    });

    it("arm64: builds linux/arm64 and asks Fargate for ARM64", async () => {
      const { one } = await deployed({ jobs: { architecture: "arm64" } });
      assert.equal(one(T.image).inputs.platform, "linux/arm64");
      assert.deepEqual(one(T.taskDefinition).inputs.runtimePlatform, {
        operatingSystemFamily: "LINUX",
        cpuArchitecture: "ARM64",
      });
    });

    it("external image with a credentials secret: no ECR, repositoryCredentials, execution role reads only that secret", async () => {
      const secretArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:registry-creds-AbCdEf`;
      const { runner, one, all } = await deployed({
        jobs: { image: { uri: "registry.example.com/ci/coordinator:1.4", credentialsSecretArn: secretArn } },
      });
      assert.equal(all(T.repository).length + all(T.image).length, 0);
      const container = containerOf(one(T.taskDefinition));
      assert.equal(container.image, "registry.example.com/ci/coordinator:1.4");
      assert.deepEqual(container.repositoryCredentials, { credentialsParameter: secretArn });
      const secrets = statements(one(T.rolePolicy, "execution-secrets")).find((s) => s.Sid === "ReadSecrets");
      assert.equal(secrets?.Resource, secretArn);
      assert.equal(await valueOf(runner.imageUri), "registry.example.com/ci/coordinator:1.4");
    });
  });

  describe("cluster and task definition", () => {
    it("gives the cluster FARGATE and FARGATE_SPOT and a default strategy of FARGATE (no 'No Container Instances')", async () => {
      const { one } = await deployed();
      const capacity = one(T.capacity).inputs;
      assert.equal(capacity.clusterName, `${one(T.cluster).name}-c0ffee`);
      assert.deepEqual(capacity.capacityProviders, ["FARGATE", "FARGATE_SPOT"]);
      assert.deepEqual(capacity.defaultCapacityProviderStrategies, [
        { capacityProvider: "FARGATE", weight: 1, base: 0 },
      ]);
    });

    it("spot: prefers FARGATE_SPOT with an on-demand FARGATE base", async () => {
      const { one } = await deployed({ jobs: { capacityProvider: "FARGATE_SPOT", onDemandBase: 2 } });
      assert.deepEqual(one(T.capacity).inputs.defaultCapacityProviderStrategies, [
        { capacityProvider: "FARGATE_SPOT", weight: 1, base: 0 },
        { capacityProvider: "FARGATE", weight: 0, base: 2 },
      ]);
    });

    it("task definition: FARGATE, awsvpc, 1024/2048, X86_64, the execution and task roles", async () => {
      const { one } = await deployed();
      const td = one(T.taskDefinition).inputs;
      assert.deepEqual(td.requiresCompatibilities, ["FARGATE"]);
      assert.equal(td.networkMode, "awsvpc");
      assert.equal(td.cpu, "1024");
      assert.equal(td.memory, "2048");
      assert.equal(td.runtimePlatform.cpuArchitecture, "X86_64");
      assert.equal(td.ephemeralStorage, undefined);
      assert.equal(td.executionRoleArn, `arn:aws:iam::${ACCOUNT_ID}:role/${one(T.role, "execution-role").name}-r0le`);
      assert.equal(td.taskRoleArn, `arn:aws:iam::${ACCOUNT_ID}:role/${one(T.role, "task-role").name}-r0le`);
    });

    it("one essential container named ci-coordinator, port 22/tcp, awslogs to the log group (14 days)", async () => {
      const { one } = await deployed();
      const container = containerOf(one(T.taskDefinition));
      const logGroup = one(T.logGroup);
      assert.equal(container.name, "ci-coordinator");
      assert.equal(container.essential, true);
      assert.deepEqual(container.portMappings, [{ containerPort: 22, hostPort: 22, protocol: "tcp" }]);
      assert.equal(container.logConfiguration.logDriver, "awslogs");
      assert.equal(
        container.logConfiguration.options["awslogs-group"],
        `${logGroup.inputs.namePrefix}${logGroup.name}`,
      );
      assert.equal(container.logConfiguration.options["awslogs-region"], REGION);
      assert.equal(logGroup.inputs.retentionInDays, 14);
      assert.equal(container.repositoryCredentials, undefined);
    });

    it("takes a valid cpu/memory pair, ephemeral storage, log retention and platform version", async () => {
      const { runner, one } = await deployed({
        jobs: { cpu: 4096, memory: 30720, ephemeralStorageGiB: 100, logRetentionDays: 30, platformVersion: "1.4.0" },
      });
      const td = one(T.taskDefinition).inputs;
      assert.deepEqual([td.cpu, td.memory], ["4096", "30720"]);
      assert.deepEqual(td.ephemeralStorage, { sizeInGib: 100 });
      assert.equal(one(T.logGroup).inputs.retentionInDays, 30);
      assert.equal(runner.platformVersion, "1.4.0");
    });
  });

  describe("IAM", () => {
    it("execution role: AWS's managed ECS task execution policy and no secret read without registry credentials", async () => {
      const { one, all } = await deployed();
      assert.equal(
        one(T.attachment, "execution-managed").inputs.policyArn,
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
      );
      assert.ok(all(T.rolePolicy).every((p) => !p.name.endsWith("-execution-secrets")));
      const assume = JSON.parse(one(T.role, "execution-role").inputs.assumeRolePolicy).Statement[0];
      assert.deepEqual(assume.Principal, { Service: "ecs-tasks.amazonaws.com" });
    });

    it("task role: no permissions by default, the given policy ARNs on request", async () => {
      const plain = await deployed();
      assert.equal(plain.all(T.attachment).filter((a) => a.name.includes("task-policy")).length, 0);
      assert.equal(
        plain.all(T.rolePolicy).filter((p) => p.inputs.role === plain.one(T.role, "task-role").id).length,
        0,
      );
      const arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
      const withPolicy = await deployed({ jobs: { taskRolePolicyArns: [arn] } });
      const attachment = withPolicy.one(T.attachment, "task-policy-1").inputs;
      assert.deepEqual(attachment, { role: `${withPolicy.one(T.role, "task-role").name}-r0le`, policyArn: arn });
    });

    it("manager: RunTask only on this family and cluster; Describe/Stop/List conditioned on this cluster", async () => {
      const { runner, one } = await deployed();
      const clusterArn = await valueOf(runner.clusterArn);
      const clusterName = await valueOf(runner.clusterName);
      const family = one(T.taskDefinition).inputs.family;
      const s = Object.fromEntries(statements(one(T.rolePolicy, "manager-policy")).map((st) => [st.Sid, st]));
      assert.deepEqual(s.RunJobTasks.Action, ["ecs:RunTask"]);
      assert.equal(s.RunJobTasks.Resource, `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:task-definition/${family}:*`);
      assert.deepEqual(s.RunJobTasks.Condition, { ArnEquals: { "ecs:cluster": clusterArn } });
      assert.deepEqual(s.WatchAndStopJobTasks.Action, ["ecs:DescribeTasks", "ecs:StopTask"]);
      assert.equal(s.WatchAndStopJobTasks.Resource, `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:task/${clusterName}/*`);
      assert.deepEqual(s.WatchAndStopJobTasks.Condition, { ArnEquals: { "ecs:cluster": clusterArn } });
      assert.deepEqual(s.FindOrphanedJobTasks.Action, ["ecs:ListTasks"]);
      assert.deepEqual(s.FindOrphanedJobTasks.Condition, { ArnEquals: { "ecs:cluster": clusterArn } });
      assert.deepEqual(s.TagTasksAtLaunch.Condition, { StringEquals: { "ecs:CreateAction": "RunTask" } });
    });

    it("manager: PassRole only the execution and task roles, only to ecs-tasks.amazonaws.com", async () => {
      const { runner, one } = await deployed();
      const pass = statements(one(T.rolePolicy, "manager-policy")).find((st) => st.Action.includes("iam:PassRole"));
      assert.deepEqual(pass?.Resource, [await valueOf(runner.executionRoleArn), await valueOf(runner.taskRoleArn)]);
      assert.deepEqual(pass?.Condition, { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } });
    });

    it("manager: S3 object access on the cache bucket only; no wildcard action, no Resource * in private mode", async () => {
      const { one } = await deployed();
      const all = statements(one(T.rolePolicy, "manager-policy"));
      const s3 = all.filter((st) => st.Action.some((a) => a.startsWith("s3:")));
      assert.equal(s3.length, 1);
      assert.equal(s3[0].Resource, `arn:aws:s3:::${one(T.bucket).name}-b4cket/*`);
      for (const st of all) {
        for (const action of st.Action) assert.doesNotMatch(action, /\*/);
        assert.notEqual(st.Resource, "*");
      }
      assert.ok(!all.some((st) => st.Action.includes("ec2:DescribeNetworkInterfaces")));
    });

    it("manager: no Resource * and no ec2:DescribeNetworkInterfaces, also in public-task mode", async () => {
      const { one } = await deployed({ network: { taskPlacement: "public" } });
      const all = statements(one(T.rolePolicy, "manager-policy"));
      assert.ok(all.length > 0);
      assert.deepEqual(
        all.filter((st) => st.Resource === "*" || st.Action.includes("ec2:DescribeNetworkInterfaces")),
        [],
      );
    });

    it("manager: no S3 permission when the cache is off", async () => {
      const { runner, one, all } = await deployed({ cache: { enabled: false } });
      assert.equal(all(T.bucket).length, 0);
      assert.ok(
        !statements(one(T.rolePolicy, "manager-policy")).some((st) => st.Action.some((a) => a.startsWith("s3:"))),
      );
      assert.equal(await valueOf(runner.cacheBucketName), undefined);
      assert.equal(await valueOf(runner.cacheBucketRegion), undefined);
    });

    it("manager role is assumed by EC2 and reaches the instance through its instance profile", async () => {
      const { one } = await deployed();
      const assume = JSON.parse(one(T.role, "manager-role").inputs.assumeRolePolicy).Statement[0];
      assert.deepEqual(assume.Principal, { Service: "ec2.amazonaws.com" });
      assert.equal(one(T.profile).inputs.role, `${one(T.role, "manager-role").name}-r0le`);
      assert.equal(one(T.instance).inputs.iamInstanceProfile, `${one(T.profile).name}-pr0file`);
    });
  });

  describe("manager instance", () => {
    it("Ubuntu 24.04 from Canonical, small type, IMDSv2 required, encrypted gp3 root, in a public subnet", async () => {
      const { one } = await deployed();
      const inputs = one(T.instance).inputs;
      assert.equal(inputs.instanceType, "t3.small");
      assert.equal(inputs.ami, "ami-ubuntu-noble-x86_64");
      assert.equal(inputs.metadataOptions.httpTokens, "required");
      assert.deepEqual([inputs.rootBlockDevice.volumeType, inputs.rootBlockDevice.encrypted], ["gp3", true]);
      assert.equal(inputs.subnetId, `subnet-pub1-${one(T.vpc).name}`);
      assert.deepEqual(inputs.vpcSecurityGroupIds, [one(T.sg, "manager-sg").id]);
      const lookups = recorder.calls.filter((c) => c.token === "aws:ec2/getAmi:getAmi");
      assert.ok(lookups.length > 0);
      for (const lookup of lookups) {
        assert.deepEqual(lookup.inputs.owners, ["099720109477"]);
        assert.match(JSON.stringify(lookup.inputs.filters), /ubuntu-noble-24\.04-(amd64|arm64)-server/);
      }
    });

    it("a Graviton instance type (t4g) gets the arm64 Ubuntu AMI", async () => {
      const { one } = await deployed({ manager: { instanceType: "t4g.small" } });
      assert.equal(one(T.instance).inputs.ami, "ami-ubuntu-noble-arm64");
    });

    it("uses the caller's AMI when given", async () => {
      const { one } = await deployed({ manager: { amiId: "ami-0123456789abcdef0" } });
      assert.equal(one(T.instance).inputs.ami, "ami-0123456789abcdef0");
    });

    it("has an Elastic IP attached, which is managerPublicIp", async () => {
      const { runner, one } = await deployed();
      const eip = one(T.eip, "manager-eip");
      assert.equal(eip.inputs.instance, one(T.instance).id);
      assert.equal(eip.inputs.domain, "vpc");
      assert.ok((await valueOf(runner.egressIps)).includes(await valueOf(runner.managerPublicIp)));
    });

    it("generates an ED25519 SSH key, installs its public half and keeps the private half secret", async () => {
      const { runner, one } = await deployed();
      assert.equal(one(T.sshKey).inputs.algorithm, "ED25519");
      assert.match(one(T.keyPair).inputs.publicKey, /^ssh-ed25519 /);
      assert.equal(one(T.instance).inputs.keyName, `${one(T.keyPair).name}-k3y`);
      assert.ok(await isSecretOutput(runner.managerSshPrivateKey));
    });

    it("uses the caller's SSH key instead, its private key still secret", async () => {
      const privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\ncaller\n-----END OPENSSH PRIVATE KEY-----\n";
      const { runner, one, all } = await deployed({
        manager: { sshKey: { publicKey: "ssh-ed25519 AAAAcaller me@laptop", privateKey } },
      });
      assert.equal(all(T.sshKey).length, 0);
      assert.equal(one(T.keyPair).inputs.publicKey, "ssh-ed25519 AAAAcaller me@laptop");
      assert.ok(await isSecretOutput(runner.managerSshPrivateKey));
      assert.equal(await valueOf(runner.managerSshPrivateKey), privateKey);
    });

    it("takes its user data from the bootstrap seam", async () => {
      const { managerUserData } = await import("../../components/manager/bootstrap");
      const { one } = await deployed();
      assert.equal(one(T.instance).inputs.userData, managerUserData({ architecture: "amd64" }));
    });
  });

  describe("cache bucket", () => {
    it("is encrypted, private, bucket-owner-enforced, expires objects after 14 days, not force-destroyed", async () => {
      const { one } = await deployed();
      const bucket = one(T.bucket);
      assert.equal(bucket.inputs.forceDestroy, false);
      assert.equal(one(T.encryption).inputs.bucket, bucket.id);
      assert.equal(one(T.encryption).inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
      const pab = one(T.publicAccess).inputs;
      assert.deepEqual(
        [pab.bucket, pab.blockPublicAcls, pab.blockPublicPolicy, pab.ignorePublicAcls, pab.restrictPublicBuckets],
        [bucket.id, true, true, true, true],
      );
      assert.equal(one(T.ownership).inputs.rule.objectOwnership, "BucketOwnerEnforced");
      assert.equal(one(T.lifecycle).inputs.rules[0].expiration.days, 14);
      assert.equal(one(T.lifecycle).inputs.rules[0].status, "Enabled");
    });

    it("takes expiration days and force-destroy", async () => {
      const { one } = await deployed({ cache: { expirationDays: 3, forceDestroy: true } });
      assert.equal(one(T.bucket).inputs.forceDestroy, true);
      assert.equal(one(T.lifecycle).inputs.rules[0].expiration.days, 3);
    });
  });

  describe("tags", () => {
    it("puts the caller's tags and the runner tag on every taggable resource", async () => {
      const { name, resources } = await deployed({ tags: { team: "platform", "cost-center": "42" } });
      const taggable = [
        T.vpc,
        T.eip,
        T.sg,
        T.ingress,
        T.egress,
        T.repository,
        T.cluster,
        T.taskDefinition,
        T.logGroup,
        T.role,
        T.profile,
        T.instance,
        T.keyPair,
        T.bucket,
      ];
      const checked = resources.filter((r) => taggable.includes(r.type));
      assert.ok(checked.length >= 20);
      for (const resource of checked) {
        const tags = resource.inputs.tags;
        assert.equal(tags?.team, "platform", `${resource.name} lacks the caller's tags`);
        assert.equal(tags?.["cost-center"], "42");
        assert.equal(tags?.["gitlab-fargate-runner"], name, `${resource.name} lacks the runner tag`);
      }
    });
  });

  describe("secrets", () => {
    it("the runner token appears in no resource input except secret-wrapped", async () => {
      const { name, runner } = await deployed();
      const found = recorder.of(name).flatMap((r) => plainOccurrences(r.inputs, TOKEN).map((p) => `${r.name}.${p}`));
      assert.deepEqual(found, []);
      assert.ok(!JSON.stringify(Object.keys(runner)).includes(TOKEN));
      // Sanity of the probe itself: it does see the token when it is not wrapped.
      assert.deepEqual(plainOccurrences({ a: [{ b: `x${TOKEN}` }] }, TOKEN), ["a[0].b"]);
      assert.deepEqual(unwrapSecrets({ a: { "4dabf18193072939515e22adb298388d": "1b47", value: TOKEN } }), {
        a: TOKEN,
      });
    });

    it("a legacy registration token is accepted and kept out of every input too", async () => {
      const legacy = "GR1348941legacy-registration";
      const { name } = await deployed({ gitlab: { url: "https://gitlab.example.com", registrationToken: legacy } });
      const found = recorder.of(name).flatMap((r) => plainOccurrences(r.inputs, legacy));
      assert.deepEqual(found, []);
    });
  });

  describe("two runners in one program", () => {
    it("share one own VPC without URN or name collisions, each scoped to its own cluster", async () => {
      const network = {
        existing: {
          vpcId: "vpc-05a4ed00",
          publicSubnetIds: ["subnet-0a000001"],
          privateSubnetIds: ["subnet-0b000001", "subnet-0b000002"],
        },
      };
      const base = {
        gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
        admin: { sshCidrBlocks: [ADMIN] },
      };
      const small = new components.GitLabFargateRunner("platform-small", { ...base, network });
      const large = new components.GitLabFargateRunner("platform-large", {
        ...base,
        network,
        jobs: { cpu: 4096, memory: 8192 },
      });
      await Promise.all([valueOf(small.managerPublicIp), valueOf(large.managerPublicIp)]);
      await settle();
      const names = [...recorder.of("platform-small"), ...recorder.of("platform-large")].map(
        (r) => `${r.type}::${r.name}`,
      );
      assert.equal(new Set(names).size, names.length, "duplicate type+name means a URN collision");
      assert.notEqual(await valueOf(small.clusterArn), await valueOf(large.clusterArn));
      assert.notEqual(small.taskDefinitionFamily, large.taskDefinitionFamily);
      const runArn = (component: string) =>
        statements(recorder.one(component, T.rolePolicy, "manager-policy")).find((s) => s.Sid === "RunJobTasks")
          ?.Condition;
      assert.deepEqual(runArn("platform-small"), { ArnEquals: { "ecs:cluster": await valueOf(small.clusterArn) } });
      assert.deepEqual(runArn("platform-large"), { ArnEquals: { "ecs:cluster": await valueOf(large.clusterArn) } });
      for (const sg of recorder.resources.filter((r) => r.type === T.sg && r.name.startsWith("platform-"))) {
        assert.equal(sg.inputs.vpcId, "vpc-05a4ed00");
      }
    });

    it("refuses a second runner with the same name, or a name that would collide with another's children", () => {
      const args = {
        gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
        admin: { sshCidrBlocks: [ADMIN] },
      };
      new components.GitLabFargateRunner("dup", args);
      assert.throws(
        () => new components.GitLabFargateRunner("dup", args),
        /invalid name: "dup" collides with the runner "dup"/,
      );
      assert.throws(() => new components.GitLabFargateRunner("dup-cache", args), /collides with the runner "dup"/);
    });
  });
});
