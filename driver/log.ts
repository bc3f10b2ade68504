/**
 * Diagnostics go to stderr (stdout is the job log in prepare/run and must stay pure JSON in config), filtered by
 * LogLevel and shaped by LogFormat, like the Go driver's `--log-level` / `--log-format`.
 */
import { LogFormat, LogLevel, LOG_LEVELS } from "./contract/fargateToml";

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function formatLogLine(
  level: LogLevel,
  format: LogFormat,
  message: string,
  fields: Record<string, unknown>,
  time: Date,
): string {
  if (format === "json") return JSON.stringify({ time: time.toISOString(), level, msg: message, ...fields });
  const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${JSON.stringify(v)}`);
  if (format === "text-simple") return `${message}${extra.join("")}`;
  return `time="${time.toISOString()}" level=${level} msg=${JSON.stringify(message)}${extra.join("")}`;
}

export function createLogger(
  level: LogLevel,
  format: LogFormat,
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const at =
    (lineLevel: LogLevel) =>
    (message: string, fields: Record<string, unknown> = {}): void => {
      if (LOG_LEVELS.indexOf(lineLevel) >= threshold)
        write(formatLogLine(lineLevel, format, message, fields, new Date()));
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
