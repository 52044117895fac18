/**
 * Streamed answers through the resilient layer: `agent.stream(input)` gives the text as it comes;
 * until the first token a stream is retried, falls back and times out like any call; after it a
 * failure ends the stream with `StreamInterrupted` keeping the partial text; a complete answer is
 * cached and a hit is replayed as a stream.
 */
import { LanguageModel } from "@effect/ai"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Queue, Schema, Stream, TestClock } from "effect"
import * as Agent from "../src/agents/Agent.js"
import * as Workflow from "../src/agents/Workflow.js"
import * as TestLayer from "../src/layers/TestLayer.js"
import { LlmCache } from "../src/services/LlmCache.js"
import { ProviderUnavailable } from "../src/services/LlmError.js"
import * as WorkflowEvents from "../src/services/WorkflowEvents.js"
import * as ScriptedModel from "../src/testing/ScriptedModel.js"

const writer = Agent.make({ name: "writer", instructions: "Write.", input: Schema.String, output: "text" })

const stack = (steps: ReadonlyArray<ScriptedModel.Step>, env: Record<string, string> = {}) =>
  TestLayer.layer({ languageModel: ScriptedModel.layer(steps), env: { LLM_TIMEOUT: "5", LLM_STREAM_IDLE_TIMEOUT: "2", ...env } })

const dropped = new ProviderUnavailable({ provider: "scripted", model: "scripted", detail: "connection reset" })

describe("agent.stream", () => {
  it.effect("gives the answer's text chunk by chunk, as the model sends it", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Stream.runCollect(writer.stream("a poem")))
      yield* TestClock.adjust("3 seconds")
      const parts = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      expect(parts).toEqual(["Roses ", "are ", "red"])
    }).pipe(Effect.provide(stack([ScriptedModel.chunks(["Roses ", "are ", "red"], { every: "1 second" })]))))

  it.effect("retries a failure before the first token: the caller sees only the answer that came", () =>
    Effect.gen(function*() {
      const text = yield* Stream.mkString(writer.stream("a poem"))
      expect(text).toBe("Second try")
      expect(yield* ScriptedModel.calls).toBe(2)
    }).pipe(Effect.provide(stack([ScriptedModel.fail(503), ScriptedModel.chunks(["Second ", "try"])]))))

  it.effect("a first token slower than LLM_TIMEOUT is a Timeout, and the next attempt answers", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Stream.mkString(writer.stream("a poem")))
      yield* TestClock.adjust("6 seconds")
      expect(yield* Fiber.join(fiber)).toBe("quick")
      expect(yield* ScriptedModel.calls).toBe(2)
    }).pipe(Effect.provide(stack([ScriptedModel.chunks(["late"], { first: "1 minute" }), ScriptedModel.chunks(["quick"])]))))

  it.effect("a failure after the first token ends the stream with StreamInterrupted keeping the partial text", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const error = yield* Effect.flip(Stream.runForEach(writer.stream("a poem"), (t) => Effect.sync(() => seen.push(t))))
      expect(seen).toEqual(["Once upon ", "a time"])
      expect(error).toMatchObject({ _tag: "StreamInterrupted", partialText: "Once upon a time", cause: { _tag: "ProviderUnavailable" } })
      // Not retried: what the reader has is not taken back.
      expect(yield* ScriptedModel.calls).toBe(1)
    }).pipe(Effect.provide(stack([ScriptedModel.chunks(["Once upon ", "a time"], { thenFail: dropped })]))))

  it.effect("a gap longer than LLM_STREAM_IDLE_TIMEOUT after the first token ends the stream with StreamInterrupted", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(Stream.runDrain(writer.stream("a poem"))))
      yield* TestClock.adjust("3 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({ _tag: "StreamInterrupted", partialText: "Hello", cause: { _tag: "Timeout", timeoutMs: 2_000 } })
    }).pipe(Effect.provide(stack([ScriptedModel.chunks(["Hello", " world"], { every: "10 seconds" })]))))

  it.effect("the idle gap is timed from the first token even when LLM_TIMEOUT is far longer", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(Stream.runDrain(writer.stream("a poem"))))
      // First token at 1 s, then nothing for 10 s: the 2 s idle limit ends it at 3 s, not at 60 s.
      yield* TestClock.adjust("2900 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("200 millis")
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({ _tag: "StreamInterrupted", partialText: "Hello", cause: { _tag: "Timeout", timeoutMs: 2_000 } })
    }).pipe(Effect.provide(stack([ScriptedModel.chunks(["Hello", " world"], { first: "1 second", every: "10 seconds" })], { LLM_TIMEOUT: "60" }))))

  it.effect("a complete answer is cached and a hit is replayed as a stream, without asking the model", () =>
    Effect.gen(function*() {
      const first = yield* Stream.mkString(writer.stream("a poem"))
      const second = yield* Stream.mkString(writer.stream("a poem"))
      const answered = yield* writer.run("a poem")
      expect([first, second, answered]).toEqual(["Roses are red", "Roses are red", "Roses are red"])
      expect(yield* ScriptedModel.calls).toBe(1)
      expect(yield* Effect.flatMap(LlmCache, (c) => c.stats)).toMatchObject({ hits: 2 })
    }).pipe(Effect.provide(stack([ScriptedModel.chunks(["Roses ", "are ", "red"])]))))

  it.effect("an interrupted stream is not cached", () =>
    Effect.gen(function*() {
      yield* Effect.flip(Stream.runDrain(writer.stream("a poem")))
      expect(yield* Stream.mkString(writer.stream("a poem"))).toBe("whole")
      expect(yield* ScriptedModel.calls).toBe(2)
    }).pipe(Effect.provide(stack([ScriptedModel.chunks(["part"], { thenFail: dropped }), ScriptedModel.chunks(["whole"])]))))

  it.effect("inside a run, AnswerDelta events carry the growing text and LlmCallFinished comes once, at the end", () =>
    Effect.gen(function*() {
      const events = yield* WorkflowEvents.subscribe
      const flow = Workflow.make("poem", "a poem", Schema.String, (topic) =>
        Workflow.step("write", Stream.mkString(writer.stream(topic)), { agent: writer.name }))
      const fiber = yield* Effect.fork(flow.run("spring"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      const all = Chunk.toReadonlyArray(yield* Queue.takeAll(events))
      const deltas = all.filter((e) => e._tag === "AnswerDelta")
      expect(deltas.map((d) => d.text).join("")).toBe("Roses are red")
      // At most one delta per 100 ms: the three chunks 50 ms apart come in two events.
      expect(deltas.length).toBe(2)
      expect(deltas[0]).toMatchObject({ stepId: expect.any(String), agent: "writer" })
      const finished = all.filter((e) => e._tag === "LlmCallFinished")
      expect(finished).toHaveLength(1)
      expect(finished[0]).toMatchObject({ status: "success", usage: { inputTokens: 10, outputTokens: 5 } })
      expect(all.findIndex((e) => e._tag === "LlmCallFinished")).toBeGreaterThan(all.findIndex((e) => e._tag === "AnswerDelta"))
    }).pipe(Effect.scoped, Effect.provide(stack([ScriptedModel.chunks(["Roses ", "are ", "red"], { every: "50 millis" })]))))
})

describe("LanguageModel.streamText under the resilient layer", () => {
  it.effect("falls back to the next model when the first fails before its first token", () =>
    Effect.gen(function*() {
      const parts = yield* Stream.runCollect(LanguageModel.streamText({ prompt: "hi" }))
      const text = Chunk.toReadonlyArray(parts).flatMap((p) => (p.type === "text-delta" ? [p.delta] : [])).join("")
      expect(text).toBe("from the fallback")
      expect(Option.isSome(Chunk.findFirst(parts, (p) => p.type === "finish"))).toBe(true)
    }).pipe(Effect.provide(stack(
      [ScriptedModel.fail(503), ScriptedModel.chunks(["from the ", "fallback"])],
      { MAX_RETRIES: "0", LLM_FALLBACK_MODELS: "simulated-2" }
    ))))
})
