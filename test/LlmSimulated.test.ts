/**
 * The simulated provider: deterministic, labelled, schema-true output with token usage, and latency
 * and faults at the configured rates — all under `TestClock`, so no test waits for real.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Either, Fiber, Option, Schema, Stream, TestClock } from "effect"
import * as LlmProvider from "../src/layers/LlmProvider.js"
import * as LlmSimulated from "../src/layers/LlmSimulated.js"
import { fromAiError } from "../src/services/LlmError.js"
import * as ModelFactory from "../src/services/ModelFactory.js"
import { testConfig, testConfigLayer } from "./support/config.js"

const calm: LlmSimulated.Options = { model: "simulated-1", seed: 1, latencyMs: 0, errorRate: 0, rateLimitRate: 0 }

const context = { provider: "simulated", model: "simulated-1" }

const Review = Schema.Struct({
  title: Schema.String,
  score: Schema.Number.pipe(Schema.between(0, 10)),
  tags: Schema.Array(Schema.String),
  sentiment: Schema.Literal("positive", "negative", "neutral"),
  code: Schema.String.pipe(Schema.pattern(/^[A-Z]{3}$/)),
  published: Schema.Date,
  author: Schema.optional(Schema.Struct({ name: Schema.NonEmptyString, age: Schema.Int }))
})

describe("simulated provider output", () => {
  it.effect("the same seed and prompt give the same answer, even from separate instances", () =>
    Effect.gen(function*() {
      const a = yield* LlmSimulated.make(calm)
      const b = yield* LlmSimulated.make(calm)
      const first = yield* a.generateText({ prompt: "Summarise the fall of Rome" })
      const second = yield* b.generateText({ prompt: "Summarise the fall of Rome" })
      expect(second.text).toBe(first.text)
    }))

  it.effect("a different prompt or a different seed gives a different answer", () =>
    Effect.gen(function*() {
      const a = yield* LlmSimulated.make(calm)
      const b = yield* LlmSimulated.make({ ...calm, seed: 2 })
      const base = yield* a.generateText({ prompt: "Summarise the fall of Rome" })
      const otherPrompt = yield* a.generateText({ prompt: "Summarise the rise of Rome" })
      const otherSeed = yield* b.generateText({ prompt: "Summarise the fall of Rome" })
      expect(otherPrompt.text).not.toBe(base.text)
      expect(otherSeed.text).not.toBe(base.text)
    }))

  it.effect("the answer says it is simulated and the metadata names the provider and a simulated-* model", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make({ ...calm, model: "gpt-4o" })
      const response = yield* lm.generateText({ prompt: "Hello" })
      expect(response.text).toContain("simulated")
      const meta = response.content.find((p) => p.type === "response-metadata")
      expect(meta?.modelId).toEqual(Option.some("simulated-gpt-4o"))
      expect(meta?.metadata["simulated"]).toMatchObject({ provider: "simulated" })
      expect(response.content.find((p) => p.type === "finish")?.metadata["simulated"]).toMatchObject({ provider: "simulated" })
    }))

  it.effect("structured output decodes against the requested Schema", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make(calm)
      for (let i = 0; i < 20; i++) {
        const response = yield* lm.generateObject({ prompt: `Review book ${i}`, schema: Review })
        // generateObject already decoded it; decoding the raw text again proves the JSON itself conforms.
        const again = Schema.decodeUnknownEither(Schema.parseJson(Review))(response.text)
        expect(Either.isRight(again)).toBe(true)
        expect(["positive", "negative", "neutral"]).toContain(response.value.sentiment)
        expect(response.value.code).toMatch(/^[A-Z]{3}$/)
      }
    }))

  it.effect("structured strings read as words, not random characters", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make(calm)
      const response = yield* lm.generateObject({ prompt: "Review Dune", schema: Review })
      expect(response.value.title).toMatch(/^simulated( [a-z]+)+$/)
    }))

  it.effect("the same prompt gives the same structured value", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make(calm)
      const a = yield* lm.generateObject({ prompt: "Review Dune", schema: Review })
      const b = yield* lm.generateObject({ prompt: "Review Dune", schema: Review })
      expect(b.text).toBe(a.text)
    }))

  it.effect("reports token usage at about four characters per token", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make(calm)
      const prompt = "Explain circuit breakers to a new engineer in two short paragraphs, please."
      const response = yield* lm.generateText({ prompt })
      expect(response.usage.inputTokens).toBe(Math.ceil(`user: ${prompt}`.length / 4))
      expect(response.usage.outputTokens).toBe(Math.ceil(response.text.length / 4))
      expect(response.usage.totalTokens).toBe((response.usage.inputTokens ?? 0) + (response.usage.outputTokens ?? 0))
    }))

  it.effect("streams the same text as a single answer", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make(calm)
      const whole = yield* lm.generateText({ prompt: "Stream me" })
      const parts = yield* Stream.runCollect(lm.streamText({ prompt: "Stream me" }))
      const text = Chunk.toArray(parts).map((p) => (p.type === "text-delta" ? p.delta : "")).join("")
      expect(text).toBe(whole.text)
    }))
})

describe("simulated latency", () => {
  it.effect("an answer takes between half and one and a half times the configured latency", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make({ ...calm, latencyMs: 1000 })
      const fiber = yield* Effect.fork(lm.generateText({ prompt: "slow" }))
      yield* TestClock.adjust(Duration.millis(499))
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust(Duration.millis(1001))
      expect(Option.isSome(yield* Fiber.poll(fiber))).toBe(true)
    }))
})

describe("simulated streaming", () => {
  it.effect("a streamed answer comes in chunks of a few words, the first after a third of the latency", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make({ ...calm, latencyMs: 900 })
      const arrived: Array<readonly [number, string]> = []
      const fiber = yield* lm.streamText({ prompt: "Tell me a long story about the sea" }).pipe(
        Stream.runForEach((p) =>
          p.type === "text-delta"
            ? Effect.flatMap(TestClock.currentTimeMillis, (now) => Effect.sync(() => arrived.push([now, p.delta])))
            : Effect.void
        ),
        Effect.fork
      )
      yield* TestClock.adjust(Duration.seconds(2))
      yield* Fiber.join(fiber)
      expect(arrived.length).toBeGreaterThan(2)
      const [firstAt] = arrived[0]!
      const lastAt = arrived[arrived.length - 1]![0]
      // Latency is drawn in [450, 1350] ms; the first chunk comes at a third of it, the last at its end.
      expect(Math.abs(firstAt * 3 - lastAt)).toBeLessThanOrEqual(3)
      expect(lastAt).toBeGreaterThanOrEqual(450)
      for (const [, delta] of arrived.slice(0, -1)) expect(delta.trim().split(/\s+/)).toHaveLength(3)
    }))

  it("chunk times add up to the latency", () => {
    for (const [latency, count] of [[1000, 7], [400, 1], [0, 5], [333, 4]] as const) {
      const times = LlmSimulated.chunkTimes(latency, count)
      expect(times).toHaveLength(count)
      expect(times.reduce((a, b) => a + b, 0)).toBe(latency)
    }
  })
})

describe("simulated faults", () => {
  it.effect("a simulated 429 carries Retry-After, which fromAiError reads as RateLimited", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make({ ...calm, rateLimitRate: 1 })
      const error = fromAiError(yield* Effect.flip(lm.generateText({ prompt: "hi" })), context, 0)
      expect(error._tag).toBe("RateLimited")
      expect(error._tag === "RateLimited" ? error.retryAfterMs : undefined).toBeOneOf([1000, 2000, 3000])
    }))

  it.effect("a simulated 5xx maps to ProviderUnavailable", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make({ ...calm, errorRate: 1, timeoutShare: 0 })
      const error = fromAiError(yield* Effect.flip(lm.generateText({ prompt: "hi" })), context, 0)
      expect(error._tag).toBe("ProviderUnavailable")
      expect(error._tag === "ProviderUnavailable" ? error.status : undefined).toBeOneOf([500, 503])
    }))

  it.effect("a simulated hang lasts until a timeout cuts it", () =>
    Effect.gen(function*() {
      const lm = yield* LlmSimulated.make({ ...calm, errorRate: 1, timeoutShare: 1 })
      const fiber = yield* Effect.fork(lm.generateText({ prompt: "hi" }).pipe(Effect.timeout(Duration.seconds(60)), Effect.either))
      yield* TestClock.adjust(Duration.seconds(59))
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust(Duration.seconds(1))
      const outcome = yield* Fiber.join(fiber)
      expect(Either.isLeft(outcome) && outcome.left._tag).toBe("TimeoutException")
    }))

  it.effect("with a deadline, a hang ends at the deadline as a Timeout; an answer in time is untouched", () =>
    Effect.gen(function*() {
      const deadline = ModelFactory.deadline(ModelFactory.refOf("simulated", "simulated-1"), Duration.seconds(5))
      const hanging = yield* LlmSimulated.make({ ...calm, errorRate: 1, timeoutShare: 1, deadline })
      const fiber = yield* Effect.fork(Effect.flip(hanging.generateText({ prompt: "hi" })))
      yield* TestClock.adjust(Duration.seconds(4))
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(fromAiError(yield* Fiber.join(fiber), context, 0)).toMatchObject({ _tag: "Timeout", timeoutMs: 5_000 })
      const slowButInTime = yield* LlmSimulated.make({ ...calm, latencyMs: 2_000, deadline })
      const answer = yield* Effect.fork(slowButInTime.generateText({ prompt: "hi" }))
      yield* TestClock.adjust(Duration.seconds(3))
      expect((yield* Fiber.join(answer)).text.length).toBeGreaterThan(0)
    }))

  it.effect("fault rates are roughly honoured over 1,000 calls", () =>
    Effect.gen(function*() {
      // No latency and hangs that end in a 504 after two minutes: each TestClock wake-up costs a
      // scheduler round trip, so the test keeps the number of distinct sleeps small.
      const lm = yield* LlmSimulated.make({
        model: "simulated-1",
        seed: 42,
        latencyMs: 0,
        errorRate: 0.1,
        rateLimitRate: 0.05,
        timeoutShare: 0.2,
        hangMs: 120_000
      })
      const fiber = yield* Effect.fork(Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => i),
        (i) => Effect.either(lm.generateText({ prompt: `call ${i}` })),
        { concurrency: "unbounded" }
      ))
      yield* TestClock.adjust(Duration.minutes(2))
      const outcomes = yield* Fiber.join(fiber)
      const counts = { ok: 0, rateLimited: 0, unavailable: 0, hung: 0 }
      for (const outcome of outcomes) {
        if (Either.isRight(outcome)) counts.ok++
        else {
          const error = fromAiError(outcome.left, context, 0)
          if (error._tag === "RateLimited") counts.rateLimited++
          else if (error._tag === "ProviderUnavailable" && error.status === 504) counts.hung++
          else if (error._tag === "ProviderUnavailable") counts.unavailable++
        }
      }
      // Expected: 50 rate-limited, 80 5xx, 20 hangs, 850 answers; bounds are ~4 standard deviations.
      expect(counts.rateLimited).toBeGreaterThan(22)
      expect(counts.rateLimited).toBeLessThan(80)
      expect(counts.unavailable).toBeGreaterThan(45)
      expect(counts.unavailable).toBeLessThan(115)
      expect(counts.hung).toBeGreaterThan(4)
      expect(counts.hung).toBeLessThan(40)
      expect(counts.ok + counts.rateLimited + counts.unavailable + counts.hung).toBe(1000)
    }))

  it.effect("the same seed gives the same sequence of faults", () =>
    Effect.gen(function*() {
      const run = Effect.gen(function*() {
        const lm = yield* LlmSimulated.make({ ...calm, errorRate: 0.3, rateLimitRate: 0.2, timeoutShare: 0 })
        return yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) =>
          lm.generateText({ prompt: `p${i}` }).pipe(
            Effect.match({ onFailure: (e) => fromAiError(e, context, 0)._tag, onSuccess: () => "ok" })
          ))
      })
      const first = yield* run
      const second = yield* run
      expect(second).toEqual(first)
      expect(new Set(first).size).toBe(3)
    }))
})

describe("simulated layer", () => {
  const quiet = { SIM_SEED: "7", SIM_LATENCY_MS: "0", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0" }

  it.effect("reads SIM_* settings and the model from AppConfig", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateText({ prompt: "hi" })
      expect(response.text).toContain("seed 7")
      const meta = response.content.find((p) => p.type === "response-metadata")
      expect(meta?.modelId).toEqual(Option.some("simulated-1"))
    }).pipe(Effect.provide(LlmSimulated.layer), Effect.provide(testConfigLayer(quiet))))

  it.effect("with no provider key configured, the provider layer runs the simulation", () =>
    Effect.gen(function*() {
      const config = testConfig(quiet)
      expect(LlmProvider.providerLabel(config)).toBe("simulated")
      const response = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
        Effect.provide(LlmProvider.modelLayer(config, "simulated-2")),
        Effect.provide(LlmProvider.layerHttpClient)
      )
      const meta = response.content.find((p) => p.type === "response-metadata")
      expect(meta?.modelId).toEqual(Option.some("simulated-2"))
    }))
})
