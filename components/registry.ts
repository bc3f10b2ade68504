import * as fs from "node:fs";
import * as path from "node:path";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { ResolvedArgs } from "./validation";

export interface JobImage {
  imageUri: pulumi.Output<string>;
  /** Secrets Manager ARN of private registry credentials, when the caller's image needs them. */
  credentialsSecretArn?: pulumi.Output<string>;
  repositoryUrl?: pulumi.Output<string>;
}

/** The package's `images/ci-coordinator`, found from both `components/` (ts-node) and `dist/components/`. */
export function defaultImageContext(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, "images", "ci-coordinator");
}

/** The caller's image, or an ECR repository plus the job image built for the task's architecture. */
export function createJobImage(args: ResolvedArgs, parent: pulumi.Resource): JobImage {
  const { name, tags } = args;
  const external = args.jobs.image;
  if (external) {
    return {
      imageUri: pulumi.output(external.uri),
      credentialsSecretArn:
        external.credentialsSecretArn === undefined ? undefined : pulumi.output(external.credentialsSecretArn),
    };
  }
  const { build } = args.jobs;
  const repository = new awsx.ecr.Repository(
    `${name}-repository`,
    {
      imageScanningConfiguration: { scanOnPush: true },
      imageTagMutability: "MUTABLE",
      forceDelete: build.forceDelete,
      lifecyclePolicy: {
        rules: [
          {
            description: `keep the last ${build.keepImages} images`,
            tagStatus: "any",
            maximumNumberOfImages: build.keepImages,
          },
        ],
      },
      tags,
    },
    { parent },
  );
  const image = new awsx.ecr.Image(
    `${name}-image`,
    {
      repositoryUrl: repository.url,
      context: build.context ?? defaultImageContext(),
      platform: `linux/${args.jobs.architecture}`,
    },
    { parent },
  );
  return { imageUri: image.imageUri, repositoryUrl: repository.url };
}
