/**
 * The limiter's buckets in Redis: `@effect/experimental`'s token-bucket and fixed-window scripts run
 * on our `RedisConnection`, with a memory store taking over while Redis is down.
 *
 * Why not `@effect/experimental`'s Redis store itself: it opens its own ioredis client, which queues
 * commands while Redis is down and prints a stack trace to stderr on every reconnect error. The
 * scripts and keys (`<prefix><key>`, `<prefix><key>:refill`) are the same, so buckets carry over.
 */
import * as ExperimentalRateLimiter from "@effect/experimental/RateLimiter"
import { Duration, Effect } from "effect"
import type { Redis } from "ioredis"
import * as crypto from "node:crypto"
import type { RedisConnection, RedisDown, RedisReplyError } from "../RedisConnection.js"

const TOKEN_BUCKET = `
local key = KEYS[1]
local last_refill_key = key .. ":refill"
local tokens = tonumber(ARGV[1])
local refill_ms = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local overflow = ARGV[5] == "1"
local current = tonumber(redis.call("GET", key))
local last_refill = tonumber(redis.call("GET", last_refill_key))

if not current then
  current = limit
  last_refill = now
  redis.call("SET", key, current)
  redis.call("SET", last_refill_key, last_refill)
end

local elapsed = now - last_refill
local refill_amount = math.floor(elapsed / refill_ms)
if refill_amount > 0 then
  current = math.min(current + refill_amount, limit)
  last_refill = last_refill + (refill_amount * refill_ms)
  redis.call("SET", last_refill_key, last_refill)
end

local next = current - tokens
if next < 0 and not overflow then
  redis.call("SET", key, current)
  return next
end

redis.call("SET", key, next)
return next
`

const FIXED_WINDOW = `
local key = KEYS[1]
local tokens = tonumber(ARGV[1])
local refillms = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local current = tonumber(redis.call("GET", key))

if not current then
  local nextpttl = refillms * tokens
  redis.call("SET", key, tokens, "PX", nextpttl)
  return { tokens, nextpttl }
end

local currentpttl = tonumber(redis.call("PTTL", key) or "0")
local next = current + tokens
if limit and next > limit then
  return { next, currentpttl }
end

local nextpttl = currentpttl + (refillms * tokens)
redis.call("SET", key, next, "PX", nextpttl)
return { next, nextpttl }
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
            tokenBucketScript(client, `${prefix}${options.key}`, [
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
          fixedWindowScript(client, `${prefix}${options.key}`, [
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
