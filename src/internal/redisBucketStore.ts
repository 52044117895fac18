/**
 * The limiter's buckets in Redis, run on our `RedisConnection` (its breaker, its error listener),
 * with a memory store taking over while Redis is down.
 *
 * Not `@effect/experimental`'s Redis store: its own client cannot be reached, so it prints
 * connection errors to stderr and cannot be dropped when Redis hangs (a process would not exit).
 *
 * A token bucket is one hash `{level, at}`: refilled continuously from `at`, and set to expire
 * when it would be full again, so an idle bucket leaves nothing behind. A fixed window is one
 * counter whose expiry is when it drains. Keys: `<prefix>bucket:<key>`, `<prefix>window:<key>`.
 * Times are the caller's clock, as for the memory store (and `TestClock`).
 */
import * as ExperimentalRateLimiter from "@effect/experimental/RateLimiter"
import { Duration, Effect } from "effect"
import type { Redis } from "ioredis"
import * as crypto from "node:crypto"
import type { RedisConnection, RedisDown, RedisReplyError } from "../layers/RedisConnection.js"

/**
 * ARGV: tokens to take, ms per token, capacity, now (ms), "1" to allow a negative level.
 * Returns the level after taking, as a string (fractional; Redis would truncate a number). When
 * that is negative and overflow is not allowed, nothing is taken.
 */
const TOKEN_BUCKET = `
local take, ms_per_token, capacity, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local saved = redis.call("HMGET", KEYS[1], "level", "at")
local level = tonumber(saved[1]) or capacity
local since = tonumber(saved[2]) or now
level = math.min(capacity, level + math.max(0, now - since) / ms_per_token)
local wanted = level - take
if wanted >= 0 or ARGV[5] == "1" then level = wanted end
redis.call("HSET", KEYS[1], "level", tostring(level), "at", tostring(now))
redis.call("PEXPIRE", KEYS[1], math.max(1, math.ceil((capacity - level) * ms_per_token)))
return tostring(wanted)
`

/**
 * ARGV: tokens to add, ms each token keeps the window open, limit (or "" for none).
 * Returns { count, ms until the window is empty }; over the limit, nothing changes.
 */
const FIXED_WINDOW = `
local add, ms_per_token, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local count = (tonumber(redis.call("GET", KEYS[1])) or 0) + add
local open_ms = math.max(0, redis.call("PTTL", KEYS[1]))
if limit ~= nil and count > limit then return { count, open_ms } end
open_ms = open_ms + add * ms_per_token
redis.call("SET", KEYS[1], count, "PX", open_ms)
return { count, open_ms }
`

/** Runs a script by its SHA, loading it when Redis does not know it (first call, after a restart). */
const script = (lua: string) => {
  const sha = crypto.createHash("sha1").update(lua).digest("hex")
  return (client: Redis, key: string, args: ReadonlyArray<string | number>): Promise<unknown> =>
    client.evalsha(sha, 1, key, ...args).catch((error: unknown) =>
      error instanceof Error && error.message.startsWith("NOSCRIPT") ? client.eval(lua, 1, key, ...args) : Promise.reject(error)
    )
}
const tokenBucketScript = script(TOKEN_BUCKET)
const fixedWindowScript = script(FIXED_WINDOW)

type Store = ExperimentalRateLimiter.RateLimiterStore["Type"]

/**
 * A `RateLimiterStore` on `connection` under `prefix`; while Redis is down every call goes to
 * `fallback` (this process's memory store, with the same limits), which needs no warning of its own.
 */
export const make = (connection: RedisConnection, prefix: string, fallback: Store): Store => {
  const storeError = (error: RedisReplyError) =>
    new ExperimentalRateLimiter.RateLimitStoreError({ message: error.message, cause: error.cause })
  const orFallback = <A>(
    effect: Effect.Effect<A, RedisDown | RedisReplyError>,
    otherwise: Effect.Effect<A, ExperimentalRateLimiter.RateLimiterError>
  ): Effect.Effect<A, ExperimentalRateLimiter.RateLimiterError> =>
    effect.pipe(Effect.catchTag("RedisDown", () => otherwise), Effect.catchTag("RedisReplyError", (e) => Effect.fail(storeError(e))))

  return {
    tokenBucket: (options) =>
      Effect.clockWith((clock) =>
        orFallback(
          connection.run((client) =>
            tokenBucketScript(client, `${prefix}bucket:${options.key}`, [
              options.tokens,
              Duration.toMillis(options.refillRate),
              options.limit,
              clock.unsafeCurrentTimeMillis(),
              options.allowOverflow ? 1 : 0
            ])
          ).pipe(Effect.map(Number)),
          fallback.tokenBucket(options)
        )
      ),
    fixedWindow: (options) =>
      orFallback(
        connection.run((client) =>
          fixedWindowScript(client, `${prefix}window:${options.key}`, [
            options.tokens,
            Duration.toMillis(options.refillRate),
            options.limit ?? ""
          ])
        ).pipe(Effect.map((reply) => {
          const [count, ttl] = Array.isArray(reply) ? reply : [0, 0]
          return [Number(count), Number(ttl)] as const
        })),
        fallback.fixedWindow(options)
      )
  }
}
