/**
 * The shell scripts pushed to the runner manager, read from `scripts/` next to this module (the build copies them
 * to `dist/components/manager/scripts/`). They are POSIX sh; the deployment pushes the exact text the tests execute
 * and lint (test/components/manager/). Settings reach them through the environment (see each script's header).
 *
 * Every absolute path in the registration scripts is prefixed with `$GFR_ROOT`, which is empty on the manager (the
 * deployment never sets it) and a temporary directory in the tests.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Where the scripts are: beside this module, in the sources and in `dist/` alike. */
const SCRIPTS_DIRECTORY = path.join(__dirname, "scripts");

/** The text of `scripts/<file>`. */
export function readScript(file: string): string {
  const scriptPath = path.join(SCRIPTS_DIRECTORY, file);
  try {
    return fs.readFileSync(scriptPath, "utf8");
  } catch (error) {
    throw new Error(
      `gitlab-fargate-runner: the manager script ${scriptPath} cannot be read (${(error as Error).message}); ` +
        'a build must copy components/manager/scripts (run "npm run build")',
    );
  }
}

/**
 * A script sources a library beside it (so it runs and lints as it is in the repository) with these two lines; the
 * shipped text has the library's content in their place, so one file is pushed per script.
 */
const SOURCED_LIBRARY = /^# shellcheck source-path=SCRIPTDIR source=([\w.-]+)\n\. "\$\(dirname "\$0"\)\/\1"\n/gm;

/** A library's first line: its shellcheck directives, for the repository only. */
const LIBRARY_DIRECTIVES = /^# shellcheck [^\n]*\n/;

/** `scripts/<file>` as it is pushed: each sourced library inlined. */
function shippedScript(file: string): string {
  return readScript(file).replace(SOURCED_LIBRARY, (_line, library: string) =>
    readScript(library).replace(LIBRARY_DIRECTIVES, ""),
  );
}

/** What gitlab-runner executes for every custom-executor stage: our bundled driver on the pinned Node.js. */
export const LAUNCHER_SCRIPT = shippedScript("launcher.sh");

/**
 * Registers the manager with GitLab. Reads the token (one line) from standard input; settings come from the
 * environment (see the header). Run as root by the deployment's register command, on create and on every update.
 * It registers into a new config file first and swaps it in only on success, so a rejected token (revoked, wrong,
 * or rotated by gitlab-runner itself) leaves the running runner as it was.
 */
export const REGISTER_SCRIPT = shippedScript("register.sh");

/**
 * Removes the manager's runner entry from GitLab, then stops gitlab-runner. Run as root by the register command's
 * delete step (`pulumi destroy`, or before the registration is replaced).
 */
export const UNREGISTER_SCRIPT = shippedScript("unregister.sh");
