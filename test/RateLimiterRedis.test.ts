import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { afterAll } from "vitest"
import * as RateLimiterFromConfig from "../src/layers/RateLimiterFromConfig.js"
import * as RateLimiterRedis from "../src/layers/RateLimiterRedis.js"
import { RateLimiter } from "../src/services/RateLimiter.js"
import { testConfigLayer } from "./support/config.js"
import { captureLogs } from "./support/logs.js"

const REDIS_URL = process.env.REDIS_URL
const PREFIX = `test:ratelimit:${process.pid}:${Date.now()}:`

/** A limiter as one process would build it; two of them stand for two processes. */
const processLimiter = (env: Record<string, string>) =>
  Effect.map(
    Layer.build(
      RateLimiterRedis.layer({ prefix: PREFIX }).pipe(
        Layer.provide(testConfigLayer({ REDIS_URL: REDIS_URL ?? "", RATE_LIMIT_BACKEND: "redis", ...env }))
      )
    ),
    Context.get(RateLimiter)
  )

/** 2 requests per second: one refills every 500 ms. */
const TWO_PER_SECOND = { RATE_LIMIT_MAX_CALLS: "2", RATE_LIMIT_PERIOD: "1" }

let counter = 0
const freshKey = () => `redis-test:model-${++counter}`

describe.runIf(REDIS_URL)("RateLimiter (redis)", () => {
  afterAll(async () => {
    const redis = new Redis(RateLimiterRedis.redisOptionsFromUrl(REDIS_URL!))
    const keys = await redis.keys(`${PREFIX}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  it.scopedLive("two processes share one request quota", () =>
    Effect.gen(function*() {
      const a = yield* processLimiter(TWO_PER_SECOND)
      const b = yield* processLimiter(TWO_PER_SECOND)
      const key = freshKey()
      yield* a.acquire(key, {})
      yield* a.acquire(key, {})
      const waited = Duration.toMillis(yield* b.acquire(key, {}))
      expect(waited).toBeGreaterThanOrEqual(400)
      expect(waited).toBeLessThan(1500)
    }))

  it.scopedLive("two processes share one token quota", () =>
    Effect.gen(function*() {
      const env = { RATE_LIMIT_MAX_CALLS: "100", RATE_LIMIT_PERIOD: "1", RATE_LIMIT_MAX_TOKENS: "1000" }
      const a = yield* processLimiter(env)
      const b = yield* processLimiter(env)
      const key = freshKey()
      yield* a.acquire(key, { tokens: 1000 })
      const waited = Duration.toMillis(yield* b.acquire(key, { tokens: 300 }))
      expect(waited).toBeGreaterThanOrEqual(250)
      expect(waited).toBeLessThan(1300)
    }))

  it.scopedLive("a Retry-After seen by one process pauses the other", () =>
    Effect.gen(function*() {
      const a = yield* processLimiter(TWO_PER_SECOND)
      const b = yield* processLimiter(TWO_PER_SECOND)
      const key = freshKey()
      yield* a.feedback(key, Duration.millis(400))
      const waited = Duration.toMillis(yield* b.acquire(key, {}))
      expect(waited).toBeGreaterThanOrEqual(350)
      expect(waited).toBeLessThan(1400)
    }))

  it.scopedLive("a Redis that answers with an error grants permits at once and logs one warning", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const a = yield* processLimiter(TWO_PER_SECOND)
      const key = freshKey()
      // A pause key of the wrong type: every read of the pause is refused by Redis itself.
      const redis = new Redis(RateLimiterRedis.redisOptionsFromUrl(REDIS_URL!))
      yield* Effect.promise(() => redis.hset(`${PREFIX}pause:${key}`, "until", "0"))
      yield* Effect.promise(() => redis.quit())
      const waits = yield* Effect.forEach([1, 2], () => a.acquire(key, {}))
      expect(waits.map(Duration.toMillis).every((ms) => ms < 200)).toBe(true)
      const warnings = logs.lines.filter((l) => l.level === "WARN")
      expect(warnings.map((w) => [w.text, w.annotations["operation"]])).toEqual([
        ["rate limiter backend failed; granting permits without it", "read pause"]
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("keys live under the configured prefix", () =>
    Effect.gen(function*() {
      const a = yield* processLimiter(TWO_PER_SECOND)
      const key = freshKey()
      yield* a.acquire(key, {})
      yield* a.feedback(key, Duration.seconds(1))
      const redis = new Redis(RateLimiterRedis.redisOptionsFromUrl(REDIS_URL!))
      const keys = yield* Effect.promise(() => redis.keys(`${PREFIX}*${key}*`))
      yield* Effect.promise(() => redis.quit())
      expect(keys.length).toBeGreaterThanOrEqual(2)
      expect(keys.every((k) => k.startsWith(PREFIX))).toBe(true)
    }))

  it.scopedLive("RATE_LIMIT_BACKEND=redis picks the Redis limiter", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(RateLimiterFromConfig.layer.pipe(Layer.provide(testConfigLayer({
        REDIS_URL: REDIS_URL!,
        RATE_LIMIT_BACKEND: "redis",
        ...TWO_PER_SECOND
      }))))
      const other = yield* processLimiter(TWO_PER_SECOND)
      const limiter = Context.get(ctx, RateLimiter)
      // The default prefix differs from the test's, so use a key nobody else touches.
      const key = `${freshKey()}:${Date.now()}`
      yield* Effect.addFinalizer(() =>
        Effect.promise(async () => {
          const redis = new Redis(RateLimiterRedis.redisOptionsFromUrl(REDIS_URL!))
          const keys = await redis.keys(`${RateLimiterRedis.DEFAULT_PREFIX}*${key}*`)
          if (keys.length > 0) await redis.del(...keys)
          await redis.quit()
        })
      )
      yield* limiter.acquire(key, {})
      yield* limiter.acquire(key, {})
      const waited = Duration.toMillis(yield* limiter.acquire(key, {}))
      expect(waited).toBeGreaterThanOrEqual(400)
      // The test process's limiter under its own prefix is unaffected.
      expect(Duration.toMillis(yield* other.acquire(key, {}))).toBeLessThan(200)
    }))
})

describe("RateLimiterRedis", () => {
  it.scopedLive("an unreachable Redis at startup gives one warning and limits this process with the same limits", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const limiter = Context.get(
        yield* Layer.build(
          RateLimiterRedis.layer({ prefix: PREFIX }).pipe(Layer.provide(testConfigLayer({
            REDIS_URL: "redis://user:s3cret-pass@127.0.0.1:1/0",
            RATE_LIMIT_BACKEND: "redis",
            ...TWO_PER_SECOND
          })))
        ),
        RateLimiter
      )
      const key = freshKey()
      yield* limiter.acquire(key, {})
      yield* limiter.acquire(key, {})
      const waited = Duration.toMillis(yield* limiter.acquire(key, {}))
      expect(waited).toBeGreaterThanOrEqual(400)
      const warnings = logs.lines.filter((l) => l.level === "WARN")
      expect(warnings.map((w) => w.text)).toEqual([
        "Redis at 127.0.0.1:1 unreachable: rate limits per process until it is back"
      ])
      expect(JSON.stringify(logs.lines)).not.toContain("s3cret-pass")
    }).pipe(Effect.provide(logs.layer))
  })

  it("redisOptionsFromUrl reads host, port, credentials and database", () => {
    expect(RateLimiterRedis.redisOptionsFromUrl("redis://user:p%40ss@10.0.0.5:6380/15")).toEqual({
      host: "10.0.0.5",
      port: 6380,
      username: "user",
      password: "p@ss",
      db: 15
    })
    expect(RateLimiterRedis.redisOptionsFromUrl("rediss://:secret@cache.example")).toEqual({
      host: "cache.example",
      port: 6379,
      password: "secret",
      db: 0,
      tls: {}
    })
  })
})
