/**
 * The SQLite LLM cache's key filter in use: a Bloom filter (`keyFilter.ts`) that answers "certainly
 * not in the file" for a miss without the point read, which was the largest cost left on the event
 * loop (15-20 µs measured with 1,000 calls in flight).
 *
 * The first lookup asks for it (so `cache stats` or `clear` never scan the file), and the writer
 * reads its content from one snapshot of the file: every key (expired ones too: an upsert can
 * revive one without inserting a row) and `foreign`, the number of rows other writers ever inserted
 * (exact: the file counts every insert with a trigger, each writer its own in the same
 * transaction). Keys this cache sets are added at once (those set while one is being built, when it
 * arrives). The first lookup of each event-loop turn that the filter answers reads `foreign` again,
 * one small read (a key the filter does not rule out is read anyway, so hits never pay for it); if
 * it moved, another process (or another cache on the file) inserted rows the filter may lack: it is
 * dropped, lookups read the file, and a new one is built (at most one at a time, at most every
 * 10 s; twice as large within 0.1 s when sets fill it beyond its capacity). Deletes and evictions
 * leave stale positives, which only cost a read. The guarantee: a miss sees every entry committed to the file before the
 * current event-loop turn began (exactly: before the turn's first lookup the filter answered), by
 * any process.
 */
import { performance } from "node:perf_hooks"
import { KeyFilter } from "./keyFilter.js"
import type { KeysReply } from "./sqliteCacheProtocol.js"
import type { WriterChannel } from "./sqliteCacheWriterThread.js"

/** The key filter is rebuilt (a scan of every key, on the writer) at most this often. */
const FILTER_REBUILD_INTERVAL_MS = 10_000
/** The same for a filter this cache's own sets outgrew (a short wait still spaces out retries). */
const FULL_FILTER_REBUILD_INTERVAL_MS = 100
/**
 * How long a new filter is filled per event-loop turn, in steps of 1024 keys (~0.2 ms measured;
 * the first, before the JIT, up to ~1.5 ms): a file of 500k keys takes ~85 ms.
 */
const FILTER_BUILD_SLICE_MS = 2

/**
 * A new filter with every key of the writer's snapshot and `added`, filled a slice per event-loop
 * turn (so a large file does not stall lookups); `done` gets it once complete. Timed slices and
 * `setImmediate` rather than a fiber: it starts in the writer's reply, outside any fiber.
 */
const fill = (keys: KeysReply, added: ReadonlyArray<string>, done: (filter: KeyFilter) => void): void => {
  const next = new KeyFilter(2 * (keys.packed.length / 64 + keys.other.length + added.length))
  let offset = 0
  const addChunk = () => {
    const until = performance.now() + FILTER_BUILD_SLICE_MS
    do offset = next.addConcatenated(keys.packed, offset, 1024)
    while (offset + 64 <= keys.packed.length && performance.now() < until)
    if (offset + 64 <= keys.packed.length) {
      setImmediate(addChunk)
      return
    }
    for (const key of keys.other) next.add(key)
    // `added` is read only now: keys set while the filter was filled are in it too.
    for (const key of added) next.add(key)
    done(next)
  }
  addChunk()
}

export interface FilterInUse {
  /** Whether `key` is certainly not in the file (see the header); may ask for a new filter. */
  readonly certainlyAbsent: (key: string, now: number) => boolean
  /** A key this cache set: in the filter from now on. */
  readonly added: (key: string, now: number) => void
  /** The filter lookups use now, if any (for tests). */
  readonly current: () => KeyFilter | undefined
}

export const makeFilterInUse = (options: {
  readonly writer: WriterChannel
  /** `FOREIGN_INSERTS` for this writer, on the main connection. */
  readonly foreignInserts: () => unknown
  /** Keys set and not yet acknowledged by the writer. */
  readonly pendingKeys: () => Iterable<string>
}): FilterInUse => {
  let filter: KeyFilter | undefined
  let filterForeign = 0
  // Whether this turn's lookups found the filter current already; reset in the next setImmediate
  // phase (an event-loop turn is not something Effect's scheduler exposes).
  let checked = false
  const endTurn = () => {
    checked = false
  }
  // While a filter is being built: the keys pending when it was requested and those set since.
  let setWhileBuilding: Array<string> | undefined
  let lastBuildAt = Number.NEGATIVE_INFINITY

  /**
   * Asks the writer for the file's keys, unless it was asked less than the interval ago. A filter
   * this cache's own sets outgrew (`full`) waits far less: past its capacity its false positives
   * climb towards 100 % (measured: 23,428 of 24,000 misses read the file while a filter sized for
   * 1,024 keys waited out 10 s), and each rebuild doubles the capacity, so these scans stay
   * proportional to the keys set.
   */
  const request = (now: number, full = false) => {
    const interval = full ? FULL_FILTER_REBUILD_INTERVAL_MS : FILTER_REBUILD_INTERVAL_MS
    // (A clock set back does not hold rebuilds off until it catches up.)
    const recent = now >= lastBuildAt && now - lastBuildAt < interval
    if (setWhileBuilding !== undefined || recent) return
    lastBuildAt = now
    // Those already sent are written before the writer's snapshot; the unsent ones after it.
    const added = [...options.pendingKeys()]
    setWhileBuilding = added
    options.writer.send({ op: "keys" }, (reply) => {
      const keys = reply.keys
      // Failed (or the file does not count inserts): lookups keep reading the file.
      if (keys === undefined || keys.foreign === null) {
        setWhileBuilding = undefined
        return
      }
      const foreign = keys.foreign
      fill(keys, added, (next) => {
        // Keys set from now on go into it directly.
        setWhileBuilding = undefined
        filter = next
        filterForeign = foreign
        // Its snapshot may be older than this turn's check of the filter it replaces.
        checked = false
      })
    })
  }

  return {
    certainlyAbsent: (key, now) => {
      if (filter === undefined) {
        request(now)
        return false
      }
      if (filter.mightContain(key)) return false
      if (!checked) {
        if (options.foreignInserts() !== filterForeign) {
          filter = undefined
          request(now)
          return false
        }
        checked = true
        setImmediate(endTurn)
      }
      return true
    },
    added: (key, now) => {
      setWhileBuilding?.push(key)
      if (filter === undefined) return
      filter.add(key)
      // Past its capacity it still works, with more false positives: a larger one is built.
      if (filter.count > filter.capacity) request(now, true)
    },
    current: () => filter
  }
}
