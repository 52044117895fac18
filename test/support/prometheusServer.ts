/**
 * A private Prometheus server (Debian package `prometheus`) on a free loopback port, scraping the
 * given targets every second into a temporary storage directory, for tests that check what a real
 * scrape sees. Its HTTP API answers the test's queries; `stop` ends it (SIGTERM) and removes its files.
 *
 * Prometheus hands static targets to its scrape loops only on its discovery manager's first tick,
 * ~5 s after start: start it first and do the work under test meanwhile.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./redisServer.js"

/** One scrape job: `host:port` of the target, and the bearer token to send, if any. */
export interface ScrapeJob {
  readonly name: string
  readonly target: string
  readonly bearerToken?: string
}

/** A sample of an instant query: its labels and value. */
export interface Sample {
  readonly metric: Readonly<Record<string, string>>
  readonly value: number
}

/** A scrape target as `/api/v1/targets` reports it. */
export interface Target {
  readonly job: string
  readonly health: "up" | "down" | "unknown"
  readonly lastError: string
}

export interface PrometheusServer {
  readonly url: string
  /** An instant query (`/api/v1/query`) at the current time. */
  readonly query: (promql: string) => Promise<ReadonlyArray<Sample>>
  readonly targets: () => Promise<ReadonlyArray<Target>>
  readonly stop: () => Promise<void>
}

/** The configuration file: YAML, written as JSON (a subset of YAML). */
const configOf = (jobs: ReadonlyArray<ScrapeJob>) =>
  JSON.stringify({
    global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
    scrape_configs: jobs.map((job) => ({
      job_name: job.name,
      metrics_path: "/metrics",
      static_configs: [{ targets: [job.target] }],
      ...(job.bearerToken === undefined ? {} : { authorization: { type: "Bearer", credentials: job.bearerToken } })
    }))
  })

const api = async <A>(url: string): Promise<A> => {
  const response = await fetch(url)
  const body = (await response.json()) as { status: string; data: A; error?: string }
  if (body.status !== "success") throw new Error(`Prometheus ${url}: ${body.error ?? response.status}`)
  return body.data
}

/** Starts Prometheus and waits until it answers `/-/ready`. */
export const startPrometheus = async (jobs: ReadonlyArray<ScrapeJob>, timeoutMs = 10_000): Promise<PrometheusServer> => {
  const dir = mkdtempSync(join(tmpdir(), "ea-prometheus-"))
  const configFile = join(dir, "prometheus.yml")
  writeFileSync(configFile, configOf(jobs))
  const port = await freePort()
  const child = spawn("prometheus", [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn"
  ], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()))
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)
    if (ready) break
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`prometheus did not become ready (exit ${child.exitCode}); stderr:\n${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url,
    query: async (promql) => {
      const data = await api<{ result: ReadonlyArray<{ metric: Record<string, string>; value: [number, string] }> }>(
        `${url}/api/v1/query?query=${encodeURIComponent(promql)}`
      )
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }))
    },
    targets: async () => {
      const data = await api<{ activeTargets: ReadonlyArray<{ labels: Record<string, string>; health: Target["health"]; lastError: string }> }>(
        `${url}/api/v1/targets`
      )
      return data.activeTargets.map((t) => ({ job: t.labels["job"] ?? "", health: t.health, lastError: t.lastError }))
    },
    stop
  }
}
