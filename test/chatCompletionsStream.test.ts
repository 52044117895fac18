/**
 * Streams of the chat-completions adapter: the direct path (its own SSE reading) against
 * `@effect/ai-openrouter`'s stream, on the same server-sent events from the loopback fake. The
 * request on the wire, the stream parts (usage and cost included) and the errors must be the same;
 * the direct model is built without an `HttpClient`, so a stream that fell back to the package
 * would die. Run on the `TestClock`, so both paths stamp the response metadata alike.
 */
import type * as AiError from "@effect/ai/AiError"
import type * as LanguageModel from "@effect/ai/LanguageModel"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Redacted, Stream } from "effect"
import * as LlmOpenAiCompatible from "../src/layers/LlmOpenAiCompatible.js"
import { fromAiError } from "../src/services/LlmError.js"
import * as FakeProvider from "./support/FakeProvider.js"

const KEY = "sk-or-v1-STREAM-KEY-77aa"

/** An HTTP client that fails the test if anything uses it. */
const noHttpClient = Layer.succeed(
  HttpClient.HttpClient,
  HttpClient.make((request) => Effect.die(new Error(`HttpClient used for ${request.url}`)))
)

const models = (fake: FakeProvider.FakeProvider) =>
  Effect.gen(function*() {
    const options: LlmOpenAiCompatible.Options = { model: "vendor/model-1", apiUrl: fake.openaiUrl, apiKey: Redacted.make(KEY), title: "effect-agents" }
    const direct = yield* LlmOpenAiCompatible.make(options).pipe(Effect.provide(noHttpClient))
    const http = yield* Layer.build(NodeHttpClient.layerUndici)
    const viaPackage = yield* LlmOpenAiCompatible.make({ ...options, direct: false }).pipe(Effect.provide(http))
    return { direct, viaPackage }
  })

// The fake numbers its answers (`gen-1`, `gen-2`): the metadata's id is left out of comparisons.
const partsOf = (lm: LanguageModel.Service, prompt = "hi") =>
  Effect.either(Stream.runCollect(lm.streamText({ prompt })).pipe(
    Effect.map((parts) => Chunk.toArray(parts).map((p) => p.type === "response-metadata" ? { ...p, id: "(id)" } : p))
  ))

/** Streams `answer` on both paths; both outcomes and both requests. */
const both = (answer: FakeProvider.Behaviour) =>
  Effect.gen(function*() {
    const fake = yield* FakeProvider.make({ script: () => answer })
    const { direct, viaPackage } = yield* models(fake)
    const a = yield* partsOf(direct)
    const b = yield* partsOf(viaPackage)
    expect(fake.requests).toHaveLength(2)
    const [ra, rb] = fake.requests
    expect(ra!.body).toEqual(rb!.body)
    for (const name of ["authorization", "x-title", "content-type", "accept"]) expect(ra!.headers[name]).toBe(rb!.headers[name])
    return { direct: a, viaPackage: b }
  })

/** Server-sent events as a provider writes them. */
const sse = (...events: ReadonlyArray<unknown>) =>
  FakeProvider.garbage(events.map((e) => `data: ${typeof e === "string" ? e : JSON.stringify(e)}\n\n`).join(""), "text/event-stream")

const chunk = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id: "gen-9",
  object: "chat.completion.chunk",
  created: 1_760_000_000,
  model: "vendor/model-1",
  choices: [{ index: 0, delta }],
  ...extra
})

const usage = {
  prompt_tokens: 12,
  completion_tokens: 7,
  total_tokens: 19,
  cost: 0.00042,
  prompt_tokens_details: { cached_tokens: 4 },
  completion_tokens_details: { reasoning_tokens: 3 }
}

/** What a user sees of a failure: the tag, status, Retry-After and raw text. */
const mapped = (e: Either.Either<unknown, AiError.AiError>) => {
  if (Either.isRight(e)) return undefined
  const error = fromAiError(e.left, { provider: "openai", model: "m" }, 0)
  return {
    _tag: error._tag,
    ...("status" in error ? { status: error.status } : {}),
    ...("retryAfterMs" in error ? { retryAfterMs: error.retryAfterMs } : {})
  }
}

describe("chat-completion streams: direct path vs @effect/ai-openrouter", () => {
  it.scoped("a plain streamed answer: same request, same parts, usage included", () =>
    Effect.gen(function*() {
      const r = yield* both(FakeProvider.streamed("Streams arrive piece by piece.", { pieceChars: 7 }))
      expect(r.viaPackage._tag).toBe("Right")
      expect(r.direct).toEqual(r.viaPackage)
      const parts = Either.getOrThrow(r.direct)
      expect(parts.map((p) => p.type)).toEqual(["response-metadata", "text-start", ...Array(5).fill("text-delta"), "text-end", "finish"])
      expect(parts.at(-1)).toMatchObject({ type: "finish", reason: "stop", usage: { inputTokens: 1, outputTokens: 8, totalTokens: 9 } })
    }))

  it.scoped("reasoning, citations, finish reason, detailed usage and cost come out the same", () =>
    Effect.gen(function*() {
      const r = yield* both(sse(
        chunk({ role: "assistant", reasoning: "thinking" }),
        chunk({ reasoning_details: [{ type: "reasoning.text", text: "step one", signature: "sig" }] }),
        chunk({ content: "Paris" }),
        chunk({ content: " is the capital.", annotations: [{ type: "url_citation", url_citation: { url: "https://example.org/paris", title: "Paris", content: "c", start_index: 0, end_index: 5 } }] }),
        chunk({}, { choices: [{ index: 0, delta: {}, finish_reason: "length" }] }),
        chunk({}, { choices: [], usage, provider: "SomeHost" }),
        "[DONE]"
      ))
      expect(r.viaPackage._tag).toBe("Right")
      expect(r.direct).toEqual(r.viaPackage)
      const finish = Either.getOrThrow(r.direct).at(-1)
      expect(finish).toMatchObject({
        reason: "length",
        usage: { inputTokens: 12, outputTokens: 7, reasoningTokens: 3, cachedInputTokens: 4 },
        metadata: { openrouter: { provider: "SomeHost", usage: { cost: 0.00042 } } }
      })
    }))

  it.scoped("a malformed chunk is MalformedResponse on both paths; the direct path keeps its raw text", () =>
    Effect.gen(function*() {
      for (const bad of ["{not json", JSON.stringify({ id: "gen-9", created: 1, choices: [] }), JSON.stringify(chunk({ content: 42 }))]) {
        const r = yield* both(sse(chunk({ content: "Hi" }), bad, "[DONE]"))
        expect([mapped(r.direct)?._tag, mapped(r.viaPackage)?._tag], bad).toEqual(["MalformedResponse", "MalformedResponse"])
        const error = Either.isLeft(r.direct) ? fromAiError(r.direct.left, { provider: "openai", model: "m" }, 0) : undefined
        expect(error?._tag === "MalformedResponse" && error.raw).toBe(bad)
      }
    }))

  it.scoped("provider errors map to the same LlmError; Retry-After kept, the key redacted", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<FakeProvider.Behaviour> = [
        ...FakeProvider.statusErrors,
        FakeProvider.reset,
        FakeProvider.streamed("lost before a token", { failAfter: 0 }),
        FakeProvider.streamed("broken off mid-answer", { pieceChars: 4, failAfter: 2 })
      ]
      for (const behaviour of cases) {
        const r = yield* both(behaviour)
        expect(mapped(r.direct), JSON.stringify(behaviour)).toEqual(mapped(r.viaPackage))
        expect(r.direct._tag).toBe("Left")
        if (Either.isLeft(r.direct)) {
          expect(JSON.stringify(r.direct.left)).not.toContain(KEY)
          expect(r.direct.left.message).not.toContain(KEY)
        }
      }
    }))

  it.scoped("streams the direct path cannot express go through the package", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.streamed("x") })
      const { direct } = yield* models(fake)
      const prompt = [{ role: "user" as const, content: [{ type: "text" as const, text: "hi", options: { openrouter: { cacheControl: { type: "ephemeral" as const } } } }] }]
      // The stub HttpClient dies when used: the stream took the package's route.
      const exit = yield* Effect.exit(Stream.runDrain(direct.streamText({ prompt })))
      expect(exit._tag).toBe("Failure")
      expect(fake.requests).toHaveLength(0)
    }))

  it.scopedLive("a reader that stops early aborts the request", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.streamed("a slow answer in many pieces", { pieceChars: 2, gapMs: 200 }) })
      const { direct } = yield* models(fake)
      const first = yield* Stream.runCollect(Stream.take(direct.streamText({ prompt: "hi" }), 3))
      expect(Chunk.toArray(first).map((p) => p.type)).toEqual(["response-metadata", "text-start", "text-delta"])
      for (let i = 0; i < 100 && fake.openConnections() > 0; i++) yield* Effect.sleep("10 millis")
      expect(fake.openConnections()).toBe(0)
    }))

  it.scopedLive("an answer read to its end leaves its connection open for the next call", () =>
    Effect.gen(function*() {
      // `[DONE]` comes before the response's end, as a provider's chunked answer may: the reader is
      // through at `[DONE]`, and must not abort the exchange (that would close the connection).
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.streamed("a short answer", { endGapMs: 100 }) })
      const { direct } = yield* models(fake)
      for (let call = 0; call < 2; call++) {
        const parts = Chunk.toArray(yield* Stream.runCollect(direct.streamText({ prompt: "hi" })))
        expect(parts.at(-1)?.type).toBe("finish")
        yield* Effect.sleep("200 millis")
        expect(fake.openConnections()).toBe(1)
      }
    }))
})
