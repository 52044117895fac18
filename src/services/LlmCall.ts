/**
 * LlmCall — per-call choices a caller can make about an LLM request, carried in the fiber context
 * so they pass through `@effect/ai`'s `LanguageModel` interface unchanged.
 */
import { Context, Effect } from "effect"

/**
 * How a call uses the LLM cache: `use` (read, then store on a miss — the default), `bypass`
 * (neither read nor store), `refresh` (skip the read, store the fresh answer).
 */
export type CachePolicyValue = "use" | "bypass" | "refresh"

/** The cache policy of the current fiber; `use` unless set with `withCachePolicy`. */
export class CachePolicy extends Context.Reference<CachePolicy>()("effect-agents/CachePolicy", {
  defaultValue: (): CachePolicyValue => "use"
}) {}

/** Runs `self` with LLM calls using the cache as `policy` says. */
export const withCachePolicy = (policy: CachePolicyValue) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.provideService(self, CachePolicy, policy)
