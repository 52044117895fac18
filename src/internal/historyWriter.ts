/**
 * The recorder's writer: lands the backlog in the history through any outage of the store.
 *
 * A pass writes the held batch (topped up from the backlog) in one transaction, tried twice. When
 * that fails, it writes the events one by one, in order, holding back the later events of any run whose event
 * failed, so a run's events never land out of order; after `probeLimit` failures in a row it stops
 * trying. Then it tells the two failures apart:
 * - an outage: nothing could be written, and re-writing the last event written (idempotent) fails
 *   too. The pass writes nothing and is retried on the `retry` schedule; the outage is logged once
 *   when it starts and once when writing works again (how long, how many events waited).
 * - a poison event: it fails while the store takes other writes. After `poisonStrikes` such
 *   failures it is skipped with a warning naming its run, so one bad event cannot block the
 *   history forever.
 *
 * Every store call is run to its `Exit`, so a defect (a COMMIT that failed inside `withTransaction`)
 * is one more failed write, never the end of the writer.
 */
import { Cause, Clock, Data, Effect, Exit, Option, type Schedule } from "effect"
import type { RunHistoryError, RunHistoryService } from "../services/RunHistory.js"
import type { WorkflowEvent } from "../services/WorkflowEvents.js"
import type { Backlog, Entry } from "./historyBacklog.js"

/** Tuning of the writer. */
export interface WriterOptions {
  /** Events per transaction at most. */
  readonly batchSize: number
  /** The delays between passes that wrote nothing. */
  readonly retry: Schedule.Schedule<unknown, unknown>
  /** Failures while others write after which an event is skipped. */
  readonly poisonStrikes: number
  /** Failed writes in a row after which a one-by-one pass stops trying. */
  readonly probeLimit: number
}

/** The writer of one recorder. */
export interface Writer {
  /** Writes until the backlog is empty, retrying for as long as it takes. */
  readonly drain: Effect.Effect<void>
}

/** A pass that wrote nothing; retried after the schedule's delay. */
class Stalled extends Data.TaggedError("Stalled")<{ readonly reason: string }> {}

interface Held {
  readonly entry: Entry
  strikes: number
}

const reasonOf = (cause: Cause.Cause<RunHistoryError>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return failure.value.reason
  const squashed = Cause.squash(cause)
  return squashed instanceof Error ? squashed.message : String(squashed)
}

/** The one warning when an outage starts and the one line when it ends. */
const makeOutageReport = (backlog: Backlog) => {
  let outage: { readonly since: number } | undefined
  return {
    started: (reason: string) =>
      Effect.gen(function*() {
        if (outage !== undefined) return
        outage = { since: yield* Clock.currentTimeMillis }
        const waiting = yield* backlog.unsettled
        yield* Effect.logWarning(
          `Run history: cannot write (${reason}); ${waiting} event(s) are kept in memory and retried with backoff`
        )
      }),
    /** `writtenNow`: events of this pass already settled, counted among those that waited. */
    ended: (writtenNow: number) =>
      Effect.gen(function*() {
        if (outage === undefined) return
        const seconds = ((yield* Clock.currentTimeMillis) - outage.since) / 1000
        outage = undefined
        const waited = (yield* backlog.unsettled) + writtenNow
        yield* Effect.logInfo(`Run history: writing again after ${seconds.toFixed(1)} s; ${waited} event(s) waited`)
      })
  }
}

/** A writer of `backlog` into `history`. */
export const make = (history: RunHistoryService, backlog: Backlog, options: WriterOptions): Writer => {
  let held: Array<Held> = []
  let lastWritten: WorkflowEvent | undefined
  const outage = makeOutageReport(backlog)

  /** Whether the store takes writes: the last event written, written again (a no-op by design). */
  const probe = Effect.suspend(() =>
    lastWritten === undefined ? Effect.succeed(false) : Effect.map(Effect.exit(history.record(lastWritten)), Exit.isSuccess)
  )

  const skipPoison = (failed: ReadonlyArray<Held>, reason: string) =>
    Effect.gen(function*() {
      const poison = failed.filter((h) => ++h.strikes >= options.poisonStrikes)
      if (poison.length === 0) return false
      held = held.filter((h) => !poison.includes(h))
      yield* backlog.settle(poison.map((h) => h.entry), true)
      for (const { entry } of poison) {
        yield* Effect.logWarning(
          `Run history: skipped a ${entry.event._tag} event of run ${entry.runId} that the store keeps refusing (${reason}); the run is incomplete in the history`
        ).pipe(Effect.annotateLogs({ runId: entry.runId }))
      }
      return true
    })

  const oneByOne = (batchReason: string) =>
    Effect.gen(function*() {
      const blocked = new Set<string>()
      const failed: Array<Held> = []
      const written: Array<Entry> = []
      let inARow = 0
      let reason = batchReason
      for (const h of held) {
        if (inARow >= options.probeLimit || blocked.has(h.entry.runId)) continue
        const exit = yield* Effect.exit(history.record(h.entry.event))
        if (Exit.isSuccess(exit)) {
          written.push(h.entry)
          lastWritten = h.entry.event
          inARow = 0
        } else {
          inARow += 1
          reason = reasonOf(exit.cause)
          blocked.add(h.entry.runId)
          failed.push(h)
        }
      }
      held = held.filter((h) => !written.includes(h.entry))
      yield* backlog.settle(written)
      if (written.length === 0 && !(yield* probe)) {
        yield* outage.started(reason)
        return yield* new Stalled({ reason })
      }
      yield* outage.ended(written.length)
      const skipped = yield* skipPoison(failed, reason)
      // The store writes but this run's head event does not land yet: wait before trying again.
      if (written.length === 0 && !skipped) return yield* new Stalled({ reason })
    })

  /** One pass; false when there was nothing to write. */
  const pass: Effect.Effect<boolean, Stalled> = Effect.gen(function*() {
    const fresh = yield* backlog.take(options.batchSize - held.length)
    for (const entry of fresh) held.push({ entry, strikes: 0 })
    if (held.length === 0) return false
    const events = held.map((h) => h.entry.event)
    // A dropped connection fails the one transaction it carried: try the batch again at once,
    // on a fresh connection, before going event by event.
    const batch = yield* Effect.exit(history.recordAll(events)).pipe(
      Effect.flatMap((first) => Exit.isSuccess(first) ? Effect.succeed(first) : Effect.exit(history.recordAll(events)))
    )
    if (Exit.isFailure(batch)) {
      yield* oneByOne(reasonOf(batch.cause))
      return true
    }
    const done = held
    held = []
    lastWritten = done[done.length - 1]!.entry.event
    yield* outage.ended(0)
    yield* backlog.settle(done.map((h) => h.entry))
    return true
  })

  return {
    drain: Effect.retry(pass, options.retry).pipe(
      // Only a schedule that ends gets here; the next pass starts it anew.
      Effect.catchTag("Stalled", () => Effect.succeed(true)),
      Effect.repeat({ while: (worked) => worked }),
      Effect.asVoid
    )
  }
}
