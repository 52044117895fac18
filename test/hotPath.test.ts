/**
 * The shortcuts the resilient layer's hot path takes must behave like the Effect operations they
 * replace: events built without the Schema constructor equal constructed ones, and the live-clock
 * timeout interrupts a hanging provider call and reports `Timeout`, or passes a quick answer through.
 */
import { LanguageModel } from "@effect/ai"
import * as Response from "@effect/ai/Response"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Schema } from "effect"
import * as ResilientLanguageModel from "../src/layers/ResilientLanguageModel.js"
import { fromAiError } from "../src/services/LlmError.js"
import { LlmCallFinished, LlmCallStarted, unsafeMakeEvent, WorkflowEvent } from "../src/services/WorkflowEvents.js"
import * as Stack from "./support/resilientStack.js"

describe("unsafeMakeEvent", () => {
  it("builds the same event as the class constructor: prototype, keys, encoding", () => {
    const fields = { runId: "r1", agent: "planner", model: "m", provider: "openai", attempt: 2, at: 123 }
    const fast = unsafeMakeEvent(LlmCallStarted, fields)
    const slow = new LlmCallStarted(fields)
    expect(fast).toBeInstanceOf(LlmCallStarted)
    expect(Object.keys(fast)).toEqual(Object.keys(slow))
    expect(fast).toEqual(slow)
    const encode = Schema.encodeSync(WorkflowEvent)
    expect(encode(fast)).toEqual(encode(slow))
    const finished = {
      model: "m",
      provider: "openai",
      cached: false,
      attempt: 1,
      usage: { inputTokens: 3, outputTokens: 4 },
      costUsd: 0.5,
      durationMs: 10,
      status: "success" as const,
      at: 1
    }
    expect(encode(unsafeMakeEvent(LlmCallFinished, finished))).toEqual(encode(new LlmCallFinished(finished)))
  })
})

/** The resilient layer over an in-process model whose calls run `answer`. */
const stackOver = (answer: Effect.Effect<LanguageModel.GenerateTextResponse<{}>>, timeout = "0.05") => {
  const model: LanguageModel.Service = {
    generateText: (() => answer) as unknown as LanguageModel.Service["generateText"],
    generateObject: (() => Effect.die("not used")) as unknown as LanguageModel.Service["generateObject"],
    streamText: (() => Effect.die("not used")) as unknown as LanguageModel.Service["streamText"]
  }
  const resilient = ResilientLanguageModel.around("m").pipe(Layer.provide(Layer.succeed(LanguageModel.LanguageModel, model)))
  return resilient.pipe(
    Layer.provideMerge(Stack.layer("http://127.0.0.1:1/v1", { LLM_TIMEOUT: timeout, MAX_RETRIES: "0", CACHE_ENABLED: "false" }))
  )
}

const hello = new LanguageModel.GenerateTextResponse<{}>([
  Response.makePart("text", { text: "hello" }),
  Response.makePart("finish", { reason: "stop", usage: new Response.Usage({ inputTokens: 1, outputTokens: 1, totalTokens: 2 }) })
])

describe("per-attempt timeout on the live clock", () => {
  it.live("a hanging call is interrupted and the caller gets Timeout", () =>
    Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      const hanging = Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
      const error = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
        Effect.flip,
        Effect.provide(stackOver(hanging))
      )
      expect(fromAiError(error, { provider: "openai", model: "m" }, 0)._tag).toBe("Timeout")
      // The provider call was interrupted, not left running.
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    }))

  it.live("an immediate answer and a slower one within the timeout both come through", () =>
    Effect.gen(function*() {
      const quick = yield* LanguageModel.generateText({ prompt: "a" }).pipe(Effect.provide(stackOver(Effect.succeed(hello))))
      expect(quick.text).toBe("hello")
      const slower = yield* LanguageModel.generateText({ prompt: "b" }).pipe(
        Effect.provide(stackOver(Effect.as(Effect.sleep("10 millis"), hello)))
      )
      expect(slower.text).toBe("hello")
    }))

  it.live("interrupting the caller interrupts the provider call", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const hanging = Deferred.succeed(started, undefined).pipe(
        Effect.zipRight(Effect.never),
        Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
      )
      // A timeout far away: only the caller's interruption can end this call.
      const fiber = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
        Effect.provide(stackOver(hanging, "30")),
        Effect.fork
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    }))
})
