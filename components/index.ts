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
