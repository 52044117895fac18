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
import * as crypto from "node:crypto"
import { Clock, Context, Effect, Metric, Option, Schema } from "effect"
import { llmCacheHitsTotal, llmCacheMissesTotal } from "./Metrics.js"

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

  const countHit = Effect.zipRight(Effect.sync(() => {
    hits += 1
  }), Metric.increment(llmCacheHitsTotal))
  const countMiss = Effect.zipRight(Effect.sync(() => {
    misses += 1
  }), Metric.increment(llmCacheMissesTotal))
  const none = Option.none<string>()

  return {
    get: (key) =>
      Effect.matchEffect(store.get(key), {
        onFailure: (error) => Effect.as(Effect.zipRight(warn(error), countMiss), none),
        onSuccess: (found) => Effect.as(Option.isSome(found) ? countHit : countMiss, found)
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
// Cache keys
// ---------------------------------------------------------------------------------------------

/** A tool offered to the model, as far as it changes the answer. */
export interface CacheKeyTool {
  readonly name: string
  readonly description?: string | undefined
  /** The tool's parameters as a JSON schema. */
  readonly parameters: unknown
}

/** Everything about a request that can change the response. */
export interface CacheKeyInput {
  readonly provider: string
  readonly model: string
  /** Generation settings: temperature, maxTokens, topP, ... any JSON-like record. */
  readonly settings?: Readonly<Record<string, unknown>> | undefined
  /** The encoded prompt messages. */
  readonly prompt: unknown
  /**
   * `canonicalJson(prompt)`, when the caller built it already (a plain-text prompt's is a fixed
   * template around the text); it is used instead of walking `prompt`.
   */
  readonly promptCanonical?: string | undefined
  readonly tools?: ReadonlyArray<CacheKeyTool> | undefined
  /** The JSON schema of the requested structured output, if any. */
  readonly responseSchema?: unknown
}

/** Bumped when the key derivation changes, so old entries simply stop matching. */
const KEY_VERSION = 1

/**
 * Canonical JSON: object keys sorted, arrays in order, `undefined` object members dropped (as
 * `JSON.stringify` does), `toJSON` honoured, bigints as strings. Equal data gives equal text
 * whatever order its keys were built in.
 */
export const canonicalJson = (value: unknown): string => {
  // The objects being walked, outermost first: a value met again inside itself is a cycle. (An
  // array beats a Set here: prompts are shallow, and this runs on every LLM call.)
  const ancestors: Array<object> = []
  const walk = (v: unknown): string => {
    if (v === null || v === undefined) return "null"
    switch (typeof v) {
      case "string":
      case "boolean":
        return JSON.stringify(v)
      case "number":
        return Number.isFinite(v) ? JSON.stringify(v) : "null"
      case "bigint":
        return JSON.stringify(v.toString())
      case "function":
      case "symbol":
        return "null"
    }
    const o = v as object & { toJSON?: () => unknown }
    if (typeof o.toJSON === "function") return walk(o.toJSON())
    if (ancestors.includes(o)) throw new TypeError("canonicalJson: circular structure")
    ancestors.push(o)
    let out: string
    if (Array.isArray(o)) {
      out = "["
      for (let i = 0; i < o.length; i++) out += (i === 0 ? "" : ",") + walk(o[i])
      out += "]"
    } else {
      const record = o as Record<string, unknown>
      out = "{"
      let first = true
      for (const k of Object.keys(record).sort()) {
        const member = record[k]
        if (member === undefined || typeof member === "function" || typeof member === "symbol") continue
        out += `${first ? "" : ","}${JSON.stringify(k)}:${walk(member)}`
        first = false
      }
      out += "}"
    }
    ancestors.pop()
    return out
  }
  return walk(value)
}

/**
 * The cache key of a request: hex SHA-256 of the canonical JSON of provider, model, settings,
 * prompt, tools (name, description, parameters) and response schema. Identical requests give equal
 * keys; a difference in any field gives a different key; key order inside objects does not matter.
 */
export const cacheKey = (input: CacheKeyInput): string =>
  sha256Hex(
    // The canonical JSON of { v, provider, model, settings, prompt, tools, responseSchema }, written
    // out in its sorted key order: schemas and toolkits are the same objects call after call, so
    // their canonical text is kept per object instead of walking them on every call.
    `{"model":${JSON.stringify(input.model)},"prompt":${input.promptCanonical ?? canonicalJson(input.prompt)},"provider":${
      JSON.stringify(input.provider)
    }${input.responseSchema === undefined ? "" : `,"responseSchema":${canonicalOf(input.responseSchema)}`},"settings":${
      canonicalJson(input.settings ?? {})
    },"tools":${input.tools === undefined ? "[]" : canonicalOf(input.tools, toolsJson)},"v":${KEY_VERSION}}`
  )

const canonicalTexts = new WeakMap<object, string>()

/** The canonical JSON of a value that callers pass again and again as the same object. */
const canonicalOf = <A>(value: A, toJson: (value: A) => unknown = (v) => v): string => {
  if (typeof value !== "object" || value === null) return canonicalJson(toJson(value))
  let text = canonicalTexts.get(value)
  if (text === undefined) {
    text = canonicalJson(toJson(value))
    canonicalTexts.set(value, text)
  }
  return text
}

const toolsJson = (tools: ReadonlyArray<CacheKeyTool>) =>
  tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters }))

/** Hex SHA-256; Node's one-shot `crypto.hash` (20.12+) skips the Hash object when present. */
const sha256Hex: (text: string) => string = typeof (crypto as { hash?: unknown }).hash === "function"
  ? (text) => (crypto as unknown as { hash: (algorithm: string, data: string, encoding: "hex") => string }).hash("sha256", text, "hex")
  : (text) => crypto.createHash("sha256").update(text).digest("hex")

/** UTF-8 size of an entry, the unit of `CACHE_SIZE_LIMIT`. */
export const entryBytes = (key: string, value: string): number =>
  Buffer.byteLength(key, "utf8") + Buffer.byteLength(value, "utf8")
