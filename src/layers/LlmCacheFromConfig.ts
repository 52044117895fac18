/**
 * LlmCacheFromConfig — picks the LLM cache backend from `AppConfig`.
 *
 * `CACHE_ENABLED=false` gives the disabled cache (every lookup misses, nothing is stored, nothing is
 * counted: no cache was consulted); otherwise `CACHE_BACKEND` chooses memory, sqlite or redis.
 */
import { Effect, Layer, Option } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { LlmCache, type LlmCacheService } from "../services/LlmCache.js"
import * as LlmCacheMemory from "./LlmCacheMemory.js"
import * as LlmCacheRedis from "./LlmCacheRedis.js"
import * as LlmCacheSqlite from "./LlmCacheSqlite.js"

/** A cache that stores nothing; `stats` reports backend `disabled`. */
export const disabled: LlmCacheService = {
  get: () => Effect.succeed(Option.none()),
  set: () => Effect.void,
  delete: () => Effect.void,
  stats: Effect.succeed({ backend: "disabled", entries: 0, bytes: 0, hits: 0, misses: 0 }),
  clear: Effect.void
}

/** The disabled cache as a Layer (also handy in tests that must never hit a cache). */
export const layerDisabled: Layer.Layer<LlmCache> = Layer.succeed(LlmCache, disabled)

/** The cache `AppConfig` asks for. Never fails: an unusable backend degrades to misses. */
export const layer: Layer.Layer<LlmCache, never, AppConfig> = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => {
    if (!config.cache.enabled) return layerDisabled
    switch (config.cache.backend) {
      case "memory":
        return LlmCacheMemory.layer
      case "sqlite":
        return LlmCacheSqlite.layer
      case "redis":
        return LlmCacheRedis.layer
    }
  })
)
