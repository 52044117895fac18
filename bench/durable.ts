/**
 * durable — what durable runs cost and how they scale (issue 15).
 *
 * 1. Per-step cost of durability (`durableSteps.ts`): in this process, a workflow of N activities
 *    that return at once, each activity call timed — the engine's storage round trip of one agent
 *    call — on the engine `serve` runs: SQLite (a file in a temporary directory) and PostgreSQL (a
 *    fresh database), against the in-memory engine (`WorkflowEngine.layerMemory`) as the baseline.
 *    Target: p50 ≤ 2 ms.
 * 2. Throughput (`durableThroughput.ts`): 2,000 runs through `POST /v1/runs` of 1, then of 3
 *    `serve` workers (child processes, each run from a fresh PostgreSQL database; LLM cache on
 *    Redis; simulated provider without faults; no rate limiter), round-robin over the workers,
 *    from the first POST to the last run's `finished_at`. Target: 3 workers ≥ 2.5× one. Every
 *    posted run must be final once in the history (lost runs: 0). Repeated with a slower provider,
 *    where a run mostly waits, unless BENCH_DURABLE_SLOW_LATENCY_MS=0.
 *
 * Run: `npm run bench -- durable`. Needs PostgreSQL and Redis: BENCH_DURABLE_PG (an admin URL,
 * whose user may CREATE DATABASE; default DATABASE_URL_PG) and BENCH_DURABLE_REDIS (default
 * redis://127.0.0.1:6379/14); without a PostgreSQL URL only SQLite and memory are measured.
 * Knobs: BENCH_DURABLE_PARTS (steps,throughput), BENCH_DURABLE_RUNS (2000), BENCH_DURABLE_CLIENTS
 * (100), BENCH_DURABLE_WORKFLOW (summarize), BENCH_DURABLE_WORKERS (1,3), BENCH_DURABLE_LATENCY_MS
 * (100), BENCH_DURABLE_SLOW_LATENCY_MS (1000), BENCH_DURABLE_STEP_ROUNDS (3),
 * BENCH_DURABLE_STEP_WORKFLOWS (20 per round), BENCH_DURABLE_STEPS (20 per workflow),
 * BENCH_DURABLE_STEP_PARALLEL (1 workflow at a time).
 */
import { loadavg } from "node:os"
import { type Engine, measureSteps, memoryEngine, postgresEngine, printStepCosts, sqliteEngine } from "./durableSteps.js"
import { measureThroughput, type ThroughputResult } from "./durableThroughput.js"
import { freshDatabase } from "./pgDatabase.js"

const env = (name: string, fallback: string) => process.env[`BENCH_DURABLE_${name}`] ?? fallback
const PG = process.env["BENCH_DURABLE_PG"] ?? process.env["DATABASE_URL_PG"]
const REDIS = env("REDIS", "redis://127.0.0.1:6379/14")
const PARTS = env("PARTS", "steps,throughput").split(",")
const STEPS = Number(env("STEPS", "20"))

const load = () => loadavg().map((l) => l.toFixed(2)).join(" ")
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–")

const stepCost = async () => {
  const db = PG === undefined ? undefined : await freshDatabase(PG, `ea_bench_steps_${process.pid}_${Date.now()}`)
  const engines: Array<Engine> = [memoryEngine(), sqliteEngine(), ...(db === undefined ? [] : [await postgresEngine(db.url)])]
  const options = {
    rounds: Number(env("STEP_ROUNDS", "3")),
    workflows: Number(env("STEP_WORKFLOWS", "20")),
    steps: STEPS,
    parallel: Number(env("STEP_PARALLEL", "1"))
  }
  const loadAtStart = load()
  try {
    const costs = await measureSteps(engines, options)
    console.log(`### Per-step cost of durability (${options.rounds} interleaved rounds × ${options.workflows} workflows of ${STEPS} activities, ${options.parallel} workflow(s) at a time)\n`)
    console.log(`Node ${process.version}; load average at start ${loadAtStart}, at end ${load()}\n`)
    printStepCosts(costs, STEPS)
    console.log()
    return costs
  } finally {
    for (const engine of engines) {
      await engine.runtime.dispose()
      await engine.cleanUp()
    }
    await db?.drop()
  }
}

/** One row of the throughput table; `one` is the 1-worker result at the same latency, if measured. */
const printRow = (r: ThroughputResult, one: ThroughputResult | undefined) => {
  const rate = r.runs / r.wallS
  const ratio = one === undefined || one === r ? "1" : `**${fmt(rate / (one.runs / one.wallS), 2)}**`
  const cpu = r.perWorker.reduce((s, w) => s + w.cpuS, 0)
  console.log(
    `| ${r.workers} | ${r.latencyMs} | ${fmt(rate)} (${fmt(r.wallS, 2)} s) | ${ratio} | ${fmt(r.runs / r.postS)}, ${fmt(r.postMs[0], 0)} / ${fmt(r.postMs[1], 0)} | ` +
      `${JSON.stringify(r.statuses)} | **${r.lost + r.postFailures}** | ${r.notFinishedOnce} | ` +
      `${r.perWorker.map((w) => `${fmt(w.cpuS)} (${w.executed})`).join(", ")} | ${fmt((cpu * 1000) / r.runs, 2)} / ${fmt((r.postgresCpuS * 1000) / r.runs, 2)} | ` +
      `${fmt(r.idleCoreShare * 100, 1)} | ${fmt(r.machineBusy * 100, 0)} % | ${load()} |`
  )
}

/** Each latency, each number of workers: one measurement each, its row printed as soon as it is done. */
const throughput = async (adminUrl: string) => {
  const base = {
    runs: Number(env("RUNS", "2000")),
    clients: Number(env("CLIENTS", "100")),
    workflow: env("WORKFLOW", "summarize"),
    adminUrl,
    redisUrl: REDIS
  }
  const latencies = [Number(env("LATENCY_MS", "100")), Number(env("SLOW_LATENCY_MS", "1000"))].filter((l) => l > 0)
  const workerCounts = env("WORKERS", "1,3").split(",").map(Number)
  console.log(`### Durable runs through the API (${base.runs} \`${base.workflow}\` runs, ${base.clients} clients round-robin over the workers)\n`)
  console.log(`Node ${process.version}; load average at start ${load()}\n`)
  console.log("| workers | SIM_LATENCY_MS | runs/s (first POST → last final) | × 1 worker | `POST` answered/s, p50 / p99 ms | final statuses | **lost** | not finished exactly once | worker CPU s (runs executed) | CPU ms per run: workers / PostgreSQL | worker idle CPU (% of a core) | machine CPU busy | load avg after |")
  console.log("|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---|")
  const results: Array<ThroughputResult> = []
  for (const latencyMs of latencies) {
    for (const workers of workerCounts) {
      const result = await measureThroughput({ ...base, workers, latencyMs })
      results.push(result)
      printRow(result, results.find((x) => x.workers === 1 && x.latencyMs === latencyMs))
    }
  }
  return results
}

let failed = false
if (PARTS.includes("steps")) {
  const costs = await stepCost()
  failed ||= costs.some((c) => c.failures > 0)
}
if (PARTS.includes("throughput")) {
  if (PG === undefined) console.log("Throughput: skipped (no BENCH_DURABLE_PG or DATABASE_URL_PG).")
  else failed ||= (await throughput(PG)).some((r) => r.lost + r.postFailures + r.notFinishedOnce > 0)
}
process.exitCode = failed ? 1 : 0
