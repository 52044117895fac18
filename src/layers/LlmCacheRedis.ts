/**
 * LlmCacheRedis — the LLM cache in Redis, shared by every process that points at the same server.
 *
 * Each entry is a string key `<prefix><cache key>` written with `PX` = `CACHE_TTL`, so Redis expires
 * it. The size limit is Redis's business (`maxmemory` + an LRU policy); this adapter does not
 * evict. Hit/miss counters live in the hash `<prefix>__stats__` so `cache stats` shows the history.
 *
 * The client connects lazily and gives up a command after one reconnect attempt or a 1 s timeout;
 * while it is reconnecting, operations fail at once without a round trip. So a dead Redis costs a
 * lookup at most about a second once, then nothing but a miss and a (throttled) warning. `REDIS_URL` may hold a
 * password: it is never logged, and is scrubbed from error reasons.
 */
import { Duration, Effect, Layer, Option, Redacted, type Scope } from "effect"
import { Redis } from "ioredis"
import { AppConfig } from "../services/AppConfig.js"
import {
  CacheBackendError,
  type CacheStore,
  fromStore,
  LlmCache,
  type LlmCacheService,
  reasonOf,
  type StoreStats
} from "../services/LlmCache.js"

/** Settings of the Redis cache. */
export interface RedisCacheOptions {
  readonly url: Redacted.Redacted<string>
  readonly ttl: Duration.DurationInput
  /** Namespace of this cache's keys; `clear` and `stats` touch nothing else. */
  readonly prefix?: string | undefined
  /** Per-command timeout (default 1 s). */
  readonly commandTimeout?: Duration.DurationInput | undefined
}

/** The namespace used when no `prefix` is given. */
export const DEFAULT_PREFIX = "effect-agents:cache:"
const STATS_FIELD_KEY = "__stats__"
const SCAN_COUNT = 500

/** Escapes glob characters so `MATCH` treats the prefix literally. */
const globEscape = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`)

/** `host:port` of a Redis URL — the only part of it we ever show. */
export const redisAddress = (url: Redacted.Redacted<string>): string => {
  try {
    const u = new URL(Redacted.value(url))
    return `${u.hostname}:${u.port === "" ? "6379" : u.port}`
  } catch {
    return "<unparseable REDIS_URL>"
  }
}

/**
 * A Redis `CacheStore` (no fault handling: see `make`). The client is created here and quit when
 * the scope closes; it does not connect until the first command.
 */
export const makeStore = (options: RedisCacheOptions): Effect.Effect<CacheStore, never, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? DEFAULT_PREFIX
    const statsKey = `${prefix}${STATS_FIELD_KEY}`
    const ttlMs = Math.max(1, Math.round(Duration.toMillis(options.ttl)))
    const address = redisAddress(options.url)
    const secrets = secretParts(options.url)
    const scrub = (reason: string) =>
      secrets.reduce((text, secret) => text.split(secret).join("<redacted>"), reason)
    // The latest connection error, which says more than ioredis's "max retries per request".
    let connectionError: string | undefined
    const fault = (operation: string) => (cause: unknown) =>
      new CacheBackendError({
        backend: "redis",
        operation,
        reason: scrub(`${address}: ${reasonOf(cause)}${connectionError === undefined ? "" : ` (${connectionError})`}`)
      })

    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const redis = new Redis(Redacted.value(options.url), {
          lazyConnect: true,
          maxRetriesPerRequest: 1,
          connectTimeout: 1000,
          commandTimeout: Math.round(Duration.toMillis(options.commandTimeout ?? Duration.seconds(1))),
          // Reconnect attempts stay short and bounded in frequency while Redis is down.
          retryStrategy: (times) => Math.min(times * 100, 1000)
        })
        // Without a listener ioredis prints every connection error to the console; failures reach
        // us through the rejected commands instead, where they are logged as warnings.
        redis.on("error", (error: Error) => {
          connectionError = error.message
        })
        redis.on("ready", () => {
          connectionError = undefined
        })
        return redis
      }),
      (redis) => Effect.promise(() => quit(redis))
    )

    // While the client is reconnecting Redis is known to be down: fail at once instead of queueing
    // the command for a retry, so an outage costs lookups nothing but a miss.
    const down = () => client.status === "reconnecting" || client.status === "close" || client.status === "end"
    const run = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A, CacheBackendError> =>
      Effect.suspend(() =>
        down()
          ? Effect.fail(fault(operation)(new Error(`not connected (${client.status})`)))
          : Effect.tryPromise({ try: f, catch: fault(operation) })
      )

    /** Every key of this cache (excluding the counters), a SCAN page at a time. */
    const forEachPage = (f: (keys: ReadonlyArray<string>) => Promise<void>) => async () => {
      let cursor = "0"
      do {
        const [next, keys] = await client.scan(cursor, "MATCH", `${globEscape(prefix)}*`, "COUNT", SCAN_COUNT)
        cursor = next
        if (keys.length > 0) await f(keys)
      } while (cursor !== "0")
    }

    const count = (field: "hits" | "misses") => {
      // Counting must not slow the lookup down; a lost increment only skews `cache stats`.
      client.hincrby(statsKey, field, 1).catch(() => {})
    }

    const store: CacheStore = {
      backend: "redis",
      get: (key) =>
        run("get", () => client.get(prefix + key)).pipe(
          Effect.map((value) => {
            count(value === null ? "misses" : "hits")
            return Option.fromNullable(value)
          })
        ),
      set: (key, value) => run("set", () => client.set(prefix + key, value, "PX", ttlMs)).pipe(Effect.asVoid),
      delete: (key) => run("delete", () => client.del(prefix + key)).pipe(Effect.asVoid),
      stats: run("stats", async (): Promise<StoreStats> => {
        let entries = 0
        let bytes = 0
        await forEachPage(async (keys) => {
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
        })()
        const [hits, misses] = await client.hmget(statsKey, "hits", "misses")
        return { entries, bytes, hits: Number(hits ?? 0), misses: Number(misses ?? 0) }
      }),
      // The counters live under the prefix too, so clearing resets them with the entries.
      clear: run("clear", forEachPage(async (keys) => {
        await client.unlink(...keys)
      }))
    }
    return store
  })

/** Password and username of the URL: strings that must never appear in a log line. */
const secretParts = (url: Redacted.Redacted<string>): ReadonlyArray<string> => {
  try {
    const u = new URL(Redacted.value(url))
    return [u.password, decodeURIComponent(u.password), u.username]
      .filter((s) => s.length >= 3)
  } catch {
    return []
  }
}

const quit = async (redis: Redis): Promise<void> => {
  if (redis.status === "ready") {
    // QUIT waits for pending replies; a stuck server must not hold up shutdown.
    await Promise.race([
      redis.quit().catch(() => "OK"),
      new Promise((resolve) => setTimeout(resolve, 1000).unref())
    ])
  }
  redis.disconnect()
}

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
