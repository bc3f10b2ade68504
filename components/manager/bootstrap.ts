/**
 * The runner manager's first-boot script (EC2 user data, run once by cloud-init), rendered from the template
 * scripts/bootstrap.sh. It installs software only; the deployment registers the runner afterwards over SSH
 * (registration.ts), after `cloud-init status --wait` reports this script done. It holds no secret: user data is
 * readable by anyone who can describe the instance.
 */
import { MANAGER_PATHS } from "../../driver/contract/managerPaths";
import { readScript } from "./pushedScripts";

/** gitlab-runner package version installed by default (`apt-get install gitlab-runner=<version>`). */
export const DEFAULT_GITLAB_RUNNER_VERSION = "18.11.2-1";

/**
 * Fingerprint of the key that signs GitLab's runner package repository (`packages.gitlab.com/runner/gitlab-runner`).
 * @see https://docs.gitlab.com/runner/install/linux-repository/
 */
export const GITLAB_REPOSITORY_KEY_FINGERPRINT = "F6403F6544A38863DAA0B6E03F01618A51312F3F";

/**
 * Node.js LTS that runs the driver, with the SHA-256 of its Linux tarballs from the release's `SHASUMS256.txt`.
 * @see https://nodejs.org/dist/v24.11.1/SHASUMS256.txt
 */
export const DEFAULT_NODE = {
  version: "24.11.1",
  sha256: {
    amd64: "60e3b0a8500819514aca603487c254298cd776de0698d3cd08f11dba5b8289a8",
    arm64: "6b0863fb9f627bf4a6c5948dce1de4398174a2e05dbe717503d828e211ca01f0",
  },
} as const;

/** Options of the manager's first-boot script. */
export interface BootstrapOptions {
  /** CPU architecture of the manager instance; selects the Node.js tarball. */
  architecture: "amd64" | "arm64";
  /**
   * Exact version of the `gitlab-runner` (and `gitlab-runner-helper-images`) Debian package, as apt spells it.
   * Default {@link DEFAULT_GITLAB_RUNNER_VERSION}. Changing it replaces the manager instance.
   * @see https://docs.gitlab.com/runner/install/linux-repository/#install-a-specific-version-of-gitlab-runner
   */
  gitlabRunnerVersion?: string;
  /**
   * Fingerprint (40 hex digits) of the key GitLab signs its runner repository with; the key downloaded at boot is
   * refused unless it matches. Default {@link GITLAB_REPOSITORY_KEY_FINGERPRINT}; change it only after GitLab
   * announces a new key.
   */
  gitlabRepositoryKeyFingerprint?: string;
  /**
   * Node.js to install instead of {@link DEFAULT_NODE}: an LTS version ≥ 20 and the SHA-256 of
   * `node-v<version>-linux-<x64|arm64>.tar.xz` for this architecture, copied from the release's `SHASUMS256.txt`.
   * @see https://nodejs.org/en/about/previous-releases
   */
  node?: { version: string; sha256: string };
}

const PACKAGE_VERSION = /^[0-9][0-9A-Za-z.+~-]*$/;
const FINGERPRINT = /^[0-9A-F]{40}$/;
const NODE_VERSION = /^(\d+)\.\d+\.\d+$/;
const SHA256 = /^[0-9a-f]{64}$/;

function resolveOptions(options: BootstrapOptions) {
  if (options.architecture !== "amd64" && options.architecture !== "arm64") {
    throw new Error(`bootstrap.architecture: must be "amd64" or "arm64", got "${options.architecture}"`);
  }
  const runnerVersion = options.gitlabRunnerVersion ?? DEFAULT_GITLAB_RUNNER_VERSION;
  if (!PACKAGE_VERSION.test(runnerVersion)) {
    throw new Error(
      `bootstrap.gitlabRunnerVersion: "${runnerVersion}" is not a Debian package version like "18.11.2-1"`,
    );
  }
  const fingerprint = (options.gitlabRepositoryKeyFingerprint ?? GITLAB_REPOSITORY_KEY_FINGERPRINT)
    .replace(/\s+/g, "")
    .toUpperCase();
  if (!FINGERPRINT.test(fingerprint)) {
    throw new Error("bootstrap.gitlabRepositoryKeyFingerprint: must be a full 40-hex-digit OpenPGP fingerprint");
  }
  const node = options.node ?? { version: DEFAULT_NODE.version, sha256: DEFAULT_NODE.sha256[options.architecture] };
  const major = NODE_VERSION.exec(node.version);
  if (!major || Number(major[1]) < 20 || Number(major[1]) % 2 === 1) {
    throw new Error(
      `bootstrap.node.version: must be an even (LTS) Node.js release ≥ 20 like "24.11.1", got "${node.version}"`,
    );
  }
  if (!SHA256.test(node.sha256)) {
    throw new Error("bootstrap.node.sha256: must be the 64-hex-digit SHA-256 of the tarball from SHASUMS256.txt");
  }
  const nodeArch = options.architecture === "amd64" ? "x64" : "arm64";
  return { runnerVersion, fingerprint, node, tarball: `node-v${node.version}-linux-${nodeArch}.tar.xz` };
}

/**
 * The manager's user data: a bash script that installs a pinned gitlab-runner from GitLab's signed apt repository
 * (key checked against a pinned fingerprint), a pinned Node.js verified against its SHA-256, creates the driver's
 * directories and enables the gitlab-runner service. Throws on invalid options, naming the option.
 */
export function managerUserData(options: BootstrapOptions): string {
  const { runnerVersion, fingerprint, node, tarball } = resolveOptions(options);
  const paths = MANAGER_PATHS;
  return renderTemplate(readScript("bootstrap.sh"), {
    GITLAB_RUNNER_VERSION: runnerVersion,
    GITLAB_KEY_FINGERPRINT: fingerprint,
    NODE_VERSION: node.version,
    NODE_TARBALL: tarball,
    NODE_SHA256: node.sha256,
    NODE_DIRECTORY: paths.nodeDirectory,
    DRIVER_DIRECTORY: paths.driverDirectory,
    BUILDS_DIRECTORY: paths.buildsDirectory,
    CACHE_DIRECTORY: paths.cacheDirectory,
    METADATA_DIRECTORY: paths.metadataDirectory,
    CONFIG_DIRECTORY: paths.configDirectory,
  });
}

/**
 * The template with its `#@` comment lines dropped and every `@NAME@` replaced by `values[NAME]` (validated values:
 * they go between single quotes as they are). Throws on a placeholder without a value.
 */
function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/^#@.*\n/gm, "").replace(/@([A-Z][A-Z0-9_]*)@/g, (placeholder, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`bootstrap.sh: no value for ${placeholder}`);
    return value;
  });
}
