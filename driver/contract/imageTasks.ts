/**
 * The task definitions the driver registers for jobs that name an image or services: their family names, the
 * containers' names and the paths shared by the containers. The component scopes the manager's IAM policy with
 * {@link imageTaskFamilyPattern}; the driver names families with {@link imageTaskFamily}.
 */
import { MANAGER_PATHS } from "./managerPaths";

/** Hex digits of the content hash in a family name. */
export const IMAGE_TASK_HASH_LENGTH = 16;
const INFIX = "-image-";
/** The longest base family whose image families still fit ECS's 255 characters. */
export const MAX_BASE_FAMILY_LENGTH = 255 - INFIX.length - IMAGE_TASK_HASH_LENGTH;

/** `<base family>-image-<hash>`: one family per distinct content, so equal jobs share it. */
export function imageTaskFamily(baseFamily: string, contentHash: string): string {
  return `${baseFamily}${INFIX}${contentHash.slice(0, IMAGE_TASK_HASH_LENGTH)}`;
}

/** IAM resource pattern for every image family of `baseFamily` (any revision). */
export function imageTaskFamilyPattern(baseFamily: string): string {
  return `${baseFamily}${INFIX}*`;
}

/** Names and paths inside a job task with the job's image. */
export const IMAGE_TASK = {
  /** The job's image; user scripts run in it. */
  buildContainer: "build",
  /** Short-lived container of our image that copies the static helpers into the tools volume. */
  toolsContainer: "gitlab-tools",
  /** Prefix of the service containers: `service-0`, `service-1`, … */
  servicePrefix: "service-",
  buildsVolume: "gitlab-builds",
  toolsVolume: "gitlab-tools",
  /** Where the tools volume is mounted in every container that uses it. */
  toolsPath: "/gitlab-fargate-tools",
  /** Where the builds volume is mounted in ci-coordinator and build: gitlab-runner's builds_dir. */
  buildsPath: MANAGER_PATHS.buildsDirectory,
  /** The tools container's command (in our image). */
  installTools: "/usr/local/bin/install-job-tools",
  /** Runs a script from stdin inside `build` (in our image, run in ci-coordinator). */
  enterBuild: "/usr/local/bin/enter-build-container",
  /** enterBuild's exit code for its own failures (no build container, no SYS_PTRACE…), as its header says. */
  enterBuildFailed: 125,
  /** The build container's first process: keeps it up without a shell or sshd in the image. */
  pauseCommand: ["/gitlab-fargate-tools/busybox", "sleep", "2147483647"],
} as const;
