/** Why an SSH connection failed, without loading ssh2 (stages and fakes import this module). */
import { SystemFailure } from "./errors";

export type SshFailureKind = "refused" | "timeout" | "auth" | "hostkey" | "closed" | "other";

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
