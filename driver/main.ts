/**
 * CLI entry point (bundled to dist/driver/fargate.js):
 *   fargate.js --config <fargate.toml> [--log-level L] [--log-format F] custom <config|prepare|run|cleanup> [script stage]
 *   fargate.js --config <fargate.toml> reap      (stop every task of this manager: run before gitlab-runner starts)
 * Maps outcomes to gitlab-runner's exit codes and turns SIGTERM/SIGINT into a cancellation of the stage.
 * Stage modules are loaded lazily: `run` never loads the AWS SDK, `config` nothing but its own answer.
 */
import { appendFileSync } from "node:fs";
import { parseArgs as parseCommandLine } from "node:util";
import { version } from "../package.json";
import { Cancelled, describeError, exitCodeFor, ExitCodes, exitCodesFromEnv, JobError, SystemFailure } from "./errors";
import { createLogger } from "./log";
import { LOG_FORMATS, LOG_LEVELS, LogFormat, LogLevel } from "./contract/fargateToml";
import { loadSettings } from "./settings";
import type { StageContext } from "./stageContext";

export const STAGES = ["config", "prepare", "run", "cleanup"] as const;
export type Stage = (typeof STAGES)[number];

export interface CliArgs {
  version: boolean;
  config?: string;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
  /** Append diagnostics to this file instead of stderr (Go driver's --log-file). */
  logFile?: string;
  /** A custom-executor stage, or `reap`. */
  stage?: Stage | "reap";
  /** run only: the script gitlab-runner generated, and the sub-stage name. */
  scriptPath?: string;
  stageName?: string;
}

const USAGE =
  "usage: fargate --config <fargate.toml> custom <config|prepare|run|cleanup> [script_path stage_name] | " +
  "fargate --config <fargate.toml> reap";

/** The Go driver's options. Values are checked here, in the order given, so the messages are the driver's own. */
const OPTIONS = {
  config: { type: "string", short: "c" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  "log-file": { type: "string" },
  debug: { type: "boolean" },
  version: { type: "boolean", short: "v" },
} as const;

type OptionToken = { kind: "option"; name: string; rawName: string; value?: string };

function applyOption(args: CliArgs, token: OptionToken): void {
  const value = (): string => {
    if (!token.value) throw new SystemFailure(`${token.rawName} needs a value; ${USAGE}`);
    return token.value;
  };
  const oneOf = <T extends string>(allowed: readonly T[]): T => {
    const v = value().toLowerCase() as T;
    if (!allowed.includes(v)) throw new SystemFailure(`${token.rawName} must be one of ${allowed.join(", ")}`);
    return v;
  };
  switch (token.name as keyof typeof OPTIONS) {
    case "config":
      args.config = value();
      break;
    case "log-level":
      args.logLevel = oneOf(LOG_LEVELS);
      break;
    case "log-format":
      args.logFormat = oneOf(LOG_FORMATS);
      break;
    case "log-file":
      args.logFile = value();
      break;
    case "debug":
      args.logLevel = "debug";
      break;
    case "version":
      args.version = true;
      break;
  }
}

/** Whether `word` is the option itself (`-c`, `--config`) or, for a long option, `--name=value`. */
function isWholeOption(word: string, token: OptionToken): boolean {
  return word === token.rawName || (token.rawName.startsWith("--") && word === `${token.rawName}=${token.value}`);
}

/** Parses the Go driver's command line. Throws a SystemFailure naming the bad argument. */
export function parseArgs(argv: string[]): CliArgs {
  const { tokens } = parseCommandLine({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const args: CliArgs = { version: false };
  const positional: string[] = [];
  let lastIndex = -1;
  for (const token of tokens) {
    // One decision per word: parseArgs splits `-abc` into -a, -b, -c, but the Go driver reads whole words only.
    if (token.index === lastIndex) continue;
    lastIndex = token.index;
    const word = argv[token.index];
    if (token.kind === "option" && Object.hasOwn(OPTIONS, token.name) && isWholeOption(word, token)) {
      applyOption(args, token);
    } else if (word.startsWith("-") && positional.length === 0) {
      throw new SystemFailure(`unknown option ${word}; ${USAGE}`);
    } else {
      // After the command, anything else (even `-x`) is an argument of it.
      positional.push(word);
    }
  }
  if (args.version) return args;
  if (positional[0] === "reap") {
    if (positional.length > 1) throw new SystemFailure(`unexpected argument "${positional[1]}" for reap; ${USAGE}`);
    if (!args.config) throw new SystemFailure(`--config is required; ${USAGE}`);
    return { ...args, stage: "reap" };
  }
  if (positional[0] !== "custom") throw new SystemFailure(`expected the "custom" command; ${USAGE}`);
  const stage = positional[1] as Stage | undefined;
  if (stage === undefined || !STAGES.includes(stage)) {
    throw new SystemFailure(`unknown stage "${stage ?? ""}"; ${USAGE}`);
  }
  args.stage = stage;
  if (stage === "run") {
    if (!positional[2] || !positional[3]) throw new SystemFailure(`run needs script_path and stage_name; ${USAGE}`);
    args.scriptPath = positional[2];
    args.stageName = positional[3];
  } else if (positional.length > 2) {
    throw new SystemFailure(`unexpected argument "${positional[2]}" for ${stage}; ${USAGE}`);
  }
  if (!args.config) throw new SystemFailure(`--config is required; ${USAGE}`);
  return args;
}

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function runStage(ctx: StageContext): Promise<void> {
  const { settings, signal } = ctx;
  switch (ctx.stage) {
    case "config": {
      const { runConfigStage } = await import("./stages/config");
      runConfigStage((text) => process.stdout.write(text));
      return;
    }
    case "run": {
      const { runRunStage } = await import("./stages/run");
      const { jobFiles, sshPortFor } = await import("./stageContext");
      const { metadata } = jobFiles(ctx);
      await runRunStage({
        scriptPath: ctx.scriptPath ?? "",
        stageName: ctx.stageName ?? "",
        metadata,
        ssh: sshPortFor(settings),
        out: { stdout: process.stdout, stderr: process.stderr },
        buildExitCodeFile: ctx.codes.buildExitCodeFile,
        signal,
      });
      return;
    }
    case "prepare":
    case "cleanup":
    case "reap":
      await (await import("./awsStages")).runAwsStage(ctx.stage, ctx, print);
      return;
    default:
      throw new SystemFailure(USAGE);
  }
}

/** Milliseconds a stage may take to wind down after SIGTERM/SIGINT before the process exits anyway. */
export const SIGNAL_GRACE_MS = 15_000;

/**
 * A driver crash (a bug, or stdout closed under us: EPIPE) must not exit 1, which gitlab-runner reads as the user's
 * script failing: print one `ERROR:` line and exit with the system-failure code instead.
 */
function exitOnCrash(systemFailureCode: () => number): void {
  let crashed = false;
  const crash = (what: string) => (error: unknown) => {
    if (crashed) return;
    crashed = true;
    try {
      process.stderr.write(`ERROR: driver ${what}: ${describeError(error)}\n`);
    } finally {
      process.exit(systemFailureCode());
    }
  };
  process.on("uncaughtException", crash("crashed"));
  process.on("unhandledRejection", crash("crashed (unhandled rejection)"));
  process.stdout.on("error", crash("could not write the job log"));
  // Nothing to report on a closed stderr; an exit with the system-failure code is all that is left.
  process.stderr.on("error", () => process.exit(systemFailureCode()));
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let codes: ExitCodes = { buildFailure: 1, systemFailure: 2 };
  exitOnCrash(() => codes.systemFailure);
  const controller = new AbortController();
  const onSignal = (name: string) => () => {
    process.stderr.write(`Received ${name}: cancelling\n`);
    controller.abort(new Cancelled(`cancelled by ${name}`));
    setTimeout(() => process.exit(codes.systemFailure), SIGNAL_GRACE_MS).unref();
  };
  process.once("SIGTERM", onSignal("SIGTERM"));
  process.once("SIGINT", onSignal("SIGINT"));
  try {
    codes = exitCodesFromEnv(env);
    const args = parseArgs(argv);
    if (args.version) {
      process.stdout.write(`${version}\n`);
      return 0;
    }
    const settings = loadSettings(args.config ?? "");
    const logFile = args.logFile;
    const write = logFile ? (line: string) => appendFileSync(logFile, `${line}\n`) : undefined;
    const log = createLogger(args.logLevel ?? settings.logLevel, args.logFormat ?? settings.logFormat, write);
    if (settings.unknownKeys.length > 0) {
      log.warn(`ignoring unknown keys in ${args.config}: ${settings.unknownKeys.join(", ")}`);
    }
    await runStage({ ...args, stage: args.stage, settings, codes, log, env, signal: controller.signal });
    return 0;
  } catch (err) {
    const code = exitCodeFor(err, codes);
    if (code === codes.systemFailure || err instanceof JobError) process.stderr.write(`ERROR: ${describeError(err)}\n`);
    return code;
  }
}

/** Resolves once everything written to `stream` so far has been handed to the OS (or the stream failed). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

if (require.main === module) {
  void main(process.argv.slice(2), process.env).then(async (code) => {
    // process.exit drops what a pipe has not taken yet: the end of the job log. A failed write to a closed stdout
    // surfaces here too, as an 'error' event (a system failure), before anything reports success.
    await Promise.all([drained(process.stdout), drained(process.stderr)]);
    process.exit(code);
  });
}
