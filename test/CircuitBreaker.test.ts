import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Fiber, Layer, Metric, Ref, Stream, TestClock } from "effect"
import * as CircuitBreakerMemory from "../src/layers/CircuitBreakerMemory.js"
import { CircuitBreaker } from "../src/services/CircuitBreaker.js"
import { BadRequest, CircuitOpen, ProviderUnavailable, RateLimited, Timeout } from "../src/services/LlmError.js"
import { circuitBreakerState } from "../src/services/Metrics.js"
import { testConfigLayer } from "./support/config.js"

/** Opens after 3 consecutive failures, probes after 30 s. */
const breakerLayer = (env: Record<string, string> = {}) =>
  CircuitBreakerMemory.layer.pipe(Layer.provide(testConfigLayer({
    CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3",
    CIRCUIT_BREAKER_RESET_TIMEOUT: "30",
    ...env
  })))

const ctx = { provider: "openrouter", model: "openai/gpt-4o-mini" }
const unavailable = new ProviderUnavailable({ ...ctx, status: 503, detail: "HTTP 503" })
const badRequest = new BadRequest({ ...ctx, status: 400, detail: "bad prompt" })

let keys = 0
/** A fresh breaker key per test: the gauge is process-wide. */
const freshKey = () => `openrouter:model-${++keys}-${Math.random().toString(36).slice(2)}`

/** An effect that counts its runs, then fails with `error` (or succeeds with "ok"). */
const counted = <E = never>(runs: Ref.Ref<number>, error?: E) =>
  Effect.zipRight(Ref.update(runs, (n) => n + 1), error === undefined ? Effect.succeed("ok") : Effect.fail(error))

/** Opens `key`'s circuit with `threshold` provider failures. */
const trip = (key: string, threshold = 3) =>
  Effect.flatMap(CircuitBreaker, (breaker) =>
    Effect.repeatN(Effect.ignore(breaker.withBreaker(key, Effect.fail(unavailable))), threshold - 1))

const gauge = (key: string) => Effect.map(Metric.value(Metric.tagged(circuitBreakerState, "breaker", key)), (s) => s.value)

describe("CircuitBreaker (memory)", () => {
  it.effect("a closed circuit runs calls and returns their results", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      expect(yield* breaker.withBreaker(key, Effect.succeed(42))).toBe(42)
      expect(yield* breaker.state(key)).toBe("closed")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("a closed circuit passes failures through unchanged", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const error = yield* Effect.flip(breaker.withBreaker(freshKey(), Effect.fail(unavailable)))
      expect(error).toBe(unavailable)
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("opens after CIRCUIT_BREAKER_FAILURE_THRESHOLD consecutive provider failures", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      yield* trip(key, 2)
      expect(yield* breaker.state(key)).toBe("closed")
      yield* Effect.ignore(breaker.withBreaker(key, Effect.fail(new Timeout({ ...ctx, timeoutMs: 1000 }))))
      expect(yield* breaker.state(key)).toBe("open")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("an open circuit fails fast with CircuitOpen and does not run the call", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      const runs = yield* Ref.make(0)
      yield* TestClock.adjust("1 second")
      yield* trip(key)
      const error = yield* Effect.flip(breaker.withBreaker(key, counted(runs)))
      expect(error).toBeInstanceOf(CircuitOpen)
      expect(error).toMatchObject({ breaker: key, retryAt: 31_000 })
      expect(yield* Ref.get(runs)).toBe(0)
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("a success resets the count of consecutive failures", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      yield* trip(key, 2)
      yield* breaker.withBreaker(key, Effect.succeed("ok"))
      yield* trip(key, 2)
      expect(yield* breaker.state(key)).toBe("closed")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("bad requests do not count against the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      yield* Effect.repeatN(Effect.ignore(breaker.withBreaker(key, Effect.fail(badRequest))), 9)
      expect(yield* breaker.state(key)).toBe("closed")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("a bad request between provider failures neither counts nor resets the count", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      yield* trip(key, 2)
      yield* Effect.ignore(breaker.withBreaker(key, Effect.fail(badRequest)))
      expect(yield* breaker.state(key)).toBe("closed")
      yield* trip(key, 1)
      expect(yield* breaker.state(key)).toBe("open")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("defects and interruptions do not count against the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      yield* Effect.repeatN(Effect.exit(breaker.withBreaker(key, Effect.die("bug"))), 4)
      yield* Effect.repeatN(Effect.exit(breaker.withBreaker(key, Effect.interrupt)), 4)
      expect(yield* breaker.state(key)).toBe("closed")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("isFailure chooses which failures count", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      const countBadRequests = { isFailure: (e: BadRequest) => e.status === 400 }
      yield* Effect.repeatN(Effect.ignore(breaker.withBreaker(key, Effect.fail(badRequest), countBadRequests)), 2)
      expect(yield* breaker.state(key)).toBe("open")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("circuits of different keys are independent", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      yield* trip(key)
      const other = freshKey()
      expect(yield* breaker.withBreaker(other, Effect.succeed("ok"))).toBe("ok")
      expect(yield* breaker.state(other)).toBe("closed")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("stays open until the reset timeout has passed", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      const runs = yield* Ref.make(0)
      yield* trip(key)
      yield* TestClock.adjust("29999 millis")
      expect(yield* Effect.flip(breaker.withBreaker(key, counted(runs)))).toBeInstanceOf(CircuitOpen)
      expect(yield* Ref.get(runs)).toBe(0)
      yield* TestClock.adjust("1 millis")
      expect(yield* breaker.withBreaker(key, counted(runs))).toBe("ok")
      expect(yield* Ref.get(runs)).toBe(1)
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("a successful probe closes the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      yield* trip(key)
      yield* TestClock.adjust("30 seconds")
      yield* breaker.withBreaker(key, Effect.succeed("ok"))
      expect(yield* breaker.state(key)).toBe("closed")
      // Closed again means a full threshold of failures is needed to reopen it.
      yield* trip(key, 2)
      expect(yield* breaker.state(key)).toBe("closed")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("a failed probe reopens the circuit for another reset timeout", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      yield* trip(key)
      yield* TestClock.adjust("30 seconds")
      const timeout = new Timeout({ ...ctx, timeoutMs: 60_000 })
      expect(yield* Effect.flip(breaker.withBreaker(key, Effect.fail(timeout)))).toBe(timeout)
      expect(yield* breaker.state(key)).toBe("open")
      const error = yield* Effect.flip(breaker.withBreaker(key, Effect.succeed("ok")))
      expect(error).toMatchObject({ _tag: "CircuitOpen", retryAt: 60_000 })
      yield* TestClock.adjust("30 seconds")
      expect(yield* breaker.withBreaker(key, Effect.succeed("ok"))).toBe("ok")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("429s never open the circuit: the provider is up and the limiter's pause handles them", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      const rateLimited = new RateLimited({ ...ctx, retryAfterMs: 1000 })
      for (let i = 0; i < 20; i++) yield* Effect.flip(breaker.withBreaker(key, Effect.fail(rateLimited)))
      expect(yield* breaker.state(key)).toBe("closed")
      expect(yield* breaker.withBreaker(key, Effect.succeed("ok"))).toBe("ok")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("a probe answered with a bad request closes the circuit: the provider is up", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      yield* trip(key)
      yield* TestClock.adjust("30 seconds")
      yield* Effect.flip(breaker.withBreaker(key, Effect.fail(badRequest)))
      expect(yield* breaker.state(key)).toBe("closed")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("lets exactly one probe through; concurrent callers fail fast while it runs", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      const runs = yield* Ref.make(0)
      const release = yield* Deferred.make<void>()
      yield* trip(key)
      yield* TestClock.adjust("30 seconds")
      const probe = yield* breaker.withBreaker(key, Effect.zipRight(counted(runs), Deferred.await(release))).pipe(
        Effect.fork
      )
      while ((yield* Ref.get(runs)) === 0) yield* Effect.yieldNow()
      expect(yield* breaker.state(key)).toBe("half-open")
      const others = yield* Effect.all(
        Array.from({ length: 5 }, () => Effect.flip(breaker.withBreaker(key, counted(runs)))),
        { concurrency: "unbounded" }
      )
      expect(others.every((e) => e._tag === "CircuitOpen")).toBe(true)
      expect(yield* Ref.get(runs)).toBe(1)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(probe)
      expect(yield* breaker.state(key)).toBe("closed")
      expect(yield* breaker.withBreaker(key, counted(runs))).toBe("ok")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("an interrupted probe does not leave the circuit half-open", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      const started = yield* Deferred.make<void>()
      yield* trip(key)
      yield* TestClock.adjust("30 seconds")
      const probe = yield* breaker.withBreaker(key, Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))
        .pipe(Effect.fork)
      yield* Deferred.await(started)
      expect(yield* breaker.state(key)).toBe("half-open")
      yield* Fiber.interrupt(probe)
      expect(yield* breaker.state(key)).toBe("open")
      // The next caller becomes the probe at once, without another reset timeout.
      expect(yield* breaker.withBreaker(key, Effect.succeed("ok"))).toBe("ok")
      expect(yield* breaker.state(key)).toBe("closed")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("a slow call that started before the circuit opened does not close it", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      const release = yield* Deferred.make<void>()
      const slow = yield* breaker.withBreaker(key, Deferred.await(release)).pipe(Effect.fork)
      yield* Effect.yieldNow()
      yield* trip(key)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(slow)
      expect(yield* breaker.state(key)).toBe("open")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("circuit_breaker_state{breaker} follows every transition (0 closed, 1 half-open, 2 open)", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      const seen: Array<number> = []
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      yield* breaker.withBreaker(key, Effect.succeed("ok"))
      seen.push(yield* gauge(key))
      yield* trip(key)
      seen.push(yield* gauge(key))
      yield* TestClock.adjust("30 seconds")
      const probe = yield* breaker.withBreaker(
        key,
        Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(release))
      ).pipe(Effect.fork)
      yield* Deferred.await(started)
      seen.push(yield* gauge(key))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(probe)
      seen.push(yield* gauge(key))
      expect(seen).toEqual([0, 2, 1, 0])
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("changes publishes every transition with retryAt when opening", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      const collected = yield* breaker.changes.pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      yield* trip(key)
      yield* TestClock.adjust("30 seconds")
      yield* Effect.ignore(breaker.withBreaker(key, Effect.fail(unavailable)))
      yield* TestClock.adjust("30 seconds")
      yield* breaker.withBreaker(key, Effect.succeed("ok"))
      const changes = Chunk.toArray(yield* Fiber.join(collected))
      expect(changes).toEqual([
        { breaker: key, from: "closed", to: "open", retryAt: 30_000 },
        { breaker: key, from: "open", to: "half-open" },
        { breaker: key, from: "half-open", to: "open", retryAt: 60_000 },
        { breaker: key, from: "open", to: "half-open" }
      ])
      expect(yield* breaker.state(key)).toBe("closed")
    }).pipe(Effect.provide(breakerLayer())))

  it.effect("ENABLE_CIRCUIT_BREAKER=false runs every call, however many fail", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker
      const key = freshKey()
      const runs = yield* Ref.make(0)
      yield* Effect.repeatN(Effect.ignore(breaker.withBreaker(key, counted(runs, unavailable))), 9)
      expect(yield* Ref.get(runs)).toBe(10)
      expect(yield* breaker.state(key)).toBe("closed")
      expect(Exit.isSuccess(yield* Effect.exit(breaker.withBreaker(key, Effect.succeed(1))))).toBe(true)
    }).pipe(Effect.provide(breakerLayer({ ENABLE_CIRCUIT_BREAKER: "false" }))))
})
