/**
 * The HTTP provider Layers (OpenRouter, OpenAI-compatible, Gemini) against a real loopback fake
 * provider: what they send, what they return, and how every failure maps to an `LlmError` without
 * ever revealing the API key.
 */
import type * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Either, Inspectable, Layer, Schema, Tracer } from "effect"
import * as LlmProvider from "../src/layers/LlmProvider.js"
import type { AppConfigShape } from "../src/services/AppConfig.js"
import { fromAiError, type LlmError } from "../src/services/LlmError.js"
import { testConfig, testConfigLayer } from "./support/config.js"
import * as FakeProvider from "./support/FakeProvider.js"

const KEY = "sk-or-v1-TEST-KEY-7f3a9c1e5b2d4068"
const GOOGLE_KEY = "AIzaTEST-GOOGLE-KEY-0123456789abcdef"

/**
 * Builds in another fiber, as an application builds its Layers: FiberRef changes a constructor makes
 * for its own scope (the Gemini client extends the header redaction list that way) must not reach
 * the fiber that makes the calls, or tests would pass where the application leaks.
 */
const buildElsewhere = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const built = yield* Deferred.make<A, E>()
    yield* Effect.forkScoped(Effect.zipRight(Effect.intoDeferred(self, built), Effect.never))
    return yield* Deferred.await(built)
  })

/** A fake provider plus a `LanguageModel` of the provider the environment selects, pointed at it. */
const setup = (env: (fake: FakeProvider.FakeProvider) => Record<string, string>, model?: string) =>
  Effect.gen(function*() {
    const fake = yield* FakeProvider.make()
    const config = testConfig(env(fake))
    const lm = yield* buildElsewhere(LlmProvider.makeModel(config, model))
    return { fake, config, lm }
  })

const openrouter = (fake: FakeProvider.FakeProvider) => ({
  LLM_PROVIDER: "openrouter",
  OPENROUTER_API_KEY: KEY,
  LLM_BASE_URL: fake.openaiUrl,
  LLM_MODEL: "anthropic/claude-3.5-haiku"
})

const gemini = (fake: FakeProvider.FakeProvider) => ({
  LLM_PROVIDER: "google",
  GOOGLE_API_KEY: GOOGLE_KEY,
  LLM_BASE_URL: fake.url
})

const mapped = (error: AiError.AiError, config: AppConfigShape): LlmError =>
  fromAiError(error, { provider: LlmProvider.providerLabel(config), model: config.llm.model }, Date.now())

/** Every way an error is likely to be printed: none may contain the key. */
const renderings = (error: AiError.AiError, config: AppConfigShape): ReadonlyArray<string> => [
  JSON.stringify(error),
  error.message,
  String(error),
  Inspectable.format(error),
  Cause.pretty(Cause.fail(error)),
  JSON.stringify(mapped(error, config)),
  mapped(error, config).message
]

const Review = Schema.Struct({
  title: Schema.String,
  score: Schema.Number,
  tags: Schema.Array(Schema.String)
})

const provideHttp = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provide(self, NodeHttpClient.layerUndici)

describe("OpenRouter provider", () => {
  it.scopedLive("sends the model, the messages and the Bearer key, and returns text and usage", () =>
    Effect.gen(function*() {
      const { fake, lm } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.ok("Paris is the capital of France.", {
        usage: { promptTokens: 21, completionTokens: 8, cost: 0.00042 }
      }))
      const response = yield* lm.generateText({
        prompt: [
          { role: "system", content: "Answer briefly." },
          { role: "user", content: "What is the capital of France?" }
        ]
      })
      expect(response.text).toBe("Paris is the capital of France.")
      expect(response.usage.inputTokens).toBe(21)
      expect(response.usage.outputTokens).toBe(8)
      const finish = response.content.find((p) => p.type === "finish")
      expect(finish?.metadata.openrouter?.usage?.cost).toBe(0.00042)

      const request = fake.requests[0]!
      expect(request.path).toBe("/v1/chat/completions")
      expect(request.headers["authorization"]).toBe(`Bearer ${KEY}`)
      expect(request.body).toMatchObject({
        model: "anthropic/claude-3.5-haiku",
        messages: [
          { role: "system", content: "Answer briefly." },
          { role: "user", content: "What is the capital of France?" }
        ]
      })
    }).pipe(provideHttp))

  it.scopedLive("decodes structured output into the requested Schema", () =>
    Effect.gen(function*() {
      const { fake, lm } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.ok(JSON.stringify({ title: "Dune", score: 9.5, tags: ["sci-fi", "classic"] })))
      const response = yield* lm.generateObject({ prompt: "Review Dune", schema: Review, objectName: "review" })
      expect(response.value).toEqual({ title: "Dune", score: 9.5, tags: ["sci-fi", "classic"] })
      expect(fake.requests[0]!.body).toMatchObject({
        response_format: { type: "json_schema", json_schema: { name: "review", strict: true } }
      })
    }).pipe(provideHttp))

  it.scopedLive("fails with MalformedResponse when structured output does not match the Schema", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.ok(JSON.stringify({ title: "Dune" })))
      const error = yield* Effect.flip(lm.generateObject({ prompt: "Review Dune", schema: Review }))
      expect(mapped(error, config)._tag).toBe("MalformedResponse")
    }).pipe(provideHttp))

  it.scopedLive("a model for a fallback id sends that id", () =>
    Effect.gen(function*() {
      const { fake, lm } = yield* setup(openrouter, "openai/gpt-4o-mini")
      yield* lm.generateText({ prompt: "hi" })
      expect(fake.requests[0]!.model).toBe("openai/gpt-4o-mini")
    }).pipe(provideHttp))
})

describe("OpenAI-compatible provider", () => {
  it.scopedLive("sends the configured key as a Bearer token to LLM_BASE_URL", () =>
    Effect.gen(function*() {
      const { fake, lm } = yield* setup((f) => ({
        LLM_PROVIDER: "openai",
        OPENAI_API_KEY: KEY,
        LLM_BASE_URL: f.openaiUrl
      }))
      const response = yield* lm.generateText({ prompt: "Say hi" })
      expect(response.text).toBe("The fake provider answered.")
      expect(response.usage.outputTokens).toBeGreaterThan(0)
      const request = fake.requests[0]!
      expect(request.headers["authorization"]).toBe(`Bearer ${KEY}`)
      expect(request.model).toBe("gpt-4o-mini")
      expect(request.body).toMatchObject({ messages: [{ role: "user", content: "Say hi" }] })
    }).pipe(provideHttp))

  it.scopedLive("sends no Authorization header to a keyless local server", () =>
    Effect.gen(function*() {
      const { fake, lm } = yield* setup((f) => ({ LLM_PROVIDER: "openai", LLM_BASE_URL: f.openaiUrl, LLM_MODEL: "llama3.2" }))
      yield* lm.generateText({ prompt: "Say hi" })
      expect(fake.requests[0]!.headers["authorization"]).toBeUndefined()
      expect(fake.requests[0]!.model).toBe("llama3.2")
    }).pipe(provideHttp))
})

describe("Gemini provider", () => {
  it.scopedLive("calls generateContent for the model with the key header and returns text and usage", () =>
    Effect.gen(function*() {
      const { fake, lm } = yield* setup(gemini)
      fake.enqueue(FakeProvider.ok("Bonjour!", { usage: { promptTokens: 4, completionTokens: 2 } }))
      const response = yield* lm.generateText({ prompt: "Say hello in French" })
      expect(response.text).toBe("Bonjour!")
      expect(response.usage.inputTokens).toBe(4)
      expect(response.usage.outputTokens).toBe(2)
      const request = fake.requests[0]!
      expect(request.path).toBe("/v1beta/models/gemini-2.0-flash:generateContent")
      expect(request.headers["x-goog-api-key"]).toBe(GOOGLE_KEY)
      expect(request.body).toMatchObject({ contents: [{ role: "user", parts: [{ text: "Say hello in French" }] }] })
    }).pipe(provideHttp))

  it.scopedLive("asks for JSON and decodes structured output into the Schema", () =>
    Effect.gen(function*() {
      const { fake, lm } = yield* setup(gemini)
      fake.enqueue(FakeProvider.ok(JSON.stringify({ title: "Emma", score: 8, tags: [] })))
      const response = yield* lm.generateObject({ prompt: "Review Emma", schema: Review })
      expect(response.value).toEqual({ title: "Emma", score: 8, tags: [] })
      expect(fake.requests[0]!.body).toMatchObject({ generationConfig: { responseMimeType: "application/json" } })
    }).pipe(provideHttp))

  it.scopedLive("a 429 with Retry-After becomes RateLimited", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(gemini)
      fake.enqueue(FakeProvider.status(429, { retryAfter: "7" }))
      const error = mapped(yield* Effect.flip(lm.generateText({ prompt: "hi" })), config)
      expect(error).toMatchObject({ _tag: "RateLimited", provider: "google", model: "gemini-2.0-flash", retryAfterMs: 7000 })
    }).pipe(provideHttp))
})

describe("provider failures", () => {
  it.scopedLive("a 429 with Retry-After in seconds becomes RateLimited with retryAfterMs", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.status(429, { retryAfter: "2" }))
      const error = mapped(yield* Effect.flip(lm.generateText({ prompt: "hi" })), config)
      expect(error).toMatchObject({ _tag: "RateLimited", provider: "openrouter", retryAfterMs: 2000 })
    }).pipe(provideHttp))

  it.scopedLive("a 429 with an HTTP-date Retry-After waits until that date", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.status(429, { retryAfter: new Date(Date.now() + 30_000).toUTCString() }))
      const error = mapped(yield* Effect.flip(lm.generateText({ prompt: "hi" })), config)
      expect(error._tag).toBe("RateLimited")
      const wait = error._tag === "RateLimited" ? error.retryAfterMs ?? 0 : 0
      expect(wait).toBeGreaterThan(25_000)
      expect(wait).toBeLessThanOrEqual(30_000)
    }).pipe(provideHttp))

  it.scopedLive("500, 502 and 503 become ProviderUnavailable with the status", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(openrouter)
      for (const code of [500, 502, 503]) {
        fake.enqueue(FakeProvider.status(code))
        const error = mapped(yield* Effect.flip(lm.generateText({ prompt: "hi" })), config)
        expect(error).toMatchObject({ _tag: "ProviderUnavailable", status: code })
      }
    }).pipe(provideHttp))

  it.scopedLive("401 and 403 become Unauthorized", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(openrouter)
      for (const code of [401, 403]) {
        fake.enqueue(FakeProvider.status(code))
        const error = mapped(yield* Effect.flip(lm.generateText({ prompt: "hi" })), config)
        expect(error).toMatchObject({ _tag: "Unauthorized", status: code })
      }
    }).pipe(provideHttp))

  it.scopedLive("a 400 becomes BadRequest carrying the provider's own message", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.status(400, {
        body: JSON.stringify({ error: { code: 400, message: "model not found: nope/nope" } })
      }))
      const error = mapped(yield* Effect.flip(lm.generateText({ prompt: "hi" })), config)
      expect(error).toMatchObject({ _tag: "BadRequest", status: 400, detail: "model not found: nope/nope" })
    }).pipe(provideHttp))

  it.scopedLive("a 200 with a non-JSON body becomes MalformedResponse keeping the raw text", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.garbage("<html>upstream hiccup</html>"))
      const error = mapped(yield* Effect.flip(lm.generateText({ prompt: "hi" })), config)
      expect(error).toMatchObject({ _tag: "MalformedResponse", raw: "<html>upstream hiccup</html>" })
    }).pipe(provideHttp))

  it.scopedLive("a 200 with broken JSON becomes MalformedResponse", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.garbage("{\"id\": \"gen-1\", \"choi", "application/json"))
      const error = mapped(yield* Effect.flip(lm.generateText({ prompt: "hi" })), config)
      expect(error).toMatchObject({ _tag: "MalformedResponse", detail: "the response body is not valid JSON" })
    }).pipe(provideHttp))

  it.scopedLive("a reset connection becomes ProviderUnavailable", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.reset)
      const error = mapped(yield* Effect.flip(lm.generateText({ prompt: "hi" })), config)
      expect(error._tag).toBe("ProviderUnavailable")
    }).pipe(provideHttp))

  it.scopedLive("a hanging provider is cut by a timeout and the next call still succeeds", () =>
    Effect.gen(function*() {
      const { fake, lm } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.hang)
      const outcome = yield* lm.generateText({ prompt: "hi" }).pipe(Effect.timeout(Duration.millis(200)), Effect.either)
      expect(Either.isLeft(outcome) && outcome.left._tag).toBe("TimeoutException")
      const response = yield* lm.generateText({ prompt: "again" })
      expect(response.text).toBe("The fake provider answered.")
    }).pipe(provideHttp))
})

describe("API key secrecy", () => {
  const failures: ReadonlyArray<readonly [string, FakeProvider.Behaviour]> = [
    ["429", FakeProvider.status(429, { retryAfter: "1" })],
    ["500", FakeProvider.status(500)],
    ["502", FakeProvider.status(502)],
    ["401", FakeProvider.status(401)],
    ["HTML body", FakeProvider.garbage()],
    ["broken JSON body", FakeProvider.garbage("{\"broken", "application/json")],
    ["reset", FakeProvider.reset],
    ["echoed key", FakeProvider.status(401, { body: JSON.stringify({ error: { code: 401, message: `bad key ${KEY}` } }) })]
  ]

  const assertNoKey = (lm: LanguageModel.Service, fake: FakeProvider.FakeProvider, config: AppConfigShape, key: string) =>
    Effect.gen(function*() {
      for (const [name, behaviour] of failures) {
        fake.enqueue(behaviour)
        const error = yield* Effect.flip(lm.generateText({ prompt: "hi" }))
        for (const text of renderings(error, config)) {
          expect(text.includes(key), `${name}: key found in ${text.slice(0, 200)}`).toBe(false)
        }
      }
      // The key really was sent, so its absence above is redaction, not a missing header.
      expect(Object.values(fake.requests[0]!.headers).some((v) => v.includes(key))).toBe(true)
    })

  it.scopedLive("no OpenRouter error shows the key, however it is printed", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(openrouter)
      yield* assertNoKey(lm, fake, config, KEY)
    }).pipe(provideHttp))

  it.scopedLive("no Gemini error shows the key, however it is printed", () =>
    Effect.gen(function*() {
      const { fake, lm, config } = yield* setup(gemini)
      yield* assertNoKey(lm, fake, config, GOOGLE_KEY)
    }).pipe(provideHttp))

  /** Runs `self` with a tracer that records every span attribute, and returns them as text. */
  const spanAttributes = <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const base = yield* Effect.tracer
      const seen: Array<string> = []
      const tracer = Tracer.make({
        context: base.context,
        span: (...args) => {
          const span = base.span(...args)
          const attribute = span.attribute.bind(span)
          span.attribute = (key, value) => {
            seen.push(`${key}=${String(value)}`)
            attribute(key, value)
          }
          return span
        }
      })
      yield* Effect.withTracer(self, tracer)
      return seen
    })

  it.scopedLive("no span attribute of an OpenRouter call shows the key, on either path", () =>
    Effect.gen(function*() {
      const { lm } = yield* setup(openrouter)
      // A provider option (prompt caching) sends the call through the package and the platform's
      // HTTP client, which records request headers on its span.
      const viaPackage = yield* spanAttributes(lm.generateText({
        prompt: [{
          role: "user",
          content: [{ type: "text", text: "hi", options: { openrouter: { cacheControl: { type: "ephemeral" } } } }]
        }]
      }))
      expect(viaPackage.some((a) => a.startsWith("http.request.header.authorization"))).toBe(true)
      expect(viaPackage.filter((a) => a.includes(KEY))).toEqual([])
      const direct = yield* spanAttributes(lm.generateText({ prompt: "hi" }))
      expect(direct.filter((a) => a.includes(KEY))).toEqual([])
    }).pipe(provideHttp))

  it.scopedLive("no span attribute of a Gemini call shows the key", () =>
    Effect.gen(function*() {
      const { lm } = yield* setup(gemini)
      const seen = yield* spanAttributes(lm.generateText({ prompt: "hi" }))
      expect(seen.some((a) => a.startsWith("http.request.header.x-goog-api-key"))).toBe(true)
      expect(seen.filter((a) => a.includes(GOOGLE_KEY))).toEqual([])
    }).pipe(provideHttp))

  it.scopedLive("credential headers in an error read <redacted>", () =>
    Effect.gen(function*() {
      const { fake, lm } = yield* setup(openrouter)
      fake.enqueue(FakeProvider.status(500))
      const error = yield* Effect.flip(lm.generateText({ prompt: "hi" }))
      expect(error._tag).toBe("HttpResponseError")
      if (error._tag === "HttpResponseError") expect(error.request.headers["authorization"]).toBe("<redacted>")
    }).pipe(provideHttp))
})

describe("provider selection", () => {
  it.scopedLive("the configured layer calls the provider named by LLM_PROVIDER", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make()
      const config = testConfigLayer({ LLM_PROVIDER: "openai", LLM_BASE_URL: fake.openaiUrl, LLM_MODEL: "qwen2.5" })
      const response = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
        Effect.provide(LlmProvider.layer.pipe(Layer.provide(config)))
      )
      expect(response.text).toBe("The fake provider answered.")
      expect(fake.requests.map((r) => r.model)).toEqual(["qwen2.5"])
    }).pipe(provideHttp))

  it.scopedLive("modelLayer builds the same provider for another model id", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make()
      const config = testConfig(openrouter(fake))
      yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
        Effect.provide(LlmProvider.modelLayer(config, "mistralai/mistral-small"))
      )
      expect(fake.requests[0]!.model).toBe("mistralai/mistral-small")
      expect(fake.requests[0]!.headers["authorization"]).toBe(`Bearer ${KEY}`)
    }).pipe(provideHttp))

  it("labels each provider by its configured name", () => {
    expect(LlmProvider.providerLabel(testConfig({ OPENROUTER_API_KEY: KEY }))).toBe("openrouter")
    expect(LlmProvider.providerLabel(testConfig({ GOOGLE_API_KEY: GOOGLE_KEY }))).toBe("google")
    expect(LlmProvider.providerLabel(testConfig({}))).toBe("simulated")
    expect(LlmProvider.modelLabel(testConfig({}), "gpt-4o")).toBe("simulated-gpt-4o")
  })
})
