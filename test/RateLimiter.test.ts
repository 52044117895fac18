import { describe, expect, it } from "@effect/vitest"
import * as ExperimentalRateLimiter from "@effect/experimental/RateLimiter"
import { Duration, Effect, Exit, Fiber, Layer, Logger, Metric, Option, Ref, TestClock } from "effect"
import * as RateLimiterFromConfig from "../src/layers/RateLimiterFromConfig.js"
import { fromStores, type PauseStore } from "../src/layers/RateLimiterLanes.js"
import * as RateLimiterMemory from "../src/layers/RateLimiterMemory.js"
import { rateLimiterWaitSeconds } from "../src/services/Metrics.js"
import { type Cost, keyOf, RateLimiter, RateLimiterBackendError } from "../src/services/RateLimiter.js"
import { testConfigLayer } from "./support/config.js"

const memory = (env: Record<string, string>) =>
  RateLimiterMemory.layer.pipe(Layer.provide(testConfigLayer(env)))

/** 3 requests per 3 s: one request refills every second. */
const threePer3s = memory({ RATE_LIMIT_MAX_CALLS: "3", RATE_LIMIT_PERIOD: "3" })
/** 100 requests and 1,000 tokens per 10 s: one token refills every 10 ms. */
const tokensPer10s = memory({ RATE_LIMIT_MAX_CALLS: "100", RATE_LIMIT_PERIOD: "10", RATE_LIMIT_MAX_TOKENS: "1000" })

const KEY = keyOf("openrouter", "openai/gpt-4o-mini")

/** Forks `acquire` and returns once the caller is waiting, so forks enter in program order. */
const forkAcquire = (key: string, cost: Cost, onGranted?: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter
    const before = yield* limiter.waiting
    const fiber = yield* limiter.acquire(key, cost).pipe(
      Effect.tap(() => onGranted ?? Effect.void),
      Effect.fork
    )
    while ((yield* limiter.waiting) === before && Option.isNone(yield* Fiber.poll(fiber))) {
      yield* Effect.yieldNow()
    }
    return fiber
  })

const isDone = (fiber: Fiber.Fiber<unknown, unknown>) => Effect.map(Fiber.poll(fiber), Option.isSome)

describe("RateLimiter (memory)", () => {
  it.effect("grants RATE_LIMIT_MAX_CALLS permits at once without waiting", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      const waits = yield* Effect.all([
        limiter.acquire(KEY, {}),
        limiter.acquire(KEY, {}),
        limiter.acquire(KEY, {})
      ])
      expect(waits.map(Duration.toMillis)).toEqual([0, 0, 0])
    }).pipe(Effect.provide(threePer3s)))

  it.effect("the next caller waits exactly until one request has refilled", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      yield* Effect.repeatN(limiter.acquire(KEY, {}), 2)
      const fourth = yield* forkAcquire(KEY, {})
      yield* TestClock.adjust("999 millis")
      expect(yield* isDone(fourth)).toBe(false)
      yield* TestClock.adjust("1 millis")
      expect(Duration.toMillis(yield* Fiber.join(fourth))).toBe(1000)
    }).pipe(Effect.provide(threePer3s)))

  it.effect("over a second period it grants exactly RATE_LIMIT_MAX_CALLS more", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      yield* Effect.repeatN(limiter.acquire(KEY, {}), 2)
      const later = yield* Effect.forEach([1, 2, 3, 4], () => forkAcquire(KEY, {}))
      yield* TestClock.adjust("3 seconds")
      const done = yield* Effect.forEach(later, isDone)
      expect(done).toEqual([true, true, true, false])
      yield* TestClock.adjust("1 second")
      expect(Duration.toMillis(yield* Fiber.join(later[3]!))).toBe(4000)
    }).pipe(Effect.provide(threePer3s)))

  it.effect("keys are limited independently", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      yield* Effect.repeatN(limiter.acquire(KEY, {}), 2)
      const other = yield* limiter.acquire(keyOf("google", "gemini-2.0-flash"), {})
      expect(Duration.toMillis(other)).toBe(0)
    }).pipe(Effect.provide(threePer3s)))

  it.effect("waiters are served in arrival order", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      const order = yield* Ref.make<Array<string>>([])
      yield* Effect.repeatN(limiter.acquire(KEY, {}), 2)
      const fibers = yield* Effect.forEach(["a", "b", "c", "d", "e"], (name) =>
        forkAcquire(KEY, {}, Ref.update(order, (xs) => [...xs, name])))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.joinAll(fibers)
      expect(yield* Ref.get(order)).toEqual(["a", "b", "c", "d", "e"])
    }).pipe(Effect.provide(threePer3s)))

  it.effect("a token request waits until enough tokens have refilled", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      expect(Duration.toMillis(yield* limiter.acquire(KEY, { tokens: 600 }))).toBe(0)
      const second = yield* forkAcquire(KEY, { tokens: 600 })
      // 200 tokens short at 10 ms per token.
      yield* TestClock.adjust("1999 millis")
      expect(yield* isDone(second)).toBe(false)
      yield* TestClock.adjust("1 millis")
      expect(Duration.toMillis(yield* Fiber.join(second))).toBe(2000)
    }).pipe(Effect.provide(tokensPer10s)))

  it.effect("a big token request is not overtaken by smaller requests that arrive after it", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      const order = yield* Ref.make<Array<string>>([])
      const record = (name: string) => Ref.update(order, (xs) => [...xs, name])
      yield* limiter.acquire(KEY, { tokens: 1000 })
      const big = yield* forkAcquire(KEY, { tokens: 900 }, record("big"))
      // These fit in the request bucket at once and ask for few or no tokens.
      const small = yield* Effect.forEach(["s1", "s2", "s3"], (name, i) =>
        forkAcquire(KEY, { tokens: i === 0 ? 0 : 10 }, record(name)))
      yield* TestClock.adjust("8999 millis")
      expect(yield* Ref.get(order)).toEqual([])
      yield* TestClock.adjust("1 second")
      yield* Fiber.joinAll([big, ...small])
      expect(yield* Ref.get(order)).toEqual(["big", "s1", "s2", "s3"])
    }).pipe(Effect.provide(tokensPer10s)))

  it.effect("a request for more tokens than the bucket holds is granted when the bucket is full", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      expect(Duration.toMillis(yield* limiter.acquire(KEY, { tokens: 5000 }))).toBe(0)
      // It was charged the whole bucket: the next token request waits for a refill.
      const next = yield* forkAcquire(KEY, { tokens: 100 })
      yield* TestClock.adjust("1 second")
      expect(Duration.toMillis(yield* Fiber.join(next))).toBe(1000)
    }).pipe(Effect.provide(tokensPer10s)))

  it.effect("without RATE_LIMIT_MAX_TOKENS token estimates are ignored", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      expect(Duration.toMillis(yield* limiter.acquire(KEY, { tokens: 1_000_000 }))).toBe(0)
      expect(Duration.toMillis(yield* limiter.acquire(KEY, { tokens: 1_000_000 }))).toBe(0)
    }).pipe(Effect.provide(threePer3s)))

  it.effect("a Retry-After pauses the key for every caller until it has passed", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      yield* limiter.acquire(KEY, {})
      yield* limiter.feedback(KEY, Duration.seconds(5))
      const a = yield* forkAcquire(KEY, {})
      const b = yield* forkAcquire(KEY, {})
      yield* TestClock.adjust("4999 millis")
      expect([yield* isDone(a), yield* isDone(b)]).toEqual([false, false])
      yield* TestClock.adjust("1 millis")
      const waits = yield* Effect.all([Fiber.join(a), Fiber.join(b)])
      expect(waits.map(Duration.toMillis)).toEqual([5000, 5000])
    }).pipe(Effect.provide(threePer3s)))

  it.effect("a pause does not affect other keys", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      yield* limiter.feedback(KEY, Duration.seconds(5))
      expect(Duration.toMillis(yield* limiter.acquire(keyOf("openai", "gpt-4o"), {}))).toBe(0)
    }).pipe(Effect.provide(threePer3s)))

  it.effect("a Retry-After also holds callers already waiting for a refill", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      yield* Effect.repeatN(limiter.acquire(KEY, {}), 2)
      const waiter = yield* forkAcquire(KEY, {})
      yield* limiter.feedback(KEY, Duration.seconds(5))
      yield* TestClock.adjust("4 seconds")
      expect(yield* isDone(waiter)).toBe(false)
      yield* TestClock.adjust("1 second")
      expect(Duration.toMillis(yield* Fiber.join(waiter))).toBe(5000)
    }).pipe(Effect.provide(threePer3s)))

  it.effect("a shorter Retry-After does not cut an existing pause short", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      yield* limiter.feedback(KEY, Duration.seconds(10))
      yield* limiter.feedback(KEY, Duration.seconds(1))
      const waiter = yield* forkAcquire(KEY, {})
      yield* TestClock.adjust("9 seconds")
      expect(yield* isDone(waiter)).toBe(false)
      yield* TestClock.adjust("1 second")
      expect(Duration.toMillis(yield* Fiber.join(waiter))).toBe(10_000)
    }).pipe(Effect.provide(threePer3s)))

  it.effect("an interrupted waiter does not hold up the callers behind it", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      const order = yield* Ref.make<Array<string>>([])
      yield* limiter.feedback(KEY, Duration.seconds(2))
      const [a, b, c] = yield* Effect.forEach(["a", "b", "c"], (name) =>
        forkAcquire(KEY, {}, Ref.update(order, (xs) => [...xs, name])))
      yield* Fiber.interrupt(b!)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.joinAll([a!, c!])
      expect(yield* Ref.get(order)).toEqual(["a", "c"])
      expect(yield* limiter.waiting).toBe(0)
      expect(Exit.isInterrupted(yield* Fiber.await(b!))).toBe(true)
    }).pipe(Effect.provide(threePer3s)))

  it.effect("a caller interrupted while it sleeps on its reservation hands its turn on", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      const order = yield* Ref.make<Array<string>>([])
      // Three permits at once empty the bucket; d then holds the key's turn while it sleeps until
      // its reservation is due, and e queues behind it.
      for (const name of ["a", "b", "c"]) yield* Fiber.join(yield* forkAcquire(KEY, {}, Ref.update(order, (xs) => [...xs, name])))
      const d = yield* forkAcquire(KEY, {}, Ref.update(order, (xs) => [...xs, "d"]))
      const e = yield* forkAcquire(KEY, {}, Ref.update(order, (xs) => [...xs, "e"]))
      yield* Fiber.interrupt(d)
      // d's slot is not given back, so e is due one refill after it.
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(e)
      expect(yield* Ref.get(order)).toEqual(["a", "b", "c", "e"])
      expect(yield* limiter.waiting).toBe(0)
    }).pipe(Effect.provide(threePer3s)))

  it.effect("waiting counts the callers waiting for a permit", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      yield* Effect.repeatN(limiter.acquire(KEY, {}), 2)
      const fibers = [yield* forkAcquire(KEY, {}), yield* forkAcquire(KEY, {})]
      expect(yield* limiter.waiting).toBe(2)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fibers[0]!)
      expect(yield* limiter.waiting).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fibers[1]!)
      expect(yield* limiter.waiting).toBe(0)
    }).pipe(Effect.provide(threePer3s)))

  it.effect("each wait is recorded in rate_limiter_wait_seconds{key}", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      const key = keyOf("metrics-test", `model-${Math.random()}`)
      const metric = Metric.tagged(rateLimiterWaitSeconds, "key", key)
      yield* Effect.repeatN(limiter.acquire(key, {}), 2)
      const waiter = yield* forkAcquire(key, {})
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(waiter)
      const state = yield* Metric.value(metric)
      expect(state.count).toBe(4)
      expect(state.sum).toBeCloseTo(1, 6)
      expect(state.max).toBeCloseTo(1, 6)
    }).pipe(Effect.provide(threePer3s)))
})

describe("RateLimiter backend faults", () => {
  it.effect("a failing backend grants permits at once and logs one warning", () => {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push((Array.isArray(message) ? message : [message]).join(" "))
    })
    const down = (operation: string) => new RateLimiterBackendError({ backend: "redis", operation, reason: "down" })
    const broken: PauseStore = {
      backend: "redis",
      pausedUntil: () => Effect.fail(down("read pause")),
      pauseUntil: () => Effect.fail(down("pause"))
    }
    return Effect.gen(function*() {
      const limiter = yield* fromStores(broken, { enabled: true, maxCalls: 100, period: Duration.seconds(1) }).pipe(
        Effect.provide(ExperimentalRateLimiter.layerStoreMemory)
      )
      const waits = yield* Effect.forEach([1, 2, 3], () => limiter.acquire(KEY, {}))
      expect(waits.every(Duration.isZero)).toBe(true)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain("rate limiter backend failed")
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })
})

describe("RateLimiterFromConfig", () => {
  const fromConfig = (env: Record<string, string>) =>
    RateLimiterFromConfig.layer.pipe(Layer.provide(testConfigLayer(env)))

  it.effect("RATE_LIMIT_ENABLED=false grants every permit at once", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      const waits = yield* Effect.forEach(Array.from({ length: 10 }), () => limiter.acquire(KEY, { tokens: 10 }))
      yield* limiter.feedback(KEY, Duration.minutes(1))
      const afterPause = yield* limiter.acquire(KEY, {})
      expect([...waits, afterPause].every(Duration.isZero)).toBe(true)
      expect(yield* limiter.waiting).toBe(0)
    }).pipe(Effect.provide(fromConfig({ RATE_LIMIT_ENABLED: "false", RATE_LIMIT_MAX_CALLS: "1" }))))

  it.effect("RATE_LIMIT_BACKEND=memory limits in this process", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      yield* limiter.acquire(KEY, {})
      const second = yield* forkAcquire(KEY, {})
      yield* TestClock.adjust("1 minute")
      expect(Duration.toMillis(yield* Fiber.join(second))).toBe(60_000)
    }).pipe(Effect.provide(fromConfig({ RATE_LIMIT_MAX_CALLS: "1", RATE_LIMIT_PERIOD: "60" }))))
})
