/** Why an SSH connection failed, without loading ssh2 (stages and fakes import this module). */
import { SystemFailure } from "./errors";

/** "client": the manager's own ssh cannot run, which no retry mends. */
export type SshFailureKind = "refused" | "timeout" | "auth" | "hostkey" | "closed" | "client" | "other";

export class SshError extends SystemFailure {
  constructor(
    readonly kind: SshFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SshError";
  }
}
