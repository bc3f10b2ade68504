import * as assert from "node:assert/strict";
import {
  iamNoBroadManagedPolicies,
  iamNoPrivilegeEscalation,
  iamNoWildcardActions,
  iamPassRoleScoped,
} from "../../../policy/rules/iam";
import { T, validateResource } from "../harness";
import { assertPasses, assertViolates } from "./helpers";

const policyJson = (...statements: object[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });

describe("policy iam-no-wildcard-actions", () => {
  const scoped = policyJson(
    { Effect: "Allow", Action: "ecs:RunTask", Resource: "arn:aws:ecs:eu-west-1:123456789012:task-definition/runner:*" },
    {
      Effect: "Allow",
      Action: ["ecs:DescribeTasks", "ecs:StopTask"],
      Resource: "*",
      Condition: { ArnEquals: { "ecs:cluster": "arn" } },
    },
    { Effect: "Allow", Action: ["logs:*"], Resource: "arn:aws:logs:eu-west-1:123456789012:log-group:/runner:*" },
    { Effect: "Deny", Action: "*", Resource: "*", Condition: { Bool: { "aws:SecureTransport": "false" } } },
  );

  it("passes exact actions (other services' wildcards and Deny statements are not its business)", async () => {
    assertPasses(await validateResource(iamNoWildcardActions, T.iamPolicy, "manager", { policy: scoped }));
  });

  it("fails '*' and 'service:*' for every guarded service, in any case", async () => {
    const actions = ["*", "iam:*", "ECS:*", "ec2:*", "s3:*", "secretsmanager:*", "kms:*"];
    const outcome = await validateResource(iamNoWildcardActions, T.rolePolicy, "manager", {
      role: "manager",
      policy: policyJson({ Effect: "Allow", Action: actions, Resource: "*" }),
    });
    assertViolates(outcome, "manager", ["Statement[0]", "exact actions"], actions.length);
    assert.deepEqual(
      outcome.violations.map(({ message }) => /"([^"]+)" \(policy/.exec(message)?.[1]),
      actions,
    );
  });

  it("fails any pattern that matches every action of a guarded service ('?', doubled '*', service prefixes)", async () => {
    const actions = ["iam:?*", "ecs:**", "*:*", "s3:*?", "Secrets*", "k*:*", "e?2:*", "i*"];
    const outcome = await validateResource(iamNoWildcardActions, T.iamPolicy, "p", {
      policy: policyJson({ Effect: "Allow", Action: actions, Resource: "*" }),
    });
    assert.deepEqual(
      outcome.violations.map(({ message }) => /"([^"]+)" \(policy/.exec(message)?.[1]),
      actions,
    );
  });

  it("passes patterns that select some actions only (prefix wildcards, '?' for one character)", async () => {
    const actions = ["ecs:Describe*", "s3:Get?bject", "ec2:*NetworkInterfaces", "iam:PassRol?", "logs:*"];
    assertPasses(
      await validateResource(iamNoWildcardActions, T.iamPolicy, "p", {
        policy: policyJson({ Effect: "Allow", Action: actions, Resource: "*" }),
      }),
    );
  });

  it("fails NotAction allows, and checks policy documents given as objects", async () => {
    const outcome = await validateResource(iamNoWildcardActions, T.iamPolicy, "p", {
      policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", NotAction: "iam:*", Resource: "*" }] },
    });
    assertViolates(outcome, "p", ["NotAction"]);
  });

  it("checks a role's inline policies but not its trust policy", async () => {
    const role = {
      assumeRolePolicy: policyJson({
        Effect: "Allow",
        Action: "sts:AssumeRole",
        Principal: { Service: "ecs-tasks.amazonaws.com" },
      }),
      inlinePolicies: [
        { name: "ok", policy: scoped },
        { name: "wide", policy: policyJson({ Effect: "Allow", Action: "s3:*", Resource: "*" }) },
      ],
    };
    const outcome = await validateResource(iamNoWildcardActions, T.role, "task-role", role);
    assertViolates(outcome, "task-role", ['"s3:*"', "inlinePolicies[1] (wide) Statement[0]"]);
  });
});

describe("policy iam-passrole-scoped", () => {
  const passRole = (Resource: unknown, Action: unknown = "iam:PassRole") =>
    policyJson({
      Effect: "Allow",
      Action,
      Resource,
      Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
    });

  it("passes PassRole on the two named roles, and on roles under one path", async () => {
    const roles = ["arn:aws:iam::123456789012:role/runner-execution", "arn:aws:iam::123456789012:role/runner-task"];
    assertPasses(await validateResource(iamPassRoleScoped, T.iamPolicy, "manager", { policy: passRole(roles) }));
    const underPath = passRole("arn:aws:iam::123456789012:role/gitlab-runner/*");
    assertPasses(await validateResource(iamPassRoleScoped, T.iamPolicy, "manager", { policy: underPath }));
  });

  it("leaves actions that cannot mean iam:PassRole alone ('?' is one character, not a literal)", async () => {
    for (const action of ["iam:PassRol", "iam:PassRole?", "iam:Get*", "ecs:PassRole"]) {
      const policy = passRole("*", action);
      assertPasses(await validateResource(iamPassRoleScoped, T.iamPolicy, "manager", { policy }));
    }
  });

  it("fails PassRole on '*', on every role, through a wildcard action, or with NotResource", async () => {
    for (const [resource, action] of [
      ["*", "iam:PassRole"],
      ["arn:aws:iam::123456789012:role/*", "iam:PassRole"],
      ["*", "iam:Pass*"],
      ["*", "iam:PassRol?"],
      ["*", "IAM:passrole"],
      ["*", "iam:*Role"],
      ["arn:aws:iam::123456789012:role*", "iam:PassRole"],
      ["arn:aws:iam::999999999999:role/*", "iam:PassRole"],
      ["arn:aws-cn:iam::123456789012:role/*", "iam:PassRole"],
      ["arn:*:iam::*:role/*", "iam:PassRole"],
      ["arn:*", "iam:PassRole"],
      ["arn:aws:iam::*:*", "iam:PassRole"],
      ["arn:aws:iam::12345678901?:role/*", "iam:PassRole"],
    ]) {
      const outcome = await validateResource(iamPassRoleScoped, T.iamPolicy, "manager", {
        policy: passRole(resource, action),
      });
      assertViolates(outcome, "manager", [resource, "iam:PassedToService"]);
    }
    const notResource = policyJson({
      Effect: "Allow",
      Action: "iam:PassRole",
      NotResource: "arn:aws:iam::1:role/admin",
    });
    assertViolates(await validateResource(iamPassRoleScoped, T.iamPolicy, "m", { policy: notResource }), "m", [
      "NotResource",
    ]);
  });
});

describe("policy iam-no-privilege-escalation", () => {
  const allow = (Action: unknown, Resource: unknown) => policyJson({ Effect: "Allow", Action, Resource });

  it("fails privilege-escalation actions on every resource, and wildcards that include them", async () => {
    const actions = [
      "iam:PutRolePolicy",
      "iam:Put*",
      "iam:AttachRolePolicy",
      "iam:Attach*",
      "iam:CreatePolicyVersion",
      "iam:CreateAccessKey",
      "iam:Create*",
      "iam:DeleteRolePermissionsBoundary",
      "sts:AssumeRole",
      "ssm:*",
      "lambda:*",
      "iam:*",
      "*",
      "sts:*",
      "IAM:*Policy",
      "lambda:Update*",
      "ssm:Send*",
    ];
    for (const action of actions) {
      const everyRole = /^(iam|sts):/i.test(action) ? ["arn:aws:iam::*:role/*"] : [];
      for (const resource of ["*", "arn:*", ...everyRole]) {
        const outcome = await validateResource(iamNoPrivilegeEscalation, T.iamPolicy, "escalate", {
          policy: allow(["ecs:DescribeTasks", action], resource),
        });
        assertViolates(outcome, "escalate", [`"${action}"`, resource, "Statement[0]", "raise"]);
      }
    }
  });

  it("fails escalation on every resource through NotResource, in role inline and role policies", async () => {
    const notResource = policyJson({
      Effect: "Allow",
      Action: "iam:AttachRolePolicy",
      NotResource: "arn:aws:iam::123456789012:role/admin",
    });
    assertViolates(
      await validateResource(iamNoPrivilegeEscalation, T.rolePolicy, "p", { role: "r", policy: notResource }),
      "p",
      ["NotResource"],
    );
    const role = await validateResource(iamNoPrivilegeEscalation, T.role, "task-role", {
      inlinePolicies: [{ name: "jobs", policy: allow("lambda:*", "arn:aws:lambda:*:123456789012:function:*") }],
    });
    assertViolates(role, "task-role", ['"lambda:*"', "inlinePolicies[0] (jobs)"]);
  });

  it("passes escalation-capable actions on named resources, and harmless actions on every resource", async () => {
    const named = policyJson(
      { Effect: "Allow", Action: "iam:PutRolePolicy", Resource: "arn:aws:iam::123456789012:role/app-*" },
      { Effect: "Allow", Action: "sts:AssumeRole", Resource: "arn:aws:iam::123456789012:role/deployer" },
      { Effect: "Allow", Action: "lambda:*", Resource: "arn:aws:lambda:eu-west-1:123456789012:function:app" },
      { Effect: "Allow", Action: ["ssm:DescribeInstanceInformation", "ecs:ListTasks", "iam:Get*"], Resource: "*" },
      { Effect: "Deny", Action: "iam:*", Resource: "*" },
    );
    assertPasses(await validateResource(iamNoPrivilegeEscalation, T.iamPolicy, "scoped", { policy: named }));
  });

  it("leaves iam:PassRole to iam-passrole-scoped (one rule per concern)", async () => {
    const passRole = await validateResource(iamNoPrivilegeEscalation, T.iamPolicy, "p", {
      policy: allow("iam:PassRole", "*"),
    });
    assertPasses(passRole);
  });
});

describe("policy iam-no-broad-managed-policies", () => {
  it("passes the ECS task execution managed policy", async () => {
    const arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
    assertPasses(
      await validateResource(iamNoBroadManagedPolicies, T.rolePolicyAttachment, "exec", { role: "r", policyArn: arn }),
    );
  });

  it("fails AmazonECS_FullAccess (GitLab's manual guide) on an attachment or in managedPolicyArns", async () => {
    const arn = "arn:aws:iam::aws:policy/AmazonECS_FullAccess";
    const attachment = await validateResource(iamNoBroadManagedPolicies, T.rolePolicyAttachment, "manager-ecs", {
      role: "r",
      policyArn: arn,
    });
    assertViolates(attachment, "manager-ecs", ["AmazonECS_FullAccess", "exact actions"]);
    const role = await validateResource(iamNoBroadManagedPolicies, T.role, "manager", {
      managedPolicyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"],
    });
    assertViolates(role, "manager", ["AdministratorAccess"]);
  });

  it("fails ReadOnlyAccess, PowerUserAccess and any *FullAccess policy on a job task role", async () => {
    for (const name of [
      "ReadOnlyAccess",
      "PowerUserAccess",
      "AdministratorAccess-Amplify",
      "AmazonDynamoDBFullAccess",
      "AWSLambda_FullAccess",
      "CloudWatchLogsFullAccess",
      "job-function/SystemAdministrator",
      "job-function/DatabaseAdministrator",
      "job-function/ViewOnlyAccess",
      "AmazonS3ReadOnlyAccess",
      "AmazonSSMReadOnlyAccess",
      "AmazonEC2ContainerRegistryPowerUser",
    ]) {
      const outcome = await validateResource(iamNoBroadManagedPolicies, T.rolePolicyAttachment, "task-policy-1", {
        role: "runner-task-role",
        policyArn: `arn:aws:iam::aws:policy/${name}`,
      });
      assertViolates(outcome, "task-policy-1", [name.split("/").at(-1) ?? name, "customer policy"]);
    }
    const role = await validateResource(iamNoBroadManagedPolicies, T.role, "task-role", {
      managedPolicyArns: ["arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess"],
    });
    assertViolates(role, "task-role", ["ReadOnlyAccess"]);
  });

  it("fails broad managed policies on users and groups, and through every attachment resource", async () => {
    const admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    const ecsFull = "arn:aws:iam::aws:policy/AmazonECS_FullAccess";
    const cases: [string, Record<string, unknown>][] = [
      ["aws:iam/policyAttachment:PolicyAttachment", { name: "all", policyArn: admin, users: ["ci"] }],
      ["aws:iam/userPolicyAttachment:UserPolicyAttachment", { user: "ci", policyArn: admin }],
      ["aws:iam/groupPolicyAttachment:GroupPolicyAttachment", { group: "ops", policyArn: admin }],
      [
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
        { roleName: "manager", policyArns: [ecsFull] },
      ],
      [
        "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
        { userName: "ci", policyArns: [ecsFull] },
      ],
      [
        "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive",
        { groupName: "ops", policyArns: [admin, "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"] },
      ],
    ];
    for (const [type, props] of cases) {
      assertViolates(await validateResource(iamNoBroadManagedPolicies, type, "attach", props), "attach", [
        "customer policy",
      ]);
    }
  });
});
