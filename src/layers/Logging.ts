/**
 * Logging — the Effect logger of effect-agents.
 *
 * Replaces Effect's default logger with one that renders each entry once (`LogEntry`) and hands it
 * to three sinks: daily JSON-lines files under `LOG_DIR`, the in-memory `LogTail` the dashboard
 * shows, and — unless the TUI owns the terminal — stderr in `LOG_FORMAT` (stdout is reserved for
 * `--json` results). `LOG_LEVEL` becomes Effect's minimum log level, so filtered entries cost
 * nothing and reach no sink.
 *
 * Timestamps are the logger's `date`, which Effect 3.22 takes from the logging fiber's `Clock`
 * (`fiberRuntime.log`: `new Date(clock.unsafeCurrentTimeMillis())`), so `TestClock` drives file
 * rotation in tests exactly as the wall clock does in production.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Exit, Layer, Logger, type LogLevel, Mailbox, type Scope, Stream } from "effect"
import * as Directory from "../internal/directory.js"
import { formatJson, formatPretty, logFileName, minimumLevel, toLogEntry } from "../internal/logFormat.js"
import { AppConfig } from "../services/AppConfig.js"
import { defaultCapacity, type LogEntry, LogTail, type LogTailService } from "../services/LogTail.js"
import { annotateLogger } from "../services/WorkflowContext.js"

export { formatJson, formatPretty, logFileName, renderValue, toLogEntry } from "../internal/logFormat.js"

/** How the logging layer is wired for this process. */
export interface Options {
  /**
   * Write entries to stderr. `false` while the TUI owns the terminal: entries then go only to the
   * log file and the in-memory tail.
   */
  readonly console: boolean
  /**
   * Colour the pretty console format. The caller decides (stderr is a TTY and `NO_COLOR` is unset);
   * this layer never reads the environment. Default `false`.
   */
  readonly color?: boolean
  /** Entries kept by the in-memory tail; default `LogTail.defaultCapacity` (500). */
  readonly tailCapacity?: number
}

// ---------------------------------------------------------------------------------------------
// In-memory tail
// ---------------------------------------------------------------------------------------------

/** A tail together with the function that feeds it (only the logger may write). */
export interface TailWriter {
  readonly tail: LogTailService
  readonly push: (entry: LogEntry) => void
  /** Ends every subscriber's stream; later entries are still kept in the ring. */
  readonly close: () => void
}

/** Each subscriber buffers at most this many unread entries; older ones are dropped first. */
const subscriberBuffer = 1_024

/**
 * An in-memory ring of the last `capacity` entries with live subscriptions. Pushing is synchronous
 * and never waits for readers: a logger runs inside whichever fiber logs, and a slow UI must not
 * slow a workflow down, so each subscriber has a sliding buffer.
 */
export const makeTail = (capacity: number = defaultCapacity): TailWriter => {
  const size = Math.max(1, Math.floor(capacity))
  const ring: Array<LogEntry> = []
  let oldest = 0
  const subscribers = new Set<Mailbox.Mailbox<LogEntry>>()

  const snapshot = (): ReadonlyArray<LogEntry> =>
    ring.length < size ? ring.slice() : [...ring.slice(oldest), ...ring.slice(0, oldest)]

  const push = (entry: LogEntry): void => {
    if (ring.length < size) {
      ring.push(entry)
    } else {
      ring[oldest] = entry
      oldest = (oldest + 1) % size
    }
    for (const mailbox of subscribers) mailbox.unsafeOffer(entry)
  }

  const open = (withHistory: boolean): Effect.Effect<Stream.Stream<LogEntry>, never, Scope.Scope> =>
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<LogEntry>({
        capacity: Math.max(subscriberBuffer, size),
        strategy: "sliding"
      })
      // Snapshot and registration happen in one synchronous step, so no entry falls between them.
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          if (withHistory) mailbox.unsafeOfferAll(snapshot())
          subscribers.add(mailbox)
        }),
        () =>
          Effect.sync(() => {
            subscribers.delete(mailbox)
            mailbox.unsafeDone(Exit.void)
          })
      )
      return Mailbox.toStream(mailbox)
    })

  const tail: LogTailService = {
    recent: Effect.sync(snapshot),
    subscribe: open(false),
    changes: Stream.unwrapScoped(open(false)),
    follow: Stream.unwrapScoped(open(true))
  }
  const close = () => {
    for (const mailbox of subscribers) mailbox.unsafeDone(Exit.void)
    subscribers.clear()
  }
  return { tail, push, close }
}

// ---------------------------------------------------------------------------------------------
// Daily files
// ---------------------------------------------------------------------------------------------

/** Appends JSON lines to the file of each entry's UTC date. */
interface FileSink {
  readonly write: (timestamp: number, line: string) => void
  readonly close: () => void
}

/** After a failed open or write, how long (by log timestamps) before the file is tried again. */
const retryAfterMs = 60_000

const writeAll = (fd: number, text: string): void => {
  const buffer = Buffer.from(text, "utf8")
  let offset = 0
  while (offset < buffer.length) offset += fs.writeSync(fd, buffer, offset)
}

/**
 * One open descriptor for the current day, closed when an entry of another date arrives (daily
 * rotation) and on `close`. Writes are synchronous so a line is on disk before the program can
 * crash on the next one; a log line is small, so this costs one `write(2)` per entry. Failures go to
 * `onError` and pause the file for `retryAfterMs` instead of failing the logging fiber.
 */
const makeFileSink = (
  dir: string,
  onError: (file: string, timestamp: number, error: unknown) => void
): FileSink => {
  let currentName: string | undefined
  let fd: number | undefined
  let pausedUntil = Number.NEGATIVE_INFINITY
  let closed = false

  const closeFd = () => {
    if (fd === undefined) return
    try {
      fs.closeSync(fd)
    } catch {
      // Nothing useful to do: the descriptor is gone either way.
    }
    fd = undefined
  }

  const openFile = (name: string): number => {
    Directory.ensure(dir, { mode: 0o700 })
    const handle = fs.openSync(path.join(dir, name), "a", 0o600)
    try {
      // The mode above applies only on creation; tighten a file left by an older version too.
      fs.fchmodSync(handle, 0o600)
    } catch {
      // Not our file to change (another owner): writing to it is still fine.
    }
    return handle
  }

  const write = (timestamp: number, line: string): void => {
    const name = logFileName(timestamp)
    if (timestamp < pausedUntil && name === currentName) return
    try {
      if (closed) {
        // Entries logged after release (shutdown messages) still reach the file, without keeping it open.
        Directory.ensure(dir, { mode: 0o700 })
        fs.appendFileSync(path.join(dir, name), line + "\n", { mode: 0o600 })
        return
      }
      if (name !== currentName || fd === undefined) {
        closeFd()
        currentName = name
        fd = openFile(name)
      }
      writeAll(fd, line + "\n")
    } catch (error) {
      closeFd()
      pausedUntil = timestamp + retryAfterMs
      onError(path.join(dir, name), timestamp, error)
    }
  }

  const close = () => {
    closed = true
    closeFd()
  }
  return { write, close }
}

// ---------------------------------------------------------------------------------------------
// Logger and Layer
// ---------------------------------------------------------------------------------------------

/** What `make` builds: the logger, the tail it feeds and the minimum level from `LOG_LEVEL`. */
export interface Logging {
  readonly logger: Logger.Logger<unknown, void>
  readonly tail: LogTailService
  readonly minimumLevel: LogLevel.LogLevel
}

const writeStderr = (text: string): void => {
  try {
    process.stderr.write(text + "\n")
  } catch {
    // A closed stderr must not take the program down with it.
  }
}

/**
 * Builds the logger from `AppConfig.log`: file sink under `dir`, tail, and the console sink when
 * `options.console`. The log file is closed and tail subscriptions end when the scope closes.
 */
export const make = (options: Options): Effect.Effect<Logging, never, AppConfig | Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const color = options.color ?? false
    const render = (entry: LogEntry): string =>
      config.log.format === "json" ? formatJson(entry) : formatPretty(entry, { color })

    const writer = yield* Effect.acquireRelease(
      Effect.sync(() => makeTail(options.tailCapacity ?? defaultCapacity)),
      (w) => Effect.sync(w.close)
    )

    // The first file failure is reported where the user looks (stderr, or the dashboard's log pane);
    // repeating it for every entry would drown the log it is about.
    let reported = false
    const reportFileError = (file: string, timestamp: number, error: unknown): void => {
      if (reported) return
      reported = true
      const reason = error instanceof Error ? error.message : String(error)
      const entry: LogEntry = {
        timestamp,
        level: "ERROR",
        message: `cannot write log file ${file}: ${reason}; file logging paused, other log output continues`,
        annotations: {},
        spans: {}
      }
      writer.push(entry)
      if (options.console) writeStderr(render(entry))
    }

    const file = yield* Effect.acquireRelease(
      Effect.sync(() => makeFileSink(config.log.dir, reportFileError)),
      (sink) => Effect.sync(sink.close)
    )

    // Lines written inside a run carry its run, workflow, step and agent.
    const logger = annotateLogger(Logger.make<unknown, void>((logOptions) => {
      const entry = toLogEntry(logOptions)
      writer.push(entry)
      const json = formatJson(entry)
      file.write(entry.timestamp, json)
      if (options.console) writeStderr(config.log.format === "json" ? json : render(entry))
    }))

    return { logger, tail: writer.tail, minimumLevel: minimumLevel(config.log.level) }
  })

/**
 * The logging Layer: replaces Effect's default logger, sets the minimum level from `LOG_LEVEL` and
 * provides the `LogTail`. Scoped: the open log file is closed when the Layer is released.
 */
export const layer = (options: Options): Layer.Layer<LogTail, never, AppConfig> =>
  Layer.unwrapScoped(
    Effect.map(make(options), (logging) =>
      // Composed in sequence on purpose: with effect 3.22, fiber-ref settings (logger, minimum level)
      // built inside `Layer.merge`/`mergeAll` outlive `Effect.provide` and keep logging afterwards.
      Layer.succeed(LogTail, logging.tail).pipe(
        Layer.provideMerge(Logger.replace(Logger.defaultLogger, logging.logger)),
        Layer.provideMerge(Logger.minimumLogLevel(logging.minimumLevel))
      ))
  )
