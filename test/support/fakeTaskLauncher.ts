import { LaunchedTask, TaskLauncher, TaskLaunchRequest } from "./taskLauncher";

/**
 * An in-memory TaskLauncher for driver tests: every task "runs" at the address you choose (e.g. 127.0.0.1, where a
 * test sshd listens) and never exits on its own. It records launches and stops so tests can assert on them.
 */
export class FakeTaskLauncher implements TaskLauncher {
  readonly launched: TaskLaunchRequest[] = [];
  readonly stopped: string[] = [];

  constructor(
    private readonly address: { privateIp: string; publicIp?: string } = { privateIp: "127.0.0.1" },
    /** Called on every launch, e.g. to authorize the task's SSH_PUBLIC_KEY in a test sshd. */
    private readonly onLaunch?: (request: TaskLaunchRequest) => void,
  ) {}

  async launch(request: TaskLaunchRequest): Promise<LaunchedTask> {
    this.launched.push(request);
    this.onLaunch?.(request);
    let stoppedOnce = false;
    return {
      privateIp: this.address.privateIp,
      publicIp: this.address.publicIp,
      exited: new Promise(() => undefined),
      stop: async () => {
        if (stoppedOnce) return;
        stoppedOnce = true;
        this.stopped.push(request.taskArn);
      },
    };
  }
}
