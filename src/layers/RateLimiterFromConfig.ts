/**
 * RateLimiterFromConfig — the `RateLimiter` that `RATE_LIMIT_ENABLED` and `RATE_LIMIT_BACKEND` ask for.
 *
 * Disabled → a limiter that grants everything at once (no Redis connection is made); `memory` → this
 * process only; `redis` → shared through `REDIS_URL`. An unreachable Redis is not a startup error:
 * like the Redis cache, the limiter starts with a one-line warning, limits this process on its own
 * with the same limits, and shares Redis's limits once it answers (see `RedisConnection`).
 */
import { Effect, Layer } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import type { RateLimiter } from "../services/RateLimiter.js"
import * as PassThrough from "./PassThrough.js"
import * as RateLimiterMemory from "./RateLimiterMemory.js"
import * as RateLimiterRedis from "./RateLimiterRedis.js"

/** The configured `RateLimiter`. */
export const layer: Layer.Layer<RateLimiter, never, AppConfig> = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => {
    if (!config.rateLimit.enabled) return PassThrough.layerRateLimiter
    switch (config.rateLimit.backend) {
      case "memory":
        return RateLimiterMemory.layer
      case "redis":
        return RateLimiterRedis.layer()
    }
  })
)
