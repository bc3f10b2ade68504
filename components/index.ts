export { GitLabFargateRunner, GITLAB_FARGATE_RUNNER_TYPE } from "./gitlabFargateRunner";
export type {
  AdminArgs,
  Architecture,
  BuiltImageArgs,
  CacheArgs,
  ExistingNetworkArgs,
  ExternalImageArgs,
  GitLabArgs,
  GitLabFargateRunnerArgs,
  JobsArgs,
  ManagerArgs,
  NetworkArgs,
  RunnerArgs,
  TaskPlacement,
} from "./args";
export { allowedMemory, FARGATE_CPU_VALUES } from "./fargate";
export { CONTAINER_NAME } from "./cluster";
export { GitLabRunner } from "./gitlabRunner";
export type { CreateRunnerArgs, RunnerAccessLevel, RunnerScope } from "./gitlabRunner";
export { registerRunner } from "./registration";
export type { RegisterRunnerArgs, RunnerRegistration } from "./registration";
