/**
 * Fargate on one machine: the ECS emulator (AWS API) + a task host + a fargate.toml pointing the built driver at
 * them, so whole jobs run through the real driver with the custom-executor harness. Used by the end-to-end tests,
 * `npm run demo` and the benchmarks. Two task hosts:
 * - isolated (`startLocalFargate`, needs root and Debian packages): each task is a network namespace running the
 *   job image's real entrypoint and OpenSSH's sshd;
 * - unprivileged (`startUnprivilegedLocalFargate`, needs nothing): each task is a loopback address with an
 *   in-process SSH server running bash as the current user (test/support/loopbackTaskHost.ts).
 * The emulator starts with the configured task definition `ci-coordinator:1` registered (one `ci-coordinator`
 * container of the image the task hosts run as the ci-coordinator image, roles, awslogs, cpu/memory like the
 * component's); jobs with `image:` make the driver register more.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HarnessOptions, JobResult, JobSpec, runJob } from "./customExecutorHarness";
import { EcsEmulator, EcsFaults, EmulatedTask, SeedTaskDefinition, startEcsEmulator } from "./ecsEmulator";
import { ciCoordinatorTaskDefinition } from "./ecsTaskDefinitions";
import { LoopbackTaskHost } from "./loopbackTaskHost";
import { killProcessesNaming, processesNaming } from "./managerProcesses";
import { ContainerImage, NetnsTaskHost, TaskHostFaults } from "./netnsTaskHost";
import { TaskLauncher } from "./taskLauncher";

export interface LocalFargateOptions {
  faults?: EcsFaults;
  /** Isolated task host only. */
  taskHostFaults?: TaskHostFaults;
  /** [Timeouts] of fargate.toml, seconds; defaults 60 and 20. */
  taskRunningSeconds?: number;
  sshReadySeconds?: number;
  /** Extra lines under [Timeouts] in fargate.toml (e.g. `TaskIdle = 5`). */
  timeoutsToml?: string[];
  /** Connect through the task's "public" address (EnablePublicIP + UsePublicIP); default false. */
  usePublicIp?: boolean;
  /** Extra top-level TOML appended to fargate.toml (e.g. LogLevel). */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Isolated task host only: images by name that jobs' `image:` and `services:` may use (testImages.ts). */
  images?: Record<string, ContainerImage>;
  /** Extra lines under [Fargate] in fargate.toml (e.g. `AllowedImages = ["*"]`). */
  fargateToml?: string[];
  /** Task definitions registered at start besides `ci-coordinator:1`. */
  taskDefinitions?: SeedTaskDefinition[];
}

/** The configured task definition of every local Fargate. */
export const LOCAL_TASK_DEFINITION = "ci-coordinator:1";

export interface LocalFargate<Host extends TaskLauncher = NetnsTaskHost> {
  emulator: EcsEmulator;
  taskHost: Host;
  /** fargate.toml the driver reads. */
  configFile: string;
  /** TaskMetadata.Directory. */
  metadataDir: string;
  /** Environment that points the driver's AWS SDK at the emulator. */
  env: Record<string, string>;
  /** Runs one job through the built driver (harness options may be overridden). */
  runJob(spec: JobSpec, options?: Partial<HarnessOptions>): Promise<JobResult>;
  /**
   * Tasks the emulator still considers alive, task network namespaces still on the machine (isolated task host),
   * task SSH servers still listening (unprivileged task host), task directories still on disk (both), and driver
   * processes still running for a job (its SSH connection).
   */
  leftovers(): {
    tasks: EmulatedTask[];
    namespaces: string[];
    sshServers: string[];
    stateDirs: string[];
    processes: string[];
  };
  metadataFiles(): string[];
  close(): Promise<void>;
}

/** Local Fargate whose tasks are network namespaces with the real entrypoint and sshd. Needs root. */
export function startLocalFargate(options: LocalFargateOptions = {}): Promise<LocalFargate<NetnsTaskHost>> {
  const taskHost = new NetnsTaskHost({ faults: options.taskHostFaults, images: options.images });
  return start(taskHost, { username: "root", port: 22 }, options, () => ({
    namespaces: taskHost.leftoverNamespaces(),
    sshServers: [],
    stateDirs: taskHost.leftoverStateDirs(),
  }));
}

/** Local Fargate whose tasks are loopback addresses with an in-process SSH server. Needs no root, no packages. */
export function startUnprivilegedLocalFargate(
  options: Omit<LocalFargateOptions, "taskHostFaults" | "usePublicIp" | "images"> = {},
): Promise<LocalFargate<LoopbackTaskHost>> {
  const taskHost = new LoopbackTaskHost();
  return start(taskHost, taskHost.ssh, options, () => ({
    namespaces: [],
    sshServers: taskHost.hosts().map((task) => `${task.privateIp}:${taskHost.ssh.port}`),
    stateDirs: taskHost
      .history()
      .map((task) => task.root)
      .filter((dir) => existsSync(dir)),
  }));
}

async function start<Host extends TaskLauncher & { stopAll(): Promise<void> }>(
  taskHost: Host,
  ssh: { username: string; port: number },
  options: LocalFargateOptions,
  hostLeftovers: () => { namespaces: string[]; sshServers: string[]; stateDirs: string[] },
): Promise<LocalFargate<Host>> {
  const dir = mkdtempSync(join(tmpdir(), "local-fargate-"));
  const metadataDir = join(dir, "metadata");
  mkdirSync(metadataDir, { mode: 0o700 });
  const configFile = join(dir, "fargate.toml");
  writeFileSync(
    configFile,
    [
      `LogLevel = "${options.logLevel ?? "info"}"`,
      `LogFormat = "text"`,
      "[Fargate]",
      `Cluster = "local-cluster"`,
      `Region = "eu-west-1"`,
      `Subnet = "subnet-0c0a1f00"`,
      `SecurityGroup = "sg-0c0a1f00"`,
      `TaskDefinition = "${LOCAL_TASK_DEFINITION}"`,
      `EnablePublicIP = ${options.usePublicIp ? "true" : "false"}`,
      `UsePublicIP = ${options.usePublicIp ? "true" : "false"}`,
      ...(options.fargateToml ?? []),
      "[TaskMetadata]",
      `Directory = "${metadataDir}"`,
      "[SSH]",
      `Username = "${ssh.username}"`,
      `Port = ${ssh.port}`,
      "[Timeouts]",
      `TaskRunning = ${options.taskRunningSeconds ?? 60}`,
      `SSHReady = ${options.sshReadySeconds ?? 20}`,
      ...(options.timeoutsToml ?? []),
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const [family, revision] = LOCAL_TASK_DEFINITION.split(":");
  const emulator = await startEcsEmulator({
    launcher: taskHost,
    region: "eu-west-1",
    faults: options.faults,
    taskDefinitions: [
      ciCoordinatorTaskDefinition({ family, revision: Number(revision) }),
      ...(options.taskDefinitions ?? []),
    ],
  });
  const env = {
    AWS_ENDPOINT_URL_ECS: emulator.endpoint,
    AWS_ENDPOINT_URL_EC2: emulator.endpoint,
    AWS_ACCESS_KEY_ID: "AKIDLOCALFARGATE",
    AWS_SECRET_ACCESS_KEY: "local-fargate-secret",
    AWS_REGION: "eu-west-1",
    AWS_EC2_METADATA_DISABLED: "true",
  };
  return {
    emulator,
    taskHost,
    configFile,
    metadataDir,
    env,
    runJob: (spec, overrides = {}) =>
      runJob(spec, {
        configFile,
        managerStateDirectory: metadataDir,
        ...overrides,
        env: { ...env, ...(overrides.env ?? {}) },
      }),
    leftovers: () => ({ tasks: emulator.runningTasks(), ...hostLeftovers(), processes: processesNaming(metadataDir) }),
    metadataFiles: () => readdirSync(metadataDir),
    close: async () => {
      killProcessesNaming(metadataDir);
      await emulator.close();
      await taskHost.stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
