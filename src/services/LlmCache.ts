/**
 * LlmCache — the persistent cache of successful LLM responses.
 *
 * Values are opaque strings: the resilient LLM layer serialises the `@effect/ai` response and owns
 * single-flight and per-call bypass/refresh. This port only stores and finds strings by key.
 *
 * A cache fault never fails a workflow: every operation has error type `never`. Backends are written
 * as a `CacheStore` (whose operations may fail with `CacheBackendError`) and turned into the service
 * by `fromStore`, which logs a fault as a warning (backend, operation, reason) and answers it as a
 * miss or a no-op. `fromStore` is also the one place that counts hits and misses — in the
 * `llm_cache_hits_total` / `llm_cache_misses_total` metrics and in the process-local counters of
 * `stats` — so every backend counts identically and callers must not count again.
 *
 * A port of its own rather than `@effect/experimental`'s `BackingPersistence`: that store has no
 * stats or size limit, and its errors reach the caller where a cache fault must be a miss.
 */
import { Clock, Context, Effect, Option, Schema } from "effect"
import { llmCacheHitsTotal, llmCacheMissesTotal, updateIn } from "./Metrics.js"

// ---------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------

/** What `effect-agents cache stats` shows. */
export interface CacheStats {
  /** `memory`, `sqlite`, `redis` or `disabled`. */
  readonly backend: string
  /** Live (unexpired) entries. */
  readonly entries: number
  /** Bytes held: UTF-8 length of keys plus values. */
  readonly bytes: number
  /**
   * Lookups answered from the cache. Persisted across processes by the sqlite and redis backends
   * (so `cache stats` from a fresh CLI shows the history); counted by this process otherwise.
   */
  readonly hits: number
  /** Lookups that found nothing (including lookups a faulty backend could not answer). */
  readonly misses: number
}

/** The cache operations. None of them can fail: a faulty backend behaves as an empty cache. */
export interface LlmCacheService {
  /** The stored value, or `None` on a miss, an expired entry or a backend fault. */
  readonly get: (key: string) => Effect.Effect<Option.Option<string>>
  /** Stores `value` under `key` for the configured TTL; may evict least-recently-used entries. */
  readonly set: (key: string, value: string) => Effect.Effect<void>
  /** Removes one entry, if present. */
  readonly delete: (key: string) => Effect.Effect<void>
  readonly stats: Effect.Effect<CacheStats>
  /** Removes every entry of this cache (and resets its hit/miss counters); nothing else. */
  readonly clear: Effect.Effect<void>
}

/** The service tag: `yield* LlmCache` gives the configured cache. */
export class LlmCache extends Context.Tag("effect-agents/LlmCache")<LlmCache, LlmCacheService>() {}

/** `yield* LlmCache.get(key)`. */
export const get = Effect.serviceFunctionEffect(LlmCache, (s) => s.get)
/** `yield* LlmCache.set(key, value)`. */
export const set = Effect.serviceFunctionEffect(LlmCache, (s) => s.set)
/** `yield* LlmCache.remove(key)` (named `remove` because `delete` is a reserved word). */
export const remove = Effect.serviceFunctionEffect(LlmCache, (s) => s.delete)
/** `yield* LlmCache.stats`. */
export const stats: Effect.Effect<CacheStats, never, LlmCache> = Effect.flatMap(LlmCache, (s) => s.stats)
/** `yield* LlmCache.clear`. */
export const clear: Effect.Effect<void, never, LlmCache> = Effect.flatMap(LlmCache, (s) => s.clear)

// ---------------------------------------------------------------------------------------------
// Errors (backend side only — they never reach callers of the service)
// ---------------------------------------------------------------------------------------------

/** A backend could not do an operation; `fromStore` logs it and answers as a miss / no-op. */
export class CacheBackendError extends Schema.TaggedError<CacheBackendError>()("CacheBackendError", {
  backend: Schema.String,
  operation: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `${this.backend} cache ${this.operation} failed: ${this.reason}`
  }
}

/** Every failure of a cache backend. */
export type LlmCacheError = CacheBackendError

/** Best-effort human reason of an unknown thrown value (never includes connection strings we hold). */
export const reasonOf = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

// ---------------------------------------------------------------------------------------------
// Backend contract and the shared wrapper
// ---------------------------------------------------------------------------------------------

/** Size and, when the backend persists them, the hit/miss counters. */
export interface StoreStats {
  readonly entries: number
  readonly bytes: number
  /** Persisted hits; omitted when the backend does not persist counters. */
  readonly hits?: number
  readonly misses?: number
}

/**
 * A backend as adapters write it: the same operations as the service, but allowed to fail with
 * `CacheBackendError`. A backend that persists hit/miss counters records them inside its `get`.
 */
export interface CacheStore {
  readonly backend: string
  readonly get: (key: string) => Effect.Effect<Option.Option<string>, CacheBackendError>
  readonly set: (key: string, value: string) => Effect.Effect<void, CacheBackendError>
  readonly delete: (key: string) => Effect.Effect<void, CacheBackendError>
  readonly stats: Effect.Effect<StoreStats, CacheBackendError>
  readonly clear: Effect.Effect<void, CacheBackendError>
}

/** How often the same backend/operation fault is logged again while it persists. */
const WARNING_INTERVAL_MS = 30_000

/**
 * Turns a `CacheStore` into the service: faults become a warning plus a miss / no-op, lookups are
 * counted (metrics and process counters). Repeated faults of one operation are logged at most once
 * per 30 s, with the number suppressed, so a dead Redis does not flood the log.
 */
export const fromStore = (store: CacheStore): LlmCacheService => {
  let hits = 0
  let misses = 0
  const lastWarned = new Map<string, { at: number; suppressed: number }>()

  const warn = (error: CacheBackendError): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const last = lastWarned.get(error.operation)
      if (last !== undefined && now - last.at < WARNING_INTERVAL_MS) {
        last.suppressed += 1
        return Effect.void
      }
      lastWarned.set(error.operation, { at: now, suppressed: 0 })
      return Effect.logWarning("LLM cache backend failed; continuing without the cache").pipe(
        Effect.annotateLogs({
          backend: error.backend,
          operation: error.operation,
          reason: error.reason,
          ...(last !== undefined && last.suppressed > 0 ? { suppressed: last.suppressed } : {})
        })
      )
    })

  // Counted in one step with the answer (the fiber's metric labels read as `Metric.increment` would).
  const counted = (found: Option.Option<string>): Effect.Effect<Option.Option<string>> =>
    Effect.withFiberRuntime((fiber) => {
      if (Option.isSome(found)) {
        hits += 1
        updateIn(fiber, llmCacheHitsTotal, 1)
      } else {
        misses += 1
        updateIn(fiber, llmCacheMissesTotal, 1)
      }
      return Effect.succeed(found)
    })
  const none = Option.none<string>()

  return {
    get: (key) =>
      Effect.matchEffect(store.get(key), {
        onFailure: (error) => Effect.zipRight(warn(error), counted(none)),
        onSuccess: counted
      }),
    set: (key, value) => Effect.catchAll(store.set(key, value), warn),
    delete: (key) => Effect.catchAll(store.delete(key), warn),
    stats: store.stats.pipe(
      Effect.map((s) => ({
        backend: store.backend,
        entries: s.entries,
        bytes: s.bytes,
        hits: s.hits ?? hits,
        misses: s.misses ?? misses
      })),
      Effect.catchAll((error) =>
        Effect.as(warn(error), { backend: store.backend, entries: 0, bytes: 0, hits, misses })
      )
    ),
    clear: store.clear.pipe(
      Effect.tap(() =>
        Effect.sync(() => {
          hits = 0
          misses = 0
        })
      ),
      Effect.catchAll(warn)
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Cache keys (derived in `LlmCacheKey.ts`)
// ---------------------------------------------------------------------------------------------

export { cacheKey, type CacheKeyInput, type CacheKeyTool, canonicalJson } from "./LlmCacheKey.js"

/** UTF-8 size of an entry, the unit of `CACHE_SIZE_LIMIT`. */
export const entryBytes = (key: string, value: string): number =>
  Buffer.byteLength(key, "utf8") + Buffer.byteLength(value, "utf8")
