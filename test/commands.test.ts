/**
 * The workflow commands end to end on the simulated provider — batch (faults included), run,
 * cache, history — as spawned processes on real SQLite files: every run ends and lands in the run
 * history, and the history's totals are the sum of its runs.
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
      // The call budget (LLM_TIMEOUT x 7 + RETRY_MAX_WAIT x 6) must outlast two simulated 429s with
      // Retry-After up to 3 s: at 0.2 s it was 8.2 s, and a run could fail with its budget spent.
      RETRY_MAX_WAIT: "2",
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

describe("effect-agents cache and history commands", () => {
  it("cache stats counts a repeated run as a hit across processes; cache clear empties it", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-cache-"))
    const env = { SIM_LATENCY_MS: "0", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0" }
    for (let i = 0; i < 2; i++) {
      const r = await runCli(["run", "summarize", "--input", "the same text twice"], { cwd, env })
      expect(r.code).toBe(0)
    }
    const stats = await runCli(["cache", "stats", "--json"], { cwd, env })
    expect(JSON.parse(stats.stdout)).toMatchObject({ backend: "sqlite", entries: 1, hits: 1, misses: 1 })
    const table = await runCli(["cache", "stats"], { cwd, env })
    expect(table.stdout).toMatch(/sqlite\s+1\s+.*\s+1\s+1\s+50\.0%/)
    const cleared = await runCli(["cache", "clear"], { cwd, env })
    expect(cleared.stdout).toContain("Cleared 1 cached responses")
    const after = await runCli(["cache", "stats", "--json"], { cwd, env })
    expect(JSON.parse(after.stdout)).toMatchObject({ entries: 0, hits: 0, misses: 0 })
  })

  it("history show prints a run's steps and LLM calls; an unknown id is bad usage", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-hist-"))
    const env = { SIM_LATENCY_MS: "0", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0" }
    const run = await runCli(["run", "summarize", "--input", "something to summarise", "--json"], { cwd, env })
    const { id } = JSON.parse(run.stdout) as { id: string }
    const list = await runCli(["history"], { cwd, env })
    expect(list.stdout).toContain(id)
    expect(list.stdout).toMatch(/1 runs in history/)
    const shown = await runCli(["history", "show", id], { cwd, env })
    expect(shown.code).toBe(0)
    expect(shown.stdout).toContain(`Run      ${id}`)
    expect(shown.stdout).toMatch(/summarize\s+summarizer\s+succeeded/)
    expect(shown.stdout).toMatch(/simulated-1\s+summarizer\s+success/)
    const missing = await runCli(["history", "show", "no-such-run"], { cwd, env })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("no run with id no-such-run")
  })

  it("history show lists the tool calls of an agent with tools (explore, on the simulated provider)", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-tools-"))
    writeFileSync(join(cwd, "NOTES.md"), "The retry policy waits between attempts.\n")
    const env = { SIM_LATENCY_MS: "0", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0" }
    const run = await runCli(["run", "explore", "--input", "How are retries done?", "--json"], { cwd, env })
    expect(run.code).toBe(0)
    const { id } = JSON.parse(run.stdout) as { id: string }
    const shown = await runCli(["history", "show", id], { cwd, env })
    expect(shown.stdout).toMatch(/TOOL CALL\s+AGENT\s+STATUS\s+DURATION\s+ARGUMENTS/)
    expect(shown.stdout).toMatch(/searchFiles\s+explorer\s+success/)
    expect(shown.stdout).toMatch(/readFile\s+explorer\s+error \(FileToolError\)/)
    const json = JSON.parse((await runCli(["history", "show", id, "--json"], { cwd, env })).stdout) as {
      toolCalls: ReadonlyArray<{ tool: string }>
    }
    expect(json.toolCalls.map((c) => c.tool).sort()).toEqual(["readFile", "searchFiles"])
  })
})
