import { strict as assert } from "node:assert";
import { valueOf } from "../../support/pulumiMocks";
import { ComponentFixture, T } from "../deployment";

const fixture = new ComponentFixture();
const { deployed } = fixture;

describe("GitLabFargateRunner (Pulumi mocks)", function () {
  before(() => fixture.install());

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
});
