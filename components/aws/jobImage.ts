import * as fs from "node:fs";
import * as path from "node:path";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import type { Architecture, ExternalImageArgs } from "../args";
import { Scope } from "./scope";

export interface JobImage {
  imageUri: pulumi.Output<string>;
  /** Secrets Manager ARN of private registry credentials, when the caller's image needs them. */
  credentialsSecretArn?: pulumi.Output<string>;
}

/** The package's `images/ci-coordinator`, found from the sources (ts-node) and from `dist/` alike. */
function defaultImageContext(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, "images", "ci-coordinator");
}

/** The caller's image, or how to build ours. */
export interface JobImageArgs {
  /** An image the caller publishes; nothing is built. */
  image?: ExternalImageArgs;
  /** The ECR repository and build of `images/ci-coordinator` (without `image`). */
  build: { context?: string; keepImages: number; forceDelete: boolean };
  /** The platform the image is built for: the task's architecture. */
  architecture: Architecture;
}

/** The caller's image, or an ECR repository plus the job image built for the task's architecture. */
export function createJobImage({ name, tags, parent }: Scope, args: JobImageArgs): JobImage {
  const external = args.image;
  if (external) {
    return {
      imageUri: pulumi.output(external.uri),
      credentialsSecretArn:
        external.credentialsSecretArn === undefined ? undefined : pulumi.output(external.credentialsSecretArn),
    };
  }
  const { build } = args;
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
      platform: `linux/${args.architecture}`,
    },
    { parent },
  );
  return { imageUri: image.imageUri };
}
