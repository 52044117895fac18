/**
 * durableThroughput — runs through the API of a cluster of `serve` workers on one fresh PostgreSQL
 * database and one Redis (the LLM cache), simulated provider: `runs` runs posted round-robin over
 * the workers by `clients` concurrent clients (undici `Pool`s), timed from the first POST to the
 * last run's `finished_at` in the shared history. Then every posted id must be final in the
 * history's `runs` table with exactly one `WorkflowFinished` event: a run missing there is lost.
 */
import { readFileSync, rmSync } from "node:fs"
import { Pool } from "undici"
import { freePort, type ServeProcess, startServe } from "../test/support/serveProcess.js"
import { percentile, pool } from "./measure.js"
import { freshDatabase } from "./pgDatabase.js"

export interface ThroughputOptions {
  readonly workers: number
  readonly runs: number
  readonly clients: number
  readonly latencyMs: number
  readonly workflow: string
  readonly adminUrl: string
  readonly redisUrl: string
}

export interface ThroughputResult extends ThroughputOptions {
  readonly wallS: number
  readonly postS: number
  readonly statuses: Record<string, number>
  /** Posted runs not final in the history (or whose POST failed), and final runs without exactly one `WorkflowFinished`. */
  readonly lost: number
  readonly notFinishedOnce: number
  readonly postFailures: number
  /** `POST /v1/runs` latency p50 / p99, ms. */
  readonly postMs: readonly [number, number]
  /** Per worker: CPU seconds during the load, and how many of the runs it executed. */
  readonly perWorker: ReadonlyArray<{ readonly cpuS: number; readonly executed: number }>
  /** The whole machine's CPU over the load, busy share of all its cores (`/proc/stat`). */
  readonly machineBusy: number
  /** CPU seconds of the PostgreSQL backends serving the benchmark's database during the load. */
  readonly postgresCpuS: number
  /** CPU share of a core each worker used while idle (the cluster's own polling and health checks). */
  readonly idleCoreShare: number
}

/** CPU seconds a process has used so far (`/proc/<pid>/stat`, in clock ticks of 10 ms). */
export const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** The machine's CPU ticks so far: busy and all (every core). */
const machineTicks = () => {
  const ticks = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = ticks.reduce((a, b) => a + b, 0)
  return { busy: total - ticks[3]! - ticks[4]!, total }
}

/** CPU seconds of each PostgreSQL backend connected to the database (the server is on this machine). */
const backendsCpu = async (query: Query): Promise<Map<number, number>> => {
  const rows = await query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
  )
  const cpu = new Map<number, number>()
  for (const { pid } of rows) {
    try {
      cpu.set(pid, cpuSeconds(pid))
    } catch {
      // gone meanwhile, or on another machine: not counted
    }
  }
  return cpu
}

const cpuSince = (before: Map<number, number>, after: Map<number, number>) =>
  [...after].reduce((sum, [pid, s]) => sum + s - (before.get(pid) ?? 0), 0)

const postRun = async (http: Pool, workflow: string, input: string): Promise<string> => {
  const { statusCode, body } = await http.request({
    path: "/v1/runs",
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ workflow, input })
  })
  const text = await body.text()
  if (statusCode !== 202) throw new Error(`POST /v1/runs answered ${statusCode}: ${text}`)
  return (JSON.parse(text) as { id: string }).id
}

type Query = <R extends object>(sql: string, params?: ReadonlyArray<unknown>) => Promise<Array<R>>

/** Waits until every run of `ids` is final in the history; returns the last `finished_at` (epoch ms). */
const untilFinal = async (query: Query, ids: ReadonlyArray<string>, stallMs = 120_000): Promise<number> => {
  let left = Infinity
  let movedAt = Date.now()
  while (true) {
    const [row] = await query<{ done: string; last: string | null }>(
      "SELECT count(finished_at) AS done, max(finished_at) AS last FROM runs WHERE id = ANY($1)",
      [ids]
    )
    const open = ids.length - Number(row!.done)
    if (open === 0) return Number(row!.last)
    if (open < left) [left, movedAt] = [open, Date.now()]
    if (Date.now() - movedAt > stallMs) return Number.NaN
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** Posts `n` runs round-robin over `pools`, `clients` at a time; ids in order (undefined: POST failed). */
const postAll = async (pools: ReadonlyArray<Pool>, o: ThroughputOptions, n: number, phase: string) => {
  const ids: Array<string | undefined> = new Array(n)
  const run = await pool(n, o.clients, async (i) => {
    ids[i] = await postRun(pools[i % pools.length]!, o.workflow, `Document ${phase}-${i} of ${process.pid}: notes on topic ${(i * 7919) % 100003}.`)
  })
  const sorted = Float64Array.from(run.latencies).sort()
  return { ids, failures: run.failures, postMs: [percentile(sorted, 0.5), percentile(sorted, 0.99)] as const }
}

/** Statuses, finish events and executing worker (pid) of the runs `ids`. */
const audit = async (query: Query, ids: ReadonlyArray<string>, workers: ReadonlyArray<ServeProcess>) => {
  const statuses: Record<string, number> = {}
  const rows = await query<{ status: string; pid: number; final: boolean }>(
    "SELECT status, pid, finished_at IS NOT NULL AS final FROM runs WHERE id = ANY($1)",
    [ids]
  )
  for (const r of rows) statuses[r.status] = (statuses[r.status] ?? 0) + 1
  const finishes = await query<{ n: string }>(
    `SELECT count(*) AS n FROM events WHERE run_id = ANY($1) AND body LIKE '%"_tag":"WorkflowFinished"%' GROUP BY run_id`,
    [ids]
  )
  const finishedOnce = finishes.filter((f) => Number(f.n) === 1).length
  return {
    statuses,
    final: rows.filter((r) => r.final).length,
    notFinishedOnce: ids.length - finishedOnce,
    executed: workers.map((w) => rows.filter((r) => r.pid === w.pid).length)
  }
}

const startWorkers = async (o: ThroughputOptions, databaseUrl: string) => {
  const env = {
    LLM_PROVIDER: "simulated",
    // A model of its own: the cache's Redis keys are this benchmark's alone.
    LLM_MODEL: `bench-durable-${process.pid}-${Date.now()}`,
    SIM_LATENCY_MS: String(o.latencyMs),
    SIM_ERROR_RATE: "0",
    SIM_RATE_LIMIT_RATE: "0",
    DATABASE_URL: databaseUrl,
    CACHE_ENABLED: "true",
    CACHE_BACKEND: "redis",
    REDIS_URL: o.redisUrl,
    RATE_LIMIT_ENABLED: "false",
    SHUTDOWN_GRACE_SECONDS: "0",
    LOG_LEVEL: "WARNING",
    NODE_ENV: "production"
  }
  const ports = await Promise.all(Array.from({ length: o.workers }, () => freePort()))
  return Promise.all(ports.map((port) => startServe({ ...env, RUNNER_PORT: String(port) }, { timeoutMs: 60_000 })))
}

/** One measurement: fresh database, `workers` workers, a warm-up, the load, the audit. */
export const measureThroughput = async (o: ThroughputOptions): Promise<ThroughputResult> => {
  const db = await freshDatabase(o.adminUrl, `ea_bench_durable_${process.pid}_${Date.now()}`)
  const workers: Array<ServeProcess> = []
  const pools: Array<Pool> = []
  try {
    workers.push(...await startWorkers(o, db.url))
    pools.push(...workers.map((w) => new Pool(w.url, { connections: Math.ceil(o.clients / o.workers) + 2 })))
    const warm = await postAll(pools, o, 20 * o.workers, "warm-up")
    await untilFinal(db.query, warm.ids.filter((id) => id !== undefined))
    const idle0 = workers.map((w) => cpuSeconds(w.pid))
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    const idleCoreShare = workers.reduce((sum, w, i) => sum + cpuSeconds(w.pid) - idle0[i]!, 0) / workers.length / 5

    const cpu0 = workers.map((w) => cpuSeconds(w.pid))
    const pg0 = await backendsCpu(db.query)
    const machine0 = machineTicks()
    const startedAt = Date.now()
    const load = await postAll(pools, o, o.runs, "load")
    const postS = (Date.now() - startedAt) / 1000
    const ids = load.ids.filter((id) => id !== undefined)
    const lastFinishedAt = await untilFinal(db.query, ids)
    const machine1 = machineTicks()
    const cpu1 = workers.map((w) => cpuSeconds(w.pid))
    const pg1 = await backendsCpu(db.query)
    const checked = await audit(db.query, ids, workers)
    return {
      ...o,
      wallS: (lastFinishedAt - startedAt) / 1000,
      postS,
      statuses: checked.statuses,
      lost: o.runs - checked.final,
      notFinishedOnce: checked.notFinishedOnce,
      postFailures: load.failures,
      postMs: load.postMs,
      perWorker: workers.map((_, i) => ({ cpuS: cpu1[i]! - cpu0[i]!, executed: checked.executed[i]! })),
      machineBusy: (machine1.busy - machine0.busy) / (machine1.total - machine0.total),
      postgresCpuS: cpuSince(pg0, pg1),
      idleCoreShare
    }
  } finally {
    await Promise.all(pools.map((p) => p.destroy()))
    const codes = await Promise.all(workers.map((w) => w.stop()))
    codes.forEach((code, i) => code !== 0 && console.error(`serve exited with ${code}:\n${workers[i]!.stderr().slice(-4000)}`))
    for (const w of workers) rmSync(w.dir, { recursive: true, force: true })
    await db.drop()
  }
}
