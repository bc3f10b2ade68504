import { strict as assert } from "node:assert";
import { ComponentFixture, T } from "../deployment";

const fixture = new ComponentFixture();
const { deployed } = fixture;

describe("GitLabFargateRunner (Pulumi mocks)", function () {
  before(() => fixture.install());

  describe("cluster", () => {
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
  });
});
