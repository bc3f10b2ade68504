import * as aws from "@pulumi/aws";
import { Scope } from "./scope";

/** How long cached objects live and whether `pulumi destroy` may delete a non-empty bucket. */
export interface CacheBucketArgs {
  expirationDays: number;
  forceDestroy: boolean;
}

/**
 * The S3 bucket of gitlab-runner's distributed cache: private (public access blocked, bucket-owner objects),
 * encrypted, objects expiring after `cache.expirationDays`. Jobs reach it through pre-signed URLs that the
 * manager signs with its instance profile, so tasks need no S3 permissions.
 */
export function createCacheBucket({ name, tags, parent }: Scope, args: CacheBucketArgs): aws.s3.Bucket {
  const opts = { parent };
  const bucket = new aws.s3.Bucket(`${name}-cache`, { forceDestroy: args.forceDestroy, tags }, opts);
  new aws.s3.BucketPublicAccessBlock(
    `${name}-cache-public-access`,
    {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    },
    opts,
  );
  new aws.s3.BucketOwnershipControls(
    `${name}-cache-ownership`,
    { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
    opts,
  );
  new aws.s3.BucketServerSideEncryptionConfiguration(
    `${name}-cache-encryption`,
    { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
    opts,
  );
  new aws.s3.BucketLifecycleConfiguration(
    `${name}-cache-expiration`,
    {
      bucket: bucket.id,
      rules: [
        {
          id: "expire-cache",
          status: "Enabled",
          filter: { prefix: "" },
          expiration: { days: args.expirationDays },
          abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
        },
      ],
    },
    opts,
  );
  return bucket;
}
