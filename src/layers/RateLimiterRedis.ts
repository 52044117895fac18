/**
 * RateLimiterRedis — one rate limit shared by every process that uses the same Redis.
 *
 * Buckets are `@effect/experimental`'s Redis `RateLimiterStore` (Lua scripts, so a reservation is
 * atomic across processes); pauses are one key per limiter key holding the pause's end (epoch ms)
 * with a matching expiry. All keys start with a prefix (`effect-agents:ratelimit:` by default; tests
 * pass their own so parallel runs do not collide). The FIFO order of waiters holds within a process;
 * across processes, reservations are served in the order they reach Redis.
 *
 * The Layer checks Redis answers a PING before it is built, so a wrong `REDIS_URL` shows at startup;
 * later faults grant permits and log a warning (see `RateLimiter.fromStores`).
 */
import * as ExperimentalRedis from "@effect/experimental/RateLimiter/Redis"
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { Redis, type RedisOptions } from "ioredis"
import { AppConfig } from "../services/AppConfig.js"
import {
  disabled,
  fromStores,
  limitsFromConfig,
  type PauseStore,
  RateLimiter,
  RateLimiterBackendError
} from "../services/RateLimiter.js"

/** Options of the Redis limiter. */
export interface RedisLimiterOptions {
  /** Prefix of every key; default `effect-agents:ratelimit:`. */
  readonly prefix?: string
  /** How long one Redis command may take before the permit is granted without it; default 2 s. */
  readonly commandTimeout?: Duration.DurationInput
}

/** Prefix of the limiter's Redis keys unless told otherwise. */
export const DEFAULT_PREFIX = "effect-agents:ratelimit:"

/** ioredis options from a `redis://` or `rediss://` URL (user, password and `/db` included). */
export const redisOptionsFromUrl = (url: string): RedisOptions => {
  const u = new URL(url)
  const db = Number(u.pathname.replace(/^\//, "") || "0")
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port === "" ? 6379 : Number(u.port),
    ...(u.username === "" ? {} : { username: decodeURIComponent(u.username) }),
    ...(u.password === "" ? {} : { password: decodeURIComponent(u.password) }),
    ...(Number.isInteger(db) ? { db } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {})
  }
}

const PAUSE_SCRIPT = `
local current = tonumber(redis.call("GET", KEYS[1]))
local untilMs = tonumber(ARGV[1])
if current and current >= untilMs then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
`

const backendError = (operation: string) => (cause: unknown) =>
  new RateLimiterBackendError({
    backend: "redis",
    operation,
    reason: cause instanceof Error ? cause.message : String(cause),
    cause
  })

/** A `PauseStore` on `redis`, keys `${prefix}pause:${key}`. */
export const makePauseStore = (redis: Redis, prefix: string): PauseStore => ({
  backend: "redis",
  pausedUntil: (key) =>
    Effect.tryPromise({
      try: () => redis.get(`${prefix}pause:${key}`),
      catch: backendError("read pause")
    }).pipe(Effect.map((value) => (value === null ? 0 : Number(value) || 0))),
  pauseUntil: (key, untilMs) =>
    Effect.clockWith((clock) =>
      Effect.tryPromise({
        try: () => {
          // The key outlives the pause a little so a reader never sees it vanish early.
          const ttl = Math.max(1, Math.ceil(untilMs - clock.unsafeCurrentTimeMillis()) + 1000)
          return redis.eval(PAUSE_SCRIPT, 1, `${prefix}pause:${key}`, String(Math.ceil(untilMs)), String(ttl))
        },
        catch: backendError("pause")
      })
    ).pipe(Effect.asVoid)
})

/**
 * The Redis limiter with the `RATE_LIMIT_*` settings and `REDIS_URL`. Fails with
 * `RateLimiterBackendError` when `REDIS_URL` is unset or Redis does not answer.
 */
export const make = (options: RedisLimiterOptions = {}) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const limits = limitsFromConfig(config)
    // A disabled limiter needs no Redis at all.
    if (!limits.enabled) return disabled
    if (Option.isNone(config.redisUrl)) {
      return yield* new RateLimiterBackendError({
        backend: "redis",
        operation: "connect",
        reason: "RATE_LIMIT_BACKEND=redis needs REDIS_URL"
      })
    }
    const prefix = options.prefix ?? DEFAULT_PREFIX
    const redisOptions: RedisOptions = {
      ...redisOptionsFromUrl(Redacted.value(config.redisUrl.value)),
      commandTimeout: Duration.toMillis(options.commandTimeout ?? Duration.seconds(2)),
      // Fail a command after one reconnect attempt rather than queueing it for ever.
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000
    }
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis(redisOptions)
        // Faults surface as failed commands (and a throttled warning); the event itself adds nothing.
        client.on("error", () => {})
        return client
      }),
      (client) =>
        client.status === "ready"
          ? Effect.promise(() => client.quit().catch(() => "OK"))
          : Effect.sync(() => client.disconnect())
    )
    yield* Effect.tryPromise({ try: () => redis.ping(), catch: backendError("connect") }).pipe(
      Effect.timeoutFail({
        duration: Duration.seconds(5),
        onTimeout: () => backendError("connect")("no answer to PING within 5 s")
      })
    )
    // Built into this Layer's scope, so the store's connection lives as long as the limiter.
    const store = yield* Layer.build(ExperimentalRedis.layerStore({ ...redisOptions, prefix }))
    return yield* fromStores(makePauseStore(redis, prefix), limits).pipe(Effect.provide(store))
  })

/** `RateLimiter` shared through Redis; fails to build when Redis is unset or unreachable. */
export const layer = (
  options: RedisLimiterOptions = {}
): Layer.Layer<RateLimiter, RateLimiterBackendError, AppConfig> => Layer.scoped(RateLimiter, make(options))
