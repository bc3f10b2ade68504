import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import type * as Components from "../../components";
import type * as Validation from "../../components/validation";
import { registryHostProblem, secretArnProblem, SUBNET_ID, TASK_FAMILY } from "../../driver/contract/awsRules";
import { MAX_BASE_FAMILY_LENGTH } from "../../driver/contract/imageTasks";
import { Args, loadValidation, outputFailure, refuses, required } from "./argumentValidation";

let components: typeof Components;
/** `text` escaped for a RegExp that matches it literally. */
const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
let validation: typeof Validation;

describe("GitLabFargateRunner argument validation", () => {
  before(async () => {
    ({ components, validation } = await loadValidation());
  });

  it("refuses a component name S3 or IAM could not use", () => {
    assert.throws(() => new components.GitLabFargateRunner("Runner_A", required), /invalid name: "Runner_A"/);
    assert.throws(() => new components.GitLabFargateRunner("r".repeat(33), required), /invalid name/);
  });

  describe("admin.sshCidrBlocks", () => {
    it("refuses an invalid CIDR block", () => {
      refuses({ ...required, admin: { sshCidrBlocks: ["203.0.113.7"] } }, /admin\.sshCidrBlocks/, /"203\.0\.113\.7"/);
      refuses({ ...required, admin: { sshCidrBlocks: ["203.0.113.7/33"] } }, /admin\.sshCidrBlocks/);
      refuses({ ...required, admin: { sshCidrBlocks: ["999.0.0.1/32"] } }, /admin\.sshCidrBlocks/);
    });

    it("refuses SSH from the whole internet, IPv4 and IPv6", () => {
      refuses({ ...required, admin: { sshCidrBlocks: ["0.0.0.0/0"] } }, /admin\.sshCidrBlocks/, /whole internet/);
      refuses({ ...required, admin: { sshCidrBlocks: ["203.0.113.7/32", "::/0"] } }, /"::\/0"/, /whole internet/);
    });

    it("refuses an empty list", () => {
      refuses({ ...required, admin: { sshCidrBlocks: [] } }, /admin\.sshCidrBlocks/, /at least one/);
    });
  });

  describe("admin.sshCidrBlocks host bits", () => {
    it("refuses an IPv4 block with host bits set, suggesting the network address", () => {
      refuses(
        { ...required, admin: { sshCidrBlocks: ["203.0.113.7/24"] } },
        /admin\.sshCidrBlocks/,
        /203\.0\.113\.0\/24/,
      );
      refuses({ ...required, network: { cidrBlock: "10.1.2.3/16" } }, /network\.cidrBlock/, /10\.1\.0\.0\/16/);
    });
  });

  describe("runner and manager", () => {
    it("refuses an empty or multi-line runner.name and more than 1000 concurrent jobs", () => {
      refuses({ ...required, runner: { name: " " } }, /runner\.name/);
      refuses({ ...required, runner: { name: "a\nb" } }, /runner\.name/);
      refuses({ ...required, runner: { concurrent: 1001 } }, /runner\.concurrent/);
    });

    it("refuses tags a job task could not carry: too many, an aws: key, a value with forbidden characters", () => {
      const many = Object.fromEntries(Array.from({ length: 46 }, (_, i) => [`k${i}`, "v"]));
      refuses({ ...required, tags: many }, /invalid tags/, /at most 46 tags, got 47/);
      refuses({ ...required, tags: { "aws:owner": "me" } }, /invalid tags/, /aws:/);
      refuses({ ...required, tags: { team: "a;b" } }, /invalid tags/, /tag "team"/);
    });

    it("refuses a bastion without host or key", () => {
      refuses({ ...required, manager: { sshProxy: { host: "", privateKey: "k" } } }, /manager\.sshProxy/);
    });
  });

  describe("jobs", () => {
    it("refuses a cpu Fargate does not offer, listing the valid ones", () => {
      refuses({ ...required, jobs: { cpu: 3000 } }, /jobs\.cpu/, /256, 512, 1024, 2048, 4096, 8192, 16384/);
    });

    it("refuses memory not allowed for the cpu, listing the valid memory values", () => {
      refuses(
        { ...required, jobs: { cpu: 1024, memory: 1024 } },
        /jobs\.memory/,
        /cpu 1024/,
        /valid: 2048, 3072, 4096, 5120, 6144, 7168, 8192$/,
      );
      refuses({ ...required, jobs: { cpu: 256, memory: 1536 } }, /valid: 512, 1024, 2048$/);
    });

    it("knows Fargate's cpu/memory table at its edges", async () => {
      const { allowedMemory } = await import("../../driver/contract/fargateTaskSizes");
      assert.deepEqual(allowedMemory(8192).slice(0, 2), [16384, 20480]);
      assert.equal(allowedMemory(8192).at(-1), 61440);
      assert.equal(allowedMemory(16384).at(-1), 122880);
      assert.equal(allowedMemory(4096).at(-1), 30720);
      assert.deepEqual(allowedMemory(3000), []);
    });

    it("refuses a log retention CloudWatch does not accept", () => {
      refuses({ ...required, jobs: { logRetentionDays: 10 } }, /jobs\.logRetentionDays/, /1, 3, 5, 7, 14/);
    });

    it("refuses ephemeral storage outside 21-200 GiB", () => {
      refuses({ ...required, jobs: { ephemeralStorageGiB: 201 } }, /jobs\.ephemeralStorageGiB/);
    });

    it("refuses onDemandBase without FARGATE_SPOT", () => {
      refuses({ ...required, jobs: { onDemandBase: 1 } }, /jobs\.onDemandBase/, /FARGATE_SPOT/);
    });

    it("refuses a malformed credentials secret ARN and an image without uri", () => {
      refuses(
        { ...required, jobs: { image: { uri: "r.example.com/i:1", credentialsSecretArn: "my-secret" } } },
        /jobs\.image\.credentialsSecretArn/,
      );
      refuses({ ...required, jobs: { image: { uri: "" } } }, /jobs\.image\.uri/);
    });

    it("refuses a platform version that is neither LATEST nor x.y.z", () => {
      refuses({ ...required, jobs: { platformVersion: "latest-ish" } }, /jobs\.platformVersion/);
    });
  });

  describe("jobs: the family", () => {
    it("refuses a family longer than the image task families leave room for, naming the limit", () => {
      refuses(
        { ...required, jobs: { family: "f".repeat(MAX_BASE_FAMILY_LENGTH + 1) } },
        /jobs\.family/,
        new RegExp(`at most ${MAX_BASE_FAMILY_LENGTH}`),
        /-image-/,
      );
      const longest = "f".repeat(MAX_BASE_FAMILY_LENGTH);
      assert.equal(validation.resolveArgs("family", { ...required, jobs: { family: longest } }).jobs.family, longest);
    });

    it("refuses a family ECS would refuse (the driver's rule, TASK_FAMILY)", () => {
      for (const family of ["", "a b", "a:1", "a/b"]) {
        assert.equal(TASK_FAMILY.test(family), false, family);
        refuses({ ...required, jobs: { family } }, /jobs\.family/);
      }
    });

    it("derives a default family that fits, with the image task families", () => {
      const family = validation.resolveArgs("r".repeat(32), required).jobs.family;
      assert.match(family, /^gitlab-r{32}-/);
      assert.ok(family.length <= MAX_BASE_FAMILY_LENGTH);
    });
  });

  describe("jobs: images and services jobs choose", () => {
    it("defaults to every image and every service, and no registry credentials", () => {
      const { jobs } = validation.resolveArgs("images", required);
      assert.deepEqual(jobs.allowedImages, ["*"]);
      assert.deepEqual(jobs.allowedServices, ["*"]);
      assert.deepEqual(jobs.registryCredentials, {});
    });

    it("keeps [] (the feature off) and the given patterns, each once", () => {
      const { jobs } = validation.resolveArgs("images-off", {
        ...required,
        jobs: { allowedImages: [], allowedServices: ["postgres:*", "redis:7", "postgres:*"] },
      });
      assert.deepEqual(jobs.allowedImages, []);
      assert.deepEqual(jobs.allowedServices, ["postgres:*", "redis:7"]);
    });

    it("refuses a pattern that is not a non-empty string without whitespace, naming the list", () => {
      refuses({ ...required, jobs: { allowedImages: ["node:*", ""] } }, /jobs\.allowedImages/, /\[1\]/);
      refuses({ ...required, jobs: { allowedImages: [" node:20"] } }, /jobs\.allowedImages/, /whitespace/);
      refuses({ ...required, jobs: { allowedServices: ["redis 7"] } }, /jobs\.allowedServices/, /whitespace/);
      refuses({ ...required, jobs: { allowedServices: [7 as unknown as string] } }, /jobs\.allowedServices/);
      refuses({ ...required, jobs: { allowedImages: "*" as unknown as string[] } }, /jobs\.allowedImages/, /list/);
    });
  });

  describe("jobs.registryCredentials", () => {
    const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ghcr-AbCdEf";
    const credentials = (registryCredentials: Record<string, pulumi.Input<string>>): Args => ({
      ...required,
      jobs: { registryCredentials },
    });

    it("keeps registry host → secret ARN", () => {
      const resolved = validation.resolveArgs("creds", credentials({ "ghcr.io": SECRET, "localhost:5000": SECRET }));
      assert.deepEqual(Object.keys(resolved.jobs.registryCredentials), ["ghcr.io", "localhost:5000"]);
    });

    it("refuses a host the driver would never match (the driver's rule, registryHostProblem)", () => {
      for (const host of ["GHCR.io", "https://ghcr.io", "ghcr.io/org", ""]) {
        assert.notEqual(registryHostProblem(host), undefined, host);
        refuses(credentials({ [host]: SECRET }), /jobs\.registryCredentials/, /not a registry host/);
      }
    });

    it("refuses what is not one secret's full ARN, with the driver's words (secretArnProblem)", () => {
      const refused = [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ghcr",
        "arn:aws:ssm:eu-west-1:123456789012:parameter/ghcr",
        "ghcr-AbCdEf",
      ];
      for (const arn of refused) {
        const problem = secretArnProblem(arn)!;
        assert.ok(problem);
        refuses(
          credentials({ "ghcr.io": arn }),
          /jobs\.registryCredentials\["ghcr\.io"\]/,
          new RegExp(literally(problem)),
        );
      }
    });

    it("checks an ARN known only at deploy time when it resolves", async () => {
      const resolved = validation.resolveArgs("creds-output", credentials({ "ghcr.io": pulumi.output("ghcr") }));
      const error = await outputFailure(pulumi.output(resolved.jobs.registryCredentials["ghcr.io"]));
      assert.match(error.message, /jobs\.registryCredentials\["ghcr\.io"\]/);
    });

    it("refuses credentials nothing would use: images and services both off", () => {
      refuses(
        { ...required, jobs: { allowedImages: [], allowedServices: [], registryCredentials: { "ghcr.io": SECRET } } },
        /jobs\.registryCredentials/,
        /jobs\.allowedImages/,
        /jobs\.allowedServices/,
      );
    });

    it("checks jobs.image.credentialsSecretArn with the same rule and words", () => {
      const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry";
      refuses(
        { ...required, jobs: { image: { uri: "r.example.com/i:1", credentialsSecretArn: arn } } },
        /jobs\.image\.credentialsSecretArn/,
        new RegExp(literally(secretArnProblem(arn)!)),
      );
    });
  });

  describe("network", () => {
    it("refuses a half-given own network, naming what is missing", () => {
      refuses(
        { ...required, network: { existing: { vpcId: "vpc-1", publicSubnetIds: ["subnet-a"] } } },
        /network\.existing/,
        /missing: privateSubnetIds/,
      );
      refuses(
        { ...required, network: { existing: { vpcId: "vpc-1", publicSubnetIds: [], privateSubnetIds: ["subnet-b"] } } },
        /missing: publicSubnetIds/,
      );
    });

    it("refuses one Output of a whole list (another language's stack reference) instead of reading it as missing", () => {
      const whole = pulumi.output(["subnet-0a1b2c3d"]) as unknown as string[];
      refuses(
        {
          ...required,
          network: { existing: { vpcId: "vpc-0a1b2c3d", publicSubnetIds: whole, privateSubnetIds: whole } },
        },
        /network\.existing\.publicSubnetIds/,
        /not one Output of a whole list/,
      );
      refuses(
        {
          ...required,
          network: {
            existing: { vpcId: "vpc-0a1b2c3d", publicSubnetIds: ["subnet-0a1b2c3d"], privateSubnetIds: whole },
          },
        },
        /network\.existing\.privateSubnetIds/,
        /not one Output of a whole list/,
      );
      refuses(
        { ...required, admin: { sshCidrBlocks: pulumi.output(["203.0.113.7/32"]) as unknown as string[] } },
        /admin\.sshCidrBlocks/,
        /not one Output of a whole list/,
      );
    });

    it("accepts an own network without private subnets in public-task mode", () => {
      const resolved = validation.resolveArgs("pub", {
        ...required,
        network: { taskPlacement: "public", existing: { vpcId: "vpc-0a1b2c3d", publicSubnetIds: ["subnet-0a1b2c3d"] } },
      });
      assert.equal(resolved.network.taskPlacement, "public");
    });

    it("refuses ids of the wrong kind", () => {
      refuses(
        {
          ...required,
          network: {
            existing: {
              vpcId: "subnet-0a1b2c3d",
              publicSubnetIds: ["subnet-0a1b2c3d"],
              privateSubnetIds: ["subnet-0e0f1a2b"],
            },
          },
        },
        /network\.existing\.vpcId/,
      );
    });

    it("refuses an unknown NAT layout and a VPC CIDR that is not IPv4", () => {
      refuses({ ...required, network: { natGateways: "three" as "single" } }, /network\.natGateways/);
      refuses({ ...required, network: { cidrBlock: "2001:db8::/56" } }, /network\.cidrBlock/);
    });
  });

  describe("admin.sshCidrBlocks: a minimum prefix length", () => {
    it("refuses the internet split into halves (or any block wider than /8 or /32), like /0", () => {
      const blocks = (...sshCidrBlocks: string[]): Args => ({ ...required, admin: { sshCidrBlocks } });
      refuses(blocks("0.0.0.0/1", "128.0.0.0/1"), /admin\.sshCidrBlocks/, /"0\.0\.0\.0\/1"/, /\/8/);
      refuses(blocks("203.0.113.7/32", "128.0.0.0/1"), /"128\.0\.0\.0\/1"/);
      refuses(blocks("10.0.0.0/7"), /"10\.0\.0\.0\/7"/);
      refuses(blocks("::/1"), /"::\/1"/, /\/32/);
      refuses(blocks("8000::/1"), /"8000::\/1"/);
      refuses(blocks("2001:db8::/31"), /"2001:db8::\/31"/);
      assert.deepEqual(validation.MIN_SSH_PREFIX_LENGTH, { ipv4: 8, ipv6: 32 });
    });

    it("accepts blocks at the minimum", () => {
      const resolved = validation.resolveArgs("cidr", {
        ...required,
        admin: { sshCidrBlocks: ["10.0.0.0/8", "2001:db8::/32"] },
      });
      assert.deepEqual(resolved.admin.sshCidrBlocks, ["10.0.0.0/8", "2001:db8::/32"]);
    });
  });

  describe("managers: how many, how long they drain, how long an idle task lives", () => {
    it("refuses manager.count outside 1–10 or not whole", () => {
      for (const count of [0, 11, 1.5, -1]) refuses({ ...required, manager: { count } }, /manager\.count/, /1 and 10/);
      assert.equal(validation.resolveArgs("count", { ...required, manager: { count: 10 } }).manager.count, 10);
    });

    it("refuses runner.drainTimeoutMinutes outside 1–1440 or not whole", () => {
      for (const minutes of [0, 1441, 2.5]) {
        refuses({ ...required, runner: { drainTimeoutMinutes: minutes } }, /runner\.drainTimeoutMinutes/, /1 and 1440/);
      }
      const resolved = validation.resolveArgs("drain", { ...required, runner: { drainTimeoutMinutes: 1440 } });
      assert.equal(resolved.runner.drainTimeoutMinutes, 1440);
    });

    it("refuses jobs.idleTimeoutSeconds below a minute, above a day or not whole", () => {
      for (const seconds of [59, 86401, 600.5, 0]) {
        refuses({ ...required, jobs: { idleTimeoutSeconds: seconds } }, /jobs\.idleTimeoutSeconds/, /60 and 86400/);
      }
      for (const seconds of [60, 86400]) {
        const resolved = validation.resolveArgs("idle", { ...required, jobs: { idleTimeoutSeconds: seconds } });
        assert.equal(resolved.jobs.idleTimeoutSeconds, seconds);
      }
    });
  });

  describe("runner.concurrent and the manager's memory", () => {
    it("refuses more jobs than the instance type holds, naming the numbers and a way out", () => {
      refuses(
        { ...required, manager: { instanceType: "t3.micro" }, runner: { concurrent: 10 } },
        /invalid runner\.concurrent: 10 jobs at once need about 10 × 85 MiB = 850 MiB/,
        /t3\.micro \(1024 MiB, of which 512 MiB stay for the OS and gitlab-runner\) holds at most 6 jobs at once/,
        /\(1024 − 512\) \/ 85 = 6/,
        /Lower runner\.concurrent to 6, or choose a larger manager\.instanceType such as t3\.small/,
      );
      refuses({ ...required, runner: { concurrent: 19 } }, /t3\.small .* holds at most 18 jobs/, /such as t3\.medium/);
      refuses(
        { ...required, manager: { instanceType: "t4g.nano" }, runner: { concurrent: 1 } },
        /t4g\.nano .* cannot hold a single job/,
      );
    });

    it("takes what the instance type holds", () => {
      assert.equal(validation.resolveArgs("fits", { ...required, runner: { concurrent: 18 } }).runner.concurrent, 18);
      const big = validation.resolveArgs("big", {
        ...required,
        manager: { instanceType: "m7g.2xlarge" },
        runner: { concurrent: 379 },
      });
      assert.deepEqual(big.warnings, []);
    });

    it("an instance type of unknown memory: a warning naming the need instead of a refusal", () => {
      const resolved = validation.resolveArgs("unknown", {
        ...required,
        manager: { instanceType: "x2iedn.xlarge" },
        runner: { concurrent: 20 },
      });
      assert.equal(resolved.runner.concurrent, 20);
      assert.equal(resolved.warnings.length, 1);
      assert.match(
        resolved.warnings[0],
        /^GitLabFargateRunner unknown: the memory of manager\.instanceType "x2iedn\.xlarge"/,
      );
      assert.match(resolved.warnings[0], /about 85 MiB .* at least 2212 MiB/);
    });

    it("the component logs that warning (pulumi.log.warn) and goes on", async () => {
      const warned: string[] = [];
      const original = pulumi.log.warn;
      (pulumi.log as { warn: typeof pulumi.log.warn }).warn = async (message: string) => {
        warned.push(message);
      };
      try {
        new components.GitLabFargateRunner("warned", { ...required, manager: { instanceType: "z1d.large" } });
      } finally {
        (pulumi.log as { warn: typeof pulumi.log.warn }).warn = original;
      }
      assert.equal(warned.length, 1);
      assert.match(warned[0], /manager\.instanceType "z1d\.large" is not known to this component/);
    });
  });

  describe("network.existing ids: the driver's own rules", () => {
    const existing = (ids: Partial<Components.ExistingNetworkArgs>): Args => ({
      ...required,
      network: {
        existing: {
          vpcId: "vpc-0a1b2c3d",
          publicSubnetIds: ["subnet-0a1b2c3d"],
          privateSubnetIds: ["subnet-0123456789abcdef0"],
          ...ids,
        },
      },
    });

    it("accepts the id shapes AWS issues (8 or 17 hex digits)", () => {
      const resolved = validation.resolveArgs("ids", existing({}));
      assert.deepEqual(resolved.network.existing?.publicSubnetIds, ["subnet-0a1b2c3d"]);
    });

    it("refuses subnet ids every job would then refuse", () => {
      for (const bad of ["subnet-a", "subnet-0a1b2c3", "subnet-0A1B2C3D", "subnet-0a1b2c3d ", "subnet-0a1b2c3d0"]) {
        assert.equal(SUBNET_ID.test(bad), false, `the driver refuses ${bad}`);
        refuses(existing({ publicSubnetIds: [bad] }), /network\.existing\.publicSubnetIds/, /8 or 17 hex digits/);
        refuses(existing({ privateSubnetIds: [bad] }), /network\.existing\.privateSubnetIds/);
      }
      refuses(existing({ vpcId: "vpc-1" }), /network\.existing\.vpcId/);
    });

    it("checks ids known only at deploy time when they resolve", async () => {
      const resolved = validation.resolveArgs(
        "ids-output",
        existing({ privateSubnetIds: [pulumi.output("subnet-q1")] }),
      );
      const error = await outputFailure(pulumi.output(resolved.network.existing!.privateSubnetIds![0]));
      assert.match(error.message, /network\.existing\.privateSubnetIds/);
    });
  });

  describe("defaults", () => {
    it("applies the documented defaults", () => {
      const r = validation.resolveArgs("defaults", required);
      assert.deepEqual(
        {
          cpu: r.jobs.cpu,
          memory: r.jobs.memory,
          arch: r.jobs.architecture,
          capacity: r.jobs.capacityProvider,
          logs: r.jobs.logRetentionDays,
          nat: r.network.natGateways,
          azs: r.network.availabilityZoneCount,
          placement: r.network.taskPlacement,
          instanceType: r.manager.instanceType,
          managerArch: r.manager.architecture,
          managers: r.manager.count,
          idle: r.jobs.idleTimeoutSeconds,
          cache: r.cache,
          runner: r.runner,
          tags: r.tags,
          warnings: r.warnings,
        },
        {
          cpu: 1024,
          memory: 2048,
          arch: "amd64",
          capacity: "FARGATE",
          logs: 14,
          nat: "single",
          azs: 2,
          placement: "private",
          instanceType: "t3.small",
          managerArch: "amd64",
          managers: 1,
          idle: 600,
          cache: { enabled: true, expirationDays: 14, forceDestroy: false },
          runner: { name: "defaults", concurrent: 10, checkInterval: 3, drainTimeoutMinutes: 60 },
          tags: { "gitlab-fargate-runner": "defaults" },
          warnings: [],
        },
      );
    });

    it("derives the manager architecture from the instance type", () => {
      for (const type of ["t4g.small", "m7g.large", "c6gn.xlarge", "a1.medium"]) {
        assert.equal(validation.instanceArchitecture(type), "arm64", type);
      }
      for (const type of ["t3.small", "m6i.large", "g5.xlarge", "c7a.large"]) {
        assert.equal(validation.instanceArchitecture(type), "amd64", type);
      }
    });
  });

  describe("the alternatives other languages give as one optional member each", () => {
    const createRunner = (scope: Components.RunnerScope) => ({
      ...required,
      gitlab: { url: "https://gitlab.example.com", createRunner: { accessToken: "glpat-scope-test", scope } },
    });

    it("accepts each scope alone: { instance: true }, { groupId }, { projectId }", () => {
      for (const scope of [{ instance: true }, { groupId: 42 }, { projectId: 7 }]) {
        const token = validation.resolveArgs(`scope${Object.keys(scope)[0].toLowerCase()}`, createRunner(scope)).gitlab
          .token;
        assert.equal(token.kind, "create");
        assert.deepEqual((token as { createRunner: Components.CreateRunnerArgs }).createRunner.scope, scope);
      }
    });

    it("refuses two or three scope members, naming them, before any resource exists", () => {
      refuses(
        createRunner({ groupId: 42, projectId: 7 }),
        /GitLabFargateRunner: invalid gitlab\.createRunner\.scope: give exactly one of instance, groupId and projectId/,
        /got groupId and projectId/,
      );
      refuses(createRunner({ instance: true, projectId: 7 }), /got instance and projectId/);
      assert.throws(
        () =>
          new components.GitLabFargateRunner("twoscopes", createRunner({ instance: true, groupId: 1, projectId: 2 })),
        /exactly one of instance, groupId and projectId .*got instance and groupId and projectId/,
      );
    });

    it('refuses an empty scope, instance: false and the former "instance" string', () => {
      refuses(
        createRunner({}),
        /gitlab\.createRunner\.scope: give exactly one of instance, groupId and projectId/,
        /none/,
      );
      refuses(createRunner({ instance: false }), /gitlab\.createRunner\.scope\.instance: it must be true/);
      refuses(
        createRunner("instance" as never),
        /gitlab\.createRunner\.scope: it is required and must be \{ instance: true \}/,
      );
    });

    it("refuses a string choice outside its enum, as another language may send it", () => {
      refuses({ ...required, jobs: { architecture: "ARM64" as never } }, /jobs\.architecture/, /"ARM64"/);
      refuses({ ...required, jobs: { capacityProvider: "SPOT" as never } }, /jobs\.capacityProvider/, /"SPOT"/);
      refuses({ ...required, network: { taskPlacement: "Public" as never } }, /network\.taskPlacement/, /"Public"/);
      refuses(
        {
          ...required,
          gitlab: {
            url: "https://gitlab.example.com",
            createRunner: { accessToken: "glpat-x", scope: { groupId: 42 }, accessLevel: "protected" as never },
          },
        },
        /gitlab\.createRunner\.accessLevel/,
      );
    });
  });
});
