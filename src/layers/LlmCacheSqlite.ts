/**
 * LlmCacheSqlite — the LLM cache in a SQLite file (`<DATA_DIR>/cache.sqlite`), surviving restarts.
 *
 * better-sqlite3 is used directly, with prepared statements, rather than through `@effect/sql`:
 * measured here (10k rows of 2 KB, read + JSON.parse, p50, same run) the raw read took 16 µs,
 * `SqliteClient` 64 µs (4×: per-query fibers and spans) and this cache's `get` 23 µs (1.4×).
 *
 * Lookups run on the main thread, synchronously, on its own connection: a hit is one prepared
 * point read and never writes. Writes run on a worker thread with a second connection
 * (`internal/sqliteCacheWriter.ts`): a new entry's write transaction (upsert, recency row, the
 * triggers' totals) and the touch flushes cost the event loop ~9 µs a set (measured: ~2.5 µs with
 * the worker), and a commit may stall on a WAL checkpoint; on the worker neither delays calls,
 * timers or the dashboard. (It moves CPU, it does not remove it: on 2 cores, with the benchmark's
 * fake provider busy on the other one, throughput stayed the same; cache-hit tails improved.) `set` queues the entry and, once per event-loop turn, everything queued goes
 * to the writer as one batch, written in one transaction. Lookups see an entry from `set` until
 * the writer has acknowledged its batch, so a value is readable as soon as `set` returns. The
 * writer answers requests in order, so `stats` counts every earlier `set`, and after `delete`
 * returns the key is gone even if its batch was still on its way. If no worker can run, the same
 * writer runs on the main thread instead (a warning says so): slower, same behaviour.
 *
 * Recency for LRU eviction is a `last_used` column in its own narrow table (`llm_cache_lru`), and a
 * hit does not write it: hits are buffered in memory (key → time of the latest hit, plus hit/miss
 * counts) and sent to the writer at most 500 touches at a time — with each batch (so eviction sees
 * them), every second in the background, and on release. Writing on every hit would cost 2–3× the
 * read and bring WAL-checkpoint stalls. Beyond 10,000 buffered keys new hits are not recorded until
 * the next flush (recency becomes approximate; lookups never write). Totals (entries, bytes) are
 * kept by triggers in `llm_cache_meta`, so the size check after a write is one indexed read, and
 * they stay right when several processes share the file.
 *
 * Most lookups of a busy cache are misses of keys never seen, and a miss's point read was the
 * largest cost left on the event loop (15-20 µs measured in the benchmark). A key filter (a Bloom
 * filter, `internal/keyFilter.ts`) answers "certainly not in the file" without it. The first
 * lookup asks for it (so `cache stats` or `clear` never scan the file), and the writer reads its
 * content from one snapshot of the file: every key (expired ones too: an upsert can
 * revive one without inserting a row) and `foreign`, the number of rows other writers ever
 * inserted. That number is exact because the file counts it itself: a trigger counts every insert
 * in `inserts` (every process that writes the file fires it), and each writer counts its own
 * inserts in `inserts:<writerId>`, in the transaction that made them; neither ever decreases.
 * Keys this cache sets are added to the filter at once (those set while one is being built, when
 * it arrives). The first lookup of each event-loop turn that the filter answers reads `foreign`
 * again, one small read (the turn ends when the setImmediate callback it queued runs; a key the
 * filter does not rule out is read anyway, so hits never pay for this); if it moved, another
 * process (or another cache on the file) inserted rows the filter may lack: it is dropped, lookups
 * read the file as before, and a new one is built (at most one at a time, at most every 10 s; also
 * when sets fill it beyond its capacity). Deletes and evictions leave stale positives in it, which
 * only cost a read. The guarantee: a miss sees every entry committed to the file before the current
 * event-loop turn began (exactly: before the turn's first lookup that the filter answered), by any
 * process.
 *
 * A file that cannot be opened (corrupt, unreadable, driver missing) is reported once and the cache
 * then answers every lookup as a miss; building the layer never fails.
 */
import { randomUUID } from "node:crypto"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { performance } from "node:perf_hooks"
import { Clock, Duration, Effect, Layer, Option, Runtime, Schedule, type Scope } from "effect"
import * as Directory from "../internal/directory.js"
import { AppConfig } from "../services/AppConfig.js"
import {
  CacheBackendError,
  type CacheStore,
  entryBytes,
  fromStore,
  LlmCache,
  type LlmCacheService,
  reasonOf,
  type StoreStats
} from "../services/LlmCache.js"
import { KeyFilter } from "../internal/keyFilter.js"
import {
  type Database,
  type DatabaseConstructor,
  type Statement,
  startWriter,
  type Usage,
  type WriteEntry,
  type WriterChannel,
  type WriterCommand,
  type WriterPlacement,
  type WriterReply
} from "../internal/sqliteCacheWriter.js"

const require = createRequire(import.meta.url)

/** Settings of the SQLite cache. */
export interface SqliteCacheOptions {
  /** The database file; its directory is created if missing. */
  readonly path: string
  readonly ttl: Duration.DurationInput
  readonly sizeLimitBytes: number
  /**
   * Where writes run; `"worker"` (a worker thread) unless a test says otherwise: `"main"` runs
   * them on the main thread from the start (the fallback when no worker can run) and
   * `"failing-worker"` starts a worker that dies at once (the switch to that fallback).
   * @internal
   */
  readonly writer?: WriterPlacement
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS llm_cache (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS llm_cache_expires_at ON llm_cache (expires_at);
CREATE TABLE IF NOT EXISTS llm_cache_lru (key TEXT PRIMARY KEY, last_used INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS llm_cache_lru_last_used ON llm_cache_lru (last_used);
CREATE TABLE IF NOT EXISTS llm_cache_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO llm_cache_meta (name, value)
  VALUES ('entries', 0), ('bytes', 0), ('hits', 0), ('misses', 0), ('inserts', 0);
CREATE TRIGGER IF NOT EXISTS llm_cache_insert AFTER INSERT ON llm_cache BEGIN
  UPDATE llm_cache_meta SET value = value + 1 WHERE name = 'entries';
  UPDATE llm_cache_meta SET value = value + NEW.bytes WHERE name = 'bytes';
END;
CREATE TRIGGER IF NOT EXISTS llm_cache_delete AFTER DELETE ON llm_cache BEGIN
  UPDATE llm_cache_meta SET value = value - 1 WHERE name = 'entries';
  UPDATE llm_cache_meta SET value = value - OLD.bytes WHERE name = 'bytes';
  DELETE FROM llm_cache_lru WHERE key = OLD.key;
END;
CREATE TRIGGER IF NOT EXISTS llm_cache_resize AFTER UPDATE OF bytes ON llm_cache BEGIN
  UPDATE llm_cache_meta SET value = value - OLD.bytes + NEW.bytes WHERE name = 'bytes';
END;
CREATE TRIGGER IF NOT EXISTS llm_cache_count_insert AFTER INSERT ON llm_cache BEGIN
  UPDATE llm_cache_meta SET value = value + 1 WHERE name = 'inserts';
END;
`

/**
 * Rows inserted by every writer but this cache's: the file's count of all inserts minus this
 * writer's own. One statement, so both come from one snapshot. (Also in the writer's body.)
 */
const FOREIGN_INSERTS = `SELECT (SELECT value FROM llm_cache_meta WHERE name = 'inserts')
  - coalesce((SELECT value FROM llm_cache_meta WHERE name = ?), 0)`

/**
 * Distinct keys whose touches are buffered at most; beyond it new hits are not recorded (recency
 * becomes approximate) rather than making a lookup write.
 */
const MAX_PENDING_TOUCHES = 10_000
/** Touches sent per request, so no transaction holds the file's write lock for long. */
const FLUSH_CHUNK = 500
const FLUSH_INTERVAL = Duration.seconds(1)
/** The key filter is rebuilt (a scan of every key, on the writer) at most this often. */
const FILTER_REBUILD_INTERVAL_MS = 10_000
/**
 * How long a new filter is filled per event-loop turn, in steps of 1024 keys (~0.2 ms measured;
 * the first, before the JIT, up to ~1.5 ms): a file of 500k keys takes ~85 ms.
 */
const FILTER_BUILD_SLICE_MS = 2
/** How long a connection waits for another one's write lock (the other thread, another process). */
const BUSY_TIMEOUT_MS = 1000

const fault = (operation: string, cause: unknown) =>
  new CacheBackendError({ backend: "sqlite", operation, reason: reasonOf(cause), cause })

/** The cache that remains when the file cannot be used: every lookup misses, writes do nothing. */
const unavailableStore: CacheStore = {
  backend: "sqlite",
  get: () => Effect.succeed(Option.none()),
  set: () => Effect.void,
  delete: () => Effect.void,
  stats: Effect.succeed({ entries: 0, bytes: 0 }),
  clear: Effect.void
}

/**
 * What tests look at besides the store.
 * @internal
 */
export interface SqliteCacheInternals {
  /** Point reads of `llm_cache` that lookups made so far. */
  readonly pointReads: () => number
  /** The key filter lookups use now, if any. */
  readonly filter: () => KeyFilter | undefined
}

interface Opened {
  readonly store: CacheStore
  readonly internals: SqliteCacheInternals
  /** Sends up to `FLUSH_CHUNK` buffered touches and the counts to the writer; whether touches remain. */
  readonly flushTouches: Effect.Effect<boolean, CacheBackendError>
  /** Sends everything buffered, waits until the writer has written it, closes both connections. */
  readonly close: Effect.Effect<void, unknown>
}

const open = (options: SqliteCacheOptions, onFallback: (reason: string) => void): Opened => {
  Directory.ensure(dirname(options.path))
  const driverPath = require.resolve("better-sqlite3")
  const Driver = require(driverPath) as DatabaseConstructor
  const db = new Driver(options.path, { timeout: BUSY_TIMEOUT_MS })
  try {
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.exec(SCHEMA)
    const selectValue = db.prepare("SELECT value FROM llm_cache WHERE key = ? AND expires_at > ?").pluck()
    const selectForeign = db.prepare(FOREIGN_INSERTS).pluck()
    const writerId = randomUUID()
    const writer = startWriter({
      db,
      driverPath,
      path: options.path,
      busyTimeoutMs: BUSY_TIMEOUT_MS,
      settings: { ttlMs: Duration.toMillis(options.ttl), sizeLimitBytes: options.sizeLimitBytes, writerId },
      placement: options.writer ?? "worker",
      onFallback
    })
    return build({ db, selectValue, selectForeign, ownInserts: `inserts:${writerId}`, writer })
  } catch (error) {
    db.close()
    throw error
  }
}

const build = ({ db, ownInserts, selectForeign, selectValue, writer }: {
  readonly db: Database
  readonly selectValue: Statement
  readonly selectForeign: Statement
  /** This writer's row in `llm_cache_meta` (its own inserts). */
  readonly ownInserts: string
  readonly writer: WriterChannel
}): Opened => {
  // Buffered since they were last sent: key -> time of its latest hit (in insertion order), and counts.
  const touches = new Map<string, number>()
  let hits = 0
  let misses = 0
  const takeUsage = (max: number): Usage => {
    const taken: Array<readonly [string, number]> = []
    for (const touch of touches) {
      if (taken.length >= max) break
      taken.push(touch)
      touches.delete(touch[0])
    }
    const usage = { touches: taken, hits, misses }
    hits = 0
    misses = 0
    return usage
  }
  const hasUsage = () => touches.size > 0 || hits > 0 || misses > 0

  // Entries from `set` that lookups must find until the writer has acknowledged them, and those
  // of them not sent yet (sent once per event-loop turn: one batch, one transaction).
  const pending = new Map<string, WriteEntry>()
  const unsent = new Map<string, WriteEntry>()
  let scheduled: ReturnType<typeof setImmediate> | undefined
  // The reason the last batch failed; reported by the next `set` (a cache fault is a warning,
  // never a failed call).
  let writeFailure: string | undefined

  const sendUnsent = () => {
    if (scheduled !== undefined) clearImmediate(scheduled)
    scheduled = undefined
    if (unsent.size === 0) return
    const entries = [...unsent.values()]
    unsent.clear()
    writer.send({ op: "write", entries, ...takeUsage(FLUSH_CHUNK) }, (reply) => {
      if (reply.error !== undefined) writeFailure = reply.error
      // A newer `set` of the same key stays visible until its own batch is acknowledged.
      for (const entry of entries) {
        if (pending.get(entry.key) === entry) pending.delete(entry.key)
      }
    })
  }

  /**
   * A request to the writer and its reply. `command` runs when the request is sent, after
   * anything queued (the writer answers in order, so the reply reflects every earlier `set`).
   */
  const request = (operation: string, command: () => WriterCommand): Effect.Effect<WriterReply, CacheBackendError> =>
    Effect.async((resume) => {
      const message = command()
      sendUnsent()
      const id = writer.send(message, (reply) =>
        resume(reply.error === undefined ? Effect.succeed(reply) : Effect.fail(fault(operation, reply.error))))
      return Effect.sync(() => writer.forget(id))
    })

  // The key filter (see the header): every key in the file at the writer's snapshot, plus every
  // key `set` here since; `filterForeign` counts the other writers' inserts at that snapshot.
  let filter: KeyFilter | undefined
  let filterForeign = 0
  // Whether this turn's lookups found the filter current already; `endTurn` runs in the next
  // setImmediate phase.
  let filterChecked = false
  const endTurn = () => {
    filterChecked = false
  }
  // While a filter is being built: the keys pending when it was requested and those `set` since,
  // added to it when it is complete.
  let setWhileBuilding: Array<string> | undefined
  let lastBuildAt = Number.NEGATIVE_INFINITY
  let pointReads = 0

  /** Asks the writer for the file's keys, unless it was asked less than the interval ago. */
  const requestFilter = (now: number) => {
    // (A clock set back does not hold rebuilds off until it catches up.)
    const recent = now >= lastBuildAt && now - lastBuildAt < FILTER_REBUILD_INTERVAL_MS
    if (setWhileBuilding !== undefined || recent) return
    lastBuildAt = now
    // Those already sent are written before the writer's snapshot; the unsent ones after it.
    const added = [...pending.keys()]
    setWhileBuilding = added
    writer.send({ op: "keys" }, (reply) => {
      const keys = reply.keys
      // Failed (or the file does not count inserts): lookups keep reading the file.
      if (keys === undefined || keys.foreign === null) {
        setWhileBuilding = undefined
        return
      }
      const foreign = keys.foreign
      const next = new KeyFilter(2 * (keys.packed.length / 64 + keys.other.length + added.length))
      let done = 0
      const addChunk = () => {
        const until = performance.now() + FILTER_BUILD_SLICE_MS
        do done = next.addConcatenated(keys.packed, done, 1024)
        while (done + 64 <= keys.packed.length && performance.now() < until)
        if (done + 64 <= keys.packed.length) {
          setImmediate(addChunk)
          return
        }
        for (const key of keys.other) next.add(key)
        // Including those set until now: `set` pushes to `added` while it is `setWhileBuilding`.
        for (const key of added) next.add(key)
        setWhileBuilding = undefined
        filter = next
        filterForeign = foreign
        // Its snapshot may be older than this turn's check of the filter it replaces.
        filterChecked = false
      }
      addChunk()
    })
  }

  /**
   * Whether `key` is certainly not in the file: the filter has never seen it, and no other writer
   * inserted a row since the filter's snapshot (read once per event-loop turn, and only when the
   * filter rules a key out: a key it does not is read anyway, so a hit never pays for the check).
   * If one did, the filter is dropped until a new one is built.
   */
  const certainlyAbsent = (key: string, now: number): boolean => {
    if (filter === undefined) {
      requestFilter(now)
      return false
    }
    if (filter.mightContain(key)) return false
    if (!filterChecked) {
      if (selectForeign.get(ownInserts) !== filterForeign) {
        filter = undefined
        requestFilter(now)
        return false
      }
      filterChecked = true
      setImmediate(endTurn)
    }
    return true
  }

  // The hit path: one prepared point read and a map update; it never writes to the file. A key
  // the filter rules out skips the read. Throws the driver's error on a fault.
  const lookup = (key: string, now: number): Option.Option<string> => {
    let value: unknown = pending.get(key)?.value
    if (value === undefined && !certainlyAbsent(key, now)) {
      pointReads += 1
      value = selectValue.get(key, now)
    }
    if (typeof value !== "string") {
      misses += 1
      return Option.none()
    }
    hits += 1
    if (touches.delete(key) || touches.size < MAX_PENDING_TOUCHES) touches.set(key, now)
    return Option.some(value)
  }

  const noStats: StoreStats = { entries: 0, bytes: 0 }

  const store: CacheStore = {
    backend: "sqlite",
    get: (key) =>
      Effect.clockWith((clock) => {
        try {
          return Effect.succeed(lookup(key, clock.unsafeCurrentTimeMillis()))
        } catch (error) {
          return Effect.fail(fault("get", error))
        }
      }),
    unsafeGet: (key, now) => {
      try {
        return lookup(key, now)
      } catch (error) {
        throw fault("get", error)
      }
    },
    set: (key, value) =>
      Effect.clockWith((clock) => {
        const entry: WriteEntry = { key, value, bytes: entryBytes(key, value), at: clock.unsafeCurrentTimeMillis() }
        pending.set(key, entry)
        unsent.set(key, entry)
        setWhileBuilding?.push(key)
        if (filter !== undefined) {
          filter.add(key)
          // Past its capacity it still works, with more false positives: a larger one is built.
          if (filter.count > filter.capacity) requestFilter(entry.at)
        }
        scheduled ??= setImmediate(sendUnsent)
        if (writeFailure === undefined) return Effect.void
        const reason = writeFailure
        writeFailure = undefined
        return Effect.fail(fault("set", reason))
      }),
    delete: (key) =>
      Effect.asVoid(request("delete", () => {
        // Gone for lookups at once, even if its batch is on its way: the writer deletes after it.
        touches.delete(key)
        pending.delete(key)
        unsent.delete(key)
        return { op: "delete", key }
      })),
    stats: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.map(
        request("stats", () => ({ op: "stats", now, ...takeUsage(Number.POSITIVE_INFINITY) })),
        (reply) => reply.stats ?? noStats
      )),
    clear: Effect.asVoid(request("clear", () => {
      touches.clear()
      hits = 0
      misses = 0
      pending.clear()
      unsent.clear()
      return { op: "clear" }
    }))
  }

  return {
    store,
    internals: { pointReads: () => pointReads, filter: () => filter },
    flushTouches: Effect.suspend(() =>
      hasUsage()
        ? Effect.map(request("touch", () => ({ op: "touch", ...takeUsage(FLUSH_CHUNK) })), () => touches.size > 0)
        : Effect.succeed(false)
    ),
    close: Effect.async<string | undefined>((resume) => {
      let failure: string | undefined
      sendUnsent()
      while (hasUsage()) {
        writer.send({ op: "touch", ...takeUsage(FLUSH_CHUNK) }, (reply) => {
          failure ??= reply.error
        })
      }
      writer.close(() => resume(Effect.succeed(failure ?? writeFailure)))
    }).pipe(
      Effect.flatMap((failure) =>
        Effect.try({
          try: () => {
            db.close()
            if (failure !== undefined) throw new Error(failure)
          },
          catch: (e) => e
        })
      )
    )
  }
}

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
    const opened = yield* Effect.acquireRelease(
      Effect.try({ try: () => open(options, onFallback), catch: (e) => fault("open", e) }),
      (o) =>
        o.close.pipe(
          Effect.catchAll((e) =>
            Effect.logWarning("LLM cache could not be closed cleanly").pipe(
              Effect.annotateLogs({ backend: "sqlite", operation: "close", reason: reasonOf(e) })
            )
          )
        )
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
