/** Why an SSH connection failed (stages and fakes import this module). */
import { SystemFailure } from "./errors";

/** "client": the manager's own ssh cannot run; "negotiation": the two ends share no algorithm. No retry mends either. */
export type SshFailureKind = "refused" | "timeout" | "auth" | "hostkey" | "negotiation" | "closed" | "client" | "other";

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
