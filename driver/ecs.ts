/**
 * The ECS/EC2 port over the AWS SDK for JavaScript v3. Loaded only by prepare, cleanup and reap (main.ts imports
 * them lazily), so the run stage starts without the SDK.
 *
 * Region: Fargate.Region, else the SDK's own resolution (AWS_REGION). Credentials: the SDK's default chain
 * (instance profile on the manager). Endpoints: the SDK honours AWS_ENDPOINT_URL_ECS / AWS_ENDPOINT_URL_EC2
 * (and AWS_ENDPOINT_URL) itself. Retries: adaptive mode, which also rate-limits the client after throttling.
 */
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { Task } from "@aws-sdk/client-ecs";
import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  loadEc2,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from "./awsSdk";
import { Cancelled, SystemFailure } from "./errors";
import { EcsPort, ReapPort, TaskDefinitionPort, TaskView } from "./ports";

/** DescribeTasks takes at most this many tasks per call. */
const DESCRIBE_TASKS_BATCH = 100;

/** Attempts per call (first try + retries); adaptive mode backs off and paces calls when throttled. */
export const MAX_ATTEMPTS = 8;

export function taskView(task: Task): TaskView {
  const eni = task.attachments?.find((a) => a.type === "ElasticNetworkInterface");
  const detail = (name: string): string | undefined => eni?.details?.find((d) => d.name === name)?.value;
  const containerIp = task.containers
    ?.flatMap((c) => c.networkInterfaces ?? [])
    .find((n) => n.privateIpv4Address)?.privateIpv4Address;
  return {
    taskArn: task.taskArn ?? "",
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    stoppedReason: task.stoppedReason,
    stopCode: task.stopCode,
    containers: (task.containers ?? []).map((c) => ({
      name: c.name,
      lastStatus: c.lastStatus,
      reason: c.reason,
      exitCode: c.exitCode,
    })),
    privateIp: detail("privateIPv4Address") ?? containerIp,
    networkInterfaceId: detail("networkInterfaceId"),
  };
}

/** DescribeTaskDefinition's answer for a definition it does not know (ECS answers ClientException). */
function isTaskDefinitionNotFound(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  return e.name === "ClientException" && /unable to describe task definition/i.test(e.message ?? "");
}

function isTaskNotFound(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  return (e.name === "InvalidParameterException" || e.name === "ClientException") && /not found/i.test(e.message ?? "");
}

/** Wraps SDK errors so the job log names the API call. */
async function call<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SystemFailure) throw err;
    const e = err as { name?: string; message?: string };
    if (e.name === "AbortError") throw new Cancelled(`ECS ${action} cancelled`);
    throw new SystemFailure(`ECS ${action} failed: ${e.name ?? "Error"}: ${e.message ?? String(err)}`, { cause: err });
  }
}

export function createEcsPort(options: {
  region?: string;
}): EcsPort & TaskDefinitionPort & ReapPort & { destroy(): void } {
  const config = { region: options.region, retryMode: "adaptive", maxAttempts: MAX_ATTEMPTS };
  const ecs = new ECSClient(config);

  /** ARNs of the tasks matching `filter` whose desired status is RUNNING, every page. */
  async function listRunningTasks(filter: { cluster: string; startedBy?: string }, signal?: AbortSignal) {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await ecs.send(new ListTasksCommand({ ...filter, desiredStatus: "RUNNING", nextToken }), {
        abortSignal: signal,
      });
      arns.push(...(out.taskArns ?? []));
      nextToken = out.nextToken;
    } while (nextToken);
    return arns;
  }
  let ec2: EC2Client | undefined;

  return {
    runTask: (input) =>
      call("RunTask", async () => {
        const out = await ecs.send(new RunTaskCommand(input));
        return { taskArn: out.tasks?.[0]?.taskArn, failures: out.failures ?? [] };
      }),

    describeTask: (cluster, taskArn, signal) =>
      call("DescribeTasks", async () => {
        const out = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }), { abortSignal: signal });
        const task = out.tasks?.find((t) => t.taskArn === taskArn) ?? out.tasks?.[0];
        return task ? taskView(task) : undefined;
      }),

    stopTask: (cluster, taskArn, reason, signal) =>
      call("StopTask", async () => {
        try {
          await ecs.send(new StopTaskCommand({ cluster, task: taskArn, reason }), { abortSignal: signal });
        } catch (err) {
          if (!isTaskNotFound(err)) throw err;
        }
      }),

    listRunningTasks: (cluster, signal) => call("ListTasks", () => listRunningTasks({ cluster }, signal)),

    taskTags: (cluster, taskArns, signal) =>
      call("DescribeTasks", async () => {
        const tags = new Map<string, Record<string, string>>();
        for (let i = 0; i < taskArns.length; i += DESCRIBE_TASKS_BATCH) {
          const tasks = taskArns.slice(i, i + DESCRIBE_TASKS_BATCH);
          const out = await ecs.send(new DescribeTasksCommand({ cluster, tasks, include: ["TAGS"] }), {
            abortSignal: signal,
          });
          for (const task of out.tasks ?? []) {
            if (!task.taskArn) continue;
            tags.set(task.taskArn, Object.fromEntries((task.tags ?? []).map((t) => [t.key ?? "", t.value ?? ""])));
          }
        }
        return tags;
      }),

    listTasksStartedBy: (cluster, startedBy, signal) =>
      call("ListTasks", () => listRunningTasks({ cluster, startedBy }, signal)),

    publicIp: (networkInterfaceId, signal) =>
      call("EC2 DescribeNetworkInterfaces", async () => {
        // The EC2 client costs ~50 MB of RSS: load it only for the UsePublicIP path.
        const { DescribeNetworkInterfacesCommand, EC2Client } = await loadEc2();
        ec2 ??= new EC2Client(config);
        const out = await ec2.send(
          new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [networkInterfaceId] }),
          {
            abortSignal: signal,
          },
        );
        return out.NetworkInterfaces?.[0]?.Association?.PublicIp;
      }),

    describeTaskDefinition: (reference, signal) =>
      call("DescribeTaskDefinition", async () => {
        try {
          const out = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: reference }), {
            abortSignal: signal,
          });
          return out.taskDefinition;
        } catch (err) {
          if (isTaskDefinitionNotFound(err)) return undefined;
          throw err;
        }
      }),

    registerTaskDefinition: (input, signal) =>
      call("RegisterTaskDefinition", async () => {
        const out = await ecs.send(new RegisterTaskDefinitionCommand(input), { abortSignal: signal });
        const definition = out.taskDefinition;
        if (!definition?.family || definition.revision === undefined) {
          throw new SystemFailure("ECS RegisterTaskDefinition answered without a family and revision");
        }
        return `${definition.family}:${definition.revision}`;
      }),

    destroy: () => {
      ecs.destroy();
      ec2?.destroy();
    },
  };
}
