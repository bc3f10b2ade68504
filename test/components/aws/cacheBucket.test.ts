import { strict as assert } from "node:assert";
import { ComponentFixture, T } from "../deployment";

const fixture = new ComponentFixture();
const { deployed } = fixture;

describe("GitLabFargateRunner (Pulumi mocks)", function () {
  before(() => fixture.install());

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
});
