import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, Option } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as PricingTable from "../src/layers/PricingTable.js"
import * as Pricing from "../src/services/Pricing.js"
import { testConfigLayer } from "./support/config.js"

const bundledLayer = PricingTable.layer.pipe(Layer.provide(Layer.merge(testConfigLayer(), NodeFileSystem.layer)))

const withPricingFile = (contents: string) => {
  const dir = mkdtempSync(join(tmpdir(), "pricing-"))
  const path = join(dir, "prices.json")
  writeFileSync(path, contents)
  return PricingTable.layer.pipe(Layer.provide(Layer.merge(testConfigLayer({ PRICING_FILE: path }), NodeFileSystem.layer)))
}

/** Collects warning messages logged while `self` runs. */
const captureWarnings = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const result = yield* self.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return { result, warnings }
  })

describe("Pricing arithmetic", () => {
  it("prices tokens per million, input and output separately", () => {
    const price = { inputPerMillion: 0.15, outputPerMillion: 0.6 }
    expect(Pricing.costAt(price, { inputTokens: 1_000_000, outputTokens: 0 })).toBeCloseTo(0.15, 10)
    expect(Pricing.costAt(price, { inputTokens: 0, outputTokens: 1_000_000 })).toBeCloseTo(0.6, 10)
    expect(Pricing.costAt(price, { inputTokens: 1200, outputTokens: 350 })).toBeCloseTo(0.00039, 10)
    expect(Pricing.costAt(price, { inputTokens: 0, outputTokens: 0 })).toBe(0)
  })

  it("finds OpenRouter, Gemini and dated ids under their base model", () => {
    const table = PricingTable.bundled
    expect(Pricing.lookup(table, "openai/gpt-4o-mini")).toEqual(Option.some(table["gpt-4o-mini"]))
    expect(Pricing.lookup(table, "google/gemini-2.0-flash-001")).toEqual(Option.some(table["gemini-2.0-flash"]))
    expect(Pricing.lookup(table, "models/gemini-2.5-pro")).toEqual(Option.some(table["gemini-2.5-pro"]))
    expect(Pricing.lookup(table, "gpt-4o-2024-08-06")).toEqual(Option.some(table["gpt-4o"]))
    expect(Pricing.lookup(table, "anthropic/claude-3.5-sonnet")).toEqual(Option.some(table["claude-3.5-sonnet"]))
  })

  it("prices OpenRouter :free variants at zero", () => {
    expect(Pricing.lookup(PricingTable.bundled, "meta-llama/llama-3.3-70b-instruct:free")).toEqual(
      Option.some({ inputPerMillion: 0, outputPerMillion: 0 })
    )
  })

  it("gives every simulated model the labelled fake price", () => {
    expect(Pricing.lookup(PricingTable.bundled, "simulated-1")).toEqual(Option.some(PricingTable.bundled["simulated-*"]))
    expect(Pricing.lookup(PricingTable.bundled, "simulated-large")).toEqual(
      Option.some(PricingTable.bundled["simulated-*"])
    )
  })
})

describe("Pricing layer", () => {
  it.effect("costs a call on a bundled model from the table", () =>
    Effect.gen(function*() {
      const cost = yield* Pricing.cost("openai/gpt-4o-mini", { inputTokens: 2000, outputTokens: 1000 })
      expect(cost).toBeCloseTo((2000 * 0.15 + 1000 * 0.6) / 1e6, 12)
    }).pipe(Effect.provide(bundledLayer)))

  it.effect("uses the provider-reported cost when the caller passes one", () =>
    Effect.gen(function*() {
      const usage = { inputTokens: 2000, outputTokens: 1000 }
      expect(yield* Pricing.cost("openai/gpt-4o-mini", usage, { providerCostUsd: 0.0042 })).toBe(0.0042)
      expect(yield* Pricing.cost("unknown/model", usage, { providerCostUsd: 0 })).toBe(0)
      // A nonsensical reported cost is ignored in favour of the table.
      expect(yield* Pricing.cost("gpt-4o-mini", usage, { providerCostUsd: Number.NaN })).toBeGreaterThan(0)
    }).pipe(Effect.provide(bundledLayer)))

  it.effect("costs an unknown model 0 and warns once per model", () =>
    Effect.gen(function*() {
      const usage = { inputTokens: 100, outputTokens: 100 }
      const { result, warnings } = yield* captureWarnings(Effect.all([
        Pricing.cost("acme/mystery-1", usage),
        Pricing.cost("acme/mystery-1", usage),
        Pricing.cost("acme/mystery-2", usage)
      ]))
      expect(result).toEqual([0, 0, 0])
      expect(warnings).toHaveLength(2)
      expect(warnings[0]).toContain("acme/mystery-1")
      expect(warnings[1]).toContain("acme/mystery-2")
    }).pipe(Effect.provide(bundledLayer)))

  it.effect("lets PRICING_FILE override a bundled price and add a model, keeping the rest", () =>
    Effect.gen(function*() {
      const usage = { inputTokens: 1_000_000, outputTokens: 1_000_000 }
      expect(yield* Pricing.cost("gpt-4o-mini", usage)).toBeCloseTo(3, 10)
      expect(yield* Pricing.cost("acme/house-model", usage)).toBeCloseTo(0.3, 10)
      expect(yield* Pricing.cost("gpt-4o", usage)).toBeCloseTo(12.5, 10)
    }).pipe(Effect.provide(withPricingFile(JSON.stringify({
      "gpt-4o-mini": { inputPerMillion: 1, outputPerMillion: 2 },
      "house-model": { inputPerMillion: 0.1, outputPerMillion: 0.2 }
    })))))

  it.effect("fails with PricingFileError naming the file when it is not a price table", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(withPricingFile(`{"gpt-4o": {"inputPerMillion": -1}}`)))
      expect(error._tag).toBe("PricingFileError")
      expect(error.message).toContain("prices.json")
    }).pipe(Effect.scoped))

  it.effect("fails with PricingFileError when the file does not exist", () =>
    Effect.gen(function*() {
      const layer = PricingTable.layer.pipe(
        Layer.provide(Layer.merge(testConfigLayer({ PRICING_FILE: "/nonexistent/prices.json" }), NodeFileSystem.layer))
      )
      const error = yield* Effect.flip(Layer.build(layer))
      expect(error._tag).toBe("PricingFileError")
      expect(error.path).toBe("/nonexistent/prices.json")
    }).pipe(Effect.scoped))
})
