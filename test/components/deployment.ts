/**
 * GitLabFargateRunner deployed under Pulumi mocks, for the tests of the component and of the parts it creates
 * (test/components/aws/…): each suite installs its own mocks with `fixture.install()` in `before`, then reads
 * deployments that `fixture.deployed(extra)` shares per distinct set of arguments.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type * as Components from "../../components";
import { CapturedResource, installMocks, ResourceRecorder, settle, valueOf } from "../support/pulumiMocks";

/** Resource types, by short name. */
export const T = {
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
  command: "command:remote:Command",
  copy: "command:remote:CopyToRemote",
  keyPair: "aws:ec2/keyPair:KeyPair",
  sshKey: "tls:index/privateKey:PrivateKey",
  bucket: "aws:s3/bucket:Bucket",
  publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
};

export const TOKEN = "glrt-test-token-9f8e7d6c5b4a";
export const ADMIN = "203.0.113.7/32";

export interface PolicyStatement {
  Sid: string;
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** A runner with the required arguments plus extra ones, fully registered, and its resources. */
export interface Deployment {
  name: string;
  runner: Components.GitLabFargateRunner;
  /** The single resource of `type` (named `<name>-<part>` when `part` is given). */
  one(type: string, part?: string): CapturedResource;
  /** Every resource of `type`. */
  all(type: string): CapturedResource[];
  resources: CapturedResource[];
}

export class ComponentFixture {
  recorder!: ResourceRecorder;
  components!: typeof Components;
  private counter = 0;
  private readonly deployments = new Map<string, Promise<Deployment>>();

  /** Installs mocks with a fresh recorder and loads the package; call from the suite's `before`. */
  async install(): Promise<ResourceRecorder> {
    this.recorder = await installMocks();
    giveInstancesPrivateIps();
    this.components = await import("../../components");
    this.deployments.clear();
    return this.recorder;
  }

  /** A runner with the required arguments plus `extra`, fully registered; returns it and its resources. */
  deploy = async (extra: Partial<Components.GitLabFargateRunnerArgs> = {}): Promise<Deployment> => {
    const recorder = this.recorder;
    const name = `rn${++this.counter}`;
    const runner = new this.components.GitLabFargateRunner(name, {
      gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
      admin: { sshCidrBlocks: [ADMIN] },
      ...extra,
    });
    await valueOf(runner.managerPublicIp);
    await settle();
    const one = (type: string, part?: string) => recorder.one(name, type, part);
    const all = (type: string) => recorder.ofType(name, type);
    return { name, runner, one, all, resources: recorder.of(name) };
  };

  /**
   * Creating resources under mocks costs ~10 ms each (Pulumi records a stack trace per resource), so tests that only
   * read a deployment share one per distinct set of arguments.
   */
  deployed = (extra: Partial<Components.GitLabFargateRunnerArgs> = {}): Promise<Deployment> => {
    const key = JSON.stringify(extra);
    if (!this.deployments.has(key)) this.deployments.set(key, this.deploy(extra));
    return this.deployments.get(key)!;
  };
}

/** The statements of an IAM policy resource. */
export function statements(policy: CapturedResource): PolicyStatement[] {
  return JSON.parse(policy.inputs.policy).Statement;
}

/** The one container of a task definition. */
export function containerOf(taskDefinition: CapturedResource) {
  const containers = JSON.parse(taskDefinition.inputs.containerDefinitions);
  assert.equal(containers.length, 1);
  return containers[0];
}

/** The private IP the mocks give the instance named `name` (see {@link giveInstancesPrivateIps}). */
export function mockPrivateIp(name: string): string {
  const digest = createHash("sha256").update(name).digest();
  return `10.0.${digest[0]}.${(digest[1] % 250) + 4}`;
}

/**
 * Makes the installed mocks answer, as EC2 does, with a private IP for every instance ({@link mockPrivateIp}); the
 * shared mocks leave it out, and the drain step connects to it. Call right after `installMocks()`.
 */
export function giveInstancesPrivateIps(): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as { mocks: pulumi.runtime.Mocks };
  const mocks = monitor.mocks;
  const newResource = mocks.newResource.bind(mocks);
  mocks.newResource = async (args) => {
    const result = await newResource(args);
    if (args.type !== T.instance) return result;
    return { ...result, state: { ...result.state, privateIp: mockPrivateIp(args.name) } };
  };
}
