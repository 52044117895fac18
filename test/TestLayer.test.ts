/**
 * The test stack as a user's test meets it: retries that need no TestClock, `retry: "real"` for
 * tests about the waits, and a run history that costs nothing while the clock moves.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Effect, Fiber, Option, Queue, TestClock } from "effect"
import { headline } from "../examples/headline.js"
import { ScriptedModel } from "../src/index.js"
import * as TestLayer from "../src/layers/TestLayer.js"
import { RunHistory } from "../src/services/RunHistory.js"
import { subscribe, type WorkflowEvent } from "../src/services/WorkflowEvents.js"

const answer = ScriptedModel.answer({ headline: "Fast fibers", teaser: "Effect got quicker." })

/** Yields until a sleep ending at `at` (epoch ms of the TestClock) is scheduled. */
const untilSleepEndsAt = (at: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000; i++) {
      if (Chunk.toReadonlyArray(yield* TestClock.sleeps()).includes(at)) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`no sleep until ${at} was scheduled`)
  })

describe("TestLayer retries", () => {
  it.effect("are instant by default: a 503, a 429 with Retry-After and a timeout, then the answer, with no clock moved", () =>
    Effect.gen(function*() {
      const events = yield* subscribe
      const report = yield* headline.runReport("Effect 3.22 ships faster fibers")
      expect(report.status).toBe("succeeded")
      expect(report.steps[0]?.attempts).toBe(4)
      expect(yield* ScriptedModel.calls).toBe(4)
      const retries = Chunk.toReadonlyArray(yield* Queue.takeAll(events)).filter(
        (e): e is Extract<WorkflowEvent, { _tag: "Retrying" }> => e._tag === "Retrying"
      )
      expect(retries.map((r) => [r.reason, r.delayMs])).toEqual([
        ["provider_unavailable", 0],
        ["rate_limited", 0],
        ["timeout", 0]
      ])
      expect(yield* Clock.currentTimeMillis).toBe(0)
    }).pipe(
      Effect.scoped,
      Effect.provide(TestLayer.layer({
        languageModel: ScriptedModel.layer([
          ScriptedModel.fail(503),
          ScriptedModel.rateLimited({ retryAfter: "2 seconds" }),
          ScriptedModel.timeout(),
          answer
        ])
      }))
    ), 5_000)

  it.effect("a 429's Retry-After pauses nobody after it: the next call goes at once", () =>
    Effect.gen(function*() {
      const first = yield* headline.runReport("first text")
      const second = yield* headline.runReport("second text")
      expect([first.status, second.status]).toEqual(["succeeded", "succeeded"])
      expect(yield* ScriptedModel.remaining).toBe(0)
    }).pipe(
      Effect.provide(TestLayer.layer({
        languageModel: ScriptedModel.layer([ScriptedModel.rateLimited({ retryAfter: "1 minute" }), answer, answer])
      }))
    ), 5_000)

  it.effect("RETRY_INITIAL_WAIT=0 alone gives instant backoffs on the real retry path too", () =>
    Effect.gen(function*() {
      const report = yield* headline.runReport("Effect 3.22 ships faster fibers")
      expect(report.steps[0]?.attempts).toBe(3)
    }).pipe(
      Effect.provide(TestLayer.layer({
        retry: "real",
        env: { RETRY_INITIAL_WAIT: "0" },
        languageModel: ScriptedModel.layer([ScriptedModel.fail(502), ScriptedModel.fail(500), answer])
      }))
    ), 5_000)

  it.effect("retry: \"real\" waits a Retry-After on the clock, exactly", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(headline.runReport("Effect 3.22 ships faster fibers"))
      yield* untilSleepEndsAt(2_000)
      yield* TestClock.adjust("1999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const report = yield* Fiber.join(fiber)
      expect(report.status).toBe("succeeded")
      expect(report.steps[0]?.attempts).toBe(2)
    }).pipe(
      Effect.provide(TestLayer.layer({
        retry: "real",
        languageModel: ScriptedModel.layer([ScriptedModel.rateLimited({ retryAfter: "2 seconds" }), answer])
      }))
    ), 5_000)
})

describe("TestLayer run history on the TestClock", () => {
  it.effect("schedules no timer while idle, so TestClock.adjust(60 s) steps through nothing", () =>
    Effect.gen(function*() {
      const report = yield* headline.runReport("Effect 3.22 ships faster fibers")
      // One gathering window after the run's events, then nothing due soon (a poll would be due in
      // 100 ms; what is left is the LLM call's 60 s timeout, which TestClock keeps after the call won).
      yield* TestClock.adjust("100 millis")
      const now = yield* Clock.currentTimeMillis
      expect(Chunk.toReadonlyArray(yield* TestClock.sleeps()).filter((at) => at < now + 1_000)).toEqual([])
      const run = yield* Effect.flatMap(RunHistory, (h) => h.getRun(report.id))
      expect(Option.map(run, (r) => r.status)).toEqual(Option.some("succeeded"))

      // Stepping through 600 polls here once cost 2.3 s of real time: nothing is due at all now.
      yield* TestClock.adjust("60 seconds")
      expect(Chunk.toReadonlyArray(yield* TestClock.sleeps())).toEqual([])
    }).pipe(Effect.provide(TestLayer.layer({ languageModel: ScriptedModel.layer([answer]) }))))
})
