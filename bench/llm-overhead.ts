/**
 * llm-overhead — what the resilient LLM stack costs per call, against baselines measured in the
 * same run.
 *
 * 1. Throughput: 10,000 chat-completion calls at concurrency 1,000 against the loopback
 *    `FakeProvider`, which runs in a child process so the client's CPU is measured alone:
 *    (a) the full stack (`ResilientLanguageModel` over the SQLite cache on its miss path with unique
 *        prompts, a generous memory rate limiter, retry, breaker, metrics, events and the JSON log
 *        file), (b) a loop of raw global `fetch`, (c) undici `request` over a keep-alive `Agent`,
 *    and, to show where the time goes, (d) the bare provider `LanguageModel` the stack wraps (its
 *    direct undici path, no resilience at all) and (e) the same provider with every call sent
 *    through `@effect/ai-openrouter` over `@effect/platform`'s undici client (what (d) replaced).
 *    Each variant runs in a child process of its own, started and warmed up once; the parent runs
 *    them in turn, interleaved over several rounds (a b c d e a b c d e ...), so a load spike from
 *    other processes hits all of them; ratios are taken per round and reported as medians. Separate
 *    processes keep one variant's garbage and JIT type feedback from slowing another: measured in
 *    one process, the stack ran ~25 % slower after the package path than alone, although a real
 *    application runs one of them. Each child collects garbage before each of its rounds.
 * 2. Cache-hit latency: one cached answer read through the resilient layer (SQLite cache) vs a raw
 *    better-sqlite3 point read + `JSON.parse` of the same row, interleaved in batches, in a fresh
 *    child process: in this one, the heap left by 50,000 HTTP calls makes major GC pauses land in
 *    whatever allocates next, and the tail would measure the previous benchmark's garbage.
 *
 * Run: `npm run bench` (bundles this file with esbuild and runs it with node; `bench/run.ts` says
 * why), or `node --import tsx bench/llm-overhead.ts` (slower through tsx, see there). Environment
 * knobs for quick runs: BENCH_CALLS, BENCH_CONCURRENCY, BENCH_ROUNDS, BENCH_HITS. Prints a
 * markdown report.
 */
import { type ChildProcess, fork } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { fileURLToPath } from "node:url"
import { LanguageModel } from "@effect/ai"
import { Effect, Layer, ManagedRuntime } from "effect"
import * as LlmOpenAiCompatible from "../src/layers/LlmOpenAiCompatible.js"
import * as LlmProvider from "../src/layers/LlmProvider.js"
import { Agent, request } from "undici"
import * as Logging from "../src/layers/Logging.js"
import * as FakeProvider from "../test/support/FakeProvider.js"
import { testConfig, testConfigLayer } from "../test/support/config.js"
import * as Stack from "../test/support/resilientStack.js"

/** Children run this same file: through tsx when it is the TypeScript source, else as it is (bundled). */
const childExecArgv = fileURLToPath(import.meta.url).endsWith(".ts") ? ["--import", "tsx"] : []

const CALLS = Number(process.env["BENCH_CALLS"] ?? 10_000)
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? 1_000)
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 5)
const HITS = Number(process.env["BENCH_HITS"] ?? 20_000)

// ---------------------------------------------------------------------------------------------
// The fake provider, in its own process
// ---------------------------------------------------------------------------------------------

const serveFake = async (): Promise<void> => {
  const fake = await FakeProvider.start({ record: false, script: FakeProvider.ok("The fake provider answered.") })
  process.send?.({ url: fake.url, openaiUrl: fake.openaiUrl })
  process.on("disconnect", () => {
    void fake.close().then(() => process.exit(0))
  })
}

const startFake = (): Promise<{ readonly child: ChildProcess; readonly url: string; readonly openaiUrl: string }> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--fake-server"], { execArgv: childExecArgv })
    child.once("error", reject)
    child.once("message", (m) => {
      const { openaiUrl, url } = m as { url: string; openaiUrl: string }
      resolve({ child, url, openaiUrl })
    })
  })

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

interface Run {
  readonly wallMs: number
  /** Per-call latencies in ms. */
  readonly latencies: Float64Array
  readonly failures: number
}

// A full collection before each round, so a round is not charged for the garbage of the last.
setFlagsFromString("--expose-gc")
const collectGarbage = runInNewContext("gc") as () => void
const settle = async (): Promise<void> => {
  collectGarbage()
  await new Promise<void>((resolve) => setImmediate(resolve))
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** Runs `one(i)` for i < n with `concurrency` callers, timing each call. */
const pool = async (n: number, concurrency: number, one: (i: number) => Promise<unknown>): Promise<Run> => {
  const latencies = new Float64Array(n)
  let next = 0
  let failures = 0
  const caller = async () => {
    while (true) {
      const i = next++
      if (i >= n) return
      const t0 = performance.now()
      try {
        await one(i)
      } catch {
        failures += 1
      }
      latencies[i] = performance.now() - t0
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, caller))
  return { wallMs: performance.now() - start, latencies, failures }
}

const KEY = "sk-bench-key"
const body = (prompt: string) => JSON.stringify({ model: Stack.MODEL, messages: [{ role: "user", content: prompt }] })
const headers = { "content-type": "application/json", authorization: `Bearer ${KEY}` }

const textOf = (json: unknown): string => {
  const content = (json as { choices?: ReadonlyArray<{ message?: { content?: unknown } }> }).choices?.[0]?.message?.content
  if (typeof content !== "string") throw new Error("unexpected response")
  return content
}

/** (b) the raw global fetch loop. */
const rawFetch = (openaiUrl: string, round: number): Promise<Run> => {
  const url = `${openaiUrl}/chat/completions`
  return pool(CALLS, CONCURRENCY, async (i) => {
    const res = await fetch(url, { method: "POST", headers, body: body(`fetch ${round} ${i}`) })
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`)
    textOf(await res.json())
  })
}

/**
 * (c) undici `request` over one keep-alive Agent (its default: unlimited connections per origin).
 * The Agent lives as long as the variant, like the stack's and fetch's pools: every variant keeps
 * its connections across rounds (a new Agent per round paid ~1,000 fresh connections a round).
 */
const undiciRequest = (dispatcher: Agent) => (openaiUrl: string, round: number): Promise<Run> => {
  const url = `${openaiUrl}/chat/completions`
  return pool(CALLS, CONCURRENCY, async (i) => {
    const res = await request(url, { method: "POST", headers, body: body(`undici ${round} ${i}`), dispatcher })
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`)
    textOf(await res.body.json())
  })
}

/** The environment of the full stack: generous limiter, retry, breaker, SQLite cache, log file. */
const stackEnv = (dataDir: string): Record<string, string> => ({
  OPENAI_API_KEY: KEY,
  LLM_TIMEOUT: "60",
  CACHE_BACKEND: "sqlite",
  DATA_DIR: dataDir,
  LOG_DIR: join(dataDir, "logs"),
  LOG_LEVEL: process.env["BENCH_LOG_LEVEL"] ?? "INFO",
  LOG_FORMAT: "json",
  RATE_LIMIT_MAX_CALLS: "100000000",
  RATE_LIMIT_PERIOD: "1",
  MAX_RETRIES: "3",
  RETRY_INITIAL_WAIT: "1",
  RETRY_MAX_WAIT: "60",
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "5",
  // Experiments: e.g. BENCH_STACK_ENV='{"RATE_LIMIT_ENABLED":"false"}' to price one component.
  ...(JSON.parse(process.env["BENCH_STACK_ENV"] ?? "{}") as Record<string, string>)
})

/** The full stack as the CLI builds it, plus the JSON log file. */
const stackRuntime = (openaiUrl: string, dataDir: string) => {
  const env = Stack.stackEnv(openaiUrl, stackEnv(dataDir))
  const logging = Logging.layer({ console: false }).pipe(Layer.provide(testConfigLayer(env)))
  return ManagedRuntime.make(Layer.merge(Stack.layer(openaiUrl, stackEnv(dataDir)), logging))
}

/** The bare provider model of the stack's configuration (`direct: false`: the package path only). */
const providerRuntime = (openaiUrl: string, direct = true) => {
  const config = testConfig(Stack.stackEnv(openaiUrl, { OPENAI_API_KEY: KEY }))
  const model = direct
    ? LlmProvider.makeModel(config)
    : LlmOpenAiCompatible.make({ ...LlmOpenAiCompatible.optionsFromConfig(config, "openai"), direct: false })
  return ManagedRuntime.make(
    Layer.scoped(LanguageModel.LanguageModel, model).pipe(Layer.provide(LlmProvider.layerHttpClient))
  )
}

/** (a) the full stack or (d) the bare provider: one Effect program, Effect's own concurrency. */
const viaLanguageModel = (
  runtime: ManagedRuntime.ManagedRuntime<LanguageModel.LanguageModel, never>,
  label: string,
  round: number
): Promise<Run> =>
  runtime.runPromise(Effect.gen(function*() {
    const latencies = new Float64Array(CALLS)
    let failures = 0
    const start = performance.now()
    yield* Effect.forEach(
      Array.from({ length: CALLS }, (_, i) => i),
      (i) =>
        Effect.suspend(() => {
          const t0 = performance.now()
          return LanguageModel.generateText({ prompt: `${label} ${round} ${i}` }).pipe(
            Effect.matchCause({
              onFailure: () => {
                failures += 1
              },
              onSuccess: () => undefined
            }),
            Effect.map(() => {
              latencies[i] = performance.now() - t0
            })
          )
        }),
      { concurrency: CONCURRENCY, discard: true }
    )
    return { wallMs: performance.now() - start, latencies, failures }
  }))

// ---------------------------------------------------------------------------------------------
// Cache-hit latency
// ---------------------------------------------------------------------------------------------

interface Statement {
  get(...params: ReadonlyArray<unknown>): unknown
  pluck(toggle?: boolean): Statement
}
interface Database {
  prepare(sql: string): Statement
  close(): void
}

const HIT_PROMPT = "What is the capital of France?"

const cacheHits = async (openaiUrl: string, dataDir: string) => {
  const runtime = stackRuntime(openaiUrl, dataDir)
  try {
    // Prime the entry (one provider call), then read it back through the layer and raw.
    await runtime.runPromise(LanguageModel.generateText({ prompt: HIT_PROMPT }))
    const Driver = createRequire(import.meta.url)("better-sqlite3") as new(path: string, o?: object) => Database
    const db = new Driver(join(dataDir, "cache.sqlite"), { readonly: true })
    // The only entry of this fresh cache is the primed answer; the cache's writer thread stores
    // it behind the call, so wait for it to reach the file.
    const firstKey = db.prepare("SELECT key FROM llm_cache").pluck()
    let key = firstKey.get()
    for (let i = 0; i < 500 && key === undefined; i++) {
      await new Promise<void>((resolve) => setTimeout(resolve, 10))
      key = firstKey.get()
    }
    const select = db.prepare("SELECT value FROM llm_cache WHERE key = ? AND expires_at > ?").pluck()
    const raw = () => {
      const value = select.get(key, Date.now())
      if (typeof value !== "string") throw new Error("the primed entry is missing (cache key derivation changed?)")
      return JSON.parse(value) as unknown
    }
    raw()

    const batch = 1_000
    const layer: Array<number> = []
    const direct: Array<number> = []
    const viaLayer = (n: number) =>
      runtime.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) {
          const t0 = performance.now()
          yield* LanguageModel.generateText({ prompt: HIT_PROMPT })
          layer.push(performance.now() - t0)
        }
      }))
    const viaRaw = (n: number) => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        raw()
        direct.push(performance.now() - t0)
      }
    }
    // Warm-up, then interleaved batches.
    await viaLayer(batch)
    viaRaw(batch)
    layer.length = 0
    direct.length = 0
    for (let done = 0; done < HITS; done += batch) {
      await viaLayer(batch)
      viaRaw(batch)
    }
    db.close()
    const sorted = (xs: Array<number>) => Float64Array.from(xs).sort()
    return { layer: sorted(layer), raw: sorted(direct) }
  } finally {
    await runtime.dispose()
  }
}

/** `cacheHits` in a fresh process (see the header), its latencies sent back sorted. */
const cacheHitsInChild = (openaiUrl: string, dataDir: string): Promise<{ layer: Float64Array; raw: Float64Array }> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--cache-hits", openaiUrl, dataDir], { execArgv: childExecArgv })
    child.once("error", reject)
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the cache-hit benchmark exited with ${code}`))
    })
    child.once("message", (m) => {
      const { layer, raw } = m as { layer: Array<number>; raw: Array<number> }
      resolve({ layer: Float64Array.from(layer), raw: Float64Array.from(raw) })
      child.disconnect()
    })
  })

const serveCacheHits = async (openaiUrl: string, dataDir: string): Promise<void> => {
  const hits = await cacheHits(openaiUrl, dataDir)
  process.send?.({ layer: Array.from(hits.layer), raw: Array.from(hits.raw) })
}

// ---------------------------------------------------------------------------------------------
// Variants, each in a process of its own
// ---------------------------------------------------------------------------------------------

const VARIANTS = ["stack", "fetch", "undici", "provider", "package"] as const
type Variant = typeof VARIANTS[number]

/** Builds a variant and warms it up (JIT, connection pools, SQLite file); returns its round. */
const prepareVariant = async (
  variant: Variant,
  openaiUrl: string,
  dataDir: string
): Promise<{ readonly round: (n: number) => Promise<Run>; readonly dispose: () => Promise<void> }> => {
  const viaRuntime = async (runtime: ManagedRuntime.ManagedRuntime<LanguageModel.LanguageModel, never>) => {
    await viaLanguageModel(runtime, variant, -1)
    return { round: (n: number) => viaLanguageModel(runtime, variant, n), dispose: () => runtime.dispose() }
  }
  switch (variant) {
    case "stack":
      return viaRuntime(stackRuntime(openaiUrl, dataDir))
    case "provider":
      return viaRuntime(providerRuntime(openaiUrl))
    case "package":
      return viaRuntime(providerRuntime(openaiUrl, false))
    case "fetch": {
      await rawFetch(openaiUrl, -1)
      return { round: (n) => rawFetch(openaiUrl, n), dispose: async () => {} }
    }
    case "undici": {
      const dispatcher = new Agent({ keepAliveTimeout: 60_000 })
      const one = undiciRequest(dispatcher)
      await one(openaiUrl, -1)
      return { round: (n) => one(openaiUrl, n), dispose: () => dispatcher.close() }
    }
  }
}

interface VariantProcess {
  readonly name: Variant
  readonly round: (n: number) => Promise<Run>
  readonly stop: () => void
}

/** Starts a variant's child process; resolves once it is warmed up. */
const startVariant = (name: Variant, openaiUrl: string, dataDir: string): Promise<VariantProcess> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--variant", name, openaiUrl, dataDir], { execArgv: childExecArgv })
    let pending: { resolve: (run: Run) => void; reject: (e: Error) => void } | undefined
    child.once("error", reject)
    child.once("exit", (code) => {
      const error = new Error(`the ${name} variant exited with ${code}`)
      pending?.reject(error)
      reject(error)
    })
    child.on("message", (m) => {
      const message = m as { ready: true } | { wallMs: number; latencies: Array<number>; failures: number }
      if ("ready" in message) {
        resolve({
          name,
          round: (n) =>
            new Promise<Run>((res, rej) => {
              pending = { resolve: res, reject: rej }
              child.send({ round: n })
            }),
          stop: () => child.disconnect()
        })
        return
      }
      const done = pending
      pending = undefined
      done?.resolve({ wallMs: message.wallMs, latencies: Float64Array.from(message.latencies), failures: message.failures })
    })
  })

/** The child's side: prepare the variant, then run each round the parent asks for. */
const serveVariant = async (name: Variant, openaiUrl: string, dataDir: string): Promise<void> => {
  const variant = await prepareVariant(name, openaiUrl, dataDir)
  process.on("message", (m) => {
    const { round } = m as { round: number }
    void settle().then(() => variant.round(round)).then((run) =>
      process.send?.({ wallMs: run.wallMs, latencies: Array.from(run.latencies), failures: run.failures })
    )
  })
  process.on("disconnect", () => {
    void variant.dispose().then(() => process.exit(0))
  })
  process.send?.({ ready: true })
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const fmt = (n: number, digits = 1) => n.toFixed(digits)
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ")

/** Runs the whole benchmark and returns the markdown report. */
export const run = async (): Promise<string> => {
  const fake = await startFake()
  const dataDir = mkdtempSync(join(tmpdir(), "bench-llm-"))
  const out: Array<string> = []
  try {
    const loadBefore = load()
    const variants = await Promise.all(VARIANTS.map((v) => startVariant(v, fake.openaiUrl, join(dataDir, v))))
    const runs: Record<Variant, Array<Run>> = { stack: [], fetch: [], undici: [], provider: [], package: [] }
    const loads: Array<string> = []
    try {
      for (let round = 0; round < ROUNDS; round++) {
        loads.push(load())
        for (const variant of variants) runs[variant.name].push(await variant.round(round))
        process.stderr.write(
          `round ${round + 1}/${ROUNDS}: ${
            VARIANTS.map((v) => `${v} ${fmt(runs[v][round]!.wallMs, 0)} ms`).join(", ")
          } (load ${loads[round]})\n`
        )
      }
    } finally {
      for (const variant of variants) variant.stop()
    }

    const row = (name: string, variant: Variant) => {
      const rs = runs[variant]
      const wall = median(rs.map((r) => r.wallMs))
      const all = Float64Array.from(rs.flatMap((r) => Array.from(r.latencies))).sort()
      const failures = rs.reduce((n, r) => n + r.failures, 0)
      return `| ${name} | ${fmt(wall, 0)} | ${fmt(CALLS / (wall / 1000), 0)} | ${fmt(percentile(all, 0.5))} | ${
        fmt(percentile(all, 0.99))
      } | ${failures} |`
    }
    const ratio = (a: Variant, b: Variant) => median(runs[a].map((r, i) => r.wallMs / runs[b][i]!.wallMs))

    out.push(`## LLM overhead (${CALLS} calls, concurrency ${CONCURRENCY}, ${ROUNDS} interleaved rounds)`)
    out.push("")
    out.push(`Node ${process.version}; load average (1/5/15 min) at start ${loadBefore}; per round: ${loads.join("; ")}`)
    out.push("")
    out.push("| variant | wall ms (median) | calls/s | p50 ms | p99 ms | failures |")
    out.push("|---|---:|---:|---:|---:|---:|")
    out.push(row("full resilient stack (SQLite cache miss, limiter, retry, breaker, metrics, log file)", "stack"))
    out.push(row("raw global `fetch`", "fetch"))
    out.push(row("undici `request` + keep-alive `Agent`", "undici"))
    out.push(row("bare provider `LanguageModel` (direct undici path, no resilience)", "provider"))
    out.push(row("the same provider through `@effect/ai-openrouter` (`direct: false`)", "package"))
    out.push("")
    const vsFetch = ratio("stack", "fetch")
    const vsUndici = ratio("stack", "undici")
    out.push(`Wall-time ratios (median of per-round ratios): stack / fetch = **${fmt(vsFetch, 2)}** (target ≤ 1.00, ${
      vsFetch <= 1 ? "met" : "missed"
    }); stack / undici = **${fmt(vsUndici, 2)}** (target ≤ 2.00 on the kept-pool baseline, ${vsUndici <= 2 ? "met" : "missed"}); stack / bare provider = **${
      fmt(ratio("stack", "provider"), 2)
    }**, bare provider / undici = **${fmt(ratio("provider", "undici"), 2)}**.`)
    out.push("")

    const loadHits = load()
    const hits = await cacheHitsInChild(fake.openaiUrl, join(dataDir, "hits"))
    const us = (ms: number) => fmt(ms * 1000)
    const p50Ratio = percentile(hits.layer, 0.5) / percentile(hits.raw, 0.5)
    const p999 = percentile(hits.layer, 0.999)
    out.push(`## Cache-hit latency (${HITS} hits each, interleaved batches of 1,000; load ${loadHits})`)
    out.push("")
    out.push("| path | p50 µs | p99 µs | p999 µs |")
    out.push("|---|---:|---:|---:|")
    out.push(
      `| resilient layer, SQLite cache hit | ${us(percentile(hits.layer, 0.5))} | ${us(percentile(hits.layer, 0.99))} | ${
        us(p999)
      } |`
    )
    out.push(
      `| raw better-sqlite3 read + JSON.parse | ${us(percentile(hits.raw, 0.5))} | ${us(percentile(hits.raw, 0.99))} | ${
        us(percentile(hits.raw, 0.999))
      } |`
    )
    out.push("")
    out.push(`p50 ratio **${fmt(p50Ratio, 2)}×** (target ≤ 2, ${p50Ratio <= 2 ? "met" : "missed"}); layer p999 **${
      us(p999)
    } µs** (target ≤ 1000, ${p999 <= 1 ? "met" : "missed"}).`)
    return out.join("\n")
  } finally {
    fake.child.disconnect()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** Profiling aid (`BENCH_ONLY=stack|fetch|undici|provider|package|hits node --cpu-prof ...`): runs one part alone, no report. */
const runOnly = async (part: string): Promise<void> => {
  const fake = await startFake()
  const dataDir = mkdtempSync(join(tmpdir(), "bench-llm-"))
  try {
    if ((VARIANTS as ReadonlyArray<string>).includes(part)) {
      const variant = await prepareVariant(part as Variant, fake.openaiUrl, dataDir)
      for (let round = 0; round < ROUNDS; round++) {
        await settle()
        const r = await variant.round(round)
        process.stdout.write(`${part} round ${round}: ${fmt(r.wallMs, 0)} ms, ${r.failures} failures\n`)
      }
      await variant.dispose()
    } else {
      const hits = await cacheHits(fake.openaiUrl, dataDir)
      process.stdout.write(`hits p50 ${fmt(percentile(hits.layer, 0.5) * 1000)} µs, raw ${fmt(percentile(hits.raw, 0.5) * 1000)} µs\n`)
    }
  } finally {
    fake.child.disconnect()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (process.argv.includes("--fake-server")) {
  void serveFake()
} else if (process.argv.includes("--variant")) {
  const at = process.argv.indexOf("--variant")
  void serveVariant(process.argv[at + 1] as Variant, process.argv[at + 2]!, process.argv[at + 3]!)
} else if (process.argv.includes("--cache-hits")) {
  const at = process.argv.indexOf("--cache-hits")
  void serveCacheHits(process.argv[at + 1]!, process.argv[at + 2]!)
} else if (process.env["BENCH_ONLY"] !== undefined) {
  void runOnly(process.env["BENCH_ONLY"])
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then(
    (report) => process.stdout.write(report + "\n"),
    (error) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
      process.exitCode = 1
    }
  )
}
