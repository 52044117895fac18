/**
 * llm-overhead — what the resilient LLM stack costs per call, against baselines and a peer
 * measured in the same run.
 *
 * 1. Throughput: 10,000 chat-completion calls at concurrency 1,000 against the loopback
 *    `FakeProvider`, which runs in a child process so the client's CPU is measured alone
 *    (`fakeServer.ts`): (a) the full stack (`ResilientLanguageModel` over the SQLite cache on its
 *    miss path with unique prompts, a generous memory rate limiter, retry, breaker, metrics, events
 *    and the JSON log file), (b) a loop of raw global `fetch`, (c) undici `request` over a
 *    keep-alive `Agent`, (f) the Vercel AI SDK's `generateText` over `@ai-sdk/openai-compatible`
 *    with only its own retries on, and, to show where the time goes, (d) the bare provider
 *    `LanguageModel` the stack wraps (its direct undici path, no resilience at all) and (e) the
 *    same provider with every call sent through `@effect/ai-openrouter` over `@effect/platform`'s
 *    undici client (what (d) replaced).
 *    Every variant sends the same request (`promptShape.ts`: a system and a user message); the
 *    server answers anything else with a 400 and the benchmark stops. Every variant keeps one
 *    connection pool for its whole life, across rounds (`httpVariants.ts`, `effectVariants.ts`
 *    say whose); the report shows the connections the server accepted per round.
 *    Each variant runs in a child process of its own, started and warmed up once; the parent runs
 *    them in turn, interleaved over several rounds (a b c d e f a b c ...), so a load spike from
 *    other processes hits all of them; ratios are taken per round and reported as medians. Separate
 *    processes keep one variant's garbage and JIT type feedback from slowing another: measured in
 *    one process, the stack ran ~25 % slower after the package path than alone, although a real
 *    application runs one of them. Each child collects garbage before each of its rounds.
 * 2. Cache-hit latency (`cacheHits.ts`), in a fresh child process.
 *
 * Run: `npm run bench` (bundles this file with esbuild and runs it with node; `bench/run.ts` says
 * why), or `node --import tsx bench/llm-overhead.ts` (slower through tsx, see there). Environment
 * knobs for quick runs: BENCH_CALLS, BENCH_CONCURRENCY, BENCH_ROUNDS, BENCH_HITS, e.g.
 * `BENCH_CALLS=1000 BENCH_CONCURRENCY=100 BENCH_ROUNDS=2 BENCH_HITS=2000 npm run bench -- llm`.
 * Prints a markdown report.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { cacheHits, cacheHitsInChild, serveCacheHits } from "./cacheHits.js"
import { fromRuntime, providerRuntime, stackRuntime } from "./effectVariants.js"
import { type FakeServer, serveFake, type ServerStats, startFake } from "./fakeServer.js"
import { aiSdk, aiSdkVersions, rawFetch, undiciRequest } from "./httpVariants.js"
import { median, percentile, type Prepared, type Run, settle } from "./measure.js"
import { serveVariant, startVariant } from "./variantProcess.js"

/** Children run this same file: through tsx when it is the TypeScript source, else as it is (bundled). */
const entry = fileURLToPath(import.meta.url)
const childExecArgv = entry.endsWith(".ts") ? ["--import", "tsx"] : []

const CALLS = Number(process.env["BENCH_CALLS"] ?? 10_000)
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? 1_000)
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 5)
const HITS = Number(process.env["BENCH_HITS"] ?? 20_000)
const LOAD = { calls: CALLS, concurrency: CONCURRENCY }
/**
 * The AI SDK's transport: its default, the global `fetch` (as users run it, and the same pool
 * treatment as the `fetch` row), or `undici` (undici's `fetch` over one kept Agent). Both measured
 * alike in a quick run (AI SDK / stack 2.72 vs 2.68): the SDK's time is not in its transport.
 */
const AISDK_FETCH = process.env["BENCH_AISDK_FETCH"] === "undici" ? "undici" : "global"

// ---------------------------------------------------------------------------------------------
// Variants, each in a process of its own
// ---------------------------------------------------------------------------------------------

const VARIANTS = ["stack", "fetch", "undici", "provider", "package", "aisdk"] as const
type Variant = typeof VARIANTS[number]

const buildVariant = (variant: Variant, openaiUrl: string, dataDir: string): Prepared => {
  switch (variant) {
    case "stack":
      return fromRuntime(stackRuntime(openaiUrl, dataDir), variant, LOAD)
    case "provider":
      return fromRuntime(providerRuntime(openaiUrl), variant, LOAD)
    case "package":
      return fromRuntime(providerRuntime(openaiUrl, false), variant, LOAD)
    case "fetch":
      return rawFetch(openaiUrl, LOAD)
    case "undici":
      return undiciRequest(openaiUrl, LOAD)
    case "aisdk":
      return aiSdk(openaiUrl, LOAD, AISDK_FETCH)
  }
}

/** Builds a variant and warms it up (JIT, connection pools, SQLite file). */
const prepareVariant = async (variant: Variant, openaiUrl: string, dataDir: string): Promise<Prepared> => {
  const prepared = buildVariant(variant, openaiUrl, dataDir)
  await prepared.round(-1)
  return prepared
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const fmt = (n: number, digits = 1) => n.toFixed(digits)
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ")
const verdict = (met: boolean) => (met ? "met" : "NOT met")
/** The fake server's keep-alive (`FakeProvider`: 60 s) less undici 7's 2 s margin (Node's own fetch: 1 s). */
const KEEP_ALIVE_MS = 58_000

/** Stops the run when a variant sent a request the server rejected, or a different number of them. */
const checkServer = (name: Variant, run: Run, before: ServerStats, after: ServerStats): void => {
  if (after.rejected > 0) {
    throw new Error(`a variant sent a request that is not the shared prompt shape (${name} just ran): ${after.problem}`)
  }
  const requests = after.requests - before.requests
  // Retries may add requests only when something failed; a clean round is exactly one per call.
  if (run.failures === 0 && requests !== CALLS) {
    throw new Error(`${name}: the server saw ${requests} requests for ${CALLS} calls`)
  }
}

/** The rounds, interleaved; each variant's runs and the connections the server accepted in them. */
const throughput = async (fake: FakeServer, dataDir: string) => {
  const variants = await Promise.all(
    VARIANTS.map((v) => startVariant(entry, childExecArgv, v, [fake.openaiUrl, join(dataDir, v)]))
  )
  const runs = Object.fromEntries(VARIANTS.map((v) => [v, [] as Array<Run>])) as Record<Variant, Array<Run>>
  const connections = Object.fromEntries(VARIANTS.map((v) => [v, [] as Array<number>])) as Record<Variant, Array<number>>
  const loads: Array<string> = []
  // Idle time between a variant's rounds: its pool outlives it only under the server's keep-alive.
  const lastEnd = new Map<Variant, number>()
  let longestIdleMs = 0
  try {
    let before = await fake.stats()
    if (before.rejected > 0) throw new Error(`a variant's warm-up sent a request that is not the shared prompt shape: ${before.problem}`)
    for (let round = 0; round < ROUNDS; round++) {
      loads.push(load())
      for (const variant of variants) {
        const started = performance.now()
        longestIdleMs = Math.max(longestIdleMs, started - (lastEnd.get(variant.name) ?? started))
        const run = await variant.round(round)
        lastEnd.set(variant.name, performance.now())
        const after = await fake.stats()
        checkServer(variant.name, run, before, after)
        runs[variant.name].push(run)
        connections[variant.name].push(after.connections - before.connections)
        before = after
      }
      process.stderr.write(
        `round ${round + 1}/${ROUNDS}: ${
          VARIANTS.map((v) => `${v} ${fmt(runs[v][round]!.wallMs, 0)} ms`).join(", ")
        } (load ${loads[round]})\n`
      )
    }
  } finally {
    for (const variant of variants) variant.stop()
  }
  return { runs, connections, loads, longestIdleMs }
}

/** The table's rows, in order (a function: children never need the AI SDK's versions). */
const rows = (): ReadonlyArray<readonly [Variant, string]> => [
  ["stack", "full resilient stack (SQLite cache miss, limiter, retry, breaker, metrics, log file)"],
  ["fetch", "raw global `fetch`"],
  ["undici", "undici `request` + keep-alive `Agent`"],
  [
    "aisdk",
    `Vercel AI SDK \`generateText\` (${aiSdkVersions()}; ${
      AISDK_FETCH === "global" ? "global `fetch`, its default" : "undici `fetch` + kept `Agent`"
    }; default \`maxRetries\`)`
  ],
  ["provider", "bare provider `LanguageModel` (direct undici path, no resilience)"],
  ["package", "the same provider through `@effect/ai-openrouter` (`direct: false`)"]
]

/** Runs the whole benchmark and returns the markdown report. */
export const run = async (): Promise<string> => {
  const fake = await startFake(entry, childExecArgv)
  const dataDir = mkdtempSync(join(tmpdir(), "bench-llm-"))
  const out: Array<string> = []
  try {
    const loadBefore = load()
    const { connections, loads, longestIdleMs, runs } = await throughput(fake, dataDir)
    const row = (variant: Variant, name: string) => {
      const rs = runs[variant]
      const wall = median(rs.map((r) => r.wallMs))
      const all = Float64Array.from(rs.flatMap((r) => Array.from(r.latencies))).sort()
      const failures = rs.reduce((n, r) => n + r.failures, 0)
      return `| ${name} | ${fmt(wall, 0)} | ${fmt(CALLS / (wall / 1000), 0)} | ${fmt(percentile(all, 0.5))} | ${
        fmt(percentile(all, 0.99))
      } | ${fmt(median(connections[variant]), 0)} | ${failures} |`
    }
    const ratio = (a: Variant, b: Variant) => median(runs[a].map((r, i) => r.wallMs / runs[b][i]!.wallMs))

    out.push(`## LLM overhead (${CALLS} calls, concurrency ${CONCURRENCY}, ${ROUNDS} interleaved rounds)`)
    out.push("")
    out.push(`Node ${process.version}; load average (1/5/15 min) at start ${loadBefore}; per round: ${loads.join("; ")}`)
    out.push("")
    const pools = AISDK_FETCH === "global"
      ? "`fetch` and the AI SDK on Node's global dispatcher, undici on an `Agent` of its own"
      : "`fetch` on Node's global dispatcher, undici and the AI SDK (through undici's `fetch`) on an `Agent` each"
    out.push(
      "Every variant sends the same request (system + user message; checked by the server) and keeps one connection " +
        `pool across rounds: ${pools}, the stack and the bare provider on the direct path's undici \`Agent\`, the ` +
        "package path on `@effect/platform-node`'s. \"new conns\" is what the server accepted during a round (median)."
    )
    out.push("")
    // Measured: a kept pool is reused after 50 s idle, and reopened in full after 65 s.
    const idle = `Longest idle time between a variant's rounds: ${fmt(longestIdleMs / 1000, 0)} s (the fake server keeps idle ` +
      "connections 60 s)."
    out.push(
      longestIdleMs < KEEP_ALIVE_MS ? idle : `**${idle} Pools did not survive between rounds: every variant reopened ` +
        "its connections each round (the same for all, but not the kept-pool baseline); rerun on a quieter machine.**"
    )
    out.push("")
    out.push("| variant | wall ms (median) | calls/s | p50 ms | p99 ms | new conns / round | failures |")
    out.push("|---|---:|---:|---:|---:|---:|---:|")
    for (const [variant, name] of rows()) out.push(row(variant, name))
    out.push("")
    const vsUndici = ratio("stack", "undici")
    const aiSdkVsStack = ratio("aisdk", "stack")
    const vsFetch = ratio("stack", "fetch")
    out.push("Floor, ratios of this run (median of per-round wall-time ratios):")
    out.push("")
    out.push(`- full stack / undici = **${fmt(vsUndici, 2)}** (target ≤ 2.00): ${verdict(vsUndici <= 2)}`)
    out.push(
      `- AI SDK / full stack = **${fmt(aiSdkVsStack, 2)}** (target ≥ 2.00: the stack at least 2× faster): ${
        verdict(aiSdkVsStack >= 2)
      }`
    )
    out.push(`- full stack / fetch = **${fmt(vsFetch, 2)}** (target ≤ 1.00): ${verdict(vsFetch <= 1)}`)
    out.push("")
    out.push(`Other ratios: stack / bare provider = **${
      fmt(ratio("stack", "provider"), 2)
    }**; bare provider / undici = **${fmt(ratio("provider", "undici"), 2)}**.`)
    out.push("")

    const loadHits = load()
    const hits = await cacheHitsInChild(entry, childExecArgv, fake.openaiUrl, join(dataDir, "hits"))
    const us = (ms: number) => fmt(ms * 1000)
    const p50Ratio = percentile(hits.layer, 0.5) / percentile(hits.raw, 0.5)
    const p999 = percentile(hits.layer, 0.999)
    out.push(`## Cache-hit latency (${HITS} hits each, interleaved batches of 1,000 after 1 s of both; load ${loadHits})`)
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
    out.push(`- p50 ratio **${fmt(p50Ratio, 2)}×** (target ≤ 2): ${verdict(p50Ratio <= 2)}`)
    out.push(`- layer p999 **${us(p999)} µs** (target ≤ 1000): ${verdict(p999 <= 1)}`)
    return out.join("\n")
  } finally {
    fake.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** Profiling aid (`BENCH_ONLY=<variant>|hits node --cpu-prof ...`): runs one part alone, no report. */
const runOnly = async (part: string): Promise<void> => {
  const fake = await startFake(entry, childExecArgv)
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
      const hits = await cacheHits(fake.openaiUrl, dataDir, HITS)
      const at = (xs: Float64Array) => [0.5, 0.99, 0.999].map((p) => fmt(percentile(xs, p) * 1000)).join(" / ")
      process.stdout.write(`hits p50 / p99 / p999: layer ${at(hits.layer)} µs, raw ${at(hits.raw)} µs\n`)
    }
    const stats = await fake.stats()
    if (stats.rejected > 0) throw new Error(`a request was not the shared prompt shape: ${stats.problem}`)
  } finally {
    fake.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (process.argv.includes("--fake-server")) {
  void serveFake()
} else if (process.argv.includes("--variant")) {
  const at = process.argv.indexOf("--variant")
  void serveVariant(() => prepareVariant(process.argv[at + 1] as Variant, process.argv[at + 2]!, process.argv[at + 3]!))
} else if (process.argv.includes("--cache-hits")) {
  const at = process.argv.indexOf("--cache-hits")
  void serveCacheHits(process.argv[at + 1]!, process.argv[at + 2]!, HITS)
} else if (process.env["BENCH_ONLY"] !== undefined) {
  void runOnly(process.env["BENCH_ONLY"])
} else if (process.argv[1] !== undefined && entry === process.argv[1]) {
  run().then(
    (report) => process.stdout.write(report + "\n"),
    (error) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
      process.exitCode = 1
    }
  )
}
