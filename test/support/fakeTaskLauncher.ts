import { setTimeout as sleep } from "node:timers/promises";
import {
  CannotPullContainerError,
  ContainerStateChange,
  LaunchContext,
  LaunchedTask,
  TaskLauncher,
  TaskLaunchRequest,
  containersOf,
  coordinatorOf,
} from "./taskLauncher";

/** Knobs of {@link FakeTaskLauncher}. */
export interface FakeTaskLauncherOptions {
  /**
   * Images that "cannot be pulled": a task with a container of one of them fails to start with
   * CannotPullContainerError. Mutable. Default: every image can be pulled.
   */
  unpullableImages?: Set<string>;
  /**
   * Time between the task's network existing (its address reported to the emulator, the task still PENDING) and its
   * containers running (launch() resolves: RUNNING), ms; cut short when the task is stopped. Default 0.
   */
  startupMs?: number;
}

interface FakeTask {
  request: TaskLaunchRequest;
  report?: (change: ContainerStateChange) => void;
  exit: (result: { exitCode: number | null; reason: string; container?: string }) => void;
}

/**
 * An in-memory TaskLauncher for driver tests: every task "runs" at the address you choose (e.g. 127.0.0.1, where a
 * test sshd listens) and never exits on its own — unless a test makes one of its containers exit with
 * {@link exitContainer}. It records launches and stops so tests can assert on them.
 */
export class FakeTaskLauncher implements TaskLauncher {
  readonly launched: TaskLaunchRequest[] = [];
  readonly stopped: string[] = [];
  readonly unpullableImages: Set<string>;
  private readonly tasks = new Map<string, FakeTask>();
  private readonly startupMs: number;

  constructor(
    private readonly address: { privateIp: string; publicIp?: string } = { privateIp: "127.0.0.1" },
    /** Called on every launch, e.g. to authorize the task's SSH_PUBLIC_KEY in a test sshd. */
    private readonly onLaunch?: (request: TaskLaunchRequest) => void,
    options: FakeTaskLauncherOptions = {},
  ) {
    this.unpullableImages = options.unpullableImages ?? new Set();
    this.startupMs = options.startupMs ?? 0;
  }

  async launch(request: TaskLaunchRequest, context?: LaunchContext): Promise<LaunchedTask> {
    const unpullable = containersOf(request).find((container) => this.unpullableImages.has(container.image));
    if (unpullable) throw new CannotPullContainerError(unpullable.name, unpullable.image);
    this.launched.push(request);
    this.onLaunch?.(request);
    context?.attached?.(this.address);
    if (this.startupMs > 0) await sleep(this.startupMs, undefined, { signal: context?.signal }).catch(() => undefined);
    let stoppedOnce = false;
    let exit: FakeTask["exit"] = () => undefined;
    const exited = new Promise<{ exitCode: number | null; reason: string; container?: string }>((resolve) => {
      exit = resolve;
    });
    this.tasks.set(request.taskArn, { request, report: context?.report, exit });
    return {
      privateIp: this.address.privateIp,
      publicIp: this.address.publicIp,
      exited,
      stop: async () => {
        if (stoppedOnce) return;
        stoppedOnce = true;
        this.stopped.push(request.taskArn);
      },
    };
  }

  /**
   * Makes a container of a launched task exit, as its process would: reported to the emulator (which stops the
   * task when the container is essential). The task's `exited` resolves when it is the coordinator container.
   */
  exitContainer(taskArn: string, name: string, exitCode: number, reason?: string): void {
    const task = this.tasks.get(taskArn);
    if (!task) throw new Error(`no launched task ${taskArn}`);
    if (!containersOf(task.request).some((container) => container.name === name)) {
      throw new Error(`task ${taskArn} has no container ${name}`);
    }
    if (task.report) task.report({ name, lastStatus: "STOPPED", exitCode, reason });
    else if (name === coordinatorOf(task.request)) task.exit({ exitCode, reason: reason ?? "", container: name });
  }
}
