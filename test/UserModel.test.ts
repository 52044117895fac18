/**
 * Your own model, wrapped: `ResilientLanguageModel.around(name)` over a `LanguageModel` the stack
 * knows nothing about gets the cache, the rate limiter, retries and the circuit breaker, and every
 * event and metric names it as you did.
 */
import { LanguageModel } from "@effect/ai"
import * as AiError from "@effect/ai/AiError"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Queue, TestClock } from "effect"
import * as CircuitBreakerMemory from "../src/layers/CircuitBreakerMemory.js"
import * as LlmCacheMemory from "../src/layers/LlmCacheMemory.js"
import * as PricingTable from "../src/layers/PricingTable.js"
import * as RateLimiterMemory from "../src/layers/RateLimiterMemory.js"
import * as ResilientLanguageModel from "../src/layers/ResilientLanguageModel.js"
import { configLayer } from "../src/layers/TestLayer.js"
import * as WorkflowEventsPubSub from "../src/layers/WorkflowEventsPubSub.js"
import { fromAiError } from "../src/services/LlmError.js"
import { type WorkflowEvent, WorkflowEvents } from "../src/services/WorkflowEvents.js"

/** What the model does before it answers: fail `remaining` calls, or first never answer `hangs`. */
interface Trouble {
  remaining: number
  hangs?: number
}

/** A model of one's own: it answers "echo: <prompt>" unless told otherwise, and counts its calls. */
const myModel = (failures: Trouble, calls: { count: number }) =>
  Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: (options) =>
        Effect.suspend(() => {
          calls.count += 1
          if ((failures.hangs ?? 0) > 0) {
            failures.hangs = (failures.hangs ?? 0) - 1
            return Effect.never
          }
          if (failures.remaining > 0) {
            failures.remaining -= 1
            return Effect.fail(new AiError.UnknownError({ module: "MyLlama", method: "generateText", description: "overloaded" }))
          }
          const text = options.prompt.content
            .flatMap((m) => typeof m.content === "string" ? [m.content] : m.content.flatMap((p) => p.type === "text" ? [p.text] : []))
            .join(" ")
          return Effect.succeed([
            { type: "text" as const, text: `echo: ${text}` },
            { type: "finish" as const, reason: "stop" as const, usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 } }
          ])
        }),
      streamText: () => {
        throw new Error("not used")
      }
    })
  )

const baseEnv = {
  CACHE_ENABLED: "true",
  RATE_LIMIT_MAX_CALLS: "1000",
  RATE_LIMIT_PERIOD: "1",
  MAX_RETRIES: "3",
  RETRY_INITIAL_WAIT: "1",
  RETRY_MAX_WAIT: "1",
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1000"
}

/** The stack around `myModel`, on in-memory infrastructure, with `env` over the defaults above. */
const stack = (env: Record<string, string>, failures: Trouble = { remaining: 0 }) => {
  const calls = { count: 0 }
  const infra = Layer.mergeAll(
    LlmCacheMemory.layer,
    RateLimiterMemory.layer,
    CircuitBreakerMemory.layer,
    WorkflowEventsPubSub.layer,
    PricingTable.layerTable(PricingTable.bundled)
  ).pipe(Layer.provideMerge(configLayer({ ...baseEnv, ...env })))
  const layer = ResilientLanguageModel.around("my-llama").pipe(
    Layer.provide(myModel(failures, calls)),
    Layer.provideMerge(infra)
  )
  return { layer, calls }
}

const drain = (queue: Queue.Dequeue<WorkflowEvent>) => Effect.map(Queue.takeAll(queue), Chunk.toReadonlyArray)
const ask = (prompt: string) => Effect.map(LanguageModel.generateText({ prompt }), (r) => r.text)

describe("your own model, wrapped by ResilientLanguageModel.around", () => {
  it.scoped("a repeated question is a cache hit: the model answers once, events name it my-llama", () => {
    const { calls, layer } = stack({})
    return Effect.gen(function*() {
      const events = yield* (yield* WorkflowEvents).subscribe
      expect(yield* ask("hello")).toBe("echo: hello")
      expect(yield* ask("hello")).toBe("echo: hello")
      expect(calls.count).toBe(1)
      const finished = (yield* drain(events)).filter((e) => e._tag === "LlmCallFinished")
      expect(finished.map((e) => [e.model, e.provider, e.cached])).toEqual([
        ["my-llama", "custom", false],
        ["my-llama", "custom", true]
      ])
    }).pipe(Effect.provide(layer))
  })

  it.scoped("the rate limiter holds the second call until a permit is free", () => {
    const { calls, layer } = stack({ RATE_LIMIT_MAX_CALLS: "1", RATE_LIMIT_PERIOD: "10" })
    return Effect.gen(function*() {
      const events = yield* (yield* WorkflowEvents).subscribe
      expect(yield* ask("first")).toBe("echo: first")
      const second = yield* Effect.fork(ask("second"))
      yield* TestClock.adjust("5 seconds")
      expect(calls.count).toBe(1)
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(second)).toBe("echo: second")
      const limited = (yield* drain(events)).filter((e) => e._tag === "RateLimited")
      expect(limited.map((e) => [e.key, e.waitMs])).toEqual([["custom:my-llama", 10_000]])
    }).pipe(Effect.provide(layer))
  })

  it.scoped("a failing model is retried with backoff until it answers", () => {
    const { calls, layer } = stack({}, { remaining: 2 })
    return Effect.gen(function*() {
      const events = yield* (yield* WorkflowEvents).subscribe
      const fiber = yield* Effect.fork(ask("flaky"))
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(fiber)).toBe("echo: flaky")
      expect(calls.count).toBe(3)
      const seen = yield* drain(events)
      expect(seen.filter((e) => e._tag === "Retrying").map((e) => [e.model, e.attempt, e.reason])).toEqual([
        ["my-llama", 1, "provider_unavailable"],
        ["my-llama", 2, "provider_unavailable"]
      ])
      expect(seen.find((e) => e._tag === "LlmCallFinished")).toMatchObject({ attempt: 3, status: "success" })
    }).pipe(Effect.provide(layer))
  })

  it.scoped("a call that never answers ends at LLM_TIMEOUT, kept on the TestClock, and is retried", () => {
    const { calls, layer } = stack({ LLM_TIMEOUT: "5" }, { remaining: 0, hangs: 1 })
    return Effect.gen(function*() {
      const events = yield* (yield* WorkflowEvents).subscribe
      const fiber = yield* Effect.fork(ask("slow"))
      yield* TestClock.adjust("4 seconds")
      expect(calls.count).toBe(1)
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(fiber)).toBe("echo: slow")
      expect(calls.count).toBe(2)
      const retried = (yield* drain(events)).filter((e) => e._tag === "Retrying")
      expect(retried.map((e) => [e.model, e.reason])).toEqual([["my-llama", "timeout"]])
    }).pipe(Effect.provide(layer))
  })

  it.scoped("after enough failures the breaker opens and the model is not called at all", () => {
    const { calls, layer } = stack({ MAX_RETRIES: "0", CIRCUIT_BREAKER_FAILURE_THRESHOLD: "2" }, { remaining: 100 })
    return Effect.gen(function*() {
      const failure = (prompt: string) =>
        Effect.map(Effect.flip(ask(prompt)), (e) => fromAiError(e, { provider: "custom", model: "my-llama" }, 0))
      expect((yield* failure("a"))._tag).toBe("ProviderUnavailable")
      expect((yield* failure("b"))._tag).toBe("ProviderUnavailable")
      expect(yield* failure("c")).toMatchObject({ _tag: "CircuitOpen", breaker: "custom:my-llama" })
      expect(calls.count).toBe(2)
    }).pipe(Effect.provide(layer))
  })
})
