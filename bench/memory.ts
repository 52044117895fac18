/**
 * Memory per in-flight workflow: N distinct `summarize` runs at once on the simulated provider
 * (`SIM_LATENCY_MS=3000`, no faults, the limiter out of the way), on the production wiring
 * (`MainLayer`: SQLite cache and history, the recorder, events, metrics, the log file), as
 * `effect-agents batch --concurrency N` runs them.
 *
 * Each N runs in a fresh process (`--expose-gc`): RSS before any run (after a collection), the peak
 * RSS while the runs are in flight (sampled every 50 ms, and the kernel's high-water mark), the heap
 * after a collection with every run waiting on its answer, and RSS and heap after the runs end and
 * again after a second wave of N: finished runs must not stay in memory. The same N through the
 * real CLI (`batch --no-tui --json`) gives the peak a user sees. Started by `npm run bench -- memory`;
 * `BENCH_MEMORY_RUNS=1000,10000` picks the sizes; `BENCH_MEMORY_SNAPSHOT=<dir>` also writes a heap
 * snapshot of the first wave in flight there (open it in Chrome DevTools › Memory).
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { writeHeapSnapshot } from "node:v8"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect, Layer } from "effect"
import { summarize } from "../src/agents/workflows/summarize.js"
import * as MainLayer from "../src/layers/MainLayer.js"

const LATENCY_MS = 3000
const snapshotDir = process.env["BENCH_MEMORY_SNAPSHOT"]
const mb = (bytes: number) => bytes / 1024 / 1024

/** The environment of every measured process: a fresh data directory, no faults, no limiter. */
const benchEnv = (dir: string): NodeJS.ProcessEnv => ({
  PATH: process.env["PATH"],
  ...(snapshotDir === undefined ? {} : { BENCH_MEMORY_SNAPSHOT: snapshotDir }),
  HOME: dir,
  NODE_ENV: "production",
  DATA_DIR: join(dir, "data"),
  LOG_DIR: join(dir, "logs"),
  LLM_PROVIDER: "simulated",
  SIM_LATENCY_MS: String(LATENCY_MS),
  SIM_ERROR_RATE: "0",
  SIM_RATE_LIMIT_RATE: "0",
  RATE_LIMIT_MAX_CALLS: "100000000"
})

/** A distinct input per run, so every run misses the cache and waits on the provider. */
const inputOf = (wave: number, i: number) => `Document ${wave}-${i}: notes on topic ${(i * 7919) % 100003}, wave ${wave}.`

/** The kernel's peak RSS of a process, in bytes (`VmHWM`), or 0 once it is gone. */
const peakRss = (pid: number | "self"): number => {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:"))
    return line === undefined ? 0 : Number(line.replace(/\D+/g, "")) * 1024
  } catch {
    return 0
  }
}

const collect = () => (globalThis as { gc?: () => void }).gc?.()

interface Measured {
  readonly n: number
  readonly baseRss: number
  readonly peakRss: number
  readonly inFlightHeap: number
  readonly baseHeap: number
  readonly afterRss: number
  readonly afterHeap: number
  readonly after2Rss: number
  readonly after2Heap: number
  readonly failed: number
}

/** In the child: the N runs, twice, on the production layer. */
const measure = (n: number) =>
  Effect.gen(function*() {
    collect()
    const base = process.memoryUsage()
    let peak = base.rss
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50)
    let inFlightHeap = 0
    let failed = 0
    const wave = (w: number) =>
      Effect.gen(function*() {
        // Halfway through the provider's latency every run is waiting on its answer.
        const probe = setTimeout(() => {
          collect()
          inFlightHeap = Math.max(inFlightHeap, process.memoryUsage().heapUsed)
          if (w === 1 && snapshotDir !== undefined) writeHeapSnapshot(join(snapshotDir, `in-flight-${n}.heapsnapshot`))
        }, LATENCY_MS * 0.75)
        const reports = yield* Effect.forEach(
          Array.from({ length: n }, (_, i) => i),
          (i) => summarize.runReport(inputOf(w, i)),
          { concurrency: n }
        )
        clearTimeout(probe)
        failed += reports.filter((r) => r.status !== "succeeded").length
      })
    yield* wave(1)
    collect()
    const after = process.memoryUsage()
    yield* wave(2)
    clearInterval(sampler)
    collect()
    const after2 = process.memoryUsage()
    const result: Measured = {
      n,
      baseRss: base.rss,
      baseHeap: base.heapUsed,
      peakRss: Math.max(peak, peakRss("self")),
      inFlightHeap,
      afterRss: after.rss,
      afterHeap: after.heapUsed,
      after2Rss: after2.rss,
      after2Heap: after2.heapUsed,
      failed
    }
    return result
  })

const child = (n: number) =>
  Effect.runPromise(
    measure(n).pipe(
      Effect.provide(MainLayer.layer({ isTty: false, console: false, color: false }).pipe(Layer.provide(NodeContext.layer)))
    )
  ).then((result) => process.stdout.write(`${JSON.stringify(result)}\n`))

/** Runs a process to its end; its stdout, and its peak RSS polled from /proc while it ran. */
const runProcess = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  new Promise<{ stdout: string; peak: number; code: number | null }>((resolve, reject) => {
    const proc = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "ignore"] })
    let stdout = ""
    let peak = 0
    const poll = setInterval(() => (peak = Math.max(peak, peakRss(proc.pid!))), 50)
    proc.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    proc.once("error", reject)
    proc.once("exit", (code) => {
      clearInterval(poll)
      resolve({ stdout, peak, code })
    })
  })

const parent = async () => {
  const sizes = (process.env["BENCH_MEMORY_RUNS"] ?? "1000,10000").split(",").map(Number)
  const self = fileURLToPath(import.meta.url)
  const cli = join(dirname(self), "..", "..", "bin", "effect-agents.js")
  const rows: Array<string> = []
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), "bench-memory-"))
    try {
      const inProcess = await runProcess(["--expose-gc", self, "--child", String(n)], benchEnv(dir))
      const m = JSON.parse(inProcess.stdout.trim().split("\n").at(-1) ?? "{}") as Measured
      const batchFile = join(dir, "batch.jsonl")
      writeFileSync(batchFile, Array.from({ length: n }, (_, i) => JSON.stringify({ workflow: "summarize", input: inputOf(0, i) })).join("\n"))
      const viaCli = await runProcess([cli, "batch", "--concurrency", String(n), "--no-tui", "--json", batchFile], benchEnv(dir))
      rows.push(
        `| ${n} | ${mb(m.baseRss).toFixed(0)} | ${mb(m.peakRss).toFixed(0)} | ${mb(viaCli.peak).toFixed(0)} | ` +
          `${((m.peakRss - m.baseRss) / 1024 / n).toFixed(1)} | ${((m.inFlightHeap - m.baseHeap) / 1024 / n).toFixed(1)} | ` +
          `${mb(m.afterRss).toFixed(0)} / ${mb(m.afterHeap).toFixed(0)} | ${mb(m.after2Rss).toFixed(0)} / ${mb(m.after2Heap).toFixed(0)} | ` +
          `${m.failed} / ${viaCli.code} |`
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  console.log(`### Memory per in-flight workflow (summarize, simulated provider, SIM_LATENCY_MS=${LATENCY_MS})\n`)
  console.log(`Node ${process.version}; load average at start ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}\n`)
  console.log("| runs at once | RSS before MiB | peak RSS MiB | peak RSS via `batch` MiB | KiB RSS per run | KiB heap per run (after GC) | after the runs: RSS / heap MiB | after a second wave: RSS / heap MiB | failed runs / batch exit |")
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for (const row of rows) console.log(row)
}

const at = process.argv.indexOf("--child")
if (at >= 0) await child(Number(process.argv[at + 1]))
else await parent()
