/**
 * The parts of the AWS SDK the driver uses. Bundled on its own (dist/driver/awsSdk.js, most of the driver's
 * size) and required from the entry bundle only when an AWS stage first calls ECS, so `config` and `run` start
 * without parsing it.
 */
export {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from "@aws-sdk/client-ecs";

/** The EC2 client, parsed only for `UsePublicIP` (it holds about 50 MB). */
export function loadEc2() {
  return import("@aws-sdk/client-ec2");
}
