import { AiError } from "@effect/ai"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric, MetricState, Schema, Tracer } from "effect"
import * as Agent from "../src/agents/Agent.js"
import { layer as eventsLayer } from "../src/layers/WorkflowEventsPubSub.js"
import {
  BadRequest,
  CircuitOpen,
  type LlmError,
  MalformedResponse,
  ProviderUnavailable,
  RateLimited,
  RetryBudgetExceeded,
  Timeout,
  Unauthorized
} from "../src/services/LlmError.js"
import * as Metrics from "../src/services/Metrics.js"
import * as WorkflowContext from "../src/services/WorkflowContext.js"
import * as Fake from "./support/FakeLanguageModel.js"

const Verdict = Schema.Struct({ approved: Schema.Boolean, comments: Schema.Array(Schema.String) })

const judge = Agent.make({
  name: "judge",
  instructions: "Judge the text.",
  input: Schema.String,
  output: Verdict
})

const echo = Agent.make({
  name: "echo",
  instructions: "Repeat the text.",
  input: Schema.Struct({ text: Schema.String }),
  output: "text"
})

const withFake = (options: Fake.FakeOptions) => Effect.provide(Fake.layer(options).pipe(Layer.provideMerge(eventsLayer)))

const calls = Effect.map(Fake.FakeCalls, (c) => c.all())

const counterValue = (metric: Metric.Metric.Counter<number>, tags: Record<string, string>) =>
  Effect.map(Metric.value(Metrics.withTags(metric, tags)), (state: MetricState.MetricState.Counter<number>) => state.count)

describe("Agent", () => {
  it.effect("decodes a structured answer with the output schema", () =>
    Effect.gen(function*() {
      const verdict = yield* judge.run("looks fine")
      expect(verdict).toEqual({ approved: true, comments: ["ship it"] })
      const [call] = yield* calls
      expect(call?.format).toBe("json")
      expect(Fake.promptText(call!.prompt)).toContain("Judge the text.")
      expect(Fake.promptText(call!.prompt)).toContain("looks fine")
    }).pipe(withFake({ respond: Fake.sequence(`{"approved":true,"comments":["ship it"]}`) })))

  it.effect("returns the model's text for a text agent, with the input rendered as JSON", () =>
    Effect.gen(function*() {
      expect(yield* echo.run({ text: "hello" })).toBe("hello back")
      const [call] = yield* calls
      expect(call?.format).toBe("text")
      expect(Fake.promptText(call!.prompt)).toContain(`"text": "hello"`)
    }).pipe(withFake({ respond: Fake.sequence("hello back") })))

  it.effect("repairs a bad answer by asking once more with the parse error", () =>
    Effect.gen(function*() {
      const verdict = yield* judge.run("x")
      expect(verdict.approved).toBe(false)
      const all = yield* calls
      expect(all).toHaveLength(2)
      const repairPrompt = Fake.promptText(all[1]!.prompt)
      expect(repairPrompt).toContain(`{"approved":"yes"}`) // the bad answer, as the assistant's turn
      expect(repairPrompt).toContain("Expected boolean") // the parse issue
    }).pipe(withFake({
      respond: Fake.sequence(`{"approved":"yes"}`, `{"approved":false,"comments":["no tests"]}`)
    })))

  it.effect("fails with OutputParseError keeping the raw answer after two bad answers", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(judge.run("x"))
      expect(error._tag).toBe("OutputParseError")
      if (error._tag !== "OutputParseError") return
      expect(error.agent).toBe("judge")
      expect(error.raw).toBe("still not json")
      expect(error.issues).toContain("not valid JSON")
      expect(yield* calls).toHaveLength(2)
    }).pipe(withFake({ respond: Fake.sequence(`{"approved":1}`, "still not json") })))

  it.effect("lets a caller recover from OutputParseError with catchTag", () =>
    judge.run("x").pipe(
      Effect.catchTag("OutputParseError", (e) => Effect.succeed({ approved: false, comments: [e.raw] })),
      Effect.map((verdict) => expect(verdict.comments).toEqual(["nope"])),
      withFake({ respond: Fake.sequence("nope", "nope") })
    ))

  const llmErrors: ReadonlyArray<LlmError> = [
    new RateLimited({ provider: "p", model: "m", retryAfterMs: 1000 }),
    new ProviderUnavailable({ provider: "p", model: "m", status: 503, detail: "down" }),
    new Timeout({ provider: "p", model: "m", timeoutMs: 60_000 }),
    new CircuitOpen({ breaker: "p:m", retryAt: 0 }),
    new Unauthorized({ provider: "p", model: "m", status: 401 }),
    new BadRequest({ provider: "p", model: "m", status: 400, detail: "bad" }),
    new MalformedResponse({ provider: "p", model: "m", raw: "<html>", detail: "not json" }),
    new RetryBudgetExceeded({ provider: "p", model: "m", retryAfterMs: 120_000, budgetMs: 60_000 })
  ]
  for (const failure of llmErrors) {
    it.effect(`passes ${failure._tag} from the LLM layer through, catchable by its tag`, () =>
      echo.run({ text: "x" }).pipe(
        Effect.catchTag(failure._tag, (e) => Effect.succeed(`caught ${e._tag}`)),
        Effect.map((result) => expect(result).toBe(`caught ${failure._tag}`)),
        withFake({ respond: () => Effect.fail(failure) })
      ))
  }

  it.effect("maps a bare provider's AiError to an LlmError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(echo.run({ text: "x" }))
      expect(error._tag).toBe("ProviderUnavailable")
    }).pipe(withFake({
      respond: () => Effect.fail(new AiError.UnknownError({ module: "Fake", method: "generateText", description: "boom" }))
    })))

  it.effect("fails with BudgetExceeded before calling the model once the run's budget is spent", () =>
    Effect.gen(function*() {
      const tally = WorkflowContext.makeTally()
      tally.costUsd = 0.02
      const error = yield* Effect.flip(
        echo.run({ text: "x" }).pipe(WorkflowContext.withRun({ runId: "r1", workflow: "w", maxCostUsd: 0.02, tally }))
      )
      expect(error._tag).toBe("BudgetExceeded")
      if (error._tag === "BudgetExceeded") {
        expect(error.runId).toBe("r1")
        expect(error.spentUsd).toBe(0.02)
      }
      expect(yield* calls).toHaveLength(0)
    }).pipe(withFake({ respond: Fake.sequence("unused") })))

  it.effect("runs inside a span named Agent.<name> under an exporting tracer, and tells the LLM layer which agent calls", () =>
    Effect.gen(function*() {
      const base = yield* Effect.tracer
      // Any tracer but Effect's built-in one exports spans (OpenTelemetry's, here a copy of it).
      const exporting = Tracer.make({ span: (...args) => base.span(...args), context: base.context })
      yield* Effect.withTracer(echo.run({ text: "x" }), exporting)
      const [call] = yield* calls
      expect(call?.spanParentName).toBe("Agent.echo")
      expect(call?.agent).toBe("echo")
    }).pipe(withFake({ respond: Fake.sequence("x") })))

  it.effect("makes no span under Effect's built-in tracer, which exports nowhere", () =>
    Effect.gen(function*() {
      yield* echo.run({ text: "x" })
      const [call] = yield* calls
      expect(call?.spanParentName).toBeUndefined()
      expect(call?.agent).toBe("echo")
    }).pipe(withFake({ respond: Fake.sequence("x") })))

  it.effect("counts executions by agent and status", () =>
    Effect.gen(function*() {
      const counted = Agent.make({ name: "counted", instructions: "", input: Schema.String, output: "text" })
      const ok0 = yield* counterValue(Metrics.agentExecutionsTotal, { agent: "counted", status: "success" })
      const err0 = yield* counterValue(Metrics.agentExecutionsTotal, { agent: "counted", status: "error" })
      yield* counted.run("a")
      yield* Effect.either(counted.run("b"))
      expect(yield* counterValue(Metrics.agentExecutionsTotal, { agent: "counted", status: "success" })).toBe(ok0 + 1)
      expect(yield* counterValue(Metrics.agentExecutionsTotal, { agent: "counted", status: "error" })).toBe(err0 + 1)
      const histogram = yield* Metric.value(
        Metrics.withTags(Metrics.agentExecutionDurationSeconds, { agent: "counted", status: "success" })
      )
      expect(histogram.count).toBeGreaterThanOrEqual(1)
    }).pipe(withFake({
      respond: Fake.sequence("fine", Effect.fail(new Timeout({ provider: "p", model: "m", timeoutMs: 1 })))
    })))
})
