/**
 * serve-load — `effect-agents serve` under load: 2,000 runs started through `POST /v1/runs` by 200
 * concurrent clients while 100 SSE subscribers follow `GET /v1/events`, against the API's no-op
 * endpoint (`GET /healthz`) on the same server as the anchor.
 *
 * The server is the real CLI (`bin/effect-agents.js serve`) in a child process: simulated provider
 * (`SIM_LATENCY_MS=20`, no faults), no rate limiter, no cache, SQLite history in a temporary
 * `DATA_DIR`, `API_TOKEN` set. The subscribers run in a second child process (`sseSubscribers.ts`);
 * this process is the load client (undici `Pool`, one connection per client).
 *
 * 1. Warm-up: 200 runs and 2,000 health checks, all finished before the subscribers connect.
 * 2. Anchor alone: 2,000 `GET /healthz` by the 200 clients, the subscribers connected and idle.
 * 3. Load: each client takes the next run, `POST /v1/runs`, then `GET /healthz` — so the no-op is
 *    measured interleaved, under the same load — until 2,000 runs are started; then the subscribers
 *    wait until each has seen every run's `WorkflowFinished`.
 * 4. Check: every returned id reads final in `GET /v1/runs/{id}`, and every subscriber saw each
 *    run's `WorkflowFinished` exactly once (a dropped subscriber resumes with `Last-Event-ID`).
 *
 * Reported: runs/s (first POST to the last `WorkflowFinished`'s `at`), POST and healthz p50/p99 and
 * their ratio (target: POST p99 ≤ 2× healthz p99 under the same load), SSE delivery lag (from the
 * POST's response to its `WorkflowStarted` at each subscriber; and from `WorkflowFinished.at` to its
 * arrival), lost runs, and the CPU seconds of the three processes.
 *
 * Run: `npm run bench -- serve-load`. Knobs: BENCH_SERVE_RUNS (2000), BENCH_SERVE_CLIENTS (200),
 * BENCH_SERVE_SUBSCRIBERS (100), BENCH_SERVE_LATENCY_MS (20); BENCH_SERVE_CPU_PROF=<dir> runs the
 * server with `node --cpu-prof` and writes its profile there when it exits (open it in Chrome
 * DevTools); it then runs `dist/main.js`, the unbundled build, so the profile shows function names
 * (the bundle is minified). BENCH_SERVE_SCRIPT=<file> runs another build's CLI entry instead (its
 * `bin/effect-agents.js`), to compare a change against the current build on the same machine.
 */
import { fork } from "node:child_process"
import { readFileSync, rmSync } from "node:fs"
import { loadavg } from "node:os"
import { dirname, join } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { Pool } from "undici"
import { binPath } from "../test/support/cli.js"
import { type ServeProcess, startServe } from "../test/support/serveProcess.js"
import { percentile, pool as callers } from "./measure.js"
import { type DeliveryReport, serveSubscribers } from "./sseSubscribers.js"

const RUNS = Number(process.env["BENCH_SERVE_RUNS"] ?? 2_000)
const CLIENTS = Number(process.env["BENCH_SERVE_CLIENTS"] ?? 200)
const SUBSCRIBERS = Number(process.env["BENCH_SERVE_SUBSCRIBERS"] ?? 100)
const LATENCY_MS = Number(process.env["BENCH_SERVE_LATENCY_MS"] ?? 20)
const PROFILE_DIR = process.env["BENCH_SERVE_CPU_PROF"]
const SCRIPT = process.env["BENCH_SERVE_SCRIPT"]
const TOKEN = "serve-load-benchmark-token-0123456789"
const WORKFLOW = "summarize"

const entry = fileURLToPath(import.meta.url)
const childExecArgv = entry.endsWith(".ts") ? ["--import", "tsx"] : []
const headers = { authorization: `Bearer ${TOKEN}` }
const now = () => performance.timeOrigin + performance.now()

/** CPU seconds a process has used so far (`/proc/<pid>/stat`, in clock ticks of 10 ms). */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const postRun = async (http: Pool, i: number, phase: string): Promise<string> => {
  const { statusCode, body } = await http.request({
    path: "/v1/runs",
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ workflow: WORKFLOW, input: `Document ${phase}-${i}: notes on topic ${(i * 7919) % 100003}.` })
  })
  const text = await body.text()
  if (statusCode !== 202) throw new Error(`POST /v1/runs answered ${statusCode}: ${text}`)
  return (JSON.parse(text) as { id: string }).id
}

const healthz = async (http: Pool): Promise<void> => {
  const { statusCode, body } = await http.request({ path: "/healthz", method: "GET" })
  await body.dump()
  if (statusCode !== 200) throw new Error(`GET /healthz answered ${statusCode}`)
}

const statusOf = async (http: Pool, id: string): Promise<string> => {
  const { statusCode, body } = await http.request({ path: `/v1/runs/${id}`, method: "GET", headers })
  const text = await body.text()
  return statusCode === 200 ? (JSON.parse(text) as { status: string }).status : `HTTP ${statusCode}`
}

/** Statuses of `ids` from `GET /v1/runs/{id}`, counted. */
const statuses = async (http: Pool, ids: ReadonlyArray<string>): Promise<Record<string, number>> => {
  const found: Array<string> = new Array(ids.length)
  await callers(ids.length, 50, async (i) => (found[i] = await statusOf(http, ids[i]!)))
  const counts: Record<string, number> = {}
  for (const s of found) counts[s] = (counts[s] ?? 0) + 1
  return counts
}

const sorted = (xs: ArrayLike<number>) => Float64Array.from(xs).sort()
const p = (xs: Float64Array, q: number) => percentile(xs, q)

/** Warm-up: JIT, the SQLite files, connections; returns once the warm-up runs are final. */
const warmUp = async (http: Pool) => {
  const ids: Array<string> = new Array(200)
  await callers(ids.length, 50, async (i) => (ids[i] = await postRun(http, i, "warm-up")))
  await callers(2_000, CLIENTS, () => healthz(http))
  for (let tries = 0; ; tries++) {
    const counts = await statuses(http, ids)
    if ((counts["running"] ?? 0) === 0) return counts
    if (tries > 100) throw new Error(`warm-up runs still running: ${JSON.stringify(counts)}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** The subscribers' process; resolves once every stream is open. */
const startSubscribers = (url: string) =>
  new Promise<{ begin: () => void; expect: (ids: Array<string>, postDoneAt: Array<number>) => Promise<DeliveryReport>; stop: () => void; pid: number }>(
    (resolve, reject) => {
      const child = fork(entry, ["--subscribers", url, TOKEN, String(SUBSCRIBERS)], { execArgv: childExecArgv })
      let pending: { resolve: (r: DeliveryReport) => void; reject: (e: Error) => void } | undefined
      child.once("error", reject)
      child.once("exit", (code) => {
        const error = new Error(`the subscribers' process exited with ${code}`)
        pending?.reject(error)
        reject(error)
      })
      child.on("message", (m) => {
        const message = m as { connected: true } | { report: DeliveryReport }
        if ("report" in message) return pending?.resolve(message.report)
        resolve({
          pid: child.pid!,
          begin: () => child.send({ begin: true }),
          expect: (ids, postDoneAt) =>
            new Promise((res, rej) => {
              pending = { resolve: res, reject: rej }
              child.send({ expect: { ids, postDoneAt, timeoutMs: 300_000 } })
            }),
          stop: () => child.disconnect()
        })
      })
    }
  )

/** The load phase: each client starts the next run, then checks health, until `RUNS` are started. */
const load = async (http: Pool) => {
  const ids: Array<string> = new Array(RUNS)
  const postDoneAt: Array<number> = new Array(RUNS)
  const postMs = new Float64Array(RUNS)
  const healthMs = new Float64Array(RUNS)
  let next = 0
  let failures = 0
  const client = async () => {
    for (let i = next++; i < RUNS; i = next++) {
      const t0 = performance.now()
      try {
        ids[i] = await postRun(http, i, "load")
      } catch {
        failures += 1
      }
      const t1 = performance.now()
      postDoneAt[i] = performance.timeOrigin + t1
      postMs[i] = t1 - t0
      await healthz(http).catch(() => (failures += 1))
      healthMs[i] = performance.now() - t1
    }
  }
  const startedAt = now()
  await Promise.all(Array.from({ length: CLIENTS }, client))
  return { ids, postDoneAt, postMs: sorted(postMs), healthMs: sorted(healthMs), startedAt, postedAt: now(), failures }
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–")

/** Everything the report shows, measured on a running server. */
const measure = async (server: ServeProcess, http: Pool) => {
  const warm = await warmUp(http)
  const subscribers = await startSubscribers(server.url)
  const cpuAlone = cpuSeconds(server.pid)
  const alone = sorted((await callers(RUNS, CLIENTS, () => healthz(http))).latencies)
  const healthCpuMs = ((cpuSeconds(server.pid) - cpuAlone) * 1000) / RUNS

  subscribers.begin()
  const cpu0 = { server: cpuSeconds(server.pid), client: process.cpuUsage() }
  const run = await load(http)
  const started = run.ids.flatMap((id, i) => (id === undefined ? [] : [{ id, doneAt: run.postDoneAt[i]! }]))
  const delivery = await subscribers.expect(started.map((s) => s.id), started.map((s) => s.doneAt))
  const clientCpu = process.cpuUsage(cpu0.client)
  const serverCpu = cpuSeconds(server.pid) - cpu0.server
  const final = await statuses(http, started.map((s) => s.id))
  subscribers.stop()
  const notFinal = Object.entries(final).filter(([s]) => s === "running" || s.startsWith("HTTP")).reduce((n, [, c]) => n + c, 0)
  return {
    warm, alone, healthCpuMs, run, delivery, final, serverCpu,
    clientCpu: (clientCpu.user + clientCpu.system) / 1e6,
    lost: Math.max(notFinal + (RUNS - started.length), delivery.lostRuns)
  }
}

const printReport = (m: Awaited<ReturnType<typeof measure>>, loadAtStart: string) => {
  const { alone, delivery, run } = m
  const wallS = (delivery.lastFinishedAt - run.startedAt) / 1000
  const postP99 = p(run.postMs, 0.99)
  const ratio = postP99 / p(run.healthMs, 0.99)
  const row = (measure: string, value: string) => console.log(`| ${measure} | ${value} |`)
  console.log(`### Serve under load (${RUNS} \`${WORKFLOW}\` runs, ${CLIENTS} clients, ${SUBSCRIBERS} SSE subscribers, SIM_LATENCY_MS=${LATENCY_MS})\n`)
  console.log(`Node ${process.version}; load average at start ${loadAtStart}, at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}; warm-up runs ${JSON.stringify(m.warm)}\n`)
  console.log("| measure | value |\n|---|---:|")
  row("runs/s (first POST → last `WorkflowFinished.at`)", `${fmt(RUNS / wallS)} (${fmt(wallS, 2)} s)`)
  row("`POST /v1/runs` answered/s", fmt(RUNS / ((run.postedAt - run.startedAt) / 1000)))
  row("`POST /v1/runs` p50 / p99 ms", `${fmt(p(run.postMs, 0.5))} / ${fmt(postP99)}`)
  row("`GET /healthz` p50 / p99 ms, interleaved with the POSTs", `${fmt(p(run.healthMs, 0.5))} / ${fmt(p(run.healthMs, 0.99))}`)
  row(`\`GET /healthz\` p50 / p99 ms, alone (same ${CLIENTS} clients, before the runs)`, `${fmt(p(alone, 0.5))} / ${fmt(p(alone, 0.99))}`)
  row("**POST p99 / healthz p99, interleaved** (target ≤ 2)", `**${fmt(ratio, 2)}** ${ratio <= 2 ? "met" : "NOT met"}`)
  row("POST p99 / healthz p99 alone", fmt(postP99 / p(alone, 0.99), 2))
  row(`SSE lag, POST response → \`WorkflowStarted\` at a subscriber, p50 / p99 / max ms (${delivery.pairs} pairs)`, delivery.startedLag.map((x) => fmt(x)).join(" / "))
  row("SSE lag, `WorkflowFinished.at` → arrival, p50 / p99 / max ms (server clock, whole ms)", delivery.finishedLag.map((x) => fmt(x)).join(" / "))
  row("last subscriber got the last `WorkflowFinished` (s after the first POST)", fmt((delivery.allDeliveredAt - run.startedAt) / 1000, 2))
  row("final statuses (`GET /v1/runs/{id}`)", JSON.stringify(m.final))
  row("**lost runs** (not final, or not seen finished exactly once by every subscriber)", `**${m.lost}**`)
  row("missing `WorkflowStarted` / missing / duplicate `WorkflowFinished` (pairs)", `${delivery.missingStarted} / ${delivery.missingFinished} / ${delivery.duplicateFinished}`)
  row("subscriber reconnects (Last-Event-ID) / request failures", `${delivery.reconnects} / ${run.failures}`)
  row(`CPU s: server / subscribers' process / load client (wall ${fmt(wallS)} s)`, `${fmt(m.serverCpu)} / ${fmt(delivery.cpuSeconds)} / ${fmt(m.clientCpu)}`)
  row("server CPU ms per run (its POST and health check, the run, its events to every subscriber) / per health check alone", `${fmt((m.serverCpu * 1000) / RUNS, 2)} / ${fmt(m.healthCpuMs, 2)}`)
  if (delivery.errors.length > 0) console.log(`\nSubscriber errors: ${delivery.errors.join("; ")}`)
}

const main = async () => {
  const server: ServeProcess = await startServe({
    API_TOKEN: TOKEN,
    SIM_LATENCY_MS: String(LATENCY_MS),
    SIM_ERROR_RATE: "0",
    SIM_RATE_LIMIT_RATE: "0",
    RATE_LIMIT_ENABLED: "false",
    CACHE_ENABLED: "false",
    NODE_ENV: "production"
  }, {
    ...(PROFILE_DIR === undefined ? {} : {
      nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`],
      script: join(dirname(SCRIPT ?? binPath), "..", "dist", "main.js")
    }),
    ...(SCRIPT === undefined || PROFILE_DIR !== undefined ? {} : { script: SCRIPT })
  })
  const http = new Pool(server.url, { connections: CLIENTS + 10 })
  const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(" ")
  try {
    const measured = await measure(server, http)
    printReport(measured, loadAtStart)
    if (measured.lost > 0) process.exitCode = 1
  } finally {
    await http.destroy()
    const code = await server.stop()
    if (code !== 0) console.error(`serve exited with ${code}:\n${server.stderr()}`)
    rmSync(server.dir, { recursive: true, force: true })
  }
}

const at = process.argv.indexOf("--subscribers")
if (at >= 0) serveSubscribers(process.argv[at + 1]!, process.argv[at + 2]!, Number(process.argv[at + 3]))
else await main()
