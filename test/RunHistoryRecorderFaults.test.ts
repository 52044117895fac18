/**
 * The recorder against a store that fails: outages, defects, poison events, a full backlog, a
 * sliding event bus and shutdown while the store is down. The store is the real SQLite history
 * (in memory) behind a fault injector (`support/faultyHistory.ts`); time is the `TestClock`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Logger, Option, Scope, TestClock } from "effect"
import * as RunHistoryRecorder from "../src/layers/RunHistoryRecorder.js"
import * as WorkflowEventsPubSub from "../src/layers/WorkflowEventsPubSub.js"
import { flush, type HistoryRecorder, isRecorded, RunHistory } from "../src/services/RunHistory.js"
import { type WorkflowEvent, WorkflowEvents } from "../src/services/WorkflowEvents.js"
import { type Faults, faultyHistory, makeFaults, outageReason } from "./support/faultyHistory.js"
import { runEvents, twoSteps } from "./support/historyEvents.js"

/** Bus + faulty history + recorder, in a scope closed by hand (closing = the process exiting). */
const openApp = (
  faults: Faults,
  options: RunHistoryRecorder.RecorderOptions = {},
  bus: Layer.Layer<WorkflowEvents> = WorkflowEventsPubSub.layer
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const app = RunHistoryRecorder.layerWith(options).pipe(
      Layer.provideMerge(Layer.merge(bus, faultyHistory(faults)))
    )
    const context = yield* Layer.buildWithScope(app, scope)
    const within = <A, E>(effect: Effect.Effect<A, E, WorkflowEvents | RunHistory | HistoryRecorder>) =>
      Effect.provide(effect, context)
    return { within, close: Scope.close(scope, Exit.void) }
  })

const publishAll = (events: ReadonlyArray<WorkflowEvent>) =>
  Effect.flatMap(WorkflowEvents, (bus) => Effect.forEach(events, bus.publish, { discard: true }))

/** Moves the clock `ms` forward in 100 ms steps, letting every woken fiber run at each step. */
const elapse = (ms: number) =>
  Effect.forEach(Array.from({ length: Math.ceil(ms / 100) }), () => TestClock.adjust(Duration.millis(100)), {
    discard: true
  })

const captureLogs = () => {
  const lines: Array<{ level: string; text: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, text: (Array.isArray(message) ? message : [message]).map(String).join(" ") })
  })
  return {
    lines,
    at: (level: string) => lines.filter((l) => l.level === level).map((l) => l.text),
    layer: Logger.replace(Logger.defaultLogger, logger)
  }
}

const run = (runId: string, start = 1_000) => runEvents({ runId, start, status: "succeeded", steps: twoSteps })

const statuses = Effect.flatMap(RunHistory, (h) => h.listRuns({ limit: 1_000 })).pipe(
  Effect.map((runs) => Object.fromEntries(runs.map((r) => [r.id, r.status])))
)

describe("RunHistoryRecorder when the store fails", () => {
  it.effect("an outage logs one warning when it starts and one line when writes work again; order is kept", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const faults = makeFaults()
      faults.down = true
      const app = yield* openApp(faults)
      const published = [...run("o-1"), ...run("o-2", 2_000)]
      const stored = published.filter(isRecorded).length
      yield* app.within(publishAll(published))
      yield* elapse(20_000)
      faults.down = false
      yield* elapse(5_000)

      expect(logs.at("WARN")).toEqual([
        `Run history: cannot write (${outageReason}); ${stored} event(s) are kept in memory and retried with backoff`
      ])
      expect(logs.at("INFO")).toEqual([
        expect.stringMatching(new RegExp(`^Run history: writing again after 2\\d\\.\\d s; ${stored} event\\(s\\) waited$`))
      ])
      // Exponential backoff from 100 ms, capped at 5 s.
      const passes = [...new Set(faults.batchCalls)] // a pass tries its batch twice at once
      const gaps = passes.slice(1).map((t, i) => t - passes[i]!)
      expect(gaps.slice(0, 6)).toEqual([100, 200, 400, 800, 1_600, 3_200])
      expect(gaps.slice(6).every((gap) => gap <= 5_000)).toBe(true)
      expect(faults.landed).toEqual(published.filter(isRecorded))
      expect(yield* app.within(statuses)).toEqual({ "o-1": "succeeded", "o-2": "succeeded" })
      yield* app.close
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a store that dies (a COMMIT failing as a defect) does not stop the writer", () =>
    Effect.gen(function*() {
      const faults = makeFaults()
      faults.down = true
      faults.kind = "die"
      const app = yield* openApp(faults)
      yield* app.within(publishAll(run("d-1")))
      yield* elapse(1_000)
      faults.down = false
      yield* elapse(1_000)
      yield* app.within(publishAll(run("d-2", 2_000)))
      yield* elapse(200)
      expect(yield* app.within(statuses)).toEqual({ "d-1": "succeeded", "d-2": "succeeded" })
      yield* app.close
    }))

  it.effect("an event refused while the others write is skipped, its run named, and no outage is reported", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const faults = makeFaults()
      const bad = run("p-1", 1_500)
      const refused = bad.find((e) => e._tag === "StepFinished")!
      faults.poison = (e) => e === refused
      const app = yield* openApp(faults)
      yield* app.within(publishAll([...run("ok-1"), ...bad, ...run("ok-2", 2_000)]))
      yield* elapse(1_000)

      expect(yield* app.within(statuses)).toEqual({ "ok-1": "succeeded", "p-1": "succeeded", "ok-2": "succeeded" })
      const detail = Option.getOrThrow(yield* app.within(Effect.flatMap(RunHistory, (h) => h.getRun("p-1"))))
      expect(detail.steps.map((s) => s.status)).toEqual(["running", "succeeded"]) // the refused finish is missing
      expect(logs.at("WARN")).toEqual([expect.stringMatching(/^Run history: skipped a StepFinished event of run p-1 /)])
      expect(yield* app.within(flush("1 second"))).toEqual(["p-1"])
      yield* app.close
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("flush returns at once when the store works, and names the unwritten runs when its timeout passes", () =>
    Effect.gen(function*() {
      const faults = makeFaults()
      const app = yield* openApp(faults)
      yield* app.within(publishAll(run("f-1")))
      // The clock never moves: only flush itself can get the run written.
      expect(yield* app.within(flush("1 second"))).toEqual([])
      expect(yield* app.within(statuses)).toEqual({ "f-1": "succeeded" })

      faults.down = true
      yield* app.within(publishAll([...run("f-2", 2_000), ...run("f-3", 3_000)]))
      const flushing = yield* Effect.fork(app.within(flush("2 seconds")))
      yield* elapse(2_000)
      expect([...(yield* Fiber.join(flushing))].sort()).toEqual(["f-2", "f-3"])

      faults.down = false
      const again = yield* Effect.fork(app.within(flush("10 seconds")))
      yield* elapse(5_000)
      expect(yield* Fiber.join(again)).toEqual([])
      yield* app.close
    }))
})

describe("RunHistoryRecorder: nothing dropped while the store is down", () => {
  it.effect("events keep coming through a sliding event bus: the recorder holds them until the store is back", () =>
    Effect.gen(function*() {
      const faults = makeFaults()
      faults.down = true
      const app = yield* openApp(faults, {}, WorkflowEventsPubSub.layerSliding(8))
      const ids = Array.from({ length: 10 }, (_, i) => `s-${i}`)
      for (const [i, id] of ids.entries()) {
        // Each run (13 events) arrives in chunks the 8-event bus holds until the next poll.
        const events = run(id, 1_000 * (i + 1))
        for (let at = 0; at < events.length; at += 6) {
          yield* app.within(publishAll(events.slice(at, at + 6)))
          yield* elapse(100)
        }
      }
      faults.down = false
      yield* elapse(6_000)
      const got = yield* app.within(statuses)
      expect(Object.keys(got).sort()).toEqual(ids)
      expect(Object.values(got).every((s) => s === "succeeded")).toBe(true)
      yield* app.close
    }))

  it.effect("when the backlog's bound is hit, newer events are dropped and the runs that lost events are named", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const faults = makeFaults()
      faults.down = true
      // Three runs' events to store at once, room for all but the last 7 (of run b-3).
      const perRun = run("b").filter(isRecorded).length
      const capacity = 3 * perRun - 7
      const app = yield* openApp(faults, { backlogCapacity: capacity })
      yield* app.within(publishAll([...run("b-1"), ...run("b-2", 2_000), ...run("b-3", 3_000)]))
      yield* elapse(200)
      yield* app.within(publishAll(run("b-4", 4_000)))
      yield* elapse(200)
      faults.down = false
      yield* elapse(6_000)

      expect(yield* app.within(statuses)).toEqual({ "b-1": "succeeded", "b-2": "succeeded", "b-3": "running", "b-4": "succeeded" })
      expect(logs.at("WARN")).toEqual([
        `Run history: its backlog is full (${capacity} events waiting to be written); newer events are dropped until it catches up`,
        `Run history: cannot write (${outageReason}); ${capacity} event(s) are kept in memory and retried with backoff`,
        "Run history: dropped 7 event(s) while its backlog was full; these runs are incomplete in the history: b-3"
      ])
      expect(yield* app.within(flush("1 second"))).toEqual(["b-3"])
      yield* app.close
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("RunHistoryRecorder at shutdown", () => {
  it.effect("closing while the store is down retries for the drain timeout, then names the runs that may be missing", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const faults = makeFaults()
      faults.down = true
      const app = yield* openApp(faults, { drainTimeout: Duration.seconds(3) })
      const ids = Array.from({ length: 12 }, (_, i) => `x-${String(i).padStart(2, "0")}`)
      yield* app.within(publishAll(ids.flatMap((id, i) => run(id, 1_000 + i))))
      const closing = yield* Effect.fork(app.close)
      yield* elapse(3_000)
      yield* Fiber.join(closing)
      const calls = faults.batchCalls.length
      expect(new Set(faults.batchCalls).size).toBeGreaterThanOrEqual(4) // 0, 0.1, 0.3, 0.7, 1.5 s: it kept trying
      expect(logs.at("WARN").at(-1)).toBe(
        `Run history: gave up writing ${ids.length * run("x").filter(isRecorded).length} event(s) after 3s; 12 run(s) may be missing or incomplete in the history: ${
          ids.slice(0, 10).join(", ")
        } (+2 more)`
      )
      yield* elapse(10_000)
      expect(faults.batchCalls.length).toBe(calls) // and then it stopped
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a store that comes back during the drain gets everything, and nothing is reported missing", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const faults = makeFaults()
      faults.down = true
      const app = yield* openApp(faults)
      yield* app.within(publishAll(run("late-1")))
      const closing = yield* Effect.fork(app.close)
      yield* elapse(1_000)
      faults.down = false
      yield* elapse(2_000)
      yield* Fiber.join(closing)
      expect(faults.landed.map((e) => e._tag)).toContain("WorkflowFinished")
      expect(logs.at("WARN").filter((l) => l.includes("missing"))).toEqual([])
    }).pipe(Effect.provide(logs.layer))
  })
})
