/**
 * The writer of the SQLite LLM cache: every write to `cache.sqlite` (new entries, recency of hits,
 * hit/miss counts, eviction, delete, clear) and the stats read, done on a worker thread with its
 * own connection, so neither the CPU of a write transaction nor a WAL checkpoint stall runs on the
 * event loop. The main thread keeps its connection for lookups only (see `LlmCacheSqlite`).
 *
 * The writer is ONE function, `sqliteCacheWriter`, used in two places:
 * - in the worker: its source (`Function.prototype.toString()`) is evaluated there with
 *   `new Worker(source, { eval: true })`. Hence the rule for its body: it must refer to nothing
 *   outside itself (no imports, no module-level helpers) and must not define named functions
 *   (tsx compiles with esbuild's `keepNames`, which wraps those in a `__name(...)` helper that
 *   would not exist in the worker) — inner helpers are object methods or anonymous arrows;
 * - on the main thread, on the main connection, when no worker can run (it could not start or it
 *   died): the same behaviour, only without the benefit. Requests the worker had not answered are
 *   replayed there in order (they are idempotent, apart from hit/miss counts that may be counted
 *   twice), and a warning is logged once.
 *
 * Requests are answered in the order they were sent, so a reply to `stats` or `delete` means every
 * earlier write is in the file. Write transactions count the rows they insert in the file
 * (`inserts:<writerId>`), and `keys` reads every key from one snapshot: the main thread's key
 * filter is built from them (see `LlmCacheSqlite`). The worker keeps the process alive only while
 * a request is unanswered: an idle cache never holds a process open, and a release still gets its
 * writes done.
 */
import { Worker } from "node:worker_threads"
import { reasonOf } from "../services/LlmCache.js"

// The driver ships no type declarations; this is the small part of its API we use.
export interface Statement {
  get(...params: ReadonlyArray<unknown>): unknown
  all(...params: ReadonlyArray<unknown>): Array<unknown>
  run(...params: ReadonlyArray<unknown>): { readonly changes: number }
  pluck(toggle?: boolean): Statement
}
export interface Database {
  prepare(sql: string): Statement
  pragma(source: string, options?: { readonly simple?: boolean }): unknown
  exec(sql: string): Database
  transaction<A extends ReadonlyArray<unknown>, R>(fn: (...args: A) => R): Transaction<A, R>
  close(): Database
}
/** A transaction function: called, it runs in `BEGIN` (deferred); `immediate` in `BEGIN IMMEDIATE`. */
export interface Transaction<A extends ReadonlyArray<unknown>, R> {
  (...args: A): R
  readonly immediate: (...args: A) => R
}
export type DatabaseConstructor = new (filename: string, options?: { readonly timeout?: number }) => Database

/** An entry to store; `at` (when it was set) is its recency, and its expiry is `at + ttl`. */
export interface WriteEntry {
  readonly key: string
  readonly value: string
  /** `entryBytes(key, value)`, computed by the sender. */
  readonly bytes: number
  readonly at: number
}

/** Hits buffered by the main thread since the last request: key → time of its latest hit, counts. */
export interface Usage {
  readonly touches: ReadonlyArray<readonly [key: string, at: number]>
  readonly hits: number
  readonly misses: number
}

export interface StatsReply {
  readonly entries: number
  readonly bytes: number
  readonly hits: number
  readonly misses: number
}

/** What the writer is asked to do (`id` is added by the channel). */
export type WriterCommand =
  | ({ readonly op: "write"; readonly entries: ReadonlyArray<WriteEntry> } & Usage)
  | ({ readonly op: "touch" } & Usage)
  | ({ readonly op: "stats"; readonly now: number } & Usage)
  | { readonly op: "delete"; readonly key: string }
  | { readonly op: "clear" }
  /** Every key in the file and the `foreign` insert count, from one snapshot (for the key filter). */
  | { readonly op: "keys" }
  /** Closes the worker's connection; the last request sent. */
  | { readonly op: "close" }

export type WriterRequest = WriterCommand & { readonly id: number }

export interface WriterReply {
  readonly id: number
  /** The reason, when the request's transaction failed (and was rolled back). */
  readonly error?: string
  readonly stats?: StatsReply
  readonly keys?: KeysReply
}

/** The answer to `keys`: what the file held at one moment. */
export interface KeysReply {
  /**
   * The keys of 64 ASCII characters (all those the service makes: hex SHA-256), one after another,
   * as bytes (transferred, not copied).
   */
  readonly packed: Uint8Array
  /** All other keys. */
  readonly other: ReadonlyArray<string>
  /**
   * Rows inserted into `llm_cache` by every writer but this one, as counted by the file's trigger
   * and this writer's `inserts:<writerId>` row; `null` if the file does not count them.
   */
  readonly foreign: number | null
}

export interface WriterSettings {
  readonly ttlMs: number
  readonly sizeLimitBytes: number
  /** This cache's writer, unique per open: its own inserts are counted in `inserts:<writerId>`. */
  readonly writerId: string
}

/**
 * Prepares the writer's statements on `db` and returns the request handler. Each request runs in
 * one transaction; a failure is answered with its reason, never thrown.
 *
 * SELF-CONTAINED: serialised into the worker; see the header for the rules of this body.
 */
export const sqliteCacheWriter = (
  db: Database,
  settings: WriterSettings
): (request: WriterRequest) => WriterReply => {
  /** Rows examined per eviction round. */
  const evictionBatch = 64
  const sql = {
    upsert: db.prepare(
      `INSERT INTO llm_cache (key, value, bytes, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes, expires_at = excluded.expires_at`
    ),
    // Recency lives in its own narrow table: updating it does not rewrite the (large) value row,
    // which measured 3-7x cheaper per touch.
    recency: db.prepare("INSERT OR REPLACE INTO llm_cache_lru (key, last_used) VALUES (?, ?)"),
    // `max`: a hit buffered before a newer set of the same key must not make it look older.
    touch: db.prepare("UPDATE llm_cache_lru SET last_used = max(last_used, ?) WHERE key = ?"),
    deleteKey: db.prepare("DELETE FROM llm_cache WHERE key = ?"),
    deleteRecency: db.prepare("DELETE FROM llm_cache_lru WHERE key = ?"),
    deleteExpired: db.prepare("DELETE FROM llm_cache WHERE expires_at <= ?"),
    deleteAll: db.prepare("DELETE FROM llm_cache"),
    oldest: db.prepare(`SELECT key FROM llm_cache_lru ORDER BY last_used LIMIT ${evictionBatch}`).pluck(),
    meta: db.prepare("SELECT value FROM llm_cache_meta WHERE name = ?").pluck(),
    addMeta: db.prepare("UPDATE llm_cache_meta SET value = value + ? WHERE name = ?"),
    // Never 'inserts' or 'inserts:<id>': the key filters' insert counts only grow.
    resetCounters: db.prepare("UPDATE llm_cache_meta SET value = 0 WHERE name IN ('hits', 'misses')"),
    // For the key filter (see `LlmCacheSqlite`): a trigger counts every insert in 'inserts', this
    // writer counts its own in 'inserts:<writerId>', so the difference counts everyone else's.
    addOwnInserts: db.prepare(
      `INSERT INTO llm_cache_meta (name, value) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET value = value + excluded.value`
    ),
    dropOwnInserts: db.prepare("DELETE FROM llm_cache_meta WHERE name = ?"),
    // All keys, expired ones too: an upsert can revive an expired row without inserting one.
    // 64 characters in 64 bytes: ASCII. (10x faster than a GLOB for hex digits, measured.)
    packedKeys: db.prepare(
      "SELECT group_concat(key, '') FROM llm_cache WHERE length(key) = 64 AND length(CAST(key AS BLOB)) = 64"
    ).pluck(),
    otherKeys: db.prepare(
      "SELECT key FROM llm_cache WHERE NOT (length(key) = 64 AND length(CAST(key AS BLOB)) = 64)"
    ).pluck(),
    // The main thread's statement too (this body cannot share it): one statement, one snapshot.
    foreign: db.prepare(
      `SELECT (SELECT value FROM llm_cache_meta WHERE name = 'inserts')
         - coalesce((SELECT value FROM llm_cache_meta WHERE name = ?), 0)`
    ).pluck()
  }
  const ownInserts = `inserts:${settings.writerId}`

  const steps = {
    metaValue(name: string): number {
      return Number(sql.meta.get(name) ?? 0)
    },
    record(usage: Usage): void {
      for (const [key, at] of usage.touches) sql.touch.run(at, key)
      if (usage.hits > 0) sql.addMeta.run(usage.hits, "hits")
      if (usage.misses > 0) sql.addMeta.run(usage.misses, "misses")
    },
    write(entries: ReadonlyArray<WriteEntry>): number {
      let now = 0
      for (const { at, bytes, key, value } of entries) {
        now = Math.max(now, at)
        if (bytes > settings.sizeLimitBytes) {
          // Too large to keep; dropping the old value keeps the cache from serving a stale answer.
          sql.deleteKey.run(key)
          continue
        }
        sql.upsert.run(key, value, bytes, at + settings.ttlMs)
        sql.recency.run(key, at)
      }
      return now
    },
    evict(now: number): void {
      if (steps.metaValue("bytes") <= settings.sizeLimitBytes) return
      sql.deleteExpired.run(now)
      while (steps.metaValue("bytes") > settings.sizeLimitBytes) {
        const keys = sql.oldest.all() as Array<string>
        if (keys.length === 0) break
        for (const key of keys) {
          // A recency row without its entry (never expected) must not stall eviction.
          if (sql.deleteKey.run(key).changes === 0) sql.deleteRecency.run(key)
          if (steps.metaValue("bytes") <= settings.sizeLimitBytes) break
        }
      }
    },
    handle(request: WriterRequest): StatsReply | undefined {
      switch (request.op) {
        case "write": {
          const now = steps.write(request.entries)
          // After the entries, so a hit on a value that was still on its way here counts too;
          // before eviction, so it sees them.
          steps.record(request)
          steps.evict(now)
          return undefined
        }
        case "touch":
          steps.record(request)
          return undefined
        case "stats":
          steps.record(request)
          sql.deleteExpired.run(request.now)
          return {
            entries: steps.metaValue("entries"),
            bytes: steps.metaValue("bytes"),
            hits: steps.metaValue("hits"),
            misses: steps.metaValue("misses")
          }
        case "delete":
          sql.deleteKey.run(request.key)
          return undefined
        case "clear":
          sql.deleteAll.run()
          sql.resetCounters.run()
          return undefined
        case "keys":
          // Not a write: answered by `readKeys`, outside this (write) transaction.
          return undefined
        case "close":
          // Best effort: a row left by a crashed process only keeps counting nothing. The
          // connection's owner closes it (the worker bootstrap, or the main thread).
          sql.dropOwnInserts.run(ownInserts)
          return undefined
      }
    }
  }

  // IMMEDIATE: the write lock is held from the first read, so no other connection inserts between
  // the two reads of 'inserts' and their difference is exactly this writer's inserts, recorded in
  // the same transaction as the rows. (It also spares a read-then-write transaction the busy error
  // SQLite gives, without waiting, when another writer committed in between.)
  const inTransaction = db.transaction((request: WriterRequest) => {
    const before = steps.metaValue("inserts")
    const stats = steps.handle(request)
    const inserted = steps.metaValue("inserts") - before
    if (inserted > 0) sql.addOwnInserts.run(ownInserts, inserted)
    return stats
  }).immediate
  // A read transaction: the keys and the count come from one snapshot.
  const readKeys = db.transaction((): KeysReply => {
    const packed = sql.packedKeys.get()
    const other = sql.otherKeys.all() as Array<string>
    const foreign = sql.foreign.get(ownInserts)
    return {
      // Its own buffer (not a slice of a shared one), so it can be transferred.
      packed: new TextEncoder().encode(typeof packed === "string" ? packed : ""),
      other,
      foreign: typeof foreign === "number" ? foreign : null
    }
  })
  return (request) => {
    try {
      if (request.op === "keys") return { id: request.id, keys: readKeys() }
      const stats = inTransaction(request)
      return stats === undefined ? { id: request.id } : { id: request.id, stats }
    } catch (error) {
      // (`reasonOf`, inlined: this body cannot import it.)
      return { id: request.id, error: error instanceof Error ? error.message : String(error) }
    }
  }
}

/** What the worker gets as `workerData`. */
interface WorkerSettings extends WriterSettings {
  readonly driverPath: string
  readonly path: string
  readonly busyTimeoutMs: number
}

/**
 * The worker's entry point: opens its own connection and answers requests with the writer.
 * SELF-CONTAINED like `sqliteCacheWriter` (serialised the same way).
 */
const workerMain = (load: (id: string) => unknown, writer: typeof sqliteCacheWriter): void => {
  const threads = load("node:worker_threads") as typeof import("node:worker_threads")
  const port = threads.parentPort!
  const settings = threads.workerData as WorkerSettings
  const Driver = load(settings.driverPath) as DatabaseConstructor
  const db = new Driver(settings.path, { timeout: settings.busyTimeoutMs })
  // Per connection (WAL mode itself is already set in the file by the main connection).
  db.pragma("synchronous = NORMAL")
  const handle = writer(db, settings)
  port.on("message", (request: WriterRequest) => {
    if (request.op === "close") {
      handle(request)
      db.close()
      port.postMessage({ id: request.id })
      port.close()
      return
    }
    const reply = handle(request)
    port.postMessage(reply, reply.keys === undefined ? [] : [reply.keys.packed.buffer as ArrayBuffer])
  })
}

/** Where the writer runs: see `SqliteCacheOptions.writer`. */
export type WriterPlacement = "worker" | "main" | "failing-worker"

export interface WriterChannel {
  /**
   * Sends a request; `onReply` gets its reply (on the in-process writer: before `send` returns).
   * Returns the request's id.
   */
  readonly send: (command: WriterCommand, onReply?: (reply: WriterReply) => void) => number
  /** Drops the callback of a request whose answer is no longer wanted (interruption). */
  readonly forget: (id: number) => void
  /** Closes the worker once it answered everything sent before; calls `done` then. */
  readonly close: (done: () => void) => void
}

/**
 * Starts the writer on a worker thread (or, if `placement` says so or no worker can run, on `db`
 * on this thread). `onFallback` is called once when writes move to this thread.
 */
export const startWriter = (options: {
  readonly db: Database
  readonly driverPath: string
  readonly path: string
  readonly busyTimeoutMs: number
  readonly settings: WriterSettings
  readonly placement: WriterPlacement
  readonly onFallback: (reason: string) => void
}): WriterChannel => {
  const callbacks = new Map<number, (reply: WriterReply) => void>()
  // Sent to the worker and not answered yet, in order: replayed if the worker dies.
  const unanswered = new Map<number, WriterRequest>()
  let nextId = 0
  let local: ((request: WriterRequest) => WriterReply) | undefined
  let worker: Worker | undefined
  let closing = false

  const deliver = (reply: WriterReply) => {
    const callback = callbacks.get(reply.id)
    callbacks.delete(reply.id)
    callback?.(reply)
  }
  const answerLocally = (request: WriterRequest) => {
    const reply = local!(request)
    // "close" closes no connection here (the main one is closed by its owner) and cannot fail.
    deliver(request.op === "close" ? { id: request.id } : reply)
  }
  const fallBack = (reason: string) => {
    if (local !== undefined) return
    worker = undefined
    try {
      local = sqliteCacheWriter(options.db, options.settings)
    } catch (error) {
      // Not expected (the main connection created the schema); every request then fails instead.
      const failure = reasonOf(error)
      local = (request) => ({ id: request.id, error: failure })
    }
    options.onFallback(reason)
    const replay = [...unanswered.values()]
    unanswered.clear()
    for (const request of replay) answerLocally(request)
  }

  if (options.placement === "main") {
    local = sqliteCacheWriter(options.db, options.settings)
  } else {
    const workerData: WorkerSettings = {
      ...options.settings,
      driverPath: options.driverPath,
      path: options.path,
      busyTimeoutMs: options.busyTimeoutMs
    }
    // `require` is not defined when eval'd code runs as a module (`--input-type=module` is
    // inherited by workers), a dynamic `import()` works either way.
    const source = `${
      options.placement === "failing-worker" ? "throw new Error('the writer worker failed to start (test)');" : ""
    }import("node:module").then((m) => (${workerMain.toString()})(m.createRequire(${
      JSON.stringify(options.driverPath)
    }), ${sqliteCacheWriter.toString()}));`
    try {
      const started = new Worker(source, { eval: true, workerData })
      // Only requests awaiting an answer keep the process alive (see `send`), never an idle worker.
      started.unref()
      started.on("message", (reply: WriterReply) => {
        unanswered.delete(reply.id)
        if (unanswered.size === 0) started.unref()
        deliver(reply)
      })
      started.on("error", (error) => fallBack(reasonOf(error)))
      // Node delivers a worker's last messages before "exit": anything unanswered then is lost.
      started.on("exit", (code) => {
        if (!closing || unanswered.size > 0) fallBack(`the writer thread exited (code ${code})`)
      })
      worker = started
    } catch (error) {
      fallBack(reasonOf(error))
    }
  }

  const send = (command: WriterCommand, onReply?: (reply: WriterReply) => void): number => {
    const request: WriterRequest = { ...command, id: ++nextId }
    if (onReply !== undefined) callbacks.set(request.id, onReply)
    if (worker === undefined) {
      answerLocally(request)
    } else {
      unanswered.set(request.id, request)
      if (unanswered.size === 1) worker.ref()
      worker.postMessage(request)
    }
    return request.id
  }

  return {
    send,
    forget: (id) => {
      callbacks.delete(id)
    },
    close: (done) => {
      closing = true
      send({ op: "close" }, () => {
        const running = worker
        if (running === undefined) done()
        else void running.terminate().finally(done)
      })
    }
  }
}
