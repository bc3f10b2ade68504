/** Helpers around OpenSSH's own `ssh` and `ssh-keygen`, used to check task hosts independently of the driver. */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface KeyPair {
  privateKeyFile: string;
  publicKey: string;
  dispose(): void;
}

/** A fresh ed25519 key pair in a temp dir. */
export function generateKeyPair(): KeyPair {
  const dir = mkdtempSync(join(tmpdir(), "h4key-"));
  const privateKeyFile = join(dir, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", privateKeyFile]);
  return {
    privateKeyFile,
    publicKey: readFileSync(`${privateKeyFile}.pub`, "utf8").trim(),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** OpenSSH client arguments for running `command` on root@host, non-interactively and without host-key prompts. */
export function opensshArgs(host: string, command: string, keyFile?: string, extraOptions: string[] = []): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=10",
    ...(keyFile ? ["-o", "IdentitiesOnly=yes", "-i", keyFile] : []),
    ...extraOptions,
    `root@${host}`,
    command,
  ];
}

/** Runs `command` on root@host with OpenSSH's client; extra options go before the destination. */
export function ssh(host: string, command: string, keyFile?: string, extraOptions: string[] = []): Promise<SshResult> {
  const args = opensshArgs(host, command, keyFile, extraOptions);
  return new Promise((resolve) => {
    execFile("ssh", args, { encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
