/**
 * The recorder's backlog: the events taken off the `WorkflowEvents` subscription and not yet
 * written to the history, with what `flush` and shutdown need to know about them.
 *
 * The subscription may be a sliding (dropping) buffer, so while the store is down the events must
 * not wait there: `pump` moves them into a bounded queue of our own (default 100 000 events). When
 * even that is full, newer events are dropped — never silently: a warning when it starts, and one
 * naming the runs that lost events when it ends.
 *
 * Each event taken gets a sequence number. The writer takes entries in that order and `settle`s
 * them once written (or given up); the watermark is the oldest number not settled, so "every event
 * published before this call is written" is "the watermark passed the last number pumped".
 */
import { Chunk, Effect, Option, Queue, Stream, SubscriptionRef } from "effect"
import type { Duration } from "effect"
import { isRecorded } from "../services/RunHistory.js"
import type { WorkflowEvent } from "../services/WorkflowEvents.js"

/** One event waiting to be written, with the run it belongs to. */
export interface Entry {
  readonly seq: number
  readonly runId: string
  readonly event: WorkflowEvent
}

/** See the module comment. */
export interface Backlog {
  /** Moves every event the subscription holds into the backlog; returns how many it moved. */
  readonly pump: Effect.Effect<number>
  /** The number of the last event pumped. */
  readonly published: Effect.Effect<number>
  /** Up to `max` of the oldest entries not yet handed to the writer. */
  readonly take: (max: number) => Effect.Effect<ReadonlyArray<Entry>>
  /** Entries that are written — or given up, when `lost` (their runs are then incomplete). */
  readonly settle: (entries: ReadonlyArray<Entry>, lost?: boolean) => Effect.Effect<void>
  /** Waits until every event up to `seq` is settled or `timeout` passes; true when they are. */
  readonly settledUpTo: (seq: number, timeout: Duration.DurationInput) => Effect.Effect<boolean>
  /** Events pumped and not settled. */
  readonly unsettled: Effect.Effect<number>
  /** Runs with events not settled, then runs that lost events, in the order first seen. */
  readonly incompleteRuns: Effect.Effect<ReadonlyArray<string>>
  /** Runs that lost events: dropped from a full backlog, or given up by the writer. */
  readonly lostRuns: Effect.Effect<ReadonlyArray<string>>
}

/** `ids` as "a, b, c (+7 more)", at most `max` of them. */
export const listIds = (ids: ReadonlyArray<string>, max = 10): string =>
  ids.slice(0, max).join(", ") + (ids.length > max ? ` (+${ids.length - max} more)` : "")

const runOf = (event: WorkflowEvent): string => ("runId" in event && event.runId !== undefined ? event.runId : "")

/**
 * The warnings of a full backlog: one when events start being dropped (naming the first run hit),
 * one when a pump drops nothing again, naming every run that lost events meanwhile.
 */
const makeDropReport = (capacity: number) => {
  let episode: { count: number; readonly runs: Set<string> } | undefined
  let droppedNow = 0
  let firstRun = ""
  return {
    dropped: (runId: string) => {
      if (droppedNow++ === 0) firstRun = runId
      episode ??= { count: 0, runs: new Set() }
      episode.count += 1
      episode.runs.add(runId)
    },
    /** Called once per pump, after its events. */
    pumped: Effect.suspend(() => {
      const now = droppedNow
      droppedNow = 0
      if (now > 0 && episode?.count === now) {
        return Effect.logWarning(
          `Run history: its backlog is full (${capacity} events waiting to be written); newer events are dropped until it catches up`
        ).pipe(Effect.annotateLogs({ runId: firstRun }))
      }
      if (now > 0 || episode === undefined) return Effect.void
      const ended = episode
      episode = undefined
      return Effect.logWarning(
        `Run history: dropped ${ended.count} event(s) while its backlog was full; these runs are incomplete in the history: ${
          listIds([...ended.runs])
        }`
      )
    })
  }
}

/** A backlog fed from `subscription`, holding at most `capacity` events. */
export const make = (
  subscription: Queue.Dequeue<WorkflowEvent>,
  capacity: number
): Effect.Effect<Backlog> =>
  Effect.gen(function*() {
    const pending = yield* Queue.dropping<Entry>(Math.max(1, capacity))
    const watermark = yield* SubscriptionRef.make(1)
    const pumpLock = yield* Effect.makeSemaphore(1)
    const drops = makeDropReport(capacity)
    let published = 0
    let lastTaken = 0
    /** Handed to the writer, not settled; a Map keeps them in sequence order. */
    const inFlight = new Map<number, Entry>()
    const unwritten = new Map<string, number>()
    const lost = new Set<string>()

    const count = (runId: string, delta: number) => {
      const n = (unwritten.get(runId) ?? 0) + delta
      if (n > 0) unwritten.set(runId, n)
      else unwritten.delete(runId)
    }

    const updateWatermark = Effect.suspend(() => {
      const oldest = inFlight.size > 0 ? inFlight.keys().next().value! : lastTaken + 1
      return SubscriptionRef.set(watermark, oldest)
    })

    const pumpOnce = Effect.gen(function*() {
      const events = Chunk.toReadonlyArray(yield* Queue.takeAll(subscription))
      for (const event of events) {
        if (!isRecorded(event)) continue
        const entry: Entry = { seq: published + 1, runId: runOf(event), event }
        if (yield* Queue.offer(pending, entry)) {
          published = entry.seq
          count(entry.runId, 1)
        } else {
          drops.dropped(entry.runId)
          lost.add(entry.runId)
        }
      }
      yield* drops.pumped
      return events.length
    })

    return {
      // Uninterruptible: an event taken off the subscription is always in the backlog afterwards.
      pump: pumpLock.withPermits(1)(Effect.uninterruptible(pumpOnce)),
      published: Effect.sync(() => published),
      take: (max) =>
        Effect.flatMap(Queue.takeUpTo(pending, Math.max(0, max)), (chunk) =>
          Effect.sync(() => {
            const entries = Chunk.toReadonlyArray(chunk)
            for (const entry of entries) {
              inFlight.set(entry.seq, entry)
              lastTaken = entry.seq
            }
            return entries
          })),
      settle: (entries, isLost = false) =>
        Effect.suspend(() => {
          for (const entry of entries) {
            if (!inFlight.delete(entry.seq)) continue
            count(entry.runId, -1)
            if (isLost) lost.add(entry.runId)
          }
          return updateWatermark
        }),
      settledUpTo: (seq, timeout) =>
        watermark.changes.pipe(
          Stream.filter((oldest) => oldest > seq),
          Stream.runHead,
          // Interruptible even inside a finalizer, or the timeout would wait for it to end.
          Effect.interruptible,
          Effect.timeoutOption(timeout),
          Effect.map((found) => Option.isSome(Option.flatten(found)))
        ),
      unsettled: Effect.sync(() => {
        let n = 0
        for (const k of unwritten.values()) n += k
        return n
      }),
      incompleteRuns: Effect.sync(() => [...new Set([...unwritten.keys(), ...lost])]),
      lostRuns: Effect.sync(() => [...lost])
    }
  })
