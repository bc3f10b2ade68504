/**
 * Container images for the network-namespace task host, built in a moment from the machine's static busybox
 * (Debian's busybox-static): a root filesystem directory plus an OCI-like configuration ({@link ContainerImage}).
 * A job's `image:` and `services:` name them; NetnsTaskHost runs each container on its own copy, so an image stays
 * unmodified between tasks. Building needs no root, running them does.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ContainerImage } from "./netnsContainers";
import { missingCommand } from "./requirements";

/** The machine's static busybox the images are made of. */
export const MACHINE_BUSYBOX = "/bin/busybox";

/** Why images cannot be built here, or undefined when they can. */
export function testImagesUnsupportedReason(): string | undefined {
  return missingCommand(MACHINE_BUSYBOX, "apt-get install busybox-static");
}

/** An image on disk; `remove()` deletes its rootfs. */
export interface TestImage extends ContainerImage {
  remove(): void;
}

export interface BusyboxImageOptions {
  /** The image's USER as "uid:gid"; default "0:0" (root). A non-root user gets a passwd entry and a home. */
  user?: string;
  /** Name of that user in /etc/passwd; default "app" ("root" for uid 0). */
  userName?: string;
  /** Written to /marker (0644), to tell images apart from inside a container. */
  marker?: string;
  /** Extra files: absolute path in the image → content (0644; owned by root). */
  files?: Record<string, string>;
  env?: Record<string, string>;
  workingDir?: string;
  entrypoint?: string[];
  /** Default ["sh"], like Docker's busybox image. */
  cmd?: string[];
}

/** Applets of the machine's busybox (`busybox --list`). */
function applets(): string[] {
  return execFileSync(MACHINE_BUSYBOX, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
}

/**
 * A busybox image: /bin/busybox with every applet linked in /bin (sh included; no bash), /etc/passwd and
 * /etc/group with root and the image's user, a home for that user, /tmp (1777), /etc/hosts, /marker.
 */
export function busyboxImage(options: BusyboxImageOptions = {}): TestImage {
  const rootfs = mkdtempSync(join(tmpdir(), "fgimage-"));
  chmodSync(rootfs, 0o755);
  const [uidText, gidText] = (options.user ?? "0:0").split(":");
  const uid = Number(uidText);
  const gid = Number(gidText ?? uidText);
  const userName = options.userName ?? (uid === 0 ? "root" : "app");
  for (const dir of ["bin", "etc", "root", "home", "proc", "dev", "usr/bin", "var"]) {
    mkdirSync(join(rootfs, dir), { recursive: true, mode: 0o755 });
  }
  chmodSync(join(rootfs, "root"), 0o700);
  mkdirSync(join(rootfs, "tmp"), { mode: 0o777 });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  copyFileSync(MACHINE_BUSYBOX, join(rootfs, "bin/busybox"));
  chmodSync(join(rootfs, "bin/busybox"), 0o755);
  for (const applet of applets()) {
    if (applet !== "busybox") symlinkSync("busybox", join(rootfs, "bin", applet));
  }
  const home = uid === 0 ? "/root" : `/home/${userName}`;
  const passwd = ["root:x:0:0:root:/root:/bin/sh", "nobody:x:65534:65534:nobody:/nonexistent:/bin/false"];
  const group = ["root:x:0:", "nogroup:x:65534:"];
  if (uid !== 0) {
    passwd.push(`${userName}:x:${uid}:${gid}:${userName}:${home}:/bin/sh`);
    group.push(`${userName}:x:${gid}:`);
    mkdirSync(join(rootfs, home), { recursive: true, mode: 0o755 });
    chownSync(join(rootfs, home), uid, gid);
  }
  writeFileSync(join(rootfs, "etc/passwd"), `${passwd.join("\n")}\n`);
  writeFileSync(join(rootfs, "etc/group"), `${group.join("\n")}\n`);
  writeFileSync(join(rootfs, "etc/hosts"), "127.0.0.1\tlocalhost\n");
  if (options.marker !== undefined) writeFileSync(join(rootfs, "marker"), `${options.marker}\n`, { mode: 0o644 });
  for (const [path, content] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(rootfs, path)), { recursive: true, mode: 0o755 });
    writeFileSync(join(rootfs, path), content, { mode: 0o644 });
  }
  return {
    rootfs,
    user: options.user,
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...(options.env ?? {}) },
    workingDir: options.workingDir,
    entrypoint: options.entrypoint,
    cmd: options.cmd ?? ["sh"],
    remove: () => rmSync(rootfs, { recursive: true, force: true }),
  };
}

export interface HttpServiceImageOptions {
  /** TCP port busybox httpd listens on; default 8080. */
  port?: number;
  /** Content of / (index.html); default "service ok\n". */
  body?: string;
  /** The image's USER; default "101:101" (httpd needs no root for a port above 1023). */
  user?: string;
}

/** A service image answering HTTP on `port`: `httpd -f -p <port> -h /www`, /www/index.html = `body`. */
export function httpServiceImage(options: HttpServiceImageOptions = {}): TestImage {
  const port = options.port ?? 8080;
  return busyboxImage({
    user: options.user ?? "101:101",
    userName: "www",
    files: { "/www/index.html": options.body ?? "service ok\n" },
    cmd: ["httpd", "-f", "-v", "-p", String(port), "-h", "/www"],
  });
}
