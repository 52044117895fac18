import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import * as PassThrough from "../src/layers/PassThrough.js"
import { CircuitBreaker } from "../src/services/CircuitBreaker.js"
import { LlmCache } from "../src/services/LlmCache.js"
import { ProviderUnavailable } from "../src/services/LlmError.js"
import { RateLimiter } from "../src/services/RateLimiter.js"

const unavailable = new ProviderUnavailable({ provider: "openrouter", model: "m", status: 503, detail: "HTTP 503" })

describe("PassThrough", () => {
  it.effect("no cache, no limits, no breaker: every call reaches the model at once", () =>
    Effect.gen(function*() {
      const cache = yield* LlmCache
      const limiter = yield* RateLimiter
      const breaker = yield* CircuitBreaker
      yield* limiter.feedback("k", Duration.minutes(1))
      const waits = yield* Effect.forEach(Array.from({ length: 100 }), () => limiter.acquire("k", { tokens: 1e6 }))
      expect(waits.every(Duration.isZero)).toBe(true)
      expect(yield* limiter.waiting).toBe(0)
      const failures = yield* Effect.forEach(Array.from({ length: 20 }), () =>
        Effect.flip(breaker.withBreaker("k", Effect.fail(unavailable))))
      expect(failures.every((e) => e === unavailable)).toBe(true)
      expect(yield* breaker.state("k")).toBe("closed")
      expect(yield* breaker.withBreaker("k", Effect.succeed(1))).toBe(1)
      yield* cache.set("key", "answer")
      expect(Option.isNone(yield* cache.get("key"))).toBe(true)
      expect((yield* cache.stats).backend).toBe("disabled")
    }).pipe(Effect.provide(PassThrough.layer)))
})
