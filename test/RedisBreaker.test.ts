/**
 * The breaker in front of each Redis client, on `TestClock`: fails fast while Redis is down, probes
 * in the background once per reset timeout, closes on the first probe that succeeds, and logs one
 * warning per outage and one info line when it ends.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Metric, Ref, TestClock } from "effect"
import * as RedisBreaker from "../src/internal/redisBreaker.js"
import { circuitBreakerState } from "../src/services/Metrics.js"
import { captureLogs } from "./support/logs.js"

const RESET = "2 seconds"
const connectionFault = new Error("connect ECONNREFUSED 127.0.0.1:6390")
const replyError = Object.assign(new Error("OOM command not allowed"), { name: "ReplyError" })

let n = 0
/** A breaker whose probe succeeds once `up` is set, counting probes and guarded runs. */
const setup = Effect.gen(function*() {
  const up = yield* Ref.make(false)
  const probes = yield* Ref.make(0)
  const runs = yield* Ref.make(0)
  const name = `redis:test-${++n}`
  const breaker = yield* RedisBreaker.make({
    name,
    address: "127.0.0.1:6390",
    fallback: "cache bypassed",
    restored: "cache in use again",
    probe: Effect.zipRight(
      Ref.update(probes, (p) => p + 1),
      Effect.flatMap(Ref.get(up), (ok) => (ok ? Effect.void : Effect.fail(connectionFault)))
    ),
    resetTimeout: RESET
  })
  /** A command (one round trip): succeeds while `up`, else fails with a connection fault. */
  const command = breaker.guard(
    Effect.zipRight(
      Effect.zipRight(Ref.update(runs, (r) => r + 1), Effect.yieldNow()),
      Effect.flatMap(Ref.get(up), (ok) => (ok ? Effect.succeed("OK") : Effect.fail(connectionFault)))
    ),
    (error) => (error.name === "ReplyError" ? undefined : error.message)
  )
  const gauge = Metric.value(Metric.tagged(circuitBreakerState, "breaker", name))
  return { breaker, command, up, probes, runs, gauge }
})

/** Lets forked fibers woken by the clock run. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("Redis breaker", () => {
  it.scoped("the first connection fault trips it; then commands fail at once without running", () =>
    Effect.gen(function*() {
      const { command, gauge, runs } = yield* setup
      const first = yield* Effect.either(command)
      expect(Either.isLeft(first) && first.left).toBeInstanceOf(RedisBreaker.RedisDown)
      expect((yield* gauge).value).toBe(2)
      for (let i = 0; i < 50; i++) {
        const later = yield* Effect.either(command)
        expect(Either.isLeft(later) && later.left).toBeInstanceOf(RedisBreaker.RedisDown)
      }
      expect(yield* Ref.get(runs)).toBe(1)
    }))

  it.scoped("probes once per reset timeout and closes on the first probe that succeeds", () =>
    Effect.gen(function*() {
      const { breaker, command, gauge, probes, runs, up } = yield* setup
      yield* Effect.either(command)
      yield* TestClock.adjust("1999 millis")
      yield* settle
      expect(yield* Ref.get(probes)).toBe(0)
      yield* TestClock.adjust("1 millis")
      yield* settle
      expect(yield* Ref.get(probes)).toBe(1)
      yield* TestClock.adjust(RESET)
      yield* settle
      expect(yield* Ref.get(probes)).toBe(2)
      expect(yield* breaker.isDown).toBe(true)

      yield* Ref.set(up, true)
      yield* TestClock.adjust(RESET)
      yield* settle
      expect(yield* Ref.get(probes)).toBe(3)
      expect(yield* breaker.isDown).toBe(false)
      expect((yield* gauge).value).toBe(0)
      expect(yield* command).toBe("OK")
      expect(yield* Ref.get(runs)).toBe(2)
      // Closed: no more probes.
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(yield* Ref.get(probes)).toBe(3)
    }))

  it.scoped("logs one warning per outage and one info line when Redis is back", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { command, up } = yield* setup
      for (let outage = 0; outage < 2; outage++) {
        yield* Ref.set(up, false)
        // Ten commands in flight when Redis goes away, then more while it is down.
        yield* Effect.all(Array.from({ length: 10 }, () => command), { concurrency: "unbounded", mode: "either" })
        yield* Effect.either(command)
        yield* TestClock.adjust("10 seconds") // five failed probes
        yield* settle
        yield* Ref.set(up, true)
        yield* TestClock.adjust(RESET)
        yield* settle
        expect(yield* command).toBe("OK")
      }
      const lines = logs.lines.filter((l) => l.level === "WARN" || l.level === "INFO")
      expect(lines.map((l) => `${l.level} ${l.text}`)).toEqual([
        "WARN Redis at 127.0.0.1:6390 unreachable: cache bypassed until it is back",
        "INFO Redis at 127.0.0.1:6390 is back: cache in use again",
        "WARN Redis at 127.0.0.1:6390 unreachable: cache bypassed until it is back",
        "INFO Redis at 127.0.0.1:6390 is back: cache in use again"
      ])
      expect(lines[0]?.annotations).toMatchObject({ backend: "redis", reason: connectionFault.message })
    }).pipe(Effect.provide(logs.layer))
  })

  it.scoped("tripped at startup, it is down from the first command and probes like any outage", () =>
    Effect.gen(function*() {
      const { breaker, command, probes, runs, up } = yield* setup
      yield* breaker.trip("connect ECONNREFUSED 127.0.0.1:6390")
      expect(Either.isLeft(yield* Effect.either(command))).toBe(true)
      expect(yield* Ref.get(runs)).toBe(0)
      yield* Ref.set(up, true)
      yield* TestClock.adjust(RESET)
      yield* settle
      expect(yield* Ref.get(probes)).toBe(1)
      expect(yield* command).toBe("OK")
    }))

  it.scoped("an error Redis answered with passes through and does not trip it", () =>
    Effect.gen(function*() {
      const { breaker } = yield* setup
      const refused = yield* Effect.flip(breaker.guard(Effect.fail(replyError), (e) => (e.name === "ReplyError" ? undefined : e.message)))
      expect(refused).toBe(replyError)
      expect(yield* breaker.isDown).toBe(false)
    }))
})
