/**
 * LlmCacheFromConfig — picks the LLM cache backend from `AppConfig`.
 *
 * `CACHE_ENABLED=false` gives `PassThrough.llmCache` (every lookup misses, nothing is stored, nothing
 * is counted: no cache was consulted); otherwise `CACHE_BACKEND` chooses memory, sqlite or redis.
 */
import { Effect, Layer } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import type { LlmCache, LlmCacheService } from "../services/LlmCache.js"
import * as LlmCacheMemory from "./LlmCacheMemory.js"
import * as LlmCacheRedis from "./LlmCacheRedis.js"
import * as LlmCacheSqlite from "./LlmCacheSqlite.js"
import * as PassThrough from "./PassThrough.js"

/** @deprecated The pass-through cache now lives in `PassThrough`: use `PassThrough.llmCache`. */
export const disabled: LlmCacheService = PassThrough.llmCache

/** @deprecated The pass-through cache now lives in `PassThrough`: use `PassThrough.layerLlmCache`. */
export const layerDisabled: Layer.Layer<LlmCache> = PassThrough.layerLlmCache

/** The cache `AppConfig` asks for. Never fails: an unusable backend degrades to misses. */
export const layer: Layer.Layer<LlmCache, never, AppConfig> = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => {
    if (!config.cache.enabled) return PassThrough.layerLlmCache
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
