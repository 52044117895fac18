/**
 * RateLimiterRedis — one rate limit shared by every process that uses the same Redis.
 *
 * Buckets are token buckets kept by a Lua script (atomic across processes, see
 * `internal/redisBucketStore`); pauses are one key per limiter key holding the pause's end (epoch
 * ms) with a matching expiry. All keys start with a prefix (`effect-agents:ratelimit:` by default;
 * tests pass their own so parallel runs do not collide). The FIFO order of waiters holds within a
 * process; across processes, reservations are served in the order they reach Redis.
 *
 * The client and its breaker are a `RedisConnection`: while Redis is down (unreachable at startup,
 * or since a command found it so) this process limits on its own — memory buckets and pauses with
 * the same limits, at once and with one warning per outage — and it shares Redis's again as soon as
 * a background probe gets an answer. A pause is also kept in memory, so it holds through an outage.
 */
import * as ExperimentalRateLimiter from "@effect/experimental/RateLimiter"
import { type Duration, Effect, Layer, Option } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { limitsFromConfig, RateLimiter, RateLimiterBackendError } from "../services/RateLimiter.js"
import * as RedisBucketStore from "../internal/redisBucketStore.js"
import * as PassThrough from "./PassThrough.js"
import { fromStores, type PauseStore } from "./RateLimiterLanes.js"
import * as RateLimiterMemory from "./RateLimiterMemory.js"
import * as RedisConnection from "./RedisConnection.js"

/** Options of the Redis limiter. */
export interface RedisLimiterOptions {
  /** Prefix of every key; default `effect-agents:ratelimit:`. */
  readonly prefix?: string
  /** How long one Redis command may take before Redis counts as down; default 1 s. */
  readonly commandTimeout?: Duration.DurationInput
  /** Time between probes while Redis is down; default 2 s. */
  readonly resetTimeout?: Duration.DurationInput
}

/** Prefix of the limiter's Redis keys unless told otherwise. */
export const DEFAULT_PREFIX = "effect-agents:ratelimit:"

/** ioredis options from a `redis://` or `rediss://` URL (see `RedisConnection.redisOptionsFromUrl`). */
export const redisOptionsFromUrl = RedisConnection.redisOptionsFromUrl

const PAUSE_SCRIPT = `
local current = tonumber(redis.call("GET", KEYS[1]))
local untilMs = tonumber(ARGV[1])
if current and current >= untilMs then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
`

const backendError = (operation: string) => (error: RedisConnection.RedisReplyError) =>
  new RateLimiterBackendError({ backend: "redis", operation, reason: error.message, cause: error.cause })

/**
 * A `PauseStore` on `connection`, keys `${prefix}pause:${key}`. Pauses are written to `local` too,
 * which answers while Redis is down.
 */
export const makePauseStore = (
  connection: RedisConnection.RedisConnection,
  prefix: string,
  local: PauseStore = RateLimiterMemory.makePauseStore()
): PauseStore => ({
  backend: "redis",
  pausedUntil: (key) =>
    connection.run((redis) => redis.get(`${prefix}pause:${key}`)).pipe(
      Effect.map((value) => (value === null ? 0 : Number(value) || 0)),
      Effect.catchTags({
        RedisDown: () => local.pausedUntil(key),
        RedisReplyError: (error) => Effect.fail(backendError("read pause")(error))
      })
    ),
  pauseUntil: (key, untilMs) =>
    Effect.zipRight(
      local.pauseUntil(key, untilMs),
      Effect.clockWith((clock) =>
        connection.run((redis) => {
          // The key outlives the pause a little so a reader never sees it vanish early.
          const ttl = Math.max(1, Math.ceil(untilMs - clock.unsafeCurrentTimeMillis()) + 1000)
          return redis.eval(PAUSE_SCRIPT, 1, `${prefix}pause:${key}`, String(Math.ceil(untilMs)), String(ttl))
        })
      ).pipe(Effect.asVoid, Effect.catchTag("RedisDown", () => Effect.void), Effect.mapError(backendError("pause")))
    )
})

/**
 * The Redis limiter with the `RATE_LIMIT_*` settings and `REDIS_URL`. It never fails: while Redis
 * is unreachable (from the start or later) it limits this process alone with the same limits.
 * Without `REDIS_URL` (which configuration validation rejects) it is the memory limiter.
 */
export const make = (options: RedisLimiterOptions = {}) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const limits = limitsFromConfig(config)
    // A disabled limiter needs no Redis at all.
    if (!limits.enabled) return PassThrough.rateLimiter
    if (Option.isNone(config.redisUrl)) {
      yield* Effect.logWarning("RATE_LIMIT_BACKEND=redis but REDIS_URL is not set; rate limits are per process").pipe(
        Effect.annotateLogs({ backend: "redis" })
      )
      return yield* RateLimiterMemory.make
    }
    const prefix = options.prefix ?? DEFAULT_PREFIX
    const connection = yield* RedisConnection.make({
      url: config.redisUrl.value,
      name: "redis:limiter",
      fallback: "rate limits per process",
      restored: "rate limits shared again",
      commandTimeout: options.commandTimeout,
      resetTimeout: options.resetTimeout
    })
    const memory = yield* Effect.provide(ExperimentalRateLimiter.RateLimiterStore, ExperimentalRateLimiter.layerStoreMemory)
    const buckets = RedisBucketStore.make(connection, prefix, memory)
    return yield* fromStores(makePauseStore(connection, prefix), limits).pipe(
      Effect.provideService(ExperimentalRateLimiter.RateLimiterStore, buckets)
    )
  })

/** `RateLimiter` shared through Redis, per process while Redis is down. */
export const layer = (options: RedisLimiterOptions = {}): Layer.Layer<RateLimiter, never, AppConfig> =>
  Layer.scoped(RateLimiter, make(options))
