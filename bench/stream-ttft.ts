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
 * of b) and reported as the median of the pairs.
 *
 * Run: `npm run bench -- ttft`, or `node --import tsx bench/stream-ttft.ts`. Knobs: BENCH_CALLS
 * (per round, default 1,000), BENCH_CONCURRENCY (default 100), BENCH_ROUNDS (default 5 pairs),
 * BENCH_GAP_MS (between pieces, default 100).
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
}

/** One round of `CALLS` streamed calls, `CONCURRENCY` at a time, through `runtime`. */
const round = (runtime: ModelRuntime, label: string, n: number): Promise<Round> =>
  runtime.runPromise(Effect.gen(function*() {
    const ttft = new Float64Array(CALLS)
    let failures = 0
    yield* Effect.forEach(
      Array.from({ length: CALLS }, (_, i) => i),
      (i) =>
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
                ttft[i] = first
              }
            })
          )
        }),
      { concurrency: CONCURRENCY, discard: true }
    )
    return { ttft: ttft.sort(), failures }
  }))

const ms = (x: number) => x.toFixed(2)

const main = async () => {
  const server = await startFake(entry, childExecArgv)
  const dataDir = mkdtempSync(join(tmpdir(), "ea-ttft-"))
  const variants = {
    stack: stackRuntime(server.openaiUrl, dataDir),
    bare: providerRuntime(server.openaiUrl)
  }
  try {
    // Warm-up: connections, JIT, the SQLite file.
    for (const [label, runtime] of Object.entries(variants)) await round(runtime, `warm-${label}`, -1)
    const rows: Array<{ stack: Round; bare: Round }> = []
    for (let r = 0; r < ROUNDS; r++) {
      await settle()
      const stack = await round(variants.stack, "stack", r)
      await settle()
      const bare = await round(variants.bare, "bare", r)
      rows.push({ stack, bare })
    }
    const stats = await server.stats()
    const p = (x: Round, q: number) => percentile(x.ttft, q)
    const overheads = rows.map(({ bare, stack }) => p(stack, 0.5) - p(bare, 0.5))
    const lines = [
      `## Time to first token: full stack vs bare provider stream`,
      ``,
      `${CALLS} streamed calls per round at concurrency ${CONCURRENCY}, ${ROUNDS} round pairs, first token after 50 ms then a piece every ${GAP_MS} ms; load average ${loadavg()[0]!.toFixed(2)}.`,
      ``,
      `| round | stack p50 | bare p50 | overhead p50 | stack p90 | bare p90 | failures |`,
      `|---|---|---|---|---|---|---|`,
      ...rows.map(({ bare, stack }, i) =>
        `| ${i + 1} | ${ms(p(stack, 0.5))} ms | ${ms(p(bare, 0.5))} ms | ${ms(overheads[i]!)} ms | ${ms(p(stack, 0.9))} ms | ${ms(p(bare, 0.9))} ms | ${stack.failures + bare.failures} |`
      ),
      ``,
      `Median p50 overhead: **${ms(median(overheads))} ms** (target ≤ 1 ms). Server saw ${stats.requests} requests, ${stats.rejected} rejected, ${stats.connections} connections.`
    ]
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

/**
 * What the fake streams: the first token after 50 ms, then 8-character pieces `GAP_MS` apart (12
 * pieces, ~1.2 s a call), as a provider does — so 100 streams in flight leave the client's CPU
 * mostly idle and the time to first token is latency, not a queue.
 */
const ANSWER = FakeProvider.delay(
  50,
  FakeProvider.streamed("A streamed answer of a few sentences, sent piece by piece as a provider would send its tokens.", { gapMs: GAP_MS })
)

if (process.argv.includes("--fake-server")) void serveFake(ANSWER)
else void main()
