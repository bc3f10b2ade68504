import { strict as assert } from "node:assert";
import { isSecretOutput, mockAwsId, ResourceRecorder, valueOf } from "../../support/pulumiMocks";
import { ComponentFixture, T } from "../deployment";

const fixture = new ComponentFixture();
const { deployed } = fixture;

describe("GitLabFargateRunner (Pulumi mocks)", function () {
  let recorder: ResourceRecorder;
  before(async () => {
    recorder = await fixture.install();
  });

  describe("manager instance", () => {
    it("Ubuntu 24.04 from Canonical, small type, IMDSv2 required, encrypted gp3 root, in a public subnet", async () => {
      const { one } = await deployed();
      const inputs = one(T.instance).inputs;
      assert.equal(inputs.instanceType, "t3.small");
      assert.equal(inputs.ami, "ami-ubuntu-noble-x86_64");
      assert.equal(inputs.metadataOptions.httpTokens, "required");
      assert.deepEqual([inputs.rootBlockDevice.volumeType, inputs.rootBlockDevice.encrypted], ["gp3", true]);
      assert.equal(inputs.subnetId, mockAwsId("subnet", `pub1-${one(T.vpc).name}`));
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
      const { managerUserData } = await import("../../../components/manager/bootstrap");
      const { one } = await deployed();
      assert.equal(one(T.instance).inputs.userData, managerUserData({ architecture: "amd64" }));
    });
  });
});
