import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { Architecture } from "./args";
import { managerUserData } from "./bootstrap";
import { ResolvedArgs } from "./validation";

/** Canonical's AWS account, owner of the official Ubuntu AMIs. */
export const CANONICAL_OWNER_ID = "099720109477";
/** The login user of Ubuntu AMIs; the registration step connects as this user. */
export const MANAGER_SSH_USER = "ubuntu";

export interface Manager {
  instance: aws.ec2.Instance;
  eip: aws.ec2.Eip;
  /** OpenSSH private key for `ubuntu@<eip>`; secret. */
  sshPrivateKey: pulumi.Output<string>;
}

export interface ManagerPlacement {
  subnetId: pulumi.Output<string>;
  securityGroupId: pulumi.Output<string>;
  /** The security group's rules: first boot needs its egress, and they must outlive the instance on destroy. */
  securityGroupRules: pulumi.Resource[];
  instanceProfileName: pulumi.Output<string>;
}

/** The newest Ubuntu 24.04 LTS AMI from Canonical for the given architecture. */
export function ubuntuAmiId(architecture: Architecture, parent: pulumi.Resource): pulumi.Output<string> {
  return aws.ec2
    .getAmiOutput(
      {
        owners: [CANONICAL_OWNER_ID],
        mostRecent: true,
        filters: [
          { name: "name", values: [`ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${architecture}-server-*`] },
          { name: "architecture", values: [architecture === "arm64" ? "arm64" : "x86_64"] },
          { name: "virtualization-type", values: ["hvm"] },
        ],
      },
      { parent },
    )
    .apply((ami) => ami.id);
}

/** The manager EC2 instance in a public subnet, with its SSH key and a stable Elastic IP. */
export function createManager(args: ResolvedArgs, placement: ManagerPlacement, parent: pulumi.Resource): Manager {
  const { name, tags } = args;
  const { architecture } = args.manager;
  const opts = { parent };

  let publicKey: pulumi.Input<string>;
  let sshPrivateKey: pulumi.Output<string>;
  if (args.manager.sshKey) {
    publicKey = args.manager.sshKey.publicKey;
    sshPrivateKey = args.manager.sshKey.privateKey;
  } else {
    const key = new tls.PrivateKey(
      `${name}-manager-ssh-key`,
      { algorithm: "ED25519" },
      { ...opts, additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem"] },
    );
    publicKey = key.publicKeyOpenssh;
    sshPrivateKey = pulumi.secret(key.privateKeyOpenssh);
  }
  const keyPair = new aws.ec2.KeyPair(`${name}-manager-key`, { publicKey, tags }, opts);

  const instance = new aws.ec2.Instance(
    `${name}-manager`,
    {
      ami: args.manager.amiId ?? ubuntuAmiId(architecture, parent),
      instanceType: args.manager.instanceType,
      subnetId: placement.subnetId,
      vpcSecurityGroupIds: [placement.securityGroupId],
      iamInstanceProfile: placement.instanceProfileName,
      keyName: keyPair.keyName,
      associatePublicIpAddress: true,
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      rootBlockDevice: {
        volumeType: "gp3",
        volumeSize: args.manager.rootVolumeSizeGiB,
        encrypted: true,
        deleteOnTermination: true,
      },
      userData: managerUserData({ architecture }),
      userDataReplaceOnChange: true,
      tags: { ...tags, Name: `${name}-manager` },
      volumeTags: { ...tags, Name: `${name}-manager` },
    },
    // A looked-up AMI changes whenever Canonical publishes a new image; replacing the manager for that would cut
    // running jobs. Roll it on purpose with `pulumi up --replace` or a given `manager.amiId`.
    {
      ...opts,
      dependsOn: placement.securityGroupRules,
      ignoreChanges: args.manager.amiId === undefined ? ["ami"] : [],
    },
  );
  const eip = new aws.ec2.Eip(
    `${name}-manager-eip`,
    { domain: "vpc", instance: instance.id, tags: { ...tags, Name: `${name}-manager` } },
    opts,
  );
  return { instance, eip, sshPrivateKey };
}
