/**
 * The dashboard demo's inputs, plan and defaults: varied but reproducible inputs of which some
 * repeat (so the cache answers some runs, not all), a budget failure and a cancellation now and
 * then, and demo settings only where the user set nothing.
 */
import { describe, expect, it } from "vitest"
import { demoOverrides } from "../src/cli/demoDefaults.js"
import { makeDemoInputs } from "../src/cli/demoInputs.js"
import { BUDGET_EVERY, CANCEL_EVERY, makeDemoPlan, TINY_BUDGET_USD } from "../src/cli/demoPlan.js"
import type { EffectiveSetting } from "../src/services/AppConfig.js"

const draw = (seed: number, n: number, workflow = "research") => {
  const inputs = makeDemoInputs(seed)
  return Array.from({ length: n }, () => inputs.next(workflow))
}

describe("demo inputs", () => {
  it("are varied, with roughly a third repeating a recent one", () => {
    const inputs = draw(42, 300)
    const distinct = new Set(inputs).size
    expect(distinct).toBeGreaterThan(150)
    const repeats = 300 - distinct
    expect(repeats).toBeGreaterThan(60)
    expect(repeats).toBeLessThan(140)
  })

  it("are the same for the same seed and differ for another", () => {
    expect(draw(7, 50)).toEqual(draw(7, 50))
    expect(draw(8, 50)).not.toEqual(draw(7, 50))
  })

  it("read as requests of their workflow", () => {
    expect(draw(1, 5, "code").every((input) => /^(Write|Implement|Sketch) /.test(input))).toBe(true)
    expect(draw(1, 5, "research").every((input) => input.endsWith("?"))).toBe(true)
  })

  it("never repeat when asked for a fresh one", () => {
    const inputs = makeDemoInputs(3)
    const seen = new Set<string>()
    for (let i = 0; i < 8; i++) {
      const input = inputs.next("code", { fresh: true })
      expect(seen.has(input)).toBe(false)
      seen.add(input)
    }
  })
})

describe("demo plan", () => {
  const workflows = ["summarize", "research", "code"]
  const runs = (seed: number, n: number) => {
    const plan = makeDemoPlan(seed, workflows)
    return Array.from({ length: n }, () => plan.next())
  }

  it("rotates the workflows", () => {
    expect(runs(1, 3).map((r) => r.workflow)).toEqual(workflows)
  })

  it("gives a run with several LLM calls a tiny budget every few runs, the first within seconds", () => {
    const planned = runs(1, 100)
    const budgeted = planned.flatMap((r, i) => (r.maxCostUsd === undefined ? [] : [i]))
    expect(budgeted[0]).toBeLessThan(8)
    expect(budgeted.length).toBeGreaterThanOrEqual(Math.floor(100 / BUDGET_EVERY))
    for (const i of budgeted) {
      expect(planned[i]!.maxCostUsd).toBe(TINY_BUDGET_USD)
      expect(planned[i]!.workflow).not.toBe("summarize") // one call: it could never exceed
    }
  })

  it("cancels a run every few runs, on an input the cache cannot have finished", () => {
    const planned = runs(1, 100)
    const cancelled = planned.flatMap((r, i) => (r.cancelAfterMs === undefined ? [] : [i]))
    expect(cancelled[0]).toBeLessThan(6)
    expect(cancelled.length).toBeGreaterThanOrEqual(Math.floor(100 / CANCEL_EVERY) - 1)
    for (const i of cancelled) {
      expect(planned.slice(0, i).some((r) => r.input === planned[i]!.input)).toBe(false)
    }
  })

  it("is the same for the same seed", () => {
    expect(runs(5, 40)).toEqual(runs(5, 40))
  })
})

describe("demo defaults", () => {
  const effective = (set: Record<string, "env" | ".env">): ReadonlyArray<EffectiveSetting> =>
    ["SIM_ERROR_RATE", "MAX_RETRIES", "RETRY_INITIAL_WAIT", "RETRY_MAX_WAIT", "LLM_FALLBACK_MODELS", "RATE_LIMIT_MAX_CALLS"]
      .map((key) => ({ key, value: "x", source: set[key] ?? "default" }))

  it("adds faults, a fallback model and a modest rate limit on the simulated provider", () => {
    const out = demoOverrides("simulated", effective({}))
    expect(out.get("LLM_FALLBACK_MODELS")).toMatch(/^simulated-/)
    expect(Number(out.get("SIM_ERROR_RATE"))).toBeGreaterThan(0.05)
    expect(Number(out.get("RATE_LIMIT_MAX_CALLS"))).toBeLessThan(60)
    expect(out.has("RATE_LIMIT_PERIOD")).toBe(true)
  })

  it("leaves alone what the user set, in the environment or .env, and its partner", () => {
    const out = demoOverrides("simulated", effective({ SIM_ERROR_RATE: "env", RETRY_MAX_WAIT: ".env", LLM_FALLBACK_MODELS: "env" }))
    expect(out.has("SIM_ERROR_RATE")).toBe(false)
    expect(out.has("LLM_FALLBACK_MODELS")).toBe(false)
    expect(out.has("RETRY_MAX_WAIT")).toBe(false)
    expect(out.has("RETRY_INITIAL_WAIT")).toBe(false) // set together, so initial <= max still holds
    expect(out.has("MAX_RETRIES")).toBe(true)
  })

  it("adds nothing with a real provider", () => {
    expect(demoOverrides("openrouter", effective({})).size).toBe(0)
  })
})
