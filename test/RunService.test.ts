import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, TestClock } from "effect"
import * as Registry from "../src/agents/registry.js"
import * as RunService from "../src/agents/RunService.js"
import * as TestLayer from "../src/layers/TestLayer.js"

// Each simulated call takes 1 s of TestClock time, so runs stay in flight until the test moves it.
const app = RunService.layer().pipe(
  Layer.provideMerge(TestLayer.layer({ env: { SIM_LATENCY_MS: "1000", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0" } })),
  Layer.provideMerge(Registry.layerBuiltin)
)

const summarize = (input: string, idempotencyKey?: string) => ({ workflow: "summarize", input, idempotencyKey })

describe("RunService", () => {
  it.scoped("concurrent requests with one idempotency key start one run", () =>
    Effect.gen(function*() {
      const runs = yield* RunService.RunService
      const started = yield* Effect.all(Array.from({ length: 5 }, () => runs.start(summarize("same text", "k-1"))), {
        concurrency: "unbounded"
      })
      expect(new Set(started.map((s) => s.id)).size).toBe(1)
      expect(started.filter((s) => !s.existing)).toHaveLength(1)
      expect(yield* runs.running).toBe(1)
    }).pipe(Effect.provide(app)))

  it.scoped("a run just started reads as running before its history is written; its report comes when it ends", () =>
    Effect.gen(function*() {
      const runs = yield* RunService.RunService
      const started = yield* runs.start(summarize("a text to summarize"))
      const shown = Option.getOrThrow(yield* runs.get(started.id))
      expect(shown).toMatchObject({ id: started.id, workflow: "summarize", status: "running", input: "a text to summarize" })
      const report = yield* Effect.fork(started.report)
      yield* TestClock.adjust("30 seconds")
      expect(Option.getOrThrow(yield* Fiber.join(report))).toMatchObject({ id: started.id, status: "succeeded" })
    }).pipe(Effect.provide(app)))

  it.scoped("cancel interrupts a running run, which then reads cancelled; a finished or unknown one is said so", () =>
    Effect.gen(function*() {
      const runs = yield* RunService.RunService
      const started = yield* runs.start(summarize("to be cancelled"))
      expect(yield* runs.cancel(started.id)).toBe("cancelled")
      expect(yield* started.report).toEqual(Option.none())
      expect(Option.getOrThrow(yield* runs.get(started.id)).status).toBe("cancelled")
      expect(yield* runs.cancel(started.id)).toBe("finished")
      expect(yield* runs.cancel("no-such-run")).toBe("unknown")
    }).pipe(Effect.provide(app)))

  it.scoped("unknown workflows and bad input are refused before anything runs", () =>
    Effect.gen(function*() {
      const runs = yield* RunService.RunService
      const unknown = yield* Effect.flip(runs.start({ workflow: "nope", input: "x" }))
      expect(unknown).toMatchObject({ _tag: "UnknownWorkflow", available: ["code", "explore", "research", "summarize"] })
      const bad = yield* Effect.flip(runs.start({ workflow: "summarize", input: 42 }))
      expect(bad._tag).toBe("WorkflowInputError")
      expect(yield* runs.running).toBe(0)
    }).pipe(Effect.provide(app)))

  it.scoped("drain lets runs finish within the grace, cancels the rest, and starts nothing after", () =>
    Effect.gen(function*() {
      const runs = yield* RunService.RunService
      const quick = yield* runs.start(summarize("quick one"))
      const slow = yield* runs.start({ workflow: "research", input: "a question with many steps" })
      const draining = yield* Effect.fork(runs.drain("3 seconds"))
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(draining)).toEqual({ finished: 1, cancelled: 1, suspended: 0 })
      expect(Option.getOrThrow(yield* quick.report).status).toBe("succeeded")
      expect(yield* slow.report).toEqual(Option.none())
      expect((yield* Effect.flip(runs.start(summarize("too late"))))._tag).toBe("ShuttingDown")
    }).pipe(Effect.provide(app)))
})
