/**
 * A fault injector around a real run-history store: the writes go to the store underneath
 * (SQLite in memory, by default) unless the test has switched the store "down" or marked an event
 * as poison. Reads always reach the real store.
 */
import { Clock, Effect, Layer } from "effect"
import * as RunHistorySqlite from "../../src/layers/RunHistorySqlite.js"
import { RunHistory, RunHistoryError, type RunHistoryService } from "../../src/services/RunHistory.js"
import type { WorkflowEvent } from "../../src/services/WorkflowEvents.js"

/** What the store does now, and what it saw. Tests change the first three fields at will. */
export interface Faults {
  /** While true every write fails: an outage. */
  down: boolean
  /** How a write fails while down: a typed failure, or a defect (as a failed COMMIT gives). */
  kind: "fail" | "die"
  /** Events the store refuses, alone or in a batch, while it writes the others. */
  poison: (event: WorkflowEvent) => boolean
  /** Clock time (ms) of every `recordAll` call, failed or not. */
  readonly batchCalls: Array<number>
  /** Every event that reached the store, in the order it first landed. */
  readonly landed: Array<WorkflowEvent>
}

/** A store that works, until told otherwise. */
export const makeFaults = (): Faults => ({ down: false, kind: "fail", poison: () => false, batchCalls: [], landed: [] })

/** The reason every injected failure gives. */
export const outageReason = "SQLITE_BUSY: database is locked"

const refuse = (faults: Faults, reason: string) =>
  faults.kind === "die"
    ? Effect.die(new Error(`COMMIT failed: ${reason}`))
    : Effect.fail(new RunHistoryError({ operation: "record", reason }))

/** `base` (default: an in-memory SQLite history) with the faults of `faults` injected on writes. */
export const faultyHistory = (
  faults: Faults,
  base: Layer.Layer<RunHistory, RunHistoryError> = RunHistorySqlite.layerMemory
): Layer.Layer<RunHistory, RunHistoryError> =>
  Layer.effect(
    RunHistory,
    Effect.map(RunHistory, (real): RunHistoryService => {
      const seen = new Set<WorkflowEvent>()
      const landed = (events: ReadonlyArray<WorkflowEvent>) => {
        for (const event of events) {
          if (seen.has(event)) continue
          seen.add(event)
          faults.landed.push(event)
        }
      }
      const write = (events: ReadonlyArray<WorkflowEvent>, store: Effect.Effect<void, RunHistoryError>) => {
        if (faults.down) return refuse(faults, outageReason)
        if (events.some(faults.poison)) return refuse(faults, "value out of range for type bigint")
        return Effect.tap(store, () => landed(events))
      }
      return {
        ...real,
        record: (event) => write([event], real.record(event)),
        recordAll: (events) =>
          Effect.zipRight(
            Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => faults.batchCalls.push(now))),
            write(events, real.recordAll(events))
          )
      }
    })
  ).pipe(Layer.provide(base))
