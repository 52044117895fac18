/**
 * PassThrough — the cache, rate limiter and circuit breaker that do nothing: what
 * `CACHE_ENABLED=false`, `RATE_LIMIT_ENABLED=false` and `ENABLE_CIRCUIT_BREAKER=false` give, and
 * what a test provides when a call must reach the model every time, at once.
 *
 * Each is a value of its port's service interface and a Layer of it; `layer` provides all three.
 */
import { Duration, Effect, Layer, Option, Stream } from "effect"
import { CircuitBreaker, type CircuitBreakerService } from "../services/CircuitBreaker.js"
import { LlmCache, type LlmCacheService } from "../services/LlmCache.js"
import { RateLimiter, type RateLimiterService } from "../services/RateLimiter.js"

/** A cache that stores nothing: every lookup misses, nothing is counted; `stats` reports backend `disabled`. */
export const llmCache: LlmCacheService = {
  get: () => Effect.succeed(Option.none()),
  set: () => Effect.void,
  delete: () => Effect.void,
  stats: Effect.succeed({ backend: "disabled", entries: 0, bytes: 0, hits: 0, misses: 0 }),
  clear: Effect.void
}

/** A limiter that grants every permit at once and ignores `Retry-After`; nobody ever waits. */
export const rateLimiter: RateLimiterService = {
  acquire: () => Effect.succeed(Duration.zero),
  feedback: () => Effect.void,
  waiting: Effect.succeed(0)
}

/** A breaker that runs every effect as it is; every circuit reads "closed" and never changes. */
export const circuitBreaker: CircuitBreakerService = {
  withBreaker: (_key, effect) => effect,
  state: () => Effect.succeed("closed"),
  changes: Stream.empty
}

/** `LlmCache` that stores nothing. */
export const layerLlmCache: Layer.Layer<LlmCache> = Layer.succeed(LlmCache, llmCache)

/** `RateLimiter` that never limits. */
export const layerRateLimiter: Layer.Layer<RateLimiter> = Layer.succeed(RateLimiter, rateLimiter)

/** `CircuitBreaker` that never opens. */
export const layerCircuitBreaker: Layer.Layer<CircuitBreaker> = Layer.succeed(CircuitBreaker, circuitBreaker)

/** All three: no cache, no limits, no breaker. */
export const layer: Layer.Layer<LlmCache | RateLimiter | CircuitBreaker> = Layer.mergeAll(
  layerLlmCache,
  layerRateLimiter,
  layerCircuitBreaker
)
