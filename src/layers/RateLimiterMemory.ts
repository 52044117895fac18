/**
 * RateLimiterMemory — the rate limiter of one process.
 *
 * Buckets live in `@effect/experimental`'s memory `RateLimiterStore` and pauses in a `Map`, both read
 * through Effect's `Clock`, so `TestClock` drives refills and pauses in tests. The algorithm (FIFO
 * lanes, pauses, reservations) is `RateLimiterLanes`. Use the Redis adapter when several processes
 * share one provider quota.
 */
import * as ExperimentalRateLimiter from "@effect/experimental/RateLimiter"
import { Effect, Layer } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { limitsFromConfig, RateLimiter, type RateLimiterService } from "../services/RateLimiter.js"
import { fromStores, type PauseStore } from "./RateLimiterLanes.js"

/** A `PauseStore` in a `Map`; its operations never fail. */
export const makePauseStore = (): PauseStore => {
  const pauses = new Map<string, number>()
  return {
    backend: "memory",
    pausedUntil: (key) => Effect.sync(() => pauses.get(key) ?? 0),
    pauseUntil: (key, untilMs) =>
      Effect.sync(() => {
        if ((pauses.get(key) ?? 0) < untilMs) pauses.set(key, untilMs)
      })
  }
}

/** The memory limiter with the `RATE_LIMIT_*` settings (the pass-through limiter when disabled). */
export const make: Effect.Effect<RateLimiterService, never, AppConfig> = Effect.gen(function*() {
  const config = yield* AppConfig
  return yield* fromStores(makePauseStore(), limitsFromConfig(config)).pipe(
    Effect.provide(ExperimentalRateLimiter.layerStoreMemory)
  )
})

/** `RateLimiter` in this process's memory. */
export const layer: Layer.Layer<RateLimiter, never, AppConfig> = Layer.effect(RateLimiter, make)
