export { GitLabFargateRunner, GITLAB_FARGATE_RUNNER_TYPE } from "./gitlabFargateRunner";
export type {
  AdminArgs,
  Architecture,
  BuiltImageArgs,
  CacheArgs,
  CreateRunnerArgs,
  ExistingNetworkArgs,
  ExternalImageArgs,
  GitLabArgs,
  GitLabFargateRunnerArgs,
  JobsArgs,
  ManagerArgs,
  NetworkArgs,
  RunnerAccessLevel,
  RunnerArgs,
  RunnerScope,
  TaskPlacement,
} from "./args";
export { allowedMemory, FARGATE_CPU_VALUES } from "../driver/contract/fargateTaskSizes";
export { CONTAINER_NAME } from "./aws/taskDefinition";
export { GitLabRunner } from "./gitlab/gitlabRunner";
export { registerRunner } from "./manager/registration";
export type { RegisterRunnerArgs, RunnerRegistration } from "./manager/registration";
