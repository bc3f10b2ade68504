// The policy pack entry point. Constructing a PolicyPack starts the analyzer's gRPC server, so this file only wires
// the rules (policy/rules/) together and must never be imported by tests or by the library.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

new PolicyPack("gitlab-fargate-runner", {
  description: "Security defaults for stacks that run GitLab CI jobs on AWS Fargate with gitlab-fargate-runner.",
  provider: "aws",
  enforcementLevel: "mandatory",
  policies,
});
