export { GitLabFargateRunner, GITLAB_FARGATE_RUNNER_TYPE } from "./gitlabFargateRunner";
export { Architecture, CapacityProvider, NatGatewayStrategy, RunnerAccessLevel, TaskPlacement } from "./args";
export type {
  AdminArgs,
  BuiltImageArgs,
  CacheArgs,
  CreateRunnerArgs,
  ExistingNetworkArgs,
  ExternalImageArgs,
  GitLabArgs,
  GitLabFargateRunnerArgs,
  JobsArgs,
  LegacyRegistrationArgs,
  ManagerArgs,
  ManagerSshKeyArgs,
  NetworkArgs,
  RunnerArgs,
  RunnerScope,
  SshProxyArgs,
  TaskSizeArgs,
} from "./args";
export { allowedMemory, FARGATE_CPU_VALUES } from "../driver/contract/fargateTaskSizes";
export { CONTAINER_NAME } from "./aws/taskDefinition";
export { GitLabRunner } from "./gitlab/gitlabRunner";
export { registerRunner } from "./manager/registration";
export type { RegisterRunnerArgs, RunnerRegistration } from "./manager/registration";
