/**
 * LlmCacheMemory — the LLM cache in this process's memory.
 *
 * A `Map` whose insertion order is the recency order: a hit re-inserts its entry at the end, so the
 * first entries are the least recently used and eviction walks from the start. Entries expire after
 * `CACHE_TTL`, read from Effect's `Clock` so `TestClock` drives expiry in tests. The total of key +
 * value UTF-8 bytes stays within `CACHE_SIZE_LIMIT`. (Not Effect's `Cache`: it bounds the number of
 * entries, not their bytes, and computes values itself where this one stores what it is given.)
 */
import { Clock, Duration, Effect, Layer, Option } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { type CacheStore, entryBytes, fromStore, LlmCache, type LlmCacheService } from "../services/LlmCache.js"

/** Settings of the memory cache. */
export interface MemoryCacheOptions {
  readonly ttl: Duration.DurationInput
  readonly sizeLimitBytes: number
}

interface Entry {
  readonly value: string
  readonly bytes: number
  readonly expiresAt: number
}

/** A memory `CacheStore`; its operations never fail. */
export const makeStore = (options: MemoryCacheOptions): CacheStore => {
  const ttlMs = Duration.toMillis(options.ttl)
  const limit = options.sizeLimitBytes
  const entries = new Map<string, Entry>()
  let total = 0

  const drop = (key: string, entry: Entry) => {
    entries.delete(key)
    total -= entry.bytes
  }

  const purgeExpired = (now: number) => {
    for (const [key, entry] of entries) if (entry.expiresAt <= now) drop(key, entry)
  }

  const lookup = (key: string, now: number): Option.Option<string> => {
    const entry = entries.get(key)
    if (entry === undefined) return Option.none()
    if (entry.expiresAt <= now) {
      drop(key, entry)
      return Option.none()
    }
    // Move to the most-recently-used end.
    entries.delete(key)
    entries.set(key, entry)
    return Option.some(entry.value)
  }

  return {
    backend: "memory",
    get: (key) => Effect.map(Clock.currentTimeMillis, (now) => lookup(key, now)),
    set: (key, value) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const old = entries.get(key)
        if (old !== undefined) drop(key, old)
        const bytes = entryBytes(key, value)
        // An entry larger than the whole cache would only evict everything and then itself.
        if (bytes > limit) return
        entries.set(key, { value, bytes, expiresAt: now + ttlMs })
        total += bytes
        if (total > limit) purgeExpired(now)
        for (const [k, e] of entries) {
          if (total <= limit) break
          drop(k, e)
        }
      }),
    delete: (key) =>
      Effect.sync(() => {
        const old = entries.get(key)
        if (old !== undefined) drop(key, old)
      }),
    stats: Effect.map(Clock.currentTimeMillis, (now) => {
      purgeExpired(now)
      return { entries: entries.size, bytes: total }
    }),
    clear: Effect.sync(() => {
      entries.clear()
      total = 0
    })
  }
}

/** A memory cache service (hits and misses counted by `fromStore`). */
export const make = (options: MemoryCacheOptions): Effect.Effect<LlmCacheService> =>
  Effect.sync(() => fromStore(makeStore(options)))

/** The memory cache with `CACHE_TTL` and `CACHE_SIZE_LIMIT` from `AppConfig`. */
export const layer: Layer.Layer<LlmCache, never, AppConfig> = Layer.effect(
  LlmCache,
  Effect.flatMap(AppConfig, (config) =>
    make({ ttl: config.cache.ttl, sizeLimitBytes: config.cache.sizeLimitBytes }))
)
