/**
 * The resilient LLM stack end to end: `ResilientLanguageModel.layer` over the real cache, limiter,
 * breaker, event bus and pricing, talking real HTTP to the loopback `FakeProvider`.
 *
 * Tests run on `TestClock` (`it.scoped`): backoffs are configured to 0 ms (RETRY_MAX_WAIT=0.001 s
 * makes every jittered backoff floor to 0), so retries need no clock, and where a wait is the point
 * (Retry-After, LLM_TIMEOUT) the test waits until the client is asleep on the clock
 * (`TestClock.sleeps`) and then adjusts it. Only the fake's own HTTP round trips take real time.
 */
import { LanguageModel } from "@effect/ai"
import type * as AiError from "@effect/ai/AiError"
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Duration,
  Effect,
  Fiber,
  Inspectable,
  Logger,
  LogLevel,
  Metric,
  type MetricState,
  Queue,
  Schema,
  type Scope,
  TestClock
} from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { formatJson, toLogEntry } from "../src/layers/Logging.js"
import { withCachePolicy } from "../src/services/LlmCall.js"
import { fromAiError, type LlmError } from "../src/services/LlmError.js"
import * as Metrics from "../src/services/Metrics.js"
import * as WorkflowContext from "../src/services/WorkflowContext.js"
import { LlmCallFinished, type WorkflowEvent, WorkflowEvents } from "../src/services/WorkflowEvents.js"
import * as FakeProvider from "./support/FakeProvider.js"
import * as Stack from "./support/resilientStack.js"

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const PROMPT = "What is the capital of France?"

const ask = (prompt: string = PROMPT) => LanguageModel.generateText({ prompt })

/** The typed `LlmError` a failed call carries (what an agent sees after `fromAiError`). */
const failure = <A, R>(self: Effect.Effect<A, AiError.AiError, R>): Effect.Effect<LlmError, never, R> =>
  Effect.flip(self).pipe(
    Effect.orDieWith(() => new Error("expected the call to fail, it succeeded")),
    Effect.map((error) => fromAiError(error, { provider: "openai", model: Stack.MODEL }, 0))
  )

/**
 * Runs `body` against a fresh fake provider and a full stack pointed at it. The body may subscribe
 * to events (the stack's services are in its context).
 */
const withStack = <A, E>(
  env: Readonly<Record<string, string>>,
  body: (fake: FakeProvider.FakeProvider) => Effect.Effect<A, E, Stack.StackServices | Scope.Scope>,
  options: FakeProvider.FakeProviderOptions = {}
): Effect.Effect<A, E, Scope.Scope> =>
  Effect.flatMap(FakeProvider.make(options), (fake) =>
    body(fake).pipe(Effect.provide(Stack.layer(fake.openaiUrl, env))))

/** A subscription to every event; `drain` returns what arrived so far. */
const recordEvents = Effect.gen(function*() {
  const events = yield* WorkflowEvents
  const queue = yield* events.subscribe
  return { drain: Effect.map(Queue.takeAll(queue), (c): ReadonlyArray<WorkflowEvent> => Chunk.toReadonlyArray(c)) }
})

const finishedEvents = (events: ReadonlyArray<WorkflowEvent>): ReadonlyArray<LlmCallFinished> =>
  events.filter((e): e is LlmCallFinished => e instanceof LlmCallFinished)

/** Waits (in real time, the fake answers in real time) until `predicate` holds. */
const eventually = (predicate: () => boolean, what: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    const deadline = Date.now() + 5_000
    while (!predicate()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))
    }
  })

/** Waits until a fiber sleeps on the `TestClock` until `atMs` (so adjusting past it wakes it). */
const sleepingUntil = (atMs: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const deadline = Date.now() + 5_000
    while (!Chunk.some(yield* TestClock.sleeps(), (t) => t === atMs)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`no sleep until ${atMs} ms`))
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))
    }
  })

const counter = (metric: Metric.Metric.Counter<number>, tags: Readonly<Record<string, string>>) =>
  Effect.map(Metric.value(Metrics.withTags(metric, tags)), (s: MetricState.MetricState.Counter<number>) => s.count)

/**
 * Every log line written while `self` runs, rendered exactly as the JSON log file writes it, cause
 * included (`support/logs.ts` keeps only message and annotations; a leaked key could hide in a cause).
 */
const logFileLines = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make<unknown, void>((options) => {
      lines.push(formatJson(toLogEntry(options)))
    })
    const result = yield* self.pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
    return { result, lines }
  })

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "resilient-llm-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

// ---------------------------------------------------------------------------------------------
// Cache
// ---------------------------------------------------------------------------------------------

describe("cache", () => {
  it.scoped("answers an identical request from the cache without an HTTP request", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        const events = yield* recordEvents
        const first = yield* ask()
        const second = yield* ask()
        expect(fake.count()).toBe(1)
        expect(second.text).toBe(first.text)
        expect(finishedEvents(yield* events.drain).map((e) => e.cached)).toEqual([false, true])
      }), { script: FakeProvider.ok("Paris.") }))

  it.scoped("a text prompt and the same user message written as a message list share one entry", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        yield* ask(PROMPT)
        const second = yield* LanguageModel.generateText({ prompt: [{ role: "user", content: PROMPT }] })
        expect(second.text).toBe("Paris.")
        expect(fake.count()).toBe(1)
      }), { script: FakeProvider.ok("Paris.") }))

  it.scoped("misses when the prompt differs", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        yield* ask("What is the capital of France?")
        yield* ask("What is the capital of Spain?")
        expect(fake.count()).toBe(2)
      })))

  it.scoped("misses when the model differs", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        yield* ask()
        yield* ask().pipe(WorkflowContext.withAgent("writer", { model: "other-model" }))
        expect(fake.requests.map((r) => r.model)).toEqual([Stack.MODEL, "other-model"])
      })))

  it.scoped("misses when the model settings differ, and hits when they are equal", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        const at = (temperature: number) => WorkflowContext.withAgent("writer", { settings: { temperature } })
        yield* ask().pipe(at(0.2))
        yield* ask().pipe(at(0.9))
        yield* ask().pipe(at(0.2))
        expect(fake.count()).toBe(2)
        // The settings reach the wire: the cache key differs because the request differs.
        expect(fake.requests.map((r) => (r.body as { temperature?: number }).temperature)).toEqual([0.2, 0.9])
      })))

  it.scoped("misses when the response schema differs", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        const City = Schema.Struct({ city: Schema.String })
        const CityAndCountry = Schema.Struct({ city: Schema.String, country: Schema.String })
        const a = yield* LanguageModel.generateObject({ prompt: PROMPT, schema: City })
        const b = yield* LanguageModel.generateObject({ prompt: PROMPT, schema: CityAndCountry })
        const c = yield* LanguageModel.generateObject({ prompt: PROMPT, schema: City })
        expect(fake.count()).toBe(2)
        expect(a.value).toEqual({ city: "Paris" })
        expect(b.value).toEqual({ city: "Paris", country: "France" })
        expect(c.value).toEqual({ city: "Paris" })
      }), { script: FakeProvider.ok(JSON.stringify({ city: "Paris", country: "France" })) }))

  it.scoped("stores only successes: a failed call is not cached and the next call goes to the provider", () =>
    withStack({ MAX_RETRIES: "0" }, (fake) =>
      Effect.gen(function*() {
        const error = yield* failure(ask())
        expect(error._tag).toBe("ProviderUnavailable")
        yield* ask()
        yield* ask()
        expect(fake.count()).toBe(2)
      }), { script: [FakeProvider.status(500)] }))

  it.scoped("bypass neither reads nor stores the cache", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        yield* ask("cached")
        yield* ask("cached").pipe(withCachePolicy("bypass"))
        expect(fake.count()).toBe(2)
        yield* ask("never stored").pipe(withCachePolicy("bypass"))
        yield* ask("never stored")
        expect(fake.count()).toBe(4)
      })))

  it.scoped("refresh skips the read and stores the fresh answer", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        expect((yield* ask()).text).toBe("old answer")
        fake.setScript(FakeProvider.ok("new answer"))
        expect((yield* ask().pipe(withCachePolicy("refresh"))).text).toBe("new answer")
        expect((yield* ask()).text).toBe("new answer")
        expect(fake.count()).toBe(2)
      }), { script: FakeProvider.ok("old answer") }))

  it.scoped("the SQLite cache answers after a restart (layer closed and rebuilt on the same DATA_DIR)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const fake = yield* FakeProvider.make({ script: FakeProvider.ok("Paris, from disk.") })
      const env = { CACHE_BACKEND: "sqlite", DATA_DIR: dir }
      const first = yield* ask().pipe(Effect.provide(Stack.layer(fake.openaiUrl, env)))
      // Effect.provide built and released the whole stack: the SQLite file is closed now.
      const second = yield* Effect.gen(function*() {
        const events = yield* recordEvents
        const response = yield* ask()
        return { response, finished: finishedEvents(yield* events.drain) }
      }).pipe(Effect.provide(Stack.layer(fake.openaiUrl, env)))
      expect(fake.count()).toBe(1)
      expect(second.response.text).toBe(first.text)
      expect(second.finished.map((e) => e.cached)).toEqual([true])
    }))

  it.scoped("concurrent identical requests make one HTTP request (single-flight)", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        const answers = yield* Effect.all(Array.from({ length: 20 }, () => ask()), { concurrency: "unbounded" })
        expect(fake.count()).toBe(1)
        expect(new Set(answers.map((a) => a.text))).toEqual(new Set(["slow answer"]))
      }), { script: FakeProvider.delay(150, FakeProvider.ok("slow answer")) }))

  it.scoped("followers of a leader that had to retry get the retried answer", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        const answers = yield* Effect.all(Array.from({ length: 5 }, () => ask()), { concurrency: "unbounded" })
        expect(fake.count()).toBe(3)
        expect(answers.map((a) => a.text)).toEqual(Array.from({ length: 5 }, () => "third time lucky"))
      }), {
        script: [FakeProvider.delay(50, FakeProvider.status(500)), FakeProvider.status(503)],
        fallback: FakeProvider.ok("third time lucky")
      }))

  it.scoped("an interrupted leader ends its followers too and leaves the request free to run again", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        const leader = yield* Effect.fork(ask())
        yield* eventually(() => fake.count() === 1, "the leader's request")
        const follower = yield* Effect.fork(ask())
        // Let the follower join the leader's flight before the leader goes.
        yield* Effect.repeatN(Effect.yieldNow(), 5)
        yield* Fiber.interrupt(leader)
        const followed = yield* Fiber.await(follower)
        expect(followed._tag === "Failure" && Cause.isInterruptedOnly(followed.cause)).toBe(true)
        // The flight is gone: the same request runs again, as a new HTTP request.
        expect((yield* ask()).text).toBe("second try")
        expect(fake.count()).toBe(2)
      }), { script: [FakeProvider.hang], fallback: FakeProvider.ok("second try") }))
})

// ---------------------------------------------------------------------------------------------
// Retry, breaker, fallback
// ---------------------------------------------------------------------------------------------

describe("retry", () => {
  it.scoped("waits exactly the Retry-After of a 429 before the next attempt", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        const events = yield* recordEvents
        const call = yield* Effect.fork(ask())
        yield* eventually(() => fake.count() === 1, "the first request")
        yield* sleepingUntil(2_000)
        yield* TestClock.adjust("1999 millis")
        // Real time for a premature request to show up, if the client sent one.
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
        expect(fake.count()).toBe(1)
        yield* TestClock.adjust("1 millis")
        const response = yield* Fiber.join(call)
        expect(response.text).toBe("after the wait")
        expect(fake.count()).toBe(2)
        const [finished] = finishedEvents(yield* events.drain)
        expect(finished?.attempt).toBe(2)
        expect(finished?.durationMs).toBe(2_000)
      }), { script: [FakeProvider.status(429, { retryAfter: "2" })], fallback: FakeProvider.ok("after the wait") }))

  it.scoped("retries a 5xx and succeeds, counting llm_retries_total and llm_requests_total", () =>
    withStack({}, (fake) =>
      Effect.gen(function*() {
        const tags = { agent: "retry-metrics", model: Stack.MODEL }
        const retries = { ...tags, reason: "provider_unavailable" }
        const success = { ...tags, status: "success" }
        const retriesBefore = yield* counter(Metrics.llmRetriesTotal, retries)
        const successBefore = yield* counter(Metrics.llmRequestsTotal, success)
        const response = yield* ask().pipe(WorkflowContext.withAgent("retry-metrics"))
        expect(response.text).toBe("third time lucky")
        expect(fake.count()).toBe(3)
        expect((yield* counter(Metrics.llmRetriesTotal, retries)) - retriesBefore).toBe(2)
        expect((yield* counter(Metrics.llmRequestsTotal, success)) - successBefore).toBe(1)
      }), {
        script: [FakeProvider.status(500), FakeProvider.status(503)],
        fallback: FakeProvider.ok("third time lucky")
      }))

  it.scoped("keeps the caller's own metric tags on every metric of a call (miss, hit, cache, limiter)", () =>
    withStack({}, () =>
      Effect.gen(function*() {
        // The layer applies its updates in place when the fiber has no metric tags of its own;
        // a fiber with tags (`Effect.tagMetrics`) must still see them on each metric.
        const tenant = { tenant: "metric-tags" }
        const success = { agent: "metric-tags", model: Stack.MODEL, status: "success", ...tenant }
        const prompt = "Which metrics carry my tags?"
        yield* ask(prompt).pipe(WorkflowContext.withAgent("metric-tags"), Effect.tagMetrics(tenant))
        yield* ask(prompt).pipe(WorkflowContext.withAgent("metric-tags"), Effect.tagMetrics(tenant))
        expect(yield* counter(Metrics.llmRequestsTotal, success)).toBe(2)
        expect(yield* counter(Metrics.llmCacheHitsTotal, tenant)).toBe(1)
        expect(yield* counter(Metrics.llmCacheMissesTotal, tenant)).toBe(1)
        const waits = yield* Metric.value(Metrics.withTags(Metrics.rateLimiterWaitSeconds, { key: `openai:${Stack.MODEL}`, ...tenant }))
        expect(waits.count).toBe(1)
      })))

  it.scoped("counts a call that fails as llm_requests_total{status=error}", () =>
    withStack({ MAX_RETRIES: "0" }, () =>
      Effect.gen(function*() {
        const tags = { agent: "error-metrics", model: Stack.MODEL, status: "error" }
        const before = yield* counter(Metrics.llmRequestsTotal, tags)
        yield* failure(ask().pipe(WorkflowContext.withAgent("error-metrics")))
        expect((yield* counter(Metrics.llmRequestsTotal, tags)) - before).toBe(1)
      }), { script: FakeProvider.status(500) }))

  it.scoped("does not retry a 400: one request, BadRequest", () =>
    withStack({ MAX_RETRIES: "3" }, (fake) =>
      Effect.gen(function*() {
        const error = yield* failure(ask())
        expect(error._tag).toBe("BadRequest")
        expect(fake.count()).toBe(1)
      }), { script: FakeProvider.status(400) }))

  it.scoped("does not retry a 401: one request, Unauthorized", () =>
    withStack({ MAX_RETRIES: "3" }, (fake) =>
      Effect.gen(function*() {
        const error = yield* failure(ask())
        expect(error._tag).toBe("Unauthorized")
        expect(fake.count()).toBe(1)
      }), { script: FakeProvider.status(401) }))

  // Over HTTP the deadline is a timer on the request itself, in real time like the socket's own
  // timeouts; models without one (simulated, scripted, your own) keep it on the TestClock (`UserModel.test.ts`).
  it.scopedLive("fails an attempt that outlives LLM_TIMEOUT with Timeout, its request aborted", () =>
    withStack({ LLM_TIMEOUT: "0.2", MAX_RETRIES: "0" }, (fake) =>
      Effect.gen(function*() {
        const error = yield* failure(ask())
        expect(error._tag).toBe("Timeout")
        expect(error).toMatchObject({ timeoutMs: 200 })
        expect(fake.count()).toBe(1)
        yield* eventually(() => fake.openConnections() === 0, "the aborted request's connection to close")
      }), { script: FakeProvider.hang }))

  it.scoped("a call that fails after 3 attempts reports 3 attempts in its event and its log lines", () =>
    withStack({ MAX_RETRIES: "2" }, (fake) =>
      Effect.gen(function*() {
        const events = yield* recordEvents
        const { lines, result: error } = yield* logFileLines(failure(ask()))
        expect(error._tag).toBe("ProviderUnavailable")
        expect(fake.count()).toBe(3)
        const finished = finishedEvents(yield* events.drain)
        expect(finished.map((e) => [e.status, e.attempt])).toEqual([["error", 3]])
        // As the JSON log file has them: annotations are top-level fields of the line.
        const logged = lines.map((line) => JSON.parse(line) as Record<string, string>)
        expect(logged.filter((l) => l["message"] === "LLM attempt failed; retrying").map((l) => l["attempt"]))
          .toEqual(["1", "2"])
        expect(logged.find((l) => l["message"] === "LLM call failed")?.["attempts"]).toBe("3")
      }), { script: FakeProvider.status(503) }))

  it.scoped("a failure that is not retried counts one attempt", () =>
    withStack({ MAX_RETRIES: "3" }, () =>
      Effect.gen(function*() {
        const events = yield* recordEvents
        yield* failure(ask())
        expect(finishedEvents(yield* events.drain).map((e) => [e.status, e.attempt])).toEqual([["error", 1]])
      }), { script: FakeProvider.status(400) }))

  it.scoped("followers of a leader that failed report the leader's attempts", () =>
    withStack({ MAX_RETRIES: "2" }, (fake) =>
      Effect.gen(function*() {
        const events = yield* recordEvents
        const errors = yield* Effect.all(Array.from({ length: 3 }, () => failure(ask())), { concurrency: "unbounded" })
        expect(errors.map((e) => e._tag)).toEqual(["ProviderUnavailable", "ProviderUnavailable", "ProviderUnavailable"])
        expect(fake.count()).toBe(3)
        expect(finishedEvents(yield* events.drain).map((e) => e.attempt)).toEqual([3, 3, 3])
      }), { script: FakeProvider.delay(20, FakeProvider.status(503)) }))

  it.scoped("maps a 200 with a body that is not JSON to MalformedResponse, without retrying", () =>
    withStack({ MAX_RETRIES: "3" }, (fake) =>
      Effect.gen(function*() {
        const error = yield* failure(ask())
        expect(error._tag).toBe("MalformedResponse")
        expect(fake.count()).toBe(1)
      }), { script: FakeProvider.garbage() }))
})

describe("circuit breaker", () => {
  const env = { CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3", CIRCUIT_BREAKER_RESET_TIMEOUT: "30", MAX_RETRIES: "5" }

  it.scoped("opens after N consecutive failures; retry stops at once on CircuitOpen", () =>
    withStack(env, (fake) =>
      Effect.gen(function*() {
        const error = yield* failure(ask())
        // Three attempts reach the provider; the fourth is refused by the open circuit and the
        // remaining two retries are not spent.
        expect(fake.count()).toBe(3)
        expect(error).toMatchObject({ _tag: "CircuitOpen", breaker: `openai:${Stack.MODEL}`, retryAt: 30_000 })
      }), { script: FakeProvider.status(503) }))

  it.scoped("fails fast with CircuitOpen and no HTTP request while open", () =>
    withStack(env, (fake) =>
      Effect.gen(function*() {
        const events = yield* recordEvents
        yield* failure(ask("first"))
        fake.clearRequests()
        const before = fake.count()
        const error = yield* failure(ask("second"))
        expect(error._tag).toBe("CircuitOpen")
        expect(fake.count()).toBe(before)
        // Attempts are the ones that reached the provider: the circuit's refusals are not.
        expect(finishedEvents(yield* events.drain).map((e) => e.attempt)).toEqual([3, 0])
      }), { script: FakeProvider.status(503) }))

  it.scoped("after the reset timeout one probe reaches the provider and its success closes the circuit", () =>
    withStack(env, (fake) =>
      Effect.gen(function*() {
        yield* failure(ask("first"))
        fake.setScript(FakeProvider.ok("recovered"))
        yield* TestClock.adjust("30 seconds")
        expect((yield* ask("probe")).text).toBe("recovered")
        expect((yield* ask("after")).text).toBe("recovered")
        expect(fake.count()).toBe(5)
      }), { script: FakeProvider.status(503) }))
})

describe("fallback models", () => {
  const byModel = (fallbackOk: string): FakeProvider.Responder => (request) =>
    request.model === Stack.MODEL ? FakeProvider.status(503) : FakeProvider.ok(fallbackOk)

  it.scoped("moves to the next model after the primary's retries and records the model that answered", () =>
    withStack({ LLM_FALLBACK_MODELS: "fake-backup", MAX_RETRIES: "2" }, (fake) =>
      Effect.gen(function*() {
        const events = yield* recordEvents
        const response = yield* ask()
        expect(response.text).toBe("from the backup")
        expect(fake.requests.map((r) => r.model)).toEqual([Stack.MODEL, Stack.MODEL, Stack.MODEL, "fake-backup"])
        const finished = finishedEvents(yield* events.drain)
        // Attempts count on every model: three on the primary, one on the backup.
        expect(finished.map((e) => [e.model, e.status, e.attempt])).toEqual([["fake-backup", "success", 4]])
      }), { script: byModel("from the backup") }))

  it.scoped("a call that fails on every model reports all its attempts", () =>
    withStack({ LLM_FALLBACK_MODELS: "fake-backup", MAX_RETRIES: "2" }, (fake) =>
      Effect.gen(function*() {
        const events = yield* recordEvents
        const error = yield* failure(ask())
        expect(error._tag).toBe("ProviderUnavailable")
        expect(fake.count()).toBe(6)
        const finished = finishedEvents(yield* events.drain)
        expect(finished.map((e) => [e.model, e.status, e.attempt])).toEqual([[Stack.MODEL, "error", 6]])
      }), { script: FakeProvider.status(503) }))

  it.scoped("accepts provider:model fallbacks and labels them with their provider", () =>
    withStack(
      { LLM_FALLBACK_MODELS: "openrouter:backup/model", OPENROUTER_API_KEY: "sk-or-other", MAX_RETRIES: "0" },
      (fake) =>
        Effect.gen(function*() {
          const events = yield* recordEvents
          expect((yield* ask()).text).toBe("from openrouter")
          expect(fake.requests.map((r) => r.model)).toEqual([Stack.MODEL, "backup/model"])
          expect(fake.requests[1]?.headers["authorization"]).toBe("Bearer sk-or-other")
          const finished = finishedEvents(yield* events.drain)
          expect(finished.map((e) => [e.model, e.provider])).toEqual([["openrouter:backup/model", "openrouter"]])
        }),
      { script: byModel("from openrouter") }
    ))

  it.scoped("skips a primary whose circuit is open, without calling it", () =>
    withStack(
      { LLM_FALLBACK_MODELS: "fake-backup", MAX_RETRIES: "0", CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1" },
      (fake) =>
        Effect.gen(function*() {
          yield* ask("opens the primary's circuit")
          fake.clearRequests()
          expect((yield* ask("second")).text).toBe("from the backup")
          expect(fake.requests.map((r) => r.model)).toEqual(["fake-backup"])
        }),
      { script: byModel("from the backup") }
    ))
})

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

describe("the API key", () => {
  it.scoped("is sent to the provider but appears in no log line, event, metric or error", () =>
    withStack({ MAX_RETRIES: "1", CIRCUIT_BREAKER_FAILURE_THRESHOLD: "1000" }, (fake) =>
      Effect.gen(function*() {
        const events = yield* recordEvents
        const { lines, result: errors } = yield* logFileLines(
          Effect.gen(function*() {
            const failed: Array<unknown> = []
            for (const [i, behaviour] of [
              FakeProvider.status(401),
              FakeProvider.status(403),
              FakeProvider.status(400, { body: JSON.stringify({ error: { message: "bad request" } }) }),
              FakeProvider.status(429, { retryAfter: "0" }),
              FakeProvider.status(500),
              FakeProvider.garbage(),
              FakeProvider.garbage("{\"id\": \"gen-1\", \"choi", "application/json"),
              FakeProvider.reset
            ].entries()) {
              fake.setScript(behaviour)
              const error = yield* Effect.flip(ask(`call ${i}`).pipe(WorkflowContext.withAgent("secret-agent")))
              failed.push(error, fromAiError(error, { provider: "openai", model: Stack.MODEL }, 0))
            }
            fake.setScript(FakeProvider.ok("fine"))
            yield* ask("a success")
            return failed
          })
        )
        const published = yield* events.drain
        const metrics = yield* Metric.snapshot

        expect(fake.requests.length).toBeGreaterThan(8)
        for (const request of fake.requests) expect(request.headers["authorization"]).toBe(`Bearer ${Stack.API_KEY}`)
        expect(lines.length).toBeGreaterThan(0)
        expect(errors.length).toBe(16)

        const renderings = [
          ...lines,
          ...published.map((e) => JSON.stringify(e)),
          ...metrics.map((pair) => JSON.stringify({ key: pair.metricKey.name, tags: pair.metricKey.tags })),
          ...errors.flatMap((e) => [
            JSON.stringify(e),
            String(e),
            Inspectable.format(e),
            e instanceof Error ? e.message : "",
            Cause.pretty(Cause.fail(e))
          ])
        ]
        for (const text of renderings) expect(text).not.toContain(Stack.API_KEY)
      })))
})

describe("durations", () => {
  it.scoped("a cached call's LlmCallFinished reports its own (near-zero) duration and no cost", () =>
    withStack({}, () =>
      Effect.gen(function*() {
        const events = yield* recordEvents
        yield* ask()
        yield* TestClock.adjust(Duration.seconds(1))
        yield* ask()
        const [, hit] = finishedEvents(yield* events.drain)
        expect(hit).toMatchObject({ cached: true, costUsd: 0, durationMs: 0, status: "success" })
      })))
})
