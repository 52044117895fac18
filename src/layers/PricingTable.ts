/**
 * PricingTable — the bundled price table, optionally overridden from `PRICING_FILE`.
 *
 * Prices are USD per million tokens as publicly listed by the vendors (standard tier, text, short
 * prompts, no batch or cached-input discounts) as of 2025-08, from openai.com/api/pricing,
 * ai.google.dev/gemini-api/docs/pricing and openrouter.ai/models (OpenRouter passes these
 * vendors' prices through; its ids are matched by stripping the `vendor/` prefix). Prices change:
 * override them with a JSON file of the same shape, `{ "<model>": { "inputPerMillion": n,
 * "outputPerMillion": n } }`, whose entries replace the bundled ones model by model.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Layer, Option, ParseResult, Schema } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import {
  costAt,
  isUsableCost,
  lookup,
  type ModelPrice,
  Pricing,
  PricingFileError,
  type PricingService,
  PriceTable
} from "../services/Pricing.js"

const p = (inputPerMillion: number, outputPerMillion: number) => ({ inputPerMillion, outputPerMillion })

/** The bundled prices (USD per million input / output tokens), as of 2025-08. */
export const bundled: PriceTable = {
  // OpenAI — openai.com/api/pricing
  "gpt-4o": p(2.5, 10),
  "gpt-4o-mini": p(0.15, 0.6),
  "gpt-4.1": p(2, 8),
  "gpt-4.1-mini": p(0.4, 1.6),
  "gpt-4.1-nano": p(0.1, 0.4),
  "gpt-5": p(1.25, 10),
  "gpt-5-mini": p(0.25, 2),
  "gpt-5-nano": p(0.05, 0.4),
  "o3": p(2, 8),
  "o3-mini": p(1.1, 4.4),
  "o4-mini": p(1.1, 4.4),
  "gpt-3.5-turbo": p(0.5, 1.5),
  // Google Gemini API, paid tier, prompts up to 200k (2.5) / 128k (1.5) tokens —
  // ai.google.dev/gemini-api/docs/pricing
  "gemini-2.5-pro": p(1.25, 10),
  "gemini-2.5-flash": p(0.3, 2.5),
  "gemini-2.5-flash-lite": p(0.1, 0.4),
  "gemini-2.0-flash": p(0.1, 0.4),
  "gemini-2.0-flash-lite": p(0.075, 0.3),
  "gemini-1.5-pro": p(1.25, 5),
  "gemini-1.5-flash": p(0.075, 0.3),
  // Anthropic models as listed on openrouter.ai/models (anthropic/...)
  "claude-opus-4": p(15, 75),
  "claude-sonnet-4": p(3, 15),
  "claude-3.7-sonnet": p(3, 15),
  "claude-3.5-sonnet": p(3, 15),
  "claude-3.5-haiku": p(0.8, 4),
  "claude-3-haiku": p(0.25, 1.25),
  // FAKE: the simulated provider is free; this made-up price only exercises the cost paths.
  "simulated-*": p(0.5, 1.5)
}

/** Model ids whose price is remembered (agents use a few; a bound keeps odd callers in check). */
const MEMO_LIMIT = 1_024

/** A `Pricing` over `table`; warns once per unknown model. */
export const fromTable = (table: PriceTable): PricingService => {
  const warned = new Set<string>()
  // The table never changes and a process uses a handful of models: each id is resolved once
  // (a lookup tries several spellings and scans the prefix keys; every call asks for a cost).
  const resolved = new Map<string, Option.Option<ModelPrice>>()
  const priceOf = (model: string): Option.Option<ModelPrice> => {
    let found = resolved.get(model)
    if (found === undefined) {
      found = lookup(table, model)
      if (resolved.size < MEMO_LIMIT) resolved.set(model, found)
    }
    return found
  }
  const price: PricingService["price"] = (model) => Effect.sync(() => priceOf(model))
  return {
    price,
    cost: (model, usage, options) => {
      if (isUsableCost(options?.providerCostUsd)) return Effect.succeed(options.providerCostUsd)
      const found = priceOf(model)
      if (Option.isSome(found)) return Effect.succeed(costAt(found.value, usage))
      return Effect.suspend(() => {
        if (warned.has(model)) return Effect.succeed(0)
        warned.add(model)
        return Effect.as(
          Effect.logWarning(`no price known for model ${model}; its calls count as $0 (set PRICING_FILE)`).pipe(
            Effect.annotateLogs({ model })
          ),
          0
        )
      })
    }
  }
}

const decodeTable = Schema.decodeUnknownEither(Schema.parseJson(PriceTable))

/** Reads and validates a pricing file. */
export const readPricingFile = (
  path: string
): Effect.Effect<PriceTable, PricingFileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((e) => new PricingFileError({ path, detail: e.message }))
    )
    const decoded = decodeTable(text)
    if (decoded._tag === "Left") {
      return yield* new PricingFileError({ path, detail: ParseResult.TreeFormatter.formatErrorSync(decoded.left) })
    }
    return decoded.right
  })

/** The bundled table, with `config.pricingFile` entries replacing bundled ones when set. */
export const make: Effect.Effect<PricingService, PricingFileError, AppConfig | FileSystem.FileSystem> = Effect.gen(
  function*() {
    const config = yield* AppConfig
    if (Option.isNone(config.pricingFile)) return fromTable(bundled)
    const overrides = yield* readPricingFile(config.pricingFile.value)
    return fromTable({ ...bundled, ...overrides })
  }
)

/** `Pricing` from the bundled table and `PRICING_FILE`. */
export const layer: Layer.Layer<Pricing, PricingFileError, AppConfig | FileSystem.FileSystem> = Layer.effect(
  Pricing,
  make
)

/** `Pricing` from exactly `table` (tests, examples). */
export const layerTable = (table: PriceTable): Layer.Layer<Pricing> => Layer.sync(Pricing, () => fromTable(table))
