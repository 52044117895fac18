/**
 * RateLimiterFromConfig — the `RateLimiter` that `RATE_LIMIT_ENABLED` and `RATE_LIMIT_BACKEND` ask for.
 *
 * Disabled → a limiter that grants everything at once (no Redis connection is made); `memory` → this
 * process only; `redis` → shared through `REDIS_URL`. A Redis backend that is unset or unreachable at
 * startup is a configuration mistake, so building the Layer dies with the reason rather than quietly
 * limiting each process on its own.
 */
import { Effect, Layer } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { disabled, RateLimiter } from "../services/RateLimiter.js"
import * as RateLimiterMemory from "./RateLimiterMemory.js"
import * as RateLimiterRedis from "./RateLimiterRedis.js"

/** The configured `RateLimiter`. */
export const layer: Layer.Layer<RateLimiter, never, AppConfig> = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => {
    if (!config.rateLimit.enabled) return Layer.succeed(RateLimiter, disabled)
    switch (config.rateLimit.backend) {
      case "memory":
        return RateLimiterMemory.layer
      case "redis":
        return Layer.orDie(RateLimiterRedis.layer())
    }
  })
)
