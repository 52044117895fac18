/**
 * The chat-completions adapter's direct path against `@effect/ai-openrouter`: each kind of call is
 * sent both ways to the loopback fake, and the request on the wire, the response parts and the
 * errors must be the same. The direct path must not touch `HttpClient` at all.
 */
import * as AiError from "@effect/ai/AiError"
import type * as LanguageModel from "@effect/ai/LanguageModel"
import * as Prompt from "@effect/ai/Prompt"
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import * as OpenRouterLanguageModel from "@effect/ai-openrouter/OpenRouterLanguageModel"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Redacted, Schema, TestClock } from "effect"
import * as LlmOpenAiCompatible from "../src/layers/LlmOpenAiCompatible.js"
import { fromAiError, type LlmError } from "../src/services/LlmError.js"
import * as ModelFactory from "../src/services/ModelFactory.js"
import * as FakeProvider from "./support/FakeProvider.js"

const KEY = "sk-or-v1-PARITY-KEY-5e1d"

/** An HTTP client that fails the test if anything uses it. */
const noHttpClient = Layer.succeed(
  HttpClient.HttpClient,
  HttpClient.make((request) => Effect.die(new Error(`HttpClient used for ${request.url}`)))
)

const modelsAt = (fake: FakeProvider.FakeProvider, deadline?: ModelFactory.Deadline) =>
  Effect.gen(function*() {
    const options: LlmOpenAiCompatible.Options = {
      model: "vendor/model-1",
      apiUrl: fake.openaiUrl,
      apiKey: Redacted.make(KEY),
      title: "effect-agents",
      deadline
    }
    const direct = yield* LlmOpenAiCompatible.make(options).pipe(Effect.provide(noHttpClient))
    // Built in the test's scope: the client must outlive the model's construction.
    const http = yield* Layer.build(NodeHttpClient.layerUndici)
    const viaPackage = yield* LlmOpenAiCompatible.make({ ...options, direct: false }).pipe(Effect.provide(http))
    return { direct, viaPackage }
  })

/** Runs `call` on both models with the same scripted answer; returns both requests and outcomes. */
const both = <A>(
  answer: FakeProvider.Behaviour,
  call: (lm: LanguageModel.Service) => Effect.Effect<A, AiError.AiError>
) =>
  Effect.gen(function*() {
    const fake = yield* FakeProvider.make({ script: () => answer })
    const { direct, viaPackage } = yield* modelsAt(fake)
    const a = yield* Effect.either(call(direct))
    const b = yield* Effect.either(call(viaPackage))
    expect(fake.requests).toHaveLength(2)
    const [ra, rb] = fake.requests
    return { direct: a, viaPackage: b, requests: [ra!, rb!] as const }
  })

const sameRequest = (requests: readonly [FakeProvider.RecordedRequest, FakeProvider.RecordedRequest]) => {
  const [a, b] = requests
  expect(a.path).toBe(b.path)
  expect(a.body).toEqual(b.body)
  for (const name of ["authorization", "x-title", "content-type", "accept"]) expect(a.headers[name]).toBe(b.headers[name])
}

const Answer = Schema.Struct({ answer: Schema.String, confidence: Schema.Number }).annotations({
  identifier: "Answer",
  description: "An answer and how sure the model is"
})

/** A fixed chat completion (the fake's own answers carry a fresh id per request). */
const completion = (content: string, extra: Record<string, unknown> = {}) =>
  FakeProvider.garbage(
    JSON.stringify({
      id: "gen-fixed",
      object: "chat.completion",
      model: "vendor/model-1",
      created: 1_760_000_000,
      choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content } }],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, cost: 0.001 },
      ...extra
    }),
    "application/json"
  )

const richCompletion = JSON.stringify({
  id: "gen-123",
  object: "chat.completion",
  model: "vendor/model-1",
  created: 1_760_000_000,
  provider: "SomeHost",
  choices: [{
    index: 0,
    finish_reason: "length",
    message: {
      role: "assistant",
      content: "Paris is the capital.",
      reasoning: "thinking about France",
      reasoning_details: [
        { type: "reasoning.summary", summary: "a summary" },
        { type: "reasoning.encrypted", data: "b64data", format: "anthropic-claude-v1" },
        { type: "reasoning.text", text: "step one", signature: "sig" }
      ],
      annotations: [{ type: "url_citation", url_citation: { url: "https://example.org/paris", title: "Paris", content: "c", start_index: 0, end_index: 5 } }]
    }
  }],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 7,
    total_tokens: 19,
    cost: 0.00042,
    prompt_tokens_details: { cached_tokens: 4 },
    completion_tokens_details: { reasoning_tokens: 3 }
  }
})

const Weather = Tool.make("weather", {
  description: "Current temperature of a city",
  parameters: { city: Schema.String, unit: Schema.optional(Schema.Literal("C", "F")) },
  success: Schema.Number
})
const tools = Toolkit.make(Weather, Tool.make("now", { success: Schema.Number }))
/** The toolkit as agents pass it: with handlers, its calls left to the caller. */
const withTools = Effect.flatMap(
  tools,
  (toolkit) => Effect.succeed({ toolkit, disableToolCallResolution: true as const })
).pipe(Effect.provide(tools.toLayer({ weather: () => Effect.succeed(3), now: () => Effect.succeed(0) })))

/** A completion calling tools (`arguments` as JSON text, as providers send them). */
const toolCompletion = (calls: ReadonlyArray<{ id: string; name: string; arguments: string }>, content: string | null = null) =>
  completion("", {
    choices: [{
      index: 0,
      finish_reason: "tool_calls",
      message: { role: "assistant", content, tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) }
    }]
  })

/** A transcript with a tool round: the assistant's calls and their results. */
const toolTranscript: Prompt.RawInput = [
  { role: "system", content: "Use the tools." },
  { role: "user", content: "Weather in Oslo?" },
  {
    role: "assistant",
    content: [
      { type: "text", text: "Let me look." },
      { type: "tool-call", id: "call_1", name: "weather", params: { city: "Oslo" }, providerExecuted: false },
      { type: "tool-call", id: "call_2", name: "now", params: {}, providerExecuted: false }
    ]
  },
  {
    role: "tool",
    content: [
      { type: "tool-result", id: "call_1", name: "weather", isFailure: false, result: 3, providerExecuted: false },
      { type: "tool-result", id: "call_2", name: "now", isFailure: true, result: { error: "no clock" }, providerExecuted: false }
    ]
  }
]

describe("chat completions: direct path vs @effect/ai-openrouter", () => {
  it.scopedLive("tools offered and tool calls answered: same request, same tool-call parts, decoded params", () =>
    Effect.gen(function*() {
      const options = yield* withTools
      const r = yield* both(
        toolCompletion([{ id: "call_a", name: "weather", arguments: "{\"city\":\"Oslo\",\"unit\":\"C\"}" }, { id: "call_b", name: "now", arguments: "{}" }], "Checking."),
        (lm) => lm.generateText({ prompt: "Weather in Oslo?", ...options })
      )
      sameRequest(r.requests)
      expect((r.requests[0].body as { tools: ReadonlyArray<{ function: { name: string } }> }).tools.map((t) => t.function.name)).toEqual(["weather", "now"])
      expect(r.direct).toEqual(r.viaPackage)
      expect(r.direct._tag === "Right" && r.direct.right.toolCalls.map((c) => [c.id, c.name, c.params])).toEqual([
        ["call_a", "weather", { city: "Oslo", unit: "C" }],
        ["call_b", "now", {}]
      ])
    }))

  it.scopedLive("a transcript with tool calls and results, and a tool choice: same request, same answer", () =>
    Effect.gen(function*() {
      const options = yield* withTools
      for (const toolChoice of ["none", "required", { tool: "weather" }] as const) {
        const r = yield* both(completion("It is 3°C."), (lm) => lm.generateText({ prompt: toolTranscript, ...options, toolChoice }))
        sameRequest(r.requests)
        expect(r.direct).toEqual(r.viaPackage)
      }
    }))

  it.scopedLive("structured output with tools declared: same request, same value", () =>
    Effect.gen(function*() {
      const options = yield* withTools
      const r = yield* both(completion("{\"answer\":\"3°C\",\"confidence\":0.9}"), (lm) =>
        lm.generateObject({ prompt: toolTranscript, schema: Answer, ...options, toolChoice: "none" }))
      sameRequest(r.requests)
      expect(r.direct).toEqual(r.viaPackage)
    }))

  it.scopedLive("a call to a tool not offered, or with arguments its Schema rejects, is MalformedResponse on both paths", () =>
    Effect.gen(function*() {
      const options = yield* withTools
      for (const call of [{ id: "c", name: "rm", arguments: "{}" }, { id: "c", name: "weather", arguments: "{\"city\":3}" }, { id: "c", name: "weather", arguments: "{not json" }]) {
        const r = yield* both(toolCompletion([call]), (lm) => lm.generateText({ prompt: "hi", ...options }))
        const tags = [r.direct, r.viaPackage].map((e) => e._tag === "Left" ? fromAiError(e.left, { provider: "openrouter", model: "m" }, 0)._tag : "Right")
        expect(tags).toEqual(["MalformedResponse", "MalformedResponse"])
      }
    }))

  it.scopedLive("tools whose calls LanguageModel should run go through the package", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.ok("no tools needed") })
      const { direct } = yield* modelsAt(fake)
      const { toolkit } = yield* withTools
      // The stub HttpClient dies when used: the call took the package's route.
      const exit = yield* Effect.exit(direct.generateText({ prompt: "hi", toolkit }))
      expect(exit._tag).toBe("Failure")
      expect(fake.requests).toHaveLength(0)
    }))

  it.scopedLive("a plain prompt: same request, same response parts", () =>
    Effect.gen(function*() {
      const r = yield* both(completion("Hello there"), (lm) =>
        lm.generateText({ prompt: "hi" }))
      sameRequest(r.requests)
      expect(r.direct).toEqual(r.viaPackage)
      expect(r.direct._tag === "Right" && r.direct.right.text).toBe("Hello there")
    }))

  it.scopedLive("system, user and assistant turns in the shapes agents pass", () =>
    Effect.gen(function*() {
      const encoded = [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Capital of France?" },
        { role: "assistant", content: "Paris." },
        { role: "user", content: "And of Italy?" }
      ] as const
      const r1 = yield* both(completion("Rome."), (lm) => lm.generateText({ prompt: encoded }))
      sameRequest(r1.requests)
      expect(r1.direct).toEqual(r1.viaPackage)
      const decoded = Prompt.make(encoded)
      const r2 = yield* both(FakeProvider.ok("Rome."), (lm) => lm.generateText({ prompt: decoded }))
      sameRequest(r2.requests)
      expect(r2.requests[0].body).toEqual(r1.requests[0].body)
    }))

  it.scopedLive("model settings from the package's config override reach the wire", () =>
    Effect.gen(function*() {
      const r = yield* both(FakeProvider.ok("ok"), (lm) =>
        OpenRouterLanguageModel.withConfigOverride(lm.generateText({ prompt: "hi" }), { temperature: 0.2, max_tokens: 64, top_p: 0.9 }))
      sameRequest(r.requests)
      expect(r.requests[0].body).toMatchObject({ temperature: 0.2, max_tokens: 64, top_p: 0.9 })
    }))

  it.scopedLive("structured output: same response_format, same decoded value", () =>
    Effect.gen(function*() {
      const r = yield* both(completion(JSON.stringify({ answer: "Paris", confidence: 0.9 })), (lm) =>
        lm.generateObject({ prompt: "Capital?", schema: Answer }))
      sameRequest(r.requests)
      expect(r.requests[0].body).toMatchObject({
        response_format: { type: "json_schema", json_schema: { name: "generateObject", description: "An answer and how sure the model is", strict: true } }
      })
      expect(r.direct).toEqual(r.viaPackage)
      expect(r.direct._tag === "Right" && r.direct.right.value).toEqual({ answer: "Paris", confidence: 0.9 })
      const named = yield* both(FakeProvider.ok(JSON.stringify({ answer: "Rome", confidence: 1 })), (lm) =>
        lm.generateObject({ prompt: "Capital?", schema: Answer, objectName: "capital" }))
      sameRequest(named.requests)
    }))

  it.scopedLive("an answer that breaks the schema is MalformedResponse on both paths, raw text kept", () =>
    Effect.gen(function*() {
      const r = yield* both(FakeProvider.ok(JSON.stringify({ answer: 42 })), (lm) => lm.generateObject({ prompt: "Capital?", schema: Answer }))
      const tagOf = (e: typeof r.direct): LlmError | undefined =>
        e._tag === "Left" ? fromAiError(e.left, { provider: "openrouter", model: "m" }, Date.now()) : undefined
      expect(tagOf(r.direct)?._tag).toBe("MalformedResponse")
      expect(tagOf(r.viaPackage)?._tag).toBe("MalformedResponse")
      const direct = tagOf(r.direct)
      expect(direct?._tag === "MalformedResponse" && direct.raw).toBe(JSON.stringify({ answer: 42 }))
    }))

  it.scopedLive("reasoning, citations, finish reason and detailed usage come out the same", () =>
    Effect.gen(function*() {
      const r = yield* both(FakeProvider.garbage(richCompletion, "application/json"), (lm) => lm.generateText({ prompt: "hi" }))
      expect(r.viaPackage._tag).toBe("Right")
      expect(r.direct).toEqual(r.viaPackage)
      const parts = r.direct._tag === "Right" ? r.direct.right.content.map((p) => p.type) : []
      expect(parts).toEqual(["response-metadata", "reasoning", "reasoning", "reasoning", "reasoning", "text", "source", "finish"])
    }))

  it.scopedLive("provider errors map to the same LlmError on both paths", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<FakeProvider.Behaviour> = [
        ...FakeProvider.statusErrors,
        FakeProvider.garbage(),
        FakeProvider.reset
      ]
      for (const behaviour of cases) {
        const r = yield* both(behaviour, (lm) => lm.generateText({ prompt: "hi" }))
        const mapped = (e: typeof r.direct) => {
          if (e._tag === "Right") return undefined
          const error = fromAiError(e.left, { provider: "openrouter", model: "m" }, 0)
          // What a user sees: the tag and its decisive fields (descriptions are worded per path).
          return {
            _tag: error._tag,
            ...("status" in error ? { status: error.status } : {}),
            ...("retryAfterMs" in error ? { retryAfterMs: error.retryAfterMs } : {})
          }
        }
        expect(mapped(r.direct), behaviour._tag).toEqual(mapped(r.viaPackage))
        // Credentials are blanked in the error on the direct path too.
        if (r.direct._tag === "Left") {
          expect(JSON.stringify(r.direct.left)).not.toContain(KEY)
          expect(r.direct.left.message).not.toContain(KEY)
        }
      }
    }))

  it.scopedLive("a non-JSON 200 keeps its raw text on the direct path", () =>
    Effect.gen(function*() {
      const r = yield* both(FakeProvider.garbage("<html>proxy says no</html>"), (lm) => lm.generateText({ prompt: "hi" }))
      const error = r.direct._tag === "Left" ? fromAiError(r.direct.left, { provider: "openrouter", model: "m" }, 0) : undefined
      expect(error?._tag).toBe("MalformedResponse")
      expect(error?._tag === "MalformedResponse" && error.raw).toBe("<html>proxy says no</html>")
    }))

  it.scopedLive("calls the direct path cannot express go through the package", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.ok("cached answer") })
      const { direct } = yield* modelsAt(fake)
      // Prompt caching is a provider option only the package sends; the stub HttpClient proves
      // the call took that route (it dies when used).
      const exit = yield* Effect.exit(direct.generateText({
        prompt: [{ role: "user", content: [{ type: "text", text: "hi", options: { openrouter: { cacheControl: { type: "ephemeral" } } } }] }]
      }))
      expect(exit._tag).toBe("Failure")
      expect(fake.requests).toHaveLength(0)
    }))
})

describe("chat completions: deadlines and interruption", () => {
  /** The deadline the resilient layer gives the model (`LLM_TIMEOUT`). */
  const deadline = (duration: Duration.DurationInput) =>
    ModelFactory.deadline(ModelFactory.refOf("openai", "vendor/model-1"), Duration.decode(duration))

  /** The `Timeout` a call failed with, as the resilient layer reads it back. */
  const timeoutOf = (error: AiError.AiError) =>
    fromAiError(error, { provider: "openai", model: "vendor/model-1" }, Date.now())

  /** Waits (live) until the fake has no open connection, up to a second; returns how many remain. */
  const connectionsAfterAWhile = (fake: FakeProvider.FakeProvider) =>
    Effect.gen(function*() {
      for (let i = 0; i < 100 && fake.openConnections() > 0; i++) yield* Effect.sleep("10 millis")
      return fake.openConnections()
    })

  it.scoped("the service is a plain LanguageModel: its three methods and nothing hidden", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.ok("hi") })
      const { direct } = yield* modelsAt(fake, deadline("5 seconds"))
      expect(Reflect.ownKeys(direct).map(String).sort()).toEqual(["generateObject", "generateText", "streamText"])
    }))

  it.scopedLive("a hanging request ends at the deadline with a Timeout, and its connection is closed", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.hang })
      const { direct } = yield* modelsAt(fake, deadline("50 millis"))
      const error = yield* Effect.flip(direct.generateText({ prompt: "hi" }))
      expect(timeoutOf(error)).toMatchObject({ _tag: "Timeout", timeoutMs: 50, provider: "openai" })
      expect(fake.requests).toHaveLength(1)
      // The request was aborted, not left hanging on the pool.
      expect(yield* connectionsAfterAWhile(fake)).toBe(0)
    }))

  it.scopedLive("an answer inside the deadline comes through unchanged", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.ok("in time") })
      const { direct } = yield* modelsAt(fake, deadline("5 seconds"))
      const response = yield* direct.generateText({ prompt: "hi" })
      expect(response.text).toBe("in time")
    }))

  it.scopedLive("a call that needs the package is held to the deadline too", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.hang })
      const { viaPackage } = yield* modelsAt(fake, deadline("50 millis"))
      const error = yield* Effect.flip(viaPackage.generateText({ prompt: "hi" }))
      expect(timeoutOf(error)).toMatchObject({ _tag: "Timeout", timeoutMs: 50 })
      expect(yield* connectionsAfterAWhile(fake)).toBe(0)
    }))

  it.scopedLive("interrupting the call aborts the request", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.hang })
      const { direct } = yield* modelsAt(fake, deadline("30 seconds"))
      const fiber = yield* Effect.fork(direct.generateText({ prompt: "hi" }))
      for (let i = 0; i < 100 && fake.requests.length === 0; i++) yield* Effect.sleep("10 millis")
      expect(fake.requests).toHaveLength(1)
      yield* Fiber.interrupt(fiber)
      expect(yield* connectionsAfterAWhile(fake)).toBe(0)
    }))

  it.scoped("the package path's deadline is kept by the fiber's clock (TestClock)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: () => FakeProvider.hang })
      const { viaPackage } = yield* modelsAt(fake, deadline("30 seconds"))
      const fiber = yield* Effect.fork(Effect.flip(viaPackage.generateText({ prompt: "hi" })))
      yield* TestClock.adjust("30 seconds")
      expect(timeoutOf(yield* Fiber.join(fiber))).toMatchObject({ _tag: "Timeout", timeoutMs: 30_000 })
    }))
})
