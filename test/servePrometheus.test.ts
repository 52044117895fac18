/**
 * A real Prometheus scraping `effect-agents serve`: the server behind `API_TOKEN` in a child
 * process, a private Prometheus (Debian package `prometheus`) scraping its `/metrics` every second
 * with the bearer token, as a user's scrape config would, and a run started through the API. What
 * Prometheus stores must count the run's LLM requests, and a scrape without the token must be refused.
 */
import { spawnSync } from "node:child_process"
import { rmSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { type PrometheusServer, type Sample, startPrometheus } from "./support/prometheusServer.js"
import { type ServeProcess, startServe } from "./support/serveProcess.js"

const hasPrometheus = spawnSync("prometheus", ["--version"]).error === undefined
const token = "scrape-token-0123456789abcdef"
const auth = { authorization: `Bearer ${token}` }

interface RunJson {
  readonly status: string
  readonly llmCalls: ReadonlyArray<{ readonly agent: string; readonly status: string }>
}

/** Polls `probe` every 200 ms until it returns a value, or fails after `timeoutMs` with `what`. */
const eventually = async <A>(what: string, timeoutMs: number, probe: () => Promise<A | undefined>): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await probe()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** Counts with their keys in order, so two can be compared as JSON. */
const sorted = (counts: Record<string, number>) =>
  Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)))

/** `{agent/status: count}` of a run's LLM calls, or of Prometheus's `llm_requests_total` samples. */
const countsOfCalls = (run: RunJson) => {
  const counts: Record<string, number> = {}
  for (const call of run.llmCalls) counts[`${call.agent}/${call.status}`] = (counts[`${call.agent}/${call.status}`] ?? 0) + 1
  return sorted(counts)
}
const countsOfSamples = (samples: ReadonlyArray<Sample>) =>
  sorted(Object.fromEntries(samples.map((s) => [`${s.metric["agent"]}/${s.metric["status"]}`, s.value])))

// CI must have Prometheus (`.ci/run` installs it): there a missing binary fails this test.
describe.runIf(hasPrometheus || process.env["EFFECT_AGENTS_CI"] === "1")("serve scraped by a real Prometheus", () => {
  it("stores the LLM requests of a run started through the API, scraped with the bearer token", async () => {
    expect(hasPrometheus, "prometheus not on PATH: apt-get install -y prometheus").toBe(true)
    let serve: ServeProcess | undefined
    let prometheus: PrometheusServer | undefined
    try {
      serve = await startServe({
        API_TOKEN: token,
        CACHE_ENABLED: "false",
        SIM_LATENCY_MS: "20",
        SIM_ERROR_RATE: "0",
        SIM_RATE_LIMIT_RATE: "0"
      })
      const target = `127.0.0.1:${serve.port}`
      prometheus = await startPrometheus([
        { name: "effect-agents", target, bearerToken: token },
        { name: "without-token", target }
      ])

      // Prometheus takes a few seconds to start scraping: the run happens meanwhile.
      const started = await fetch(`${serve.url}/v1/runs`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ workflow: "research", input: "How do circuit breakers protect LLM calls?" })
      })
      expect(started.status).toBe(202)
      const { id } = (await started.json()) as { id: string }
      const url = serve.url
      const run = await eventually("the run to finish", 10_000, async () => {
        const r = (await (await fetch(`${url}/v1/runs/${id}`, { headers: auth })).json()) as RunJson
        return r.status === "running" ? undefined : r
      })
      expect(run.status).toBe("succeeded")
      const expected = countsOfCalls(run)
      expect(Object.values(expected).reduce((a, b) => a + b, 0)).toBeGreaterThan(1)

      const server = prometheus
      const stored = await eventually("Prometheus to store the run's requests", 15_000, async () => {
        const samples = await server.query(`llm_requests_total{job="effect-agents"}`)
        const counts = countsOfSamples(samples)
        return JSON.stringify(counts) === JSON.stringify(expected) ? samples : undefined
      }).catch(async (e: Error) => {
        throw new Error(`${e.message}: expected ${JSON.stringify(expected)}, Prometheus has ` +
          `${JSON.stringify(countsOfSamples(await server.query("llm_requests_total")))}; targets ${JSON.stringify(await server.targets())}`)
      })
      expect(countsOfSamples(stored)).toEqual(expected)
      expect(stored.every((s) => s.metric["model"] === "simulated-1")).toBe(true)

      const targets = await server.targets()
      expect(targets.find((t) => t.job === "effect-agents")).toMatchObject({ health: "up", lastError: "" })
      const refused = await eventually("the scrape without the token to be tried", 5_000, async () =>
        (await server.targets()).find((t) => t.job === "without-token" && t.health !== "unknown"))
      expect(refused.health).toBe("down")
      expect(refused.lastError).toContain("401")
    } finally {
      await prometheus?.stop()
      const code = await serve?.stop()
      if (serve !== undefined) rmSync(serve.dir, { recursive: true, force: true })
      expect(code).toBe(0)
    }
  }, 20_000)
})
