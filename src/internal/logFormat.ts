/**
 * Pure helpers of the logging layer: turning Effect's logger options into a `LogEntry`, and a
 * `LogEntry` into a JSON line, a human one-liner or a daily file name.
 *
 * Kept apart from `layers/Logging.ts` so tests and other sinks can format entries without building
 * the Layer. Secrets: every value goes through `renderValue`, which prints `Redacted` values (also
 * nested ones, through their `toJSON`) as `<redacted>`.
 */
import { Cause, HashMap, Inspectable, List, type Logger, LogLevel, Redacted } from "effect"
import { type LogLevelName, REDACTED_TEXT } from "../services/AppConfig.js"
import type { LogEntry, LogLevelLabel } from "../services/LogTail.js"

/** Effect's log level as a user-facing label (`WARN` → `WARNING`; `ALL`/`OFF` never reach a logger). */
export const levelLabel = (level: LogLevel.LogLevel): LogLevelLabel => {
  switch (level._tag) {
    case "All":
    case "Trace":
      return "TRACE"
    case "Debug":
      return "DEBUG"
    case "Info":
      return "INFO"
    case "Warning":
      return "WARNING"
    case "Error":
      return "ERROR"
    case "Fatal":
    case "None":
      return "FATAL"
  }
}

/** The Effect log level for a `LOG_LEVEL` setting. */
export const minimumLevel = (name: LogLevelName): LogLevel.LogLevel => {
  switch (name) {
    case "DEBUG":
      return LogLevel.Debug
    case "INFO":
      return LogLevel.Info
    case "WARNING":
      return LogLevel.Warning
    case "ERROR":
      return LogLevel.Error
  }
}

/**
 * Renders a logged value as text. Strings stay as they are; `Redacted` values become `<redacted>`;
 * errors show their name and message; other objects become compact JSON, in which nested `Redacted`
 * values are `<redacted>` too.
 */
export const renderValue = (u: unknown): string => {
  if (typeof u === "string") return u
  if (Redacted.isRedacted(u)) return REDACTED_TEXT
  if (u instanceof Error && !("toJSON" in u && typeof u.toJSON === "function")) return `${u.name}: ${u.message}`
  if (typeof u === "object" && u !== null) {
    // `redact` applies a Redactable's own masking (needs the fiber context the logger runs in).
    return Inspectable.toStringUnknown(Inspectable.redact(u), 0)
  }
  return String(u)
}

/**
 * Builds the entry the sinks share from what Effect hands a logger. Must run inside the logger's
 * `log` call: that is where Effect sets the context used to redact values.
 */
export const toLogEntry = (options: Logger.Logger.Options<unknown>): LogEntry => {
  const now = options.date.getTime()
  const parts = Array.isArray(options.message) ? options.message : [options.message]
  const annotations: Record<string, string> = {}
  // A HashMap has no insertion order; sorting keeps lines stable and easy to compare.
  const keys = Array.from(HashMap.keys(options.annotations)).sort()
  for (const key of keys) annotations[key] = renderValue(HashMap.unsafeGet(options.annotations, key))
  const spans: Record<string, number> = {}
  // Effect keeps spans innermost first; list them outermost first, as they were opened.
  for (const span of List.reverse(options.spans)) spans[span.label] = now - span.startTime
  const entry = {
    timestamp: now,
    level: levelLabel(options.logLevel),
    message: parts.map(renderValue).join(" "),
    annotations,
    spans
  }
  return Cause.isEmpty(options.cause)
    ? entry
    : { ...entry, cause: Cause.pretty(options.cause, { renderErrorCause: true }) }
}

/** Keys of a JSON line that annotations may not overwrite. */
const reservedKeys = new Set(["timestamp", "level", "message", "spans", "cause"])

/**
 * One JSON line (no trailing newline): `timestamp` (ISO 8601, UTC), `level`, `message`, then each
 * annotation as a top-level key (an annotation named like a reserved key is written as
 * `annotation.<key>`), `spans` (name → elapsed ms) when any are open, and `cause` when present.
 */
export const formatJson = (entry: LogEntry): string => {
  const out: Record<string, unknown> = {
    timestamp: new Date(entry.timestamp).toISOString(),
    level: entry.level,
    message: entry.message
  }
  for (const [key, value] of Object.entries(entry.annotations)) {
    out[reservedKeys.has(key) ? `annotation.${key}` : key] = value
  }
  if (Object.keys(entry.spans).length > 0) out["spans"] = entry.spans
  if (entry.cause !== undefined) out["cause"] = entry.cause
  return JSON.stringify(out)
}

const levelColors: Record<LogLevelLabel, string> = {
  TRACE: "90",
  DEBUG: "34",
  INFO: "32",
  WARNING: "33",
  ERROR: "31",
  FATAL: "1;97;41"
}

const paint = (color: boolean, code: string, text: string): string =>
  color ? `\x1b[${code}m${text}\x1b[0m` : text

const two = (n: number) => n.toString().padStart(2, "0")

/** Values without spaces, quotes or `=` print bare; others are quoted so a line stays parseable. */
const quoteIfNeeded = (value: string): string => /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)

/**
 * A human one-liner: local time, level (coloured when `color`), message, `key=value` annotations and
 * `span=12ms` spans. A cause follows on indented lines. No trailing newline.
 */
export const formatPretty = (entry: LogEntry, options: { readonly color: boolean }): string => {
  const d = new Date(entry.timestamp)
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${
    d.getMilliseconds().toString().padStart(3, "0")
  }`
  let line = `${paint(options.color, "90", time)} ${
    paint(options.color, levelColors[entry.level], entry.level.padEnd(7))
  } ${entry.message}`
  for (const [key, value] of Object.entries(entry.annotations)) {
    line += ` ${paint(options.color, "90", `${key}=`)}${quoteIfNeeded(value)}`
  }
  for (const [label, ms] of Object.entries(entry.spans)) {
    line += ` ${paint(options.color, "90", `${label}=`)}${ms}ms`
  }
  if (entry.cause !== undefined) {
    line += "\n" + entry.cause.split("\n").map((l) => `  ${l}`).join("\n")
  }
  return line
}

/** The daily file of a moment: `effect-agents-YYYY-MM-DD.log`, by its UTC date. */
export const logFileName = (date: Date | number): string =>
  `effect-agents-${new Date(date).toISOString().slice(0, 10)}.log`
