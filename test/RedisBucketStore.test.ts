/**
 * The limiter's Redis buckets against a real Redis (`REDIS_URL`), time on `TestClock` (each call
 * passes the caller's clock to the script): a token bucket starts full, refills continuously up to
 * its capacity, refuses or (when allowed) overdraws, and its key expires once it would be full; a
 * fixed window counts up to its limit and stays open a refill period per token.
 */
import * as ExperimentalRateLimiter from "@effect/experimental/RateLimiter"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Redacted, TestClock } from "effect"
import * as RedisBucketStore from "../src/internal/redisBucketStore.js"
import * as RedisConnection from "../src/layers/RedisConnection.js"

const REDIS_URL = process.env["REDIS_URL"]
const PREFIX = `test:buckets:${process.pid}:${Date.now()}:`
const PERIOD = Duration.millis(1000)

let n = 0
/** A store on a fresh connection and a fresh key; `pttl` reads the key's expiry. */
const setup = Effect.gen(function*() {
  const connection = yield* RedisConnection.make({
    url: Redacted.make(REDIS_URL ?? ""),
    name: "redis:test-buckets",
    fallback: "test fallback",
    restored: "test restored"
  })
  const memory = yield* Effect.provide(ExperimentalRateLimiter.RateLimiterStore, ExperimentalRateLimiter.layerStoreMemory)
  const store = RedisBucketStore.make(connection, PREFIX, memory)
  const key = `key-${++n}`
  const take = (tokens: number, allowOverflow = false) =>
    store.tokenBucket({ key, tokens, limit: 5, refillRate: PERIOD, allowOverflow })
  const pttl = (name: string) => Effect.promise(() => connection.client.pttl(`${PREFIX}${name}`))
  const del = (name: string) => Effect.promise(() => connection.client.del(`${PREFIX}${name}`))
  return { store, key, take, pttl, del }
})

describe.runIf(REDIS_URL)("Redis buckets (real Redis)", () => {
  it.scoped("a token bucket starts full and refuses what it does not hold, taking nothing", () =>
    Effect.gen(function*() {
      const { take } = yield* setup
      expect(yield* take(3)).toBe(2)
      expect(yield* take(3)).toBe(-1) // refused: 2 left
      expect(yield* take(2)).toBe(0)
    }))

  it.scoped("it refills continuously, one token per period, up to its capacity", () =>
    Effect.gen(function*() {
      const { take } = yield* setup
      expect(yield* take(5)).toBe(0)
      yield* TestClock.adjust(Duration.millis(1500))
      expect(yield* take(1)).toBeCloseTo(0.5, 6)
      yield* TestClock.adjust(Duration.minutes(10))
      expect(yield* take(1)).toBeCloseTo(4, 6) // capped at 5 before taking
    }))

  it.scoped("with overflow it goes below zero: the answer is how many periods to wait", () =>
    Effect.gen(function*() {
      const { take } = yield* setup
      expect(yield* take(5, true)).toBe(0)
      expect(yield* take(2, true)).toBe(-2)
      yield* TestClock.adjust(Duration.millis(500))
      expect(yield* take(1, true)).toBeCloseTo(-2.5, 6)
    }))

  it.scoped("a bucket's key expires when it would be full again, so idle buckets leave nothing", () =>
    Effect.gen(function*() {
      const { take, key, pttl, del } = yield* setup
      yield* take(2)
      const ttl = yield* pttl(`bucket:${key}`)
      expect(ttl).toBeGreaterThan(1500)
      expect(ttl).toBeLessThanOrEqual(2000) // two periods to refill two tokens
      // Expired, the bucket is full again: the same as the key it would have become.
      yield* del(`bucket:${key}`)
      expect(yield* take(5)).toBe(0)
    }))

  it.scoped("a fixed window counts up to its limit and stays open one period per token", () =>
    Effect.gen(function*() {
      const { store, key, pttl } = yield* setup
      const add = (tokens: number) => store.fixedWindow({ key, tokens, refillRate: PERIOD, limit: 3 })
      expect(yield* add(1)).toEqual([1, 1000])
      const [count, open] = yield* add(2)
      expect(count).toBe(3)
      expect(open).toBeGreaterThan(2900)
      expect(open).toBeLessThanOrEqual(3000)
      const [over, unchanged] = yield* add(1)
      expect(over).toBe(4) // over the limit: reported, not counted
      expect(unchanged).toBeLessThanOrEqual(open)
      expect(yield* pttl(`window:${key}`)).toBeGreaterThan(2000)
      expect((yield* add(0))[0]).toBe(3)
    }))
})
