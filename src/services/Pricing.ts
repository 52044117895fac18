/**
 * Pricing — what an LLM call costs.
 *
 * A price is USD per million input and output tokens. The LLM layer asks `cost(model, usage)` for
 * every call and puts the answer in `LlmCallFinished`, `llm_cost_usd_total` and the history; a cost
 * the provider reported itself (OpenRouter's `usage.cost`) is passed as `providerCostUsd` and wins,
 * because it reflects the route, discounts and caching the provider actually applied. Unknown models
 * cost 0 (with a warning once per model) rather than failing a call over bookkeeping.
 */
import { Context, Effect, Option, Schema } from "effect"
import type { Usage } from "./WorkflowEvents.js"

/** USD per million tokens. */
export const ModelPrice = Schema.Struct({
  inputPerMillion: Schema.Number.pipe(Schema.nonNegative()),
  outputPerMillion: Schema.Number.pipe(Schema.nonNegative())
})
export type ModelPrice = typeof ModelPrice.Type

/** A price table: model id → price. The format of `PRICING_FILE`. */
export const PriceTable = Schema.Record({ key: Schema.String, value: ModelPrice })
export type PriceTable = typeof PriceTable.Type

/** `PRICING_FILE` could not be read or is not a valid price table. */
export class PricingFileError extends Schema.TaggedError<PricingFileError>()("PricingFileError", {
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `pricing file ${this.path}: ${this.detail}`
  }
}

/** Options of `cost`. */
export interface CostOptions {
  /** The cost the provider reported for this call; used instead of the table when present. */
  readonly providerCostUsd?: number | undefined
}

/** Prices of models and the cost of a usage. */
export interface PricingService {
  /** The price of `model`, if the table knows it (after normalising its id, see `lookup`). */
  readonly price: (model: string) => Effect.Effect<Option.Option<ModelPrice>>
  /**
   * The cost in USD of `usage` on `model`. A finite, non-negative `providerCostUsd` wins; an
   * unknown model costs 0 and logs a warning the first time it is seen.
   */
  readonly cost: (model: string, usage: Usage, options?: CostOptions) => Effect.Effect<number>
}

/** The price table in use (see `layers/PricingTable.ts`). */
export class Pricing extends Context.Tag("effect-agents/Pricing")<Pricing, PricingService>() {}

/** Accessor: the price of a model. */
export const price = (model: string): Effect.Effect<Option.Option<ModelPrice>, never, Pricing> =>
  Effect.flatMap(Pricing, (p) => p.price(model))

/** Accessor: the cost of a usage on a model. */
export const cost = (model: string, usage: Usage, options?: CostOptions): Effect.Effect<number, never, Pricing> =>
  Effect.flatMap(Pricing, (p) => p.cost(model, usage, options))

/** The cost in USD of `usage` at `price`. */
export const costAt = (price: ModelPrice, usage: Usage): number =>
  (usage.inputTokens * price.inputPerMillion + usage.outputTokens * price.outputPerMillion) / 1_000_000

/** Whether a provider-reported cost can be trusted as a cost. */
export const isUsableCost = (value: number | undefined): value is number =>
  value !== undefined && Number.isFinite(value) && value >= 0

/**
 * The ids tried for `model`, most specific first: as given, without an OpenRouter variant suffix
 * (`:free` is priced 0 by the caller), without the `provider/` prefix (OpenRouter ids), without
 * Gemini's `models/` prefix, and without a trailing release date (`gpt-4o-2024-08-06`).
 */
export const candidates = (model: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  const add = (id: string) => {
    if (id.length > 0 && !out.includes(id)) out.push(id)
  }
  const id = model.trim()
  add(id)
  const noVariant = id.replace(/:[a-z-]+$/i, "")
  add(noVariant)
  const noPrefix = noVariant.replace(/^models\//, "").replace(/^[^/]+\//, "")
  add(noPrefix)
  add(noPrefix.replace(/-\d{4}-\d{2}-\d{2}$/, "").replace(/-\d{3,4}$/, ""))
  return out
}

/**
 * Looks `model` up in `table` by its `candidates`, then by keys ending in `*` as prefixes
 * (`simulated-*`). OpenRouter's `:free` variants cost nothing.
 */
export const lookup = (table: PriceTable, model: string): Option.Option<ModelPrice> => {
  if (/:free$/i.test(model.trim())) return Option.some({ inputPerMillion: 0, outputPerMillion: 0 })
  const ids = candidates(model)
  for (const id of ids) {
    const found = table[id]
    if (found !== undefined) return Option.some(found)
  }
  for (const [key, value] of Object.entries(table)) {
    if (key.endsWith("*") && ids.some((id) => id.startsWith(key.slice(0, -1)))) return Option.some(value)
  }
  return Option.none()
}
