/**
 * The SQLite LLM cache's writes on their way to the writer. `set` queues the entry and, within
 * `WRITE_BATCH_MS`, everything queued goes to the writer as one batch, written in one transaction
 * (with the buffered lookups, so eviction sees recent hits). Lookups see an entry from `set` until
 * the writer has acknowledged its batch, so a value is readable as soon as `set` returns. The
 * writer answers requests in order, so a reply to a request reflects every earlier `set`.
 */
import { Effect } from "effect"
import { CacheBackendError, reasonOf } from "../services/LlmCache.js"
import type { WriteEntry, WriterCommand, WriterReply } from "./sqliteCacheProtocol.js"
import type { UsageBuffer } from "./sqliteCacheUsage.js"
import type { WriterChannel } from "./sqliteCacheWriterThread.js"

/**
 * How long a `set` waits for others to share its batch. Answers that end apart (streams, calls in
 * flight at once) each cost a message to the writer thread, its transaction and the reply: a batch
 * per event-loop turn measured 0.1-0.2 ms more time to first token for the streams in flight
 * beside them (`bench/stream-ttft.ts`). Other processes see an entry that much later; this one sees
 * it at once.
 */
export const WRITE_BATCH_MS = 100

/** Touches sent per request, so no transaction holds the file's write lock for long. */
export const FLUSH_CHUNK = 500

/** A fault of the SQLite cache's `operation`, for `fromStore` to log. */
export const fault = (operation: string, cause: unknown) =>
  new CacheBackendError({ backend: "sqlite", operation, reason: reasonOf(cause), cause })

export interface WriteQueue {
  /** Entries set and not yet acknowledged by the writer: what lookups must find meanwhile. */
  readonly pending: ReadonlyMap<string, WriteEntry>
  /** Queues an entry for this turn's batch (and for lookups until the writer acknowledges it). */
  readonly enqueue: (entry: WriteEntry) => void
  /** Sends the queued batch now. */
  readonly sendUnsent: () => void
  /** Batches of entries sent to the writer so far. */
  readonly batches: () => number
  /**
   * A request to the writer and its reply. `command` runs when the request is sent, after the
   * queued batch (the writer answers in order, so the reply reflects every earlier `set`).
   */
  readonly request: (operation: string, command: () => WriterCommand) => Effect.Effect<WriterReply, CacheBackendError>
  /** Forgets the key's queued entry (it is being deleted: the writer deletes it after its batch). */
  readonly drop: (key: string) => void
  readonly clear: () => void
  /** The reason the last batch failed, if no `set` has reported it yet (taken). */
  readonly takeFailure: () => string | undefined
}

export const makeWriteQueue = (writer: WriterChannel, usage: UsageBuffer): WriteQueue => {
  const pending = new Map<string, WriteEntry>()
  const unsent = new Map<string, WriteEntry>()
  let scheduled: ReturnType<typeof setTimeout> | undefined
  let batches = 0
  // The reason the last batch failed; reported by the next `set` (a cache fault is a warning,
  // never a failed call).
  let writeFailure: string | undefined

  const sendUnsent = () => {
    if (scheduled !== undefined) clearTimeout(scheduled)
    scheduled = undefined
    if (unsent.size === 0) return
    const entries = [...unsent.values()]
    unsent.clear()
    batches += 1
    writer.send({ op: "write", entries, ...usage.take(FLUSH_CHUNK) }, (reply: WriterReply) => {
      if (reply.error !== undefined) writeFailure = reply.error
      // A newer `set` of the same key stays visible until its own batch is acknowledged.
      for (const entry of entries) {
        if (pending.get(entry.key) === entry) pending.delete(entry.key)
      }
    })
  }

  const takeFailure = () => {
    const reason = writeFailure
    writeFailure = undefined
    return reason
  }

  return {
    pending,
    enqueue: (entry) => {
      pending.set(entry.key, entry)
      unsent.set(entry.key, entry)
      // A timer outside any fiber: an Effect schedule would cost each set a fiber.
      scheduled ??= setTimeout(sendUnsent, WRITE_BATCH_MS)
    },
    sendUnsent,
    batches: () => batches,
    request: (operation, command) =>
      Effect.async((resume) => {
        const message = command()
        sendUnsent()
        const id = writer.send(message, (reply) =>
          resume(reply.error === undefined ? Effect.succeed(reply) : Effect.fail(fault(operation, reply.error))))
        return Effect.sync(() => writer.forget(id))
      }),
    drop: (key) => {
      pending.delete(key)
      unsent.delete(key)
    },
    clear: () => {
      pending.clear()
      unsent.clear()
    },
    takeFailure
  }
}
