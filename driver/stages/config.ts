/** The config stage: tell gitlab-runner where builds live and who we are. Prints exactly one JSON object. */
import { hostname } from "node:os";
import { name, version } from "../../package.json";
import { MANAGER_PATHS } from "../contract/managerPaths";

export interface ConfigOutput {
  builds_dir: string;
  cache_dir: string;
  builds_dir_is_shared: boolean;
  hostname: string;
  driver: { name: string; version: string };
  shell: string;
}

export function configOutput(host: string = hostname()): ConfigOutput {
  return {
    builds_dir: MANAGER_PATHS.buildsDirectory,
    cache_dir: MANAGER_PATHS.cacheDirectory,
    // One Fargate task serves one job, so build directories are never shared.
    builds_dir_is_shared: false,
    hostname: host,
    driver: { name, version },
    shell: "bash",
  };
}

export function runConfigStage(write: (text: string) => void): void {
  write(`${JSON.stringify(configOutput())}\n`);
}
