/**
 * ScriptedModel: one line per call — answers with their token usage, and failures that are the
 * project's typed `LlmError`s, so the resilient layer and agents treat them as the real thing.
 */
import { LanguageModel } from "@effect/ai"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { headline } from "../examples/headline.js"
import { ScriptedModel } from "../src/index.js"
import * as TestLayer from "../src/layers/TestLayer.js"
import { isRetryable, type LlmError } from "../src/services/LlmError.js"

const errorOf = (step: ScriptedModel.Step): LlmError => {
  if (step._tag !== "Fail") throw new Error("not a failure step")
  return step.error
}

describe("ScriptedModel steps", () => {
  it("HTTP statuses map as a provider's responses do: 5xx and 408 retried, 401/403 and 4xx not", () => {
    const seen = [503, 500, 408, 429, 401, 403, 400, 422].map((status) => {
      const error = errorOf(ScriptedModel.fail(status))
      return [status, error._tag, isRetryable(error)]
    })
    expect(seen).toEqual([
      [503, "ProviderUnavailable", true],
      [500, "ProviderUnavailable", true],
      [408, "ProviderUnavailable", true],
      [429, "RateLimited", true],
      [401, "Unauthorized", false],
      [403, "Unauthorized", false],
      [400, "BadRequest", false],
      [422, "BadRequest", false]
    ])
    expect(errorOf(ScriptedModel.fail(503))).toMatchObject({ status: 503 })
  })

  it("rateLimited carries its Retry-After, timeout its limit, malformed what was sent", () => {
    expect(errorOf(ScriptedModel.rateLimited({ retryAfter: "2 seconds" }))).toMatchObject({ _tag: "RateLimited", retryAfterMs: 2_000 })
    expect(errorOf(ScriptedModel.rateLimited())).not.toHaveProperty("retryAfterMs")
    expect(errorOf(ScriptedModel.timeout("30 seconds"))).toMatchObject({ _tag: "Timeout", timeoutMs: 30_000 })
    expect(errorOf(ScriptedModel.malformed("not json"))).toMatchObject({ _tag: "MalformedResponse", raw: "not json" })
  })

  it("answer takes text as it is and anything else as its JSON", () => {
    expect(ScriptedModel.answer("plain")).toMatchObject({ text: "plain" })
    expect(ScriptedModel.answer({ a: 1 })).toMatchObject({ text: "{\"a\":1}", usage: { inputTokens: 10, outputTokens: 5 } })
  })
})

describe("ScriptedModel as a LanguageModel", () => {
  it.effect("plays its steps in order, reports token usage and counts calls; a failure is the typed error", () =>
    Effect.gen(function*() {
      const first = yield* LanguageModel.generateText({ prompt: "hi" })
      expect(first.text).toBe("hello")
      expect(first.usage).toMatchObject({ inputTokens: 7, outputTokens: 3 })
      const failed = yield* Effect.flip(LanguageModel.generateText({ prompt: "again" }))
      expect(failed._tag === "UnknownError" ? failed.cause : failed).toMatchObject({ _tag: "ProviderUnavailable", status: 503 })
      expect(yield* ScriptedModel.calls).toBe(2)
      expect(yield* ScriptedModel.remaining).toBe(0)
      const beyond = yield* Effect.exit(LanguageModel.generateText({ prompt: "one too many" }))
      expect(Exit.isFailure(beyond) && Cause.isDie(beyond.cause)).toBe(true)
      expect(Exit.isFailure(beyond) ? Cause.pretty(beyond.cause) : "").toContain("call #3, but the script has 2 step(s)")
    }).pipe(Effect.provide(ScriptedModel.layer([
      ScriptedModel.answer("hello", { inputTokens: 7, outputTokens: 3 }),
      ScriptedModel.fail(503)
    ]))))

  it.effect("on the TestLayer, the run reports the scripted usage", () =>
    Effect.gen(function*() {
      const report = yield* headline.runReport("some text")
      expect(report.usage).toEqual({ inputTokens: 12, outputTokens: 8 })
    }).pipe(Effect.provide(TestLayer.layer({
      languageModel: ScriptedModel.layer([
        ScriptedModel.answer({ headline: "h", teaser: "t" }, { inputTokens: 12, outputTokens: 8 })
      ])
    }))))

  it.effect("a 400 is not retried: the run fails with BadRequest after one call", () =>
    Effect.gen(function*() {
      const report = yield* headline.runReport("some text")
      expect(report.status).toBe("failed")
      expect(report.error?.tag).toBe("BadRequest")
      expect(yield* ScriptedModel.calls).toBe(1)
    }).pipe(Effect.provide(TestLayer.layer({
      languageModel: ScriptedModel.layer([ScriptedModel.fail(400), ScriptedModel.answer({ headline: "h", teaser: "t" })])
    }))))

  it.effect("malformed output is re-asked once by the agent, then the run fails with OutputParseError", () =>
    Effect.gen(function*() {
      const report = yield* headline.runReport("some text")
      expect(report.status).toBe("failed")
      expect(report.error?.tag).toBe("OutputParseError")
      expect(yield* ScriptedModel.calls).toBe(2)
    }).pipe(Effect.provide(TestLayer.layer({
      languageModel: ScriptedModel.layer([ScriptedModel.malformed("not json"), ScriptedModel.malformed("still not json")])
    }))))

  it.effect("each build of the layer starts the script afresh", () =>
    Effect.gen(function*() {
      const layer = ScriptedModel.layer([ScriptedModel.answer("once")])
      const play = Effect.flatMap(LanguageModel.generateText({ prompt: "x" }), (r) => Effect.succeed(r.text))
      expect(yield* Effect.provide(play, layer)).toBe("once")
      expect(yield* Effect.provide(play, layer)).toBe("once")
    }))
})
