/**
 * The README's "Testing your workflows" example, as a test: a model that fails with a 503 twice
 * and then answers, on the TestLayer, where retries are instant — no TestClock needed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ScriptedModel, TestLayer } from "effect-agents"
import { headline } from "../examples/headline.js"

describe("Testing your workflows (README)", () => {
  it.effect("the provider fails with a 503 twice, then answers: the run succeeds on the third attempt", () =>
    Effect.gen(function*() {
      const report = yield* headline.runReport("Effect 3.22 ships faster fibers")
      expect(report.status).toBe("succeeded")
      expect(report.output).toEqual({ headline: "Fast fibers", teaser: "Effect got quicker." })
      expect(report.steps[0]?.attempts).toBe(3)
      expect(yield* ScriptedModel.calls).toBe(3)
    }).pipe(
      Effect.provide(TestLayer.layer({
        languageModel: ScriptedModel.layer([
          ScriptedModel.fail(503),
          ScriptedModel.fail(503),
          ScriptedModel.answer({ headline: "Fast fibers", teaser: "Effect got quicker." })
        ])
      }))
    ))
})
