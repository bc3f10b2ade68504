/**
 * The per-job file linking stages: task ARN and SSH key after RunTask, then address and pinned host key.
 * Written atomically (temp file + rename) with mode 0600 in a 0700 directory: it holds a private key. An existing
 * directory open to group or others is tightened to 0700 on the first write.
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { SystemFailure } from "./errors";

export interface JobMetadata {
  version: 1;
  cluster: string;
  taskArn: string;
  startedBy: string;
  jobId: string;
  /** OpenSSH-format ed25519 private key of this job. */
  privateKey: string;
  createdAt: string;
  /** Set once the task runs and sshd accepted the key. */
  host?: string;
  port?: number;
  username?: string;
  /** The server host key seen in prepare ("<algorithm> <base64>"); every run stage must see the same. */
  hostKey?: string;
}

export class MetadataStore {
  readonly path: string;

  constructor(
    readonly directory: string,
    fileName: string,
  ) {
    this.path = join(directory, fileName);
  }

  /** Undefined when there is no file. A corrupt file is an error naming it. */
  read(): JobMetadata | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new SystemFailure(`cannot read job metadata ${this.path}`, { cause: err });
    }
    try {
      const data = JSON.parse(text) as JobMetadata;
      if (data.version !== 1 || typeof data.taskArn !== "string" || typeof data.privateKey !== "string") {
        throw new Error("unexpected content");
      }
      return data;
    } catch (err) {
      throw new SystemFailure(`job metadata ${this.path} is corrupt`, { cause: err });
    }
  }

  write(data: JobMetadata): void {
    try {
      mkdirSync(this.directory, { recursive: true, mode: 0o700 });
      if ((statSync(this.directory).mode & 0o077) !== 0) chmodSync(this.directory, 0o700);
      const temp = `${this.path}.${process.pid}.tmp`;
      rmSync(temp, { force: true });
      const fd = openSync(temp, "wx", 0o600);
      try {
        writeSync(fd, JSON.stringify(data, null, 2));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.path);
    } catch (err) {
      throw new SystemFailure(`cannot write job metadata ${this.path}`, { cause: err });
    }
  }

  /** Deletes the file; true if there was one. */
  remove(): boolean {
    const existed = existsSync(this.path);
    rmSync(this.path, { force: true });
    return existed;
  }
}
