/**
 * LlmCacheSqlite — the LLM cache in a SQLite file (`<DATA_DIR>/cache.sqlite`), surviving restarts.
 *
 * Lookups run on the main thread, synchronously, on its own connection: a hit is one prepared
 * point read and never writes (`internal/sqliteCacheStore.ts`). Writes run on a worker thread with
 * a second connection (`internal/sqliteCacheWriterThread.ts`, the module `sqliteCacheWorker.ts`):
 * a new entry's write transaction (upsert, recency row, the triggers' totals) and the touch flushes
 * cost the event loop ~9 µs a set (measured: ~2.5 µs with the worker), a commit may stall on a WAL
 * checkpoint's fsync, and another process holding the file's write lock makes a write wait up to
 * 1 s; on the worker none of these delays calls, timers or the dashboard. `set` queues the entry
 * and, within 0.1 s, everything queued goes to the writer as one batch, written in one
 * transaction; the entry is readable as soon as `set` returns. The writer answers requests in order,
 * so `stats` counts every earlier `set`, and after `delete` returns the key is gone even if its
 * batch was still on its way. If no worker can run, the same writer runs on the main thread instead
 * (a warning says so): slower, same behaviour.
 *
 * Recency for LRU eviction is a `last_used` column in its own narrow table, and a hit does not write
 * it: hits are buffered and sent to the writer at most 500 touches at a time — with each batch (so
 * eviction sees them), every second in the background, and on release. Totals (entries, bytes) are
 * kept by triggers, so the size check after a write is one indexed read, and they stay right when
 * several processes share the file. A key filter (`internal/sqliteCacheFilter.ts`) answers most
 * misses without reading the file, exactly across processes.
 *
 * A file that cannot be opened (corrupt, unreadable, driver missing) is reported once and the cache
 * then answers every lookup as a miss; building the layer never fails.
 */
import { randomUUID } from "node:crypto"
import { dirname, join } from "node:path"
import { Duration, Effect, Layer, Option, Runtime, Schedule, type Scope } from "effect"
import * as Directory from "../internal/directory.js"
import { connect, type Database, driverPath } from "../internal/sqliteCacheFile.js"
import { makeStore as makeFileStore, type OpenedStore, type SqliteCacheInternals } from "../internal/sqliteCacheStore.js"
import { startWriter, type WriterPlacement } from "../internal/sqliteCacheWriterThread.js"
import { fault } from "../internal/sqliteCacheWrites.js"
import { AppConfig } from "../services/AppConfig.js"
import { type CacheBackendError, type CacheStore, fromStore, LlmCache, type LlmCacheService, reasonOf } from "../services/LlmCache.js"

export type { SqliteCacheInternals } from "../internal/sqliteCacheStore.js"

/** Settings of the SQLite cache. */
export interface SqliteCacheOptions {
  /** The database file; its directory is created if missing. */
  readonly path: string
  readonly ttl: Duration.DurationInput
  readonly sizeLimitBytes: number
  /**
   * Where writes run; `"worker"` (a worker thread) unless a test says otherwise: `"main"` runs
   * them on the main thread from the start (the fallback when no worker can run) and
   * `"failing-worker"` starts a worker whose module is missing (the switch to that fallback).
   * @internal
   */
  readonly writer?: WriterPlacement
}

const FLUSH_INTERVAL = Duration.seconds(1)

/** The cache that remains when the file cannot be used: every lookup misses, writes do nothing. */
const unavailableStore: CacheStore = {
  backend: "sqlite",
  get: () => Effect.succeed(Option.none()),
  set: () => Effect.void,
  delete: () => Effect.void,
  stats: Effect.succeed({ entries: 0, bytes: 0 }),
  clear: Effect.void
}

/** Opens the main connection (creating the schema) and starts the writer; throws if the file is unusable. */
const open = (options: SqliteCacheOptions, onFallback: (reason: string) => void) => {
  Directory.ensure(dirname(options.path))
  const driver = driverPath()
  const db = connect({ driverPath: driver, path: options.path, create: true })
  try {
    const writerId = randomUUID()
    const writer = startWriter({
      db,
      workerData: {
        ttlMs: Duration.toMillis(options.ttl),
        sizeLimitBytes: options.sizeLimitBytes,
        writerId,
        driverPath: driver,
        path: options.path
      },
      placement: options.writer ?? "worker",
      onFallback
    })
    return { db, opened: makeFileStore(db, writer, writerId) }
  } catch (error) {
    db.close()
    throw error
  }
}

/** Writes what is buffered, waits for the writer, closes the main connection; a warning if that fails. */
const release = ({ db, opened }: { readonly db: Database; readonly opened: OpenedStore }) =>
  opened.drain.pipe(
    Effect.flatMap((failure) =>
      Effect.try({
        try: () => {
          db.close()
          if (failure !== undefined) throw new Error(failure)
        },
        catch: (e) => e
      })
    ),
    Effect.catchAll((e) =>
      Effect.logWarning("LLM cache could not be closed cleanly").pipe(
        Effect.annotateLogs({ backend: "sqlite", operation: "close", reason: reasonOf(e) })
      )
    )
  )

/**
 * Opens the cache file and returns its `CacheStore` (no hit counting or fault handling: see
 * `make`). Fails with `CacheBackendError` when the file cannot be opened. When the scope closes,
 * writes what is buffered (entries, recent hits), waits for the writer and closes the file.
 */
export const makeStore = (options: SqliteCacheOptions): Effect.Effect<CacheStore, CacheBackendError, Scope.Scope> =>
  Effect.map(makeStoreWithInternals(options), (opened) => opened.store)

/**
 * `makeStore`, with what tests look at.
 * @internal
 */
export const makeStoreWithInternals = (
  options: SqliteCacheOptions
): Effect.Effect<
  { readonly store: CacheStore; readonly internals: SqliteCacheInternals },
  CacheBackendError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    // The writer may fall back from outside any fiber (a worker's error event): log with this
    // fiber's services (its logger).
    const runtime = yield* Effect.runtime<never>()
    const onFallback = (reason: string) =>
      Runtime.runSync(runtime)(
        Effect.logWarning("LLM cache writer thread unavailable; writing on the main thread").pipe(
          Effect.annotateLogs({ backend: "sqlite", operation: "writer", reason })
        )
      )
    const { opened } = yield* Effect.acquireRelease(
      Effect.try({ try: () => open(options, onFallback), catch: (e) => fault("open", e) }),
      release
    )
    // Recency of hits reaches the file even when no write follows for a while; chunked, with a
    // yield between requests, so other fibers (lookups) run in between.
    const flushChunk = opened.flushTouches.pipe(
      Effect.catchAll((e) =>
        Effect.as(
          Effect.logWarning("LLM cache could not record recent hits").pipe(
            Effect.annotateLogs({ backend: "sqlite", operation: "touch", reason: e.reason })
          ),
          false
        )
      )
    )
    yield* flushChunk.pipe(
      Effect.zipLeft(Effect.yieldNow()),
      Effect.repeat({ while: (more) => more }),
      Effect.repeat(Schedule.spaced(FLUSH_INTERVAL)),
      Effect.delay(FLUSH_INTERVAL),
      Effect.forkScoped
    )
    return { store: opened.store, internals: opened.internals }
  })

/**
 * The SQLite cache service. If the file cannot be opened (corrupt, unreadable), a warning is logged
 * and the service answers every lookup as a miss; it never fails.
 */
export const make = (options: SqliteCacheOptions): Effect.Effect<LlmCacheService, never, Scope.Scope> =>
  makeStore(options).pipe(
    Effect.catchAll((error) =>
      Effect.as(
        Effect.logWarning("LLM cache file unusable; continuing without the cache").pipe(
          Effect.annotateLogs({ backend: "sqlite", operation: "open", reason: error.reason, path: options.path })
        ),
        unavailableStore
      )
    ),
    Effect.map(fromStore)
  )

/** The SQLite cache at `<DATA_DIR>/cache.sqlite` with `CACHE_TTL` and `CACHE_SIZE_LIMIT` from `AppConfig`. */
export const layer: Layer.Layer<LlmCache, never, AppConfig> = Layer.scoped(
  LlmCache,
  Effect.flatMap(AppConfig, (config) =>
    make({
      path: join(config.dataDir, "cache.sqlite"),
      ttl: config.cache.ttl,
      sizeLimitBytes: config.cache.sizeLimitBytes
    }))
)
