// The exact permissions of every IAM role GitLabFargateRunner creates, per variant. Any widening (a new action, a
// broader resource, a dropped condition, a new attachment) fails here and must be a deliberate, reviewed change.
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import type { GitLabFargateRunnerArgs } from "../../../components";
import {
  ACCOUNT_ID,
  CapturedResource,
  installMocks,
  REGION,
  ResourceRecorder,
  settle,
  valueOf,
} from "../../support/pulumiMocks";
import { ComponentFixture, statements, T } from "../deployment";

const ARN = `${REGION}:${ACCOUNT_ID}`;
const EXECUTION_MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
const CREDENTIALS_SECRET = `arn:aws:secretsmanager:${ARN}:secret:registry-AbCdEf`;
const JOB_POLICY = `arn:aws:iam::${ACCOUNT_ID}:policy/read-artifacts`;
const GHCR_SECRET = `arn:aws:secretsmanager:${ARN}:secret:ghcr-GhCr01`;
/** A registry secret in another region and account: its KMS grant must name that region and account. */
const QUAY_SECRET = "arn:aws:secretsmanager:us-east-1:210987654321:secret:ci/quay-Qu4y02";

interface Grant {
  Effect: string;
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

interface RoleGrants {
  trustedService: string;
  trustCondition: unknown;
  managedPolicyArns: string[];
  statements: Grant[];
}

/** A statement without its Sid, actions and resources sorted: what it allows, nothing cosmetic. */
function normalize(statement: Record<string, unknown>): Grant {
  const list = (value: unknown) => [value ?? []].flat().map(String).sort();
  return {
    Effect: String(statement.Effect),
    Action: list(statement.Action),
    Resource: list(statement.Resource),
    ...(statement.Condition ? { Condition: statement.Condition as Grant["Condition"] } : {}),
  };
}

function statementsOf(policy: unknown): Grant[] {
  const document = (typeof policy === "string" ? JSON.parse(policy) : policy) as {
    Statement: Record<string, unknown>[];
  };
  return document.Statement.map(normalize);
}

/** Everything that grants `role` permissions: its inline policies, RolePolicy resources and attachments. */
function grantsOf(resources: CapturedResource[], role: CapturedResource): RoleGrants {
  // Children refer to a role by its id (RolePolicy) or its name (attachments); the mocks give each a distinct value.
  const refersToRole = (value: unknown) => value === role.id || value === `${role.name}-r0le`;
  const trust = JSON.parse(role.inputs.assumeRolePolicy).Statement;
  assert.equal(trust.length, 1, `${role.name}: one trust statement`);
  assert.equal(trust[0].Action, "sts:AssumeRole");
  return {
    trustedService: trust[0].Principal.Service,
    trustCondition: trust[0].Condition,
    managedPolicyArns: [
      ...(role.inputs.managedPolicyArns ?? []),
      ...resources
        .filter((r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment" && refersToRole(r.inputs.role))
        .map((r) => r.inputs.policyArn),
    ].sort(),
    statements: [
      ...(role.inputs.inlinePolicies ?? []).flatMap((inline: { policy: string }) => statementsOf(inline.policy)),
      ...resources
        .filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && refersToRole(r.inputs.role))
        .flatMap((r) => statementsOf(r.inputs.policy)),
    ].sort((a, b) => a.Action.join().localeCompare(b.Action.join())),
  };
}

/** Expected grants in the order and form of {@link normalize}d ones: actions and resources sorted. */
function sortedByAction(grants: Grant[]): Grant[] {
  return grants
    .map((grant) => ({ ...grant, Action: [...grant.Action].sort(), Resource: [...grant.Resource].sort() }))
    .sort((a, b) => a.Action.join().localeCompare(b.Action.join()));
}

const onlyThisAccount = { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } };

/**
 * The manager's grants for runner `name` (cluster and role names as the mocks report them). With image tasks (the
 * default: jobs may choose their image or services) it also runs the families the driver registers, registers them
 * (Fargate only) and reads task definitions.
 */
function managerGrants(name: string, options: { cache?: boolean; imageTasks?: boolean } = {}): Grant[] {
  const cluster = `${name}-cluster-c0ffee`;
  const family = `gitlab-${name}-test`;
  const onThisCluster = { ArnEquals: { "ecs:cluster": `arn:aws:ecs:${ARN}:cluster/${cluster}` } };
  const tasks = `arn:aws:ecs:${ARN}:task/${cluster}/*`;
  const imageTasks = options.imageTasks ?? true;
  const grants: Grant[] = [
    {
      Effect: "Allow",
      Action: ["ecs:RunTask"],
      Resource: [
        `arn:aws:ecs:${ARN}:task-definition/${family}:*`,
        ...(imageTasks ? [`arn:aws:ecs:${ARN}:task-definition/${family}-image-*:*`] : []),
      ],
      Condition: onThisCluster,
    },
    { Effect: "Allow", Action: ["ecs:DescribeTasks", "ecs:StopTask"], Resource: [tasks], Condition: onThisCluster },
    {
      Effect: "Allow",
      Action: ["ecs:ListTasks"],
      Resource: [`arn:aws:ecs:${ARN}:container-instance/${cluster}/*`],
      Condition: onThisCluster,
    },
    {
      Effect: "Allow",
      Action: ["ecs:TagResource"],
      Resource: [tasks],
      Condition: { StringEquals: { "ecs:CreateAction": "RunTask" } },
    },
    {
      Effect: "Allow",
      Action: ["iam:PassRole"],
      Resource: [
        `arn:aws:iam::${ACCOUNT_ID}:role/${name}-execution-role-r0le`,
        `arn:aws:iam::${ACCOUNT_ID}:role/${name}-task-role-r0le`,
      ],
      Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
    },
  ];
  if (imageTasks) {
    grants.push(
      {
        Effect: "Allow",
        Action: ["ecs:RegisterTaskDefinition"],
        Resource: [`arn:aws:ecs:${ARN}:task-definition/${family}-image-*`],
        Condition: {
          "ForAllValues:StringEquals": { "ecs:compute-compatibility": ["FARGATE"] },
          Null: { "ecs:compute-compatibility": "false" },
        },
      },
      { Effect: "Allow", Action: ["ecs:DescribeTaskDefinition"], Resource: ["*"] },
    );
  }
  if (options.cache ?? true) {
    grants.push({
      Effect: "Allow",
      Action: ["s3:DeleteObject", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
      Resource: [`arn:aws:s3:::${name}-cache-b4cket/*`],
    });
  }
  return sortedByAction(grants);
}

/**
 * The execution role's inline grants: nothing without a registry credentials secret; with some, GetSecretValue on
 * exactly those secrets and kms:Decrypt only through Secrets Manager in a secret's own region and account, for the
 * secrets there (one statement per region and account).
 */
function executionGrants(...secrets: string[]): Grant[] {
  if (secrets.length === 0) return [];
  const byPlace = new Map<string, string[]>();
  for (const secret of [...new Set(secrets)].sort()) {
    const place = secret.split(":").slice(1, 5).join(":");
    byPlace.set(place, [...(byPlace.get(place) ?? []), secret]);
  }
  const decrypt = [...byPlace].map(([place, arns]): Grant => {
    const [partition, , region, account] = place.split(":");
    return {
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [`arn:${partition}:kms:${region}:${account}:key/*`],
      Condition: {
        StringEquals: {
          "kms:ViaService": `secretsmanager.${region}.amazonaws.com`,
          "kms:EncryptionContext:SecretARN": arns,
        },
      },
    };
  });
  return sortedByAction([
    ...decrypt,
    { Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [...new Set(secrets)].sort() },
  ]);
}

const VARIANTS: Record<string, Partial<GitLabFargateRunnerArgs>> = {
  iamdefault: {},
  iampublic: { network: { taskPlacement: "public" } },
  iamnocache: { cache: { enabled: false } },
  iamextimg: { jobs: { image: { uri: "registry.example.com/ci:1", credentialsSecretArn: CREDENTIALS_SECRET } } },
  iamextout: {
    jobs: { image: { uri: "registry.example.com/ci:1", credentialsSecretArn: pulumi.output(CREDENTIALS_SECRET) } },
  },
  iamjobrole: { jobs: { taskRolePolicyArns: [JOB_POLICY] } },
  iamnoimg: { jobs: { allowedImages: [], allowedServices: [] } },
  iamsvconly: { jobs: { allowedImages: [], allowedServices: ["postgres:*"] } },
  iamregcreds: {
    jobs: {
      image: { uri: "registry.example.com/ci:1", credentialsSecretArn: CREDENTIALS_SECRET },
      registryCredentials: {
        "ghcr.io": GHCR_SECRET,
        "quay.io": pulumi.output(QUAY_SECRET),
        "ghcr.example": GHCR_SECRET,
      },
    },
  },
};

describe("IAM: the exact permissions of each role", function () {
  let recorder: ResourceRecorder;

  before(async function () {
    recorder = await installMocks();
    const { GitLabFargateRunner } = await import("../../../components");
    for (const [name, variant] of Object.entries(VARIANTS)) {
      new GitLabFargateRunner(name, {
        gitlab: { url: "https://gitlab.example.com", runnerToken: pulumi.secret("glrt-iamtest0123456789") },
        admin: { sshCidrBlocks: ["203.0.113.0/24"] },
        ...variant,
      });
    }
    await settle();
  });

  function rolesOf(name: string): Record<string, RoleGrants> {
    const resources = recorder.of(name);
    const roles = resources.filter((r) => r.type === "aws:iam/role:Role");
    return Object.fromEntries(roles.map((role) => [role.name.slice(name.length + 1), grantsOf(resources, role)]));
  }

  it("creates exactly three roles and no other IAM grant (no users, groups, standalone policies)", () => {
    const iam = recorder.of("iamdefault").filter((r) => r.type.startsWith("aws:iam/"));
    assert.deepEqual(iam.map((r) => `${r.type.split(":")[2]} ${r.name}`).sort(), [
      "InstanceProfile iamdefault-manager-profile",
      "Role iamdefault-execution-role",
      "Role iamdefault-manager-role",
      "Role iamdefault-task-role",
      "RolePolicy iamdefault-manager-policy",
      "RolePolicyAttachment iamdefault-execution-managed",
    ]);
  });

  it("manager: RunTask on its families in its cluster, register its image families (Fargate only), read task definitions, Describe/Stop/List/Tag its cluster's tasks, PassRole on the two job roles, its cache objects", () => {
    const manager = rolesOf("iamdefault")["manager-role"];
    assert.equal(manager.trustedService, "ec2.amazonaws.com");
    assert.deepEqual(manager.trustCondition, onlyThisAccount);
    assert.deepEqual(manager.managedPolicyArns, []);
    assert.deepEqual(manager.statements, managerGrants("iamdefault"));
  });

  it("manager with public tasks: the same grants (the driver connects to the private IP; no EC2 lookups)", () => {
    assert.deepEqual(rolesOf("iampublic")["manager-role"].statements, managerGrants("iampublic"));
  });

  it("manager with images and services off: no task definition to register or read, RunTask on its base family only", () => {
    const statements = rolesOf("iamnoimg")["manager-role"].statements;
    assert.deepEqual(statements, managerGrants("iamnoimg", { imageTasks: false }));
    const actions = statements.flatMap((s) => s.Action);
    assert.ok(!actions.includes("ecs:RegisterTaskDefinition") && !actions.includes("ecs:DescribeTaskDefinition"));
  });

  it("manager with services only: the image task grants too (services run in registered task definitions)", () => {
    assert.deepEqual(rolesOf("iamsvconly")["manager-role"].statements, managerGrants("iamsvconly"));
  });

  it("manager: Resource * only for ecs:DescribeTaskDefinition, the one action AWS offers no resource type for", () => {
    for (const name of Object.keys(VARIANTS)) {
      const everywhere = rolesOf(name)["manager-role"].statements.filter((s) => s.Resource.includes("*"));
      const imageTasks = name !== "iamnoimg";
      assert.deepEqual(
        everywhere.map((s) => [s.Action, s.Resource, s.Condition]),
        imageTasks ? [[["ecs:DescribeTaskDefinition"], ["*"], undefined]] : [],
        name,
      );
    }
  });

  it("manager: what RegisterTaskDefinition passes (the task definition's roles) is the same PassRole grant as RunTask's", () => {
    for (const name of Object.keys(VARIANTS)) {
      const passRole = rolesOf(name)["manager-role"].statements.filter((s) =>
        s.Action.some((action) => action.startsWith("iam:")),
      );
      assert.deepEqual(
        passRole,
        [
          {
            Effect: "Allow",
            Action: ["iam:PassRole"],
            Resource: [
              `arn:aws:iam::${ACCOUNT_ID}:role/${name}-execution-role-r0le`,
              `arn:aws:iam::${ACCOUNT_ID}:role/${name}-task-role-r0le`,
            ],
            Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
          },
        ],
        name,
      );
    }
  });

  it("manager without the cache: no S3 permission at all", () => {
    const statements = rolesOf("iamnocache")["manager-role"].statements;
    assert.deepEqual(statements, managerGrants("iamnocache", { cache: false }));
    assert.ok(statements.every((s) => s.Action.every((action) => !action.startsWith("s3:"))));
  });

  it("execution role: AWS's task execution policy only; no secret, parameter or KMS read without a credentials secret", () => {
    const execution = rolesOf("iamdefault")["execution-role"];
    assert.equal(execution.trustedService, "ecs-tasks.amazonaws.com");
    assert.deepEqual(execution.trustCondition, onlyThisAccount);
    assert.deepEqual(execution.managedPolicyArns, [EXECUTION_MANAGED_POLICY]);
    assert.deepEqual(execution.statements, executionGrants());
    assert.equal(recorder.ofType("iamdefault", "aws:iam/rolePolicy:RolePolicy").length, 1, "only the manager's");
  });

  it("execution role with registry credentials: GetSecretValue on that one secret, KMS only via Secrets Manager for it", () => {
    const execution = rolesOf("iamextimg")["execution-role"];
    assert.deepEqual(execution.managedPolicyArns, [EXECUTION_MANAGED_POLICY]);
    assert.deepEqual(execution.statements, executionGrants(CREDENTIALS_SECRET));
  });

  it("execution role with registry credentials given as an Output: the same scoped grants", () => {
    assert.deepEqual(rolesOf("iamextout")["execution-role"].statements, executionGrants(CREDENTIALS_SECRET));
  });

  it("execution role with jobs.registryCredentials: GetSecretValue on exactly those secrets and the image's, KMS per secret's region and account", () => {
    const execution = rolesOf("iamregcreds")["execution-role"];
    assert.deepEqual(execution.managedPolicyArns, [EXECUTION_MANAGED_POLICY]);
    assert.deepEqual(execution.statements, executionGrants(CREDENTIALS_SECRET, GHCR_SECRET, QUAY_SECRET));
    const quay = execution.statements.find((s) => s.Resource.includes("arn:aws:kms:us-east-1:210987654321:key/*"));
    assert.deepEqual(quay?.Condition?.StringEquals["kms:EncryptionContext:SecretARN"], [QUAY_SECRET]);
  });

  it("no variant lets the execution role read SSM parameters or any secret but the ones given", () => {
    const given: Record<string, string[]> = {
      iamextimg: [CREDENTIALS_SECRET],
      iamextout: [CREDENTIALS_SECRET],
      iamregcreds: [CREDENTIALS_SECRET, GHCR_SECRET, QUAY_SECRET].sort(),
    };
    for (const name of Object.keys(VARIANTS)) {
      const read = rolesOf(name)["execution-role"].statements.filter((s) =>
        s.Action.includes("secretsmanager:GetSecretValue"),
      );
      assert.deepEqual(
        read.flatMap((s) => s.Resource),
        given[name] ?? [],
        name,
      );
      for (const statement of rolesOf(name)["execution-role"].statements) {
        assert.ok(!statement.Action.some((action) => action.startsWith("ssm:")), `${name}: ${statement.Action}`);
      }
    }
  });

  it("refuses a registry credentials secret that is not one secret's full ARN before any resource exists", async () => {
    const { GitLabFargateRunner } = await import("../../../components");
    assert.throws(
      () =>
        new GitLabFargateRunner("iamrefusedreg", {
          gitlab: { url: "https://gitlab.example.com", runnerToken: pulumi.secret("glrt-iamtest0123456789") },
          admin: { sshCidrBlocks: ["203.0.113.0/24"] },
          jobs: { registryCredentials: { "ghcr.io": `arn:aws:secretsmanager:${ARN}:secret:*` } },
        }),
      /jobs\.registryCredentials\["ghcr\.io"\].*wildcard/,
    );
    await settle();
    assert.deepEqual(recorder.of("iamrefusedreg"), [], "no resource is created");
  });

  describe("jobs.image.credentialsSecretArn is refused before any resource exists", () => {
    const refused: Record<string, [string, RegExp]> = {
      "a wildcard secret": [`arn:aws:secretsmanager:${ARN}:secret:*`, /wildcard/],
      "a wildcard in the name": [`arn:aws:secretsmanager:${ARN}:secret:registry-*`, /wildcard/],
      "a ? wildcard (the partial-ARN pattern)": [`arn:aws:secretsmanager:${ARN}:secret:registry-??????`, /wildcard/],
      "a wildcard region": [`arn:aws:secretsmanager:*:${ACCOUNT_ID}:secret:registry-AbCdEf`, /wildcard/],
      "a wildcard account": [`arn:aws:secretsmanager:${REGION}:*:secret:registry-AbCdEf`, /wildcard/],
      "an SSM parameter": [`arn:aws:ssm:${ARN}:parameter/registry`, /Secrets Manager/],
      "a partial ARN (no 6-character suffix)": [`arn:aws:secretsmanager:${ARN}:secret:registry`, /suffix/],
      "a secret name": ["registry-AbCdEf", /Secrets Manager/],
      "an ARN with trailing text": [`${CREDENTIALS_SECRET}:SecretString:password::`, /Secrets Manager/],
    };
    let attempt = 0;
    for (const [what, [secretArn, reason]] of Object.entries(refused)) {
      it(`refuses ${what}`, async () => {
        const { GitLabFargateRunner } = await import("../../../components");
        const name = `iamrefused${++attempt}`;
        assert.throws(
          () =>
            new GitLabFargateRunner(name, {
              gitlab: { url: "https://gitlab.example.com", runnerToken: pulumi.secret("glrt-iamtest0123456789") },
              admin: { sshCidrBlocks: ["203.0.113.0/24"] },
              jobs: { image: { uri: "registry.example.com/ci:1", credentialsSecretArn: secretArn } },
            }),
          (error: Error) => {
            assert.match(error.message, /jobs\.image\.credentialsSecretArn/);
            assert.match(error.message, reason);
            return true;
          },
        );
        await settle();
        assert.deepEqual(recorder.of(name), [], "no resource is created");
      });
    }

    it("refuses a wildcard ARN that arrives as an Output when it resolves", async () => {
      const { resolveArgs } = await import("../../../components/validation");
      const resolved = resolveArgs("iamrefusedout", {
        gitlab: { url: "https://gitlab.example.com", runnerToken: pulumi.secret("glrt-iamtest0123456789") },
        admin: { sshCidrBlocks: ["203.0.113.0/24"] },
        jobs: {
          image: {
            uri: "registry.example.com/ci:1",
            credentialsSecretArn: pulumi.output(`arn:aws:secretsmanager:${ARN}:secret:*`),
          },
        },
      });
      const arn = pulumi.output(resolved.jobs.image?.credentialsSecretArn) as unknown as {
        promise(): Promise<string>;
      };
      await assert.rejects(arn.promise(), /jobs\.image\.credentialsSecretArn.*wildcard/);
    });
  });

  it("task role (what a job may do in AWS): nothing by default", () => {
    const task = rolesOf("iamdefault")["task-role"];
    assert.equal(task.trustedService, "ecs-tasks.amazonaws.com");
    assert.deepEqual(task.trustCondition, onlyThisAccount);
    assert.deepEqual(task.managedPolicyArns, []);
    assert.deepEqual(task.statements, []);
  });

  it("task role with jobs.taskRolePolicyArns: exactly the given policies, nothing added", () => {
    const task = rolesOf("iamjobrole")["task-role"];
    assert.deepEqual(task.managedPolicyArns, [JOB_POLICY]);
    assert.deepEqual(task.statements, []);
  });

  it("the instance profile carries the manager role and nothing else", () => {
    const profile = recorder.one("iamdefault", "aws:iam/instanceProfile:InstanceProfile");
    assert.equal(profile.inputs.role, "iamdefault-manager-role-r0le");
  });
});

const fixture = new ComponentFixture();
const { deployed } = fixture;

describe("GitLabFargateRunner (Pulumi mocks)", function () {
  before(() => fixture.install());

  describe("IAM", () => {
    it("execution role: AWS's managed ECS task execution policy and no secret read without registry credentials", async () => {
      const { one, all } = await deployed();
      assert.equal(
        one(T.attachment, "execution-managed").inputs.policyArn,
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
      );
      assert.ok(all(T.rolePolicy).every((p) => !p.name.endsWith("-execution-secrets")));
      const assume = JSON.parse(one(T.role, "execution-role").inputs.assumeRolePolicy).Statement[0];
      assert.deepEqual(assume.Principal, { Service: "ecs-tasks.amazonaws.com" });
    });

    it("task role: no permissions by default, the given policy ARNs on request", async () => {
      const plain = await deployed();
      assert.equal(plain.all(T.attachment).filter((a) => a.name.includes("task-policy")).length, 0);
      assert.equal(
        plain.all(T.rolePolicy).filter((p) => p.inputs.role === plain.one(T.role, "task-role").id).length,
        0,
      );
      const arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
      const withPolicy = await deployed({ jobs: { taskRolePolicyArns: [arn] } });
      const attachment = withPolicy.one(T.attachment, "task-policy-1").inputs;
      assert.deepEqual(attachment, { role: `${withPolicy.one(T.role, "task-role").name}-r0le`, policyArn: arn });
    });

    it("manager: RunTask only on this family and cluster; Describe/Stop/List conditioned on this cluster", async () => {
      const { runner, one } = await deployed();
      const clusterArn = await valueOf(runner.clusterArn);
      const clusterName = await valueOf(runner.clusterName);
      const family = one(T.taskDefinition).inputs.family;
      const s = Object.fromEntries(statements(one(T.rolePolicy, "manager-policy")).map((st) => [st.Sid, st]));
      assert.deepEqual(s.RunJobTasks.Action, ["ecs:RunTask"]);
      assert.deepEqual(s.RunJobTasks.Resource, [
        `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:task-definition/${family}:*`,
        `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:task-definition/${family}-image-*:*`,
      ]);
      assert.deepEqual(s.RunJobTasks.Condition, { ArnEquals: { "ecs:cluster": clusterArn } });
      assert.deepEqual(s.WatchAndStopJobTasks.Action, ["ecs:DescribeTasks", "ecs:StopTask"]);
      assert.equal(s.WatchAndStopJobTasks.Resource, `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:task/${clusterName}/*`);
      assert.deepEqual(s.WatchAndStopJobTasks.Condition, { ArnEquals: { "ecs:cluster": clusterArn } });
      assert.deepEqual(s.FindOrphanedJobTasks.Action, ["ecs:ListTasks"]);
      assert.deepEqual(s.FindOrphanedJobTasks.Condition, { ArnEquals: { "ecs:cluster": clusterArn } });
      assert.deepEqual(s.TagTasksAtLaunch.Condition, { StringEquals: { "ecs:CreateAction": "RunTask" } });
    });

    it("manager: PassRole only the execution and task roles, only to ecs-tasks.amazonaws.com", async () => {
      const { runner, one } = await deployed();
      const pass = statements(one(T.rolePolicy, "manager-policy")).find((st) => st.Action.includes("iam:PassRole"));
      assert.deepEqual(pass?.Resource, [await valueOf(runner.executionRoleArn), await valueOf(runner.taskRoleArn)]);
      assert.deepEqual(pass?.Condition, { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } });
    });

    it("manager: S3 object access on the cache bucket only; no wildcard action; Resource * only to read task definitions", async () => {
      const { one } = await deployed();
      const all = statements(one(T.rolePolicy, "manager-policy"));
      const s3 = all.filter((st) => st.Action.some((a) => a.startsWith("s3:")));
      assert.equal(s3.length, 1);
      assert.equal(s3[0].Resource, `arn:aws:s3:::${one(T.bucket).name}-b4cket/*`);
      for (const st of all) {
        for (const action of st.Action) assert.doesNotMatch(action, /\*/);
        if (st.Resource === "*") assert.deepEqual(st.Action, ["ecs:DescribeTaskDefinition"]);
      }
      assert.ok(!all.some((st) => st.Action.includes("ec2:DescribeNetworkInterfaces")));
    });

    it("manager: no other Resource * and no ec2:DescribeNetworkInterfaces, also in public-task mode", async () => {
      const { one } = await deployed({ network: { taskPlacement: "public" } });
      const all = statements(one(T.rolePolicy, "manager-policy"));
      assert.ok(all.length > 0);
      assert.deepEqual(
        all
          .filter((st) => st.Resource === "*" || st.Action.includes("ec2:DescribeNetworkInterfaces"))
          .map((st) => st.Action),
        [["ecs:DescribeTaskDefinition"]],
      );
    });

    it("manager: registers task definitions only in its image families, and only for Fargate", async () => {
      const { one } = await deployed();
      const family = one(T.taskDefinition).inputs.family;
      const register = statements(one(T.rolePolicy, "manager-policy")).filter((st) =>
        st.Action.includes("ecs:RegisterTaskDefinition"),
      );
      assert.deepEqual(register, [
        {
          Sid: "RegisterImageTaskDefinitions",
          Effect: "Allow",
          Action: ["ecs:RegisterTaskDefinition"],
          Resource: `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:task-definition/${family}-image-*`,
          Condition: {
            "ForAllValues:StringEquals": { "ecs:compute-compatibility": ["FARGATE"] },
            Null: { "ecs:compute-compatibility": "false" },
          },
        },
      ]);
      // The condition holds for what the driver registers: a copy of this task definition's requiresCompatibilities.
      assert.deepEqual(one(T.taskDefinition).inputs.requiresCompatibilities, ["FARGATE"]);
    });

    it("manager: no S3 permission when the cache is off", async () => {
      const { runner, one, all } = await deployed({ cache: { enabled: false } });
      assert.equal(all(T.bucket).length, 0);
      assert.ok(
        !statements(one(T.rolePolicy, "manager-policy")).some((st) => st.Action.some((a) => a.startsWith("s3:"))),
      );
      assert.equal(await valueOf(runner.cacheBucketName), undefined);
      assert.equal(await valueOf(runner.cacheBucketRegion), undefined);
    });

    it("manager role is assumed by EC2 and reaches the instance through its instance profile", async () => {
      const { one } = await deployed();
      const assume = JSON.parse(one(T.role, "manager-role").inputs.assumeRolePolicy).Statement[0];
      assert.deepEqual(assume.Principal, { Service: "ec2.amazonaws.com" });
      assert.equal(one(T.profile).inputs.role, `${one(T.role, "manager-role").name}-r0le`);
      assert.equal(one(T.instance).inputs.iamInstanceProfile, `${one(T.profile).name}-pr0file`);
    });
  });
});
