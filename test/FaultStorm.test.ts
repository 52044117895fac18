/**
 * A fault storm through the full resilient stack over real loopback HTTP: 300 calls at concurrency
 * 50 against a provider that answers 30 % of requests 429 (Retry-After 50 ms), 10 % 500 and leaves
 * 5 % hanging. Every call must end — in a success or a typed `LlmError` — within its retry budget,
 * with no defect and nothing left running.
 *
 * This is the one test that runs on the real clock (`it.live`): thousands of overlapping waits
 * (backoffs, Retry-After pauses shared through the limiter, per-attempt timeouts racing real HTTP)
 * are the behaviour under test, and stepping a `TestClock` by hand would decide their order
 * instead of observing it. Waits are small (50 ms Retry-After, ≤ 100 ms backoff, 500 ms timeout),
 * so the storm takes a few seconds.
 */
import { LanguageModel } from "@effect/ai"
import { isAiError } from "@effect/ai/AiError"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Duration, Effect, Exit, Logger, LogLevel, Option, Queue } from "effect"
import { callBudget } from "../src/layers/ResilientLanguageModel.js"
import { AppConfig } from "../src/services/AppConfig.js"
import { isLlmError, type LlmError } from "../src/services/LlmError.js"
import * as WorkflowContext from "../src/services/WorkflowContext.js"
import { LlmCallFinished, WorkflowEvents } from "../src/services/WorkflowEvents.js"
import * as FakeProvider from "./support/FakeProvider.js"
import * as Stack from "./support/resilientStack.js"

const CALLS = 300
const CONCURRENCY = 50
/**
 * How far past `callBudget` a call may end. The retry budget stops the retry from starting a wait
 * that would end past it, so the last attempt may begin just before the budget runs out and take
 * its rate-limiter wait plus up to `LLM_TIMEOUT` (500 ms); 1.5 s more covers scheduling on a loaded
 * 2-core machine.
 */
const SLACK_MS = 500 + 1_500

const baseEnv = {
  LLM_TIMEOUT: "0.5",
  MAX_RETRIES: "3",
  RETRY_INITIAL_WAIT: "0.02",
  RETRY_MAX_WAIT: "0.1",
  CIRCUIT_BREAKER_RESET_TIMEOUT: "0.2"
} as const

interface Outcome {
  readonly index: number
  readonly ms: number
  readonly exit: Exit.Exit<string, unknown>
}

/** The `LlmError` a failed call carries, if the failure is exactly one typed error. */
const typedError = (cause: Cause.Cause<unknown>): Option.Option<LlmError> => {
  if (Cause.isDie(cause) || Cause.isInterrupted(cause)) return Option.none()
  const failures = Chunk.toReadonlyArray(Cause.failures(cause))
  if (failures.length !== 1) return Option.none()
  const error = failures[0]
  return isAiError(error) && error._tag === "UnknownError" && isLlmError(error.cause)
    ? Option.some(error.cause)
    : Option.none()
}

/** Runs the storm with these extra settings and checks the contract every call must meet. */
const storm = (env: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const mix = FakeProvider.faults({ seed: 42, rate429: 0.3, retryAfter: "0.05", rate500: 0.1, rateHang: 0.05 })
    let hangs = 0
    const fake = yield* FakeProvider.make({
      script: (request, index) => {
        const behaviour = mix(request, index)
        if (behaviour._tag === "Hang") hangs++
        return behaviour
      },
      record: false
    })
    const { budgetMs, finished, outcomes } = yield* Effect.gen(function*() {
      const config = yield* AppConfig
      const events = yield* Effect.flatMap(WorkflowEvents, (e) => e.subscribe)
      const outcomes = yield* Effect.forEach(
        Array.from({ length: CALLS }, (_, index) => index),
        (index) =>
          LanguageModel.generateText({ prompt: `storm call ${index}` }).pipe(
            Effect.map((r) => r.text),
            WorkflowContext.withAgent("storm"),
            Effect.exit,
            Effect.timed,
            Effect.map(([duration, exit]): Outcome => ({ index, ms: Duration.toMillis(duration), exit }))
          ),
        { concurrency: CONCURRENCY }
      ).pipe(
        // A call left hanging fails the test here instead of at vitest's timeout.
        Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error("the storm did not end") })
      )
      const finished = Chunk.toReadonlyArray(yield* Queue.takeAll(events)).filter(
        (e): e is LlmCallFinished => e instanceof LlmCallFinished
      )
      return { budgetMs: Duration.toMillis(callBudget(config)), finished, outcomes }
    }).pipe(Effect.provide(Stack.layer(fake.openaiUrl, { ...baseEnv, ...env })))

    const untyped = outcomes.filter((o) => Exit.isFailure(o.exit) && Option.isNone(typedError(o.exit.cause)))
    expect(untyped.map((o) => Exit.isFailure(o.exit) ? Cause.pretty(o.exit.cause) : "")).toEqual([])

    const late = outcomes.filter((o) => o.ms > budgetMs + SLACK_MS)
    expect(late.map((o) => ({ index: o.index, ms: Math.round(o.ms) }))).toEqual([])

    const successes = outcomes.filter((o) => Exit.isSuccess(o.exit)).length
    const tags = new Set(
      outcomes.flatMap((o) => Exit.isFailure(o.exit) ? Option.toArray(Option.map(typedError(o.exit.cause), (e) => e._tag)) : [])
    )
    for (const tag of tags) expect(["RateLimited", "ProviderUnavailable", "Timeout", "CircuitOpen"]).toContain(tag)
    // Every call was reported exactly once, with the outcome its caller saw.
    expect(finished.length).toBe(CALLS)
    expect(finished.filter((e) => e.status === "success").length).toBe(successes)

    const sorted = outcomes.map((o) => o.ms).sort((a, b) => a - b)
    return {
      successes,
      errorTags: [...tags].sort(),
      requests: fake.count(),
      hangs,
      p50Ms: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
      maxMs: Math.round(sorted[sorted.length - 1] ?? 0),
      budgetMs
    }
  }).pipe(
    // Thousands of expected warnings ("LLM call failed") would drown the test output.
    Logger.withMinimumLogLevel(LogLevel.Error),
    Effect.scoped
  )

describe("fault storm", () => {
  it.live("300 calls at concurrency 50 through 429s, 500s and hangs all end typed within their budget", () =>
    Effect.gen(function*() {
      // A threshold the storm never reaches: this run is about retries, Retry-After and timeouts.
      const result = yield* storm({ CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1000" })
      // Each 429 pauses the key for every caller (the limiter honours Retry-After), so callers spend
      // most of their budget waiting and some run out of it; measured here: 180-190 of 300 succeed.
      expect(result.successes).toBeGreaterThan(CALLS * 0.4)
      // Requests were left hanging, and the calls they belonged to still ended in time (checked in
      // `storm`). Which error a failed call ends with depends on its last attempt, so the mix of
      // final tags is not asserted: under load a hang's retry usually ends in a 429 instead.
      expect(result.hangs).toBeGreaterThan(0)
      // Retries happened: more requests than calls.
      expect(result.requests).toBeGreaterThan(CALLS * 1.5)
    }), 30_000)

  it.live("with a breaker that trips, calls fail fast with CircuitOpen and still end typed within their budget", () =>
    Effect.gen(function*() {
      // Three consecutive failures happen within the first few dozen attempts at this failure rate.
      const result = yield* storm({ CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3", CIRCUIT_BREAKER_RESET_TIMEOUT: "1" })
      expect(result.errorTags).toContain("CircuitOpen")
      // Open circuits save requests: far fewer than the retry-everything storm sends.
      expect(result.requests).toBeLessThan(CALLS * 1.5)
    }), 30_000)
})
