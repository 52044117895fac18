/**
 * The SQLite LLM cache as a `CacheStore`, on the main thread: lookups read the file synchronously
 * on the main connection (one prepared point read, never a write), everything else goes to the
 * writer (`sqliteCacheWriterThread.ts`) in order. The private fast paths of a lookup, each tested
 * in `LlmCacheSqlite.test.ts`: an entry still on its way to the file is answered from memory
 * (`sqliteCacheWrites.ts`), a key the filter rules out is not read (`sqliteCacheFilter.ts`), and a
 * hit's recency is buffered rather than written (`sqliteCacheUsage.ts`).
 */
import { Clock, Effect, Option } from "effect"
import { type CacheBackendError, type CacheStore, entryBytes, type StoreStats } from "../services/LlmCache.js"
import type { KeyFilter } from "./keyFilter.js"
import { type Database, FOREIGN_INSERTS, ownInsertsRow } from "./sqliteCacheFile.js"
import { makeFilterInUse } from "./sqliteCacheFilter.js"
import { makeUsageBuffer, type UsageBuffer } from "./sqliteCacheUsage.js"
import type { WriterChannel } from "./sqliteCacheWriterThread.js"
import { fault, FLUSH_CHUNK, makeWriteQueue, type WriteQueue } from "./sqliteCacheWrites.js"

/**
 * What tests look at besides the store.
 * @internal
 */
export interface SqliteCacheInternals {
  /** Point reads of `llm_cache` that lookups made so far. */
  readonly pointReads: () => number
  /** Reads of the file's insert counts that lookups made so far (to check the key filter is current). */
  readonly foreignChecks: () => number
  /** The key filter lookups use now, if any. */
  readonly filter: () => KeyFilter | undefined
  /** Batches of entries sent to the writer so far. */
  readonly writeBatches: () => number
}

export interface OpenedStore {
  readonly store: CacheStore
  readonly internals: SqliteCacheInternals
  /** Sends up to `FLUSH_CHUNK` buffered touches and the counts to the writer; whether touches remain. */
  readonly flushTouches: Effect.Effect<boolean, CacheBackendError>
  /** Sends everything buffered, waits until the writer has answered all of it; its last failure. */
  readonly drain: Effect.Effect<string | undefined>
}

const noStats: StoreStats = { entries: 0, bytes: 0 }

export const makeStore = (db: Database, writer: WriterChannel, writerId: string): OpenedStore => {
  const selectValue = db.prepare("SELECT value FROM llm_cache WHERE key = ? AND expires_at > ?").pluck()
  const selectForeign = db.prepare(FOREIGN_INSERTS).pluck()
  const ownInserts = ownInsertsRow(writerId)
  const usage = makeUsageBuffer()
  let pointReads = 0
  let foreignChecks = 0
  const queue = makeWriteQueue(writer, usage)
  const filter = makeFilterInUse({
    writer,
    foreignInserts: () => {
      foreignChecks += 1
      return selectForeign.get(ownInserts)
    },
    pendingKeys: () => queue.pending.keys()
  })

  // The hit path: a map lookup, the filter, then one prepared point read; it never writes to the
  // file. Throws the driver's error on a fault.
  const lookup = (key: string, now: number): Option.Option<string> => {
    let value: unknown = queue.pending.get(key)?.value
    if (value === undefined && !filter.certainlyAbsent(key, now)) {
      pointReads += 1
      value = selectValue.get(key, now)
    }
    if (typeof value !== "string") {
      usage.miss()
      return Option.none()
    }
    usage.hit(key, now)
    return Option.some(value)
  }

  const store: CacheStore = {
    backend: "sqlite",
    get: (key) =>
      Effect.clockWith((clock) => {
        try {
          return Effect.succeed(lookup(key, clock.unsafeCurrentTimeMillis()))
        } catch (e) {
          return Effect.fail(fault("get", e))
        }
      }),
    set: (key, value) =>
      Effect.clockWith((clock) => {
        const at = clock.unsafeCurrentTimeMillis()
        // Pending first: a filter requested by `added` must count this key among those still to come.
        queue.enqueue({ key, value, bytes: entryBytes(key, value), at })
        filter.added(key, at)
        const reason = queue.takeFailure()
        return reason === undefined ? Effect.void : Effect.fail(fault("set", reason))
      }),
    delete: (key) =>
      Effect.asVoid(queue.request("delete", () => {
        // Gone for lookups at once, even if its batch is on its way: the writer deletes after it.
        usage.forget(key)
        queue.drop(key)
        return { op: "delete", key }
      })),
    stats: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.map(
        queue.request("stats", () => ({ op: "stats", now, ...usage.take(Number.POSITIVE_INFINITY) })),
        (reply) => reply.stats ?? noStats
      )),
    clear: Effect.asVoid(queue.request("clear", () => {
      usage.clear()
      queue.clear()
      return { op: "clear" }
    }))
  }

  return {
    store,
    internals: {
      pointReads: () => pointReads,
      foreignChecks: () => foreignChecks,
      filter: filter.current,
      writeBatches: queue.batches
    },
    flushTouches: Effect.suspend(() =>
      usage.any()
        ? Effect.map(queue.request("touch", () => ({ op: "touch", ...usage.take(FLUSH_CHUNK) })), usage.anyTouches)
        : Effect.succeed(false)
    ),
    drain: drain(writer, queue, usage)
  }
}

/** Sends everything buffered and closes the writer once it answered; the first failure, if any. */
const drain = (writer: WriterChannel, queue: WriteQueue, usage: UsageBuffer): Effect.Effect<string | undefined> =>
  Effect.async((resume) => {
    let failure: string | undefined
    queue.sendUnsent()
    while (usage.any()) {
      writer.send({ op: "touch", ...usage.take(FLUSH_CHUNK) }, (reply) => {
        failure ??= reply.error
      })
    }
    writer.close(() => resume(Effect.succeed(failure ?? queue.takeFailure())))
  })
