/**
 * LogTail — the recent structured log entries, in memory, for the dashboard and the API.
 *
 * The logging layer (`layers/Logging.ts`) pushes every entry that passes `LOG_LEVEL` into a bounded
 * ring; while the TUI owns the terminal this is where the log is shown. Entries are plain data
 * (already rendered, secrets already `<redacted>`), so a UI can display them without knowing Effect's
 * logger internals, and the Schema lets the API send them as JSON.
 */
import { Context, Effect, Schema, type Scope, Stream } from "effect"

/** Level names as users write them in `LOG_LEVEL` (Effect's `WARN` is shown as `WARNING`). */
export const LogLevelLabel = Schema.Literal("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "FATAL")
export type LogLevelLabel = typeof LogLevelLabel.Type

/**
 * One log entry. `timestamp` is epoch milliseconds from the Effect `Clock` of the logging fiber;
 * `annotations` are the fiber's log annotations (workflow, runId, agent, attempt, ...) rendered as
 * text; `spans` maps each open log span to its elapsed milliseconds; `cause` is the pretty-printed
 * cause when the entry was logged with one.
 */
export const LogEntry = Schema.Struct({
  timestamp: Schema.Number,
  level: LogLevelLabel,
  message: Schema.String,
  annotations: Schema.Record({ key: Schema.String, value: Schema.String }),
  spans: Schema.Record({ key: Schema.String, value: Schema.Number }),
  cause: Schema.optional(Schema.String)
})
export type LogEntry = typeof LogEntry.Type

/** How many entries the tail keeps unless a layer says otherwise. */
export const defaultCapacity = 500

/** The in-memory tail of the log. */
export interface LogTailService {
  /** The last entries (at most the ring's capacity), oldest first. */
  readonly recent: Effect.Effect<ReadonlyArray<LogEntry>>
  /**
   * Subscribes now and returns the stream of entries logged from this moment on; the subscription
   * lasts until the scope closes (then the stream ends). Use it when "from now on" must be exact,
   * e.g. before starting the work whose log you want to watch.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<LogEntry>, never, Scope.Scope>
  /**
   * The entries logged after the stream starts (live only). Like every subscription here, a slow
   * reader loses the oldest unread entries rather than slowing the program down.
   */
  readonly changes: Stream.Stream<LogEntry>
  /**
   * `recent` followed by `changes`, taken atomically: no entry is missed or repeated between the
   * history and the live part. What a log pane wants.
   */
  readonly follow: Stream.Stream<LogEntry>
}

/** The service tag: `yield* LogTail` gives the in-memory tail of the log. */
export class LogTail extends Context.Tag("effect-agents/LogTail")<LogTail, LogTailService>() {}

/** The last entries, oldest first. */
export const recent: Effect.Effect<ReadonlyArray<LogEntry>, never, LogTail> = Effect.flatMap(
  LogTail,
  (tail) => tail.recent
)

/** Subscribes now; the returned stream has every entry logged from this moment until the scope closes. */
export const subscribe: Effect.Effect<Stream.Stream<LogEntry>, never, LogTail | Scope.Scope> = Effect.flatMap(
  LogTail,
  (tail) => tail.subscribe
)

/** The entries logged after the stream starts. */
export const changes: Stream.Stream<LogEntry, never, LogTail> = Stream.unwrap(
  Effect.map(LogTail, (tail) => tail.changes)
)

/** The recent entries, then every new one, with no gap between them. */
export const follow: Stream.Stream<LogEntry, never, LogTail> = Stream.unwrap(
  Effect.map(LogTail, (tail) => tail.follow)
)
