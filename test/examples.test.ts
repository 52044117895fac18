/**
 * The README's library example, tested the way users test theirs: swap the provider Layer for a
 * scripted `LanguageModel` and keep everything else (events, retries, pricing, history) real.
 */
import { LanguageModel } from "@effect/ai"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { headline } from "../examples/headline.js"
import * as TestLayer from "effect-agents/TestLayer"
import { RunHistory } from "../src/services/RunHistory.js"

/** A provider that always answers with this JSON text. */
const scripted = (text: string) =>
  Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: () =>
        Effect.succeed([
          { type: "text", text },
          { type: "finish", reason: "stop", usage: { inputTokens: 12, outputTokens: 8, totalTokens: 20 } }
        ]),
      streamText: () => Effect.dieMessage("not used") as never
    })
  )

describe("examples/headline.ts", () => {
  // Live clock: the history recorder writes in the background on real time.
  it.live("runs on the TestLayer with a scripted model and lands in the history", () =>
    Effect.gen(function*() {
      const report = yield* headline.runReport("Effect 3.22 ships faster fibers")
      expect(report.status).toBe("succeeded")
      expect(report.output).toEqual({ headline: "Fast fibers", teaser: "Effect got quicker." })
      expect(report.usage).toEqual({ inputTokens: 12, outputTokens: 8 })
      expect(report.steps.map((s) => s.label)).toEqual(["headline"])
      yield* Effect.sleep("300 millis")
      const runs = yield* Effect.flatMap(RunHistory, (h) => h.listRuns({ limit: 5 }))
      expect(runs.map((r) => [r.id, r.status])).toContainEqual([report.id, "succeeded"])
    }).pipe(
      Effect.provide(TestLayer.layer({ languageModel: scripted(JSON.stringify({ headline: "Fast fibers", teaser: "Effect got quicker." })) }))
    ))

  it.effect("a model that keeps answering garbage ends in a typed OutputParseError", () =>
    Effect.gen(function*() {
      const report = yield* headline.runReport("anything")
      expect(report.status).toBe("failed")
      expect(report.error?.tag).toBe("OutputParseError")
    }).pipe(Effect.provide(TestLayer.layer({ languageModel: scripted("not json at all") }))))

  it.effect("runs on the simulated provider by default", () =>
    Effect.gen(function*() {
      const report = yield* headline.runReport("Effect 3.22 ships faster fibers")
      expect(report.status).toBe("succeeded")
      expect(typeof (report.output as { headline: unknown }).headline).toBe("string")
    }).pipe(Effect.provide(TestLayer.layer())))
})
