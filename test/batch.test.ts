/**
 * `effect-agents batch` end to end on the simulated provider, faults included: every run ends and
 * lands in the run history, and the history's totals are the sum of its runs.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "./support/cli.js"

interface RunRow {
  readonly id: string
  readonly status: string
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number
}

describe("effect-agents batch", () => {
  it("200 runs with injected 429s, 5xx and hangs: none lost, history totals add up", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-batch-"))
    const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ workflow: "summarize", input: `document number ${i}` }))
    writeFileSync(join(cwd, "runs.jsonl"), lines.join("\n") + "\n")
    const env = {
      SIM_LATENCY_MS: "20",
      SIM_ERROR_RATE: "0.05",
      SIM_RATE_LIMIT_RATE: "0.02",
      LLM_TIMEOUT: "1",
      MAX_RETRIES: "6",
      RETRY_INITIAL_WAIT: "0.05",
      RETRY_MAX_WAIT: "0.2",
      RATE_LIMIT_MAX_CALLS: "100000"
    }
    const batch = await runCli(["batch", "runs.jsonl", "--concurrency", "50", "--json"], { cwd, env, timeoutMs: 110_000 })
    expect(batch.stderr).toContain("batch: 200 of 200 runs succeeded")
    expect(batch.code).toBe(0)
    const results = batch.stdout.trim().split("\n").map((line) => JSON.parse(line) as { id: string; status: string })
    expect(results).toHaveLength(200)

    const history = await runCli(["history", "--json", "--limit", "1000"], { cwd, env })
    const { runs, totals } = JSON.parse(history.stdout) as {
      runs: ReadonlyArray<RunRow>
      totals: { runs: number; inputTokens: number; outputTokens: number; costUsd: number }
    }
    expect(new Set(runs.map((r) => r.id))).toEqual(new Set(results.map((r) => r.id)))
    expect(runs.every((r) => r.status === "succeeded")).toBe(true)
    expect(totals.runs).toBe(200)
    expect(totals.inputTokens).toBe(runs.reduce((sum, r) => sum + r.inputTokens, 0))
    expect(totals.outputTokens).toBe(runs.reduce((sum, r) => sum + r.outputTokens, 0))
    expect(totals.costUsd).toBeCloseTo(runs.reduce((sum, r) => sum + r.costUsd, 0), 9)
    expect(totals.costUsd).toBeGreaterThan(0)
  }, 120_000)

  it("a malformed batch file is bad usage (exit 2) naming every bad line", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-batch-"))
    writeFileSync(
      join(cwd, "bad.jsonl"),
      [`{"workflow":"summarize","input":"ok"}`, `not json`, `{"workflow":"nope","input":"x"}`, `{"workflow":"summarize"}`].join("\n")
    )
    const r = await runCli(["batch", "bad.jsonl"], { cwd })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("line 2: not valid JSON")
    expect(r.stderr).toContain("line 3: unknown workflow 'nope'")
    expect(r.stderr).toContain("line 4: \"input\" is missing")
  })

  it("run --json prints the result object; a failing run exits 1 with its typed error", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-run-"))
    const ok = await runCli(["run", "summarize", "--input", "a short text", "--json"], { cwd, env: { SIM_LATENCY_MS: "0", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0" } })
    expect(ok.code).toBe(0)
    const result = JSON.parse(ok.stdout) as Record<string, unknown>
    expect(Object.keys(result)).toEqual(expect.arrayContaining(["id", "workflow", "status", "output", "usage", "costUsd", "durationMs", "steps"]))
    expect(result["status"]).toBe("succeeded")
    // Every call fails with 5xx and no retries are allowed: the run fails, exit 1.
    const failing = await runCli(["run", "summarize", "--input", "another text (not cached)", "--json"], {
      cwd,
      env: { SIM_LATENCY_MS: "0", SIM_ERROR_RATE: "1", SIM_RATE_LIMIT_RATE: "0", MAX_RETRIES: "0", LLM_TIMEOUT: "0.5" }
    })
    expect(failing.code).toBe(1)
    const failed = JSON.parse(failing.stdout) as { status: string; error: { tag: string } }
    expect(failed.status).toBe("failed")
    expect(["ProviderUnavailable", "Timeout"]).toContain(failed.error.tag)
    expect(failing.stderr).toContain(failed.error.tag)
  })
})
