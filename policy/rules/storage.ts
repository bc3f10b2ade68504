import * as aws from "@pulumi/aws";
import {
  PolicyResource,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
  validateResourceOfType,
} from "@pulumi/policy";
import { asList, refersTo, resourceLabel } from "./common";

/** Type token of awsx's ECR repository component (a remote component: its aws child is checked separately). */
export const AWSX_REPOSITORY_TYPE = "awsx:ecr:Repository";

function scanOnPushMessage(label: string): string {
  return `${label} does not scan images on push. Fix: set imageScanningConfiguration: { scanOnPush: true }.`;
}

/** ECR repositories scan every pushed image for known vulnerabilities. */
export const ecrScanOnPush: ResourceValidationPolicy = {
  name: "ecr-scan-on-push",
  description: "ECR repositories (aws.ecr.Repository and awsx.ecr.Repository) scan images on push.",
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(aws.ecr.Repository, (repository, args, reportViolation) => {
      if (repository.imageScanningConfiguration?.scanOnPush !== true) {
        reportViolation(scanOnPushMessage(resourceLabel(args.type, args.name)));
      }
    }),
    (args, reportViolation) => {
      if (args.type !== AWSX_REPOSITORY_TYPE) {
        return args.notApplicable(`Applies to ${AWSX_REPOSITORY_TYPE} only`);
      }
      if (args.props.imageScanningConfiguration?.scanOnPush !== true) {
        reportViolation(scanOnPushMessage(resourceLabel(args.type, args.name)));
      }
    },
  ],
};

const ENCRYPTION_CONFIG_TYPES = [
  aws.s3.BucketServerSideEncryptionConfiguration,
  aws.s3.BucketServerSideEncryptionConfigurationV2,
];

/** Whether a list of server-side encryption rules sets a default algorithm. */
function setsDefaultEncryption(rules: unknown): boolean {
  return asList(rules as Record<string, unknown>[]).some((rule) => {
    const byDefault = rule?.applyServerSideEncryptionByDefault as { sseAlgorithm?: unknown } | undefined;
    return typeof byDefault?.sseAlgorithm === "string" && byDefault.sseAlgorithm.length > 0;
  });
}

function bucketsOrNotApplicable(args: StackValidationArgs): PolicyResource[] {
  const buckets = args.resources.filter((resource) => resource.isType(aws.s3.Bucket));
  return buckets.length > 0 ? buckets : args.notApplicable("No S3 bucket in this stack");
}

function isBucketConfigOf(config: PolicyResource, bucket: PolicyResource): boolean {
  return refersTo(config, "bucket", bucket, ["bucket"]);
}

/** Buckets have default server-side encryption, configured by a separate resource (aws v7) or inline. */
export const s3BucketEncryption: StackValidationPolicy = {
  name: "s3-bucket-encryption",
  description:
    "Every S3 bucket has default server-side encryption (an aws.s3.BucketServerSideEncryptionConfiguration for it).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const configs = args.resources.filter((resource) => ENCRYPTION_CONFIG_TYPES.some((type) => resource.isType(type)));
    for (const bucket of bucketsOrNotApplicable(args)) {
      const separate = configs.some(
        (config) => isBucketConfigOf(config, bucket) && setsDefaultEncryption(config.props.rules),
      );
      const inline = setsDefaultEncryption(
        (bucket.props.serverSideEncryptionConfiguration as { rules?: unknown } | undefined)?.rules,
      );
      if (!separate && !inline) {
        reportViolation(
          `${resourceLabel(bucket.type, bucket.name)} has no default server-side encryption. ` +
            "Fix: add an aws.s3.BucketServerSideEncryptionConfiguration for it with " +
            'rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] (or "aws:kms").',
          bucket.urn,
        );
      }
    }
  },
};

const PUBLIC_ACCESS_FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"];

/** Buckets have a public access block with all four settings on. */
export const s3BucketPublicAccessBlock: StackValidationPolicy = {
  name: "s3-bucket-public-access-block",
  description: "Every S3 bucket has an aws.s3.BucketPublicAccessBlock with all four settings true.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const blocks = args.resources.filter((resource) => resource.isType(aws.s3.BucketPublicAccessBlock));
    for (const bucket of bucketsOrNotApplicable(args)) {
      const label = resourceLabel(bucket.type, bucket.name);
      const mine = blocks.filter((block) => isBucketConfigOf(block, bucket));
      if (mine.length === 0) {
        reportViolation(
          `${label} has no public access block. Fix: add an aws.s3.BucketPublicAccessBlock for it with ` +
            `${PUBLIC_ACCESS_FLAGS.map((flag) => `${flag}: true`).join(", ")}.`,
          bucket.urn,
        );
        continue;
      }
      const complete = mine.some((block) => PUBLIC_ACCESS_FLAGS.every((flag) => block.props[flag] === true));
      if (!complete) {
        const missing = PUBLIC_ACCESS_FLAGS.filter((flag) => !mine.some((block) => block.props[flag] === true));
        reportViolation(
          `${label} has a public access block that leaves ${missing.join(", ")} off. ` +
            `Fix: set ${missing.map((flag) => `${flag}: true`).join(", ")} on ${resourceLabel(mine[0].type, mine[0].name)}.`,
          bucket.urn,
        );
      }
    }
  },
};

export const storagePolicies = { resource: [ecrScanOnPush], stack: [s3BucketEncryption, s3BucketPublicAccessBlock] };
