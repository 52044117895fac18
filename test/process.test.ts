/**
 * The CLI as a long-running process: a metrics endpoint with the documented metric names while workflows
 * run, Ctrl-C (SIGINT) ending it with exit code 130, and providers reached over real HTTP.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { binPath, runCli } from "./support/cli.js"
import * as FakeProvider from "./support/FakeProvider.js"

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("effect-agents as a process", () => {
  it("serves /metrics with the documented metric names while runs go on, and exits 130 on Ctrl-C", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-proc-"))
    const port = await freePort()
    const child = spawn(process.execPath, [binPath, "dashboard", "--demo"], {
      cwd,
      env: {
        PATH: process.env["PATH"] ?? "",
        ENABLE_METRICS_SERVER: "true",
        METRICS_PORT: String(port),
        SIM_LATENCY_MS: "50",
        SIM_ERROR_RATE: "0",
        SIM_RATE_LIMIT_RATE: "0"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    try {
      let page = ""
      const deadline = Date.now() + 30_000
      while (Date.now() < deadline) {
        const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined)
        page = response === undefined ? "" : await response.text()
        if (/^llm_requests_total\{.*status="success".*\} [1-9]/m.test(page) && page.includes("workflow_executions_total{")) break
        await sleep(300)
      }
      expect(page).toMatch(/^# TYPE llm_requests_total counter$/m)
      expect(page).toMatch(/^llm_requests_total\{agent="summarizer",model="simulated-1",status="success"\} \d+/m)
      expect(page).toMatch(/^# TYPE llm_request_duration_seconds histogram$/m)
      expect(page).toMatch(/^llm_tokens_total\{.*type="input".*\} \d+/m)
      expect(page).toMatch(/^workflow_executions_total\{.*status="succeeded".*\} \d+/m)
      expect(page).toMatch(/^# TYPE active_workflows gauge$/m)
      expect(page).toMatch(/^gen_ai_client_operation_duration_seconds_bucket\{/m)
      expect(page).not.toContain("_total_total")
    } finally {
      child.kill("SIGINT")
    }
    expect(await exited).toBe(130)
    expect(stderr).not.toMatch(/Error:|at .*\.js:\d+/)
  }, 60_000)

  it("a metrics port already in use is a clear startup error, exit 2", async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    const address = blocker.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    try {
      const r = await runCli(["run", "summarize", "--input", "x"], {
        cwd: mkdtempSync(join(tmpdir(), "ea-proc-")),
        env: { ENABLE_METRICS_SERVER: "true", METRICS_PORT: String(port) }
      })
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(`127.0.0.1:${port}`)
      expect(r.stderr).toContain("address already in use")
    } finally {
      blocker.close()
    }
  })

  for (const provider of ["openai", "openrouter", "google"] as const) {
    it(`run works end to end on the ${provider} provider over HTTP, and the key never shows`, async () => {
      const fake = await FakeProvider.start({ script: FakeProvider.ok("A two-sentence summary.") })
      try {
        const key = `sk-${provider}-secret-123`
        const env: Record<string, string> = {
          LLM_PROVIDER: provider,
          LLM_MODEL: provider === "google" ? "gemini-2.0-flash" : "test/model-1",
          LLM_BASE_URL: provider === "google" ? fake.url : fake.openaiUrl,
          LOG_LEVEL: "DEBUG",
          ...(provider === "openai" ? { OPENAI_API_KEY: key } : provider === "openrouter" ? { OPENROUTER_API_KEY: key } : { GOOGLE_API_KEY: key })
        }
        const cwd = mkdtempSync(join(tmpdir(), "ea-prov-"))
        const r = await runCli(["run", "summarize", "--input", "Some text to summarise.", "--json"], { cwd, env })
        expect(r.code).toBe(0)
        const result = JSON.parse(r.stdout) as { output: string; usage: { inputTokens: number } }
        expect(result.output).toBe("A two-sentence summary.")
        expect(result.usage.inputTokens).toBeGreaterThan(0)
        expect(fake.requests.length).toBe(1)
        const logs = readdirSync(join(cwd, ".effect-agents", "logs")).map((f) => readFileSync(join(cwd, ".effect-agents", "logs", f), "utf8")).join("")
        const history = await runCli(["history", "show", JSON.parse(r.stdout).id, "--json"], { cwd, env })
        for (const text of [r.stdout, r.stderr, logs, history.stdout]) expect(text).not.toContain(key)
      } finally {
        await fake.close()
      }
    })
  }
})
