import { strict as assert } from "node:assert";
import type * as Components from "../../components";
import type * as Validation from "../../components/validation";
import { installMocks } from "../support/pulumiMocks";

const TOKEN = "glrt-validation-token";
let components: typeof Components;
let validation: typeof Validation;
let counter = 0;

type Args = Components.GitLabFargateRunnerArgs;
const required: Args = {
  gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN },
  admin: { sshCidrBlocks: ["203.0.113.7/32"] },
};

/** Asserts the constructor refuses `args` with an Error whose message matches every pattern. */
function refuses(args: Args, ...patterns: RegExp[]) {
  assert.throws(
    () => new components.GitLabFargateRunner(`bad${++counter}`, args),
    (error: Error) => {
      assert.ok(error instanceof Error);
      for (const pattern of patterns) assert.match(error.message, pattern);
      assert.ok(!error.message.includes(TOKEN), "an error message must never contain the token");
      return true;
    },
  );
}

describe("GitLabFargateRunner argument validation", () => {
  before(async () => {
    await installMocks();
    components = await import("../../components");
    validation = await import("../../components/validation");
  });

  it("refuses a component name S3 or IAM could not use", () => {
    assert.throws(() => new components.GitLabFargateRunner("Runner_A", required), /invalid name: "Runner_A"/);
    assert.throws(() => new components.GitLabFargateRunner("r".repeat(33), required), /invalid name/);
  });

  describe("gitlab", () => {
    it("requires gitlab.url", () => {
      refuses({ ...required, gitlab: { url: "", runnerToken: TOKEN } }, /gitlab\.url/, /required/);
    });

    it("refuses a non-https gitlab.url", () => {
      refuses(
        { ...required, gitlab: { url: "http://gitlab.example.com", runnerToken: TOKEN } },
        /gitlab\.url/,
        /https/,
      );
    });

    it("refuses a gitlab.url that is not a URL", () => {
      refuses({ ...required, gitlab: { url: "gitlab.example.com", runnerToken: TOKEN } }, /gitlab\.url/, /not a URL/);
    });

    it("refuses an empty runner token", () => {
      refuses(
        { ...required, gitlab: { url: "https://gitlab.example.com", runnerToken: "" } },
        /gitlab\.runnerToken/,
        /empty/,
      );
    });

    it("refuses both runnerToken and registrationToken, naming both", () => {
      refuses(
        { ...required, gitlab: { url: "https://gitlab.example.com", runnerToken: TOKEN, registrationToken: "GR1" } },
        /runnerToken/,
        /registrationToken/,
        /mutually exclusive/,
      );
    });

    it("refuses no token at all, naming the three ways to give one", () => {
      refuses(
        { ...required, gitlab: { url: "https://gitlab.example.com" } },
        /runnerToken/,
        /registrationToken/,
        /createRunner/,
      );
    });

    it("keeps the token secret and strips a trailing slash from the URL", async () => {
      const { isSecretOutput } = await import("../support/pulumiMocks");
      const resolved = validation.resolveArgs("ok", {
        ...required,
        gitlab: { url: "https://gitlab.example.com/", runnerToken: TOKEN },
      });
      assert.equal(resolved.gitlab.url, "https://gitlab.example.com");
      assert.equal(resolved.gitlab.token.kind, "runner");
      assert.ok(await isSecretOutput(resolved.gitlab.token.value));
    });
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
      const { allowedMemory } = await import("../../components/fargate");
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

    it("accepts an own network without private subnets in public-task mode", () => {
      const resolved = validation.resolveArgs("pub", {
        ...required,
        network: { taskPlacement: "public", existing: { vpcId: "vpc-1", publicSubnetIds: ["subnet-a"] } },
      });
      assert.equal(resolved.network.taskPlacement, "public");
    });

    it("refuses ids of the wrong kind", () => {
      refuses(
        {
          ...required,
          network: { existing: { vpcId: "subnet-1", publicSubnetIds: ["subnet-a"], privateSubnetIds: ["subnet-b"] } },
        },
        /network\.existing\.vpcId/,
      );
    });

    it("refuses an unknown NAT layout and a VPC CIDR that is not IPv4", () => {
      refuses({ ...required, network: { natGateways: "three" as "single" } }, /network\.natGateways/);
      refuses({ ...required, network: { cidrBlock: "2001:db8::/56" } }, /network\.cidrBlock/);
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
          cache: r.cache,
          runner: r.runner,
          tags: r.tags,
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
          cache: { enabled: true, expirationDays: 14, forceDestroy: false },
          runner: { name: "defaults", concurrent: 10, checkInterval: 3 },
          tags: { "gitlab-fargate-runner": "defaults" },
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
});
