/**
 * The README's "Testing your workflows" example, as a test: a model that fails with a 503 twice
 * and then answers, on the TestLayer, where retries are instant — no TestClock needed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { ScriptedModel } from "effect-agents"
import * as TestLayer from "effect-agents/TestLayer"
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

describe("the README's copy of this test", () => {
  it("is this file's test, word for word (only the import of the workflow differs)", () => {
    const block = (text: string) => {
      const start = text.indexOf(`describe("Testing your workflows (README)"`)
      return text.slice(start, text.indexOf("\n})\n", start) + 3)
    }
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const section = readme.slice(readme.indexOf("### Testing your workflows"))
    const self = readFileSync(new URL(import.meta.url), "utf8")
    expect(block(self).length).toBeGreaterThan(100)
    expect(block(section)).toBe(block(self))
  })
})
