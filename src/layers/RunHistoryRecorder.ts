/**
 * RunHistoryRecorder — writes the `WorkflowEvents` stream into the `RunHistory`.
 *
 * The subscription is taken when the layer is built, so every run started afterwards is seen
 * from its first event. A background fiber writes what has been published in batches of up to
 * `batchSize` events per transaction: while a batch is being written the next one accumulates,
 * so 200 concurrent runs cost a few hundred commits rather than one per event.
 *
 * No event is lost on shutdown. Events are only taken off the subscription inside an
 * uninterruptible take-and-write step, so stopping the writer never drops a batch it holds; when
 * the scope closes, the writer is stopped and everything still queued is written (bounded by
 * `drainTimeout`). That is also why the writer polls an empty queue every `pollInterval` instead of
 * blocking in `take`: an interrupted `take` can swallow an event that was being handed to it.
 *
 * A failed write is logged and never stops the recorder: a failed batch is retried one event at a
 * time so one bad event cannot take its neighbours down with it.
 */
import { Chunk, Duration, Effect, Fiber, Layer, Queue, type Scope } from "effect"
import { HistoryRecorder, type HistoryRecorderService, isRecorded, RunHistory } from "../services/RunHistory.js"
import { type WorkflowEvent, WorkflowEvents } from "../services/WorkflowEvents.js"

/** Tuning of the recorder. */
export interface RecorderOptions {
  /** How long an idle writer waits before looking for events again (default 100 ms). */
  readonly pollInterval?: Duration.DurationInput
  /** Events written per transaction at most (default 500). */
  readonly batchSize?: number
  /** How long closing the scope may spend writing what is still queued (default 10 s). */
  readonly drainTimeout?: Duration.DurationInput
}

/** What the recorder offers while it runs. */
export interface Recorder extends HistoryRecorderService {
  /** Writes every event published so far; returns when they are in the history. */
  readonly drain: Effect.Effect<void>
}

/**
 * Subscribes to the events, marks runs left `running` by a dead process as `interrupted`, and
 * starts the writer; on scope close, drains the queue. Never fails.
 */
export const make = (
  options: RecorderOptions = {}
): Effect.Effect<Recorder, never, WorkflowEvents | RunHistory | Scope.Scope> =>
  Effect.gen(function*() {
    const history = yield* RunHistory
    const events = yield* WorkflowEvents
    const pollInterval = Duration.decode(options.pollInterval ?? Duration.millis(100))
    const batchSize = Math.max(1, options.batchSize ?? 500)
    const drainTimeout = Duration.decode(options.drainTimeout ?? Duration.seconds(10))

    const queue = yield* events.subscribe

    yield* history.markInterrupted.pipe(
      Effect.tap((n) => n > 0 ? Effect.logInfo(`Marked ${n} unfinished run(s) of a previous process as interrupted`) : Effect.void),
      Effect.catchAll((error) =>
        Effect.logWarning("Run history: could not mark interrupted runs").pipe(
          Effect.annotateLogs({ operation: error.operation, reason: error.reason })
        )
      )
    )

    const writeOneByOne = (batch: ReadonlyArray<WorkflowEvent>) =>
      Effect.gen(function*() {
        let failed = 0
        let reason = ""
        for (const event of batch) {
          const result = yield* Effect.either(history.record(event))
          if (result._tag === "Left") {
            failed += 1
            if (reason === "") reason = result.left.reason
          }
        }
        if (failed > 0) {
          yield* Effect.logWarning(`Run history: ${failed} of ${batch.length} event(s) could not be written`).pipe(
            Effect.annotateLogs({ operation: "record", reason })
          )
        }
      })

    const write = (batch: ReadonlyArray<WorkflowEvent>): Effect.Effect<void> =>
      batch.length === 0
        ? Effect.void
        : history.recordAll(batch).pipe(Effect.catchAll(() => writeOneByOne(batch)))

    // One writer at a time, so batches land in the order they were published.
    const lock = yield* Effect.makeSemaphore(1)

    /** Takes and writes one batch; returns how many events it took. Never interrupted midway. */
    const step: Effect.Effect<number> = lock.withPermits(1)(Effect.uninterruptible(
      Effect.flatMap(Queue.takeUpTo(queue, batchSize), (chunk) => {
        const batch = Chunk.toReadonlyArray(chunk).filter(isRecorded)
        return Effect.as(write(batch), chunk.length)
      })
    ))

    const drainAll: Effect.Effect<void> = Effect.repeat(step, { while: (taken) => taken > 0 }).pipe(Effect.asVoid)

    const writer = yield* Effect.forkScoped(Effect.forever(
      Effect.flatMap(step, (taken) => taken === 0 ? Effect.sleep(pollInterval) : Effect.yieldNow())
    ))

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(writer)
        const done = yield* Effect.timeout(drainAll, drainTimeout).pipe(Effect.option)
        if (done._tag === "None") {
          const left = yield* Queue.size(queue)
          yield* Effect.logWarning(`Run history: gave up writing ${left} event(s) at shutdown`)
        }
      })
    )

    return {
      drain: drainAll,
      flush: (timeout) =>
        Effect.timeout(drainAll, timeout).pipe(Effect.as<ReadonlyArray<string>>([]), Effect.orElseSucceed(() => ["<unknown>"]))
    }
  })

/** Records every workflow event into the `RunHistory` for the lifetime of the layer. */
export const layer: Layer.Layer<HistoryRecorder, never, WorkflowEvents | RunHistory> = Layer.scoped(HistoryRecorder, make())

/** `layer` with tuning (see `RecorderOptions`). */
export const layerWith = (options: RecorderOptions): Layer.Layer<HistoryRecorder, never, WorkflowEvents | RunHistory> =>
  Layer.scoped(HistoryRecorder, make(options))
