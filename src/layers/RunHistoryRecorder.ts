/**
 * RunHistoryRecorder — writes the `WorkflowEvents` stream into the `RunHistory`, through outages
 * of the store.
 *
 * The subscription is taken when the layer is built, so every run started afterwards is seen from
 * its first event. Two fibers share the work:
 * - the pump moves what is published into the recorder's own backlog (`internal/historyBacklog.ts`),
 *   so a sliding subscription never drops events while the store is down; the backlog holds
 *   `backlogCapacity` events before it drops (and says which runs lost events). It sleeps until
 *   something is published, then waits `pollInterval` so a burst moves (and is written) together:
 *   an idle recorder schedules no timer, so a `TestClock.adjust` has nothing of ours to step through;
 * - the writer (`internal/historyWriter.ts`) writes the backlog in batches of up to `batchSize`
 *   events per transaction — 200 concurrent runs cost a few hundred commits, not one per event —
 *   retrying failed writes with exponential backoff capped at `retryCap`, in order, skipping only
 *   an event the store refuses while it takes others. One warning per outage, one line when it ends.
 *
 * Neither fiber ever blocks in `take` on the events (an interrupted `take` can swallow the event
 * being handed to it): the pump waits on a second subscription used only as a doorbell — losing
 * one of its events loses nothing — drains the first with `takeAll` and wakes the writer through
 * a latch.
 *
 * `flush` waits until what was published before it is written. Closing the scope stops the pump,
 * moves what is left into the backlog and lets the writer go on retrying for up to `drainTimeout`;
 * what is still unwritten then is named in one warning (the runs that may be missing or incomplete).
 */
import { Duration, Effect, Fiber, Layer, Queue, Schedule, type Scope } from "effect"
import { HistoryRecorder, type HistoryRecorderService, RunHistory } from "../services/RunHistory.js"
import { WorkflowEvents } from "../services/WorkflowEvents.js"
import * as Backlog from "../internal/historyBacklog.js"
import * as Writer from "../internal/historyWriter.js"

/** Tuning of the recorder. */
export interface RecorderOptions {
  /** How long after a publish its events are moved into the backlog, gathering a burst (default 100 ms). */
  readonly pollInterval?: Duration.DurationInput
  /** Events written per transaction at most (default 500). */
  readonly batchSize?: number
  /** How long closing the scope may spend writing what is still unwritten (default 10 s). */
  readonly drainTimeout?: Duration.DurationInput
  /** Events kept in memory while the store is down, before newer ones are dropped (default 100 000). */
  readonly backlogCapacity?: number
  /** The first delay before a failed write is retried; it doubles each time (default 100 ms). */
  readonly retryBase?: Duration.DurationInput
  /** The longest delay between retries (default 5 s). */
  readonly retryCap?: Duration.DurationInput
}

/** What the recorder offers while it runs. */
export interface Recorder extends HistoryRecorderService {
  /** Writes every event published so far; returns when they are in the history. */
  readonly drain: Effect.Effect<void>
}

/** Ids listed in a warning at most; the rest are counted. */
const namedRuns = 10

/** The one warning at exit about runs that may be missing or incomplete in the history, if any. */
const reportAtExit = (backlog: Backlog.Backlog, done: boolean, drainTimeout: Duration.Duration) =>
  Effect.gen(function*() {
    if (!done) {
      const runs = yield* backlog.incompleteRuns
      yield* Effect.logWarning(
        `Run history: gave up writing ${yield* backlog.unsettled} event(s) after ${
          Duration.format(drainTimeout)
        }; ${runs.length} run(s) may be missing or incomplete in the history: ${Backlog.listIds(runs, namedRuns)}`
      )
      return
    }
    const lost = yield* backlog.lostRuns
    if (lost.length > 0) {
      yield* Effect.logWarning(
        `Run history: ${lost.length} run(s) lost events and are incomplete in the history: ${
          Backlog.listIds(lost, namedRuns)
        }`
      )
    }
  })

/**
 * Subscribes to the events, marks runs left `running` by a dead process as `interrupted`, and
 * starts the pump and the writer; on scope close, drains the backlog. Never fails.
 */
export const make = (
  options: RecorderOptions = {}
): Effect.Effect<Recorder, never, WorkflowEvents | RunHistory | Scope.Scope> =>
  Effect.gen(function*() {
    const history = yield* RunHistory
    const events = yield* WorkflowEvents
    const pollInterval = Duration.decode(options.pollInterval ?? Duration.millis(100))
    const drainTimeout = Duration.decode(options.drainTimeout ?? Duration.seconds(10))
    const retry = Schedule.exponential(options.retryBase ?? Duration.millis(100)).pipe(
      Schedule.union(Schedule.spaced(options.retryCap ?? Duration.seconds(5)))
    )

    // Taken first: every event `subscription` holds was published after it, so it rang.
    const doorbell = yield* events.subscribe
    const subscription = yield* events.subscribe
    const backlog = yield* Backlog.make(subscription, options.backlogCapacity ?? 100_000)
    const writer = Writer.make(history, backlog, {
      batchSize: Math.max(1, options.batchSize ?? 500),
      retry,
      poisonStrikes: 3,
      probeLimit: 3
    })

    yield* history.markInterrupted.pipe(
      Effect.tap((n) => n > 0 ? Effect.logInfo(`Marked ${n} unfinished run(s) of a previous process as interrupted`) : Effect.void),
      Effect.catchAll((error) =>
        Effect.logWarning("Run history: could not mark interrupted runs").pipe(
          Effect.annotateLogs({ operation: error.operation, reason: error.reason })
        )
      )
    )

    const wake = yield* Effect.makeLatch(false)
    const pumpAndWake = Effect.flatMap(backlog.pump, (moved) => (moved > 0 ? wake.open : Effect.void))

    // Rings are cleared before pumping: an event published after the pump's `takeAll` rings again.
    const pumpAfterPublish = Queue.take(doorbell).pipe(
      Effect.zipRight(Effect.sleep(pollInterval)),
      Effect.zipRight(Queue.takeAll(doorbell)),
      Effect.zipRight(pumpAndWake)
    )
    const pumpFiber = yield* Effect.forkScoped(Effect.forever(pumpAfterPublish))
    // Closed before draining, so a wake-up that arrives while it drains is never missed.
    const writerFiber = yield* Effect.forkScoped(Effect.forever(
      wake.await.pipe(
        Effect.zipRight(wake.close),
        Effect.zipRight(writer.drain),
        Effect.catchAllDefect((defect) =>
          Effect.logError("Run history: the writer hit an unexpected error and goes on", defect).pipe(
            Effect.zipRight(wake.open),
            Effect.zipRight(Effect.sleep(pollInterval))
          )
        )
      )
    ))

    /** Waits until everything published so far is settled; true when it is within `timeout`. */
    const settle = (timeout: Duration.DurationInput) =>
      Effect.gen(function*() {
        yield* pumpAndWake
        const upTo = yield* backlog.published
        yield* wake.open
        return yield* backlog.settledUpTo(upTo, timeout)
      })

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(pumpFiber)
        const done = yield* settle(drainTimeout)
        yield* Fiber.interrupt(writerFiber)
        yield* reportAtExit(backlog, done, drainTimeout)
      })
    )

    return {
      drain: Effect.asVoid(settle(Duration.infinity)),
      // Runs that lost events are always reported: their history stays incomplete.
      flush: (timeout) =>
        Effect.flatMap(settle(timeout), (done) => (done ? backlog.lostRuns : backlog.incompleteRuns))
    }
  })

/** Records every workflow event into the `RunHistory` for the lifetime of the layer. */
export const layer: Layer.Layer<HistoryRecorder, never, WorkflowEvents | RunHistory> = Layer.scoped(HistoryRecorder, make())

/** `layer` with tuning (see `RecorderOptions`). */
export const layerWith = (options: RecorderOptions): Layer.Layer<HistoryRecorder, never, WorkflowEvents | RunHistory> =>
  Layer.scoped(HistoryRecorder, make(options))
