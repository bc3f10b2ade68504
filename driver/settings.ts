/** fargate.toml from disk: the file named by `--config`, read by the contract's rules (./contract/fargateToml). */
import { readFileSync } from "node:fs";
import { SystemFailure } from "./errors";
import { parseFargateToml, Settings } from "./contract/fargateToml";

/** Reads and parses the file; a missing or unreadable file is a clear error naming the path. */
export function loadSettings(path: string): Settings {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new SystemFailure(
      `cannot read --config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return parseFargateToml(text, path);
}
