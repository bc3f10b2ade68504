/**
 * The prepare stage: start the job's Fargate task and wait until its sshd accepts the job's key.
 * Progress lines with timings go to the job log; on any failure or cancellation the task is stopped again.
 */
import { Writable } from "node:stream";
import { throwIfCancelled, withTimeout } from "../clock";
import { Cancelled, describeError, JobError, SystemFailure } from "../errors";
import { serviceContainerName } from "../imageTaskDefinition";
import { Job, JobOverrides, startedByCandidates, startedByFor, taskTags } from "../job";
import { JobContainers, JobService } from "../jobImages";
import { jobTaskDefinition } from "../jobTaskDefinition";
import { Logger } from "../log";
import { ForeignMetadata, MetadataStore } from "../metadata";
import { Clock, EcsPort, Print, RunTaskInput, SshPort, SshTarget, TaskDefinitionPort, TaskView } from "../ports";
import { Settings } from "../contract/fargateToml";
import { IMAGE_TASK } from "../contract/imageTasks";
import {
  DEFAULT_JOB_TIMEOUT_SECONDS,
  FIRST_CONTACT_MARGIN_SECONDS,
  MAX_LIFETIME_MARGIN_SECONDS,
  TASK_LIFETIME_ENV,
} from "../contract/taskLifetime";
import { stoppedTaskReason } from "../taskReason";
import { SshError } from "../sshError";
import { fingerprint } from "../sshKeys";

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

export interface PrepareDeps {
  settings: Settings;
  job: Job;
  overrides: JobOverrides;
  /** The job's own image and services, already checked against the allow-lists; default none. */
  containers?: JobContainers;
  ecs: EcsPort;
  /** Needed when `containers` names an image or services. */
  taskDefinitions?: TaskDefinitionPort;
  ssh: SshPort;
  clock: Clock;
  metadata: MetadataStore;
  generateKeyPair: () => KeyPair;
  /** Job log (stdout). */
  print: Print;
  log: Logger;
  /** Aborted on SIGTERM/SIGINT. */
  signal: AbortSignal;
  /** Bound on stopping the task after a failure or cancellation, ms (default 10 s). */
  stopTimeoutMs?: number;
  /** DescribeTasks polling: first interval and cap, ms (default 100 → 1000). */
  poll?: { initialMs: number; maxMs: number };
  /** SSH readiness retries: first delay and cap, ms (default 50 → 2000). */
  sshRetry?: { initialMs: number; maxMs: number };
  /**
   * Resolves once an SSH server greets at host:port; rejects only when its signal aborts. With it, the sshd of a task
   * of one container is watched from the moment DescribeTasks shows the task's private address (while the task is
   * still PENDING), and the login starts when sshd answers instead of when ECS reports RUNNING. Without it (and with
   * UsePublicIP, or more containers), prepare waits for RUNNING.
   */
  listening?: (host: string, port: number, signal: AbortSignal) => Promise<void>;
}

/** Consecutive "key refused" answers after which sshd is taken to refuse the key for good. */
export const MAX_AUTH_REFUSALS = 3;
/** DescribeTasks may not know a task right after RunTask (eventual consistency): MISSING counts only after this. */
export const MISSING_GRACE_MS = 10_000;
/** Consecutive MISSING answers (after the grace period) after which the task is taken to be gone. */
export const MAX_MISSING_ANSWERS = 3;

/**
 * The task's dead-man's switch (see ../contract/taskLifetime): it stops itself when the driver never logs in, when
 * no SSH session has been open for Timeouts.TaskIdle, and at its hard deadline.
 */
export function taskLifetimeEnvironment(settings: Settings, job: Pick<Job, "timeoutSeconds">) {
  const t = settings.timeouts;
  const maxLifetime =
    t.taskMaxLifetimeSeconds ?? (job.timeoutSeconds ?? DEFAULT_JOB_TIMEOUT_SECONDS) + MAX_LIFETIME_MARGIN_SECONDS;
  return [
    {
      name: TASK_LIFETIME_ENV.firstContactSeconds,
      value: String(t.taskRunningSeconds + t.sshReadySeconds + FIRST_CONTACT_MARGIN_SECONDS),
    },
    { name: TASK_LIFETIME_ENV.idleSeconds, value: String(t.taskIdleSeconds) },
    { name: TASK_LIFETIME_ENV.maxLifetimeSeconds, value: String(maxLifetime) },
  ];
}

/** The RunTask request for a job. Pure: everything comes from the settings, the job and its key. */
export function buildRunTaskInput(
  settings: Settings,
  job: Job,
  overrides: JobOverrides,
  publicKey: string,
  services: readonly JobService[] = [],
): RunTaskInput {
  const f = settings.fargate;
  const serviceOverrides = services.flatMap((service, index) => {
    const environment = Object.entries(service.variables).map(([name, value]) => ({ name, value }));
    return environment.length > 0 ? [{ name: serviceContainerName(index), environment }] : [];
  });
  const input: RunTaskInput = {
    cluster: f.cluster,
    taskDefinition: overrides.taskDefinition,
    count: 1,
    startedBy: startedByFor(job, settings.managerId),
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: f.subnets,
        securityGroups: f.securityGroups.length > 0 ? f.securityGroups : undefined,
        assignPublicIp: f.enablePublicIp ? "ENABLED" : "DISABLED",
      },
    },
    overrides: {
      containerOverrides: [
        {
          name: f.containerName,
          environment: [{ name: "SSH_PUBLIC_KEY", value: publicKey }, ...taskLifetimeEnvironment(settings, job)],
        },
        ...serviceOverrides,
      ],
      cpu: overrides.size.cpu,
      memory: overrides.size.memory,
    },
    tags: taskTags(job, f.tags, settings.managerId),
    // aws:ecs:* tags do not count against the 50-tag limit. Tags are not propagated from the task definition:
    // they would count against it too, on top of Fargate.Tags and the driver's own.
    enableECSManagedTags: true,
  };
  if (overrides.platformVersion) input.platformVersion = overrides.platformVersion;
  if (f.capacityProviderStrategy.length > 0) input.capacityProviderStrategy = f.capacityProviderStrategy;
  return input;
}

/** RunTask's limit on the JSON of its overrides, formatting included. */
export const MAX_OVERRIDES_LENGTH = 8192;

/** Services' variables travel in RunTask's overrides: too many of them fail the job before RunTask, clearly. */
function checkOverridesSize(input: RunTaskInput, services: readonly JobService[]): void {
  const length = JSON.stringify(input.overrides).length;
  if (length <= MAX_OVERRIDES_LENGTH) return;
  const variables = services.reduce((sum, s) => sum + Object.keys(s.variables).length, 0);
  throw new JobError(
    `RunTask's overrides would be ${length} characters, over ECS's limit of ${MAX_OVERRIDES_LENGTH}: the services' ` +
      `${variables} variables are too large (keep large values in files or in the job's own variables)`,
  );
}

/** Stopped, or on its way there with a reason already given. */
function isStopping(task: TaskView): boolean {
  return task.lastStatus === "STOPPED" || (task.desiredStatus === "STOPPED" && Boolean(task.stoppedReason));
}

/** Why prepare fails for a task that stopped: the job's error when an image the job chose could not be pulled. */
function stoppedTaskError(task: TaskView, when: string, settings: Settings): JobError | SystemFailure {
  const message = `Task stopped ${when}: ${stoppedTaskReason(task, settings.fargate.containerName)}`;
  return failedJobImage(task, settings.fargate.containerName) ? new JobError(message) : new SystemFailure(message);
}

/** True when the task stopped because an image the job chose (not ours) could not be pulled. */
export function failedJobImage(task: TaskView, coordinatorName: string): boolean {
  const ours = new Set([coordinatorName, IMAGE_TASK.toolsContainer]);
  const failed = task.containers.filter((c) => /CannotPullContainerError/i.test(c.reason ?? ""));
  return failed.length > 0 && failed.every((c) => !ours.has(c.name ?? ""));
}

function runTaskHint(reason: string): string {
  if (/No Container Instances were found/i.test(reason)) {
    return " (the cluster has no default capacity provider strategy: set [[Fargate.CapacityProviderStrategy]])";
  }
  if (/^RESOURCE:/i.test(reason) || /capacity|limit/i.test(reason)) return " (Fargate capacity or account limit)";
  return "";
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export async function runPrepareStage(deps: PrepareDeps): Promise<void> {
  const { settings, job, ecs, clock, metadata, print, signal } = deps;
  const cluster = settings.fargate.cluster;
  await stopPreviousAttempt(deps);
  throwIfCancelled(signal);

  const containers = deps.containers ?? { services: [], notices: [] };
  for (const notice of containers.notices) print(notice);
  const taskDefinition = await taskDefinitionFor(deps, containers);
  throwIfCancelled(signal);
  const keys = deps.generateKeyPair();
  const overrides = { ...deps.overrides, taskDefinition };
  const input = buildRunTaskInput(settings, job, overrides, keys.publicKey, containers.services);
  checkOverridesSize(input, containers.services);
  print(`Starting Fargate task: cluster ${cluster}, task definition ${input.taskDefinition}`);
  const started = clock.now();
  // Not cancellable: once sent, we want its answer so a created task can be stopped again.
  const result = await ecs.runTask(input).catch((err: unknown) => {
    throw new SystemFailure(`${describeError(err)}${runTaskHint(describeError(err))}`, { cause: err });
  });
  if (!result.taskArn) {
    const reasons = result.failures.map((f) => [f.reason, f.detail].filter(Boolean).join(": ")).join("; ");
    throw new SystemFailure(`ECS RunTask started no task: ${reasons || "no reason given"}${runTaskHint(reasons)}`);
  }
  const taskArn = result.taskArn;
  print(`Task ${taskArn}`);
  const record = {
    cluster,
    taskArn,
    startedBy: input.startedBy ?? "",
    jobId: job.id,
    privateKey: keys.privateKey,
    createdAt: new Date(clock.now()).toISOString(),
    ...(containers.image ? { buildContainer: true } : {}),
  };

  let created = false;
  let target: SshTarget | undefined;
  try {
    metadata.create(record);
    created = true;
    throwIfCancelled(signal);
    const reached = await waitForTask(deps, taskArn, started);
    const host = reached.sshdAddress ?? (await taskAddress(deps, reached.task));
    target = {
      host,
      port: settings.ssh.port,
      username: settings.ssh.username,
      privateKey: keys.privateKey,
      connectionDirectory: metadata.connectionDirectory,
    };
    const sshStarted = clock.now();
    const hostKey = await waitForSsh(deps, taskArn, target, reached.sshdAddress !== undefined);
    metadata.update({ ...record, host, port: target.port, username: target.username, hostKey });
    print(
      `SSH ready at ${host}:${target.port} after ${seconds(clock.now() - sshStarted)} (host key ${fingerprint(hostKey)})`,
    );
    await setUpJobContainers(deps, { ...target, hostKey }, containers);
    print(`Task ready in ${seconds(clock.now() - started)}`);
  } catch (err) {
    if (target) await deps.ssh.close(target);
    // Without a confirmed stop, the file is how cleanup finds the task again. A file this attempt did not create
    // is not its own to delete.
    if ((await stopAfterFailure(deps, taskArn, err)) && created) removeQuietly(deps);
    throw err;
  }
}

/** The configured (or job-chosen) task definition, or the one with the job's image and services on top of it. */
async function taskDefinitionFor(deps: PrepareDeps, containers: JobContainers): Promise<string> {
  const base = deps.overrides.taskDefinition;
  if (!containers.image && containers.services.length === 0) return base;
  if (!deps.taskDefinitions) throw new SystemFailure("no task definition client for a job with an image or services");
  const resolved = await jobTaskDefinition(
    {
      ecs: deps.taskDefinitions,
      clock: deps.clock,
      lockDirectory: deps.settings.metadataDirectory,
      signal: deps.signal,
    },
    base,
    containers,
    {
      coordinatorName: deps.settings.fargate.containerName,
      registryCredentials: deps.settings.fargate.registryCredentials,
    },
  );
  const how = resolved.registered ? "registered" : "reused";
  const what = containers.image ? `image ${containers.image}` : "services";
  deps.print(`Using ${what} (task definition ${resolved.taskDefinition}, ${how})`);
  containers.services.forEach((service, index) =>
    deps.print(
      `Service ${service.image} as ${service.hostnames.join(", ")} (container ${serviceContainerName(index)})`,
    ),
  );
  return resolved.taskDefinition;
}

/**
 * Once SSH answers: make sure scripts can enter the build container, and make the services' host names resolve where
 * the scripts run (awsvpc gives every container of the task one localhost; ECS has no extraHosts for it).
 */
async function setUpJobContainers(
  deps: PrepareDeps,
  target: SshTarget & { hostKey: string },
  containers: JobContainers,
): Promise<void> {
  const hostnames = containers.services.flatMap((service) => service.hostnames);
  const steps: { what: string; command: string; script: string }[] = [];
  if (containers.image) {
    steps.push({ what: "enter the build container", command: IMAGE_TASK.enterBuild, script: "exit 0\n" });
    if (hostnames.length > 0) {
      const names = hostnames.join(" ");
      steps.push({
        what: "add the services' host names",
        command: `${IMAGE_TASK.enterBuild} --hosts '${names}'`,
        script: "",
      });
    }
  } else if (hostnames.length > 0) {
    steps.push({
      what: "add the services' host names",
      command: "bash",
      script: `printf '%s\\n' '127.0.0.1 ${hostnames.join(" ")}' >> /etc/hosts\n`,
    });
  }
  for (const step of steps) {
    const output = new CollectedOutput();
    const signal = withTimeout(deps.signal, SETUP_STEP_TIMEOUT_MS);
    let code: number;
    try {
      code = await deps.ssh.runScript(target, step.script, { stdout: output, stderr: output }, signal, step.command);
    } catch (err) {
      if (err instanceof Cancelled && !deps.signal.aborted) {
        throw new SystemFailure(`could not ${step.what}: no answer within ${SETUP_STEP_TIMEOUT_MS / 1000} s`);
      }
      throw err;
    }
    if (code === 0) continue;
    const message = `could not ${step.what} (exit code ${code}): ${output.text().trim() || "no output"}`;
    // 125: enter-build-container's own failure (no build container, no SYS_PTRACE…); any other code comes from
    // the image's shell (wrong architecture, a broken shell): the job's image, not the runner.
    throw code === IMAGE_TASK.enterBuildFailed ? new SystemFailure(message) : new JobError(message);
  }
  if (containers.image) deps.print(`Scripts run in the build container (image ${containers.image})`);
}

/** Bound on each step of setting up the job's containers over SSH, ms (enter-build-container waits up to 60 s). */
const SETUP_STEP_TIMEOUT_MS = 90_000;

/** A writable stream that keeps the last few KiB written to it, for an error message. */
class CollectedOutput extends Writable {
  private kept = "";
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.kept = (this.kept + chunk.toString("utf8")).slice(-4096);
    done();
  }
  text(): string {
    return this.kept;
  }
}

function removeQuietly(deps: PrepareDeps): void {
  try {
    deps.metadata.remove();
  } catch (err) {
    deps.log.warn("could not delete the job metadata", { path: deps.metadata.path, error: describeError(err) });
  }
}

/**
 * A retried prepare (gitlab-runner retries system failures) must not leave an earlier attempt's task running: the
 * ARN in this job's old metadata, and every task with this job's startedBy (an attempt killed during RunTask wrote no
 * metadata). Failures to stop are warnings: those tasks carry the job's startedBy, so cleanup finds them again. The
 * old file is then deleted, so that this attempt creates its own; another job's file stops the stage untouched.
 */
async function stopPreviousAttempt(deps: PrepareDeps): Promise<void> {
  const { ecs, log, settings } = deps;
  let previous;
  let unreadable = false;
  try {
    previous = deps.metadata.read();
  } catch (err) {
    if (err instanceof ForeignMetadata) throw err;
    unreadable = true;
    log.warn("replacing unreadable job metadata", { error: describeError(err) });
  }
  const bound = (): AbortSignal => AbortSignal.timeout(deps.stopTimeoutMs ?? 10_000);
  const targets = new Map<string, string>(); // ARN → cluster
  if (previous) targets.set(previous.taskArn, previous.cluster);
  try {
    for (const startedBy of startedByCandidates(deps.job, settings.managerId)) {
      const arns = await ecs.listTasksStartedBy(settings.fargate.cluster, startedBy, bound());
      for (const arn of arns) if (!targets.has(arn)) targets.set(arn, settings.fargate.cluster);
    }
  } catch (err) {
    log.warn("could not look for tasks of an earlier prepare attempt", { error: describeError(err) });
  }
  const reason = `GitLab job ${deps.job.id}: prepare retried`;
  for (const [arn, cluster] of targets) {
    try {
      await ecs.stopTask(cluster, arn, reason, bound());
      deps.print(`Stopped task ${arn} of an earlier prepare attempt`);
    } catch (err) {
      log.warn("could not stop the task of an earlier prepare attempt; cleanup will retry", {
        taskArn: arn,
        error: describeError(err),
      });
    }
  }
  if (previous || unreadable) deps.metadata.remove();
}

/** Stops the task after a failure or cancellation; true when it is stopped (or gone). */
async function stopAfterFailure(deps: PrepareDeps, taskArn: string, err: unknown): Promise<boolean> {
  const cancelled = err instanceof Cancelled || deps.signal.aborted;
  const reason = `GitLab job ${deps.job.id}: prepare ${cancelled ? "cancelled" : "failed"}`;
  // A fresh, bounded signal: the stage's own signal may be the one that was aborted.
  const bound = AbortSignal.timeout(deps.stopTimeoutMs ?? 10_000);
  try {
    await deps.ecs.stopTask(deps.settings.fargate.cluster, taskArn, reason, bound);
    deps.print(`Stopped task ${taskArn} (${reason})`);
    return true;
  } catch (stopError) {
    deps.print(`Could not stop task ${taskArn}: ${describeError(stopError)}; cleanup will retry`);
    deps.log.warn("could not stop the task; cleanup will retry", { taskArn, error: describeError(stopError) });
    return false;
  }
}

interface SshdWatch {
  /** Starts watching the task's sshd, if this view of the task allows it (once per task). */
  watch(task: TaskView | undefined): void;
  /** The address whose sshd answered, once it did. */
  address(): string | undefined;
  /** Aborted when sshd answers. */
  answered: AbortSignal;
  stop(): void;
}

/**
 * The task's sshd, watched once DescribeTasks shows where it will listen (see PrepareDeps.listening). Only a task of
 * one container: another one (the job's image, a service, a sidecar) may still be pulling or waiting for its
 * dependencies after sshd answers, and only RUNNING says that every container started.
 */
function watchSshd(deps: PrepareDeps): SshdWatch {
  const stop = new AbortController();
  const answered = new AbortController();
  let watched = false;
  let address: string | undefined;
  return {
    watch(task) {
      const candidate = deps.settings.fargate.usePublicIp ? undefined : task?.privateIp;
      if (!deps.listening || watched || !candidate || task?.containers.length !== 1) return;
      watched = true;
      deps.listening(candidate, deps.settings.ssh.port, stop.signal).then(
        () => {
          address = candidate;
          answered.abort();
        },
        (err: unknown) => {
          if (!stop.signal.aborted)
            deps.log.debug("stopped watching sshd", { address: candidate, error: describeError(err) });
        },
      );
    },
    address: () => address,
    answered: answered.signal,
    stop: () => stop.abort(),
  };
}

/** Sleeps until the next DescribeTasks, or until sshd answers; Cancelled on SIGTERM. */
async function untilNextPoll(deps: PrepareDeps, ms: number, sshd: SshdWatch): Promise<void> {
  try {
    await deps.clock.sleep(ms, AbortSignal.any([deps.signal, sshd.answered]));
  } catch (err) {
    if (deps.signal.aborted || !sshd.answered.aborted) throw err;
  }
}

/**
 * Waits until ECS reports the task RUNNING or, sooner, its sshd answers; `sshdAddress` is then the address it
 * answered at.
 */
async function waitForTask(
  deps: PrepareDeps,
  taskArn: string,
  started: number,
): Promise<{ task: TaskView; sshdAddress?: string }> {
  const { clock, signal, settings, print } = deps;
  const poll = deps.poll ?? { initialMs: 100, maxMs: 1000 };
  const deadline = started + settings.timeouts.taskRunningSeconds * 1000;
  let interval = poll.initialMs;
  let lastStatus: string | undefined;
  let latest: TaskView | undefined;
  let pendingSince = started;
  let missingAnswers = 0;
  const sshd = watchSshd(deps);
  /** The wait's result once sshd has answered (saying so in the job log), else undefined. */
  const endIfSshdAnswered = (): { task: TaskView; sshdAddress: string } | undefined => {
    const address = sshd.address();
    if (!address || !latest) return undefined;
    print(
      `Task IP ${address}: sshd answers ${seconds(clock.now() - started)} after RunTask (ECS last reported ${lastStatus})`,
    );
    return { task: latest, sshdAddress: address };
  };
  try {
    for (;;) {
      const task = await deps.ecs.describeTask(settings.fargate.cluster, taskArn, signal);
      const afterGrace = clock.now() - started >= MISSING_GRACE_MS;
      missingAnswers = task ? 0 : missingAnswers + (afterGrace ? 1 : 0);
      if (missingAnswers >= MAX_MISSING_ANSWERS) {
        throw new SystemFailure(
          `ECS no longer knows task ${taskArn} (DescribeTasks reported it MISSING ${missingAnswers} times in a row ` +
            `after the first ${seconds(MISSING_GRACE_MS)}; ${seconds(clock.now() - started)} after RunTask)`,
        );
      }
      const status = task?.lastStatus;
      if (task && isStopping(task)) throw stoppedTaskError(task, "before it was RUNNING", settings);
      if (status !== lastStatus && status !== undefined) {
        const now = clock.now();
        if (status === "PENDING") pendingSince = now;
        if (status === "RUNNING") {
          print(`Task RUNNING after ${seconds(now - started)} (PENDING → RUNNING ${seconds(now - pendingSince)})`);
          return { task: task as TaskView };
        }
        print(`Task ${status} after ${seconds(now - started)}`);
        lastStatus = status;
      }
      latest = task ?? latest;
      sshd.watch(task);
      const answered = endIfSshdAnswered();
      if (answered) return answered;
      if (clock.now() + interval > deadline) {
        throw new SystemFailure(
          `Task did not reach RUNNING within ${settings.timeouts.taskRunningSeconds} s (last status ` +
            `${status ?? "unknown"}); raise Timeouts.TaskRunning if image pulls are slow`,
        );
      }
      await untilNextPoll(deps, interval, sshd);
      const woken = endIfSshdAnswered();
      if (woken) return woken;
      interval = Math.min(Math.round(interval * 1.5), poll.maxMs);
    }
  } finally {
    sshd.stop();
  }
}

async function taskAddress(deps: PrepareDeps, task: TaskView): Promise<string> {
  const f = deps.settings.fargate;
  if (f.usePublicIp) {
    if (!task.networkInterfaceId) throw new SystemFailure("Task has no network interface to read a public IP from");
    const ip = await deps.ecs.publicIp(task.networkInterfaceId, deps.signal);
    if (!ip) {
      throw new SystemFailure(
        `Task's network interface ${task.networkInterfaceId} has no public IP: set Fargate.EnablePublicIP = true ` +
          `(public subnets) or Fargate.UsePublicIP = false`,
      );
    }
    deps.print(`Task public IP ${ip}`);
    return ip;
  }
  if (!task.privateIp) throw new SystemFailure("Task is RUNNING but ECS reports no private IP for it");
  deps.print(`Task IP ${task.privateIp}`);
  return task.privateIp;
}

/** What a failed login attempt says. One that got no answer (Cancelled: it ran out of time) names the likely cause. */
function loginFailure(caught: unknown, target: SshTarget, sshdAnswered: boolean): unknown {
  const where = `${target.host}:${target.port}`;
  const timedOut = caught instanceof Cancelled || (caught instanceof SshError && caught.kind === "timeout");
  // sshd's greeting came through, so no security group is in the way.
  if (timedOut && sshdAnswered) {
    return new SystemFailure(`sshd at ${where} greeted the driver, but no SSH login completed in time`);
  }
  if (caught instanceof Cancelled) {
    return new SystemFailure(
      `no SSH answer from ${where}: a security group or network ACL likely blocks TCP ${target.port} from the ` +
        `runner manager`,
    );
  }
  return caught;
}

/** `sshdAnswered`: the task's sshd has already greeted the driver (so TCP gets through). */
async function waitForSsh(
  deps: PrepareDeps,
  taskArn: string,
  target: SshTarget,
  sshdAnswered: boolean,
): Promise<string> {
  const { clock, signal, settings } = deps;
  const retry = deps.sshRetry ?? { initialMs: 50, maxMs: 2000 };
  const deadline = clock.now() + settings.timeouts.sshReadySeconds * 1000;
  let delay = retry.initialMs;
  let attempts = 0;
  let authRefusals = 0;
  let said: unknown; // what the last attempt that ended by itself said
  for (;;) {
    attempts += 1;
    // One attempt never runs past the overall deadline.
    const attemptSignal = withTimeout(signal, Math.max(deadline - clock.now(), 1));
    try {
      return await deps.ssh.open(target, attemptSignal);
    } catch (caught) {
      if (signal.aborted) throw new Cancelled();
      const err = loginFailure(caught, target, sshdAnswered);
      // An attempt the deadline cut short says less than the one before it, which ended by itself.
      said = caught instanceof Cancelled ? (said ?? err) : err;
      deps.log.debug("SSH not ready yet", { attempt: attempts, error: describeError(err) });
      // A manager without a working ssh, algorithms the two ends do not share and a refused key do not get better
      // with time; refused connections and timeouts do (sshd still starting).
      if (err instanceof SshError && (err.kind === "client" || err.kind === "negotiation")) throw err;
      authRefusals = err instanceof SshError && err.kind === "auth" ? authRefusals + 1 : 0;
      if (authRefusals >= MAX_AUTH_REFUSALS) {
        throw new SystemFailure(`${describeError(err)} (${authRefusals} times in a row; giving up)`, { cause: err });
      }
      const task = await deps.ecs.describeTask(settings.fargate.cluster, taskArn, signal);
      if (task && isStopping(task)) throw stoppedTaskError(task, "while waiting for SSH", settings);
      if (clock.now() + delay > deadline) {
        throw new SystemFailure(
          `sshd did not accept the job's key within ${settings.timeouts.sshReadySeconds} s ` +
            `(${attempts} attempts): ${describeError(said)}`,
          { cause: said },
        );
      }
    }
    await clock.sleep(delay, signal);
    delay = Math.min(Math.round(delay * 1.6), retry.maxMs);
  }
}
