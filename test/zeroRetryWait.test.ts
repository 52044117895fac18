/**
 * `RETRY_INITIAL_WAIT=0` / `RETRY_MAX_WAIT=0`: accepted by the configuration, and a retry then
 * happens at once — no timer, no NaN from 0·2^n.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Either, Fiber, Option, Ref, TestClock } from "effect"
import { decodeSettings, type RawSetting } from "../src/services/AppConfig.js"
import { ProviderUnavailable } from "../src/services/LlmError.js"
import { backoffBound, policyFromConfig, retryLlm } from "../src/llm/Retry.js"

const decode = (env: Readonly<Record<string, string>>) => {
  const raw: Record<string, RawSetting> = {}
  for (const [key, value] of Object.entries(env)) raw[key] = { value, source: "env" }
  return decodeSettings(raw, { isTty: false })
}

const problemKeys = (env: Readonly<Record<string, string>>) =>
  Either.match(decode(env), { onLeft: (e) => e.problems.map((p) => p.key), onRight: () => [] })

describe("zero retry waits in the configuration", () => {
  it("RETRY_INITIAL_WAIT=0 is accepted and means no initial wait", () => {
    const decoded = decode({ RETRY_INITIAL_WAIT: "0" })
    expect(Either.isRight(decoded)).toBe(true)
    if (Either.isRight(decoded)) expect(Duration.toMillis(decoded.right.config.retry.initialWait)).toBe(0)
  })

  it("RETRY_MAX_WAIT=0 is accepted, even beside the default initial wait of 1 s", () => {
    const decoded = decode({ RETRY_MAX_WAIT: "0" })
    expect(Either.isRight(decoded)).toBe(true)
    if (Either.isRight(decoded)) expect(Duration.toMillis(decoded.right.config.retry.maxWait)).toBe(0)
  })

  it("negative waits and an initial wait above a non-zero cap are still refused", () => {
    expect(problemKeys({ RETRY_INITIAL_WAIT: "-1" })).toEqual(["RETRY_INITIAL_WAIT"])
    expect(problemKeys({ RETRY_MAX_WAIT: "-0.5" })).toEqual(["RETRY_MAX_WAIT"])
    expect(problemKeys({ RETRY_INITIAL_WAIT: "2", RETRY_MAX_WAIT: "1" })).toEqual(["RETRY_MAX_WAIT"])
  })
})

describe("retryLlm with zero waits", () => {
  const unavailable = new ProviderUnavailable({ provider: "p", model: "m", status: 503, detail: "HTTP 503" })

  it("a zero initial wait or cap bounds every backoff at 0, however many retries", () => {
    for (const env of [{ RETRY_INITIAL_WAIT: "0" }, { RETRY_MAX_WAIT: "0" }]) {
      const policy = policyFromConfig(Either.getOrThrow(decode(env)).config)
      for (const n of [0, 1, 10, 1_100]) expect(Duration.toMillis(backoffBound(policy, n))).toBe(0)
    }
  })

  it.effect("retries at once: every attempt runs without the clock moving, and no timer is left", () =>
    Effect.gen(function*() {
      const policy = policyFromConfig(Either.getOrThrow(decode({ RETRY_INITIAL_WAIT: "0", RETRY_MAX_WAIT: "0" })).config)
      const attempts = yield* Ref.make(0)
      const call = Effect.flatMap(Ref.updateAndGet(attempts, (n) => n + 1), (n) => n < 4 ? Effect.fail(unavailable) : Effect.succeed(n))
      const fiber = yield* Effect.fork(retryLlm(call, policy))
      const exit = yield* Fiber.await(fiber)
      expect(exit._tag).toBe("Success")
      expect(yield* Ref.get(attempts)).toBe(4)
      expect(Chunk.toReadonlyArray(yield* TestClock.sleeps())).toEqual([])
      expect(Option.isSome(yield* Fiber.poll(fiber))).toBe(true)
    }))
})
