import * as assert from "node:assert/strict";
import { ecrScanOnPush, s3BucketEncryption, s3BucketPublicAccessBlock } from "../../../policy/rules/storage";
import { StackResource, T, urnOf, validateResource, validateStack } from "../harness";
import { assertPasses, assertViolates } from "./helpers";

describe("policy ecr-scan-on-push", () => {
  it("passes aws and awsx repositories that scan on push", async () => {
    const props = { imageScanningConfiguration: { scanOnPush: true }, forceDelete: false };
    assertPasses(await validateResource(ecrScanOnPush, T.ecrRepository, "images", props));
    assertPasses(await validateResource(ecrScanOnPush, T.awsxRepository, "images", props));
  });

  it("fails repositories that do not scan on push", async () => {
    assertViolates(await validateResource(ecrScanOnPush, T.ecrRepository, "images", {}), "images", [
      "scanOnPush: true",
    ]);
    const awsx = await validateResource(ecrScanOnPush, T.awsxRepository, "awsx-images", {
      imageScanningConfiguration: { scanOnPush: false },
    });
    assertViolates(awsx, "awsx-images", ["scanOnPush: true"]);
  });
});

describe("policies s3-bucket-encryption and s3-bucket-public-access-block", () => {
  const bucket: StackResource = { type: T.bucket, name: "cache", props: { id: "cache-1234", bucket: "cache-1234" } };
  const encryption = (sseAlgorithm: string): StackResource => ({
    type: T.bucketEncryption,
    name: "cache-sse",
    props: { bucket: "cache-1234", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm } }] },
  });
  const publicAccessBlock = (flags: Partial<Record<string, boolean>>): StackResource => ({
    type: T.bucketPublicAccessBlock,
    name: "cache-pab",
    props: { bucket: "cache-1234", ...flags },
  });
  const allBlocked = {
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  };

  it("passes a bucket with its encryption configuration and a full public access block", async () => {
    const stack = [bucket, encryption("aws:kms"), publicAccessBlock(allBlocked)];
    assertPasses(await validateStack(s3BucketEncryption, stack));
    assertPasses(await validateStack(s3BucketPublicAccessBlock, stack));
  });

  it("matches configuration to its bucket by property dependency when names are unknown (preview)", async () => {
    const previewBucket: StackResource = { type: T.bucket, name: "cache", props: {} };
    const sse: StackResource = { ...encryption("AES256"), props: { ...encryption("AES256").props, bucket: "?" } };
    sse.dependsOn = { bucket: [previewBucket] };
    assertPasses(await validateStack(s3BucketEncryption, [previewBucket, sse]));
  });

  it("fails a bucket with no encryption configuration, or one for another bucket", async () => {
    const other = { ...encryption("AES256"), props: { ...encryption("AES256").props, bucket: "logs-999" } };
    const outcome = await validateStack(s3BucketEncryption, [bucket, other]);
    assertViolates(outcome, "cache", ["BucketServerSideEncryptionConfiguration", "sseAlgorithm"]);
    assert.equal(outcome.violations[0].urn, urnOf(T.bucket, "cache"));
  });

  it("accepts inline encryption on the bucket itself", async () => {
    const inline: StackResource = {
      ...bucket,
      props: {
        ...bucket.props,
        serverSideEncryptionConfiguration: {
          rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
        },
      },
    };
    assertPasses(await validateStack(s3BucketEncryption, [inline]));
  });

  it("check aws.s3.BucketV2 too (its inline shape is serverSideEncryptionConfigurations[])", async () => {
    const v2: StackResource = {
      type: "aws:s3/bucketV2:BucketV2",
      name: "old",
      props: { id: "old-1", bucket: "old-1" },
    };
    assertViolates(await validateStack(s3BucketEncryption, [v2]), "old", ["BucketServerSideEncryptionConfiguration"]);
    assertViolates(await validateStack(s3BucketPublicAccessBlock, [v2]), "old", ["BucketPublicAccessBlock"]);
    const inline: StackResource = {
      ...v2,
      props: {
        ...v2.props,
        serverSideEncryptionConfigurations: [
          { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" } }] },
        ],
      },
    };
    assertPasses(await validateStack(s3BucketEncryption, [inline]));
    const block = { ...publicAccessBlock(allBlocked), props: { ...allBlocked, bucket: "old-1" } };
    assertPasses(await validateStack(s3BucketPublicAccessBlock, [v2, block]));
  });

  it("are not applicable to a stack without buckets", async () => {
    assert.equal((await validateStack(s3BucketEncryption, [encryption("AES256")])).notApplicable, true);
    assert.equal((await validateStack(s3BucketPublicAccessBlock, [])).notApplicable, true);
  });

  it("fails a bucket without a public access block, and one with a partial block", async () => {
    assertViolates(await validateStack(s3BucketPublicAccessBlock, [bucket]), "cache", [
      "BucketPublicAccessBlock",
      "restrictPublicBuckets: true",
    ]);
    const partial = publicAccessBlock({ ...allBlocked, restrictPublicBuckets: false, ignorePublicAcls: undefined });
    const outcome = await validateStack(s3BucketPublicAccessBlock, [bucket, partial]);
    assertViolates(outcome, "cache", ["ignorePublicAcls, restrictPublicBuckets", '"cache-pab"']);
  });
});
