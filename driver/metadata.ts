/**
 * The per-job file linking stages: task ARN and SSH key after RunTask, then address and pinned host key.
 * Written atomically (temp file, then a hard link that fails when the file exists, or a rename) with mode 0600 in a
 * 0700 directory: it holds a private key. An existing directory open to group or others is tightened to 0700 on the
 * first write. The file records its job's binding (see Job.binding); a file of another job is never used.
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, join } from "node:path";
import { SystemFailure } from "./errors";
import { connectionDirectoryName, Job, metadataFileName } from "./job";

export interface JobMetadata {
  version: 2;
  /** Job.binding of the job that wrote the file. */
  binding: string;
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
  /** The task has a `build` container with the job's image: user scripts run there. */
  buildContainer?: boolean;
}

/** The metadata file names this job but was written for another one. */
export class ForeignMetadata extends SystemFailure {
  constructor(path: string) {
    super(`job metadata ${path} belongs to another job: leaving it and its task alone`);
    this.name = "ForeignMetadata";
  }
}

/** The temporary file is gone after a rename and left over after a link or a failure. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Nothing was written where the directory is unusable.
  }
}

export class MetadataStore {
  readonly path: string;
  /** This job's SSH connection files (driver/ssh.ts), next to its metadata file. */
  readonly connectionDirectory: string;
  private readonly binding: string;

  constructor(
    readonly directory: string,
    job: Pick<Job, "id" | "binding">,
  ) {
    this.path = join(directory, metadataFileName(job));
    this.connectionDirectory = join(directory, connectionDirectoryName(job));
    this.binding = job.binding;
  }

  /**
   * This job's record; undefined when there is no file. A corrupt file is a SystemFailure naming it, another job's
   * file a ForeignMetadata.
   */
  read(): JobMetadata | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw new SystemFailure(`cannot read job metadata ${this.path}`, { cause: err });
    }
    let data: JobMetadata;
    try {
      data = JSON.parse(text) as JobMetadata;
      if (
        data.version !== 2 ||
        typeof data.binding !== "string" ||
        typeof data.taskArn !== "string" ||
        typeof data.privateKey !== "string"
      ) {
        throw new Error("unexpected content");
      }
    } catch (err) {
      throw new SystemFailure(`job metadata ${this.path} is corrupt`, { cause: err });
    }
    if (data.binding !== this.binding) throw new ForeignMetadata(this.path);
    return data;
  }

  /** Writes a new file; fails when one exists. */
  create(data: Omit<JobMetadata, "version" | "binding">): void {
    this.write(data, (temp) => linkSync(temp, this.path));
  }

  /** Replaces this job's file (read() has confirmed it is this job's). */
  update(data: Omit<JobMetadata, "version" | "binding">): void {
    this.write(data, (temp) => renameSync(temp, this.path));
  }

  private write(data: Omit<JobMetadata, "version" | "binding">, place: (temp: string) => void): void {
    const temp = `${this.path}.${process.pid}.tmp`;
    try {
      mkdirSync(this.directory, { recursive: true, mode: 0o700 });
      if ((statSync(this.directory).mode & 0o077) !== 0) chmodSync(this.directory, 0o700);
      rmSync(temp, { force: true });
      const fd = openSync(temp, "wx", 0o600);
      try {
        const record: JobMetadata = { ...data, version: 2, binding: this.binding };
        writeSync(fd, JSON.stringify(record, null, 2));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      place(temp);
    } catch (err) {
      throw new SystemFailure(`cannot write job metadata ${this.path}`, { cause: err });
    } finally {
      removeQuietly(temp);
    }
  }

  /** Deletes the file, and temporary files a killed writer left (they hold the key too); true if there was one. */
  remove(): boolean {
    const existed = existsSync(this.path);
    const name = basename(this.path);
    try {
      const leftovers = existsSync(this.directory) ? readdirSync(this.directory) : [];
      for (const file of leftovers.filter((f) => f.startsWith(`${name}.`) && f.endsWith(".tmp"))) {
        rmSync(join(this.directory, file), { force: true });
      }
      rmSync(this.path, { force: true });
    } catch (err) {
      throw new SystemFailure(`cannot delete job metadata ${this.path}`, { cause: err });
    }
    return existed;
  }

  /**
   * Files the previous version of this driver wrote for this job (`gl-<runner token>-<job id>.json`, format 1),
   * which a job running while the driver was upgraded still has. Unreadable ones are skipped.
   */
  legacyRecords(jobId: string): { cluster: string; taskArn: string; remove: () => void }[] {
    const pattern = new RegExp(`^gl-[A-Za-z0-9_]*-${jobId}\\.json$`);
    const names = existsSync(this.directory) ? readdirSync(this.directory).filter((f) => pattern.test(f)) : [];
    return names.flatMap((file) => {
      const path = join(this.directory, file);
      try {
        const data = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
        const { cluster, taskArn } = data;
        const valid = data.version === 1 && data.jobId === jobId;
        const remove = (): void => rmSync(path, { force: true });
        return valid && typeof cluster === "string" && typeof taskArn === "string"
          ? [{ cluster, taskArn, remove }]
          : [];
      } catch {
        return [];
      }
    });
  }
}
