/**
 * stream-ttft — time to first token of a streamed answer through the full resilient stack, against
 * the bare provider stream it wraps, measured in the same run.
 *
 * Both variants stream chat completions (`stream: true`, server-sent events) from the loopback
 * `FakeProvider`, which runs in a child process (`fakeServer.ts`) so the client's CPU is measured
 * alone, and answers like a provider (`ANSWER`: first token after 50 ms, then a piece every 100 ms):
 * (a) `LanguageModel.streamText` of the full stack as the CLI builds it (SQLite cache read on
 * its miss path with unique prompts, memory rate limiter, breaker, retry machinery, first-token and
 * idle timeouts, events, metrics, JSON log file; the answer cached at its end), (b) the same
 * provider's own `streamText` with nothing around it. Each call reads its whole stream; its time to
 * first token is from the call to its first text delta. Rounds alternate (a b a b ...) so a load
 * spike from other processes hits both; the overhead is taken per round pair (p50 of a minus p50
 * of b) and reported as the median of the pairs. Two arrival patterns (`Arrivals`): steady (the
 * target's) and burst; each round also gives the process's CPU time per call.
 *
 * Run: `npm run bench -- ttft`, or `node --import tsx bench/stream-ttft.ts`. Knobs: BENCH_CALLS
 * (per round, default 1,000), BENCH_CONCURRENCY (default 100), BENCH_ROUNDS (default 5 pairs),
 * BENCH_GAP_MS (between pieces, default 100), BENCH_ARRIVALS (`steady` or `burst`; default both).
 * Prints a markdown report.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { LanguageModel } from "@effect/ai"
import { Effect, Stream } from "effect"
import { type ModelRuntime, providerRuntime, stackRuntime } from "./effectVariants.js"
import { serveFake, startFake } from "./fakeServer.js"
import { median, percentile, settle } from "./measure.js"
import { chatMessages, userText } from "./promptShape.js"
import * as FakeProvider from "../test/support/FakeProvider.js"

const entry = fileURLToPath(import.meta.url)
const childExecArgv = entry.endsWith(".ts") ? ["--import", "tsx"] : []

const CALLS = Number(process.env["BENCH_CALLS"] ?? 1_000)
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? 100)
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 5)

interface Round {
  /** Times to first token, ms, sorted. */
  readonly ttft: Float64Array
  readonly failures: number
  /** The process's CPU time (every thread) per call, ms. */
  readonly cpuMs: number
}

/**
 * How calls arrive. `steady`: 100 streams stay in flight and their starts are spread over a call's
 * length (the first call of caller k waits k × length / concurrency), as requests reach a service;
 * the first call of each caller is the ramp and is not counted. `burst`: every caller starts at
 * once, and since every answer takes the same time they stay in lock-step — a hundred calls start
 * together and their first tokens arrive together, so the median call also waits for the set-up
 * work of about fifty others.
 */
type Arrivals = "steady" | "burst"

/** One round of `CALLS` streamed calls, `CONCURRENCY` at a time, through `runtime`. */
const round = (runtime: ModelRuntime, label: string, n: number, arrivals: Arrivals): Promise<Round> =>
  runtime.runPromise(Effect.gen(function*() {
    const cpu = process.cpuUsage()
    const ttft = new Float64Array(CALLS).fill(Number.NaN)
    let failures = 0
    let next = 0
    const call = (i: number) =>
      Effect.suspend(() => {
        const t0 = performance.now()
        let first = Number.NaN
        return LanguageModel.streamText({ prompt: chatMessages(userText(label, n, i)) }).pipe(
          Stream.runForEach((part) =>
            Effect.sync(() => {
              if (part.type === "text-delta" && Number.isNaN(first)) first = performance.now() - t0
            })
          ),
          Effect.matchCause({
            onFailure: () => {
              failures += 1
            },
            onSuccess: () => {
              if (arrivals === "burst" || i >= CONCURRENCY) ttft[i] = first
            }
          })
        )
      })
    const caller = (k: number) =>
      Effect.zipRight(
        arrivals === "steady" ? Effect.sleep(Math.round((k * CALL_MS) / CONCURRENCY)) : Effect.void,
        Effect.whileLoop({ while: () => next < CALLS, body: () => call(next++), step: () => {} })
      )
    yield* Effect.forEach(Array.from({ length: CONCURRENCY }, (_, k) => k), caller, { concurrency: "unbounded", discard: true })
    const measured = ttft.filter((x) => !Number.isNaN(x))
    const used = process.cpuUsage(cpu)
    return { ttft: measured.sort(), failures, cpuMs: (used.user + used.system) / 1000 / CALLS }
  }))

const ms = (x: number) => x.toFixed(2)

const report = (arrivals: Arrivals, rows: ReadonlyArray<{ stack: Round; bare: Round }>): Array<string> => {
  const p = (x: Round, q: number) => percentile(x.ttft, q)
  const overheads = rows.map(({ bare, stack }) => p(stack, 0.5) - p(bare, 0.5))
  const how = arrivals === "steady"
    ? `starts spread over a call's length, the ramp's first ${CONCURRENCY} calls not counted`
    : `callers starting together, in lock-step`
  return [
    `### ${arrivals} arrivals`,
    ``,
    `${CALLS} streamed calls per round at concurrency ${CONCURRENCY} (${how}), ${rows.length} round pairs, first token after ${FIRST_MS} ms then a piece every ${GAP_MS} ms; load average ${loadavg()[0]!.toFixed(2)}.`,
    ``,
    `| round | stack p50 | bare p50 | overhead p50 | stack p90 | bare p90 | CPU per call, stack / bare | failures |`,
    `|---|---|---|---|---|---|---|---|`,
    ...rows.map(({ bare, stack }, i) =>
      `| ${i + 1} | ${ms(p(stack, 0.5))} ms | ${ms(p(bare, 0.5))} ms | ${ms(overheads[i]!)} ms | ${ms(p(stack, 0.9))} ms | ${ms(p(bare, 0.9))} ms | ${ms(stack.cpuMs)} / ${ms(bare.cpuMs)} ms | ${stack.failures + bare.failures} |`
    ),
    ``,
    `Median p50 overhead, ${arrivals}: **${ms(median(overheads))} ms**${arrivals === "steady" ? " (target ≤ 1 ms)" : ""}.`
  ]
}

const main = async () => {
  const server = await startFake(entry, childExecArgv)
  const dataDir = mkdtempSync(join(tmpdir(), "ea-ttft-"))
  const variants = {
    stack: stackRuntime(server.openaiUrl, dataDir),
    bare: providerRuntime(server.openaiUrl)
  }
  try {
    // Warm-up: connections, JIT, the SQLite file.
    for (const [label, runtime] of Object.entries(variants)) await round(runtime, `warm-${label}`, -1, "burst")
    const lines: Array<string> = [`## Time to first token: full stack vs bare provider stream`, ``]
    for (const arrivals of ARRIVALS) {
      const rows: Array<{ stack: Round; bare: Round }> = []
      for (let r = 0; r < ROUNDS; r++) {
        await settle()
        const stack = await round(variants.stack, `stack-${arrivals}`, r, arrivals)
        await settle()
        const bare = await round(variants.bare, `bare-${arrivals}`, r, arrivals)
        rows.push({ stack, bare })
      }
      lines.push(...report(arrivals, rows), ``)
    }
    const stats = await server.stats()
    lines.push(`Server saw ${stats.requests} requests, ${stats.rejected} rejected, ${stats.connections} connections.`)
    console.log(lines.join("\n"))
    if (stats.rejected > 0) process.exitCode = 1
  } finally {
    await Promise.all(Object.values(variants).map((runtime) => runtime.dispose()))
    server.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** Milliseconds between the pieces of an answer (BENCH_GAP_MS, default 100). */
const GAP_MS = Number(process.env["BENCH_GAP_MS"] ?? 100)
const FIRST_MS = 50
const TEXT = "A streamed answer of a few sentences, sent piece by piece as a provider would send its tokens."
/** How long an answer takes to stream: the first piece, then one every `GAP_MS`. */
const CALL_MS = FIRST_MS + (Math.ceil(TEXT.length / 8) - 1) * GAP_MS
/** Which arrivals to measure (BENCH_ARRIVALS: `steady`, `burst`, or both, the default). */
const ARRIVALS: ReadonlyArray<Arrivals> = process.env["BENCH_ARRIVALS"] === "steady"
  ? ["steady"]
  : process.env["BENCH_ARRIVALS"] === "burst"
  ? ["burst"]
  : ["steady", "burst"]

/**
 * What the fake streams: the first token after 50 ms, then 8-character pieces `GAP_MS` apart (12
 * pieces, ~1.2 s a call), as a provider does — so 100 streams in flight leave the client's CPU
 * mostly idle and the time to first token is latency, not a queue.
 */
const ANSWER = FakeProvider.delay(FIRST_MS, FakeProvider.streamed(TEXT, { gapMs: GAP_MS }))

if (process.argv.includes("--fake-server")) void serveFake(ANSWER)
else void main()
