/**
 * A small HTTP emulator of the parts of Amazon ECS (awsJson1_1) and EC2 (query protocol) the driver uses, so the
 * real AWS SDK v3 can be exercised locally: point AWS_ENDPOINT_URL_ECS and AWS_ENDPOINT_URL_EC2 at `endpoint`.
 *
 * Task definitions: RegisterTaskDefinition (validated, revisions per family, rate-limited like AWS) and
 * DescribeTaskDefinition; RunTask runs only registered ones (seed them with the `taskDefinitions` option).
 *
 * Task lifecycle: RunTask → PROVISIONING → (provisioningMs) → PENDING → (pendingMs) → launcher.launch() → RUNNING.
 * The ENI's address shows from when the launcher reports it (its network exists), while the task is still PENDING.
 * The launcher reports its containers' state changes; an essential container that stops (or a task whose
 * container exits on its own) stops the task with "Essential container in task exited"; a non-essential one just
 * shows STOPPED with its exit code. An image the launcher cannot pull stops the task with TaskFailedToStart and a
 * `CannotPullContainerError: …` reason. Faults (throttling, RunTask failures, tasks stopping before RUNNING) can be
 * switched on at any time.
 */
import { randomBytes } from "node:crypto";
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import { AddressInfo } from "node:net";
import {
  ContainerOverride,
  EcsApiError as ApiError,
  RegisterTaskDefinitionInput,
  RegisteredTaskDefinition,
  TaskDefinitionStore,
  launchContainers,
} from "./ecsTaskDefinitions";
import { CannotPullContainerError, ContainerStateChange, LaunchedTask, TaskLauncher } from "./taskLauncher";

export interface EcsFaults {
  /** 0..1: share of calls answered with HTTP 400 ThrottlingException (EC2: 503 RequestLimitExceeded). */
  throttleRate?: number;
  /** The next N RunTask calls return a `failures` entry and no task. */
  runTaskFailures?: number;
  /** Reason of those failures; default "RESOURCE:CPU". */
  runTaskFailureReason?: string;
  /** While set, new tasks stop while PENDING with this reason (the launcher is never called). */
  stopBeforeRunning?: { stoppedReason: string; containerReason?: string };
  /** Time in PROVISIONING; default 50 ms. */
  provisioningMs?: number;
  /** Time in PENDING before the launcher is called; default 50 ms. */
  pendingMs?: number;
  /**
   * RegisterTaskDefinition's own rate limit (a token bucket, as AWS applies per account and Region): `burst`
   * calls at once, refilled at `perSecond`; calls beyond it get ThrottlingException "Rate exceeded".
   * Default { burst: 5, perSecond: 1 }.
   */
  registerTaskDefinitionRate?: { burst: number; perSecond: number };
}

/** A task definition registered before the emulator answers anything (not recorded in `calls`, not rate-limited). */
export type SeedTaskDefinition = RegisterTaskDefinitionInput & {
  /** Register it as this revision (earlier ones of the family then never existed); default: the next one. */
  revision?: number;
};

export interface EmulatedTask {
  taskArn: string;
  lastStatus: string;
  desiredStatus: string;
  startedBy?: string;
  tags: { key: string; value: string }[];
  stoppedReason?: string;
  overrides: unknown;
  group?: string;
  cluster: string;
  taskDefinitionArn: string;
}

export interface EcsEmulator {
  /** "http://127.0.0.1:<port>", for AWS_ENDPOINT_URL_ECS and AWS_ENDPOINT_URL_EC2. */
  endpoint: string;
  /** Mutable at any time. */
  faults: EcsFaults;
  tasks(): EmulatedTask[];
  /** Tasks whose lastStatus is not STOPPED. */
  runningTasks(): EmulatedTask[];
  /** Every registered task definition (seeds included), oldest first, as DescribeTaskDefinition answers them. */
  taskDefinitions(): RegisteredTaskDefinition[];
  /**
   * Every request in arrival order; `throttled` marks the ones answered with a throttling error, `region` is the
   * region the client signed for (from the SigV4 Authorization header).
   */
  calls: { action: string; at: number; throttled?: boolean; region?: string }[];
  /** Stops every task (launcher.stop) and the server. */
  close(): Promise<void>;
}

interface ContainerState {
  name: string;
  image: string;
  essential: boolean;
  lastStatus: string;
  exitCode?: number;
  reason?: string;
}

/** Internal task state; `view()` turns it into the public EmulatedTask. */
interface TaskState {
  taskArn: string;
  taskId: string;
  clusterArn: string;
  clusterName: string;
  taskDefinitionArn: string;
  lastStatus: string;
  desiredStatus: string;
  startedBy?: string;
  group: string;
  tags: { key: string; value: string }[];
  overrides: Record<string, unknown>;
  stoppedReason?: string;
  stopCode?: string;
  containers: ContainerState[];
  /** Name of the container the driver connects to (first containerOverride, else "ci-coordinator"). */
  coordinator: string;
  taskDefinition: RegisteredTaskDefinition;
  containerOverrides: ContainerOverride[];
  subnetId: string;
  eniId: string;
  privateIp?: string;
  publicIp?: string;
  launchType?: string;
  capacityProviderName?: string;
  platformVersion: string;
  createdAt: number;
  startedAt?: number;
  stoppedAt?: number;
  launched?: LaunchedTask;
  stopFault?: { stoppedReason: string; containerReason?: string };
  timers: NodeJS.Timeout[];
  /** Aborts a launch still under way when the task stops. */
  launchAbort: AbortController;
}

const ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113.";

export interface EcsEmulatorOptions {
  launcher: TaskLauncher;
  /** Default "eu-west-1". */
  region?: string;
  /** Default "123456789012". */
  accountId?: string;
  faults?: EcsFaults;
  /** Registered at start, in order (see ciCoordinatorTaskDefinition in ecsTaskDefinitions.ts). */
  taskDefinitions?: SeedTaskDefinition[];
}

export async function startEcsEmulator(options: EcsEmulatorOptions): Promise<EcsEmulator> {
  const region = options.region ?? "eu-west-1";
  const accountId = options.accountId ?? "123456789012";
  const launcher = options.launcher;
  const tasks = new Map<string, TaskState>();
  const calls: { action: string; at: number; throttled?: boolean; region?: string }[] = [];
  const pendingStops = new Set<Promise<void>>();
  const launches = new Set<Promise<void>>();
  const definitions = new TaskDefinitionStore(region, accountId);
  for (const { revision, ...seed } of options.taskDefinitions ?? []) definitions.register(seed, revision);
  const registerBucket = { tokens: -1, at: 0 };
  let closed = false;

  const emulator: EcsEmulator = {
    endpoint: "",
    faults: { ...(options.faults ?? {}) },
    calls,
    tasks: () => [...tasks.values()].map(view),
    runningTasks: () => [...tasks.values()].filter((t) => t.lastStatus !== "STOPPED").map(view),
    taskDefinitions: () => definitions.all(),
    close,
  };

  function view(t: TaskState): EmulatedTask {
    return {
      taskArn: t.taskArn,
      lastStatus: t.lastStatus,
      desiredStatus: t.desiredStatus,
      startedBy: t.startedBy,
      tags: t.tags.map((tag) => ({ ...tag })),
      stoppedReason: t.stoppedReason,
      overrides: t.overrides,
      group: t.group,
      cluster: t.clusterName,
      taskDefinitionArn: t.taskDefinitionArn,
    };
  }

  function clusterOf(value: unknown): { arn: string; name: string } {
    const raw = typeof value === "string" && value !== "" ? value : "default";
    const name = raw.startsWith("arn:") ? raw.slice(raw.lastIndexOf("/") + 1) : raw;
    return { arn: `arn:aws:ecs:${region}:${accountId}:cluster/${name}`, name };
  }

  function findTask(cluster: string, ref: string): TaskState | undefined {
    const byArn = tasks.get(ref);
    if (byArn) return byArn.clusterName === cluster ? byArn : undefined;
    return [...tasks.values()].find((t) => t.taskId === ref && t.clusterName === cluster);
  }

  // ---- task lifecycle ----------------------------------------------------------------------------------------

  function later(task: TaskState, ms: number, fn: () => void): void {
    task.timers.push(setTimeout(fn, ms));
  }

  function markStopped(task: TaskState, reason: string, stopCode: string): void {
    if (task.lastStatus === "STOPPED") return;
    task.timers.forEach(clearTimeout);
    task.lastStatus = "STOPPED";
    task.desiredStatus = "STOPPED";
    task.stoppedReason ??= reason;
    task.stopCode ??= stopCode;
    task.stoppedAt = Date.now() / 1000;
    for (const c of task.containers) c.lastStatus = "STOPPED";
    task.launchAbort.abort();
  }

  function releaseLaunched(task: TaskState): Promise<void> {
    const launched = task.launched;
    if (!launched) return Promise.resolve();
    const p = launched.stop().catch(() => undefined);
    pendingStops.add(p);
    return p.finally(() => pendingStops.delete(p));
  }

  /** A container state change the launcher reported (also after the task stopped: exit codes still arrive). */
  function onContainerChange(task: TaskState, change: ContainerStateChange): void {
    const container = task.containers.find((c) => c.name === change.name);
    if (!container) return;
    if (change.lastStatus === "RUNNING") {
      if (container.lastStatus !== "STOPPED") container.lastStatus = "RUNNING";
      return;
    }
    container.lastStatus = "STOPPED";
    if (container.exitCode === undefined && typeof change.exitCode === "number") container.exitCode = change.exitCode;
    if (change.reason !== undefined) container.reason ??= change.reason;
    if (container.essential && task.lastStatus !== "STOPPED") {
      markStopped(task, "Essential container in task exited", "EssentialContainerExited");
      void releaseLaunched(task);
    }
  }

  function startLifecycle(task: TaskState): void {
    later(task, emulator.faults.provisioningMs ?? 50, () => {
      if (task.desiredStatus === "STOPPED") return;
      task.lastStatus = "PENDING";
      for (const c of task.containers) c.lastStatus = "PENDING";
      later(task, emulator.faults.pendingMs ?? 50, () => {
        const p = launch(task).finally(() => launches.delete(p));
        launches.add(p);
      });
    });
  }

  async function launch(task: TaskState): Promise<void> {
    if (task.desiredStatus === "STOPPED") return;
    if (task.stopFault) {
      markStopped(task, task.stopFault.stoppedReason, "TaskFailedToStart");
      for (const c of task.containers) c.reason = task.stopFault.containerReason;
      return;
    }
    const containers = launchContainers(task.taskDefinition, task.containerOverrides);
    const coordinator = containers.find((c) => c.name === task.coordinator) ?? containers[0];
    let launched: LaunchedTask;
    try {
      launched = await launcher.launch(
        {
          taskArn: task.taskArn,
          taskId: task.taskId,
          environment: { ...coordinator.environment },
          coordinator: coordinator.name,
          containers,
          volumes: (task.taskDefinition.volumes ?? []).map((volume) => ({ name: volume.name ?? "" })),
          pidMode: task.taskDefinition.pidMode,
        },
        {
          report: (change) => onContainerChange(task, change),
          signal: task.launchAbort.signal,
          attached: (addresses) => {
            if (task.lastStatus === "STOPPED") return;
            task.privateIp = addresses.privateIp;
            task.publicIp = addresses.publicIp;
          },
        },
      );
    } catch (err) {
      if (err instanceof CannotPullContainerError) {
        const container = task.containers.find((c) => c.name === err.containerName);
        if (container) container.reason = err.message;
        markStopped(task, err.message, "TaskFailedToStart");
      } else {
        markStopped(task, `Task failed to start: ${(err as Error).message}`, "TaskFailedToStart");
      }
      return;
    }
    task.launched = launched;
    if (task.desiredStatus === "STOPPED" || closed) {
      await releaseLaunched(task);
      return;
    }
    task.privateIp = launched.privateIp;
    task.publicIp = launched.publicIp;
    task.lastStatus = "RUNNING";
    task.startedAt = Date.now() / 1000;
    // Containers the launcher did not report on (launchers that run one container) run with the task.
    for (const c of task.containers) if (c.lastStatus === "PENDING") c.lastStatus = "RUNNING";
    void launched.exited.then(({ exitCode, reason, container: name }) => {
      if (task.lastStatus === "STOPPED") return;
      const main = task.containers.find((c) => c.name === (name ?? task.coordinator)) ?? task.containers[0];
      if (main) {
        main.exitCode = exitCode ?? undefined;
        main.reason = reason;
      }
      markStopped(task, "Essential container in task exited", "EssentialContainerExited");
      void releaseLaunched(task);
    });
  }

  // ---- ECS actions -------------------------------------------------------------------------------------------

  /** RegisterTaskDefinition's token bucket; false when the call must be throttled. */
  function takeRegisterToken(): boolean {
    const { burst, perSecond } = emulator.faults.registerTaskDefinitionRate ?? { burst: 5, perSecond: 1 };
    const now = Date.now();
    if (registerBucket.tokens < 0) registerBucket.tokens = burst;
    else
      registerBucket.tokens = Math.min(burst, registerBucket.tokens + ((now - registerBucket.at) / 1000) * perSecond);
    registerBucket.at = now;
    if (registerBucket.tokens < 1) return false;
    registerBucket.tokens -= 1;
    return true;
  }

  function registerTaskDefinition(body: Record<string, unknown>): unknown {
    return definitions.register(body as unknown as RegisterTaskDefinitionInput);
  }

  function describeTaskDefinition(body: Record<string, unknown>): unknown {
    const reference = body.taskDefinition;
    const found = typeof reference === "string" && reference !== "" ? definitions.find(reference) : undefined;
    if (!found) throw new ApiError("ClientException", "Unable to describe task definition.");
    const include = Array.isArray(body.include) ? (body.include as string[]) : [];
    return include.includes("TAGS")
      ? { taskDefinition: found, tags: definitions.tags(found.taskDefinitionArn) }
      : { taskDefinition: found };
  }

  function runTask(body: Record<string, unknown>): unknown {
    const cluster = clusterOf(body.cluster);
    const taskDefinitionRef = body.taskDefinition;
    if (typeof taskDefinitionRef !== "string" || taskDefinitionRef === "") {
      throw new ApiError("InvalidParameterException", "taskDefinition is required.");
    }
    const network = (body.networkConfiguration as { awsvpcConfiguration?: { subnets?: string[] } } | undefined)
      ?.awsvpcConfiguration;
    if (!network || !Array.isArray(network.subnets) || network.subnets.length === 0) {
      throw new ApiError(
        "InvalidParameterException",
        "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
      );
    }
    const startedBy = body.startedBy as string | undefined;
    if (startedBy !== undefined && !/^[A-Za-z0-9_/-]{1,36}$/.test(startedBy)) {
      throw new ApiError("InvalidParameterException", "startedBy must be up to 36 letters, numbers, -, / or _.");
    }
    const taskDefinition = definitions.find(taskDefinitionRef);
    if (!taskDefinition) throw new ApiError("ClientException", "TaskDefinition not found.");
    if (taskDefinition.status !== "ACTIVE") throw new ApiError("ClientException", "TaskDefinition is inactive.");
    const overrides = (body.overrides as Record<string, unknown> | undefined) ?? {};
    const containerOverrides = (overrides.containerOverrides as ContainerOverride[] | undefined) ?? [];
    // Refuses overrides naming no container of the task definition, as RunTask does.
    launchContainers(taskDefinition, containerOverrides);
    const faults = emulator.faults;
    if ((faults.runTaskFailures ?? 0) > 0) {
      faults.runTaskFailures = (faults.runTaskFailures ?? 0) - 1;
      return {
        tasks: [],
        failures: [{ reason: faults.runTaskFailureReason ?? "RESOURCE:CPU", detail: "emulated RunTask failure" }],
      };
    }
    const taskId = randomBytes(16).toString("hex");
    const strategy = body.capacityProviderStrategy as { capacityProvider: string }[] | undefined;
    const task: TaskState = {
      taskArn: `arn:aws:ecs:${region}:${accountId}:task/${cluster.name}/${taskId}`,
      taskId,
      clusterArn: cluster.arn,
      clusterName: cluster.name,
      taskDefinitionArn: taskDefinition.taskDefinitionArn,
      lastStatus: "PROVISIONING",
      desiredStatus: "RUNNING",
      startedBy,
      group: (body.group as string | undefined) ?? `family:${taskDefinition.family}`,
      tags: ((body.tags as { key: string; value: string }[] | undefined) ?? []).map((t) => ({ ...t })),
      overrides,
      containers: taskDefinition.containerDefinitions.map((c) => ({
        name: c.name ?? "",
        image: c.image ?? "",
        essential: c.essential ?? true,
        lastStatus: "PENDING",
      })),
      coordinator: containerOverrides[0]?.name ?? "ci-coordinator",
      taskDefinition,
      containerOverrides,
      subnetId: network.subnets[0],
      eniId: `eni-${randomBytes(8).toString("hex").slice(0, 17)}`,
      launchType: strategy?.length ? undefined : ((body.launchType as string | undefined) ?? "FARGATE"),
      capacityProviderName: strategy?.[0]?.capacityProvider,
      platformVersion: (body.platformVersion as string | undefined) ?? "LATEST",
      createdAt: Date.now() / 1000,
      stopFault: faults.stopBeforeRunning ? { ...faults.stopBeforeRunning } : undefined,
      timers: [],
      launchAbort: new AbortController(),
    };
    tasks.set(task.taskArn, task);
    startLifecycle(task);
    return { tasks: [describe(task)], failures: [] };
  }

  function describe(t: TaskState): unknown {
    const details = [
      { name: "subnetId", value: t.subnetId },
      { name: "networkInterfaceId", value: t.eniId },
    ];
    if (t.privateIp) details.push({ name: "privateIPv4Address", value: t.privateIp });
    const attachmentId = `${t.taskId.slice(0, 8)}-attachment`;
    return {
      taskArn: t.taskArn,
      clusterArn: t.clusterArn,
      taskDefinitionArn: t.taskDefinitionArn,
      lastStatus: t.lastStatus,
      desiredStatus: t.desiredStatus,
      startedBy: t.startedBy,
      group: t.group,
      tags: t.tags,
      overrides: t.overrides,
      launchType: t.launchType,
      capacityProviderName: t.capacityProviderName,
      platformVersion: t.platformVersion,
      cpu: t.taskDefinition.cpu,
      memory: t.taskDefinition.memory,
      createdAt: t.createdAt,
      startedAt: t.startedAt,
      stoppedAt: t.stoppedAt,
      stoppedReason: t.stoppedReason,
      stopCode: t.stopCode,
      attachments: [
        {
          id: attachmentId,
          type: "ElasticNetworkInterface",
          status: t.lastStatus === "STOPPED" ? "DELETED" : t.privateIp ? "ATTACHED" : "PRECREATED",
          details,
        },
      ],
      containers: t.containers.map((c) => ({
        containerArn: `arn:aws:ecs:${region}:${accountId}:container/${t.clusterName}/${t.taskId}/${c.name}`,
        taskArn: t.taskArn,
        name: c.name,
        image: c.image,
        lastStatus: c.lastStatus,
        exitCode: c.exitCode,
        reason: c.reason,
        networkInterfaces: t.privateIp ? [{ attachmentId, privateIpv4Address: t.privateIp }] : [],
      })),
    };
  }

  function describeTasks(body: Record<string, unknown>): unknown {
    const cluster = clusterOf(body.cluster).name;
    const refs = body.tasks;
    if (!Array.isArray(refs) || refs.length === 0) {
      throw new ApiError("InvalidParameterException", "Tasks cannot be empty.");
    }
    // As ECS: a task's tags only with include: ["TAGS"].
    const withTags = Array.isArray(body.include) && (body.include as unknown[]).includes("TAGS");
    const found: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of refs as string[]) {
      const task = findTask(cluster, ref);
      if (task) found.push({ ...(describe(task) as object), tags: withTags ? task.tags : undefined });
      else failures.push({ arn: ref, reason: "MISSING" });
    }
    return { tasks: found, failures };
  }

  async function stopTask(body: Record<string, unknown>): Promise<unknown> {
    const cluster = clusterOf(body.cluster).name;
    const task = typeof body.task === "string" ? findTask(cluster, body.task) : undefined;
    if (!task) throw new ApiError("InvalidParameterException", "The referenced task was not found.");
    if (task.lastStatus !== "STOPPED") {
      markStopped(task, (body.reason as string | undefined) || "Task stopped by user", "UserInitiated");
      await releaseLaunched(task);
    }
    return { task: describe(task) };
  }

  function listTasks(body: Record<string, unknown>): unknown {
    const cluster = clusterOf(body.cluster).name;
    const desired = (body.desiredStatus as string | undefined) ?? "RUNNING";
    const arns = [...tasks.values()]
      .filter((t) => t.clusterName === cluster)
      .filter((t) => body.startedBy === undefined || t.startedBy === body.startedBy)
      .filter((t) => body.family === undefined || t.group === `family:${body.family as string}`)
      .filter((t) => (desired === "STOPPED" ? t.desiredStatus === "STOPPED" : t.desiredStatus === "RUNNING"))
      .map((t) => t.taskArn);
    return { taskArns: arns };
  }

  async function handleEcs(action: string, body: Record<string, unknown>): Promise<unknown> {
    switch (action) {
      case "RegisterTaskDefinition":
        return registerTaskDefinition(body);
      case "DescribeTaskDefinition":
        return describeTaskDefinition(body);
      case "RunTask":
        return runTask(body);
      case "DescribeTasks":
        return describeTasks(body);
      case "StopTask":
        return stopTask(body);
      case "ListTasks":
        return listTasks(body);
      default:
        throw new ApiError("UnknownOperationException", `The emulator does not implement ${action}.`);
    }
  }

  // ---- EC2 query protocol ------------------------------------------------------------------------------------

  function describeNetworkInterfaces(params: URLSearchParams): string {
    const ids: string[] = [];
    for (const [key, value] of params) if (/^NetworkInterfaceId\.\d+$/.test(key)) ids.push(value);
    const items = ids.map((id) => {
      const task = [...tasks.values()].find((t) => t.eniId === id && t.lastStatus !== "STOPPED");
      if (!task) {
        throw new ApiError("InvalidNetworkInterfaceID.NotFound", `The networkInterface ID '${id}' does not exist`);
      }
      const association = task.publicIp ? `<association><publicIp>${task.publicIp}</publicIp></association>` : "";
      return (
        `<item><networkInterfaceId>${id}</networkInterfaceId><subnetId>${task.subnetId}</subnetId>` +
        `<privateIpAddress>${task.privateIp ?? ""}</privateIpAddress>${association}</item>`
      );
    });
    return (
      `<?xml version="1.0" encoding="UTF-8"?>\n` +
      `<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
      `<requestId>${requestId()}</requestId><networkInterfaceSet>${items.join("")}</networkInterfaceSet>` +
      `</DescribeNetworkInterfacesResponse>`
    );
  }

  function ec2Error(err: ApiError): string {
    return (
      `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${err.code}</Code>` +
      `<Message>${err.message}</Message></Error></Errors><RequestID>${requestId()}</RequestID></Response>`
    );
  }

  // ---- HTTP --------------------------------------------------------------------------------------------------

  function requestId(): string {
    return randomBytes(16).toString("hex");
  }

  function throttled(): boolean {
    return Math.random() < (emulator.faults.throttleRate ?? 0);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const signedRegion = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(req.headers.authorization ?? "")?.[1];
    const target = req.headers["x-amz-target"];
    if (typeof target === "string" && target.startsWith(ECS_TARGET_PREFIX)) {
      const action = target.slice(ECS_TARGET_PREFIX.length);
      calls.push({ action, at: Date.now(), region: signedRegion });
      const send = (status: number, payload: unknown): void => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": requestId() });
        res.end(JSON.stringify(payload));
      };
      if (throttled() || (action === "RegisterTaskDefinition" && !takeRegisterToken())) {
        calls[calls.length - 1].throttled = true;
        return send(400, { __type: "ThrottlingException", message: "Rate exceeded" });
      }
      try {
        const body = raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>);
        send(200, await handleEcs(action, body));
      } catch (err) {
        const apiError =
          err instanceof ApiError ? err : new ApiError("ServerException", (err as Error).message ?? "error", 500);
        send(apiError.status, { __type: apiError.code, message: apiError.message });
      }
      return;
    }
    const params = new URLSearchParams(raw);
    const action = params.get("Action") ?? "Unknown";
    calls.push({ action, at: Date.now(), region: signedRegion });
    const sendXml = (status: number, xml: string): void => {
      res.writeHead(status, { "content-type": "text/xml;charset=UTF-8" });
      res.end(xml);
    };
    if (throttled()) {
      calls[calls.length - 1].throttled = true;
      return sendXml(503, ec2Error(new ApiError("RequestLimitExceeded", "Request limit exceeded.")));
    }
    try {
      if (action !== "DescribeNetworkInterfaces") {
        throw new ApiError("InvalidAction", `The emulator does not implement ${action}.`);
      }
      sendXml(200, describeNetworkInterfaces(params));
    } catch (err) {
      const apiError = err instanceof ApiError ? err : new ApiError("InternalError", (err as Error).message, 500);
      sendXml(apiError.status, ec2Error(apiError));
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  emulator.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    const stops: Promise<void>[] = [];
    for (const task of tasks.values()) {
      task.timers.forEach(clearTimeout);
      if (task.lastStatus !== "STOPPED") markStopped(task, "Emulator closed", "ServiceSchedulerInitiated");
      stops.push(releaseLaunched(task));
    }
    await Promise.all([...launches]);
    await Promise.all([...stops, ...pendingStops]);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  return emulator;
}
