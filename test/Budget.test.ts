/**
 * Budgets that hold: a budgeted run's calls reserve their worst-case cost before they reach the
 * provider and settle with their actual cost after, so calls in flight together cannot overshoot;
 * a run whose calls cost more than their budget anyway does not report `succeeded`.
 *
 * The model is scripted (`ScriptedModel`) behind the real stack (`TestLayer`), priced as the
 * simulated models are ($0.5 / $1.5 per million tokens), and answers after 1 s on the `TestClock`,
 * so every admitted call is in flight while the others ask for room.
 */
import { LanguageModel } from "@effect/ai"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, type Duration, Effect, Either, Fiber, Layer, Option, Queue, Ref, Schema, TestClock } from "effect"
import * as Agent from "../src/agents/Agent.js"
import * as Workflow from "../src/agents/Workflow.js"
import * as TestLayer from "../src/layers/TestLayer.js"
import * as Budget from "../src/services/Budget.js"
import { costAt } from "../src/services/Pricing.js"
import { RunHistory } from "../src/services/RunHistory.js"
import * as WorkflowContext from "../src/services/WorkflowContext.js"
import { subscribe, type WorkflowEvent } from "../src/services/WorkflowEvents.js"
import * as ScriptedModel from "../src/testing/ScriptedModel.js"

/** The simulated models' made-up price. */
const price = { inputPerMillion: 0.5, outputPerMillion: 1.5 }
const OUTPUT_USD = 1.5 / 1e6
const costOf = (inputTokens: number, outputTokens: number) => costAt(price, { inputTokens, outputTokens })

const writer = Agent.make({
  name: "writer",
  instructions: "Write.",
  input: Schema.String,
  output: "text",
  settings: { maxOutputTokens: 1000 }
})

/** Writes every item at once; the first failure fails the run (and stops the others). */
const fanOut = Workflow.make("fan-out", "all at once", Schema.Array(Schema.String), (items) =>
  Workflow.parallel(items, (item) => writer.run(item), { concurrency: 10 }))

/** Writes every item at once and keeps going past refusals: each item's outcome. */
const tolerant = Workflow.make("tolerant", "all at once, refusals kept", Schema.Array(Schema.String), (items) =>
  Effect.forEach(items, (item) => Effect.either(writer.run(item)), { concurrency: "unbounded" }))

/** Writes the items one after another, keeping going past failures. */
const sequential = Workflow.make("sequential", "one after another", Schema.Array(Schema.String), (texts) =>
  Effect.forEach(texts, (text) => Effect.either(writer.run(text))))

/** Same-length items, so every call's estimate is the same. */
const items = (n: number) => Array.from({ length: n }, (_, i) => `item ${String(i).padStart(2, "0")}`)

/** `ScriptedModel` whose answers come after `latency` of (test) clock time. */
const slowScript = (steps: ReadonlyArray<ScriptedModel.Step>, latency: Duration.DurationInput = "1 second") =>
  Layer.effectContext(Effect.map(ScriptedModel.make(steps), ({ model, script }) => {
    const slow: LanguageModel.Service = {
      ...model,
      generateText: (options) => Effect.zipRight(Effect.sleep(latency), model.generateText(options))
    }
    return Context.make(LanguageModel.LanguageModel, slow).pipe(Context.add(ScriptedModel.Script, script))
  }))

const stack = (steps: ReadonlyArray<ScriptedModel.Step>, env: Record<string, string> = {}) =>
  Effect.provide(TestLayer.layer({ languageModel: slowScript(steps), env }))

/** Runs `effect` in a fiber, moving the TestClock a second at a time until it is done. */
const withClock = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 120 && Option.isNone(yield* Fiber.poll(fiber)); i++) yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

const answer = (usage = { inputTokens: 10, outputTokens: 5 }) => ScriptedModel.answer("written", usage)

/** What one call of `writer` reserves: its refusal under a budget too small for anything says. */
const estimateOfOneCall = Effect.gen(function*() {
  const outcomes = yield* withClock(tolerant.run(items(1), { maxCostUsd: 1e-9 }))
  const refused = outcomes[0]
  if (refused === undefined || Either.isRight(refused) || refused.left._tag !== "BudgetExceeded") {
    return yield* Effect.dieMessage("expected the call to be refused")
  }
  return refused.left.estimateUsd ?? 0
})

const drain = (queue: Queue.Dequeue<WorkflowEvent>) => Effect.map(Queue.takeAll(queue), Chunk.toReadonlyArray)

describe("reservations under concurrency", () => {
  it.scoped("3 concurrent calls under a $0.00001 budget: none fits its estimate, none reaches the provider, the run fails", () =>
    Effect.gen(function*() {
      const events = yield* subscribe
      const report = yield* withClock(fanOut.runReport(items(3), { maxCostUsd: 0.00001 }))
      expect(report.status).toBe("failed")
      expect(report.error?.tag).toBe("BudgetExceeded")
      expect(report.error?.message).toContain("leaves no room for agent writer's next call")
      expect(report.costUsd).toBe(0)
      expect(yield* ScriptedModel.calls).toBe(0)
      expect((yield* drain(events)).filter((e) => e._tag === "LlmCallStarted")).toHaveLength(0)
    }).pipe(stack([answer(), answer(), answer()])))

  it.scoped("10 concurrent calls with room for 2 estimates: 2 reach the provider, 8 are refused, spend stays within budget", () =>
    Effect.gen(function*() {
      const estimate = yield* estimateOfOneCall
      // 1000 output tokens at the output price, plus a short prompt.
      expect(estimate).toBeGreaterThan(1000 * OUTPUT_USD)
      expect(estimate).toBeLessThan(costOf(100, 1000))
      const events = yield* subscribe
      const maxCostUsd = 2.5 * estimate
      const report = yield* withClock(tolerant.runReport(items(10), { maxCostUsd }))
      const outcomes = report.output ?? []
      expect(outcomes.filter(Either.isRight)).toHaveLength(2)
      const refused = outcomes.filter(Either.isLeft).map((o) => o.left)
      expect(refused).toHaveLength(8)
      for (const error of refused) {
        expect(error).toMatchObject({ _tag: "BudgetExceeded", agent: "writer", spentUsd: 0, maxCostUsd })
        expect(error._tag === "BudgetExceeded" && error.reservedUsd).toBeCloseTo(2 * estimate, 12)
      }
      expect(yield* ScriptedModel.calls).toBe(2)
      expect((yield* drain(events)).filter((e) => e._tag === "LlmCallStarted")).toHaveLength(2)
      // Settled at the actual cost of 10 + 5 tokens each, not at the estimates.
      expect(report.costUsd).toBeCloseTo(2 * costOf(10, 5), 12)
      expect(report.costUsd).toBeLessThanOrEqual(maxCostUsd)
      expect(report.status).toBe("succeeded")
    }).pipe(stack([answer(), answer()])))

  it.effect("100 fibers reserving at once: exactly as many holds as the budget has room for", () =>
    Effect.gen(function*() {
      const budget = yield* Budget.make(0.0105, "r1", WorkflowContext.makeTally())
      const held = yield* Effect.forEach(
        Array.from({ length: 100 }),
        () => Effect.either(Budget.reserve(budget, "a", 0.001)),
        { concurrency: "unbounded" }
      )
      expect(held.filter(Either.isRight)).toHaveLength(10)
      expect((yield* Ref.get(budget.state)).reservedUsd).toBeCloseTo(0.01, 12)
    }))
})

describe("settling", () => {
  it.scoped("a finished call costs its actual usage in the events and the history, and frees its reservation", () =>
    Effect.gen(function*() {
      const estimate = yield* estimateOfOneCall
      const events = yield* subscribe
      // Room for one estimate: the second call fits only once the first has settled.
      const ok = yield* withClock(sequential.runReport(items(2), { maxCostUsd: 1.5 * estimate }))
      expect(ok.status).toBe("succeeded")
      expect((ok.output ?? []).every(Either.isRight)).toBe(true)
      const actual = costOf(10, 5)
      expect(ok.costUsd).toBeCloseTo(2 * actual, 12)
      const calls = (yield* drain(events)).filter((e) => e._tag === "LlmCallFinished" && e.runId === ok.id)
      expect(calls.map((c) => c._tag === "LlmCallFinished" && c.costUsd)).toEqual([actual, actual])
      yield* TestClock.adjust("100 millis")
      const stored = yield* Effect.flatMap(RunHistory, (h) => h.getRun(ok.id))
      expect(Option.map(stored, (r) => r.llmCalls.map((c) => c.costUsd))).toEqual(Option.some([actual, actual]))
      expect(Option.map(stored, (r) => r.costUsd)).toEqual(Option.some(ok.costUsd))
    }).pipe(stack([answer(), answer()])))

  it.scoped("a failed call releases its reservation: the next call has the room again", () =>
    Effect.gen(function*() {
      const estimate = yield* estimateOfOneCall
      const report = yield* withClock(sequential.runReport(items(2), { maxCostUsd: 1.5 * estimate }))
      const outcomes = report.output ?? []
      expect(outcomes.map((o) => (Either.isLeft(o) ? o.left._tag : "answered"))).toEqual(["BadRequest", "answered"])
      expect(yield* ScriptedModel.calls).toBe(2)
    }).pipe(stack([ScriptedModel.fail(400), answer()])))

  it.scoped("a call that costs more than it reserved (the provider ignored max tokens) fails the run", () =>
    Effect.gen(function*() {
      const estimate = yield* estimateOfOneCall
      const report = yield* withClock(fanOut.runReport(items(1), { maxCostUsd: 1.5 * estimate }))
      const actual = costOf(10, 5000)
      expect(report.costUsd).toBeCloseTo(actual, 12)
      expect(report.status).toBe("failed")
      expect(report.error?.tag).toBe("BudgetExceeded")
      expect(report.error?.message).toContain("overspent")
      expect(report.error?.message).toContain("agent writer's call cost more than it reserved")
    }).pipe(stack([answer({ inputTokens: 10, outputTokens: 5000 })])))
})

describe("what needs no reservation", () => {
  it.scoped("a cache hit costs nothing and is answered under a budget too small for any call", () =>
    Effect.gen(function*() {
      const first = yield* withClock(fanOut.runReport(["cached"]))
      expect(first.status).toBe("succeeded")
      const again = yield* withClock(fanOut.runReport(["cached"], { maxCostUsd: 1e-9 }))
      expect(again.status).toBe("succeeded")
      expect(again.costUsd).toBe(0)
      expect(yield* ScriptedModel.calls).toBe(1)
    }).pipe(stack([answer()])))

  it.scoped("a model without a price reserves nothing and costs 0, as before", () =>
    Effect.gen(function*() {
      const report = yield* withClock(fanOut.runReport(items(3), { maxCostUsd: 1e-9 }))
      expect(report.status).toBe("succeeded")
      expect(report.costUsd).toBe(0)
      expect(yield* ScriptedModel.calls).toBe(3)
    }).pipe(stack([answer(), answer(), answer()], {
      LLM_PROVIDER: "openai",
      LLM_BASE_URL: "http://127.0.0.1:1/v1",
      LLM_MODEL: "my-own-llama"
    })))
})
