/**
 * The handler of a durable run (`LocalRuns.execute`) hands the engine a finished run only once
 * the history holds its end: the engine never executes a run it keeps as done again, so a worker
 * killed between the two would otherwise leave the run `running` in the history for good. The
 * store is the real SQLite history (in memory) behind a fault injector; time is the `TestClock`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option, Schema, TestClock } from "effect"
import * as DurableRuns from "../src/agents/durableRuns.js"
import * as Registry from "../src/agents/registry.js"
import * as Workflow from "../src/agents/Workflow.js"
import * as RunHistoryRecorder from "../src/layers/RunHistoryRecorder.js"
import * as WorkflowEventsPubSub from "../src/layers/WorkflowEventsPubSub.js"
import { isRecorded, RunHistory } from "../src/services/RunHistory.js"
import * as Fake from "./support/FakeLanguageModel.js"
import { type Faults, faultyHistory, makeFaults } from "./support/faultyHistory.js"
import { runEvents, twoSteps } from "./support/historyEvents.js"

const echo = Workflow.make("echo", "Say the input back", Schema.String, (text) => Effect.succeed(`echo: ${text}`))

const statusOf = (runId: string) =>
  Effect.flatMap(RunHistory, (h) => h.getRun(runId)).pipe(Effect.map(Option.map((run) => run.status)))

/** Moves the clock `ms` forward in 100 ms steps, letting every woken fiber run at each step. */
const elapse = (ms: number) =>
  Effect.forEach(Array.from({ length: Math.ceil(ms / 100) }), () => TestClock.adjust(Duration.millis(100)), {
    discard: true
  })

/** The run handler over the recorder, a history that fails when `faults` say so, and `echo`. */
const appWith = (faults: Faults) =>
  DurableRuns.layerLocalRuns.pipe(
    Layer.provideMerge(RunHistoryRecorder.layer),
    Layer.provideMerge(Layer.mergeAll(Fake.layer({ respond: () => Effect.succeed("") }), faultyHistory(faults), Registry.layer([echo]))),
    Layer.provideMerge(WorkflowEventsPubSub.layer)
  )

describe("a durable run's handler", () => {
  it.effect("returns a finished run to the engine only after the history has written its end", () => {
    const faults = makeFaults()
    const app = appWith(faults)
    return Effect.gen(function*() {
      const local = yield* DurableRuns.LocalRuns
      faults.down = true
      const handler = yield* Effect.fork(local.execute({ runId: "r-1", workflow: "echo", input: "hi" }))
      yield* elapse(3_000)
      // The run itself is over, but its end is not in the history yet: the engine must not have it.
      expect(yield* local.running).toBe(0)
      expect(Option.isNone(yield* Fiber.poll(handler))).toBe(true)
      faults.down = false
      yield* elapse(6_000)
      expect(yield* Fiber.join(handler)).toBe("succeeded")
      expect(yield* statusOf("r-1")).toEqual(Option.some("succeeded"))
    }).pipe(
      // Whatever failed above, the store comes back so the recorder can drain as the layer closes.
      Effect.ensuring(Effect.zipRight(Effect.sync(() => (faults.down = false)), elapse(10_000))),
      Effect.provide(app)
    )
  })

  it.effect("does not execute again a run whose end the history has: its worker died before the engine kept it", () =>
    Effect.gen(function*() {
      const local = yield* DurableRuns.LocalRuns
      const history = yield* RunHistory
      const ended = runEvents({ runId: "r-2", workflow: "echo", start: 1_000, status: "failed", steps: twoSteps })
      yield* history.recordAll(ended.filter(isRecorded))
      const before = (yield* history.eventsAfter({ after: 0, limit: 1_000 })).length
      // Executed, echo would succeed: the history's outcome is what the engine gets, and nothing runs.
      expect(yield* local.execute({ runId: "r-2", workflow: "echo", input: "hi" })).toBe("failed")
      yield* elapse(1_000)
      expect((yield* history.eventsAfter({ after: 0, limit: 1_000 })).length).toBe(before)
      expect(yield* statusOf("r-2")).toEqual(Option.some("failed"))
    }).pipe(Effect.provide(appWith(makeFaults()))))

  it.effect("a run executed again after its worker died counts its duration from its first start", () =>
    Effect.gen(function*() {
      const local = yield* DurableRuns.LocalRuns
      const history = yield* RunHistory
      // The first execution started at 0 and got no further than its start.
      const started = runEvents({ runId: "r-3", workflow: "echo", start: 0, status: "succeeded", steps: [], finish: false })
      yield* history.recordAll(started.filter(isRecorded))
      yield* TestClock.adjust(Duration.minutes(2))
      expect(yield* local.execute({ runId: "r-3", workflow: "echo", input: "hi" })).toBe("succeeded")
      yield* elapse(1_000)
      const run = Option.getOrThrow(yield* history.getRun("r-3"))
      expect(run.startedAt).toBe(0)
      expect(run.durationMs).toBe(120_000)
    }).pipe(Effect.provide(appWith(makeFaults()))))
})
