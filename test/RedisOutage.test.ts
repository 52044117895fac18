/**
 * Redis outages through the full resilient stack (`CACHE_BACKEND=redis RATE_LIMIT_BACKEND=redis`)
 * on a private `redis-server` that the tests stop and restart: LLM calls keep their pace while
 * Redis is down (the cache is bypassed, the limiter limits per process, one warning each), Redis is
 * used again once it is back without restarting anything, and an unreachable Redis at startup is
 * a warning, not an error — for the library and for the CLI.
 *
 * Real clock (`it.live`): the behaviour under test is real sockets to a real server dying.
 * Throughput is compared as a ratio to the same batch on the memory backends, in the same test.
 */
import { LanguageModel } from "@effect/ai"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { vi } from "vitest"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runCli } from "./support/cli.js"
import * as FakeProvider from "./support/FakeProvider.js"
import { type CapturedLine, captureLogs } from "./support/logs.js"
import { freePort, make as makeRedisServer } from "./support/redisServer.js"
import * as Stack from "./support/resilientStack.js"

const CALLS = 400
const CONCURRENCY = 20
/** Provider latency: calls are bound by it, as real ones are, not by this machine's CPU. */
const LATENCY_MS = 50
const STOP_AFTER = 120

const redisEnv = (url: string) => ({ CACHE_BACKEND: "redis", RATE_LIMIT_BACKEND: "redis", REDIS_URL: url })

/** The stack's services, built into the current scope. */
const buildStack = (baseUrl: string, env: Readonly<Record<string, string>>) =>
  Effect.map(Layer.build(Stack.layer(baseUrl, env)), Context.get(LanguageModel.LanguageModel))

interface BatchResult {
  readonly startedAt: number
  /** When each call ended (epoch ms), in completion order. */
  readonly ended: ReadonlyArray<number>
  readonly failures: number
}

/** `CALLS` distinct prompts at `CONCURRENCY`; `onEnded(n)` runs after the n-th call ends. */
const batch = (
  model: LanguageModel.Service,
  label: string,
  onEnded: (n: number) => Effect.Effect<void> = () => Effect.void
) =>
  Effect.gen(function*() {
    const startedAt = Date.now()
    const ended: Array<number> = []
    let failures = 0
    yield* Effect.forEach(
      Array.from({ length: CALLS }, (_, i) => i),
      (i) =>
        model.generateText({ prompt: `${label} call ${i}` }).pipe(
          Effect.catchAll(() => Effect.sync(() => void failures++)),
          Effect.zipRight(Effect.suspend(() => {
            ended.push(Date.now())
            return onEnded(ended.length)
          }))
        ),
      { concurrency: CONCURRENCY, discard: true }
    )
    return { startedAt, ended, failures } satisfies BatchResult
  })

/** Calls per second between `from` and the last call's end, counting the calls that ended after `from`. */
const throughput = (result: BatchResult, from: number) => {
  const after = result.ended.filter((t) => t > from)
  const last = result.ended[result.ended.length - 1] ?? from
  return after.length / Math.max(1, last - from) * 1000
}

/** Warnings about Redis, the cache or the limiter (not, say, the fake model's unknown price). */
const warnings = (lines: ReadonlyArray<CapturedLine>) =>
  lines.filter((l) => l.level === "WARN" && /redis|cache|rate limit/i.test(l.text)).map((l) => l.text)

/** Waits (polling, at most 15 s) until `predicate` holds for the captured lines. */
const waitForLogs = (lines: ReadonlyArray<CapturedLine>, predicate: (lines: ReadonlyArray<CapturedLine>) => boolean) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 15_000
    while (!predicate(lines)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("timed out waiting for log lines"))
      yield* Effect.sleep("100 millis")
    }
  })

/** Every key of the private server matching `pattern`. */
const keysOf = (url: string, pattern: string) =>
  Effect.promise(async () => {
    const redis = new Redis(url, { maxRetriesPerRequest: 0 })
    try {
      return await redis.keys(pattern)
    } finally {
      redis.disconnect()
    }
  })

/** What ioredis prints to stderr from now until the scope closes (a client's errors nobody listens to). */
const ioredisPrints = Effect.acquireRelease(
  Effect.sync(() => vi.spyOn(console, "error")),
  (spy) => Effect.sync(() => spy.mockRestore())
).pipe(Effect.map((spy) => () => spy.mock.calls.map((args) => args.map(String).join(" ")).filter((l) => l.includes("[ioredis]"))))

/** How many Lua scripts (`EVAL`, `EVALSHA`) the server ran since it started. */
const scriptCalls = (url: string) =>
  Effect.promise(async () => {
    const redis = new Redis(url, { maxRetriesPerRequest: 0 })
    try {
      const stats = await redis.info("commandstats")
      return [...stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0)
    } finally {
      redis.disconnect()
    }
  })

const cacheDown = "unreachable: cache bypassed until it is back"
const limiterDown = "unreachable: rate limits per process until it is back"

describe.runIf(process.env["REDIS_URL"])("Redis outage (private redis-server)", () => {
  it.live("Redis stopped mid-batch: throughput stays within 2x of the memory backends, one warning each", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: FakeProvider.delay(LATENCY_MS, FakeProvider.ok("answer")), record: false })
      const server = yield* makeRedisServer
      const printed = yield* ioredisPrints

      const memoryModel = yield* buildStack(fake.openaiUrl, {})
      yield* batch(memoryModel, "warm-up") // JIT and keep-alive connections, which the first run would pay alone
      const memory = yield* batch(memoryModel, "memory")
      const memoryRate = throughput(memory, memory.startedAt)

      const model = yield* buildStack(fake.openaiUrl, redisEnv(server.url))
      let stoppedAt = 0
      const outage = yield* batch(model, "outage", (n) =>
        n === STOP_AFTER
          ? Effect.promise(async () => {
            await server.stop()
            stoppedAt = Date.now()
          })
          : Effect.void)
      const outageRate = throughput(outage, stoppedAt)
      const wholeRatio = (outage.ended[outage.ended.length - 1]! - outage.startedAt) /
        (memory.ended[memory.ended.length - 1]! - memory.startedAt)
      console.log(
        `memory ${memoryRate.toFixed(0)} calls/s; redis down ${outageRate.toFixed(0)} calls/s ` +
          `(${outage.ended.filter((t) => t > stoppedAt).length} calls); ratio ${(memoryRate / outageRate).toFixed(2)}, ` +
          `whole batch ${wholeRatio.toFixed(2)}`
      )

      expect(memory.failures + outage.failures).toBe(0)
      expect(stoppedAt).toBeGreaterThan(0)
      expect(outage.ended.filter((t) => t > stoppedAt).length).toBeGreaterThan(CALLS / 2)
      expect(memoryRate / outageRate).toBeLessThan(2)
      expect(wholeRatio).toBeLessThan(2)
      // One warning per Redis client for the whole outage; no per-call warnings.
      expect(warnings(logs.lines).sort()).toEqual([
        `Redis at 127.0.0.1:${server.port} ${cacheDown}`,
        `Redis at 127.0.0.1:${server.port} ${limiterDown}`
      ])
      expect(printed()).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  it.live("Redis frozen mid-batch (SIGSTOP): one wave of calls waits for the command timeout, then none", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: FakeProvider.delay(LATENCY_MS, FakeProvider.ok("answer")), record: false })
      const server = yield* makeRedisServer
      yield* Effect.addFinalizer(() => Effect.sync(() => server.thaw()))
      const model = yield* buildStack(fake.openaiUrl, redisEnv(server.url))
      const durations: Array<number> = []
      yield* Effect.forEach(
        Array.from({ length: CALLS }, (_, i) => i),
        (i) =>
          Effect.gen(function*() {
            const start = Date.now()
            yield* model.generateText({ prompt: `frozen call ${i}` })
            durations.push(Date.now() - start)
            if (durations.length === STOP_AFTER) server.freeze()
          }),
        { concurrency: CONCURRENCY, discard: true }
      )
      // One wave of calls waits out the 1 s command timeout — those in flight when it froze and
      // those that took a freed slot before the breakers opened (at most two per slot) — and none
      // waits for more than the cache's and the limiter's one timeout each (the limiter's first
      // command may go out only after the cache's timed out); after that nothing waits for Redis.
      const slow = durations.filter((ms) => ms >= 900)
      console.log(`frozen Redis: ${slow.length} of ${CALLS} calls waited for the command timeout, the longest ${Math.max(...durations)} ms`)
      expect(slow.length).toBeGreaterThan(0)
      expect(slow.length).toBeLessThanOrEqual(2 * CONCURRENCY)
      expect(Math.max(...durations)).toBeLessThan(2_900)
    }).pipe(Effect.scoped))

  it.live("Redis restarted on the same port: the cache and the shared limiter use it again, no restart of ours", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: FakeProvider.ok("answer"), record: false })
      const server = yield* makeRedisServer
      const printed = yield* ioredisPrints
      const model = yield* buildStack(fake.openaiUrl, redisEnv(server.url))
      const call = (prompt: string) => model.generateText({ prompt })

      yield* call("before the outage")
      yield* Effect.promise(() => server.stop())
      yield* Effect.forEach(["during 1", "during 2", "during 3"], call, { discard: true })
      yield* Effect.promise(() => server.start())
      const back = (text: string) => (lines: ReadonlyArray<CapturedLine>) =>
        lines.some((l) => l.level === "INFO" && l.text === `Redis at 127.0.0.1:${server.port} is back: ${text}`)
      yield* waitForLogs(logs.lines, (lines) => back("cache in use again")(lines) && back("rate limits shared again")(lines))

      // The restarted server is empty (no persistence): whatever is there now, we wrote after it came back.
      const prompts = Array.from({ length: 10 }, (_, i) => `after ${i}`)
      yield* Effect.forEach(prompts, call, { discard: true })
      const entries = (yield* keysOf(server.url, "effect-agents:cache:*")).filter((k) => !k.endsWith("__stats__"))
      expect(entries.length).toBe(prompts.length)
      // The limiter's buckets (scripts) ran on it: an idle bucket's key expires at once under this
      // stack's huge limit, so count the scripts the restarted server ran rather than keys.
      expect(yield* scriptCalls(server.url)).toBeGreaterThanOrEqual(prompts.length)

      // Asked again, the answers come from Redis: no provider call.
      const sent = fake.count()
      yield* Effect.forEach(prompts, call, { discard: true })
      expect(fake.count()).toBe(sent)
      const hits = yield* Effect.promise(async () => {
        const redis = new Redis(server.url, { maxRetriesPerRequest: 0 })
        const value = await redis.hget("effect-agents:cache:__stats__", "hits")
        redis.disconnect()
        return Number(value)
      })
      expect(hits).toBe(prompts.length)
      expect(printed()).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })
})

describe("Redis unreachable at startup", () => {
  it.live("the cache and the limiter start on their fallbacks with one warning each; calls proceed", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const fake = yield* FakeProvider.make({ script: FakeProvider.ok("answer"), record: false })
      const model = yield* buildStack(fake.openaiUrl, redisEnv(`redis://user:s3cret-pass@127.0.0.1:${port}/0`))
      yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => `startup ${i}`), (prompt) => model.generateText({ prompt }), {
        concurrency: 5,
        discard: true
      })
      expect(fake.count()).toBe(20)
      expect(warnings(logs.lines).sort()).toEqual([
        `Redis at 127.0.0.1:${port} ${cacheDown}`,
        `Redis at 127.0.0.1:${port} ${limiterDown}`
      ])
      expect(JSON.stringify(logs.lines)).not.toContain("s3cret-pass")
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  for (const backend of ["RATE_LIMIT_BACKEND", "CACHE_BACKEND"] as const) {
    it(`the CLI with ${backend}=redis and no Redis: exit 0, one warning line on stderr, no stack trace`, async () => {
      const port = await freePort()
      const cwd = mkdtempSync(join(tmpdir(), "ea-redis-down-"))
      const r = await runCli(["run", "summarize", "--input", "x", "--no-tui"], {
        cwd,
        env: {
          [backend]: "redis",
          REDIS_URL: `redis://user:s3cret-pass@127.0.0.1:${port}/0`,
          SIM_LATENCY_MS: "0",
          SIM_ERROR_RATE: "0",
          SIM_RATE_LIMIT_RATE: "0"
        }
      })
      expect(r.code).toBe(0)
      const warned = r.stderr.split("\n").filter((l) => l.includes("unreachable"))
      expect(warned).toHaveLength(1)
      expect(warned[0]).toContain(`Redis at 127.0.0.1:${port} unreachable`)
      expect(r.stderr + r.stdout).not.toMatch(/\n\s+at /)
      expect(r.stderr + r.stdout).not.toContain("s3cret-pass")
      expect(r.stderr).not.toContain("ioredis")
    })
  }
})
