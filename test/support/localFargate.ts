/**
 * Fargate on one machine: the ECS emulator (AWS API) + the network-namespace task host (real entrypoint and sshd)
 * + a fargate.toml pointing the built driver at them, so whole jobs run through the real driver with the
 * custom-executor harness. Used by the end-to-end tests, `npm run demo` and the benchmarks. Needs root.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HarnessOptions, JobResult, JobSpec, runJob } from "./customExecutorHarness";
import { EcsEmulator, EcsFaults, EmulatedTask, startEcsEmulator } from "./ecsEmulator";
import { NetnsTaskHost, TaskHostFaults } from "./netnsTaskHost";

export interface LocalFargateOptions {
  faults?: EcsFaults;
  taskHostFaults?: TaskHostFaults;
  /** [Timeouts] of fargate.toml, seconds; defaults 60 and 20. */
  taskRunningSeconds?: number;
  sshReadySeconds?: number;
  /** Connect through the task's "public" address (EnablePublicIP + UsePublicIP); default false. */
  usePublicIp?: boolean;
  /** Extra top-level TOML appended to fargate.toml (e.g. LogLevel). */
  logLevel?: "debug" | "info" | "warn" | "error";
}

export interface LocalFargate {
  emulator: EcsEmulator;
  taskHost: NetnsTaskHost;
  /** fargate.toml the driver reads. */
  configFile: string;
  /** TaskMetadata.Directory. */
  metadataDir: string;
  /** Environment that points the driver's AWS SDK at the emulator. */
  env: Record<string, string>;
  /** Runs one job through the built driver (harness options may be overridden). */
  runJob(spec: JobSpec, options?: Partial<HarnessOptions>): Promise<JobResult>;
  /** Tasks the emulator still considers alive and task namespaces still on the machine. */
  leftovers(): { tasks: EmulatedTask[]; namespaces: string[] };
  metadataFiles(): string[];
  close(): Promise<void>;
}

export async function startLocalFargate(options: LocalFargateOptions = {}): Promise<LocalFargate> {
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
      `TaskDefinition = "ci-coordinator:1"`,
      `EnablePublicIP = ${options.usePublicIp ? "true" : "false"}`,
      `UsePublicIP = ${options.usePublicIp ? "true" : "false"}`,
      "[TaskMetadata]",
      `Directory = "${metadataDir}"`,
      "[SSH]",
      `Username = "root"`,
      "Port = 22",
      "[Timeouts]",
      `TaskRunning = ${options.taskRunningSeconds ?? 60}`,
      `SSHReady = ${options.sshReadySeconds ?? 20}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const taskHost = new NetnsTaskHost({ faults: options.taskHostFaults });
  const emulator = await startEcsEmulator({ launcher: taskHost, region: "eu-west-1", faults: options.faults });
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
      runJob(spec, { configFile, ...overrides, env: { ...env, ...(overrides.env ?? {}) } }),
    leftovers: () => ({ tasks: emulator.runningTasks(), namespaces: taskHost.leftoverNamespaces() }),
    metadataFiles: () => readdirSync(metadataDir),
    close: async () => {
      await emulator.close();
      await taskHost.stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
