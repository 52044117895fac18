/**
 * LlmCacheRedis — the LLM cache in Redis, shared by every process that points at the same server.
 *
 * Each entry is a string key `<prefix><cache key>` written with `PX` = `CACHE_TTL`, so Redis expires
 * it. The size limit is Redis's business (`maxmemory` + an LRU policy); this adapter does not
 * evict. Hit/miss counters live in the hash `<prefix>__stats__` so `cache stats` shows the history.
 *
 * The client and its breaker are a `RedisConnection`: while Redis is down (unreachable at startup,
 * or since a command found it so) the cache is bypassed at once — lookups miss, nothing is written —
 * with one warning per outage, and it is used again as soon as a background probe gets an answer.
 * Errors Redis answers with (it is up but refuses) are logged by `fromStore` as before.
 *
 * Not `@effect/experimental`'s `Persistence/Redis`: it has no outage bypass, counters or stats.
 */
import { Duration, Effect, Layer, Option, type Redacted, type Scope } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import {
  CacheBackendError,
  type CacheStore,
  fromStore,
  LlmCache,
  type LlmCacheService,
  type StoreStats
} from "../services/LlmCache.js"
import * as RedisConnection from "./RedisConnection.js"

/** `host:port` of a Redis URL (see `RedisConnection.redisAddress`). */
export const redisAddress = RedisConnection.redisAddress

/** Settings of the Redis cache. */
export interface RedisCacheOptions {
  readonly url: Redacted.Redacted<string>
  readonly ttl: Duration.DurationInput
  /** Namespace of this cache's keys; `clear` and `stats` touch nothing else. */
  readonly prefix?: string | undefined
  /** Per-command timeout (default 1 s). */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** Time between probes while Redis is down (default 2 s). */
  readonly resetTimeout?: Duration.DurationInput | undefined
}

/** The namespace used when no `prefix` is given. */
export const DEFAULT_PREFIX = "effect-agents:cache:"
const STATS_FIELD_KEY = "__stats__"
const SCAN_COUNT = 500

/** Escapes glob characters so `MATCH` treats the prefix literally. */
const globEscape = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`)

/** Every key under `prefix` (the counters too), a SCAN page at a time. */
const forEachPage = async (
  client: RedisConnection.RedisConnection["client"],
  prefix: string,
  f: (keys: ReadonlyArray<string>) => Promise<void>
): Promise<void> => {
  let cursor = "0"
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${globEscape(prefix)}*`, "COUNT", SCAN_COUNT)
    cursor = next
    if (keys.length > 0) await f(keys)
  } while (cursor !== "0")
}

/** Entries and bytes by a scan of the prefix (values' lengths by STRLEN), counters from their hash. */
const scanStats = async (
  client: RedisConnection.RedisConnection["client"],
  prefix: string,
  statsKey: string
): Promise<StoreStats> => {
  let entries = 0
  let bytes = 0
  await forEachPage(client, prefix, async (keys) => {
    const entryKeys = keys.filter((k) => k !== statsKey)
    const pipeline = client.pipeline()
    for (const k of entryKeys) pipeline.strlen(k)
    const results = (await pipeline.exec()) ?? []
    entryKeys.forEach((k, i) => {
      const [error, length] = results[i] ?? [null, 0]
      // A key that expired between SCAN and STRLEN has length 0 and is no entry.
      if (error !== null || typeof length !== "number" || length === 0) return
      entries += 1
      bytes += Buffer.byteLength(k, "utf8") - Buffer.byteLength(prefix, "utf8") + length
    })
  })
  const [hits, misses] = await client.hmget(statsKey, "hits", "misses")
  return { entries, bytes, hits: Number(hits ?? 0), misses: Number(misses ?? 0) }
}

/**
 * A Redis `CacheStore`: `get`, `set` and `delete` answer as a miss / no-op while Redis is down;
 * `stats` and `clear` (asked for by a person) fail with `CacheBackendError` then. The connection
 * is made here and quit when the scope closes.
 */
export const makeStore = (options: RedisCacheOptions): Effect.Effect<CacheStore, never, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? DEFAULT_PREFIX
    const statsKey = `${prefix}${STATS_FIELD_KEY}`
    const ttlMs = Math.max(1, Math.round(Duration.toMillis(options.ttl)))
    const connection = yield* RedisConnection.make({
      url: options.url,
      name: "redis:cache",
      fallback: "cache bypassed",
      restored: "cache in use again",
      commandTimeout: options.commandTimeout,
      resetTimeout: options.resetTimeout
    })
    const { client } = connection
    const fault = (operation: string) => (error: RedisConnection.RedisDown | RedisConnection.RedisReplyError) =>
      new CacheBackendError({
        backend: "redis",
        operation,
        reason: error._tag === "RedisDown" ? error.message : `${connection.address}: ${error.message}`
      })
    const run = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A, CacheBackendError> =>
      Effect.mapError(connection.run(f), fault(operation))
    /** A lookup or write: while Redis is down it answers `otherwise` (the outage is logged once). */
    const bypassable = <A>(
      operation: string,
      effect: Effect.Effect<A, RedisConnection.RedisDown | RedisConnection.RedisReplyError>,
      otherwise: A
    ): Effect.Effect<A, CacheBackendError> =>
      effect.pipe(Effect.catchTag("RedisDown", () => Effect.succeed(otherwise)), Effect.mapError(fault(operation)))

    const count = (field: "hits" | "misses") => {
      // Counting must not slow the lookup down; a lost increment only skews `cache stats`.
      client.hincrby(statsKey, field, 1).catch(() => {})
    }

    const store: CacheStore = {
      backend: "redis",
      get: (key) =>
        bypassable(
          "get",
          Effect.map(connection.run(() => client.get(prefix + key)), (value) => {
            count(value === null ? "misses" : "hits")
            return Option.fromNullable(value)
          }),
          Option.none()
        ),
      set: (key, value) => bypassable("set", Effect.asVoid(connection.run(() => client.set(prefix + key, value, "PX", ttlMs))), undefined),
      delete: (key) => bypassable("delete", Effect.asVoid(connection.run(() => client.del(prefix + key))), undefined),
      stats: run("stats", () => scanStats(client, prefix, statsKey)),
      // The counters live under the prefix too, so clearing resets them with the entries.
      clear: run("clear", () =>
        forEachPage(client, prefix, async (keys) => {
          await client.unlink(...keys)
        }))
    }
    return store
  })

/** The Redis cache service; connection failures are logged and answered as misses. */
export const make = (options: RedisCacheOptions): Effect.Effect<LlmCacheService, never, Scope.Scope> =>
  Effect.map(makeStore(options), fromStore)

/**
 * The Redis cache at `REDIS_URL` with `CACHE_TTL` from `AppConfig`. Without `REDIS_URL` it logs a
 * warning and provides the disabled cache (every lookup misses) rather than failing to start.
 */
export const layer: Layer.Layer<LlmCache, never, AppConfig> = Layer.scoped(
  LlmCache,
  Effect.gen(function*() {
    const config = yield* AppConfig
    if (Option.isNone(config.redisUrl)) {
      yield* Effect.logWarning("CACHE_BACKEND=redis but REDIS_URL is not set; the LLM cache is disabled").pipe(
        Effect.annotateLogs({ backend: "redis" })
      )
      return fromStore({
        backend: "redis",
        get: () => Effect.succeed(Option.none()),
        set: () => Effect.void,
        delete: () => Effect.void,
        stats: Effect.succeed({ entries: 0, bytes: 0 }),
        clear: Effect.void
      })
    }
    return yield* make({ url: config.redisUrl.value, ttl: config.cache.ttl })
  })
)
