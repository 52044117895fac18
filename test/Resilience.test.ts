import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Duration, Effect, Exit, Fiber, Option, ParseResult, Random, Ref, Schema, TestClock } from "effect"
import {
  BadRequest,
  CircuitOpen,
  MalformedResponse,
  ProviderUnavailable,
  RateLimited,
  RetryBudgetExceeded,
  Timeout,
  Unauthorized
} from "../src/services/LlmError.js"
import {
  backoffBound,
  isRetryableError,
  maxRetryAfterOf,
  policyFromConfig,
  retryLlm,
  type RetryInfo,
  type RetryPolicy
} from "../src/llm/Retry.js"
import { testConfig } from "./support/config.js"

const ctx = { provider: "openrouter", model: "openai/gpt-4o-mini" }
const unavailable = new ProviderUnavailable({ ...ctx, status: 503, detail: "HTTP 503" })

/** 1 s, 2 s, 4 s, ... capped at 5 s; 3 retries. */
const policy: RetryPolicy = {
  maxRetries: 3,
  initialWait: Duration.seconds(1),
  maxWait: Duration.seconds(5)
}

/** An effect that fails with `errors[i]` on attempt i, then succeeds; counts attempts. */
const scripted = <E>(attempts: Ref.Ref<number>, errors: ReadonlyArray<E>) =>
  Effect.flatMap(Ref.getAndUpdate(attempts, (n) => n + 1), (i) => {
    const error = errors[i]
    return error === undefined ? Effect.succeed("ok") : Effect.fail(error)
  })

/** Runs `retryLlm` in a fiber, recording each retry, and lets the TestClock run `advance`. */
const runRetry = <E>(
  errors: ReadonlyArray<E>,
  p: RetryPolicy = policy,
  advance: Duration.DurationInput = "1 hour"
) =>
  Effect.gen(function*() {
    const attempts = yield* Ref.make(0)
    const retries: Array<RetryInfo<E>> = []
    const fiber = yield* retryLlm(scripted(attempts, errors), p, {
      onRetry: (info) => Effect.sync(() => retries.push(info))
    }).pipe(Effect.fork)
    yield* TestClock.adjust(advance)
    const exit = yield* Fiber.await(fiber)
    return { exit, attempts: yield* Ref.get(attempts), retries, delays: retries.map((r) => Duration.toMillis(r.delay)) }
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

describe("retryLlm", () => {
  it.effect("makes at most MAX_RETRIES + 1 attempts and then returns the last error", () =>
    Effect.gen(function*() {
      const { attempts, exit } = yield* runRetry(Array.from({ length: 10 }, () => unavailable))
      expect(attempts).toBe(4)
      expect(failureOf(exit)).toBe(unavailable)
    }))

  it.effect("returns the first success", () =>
    Effect.gen(function*() {
      const { attempts, exit } = yield* runRetry([unavailable, new Timeout({ ...ctx, timeoutMs: 60_000 })])
      expect(attempts).toBe(3)
      expect(exit).toEqual(Exit.succeed("ok"))
    }))

  it.effect("MAX_RETRIES=0 makes a single attempt", () =>
    Effect.gen(function*() {
      const { attempts } = yield* runRetry([unavailable], { ...policy, maxRetries: 0 })
      expect(attempts).toBe(1)
    }))

  it.effect("backoff bounds double from RETRY_INITIAL_WAIT and stop at RETRY_MAX_WAIT", () =>
    Effect.gen(function*() {
      const many: RetryPolicy = { ...policy, maxRetries: 6 }
      // A Random that always draws the top of the range shows the bounds themselves.
      const { delays } = yield* runRetry(Array.from({ length: 10 }, () => unavailable), many).pipe(
        Effect.withRandom(Random.fixed([1]))
      )
      expect(delays).toEqual([1000, 2000, 4000, 5000, 5000, 5000])
    }))

  it.effect("the call sleeps exactly the chosen delays", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const fiber = yield* retryLlm(scripted(attempts, [unavailable, unavailable]), policy).pipe(
        Effect.withRandom(Random.fixed([0.5])),
        Effect.fork
      )
      // 500 ms, then 1,000 ms.
      yield* TestClock.adjust("1499 millis")
      expect(yield* Ref.get(attempts)).toBe(2)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* Ref.get(attempts)).toBe(3)
    }))

  it.effect("full jitter draws each wait from [0, bound] and spreads them", () =>
    Effect.gen(function*() {
      const many: RetryPolicy = { ...policy, maxRetries: 5 }
      const all: Array<Array<number>> = []
      for (let seed = 0; seed < 40; seed++) {
        const { delays } = yield* runRetry(Array.from({ length: 10 }, () => unavailable), many).pipe(
          Effect.withRandom(Random.make(seed))
        )
        all.push(delays)
      }
      for (const delays of all) {
        delays.forEach((d, n) => {
          expect(d).toBeGreaterThanOrEqual(0)
          expect(d).toBeLessThanOrEqual(Duration.toMillis(backoffBound(many, n)))
        })
      }
      const firsts = new Set(all.map((d) => d[0]))
      expect(firsts.size).toBeGreaterThan(20)
      // Full jitter, not "equal jitter": some first waits fall in the lower half of the range.
      expect(all.some((d) => d[0]! < 500)).toBe(true)
    }))

  it.effect("the same seed gives the same waits", () =>
    Effect.gen(function*() {
      const errors = Array.from({ length: 10 }, () => unavailable)
      const a = yield* runRetry(errors).pipe(Effect.withRandom(Random.make("seed")))
      const b = yield* runRetry(errors).pipe(Effect.withRandom(Random.make("seed")))
      expect(a.delays).toEqual(b.delays)
    }))

  it.effect("a Retry-After is waited exactly, even beyond RETRY_MAX_WAIT", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const fiber = yield* retryLlm(scripted(attempts, [new RateLimited({ ...ctx, retryAfterMs: 42_000 })]), policy)
        .pipe(Effect.fork)
      yield* TestClock.adjust("41999 millis")
      expect(yield* Ref.get(attempts)).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe("ok")
    }))

  it.effect("a Retry-After longer than maxRetryAfter is waited only maxRetryAfter", () =>
    Effect.gen(function*() {
      const { delays, retries } = yield* runRetry(
        [new RateLimited({ ...ctx, retryAfterMs: 3_600_000 })],
        { ...policy, maxRetryAfter: Duration.minutes(2) }
      )
      expect(delays).toEqual([120_000])
      expect(retries[0]?.fromRetryAfter).toBe(true)
    }))

  it.effect("maxRetryAfter defaults to the larger of RETRY_MAX_WAIT and 5 minutes", () =>
    Effect.sync(() => {
      expect(Duration.toMillis(maxRetryAfterOf(policy))).toBe(300_000)
      expect(Duration.toMillis(maxRetryAfterOf({ ...policy, maxWait: Duration.minutes(10) }))).toBe(600_000)
    }))

  it.effect("a 429 without Retry-After backs off like any other failure", () =>
    Effect.gen(function*() {
      const { delays, retries } = yield* runRetry([new RateLimited(ctx)]).pipe(Effect.withRandom(Random.fixed([1])))
      expect(delays).toEqual([1000])
      expect(retries[0]?.reason).toBe("rate_limited")
    }))

  it.effect("a Retry-After beyond the time budget fails at once with RetryBudgetExceeded", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const error = yield* retryLlm(
        scripted(attempts, [new RateLimited({ ...ctx, retryAfterMs: 90_000 })]),
        { ...policy, budget: Duration.seconds(30) },
        { onRetry: () => Effect.die("must not retry") }
      ).pipe(Effect.flip)
      expect(error).toBeInstanceOf(RetryBudgetExceeded)
      expect(error).toMatchObject({ ...ctx, retryAfterMs: 90_000, budgetMs: 30_000 })
      expect(yield* Ref.get(attempts)).toBe(1)
      // Nothing slept.
      expect(yield* Clock.currentTimeMillis).toBe(0)
    }))

  it.effect("with startedAt the budget counts from the call's start, not from the retry's", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("20 seconds")
      const attempts = yield* Ref.make(0)
      const limited = new RateLimited({ ...ctx, retryAfterMs: 5_000 })
      // 20 of 30 seconds are gone: a 5-second wait still fits, counted from now it would too.
      const fits = yield* Effect.fork(retryLlm(scripted(attempts, [limited]), { ...policy, budget: Duration.seconds(30) }, {
        startedAt: 0
      }))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fits)
      // 28 of 30 seconds gone (started at -3 s): the same wait no longer fits, although it would
      // from the retry's own start.
      yield* Ref.set(attempts, 0)
      const error = yield* retryLlm(scripted(attempts, [limited]), { ...policy, budget: Duration.seconds(30) }, {
        startedAt: (yield* Clock.currentTimeMillis) - 28_000
      }).pipe(Effect.flip)
      expect(error).toBeInstanceOf(RetryBudgetExceeded)
      expect(error).toMatchObject({ budgetMs: 2_000 })
    }))

  it.effect("the budget counts time already spent on attempts", () =>
    Effect.gen(function*() {
      const slowThenLimited = Effect.zipRight(
        Effect.sleep("8 seconds"),
        Effect.fail(new RateLimited({ ...ctx, retryAfterMs: 5_000 }))
      )
      const fiber = yield* retryLlm(slowThenLimited, { ...policy, budget: Duration.seconds(10) }).pipe(
        Effect.flip,
        Effect.fork
      )
      yield* TestClock.adjust("8 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({ _tag: "RetryBudgetExceeded", retryAfterMs: 5_000, budgetMs: 2_000 })
    }))

  it.effect("a Retry-After within the budget is waited", () =>
    Effect.gen(function*() {
      const { exit } = yield* runRetry(
        [new RateLimited({ ...ctx, retryAfterMs: 20_000 })],
        { ...policy, budget: Duration.seconds(30) }
      )
      expect(exit).toEqual(Exit.succeed("ok"))
    }))

  it.effect("a backoff that would overrun the budget returns the last error without waiting", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const error = yield* retryLlm(scripted(attempts, [unavailable]), { ...policy, budget: Duration.millis(100) })
        .pipe(Effect.withRandom(Random.fixed([0.5])), Effect.flip)
      expect(error).toBe(unavailable)
      expect(yield* Ref.get(attempts)).toBe(1)
    }))

  it.effect("bad requests, wrong keys and malformed responses are not retried", () =>
    Effect.gen(function*() {
      const errors = [
        new BadRequest({ ...ctx, status: 400, detail: "bad" }),
        new BadRequest({ ...ctx, status: 404, detail: "no such model" }),
        new Unauthorized({ ...ctx, status: 401 }),
        new Unauthorized({ ...ctx, status: 403 }),
        new MalformedResponse({ ...ctx, raw: "{", detail: "not JSON" })
      ]
      for (const error of errors) {
        const { attempts, exit } = yield* runRetry([error])
        expect(attempts).toBe(1)
        expect(failureOf(exit)).toBe(error)
      }
    }))

  it.effect("schema failures are not retried", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const decode = Effect.zipRight(
        Ref.update(attempts, (n) => n + 1),
        Schema.decodeUnknown(Schema.Struct({ answer: Schema.String }))({ answer: 1 })
      )
      const error = yield* retryLlm(decode, policy).pipe(Effect.flip)
      expect(ParseResult.isParseError(error)).toBe(true)
      expect(yield* Ref.get(attempts)).toBe(1)
    }))

  it.effect("an open circuit stops retrying at once, whatever isRetryable says", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const open = new CircuitOpen({ breaker: "openrouter:openai/gpt-4o-mini", retryAt: 30_000 })
      const error = yield* retryLlm(scripted(attempts, [unavailable, open]), policy, { isRetryable: () => true }).pipe(
        Effect.flip,
        Effect.fork,
        Effect.tap(() => TestClock.adjust("1 minute")),
        Effect.flatMap(Fiber.join)
      )
      expect(error).toBe(open)
      expect(yield* Ref.get(attempts)).toBe(2)
    }))

  it.effect("defects are not retried", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const exit = yield* retryLlm(Effect.zipRight(Ref.update(attempts, (n) => n + 1), Effect.die("bug")), policy)
        .pipe(Effect.exit)
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(yield* Ref.get(attempts)).toBe(1)
    }))

  it.effect("firstFailure: the attempt that already failed counts, so the next one is the first retry", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const retries: Array<RetryInfo<ProviderUnavailable>> = []
      const fiber = yield* retryLlm(scripted(attempts, [unavailable, unavailable, unavailable]), policy, {
        firstFailure: { error: unavailable },
        onRetry: (info) => Effect.sync(() => retries.push(info))
      }).pipe(Effect.withRandom(Random.fixed([1])), Effect.fork)
      yield* TestClock.adjust("1 hour")
      const exit = yield* Fiber.await(fiber)
      // 1 (outside) + 3 retries here = MAX_RETRIES + 1 attempts; the waits are those of retries 1-3.
      expect(yield* Ref.get(attempts)).toBe(3)
      expect(retries.map((r) => [r.attempt, Duration.toMillis(r.delay)])).toEqual([[1, 1000], [2, 2000], [3, 4000]])
      expect(failureOf(exit)).toBe(unavailable)
      // A first failure that is not retried ends the call without running the effect at all.
      yield* Ref.set(attempts, 0)
      const bad = new BadRequest({ ...ctx, status: 400, detail: "bad" })
      expect(yield* retryLlm(scripted(attempts, []), policy, { firstFailure: { error: bad } }).pipe(Effect.flip)).toBe(bad)
      expect(yield* Ref.get(attempts)).toBe(0)
    }))

  it.effect("onRetry is told the retry number, the wait, the error and its reason", () =>
    Effect.gen(function*() {
      const limited = new RateLimited({ ...ctx, retryAfterMs: 7_000 })
      const timeout = new Timeout({ ...ctx, timeoutMs: 60_000 })
      const { retries } = yield* runRetry([unavailable, limited, timeout]).pipe(Effect.withRandom(Random.fixed([1])))
      expect(retries.map((r) => [r.attempt, Duration.toMillis(r.delay), r.error, r.reason, r.fromRetryAfter])).toEqual([
        [1, 1000, unavailable, "provider_unavailable", false],
        [2, 7000, limited, "rate_limited", true],
        [3, 4000, timeout, "timeout", false]
      ])
    }))
})

describe("retry policy helpers", () => {
  it("policyFromConfig reads MAX_RETRIES, RETRY_INITIAL_WAIT and RETRY_MAX_WAIT", () => {
    const p = policyFromConfig(testConfig({ MAX_RETRIES: "5", RETRY_INITIAL_WAIT: "0.5", RETRY_MAX_WAIT: "20" }))
    expect(p.maxRetries).toBe(5)
    expect(Duration.toMillis(p.initialWait)).toBe(500)
    expect(Duration.toMillis(p.maxWait)).toBe(20_000)
  })

  it("isRetryableError accepts only 429, unavailable and timeouts", () => {
    expect(isRetryableError(unavailable)).toBe(true)
    expect(isRetryableError(new RateLimited(ctx))).toBe(true)
    expect(isRetryableError(new Timeout({ ...ctx, timeoutMs: 1 }))).toBe(true)
    expect(isRetryableError(new BadRequest({ ...ctx, detail: "x" }))).toBe(false)
    expect(isRetryableError(new CircuitOpen({ breaker: "b", retryAt: 0 }))).toBe(false)
    expect(isRetryableError(new Error("boom"))).toBe(false)
    expect(isRetryableError(null)).toBe(false)
  })
})
