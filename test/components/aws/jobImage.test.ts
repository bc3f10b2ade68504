import { strict as assert } from "node:assert";
import { ACCOUNT_ID, REGION, valueOf } from "../../support/pulumiMocks";
import { ComponentFixture, containerOf, statements, T } from "../deployment";

const fixture = new ComponentFixture();
const { deployed } = fixture;

describe("GitLabFargateRunner (Pulumi mocks)", function () {
  before(() => fixture.install());

  describe("registry and image", () => {
    it("creates an ECR repository with scan on push, a keep-last-N lifecycle and no force delete", async () => {
      const { one } = await deployed();
      const repo = one(T.repository).inputs;
      assert.deepEqual(repo.imageScanningConfiguration, { scanOnPush: true });
      assert.equal(repo.forceDelete, false);
      assert.deepEqual(repo.lifecyclePolicy.rules, [
        { description: "keep the last 10 images", tagStatus: "any", maximumNumberOfImages: 10 },
      ]);
    });

    it("builds images/ci-coordinator for linux/amd64 into that repository", async () => {
      const { one } = await deployed({ jobs: { build: { keepImages: 3, forceDelete: true } } });
      const image = one(T.image).inputs;
      assert.equal(image.platform, "linux/amd64");
      assert.match(image.context, /[/\\]images[/\\]ci-coordinator$/);
      assert.equal(image.repositoryUrl, `${ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/${one(T.repository).name}`);
      assert.equal(one(T.repository).inputs.lifecyclePolicy.rules[0].maximumNumberOfImages, 3);
      assert.equal(one(T.repository).inputs.forceDelete, true);
    });

    it("arm64: builds linux/arm64 and asks Fargate for ARM64", async () => {
      const { one } = await deployed({ jobs: { architecture: "arm64" } });
      assert.equal(one(T.image).inputs.platform, "linux/arm64");
      assert.deepEqual(one(T.taskDefinition).inputs.runtimePlatform, {
        operatingSystemFamily: "LINUX",
        cpuArchitecture: "ARM64",
      });
    });

    it("external image with a credentials secret: no ECR, repositoryCredentials, execution role reads only that secret", async () => {
      const secretArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:registry-creds-AbCdEf`;
      const { runner, one, all } = await deployed({
        jobs: { image: { uri: "registry.example.com/ci/coordinator:1.4", credentialsSecretArn: secretArn } },
      });
      assert.equal(all(T.repository).length + all(T.image).length, 0);
      const container = containerOf(one(T.taskDefinition));
      assert.equal(container.image, "registry.example.com/ci/coordinator:1.4");
      assert.deepEqual(container.repositoryCredentials, { credentialsParameter: secretArn });
      const secrets = statements(one(T.rolePolicy, "execution-secrets")).find((s) => s.Sid === "ReadSecrets");
      assert.deepEqual(secrets?.Resource, [secretArn]);
      assert.equal(await valueOf(runner.imageUri), "registry.example.com/ci/coordinator:1.4");
    });
  });
});
