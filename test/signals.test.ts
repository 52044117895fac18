/**
 * Signals without a terminal: the built CLI in a child process, stopped with SIGTERM / SIGINT as a
 * service manager or `timeout` would, and the signal policy itself (a second signal exits at once).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { binPath, runCli } from "./support/cli.js"

interface Row {
  readonly id: string
  readonly status: string
}

/** A spawned process whose output is collected; `exited` resolves with its exit code. */
const started = (child: ChildProcess) => {
  const out = { stdout: "", stderr: "" }
  child.stdout?.on("data", (d: Buffer) => (out.stdout += d.toString()))
  child.stderr?.on("data", (d: Buffer) => (out.stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  const until = async (predicate: () => boolean, what: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${out.stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return { child, out, exited, until }
}

const simEnv = { SIM_LATENCY_MS: "300", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0" }

const cli = (args: ReadonlyArray<string>, cwd: string) =>
  started(spawn(process.execPath, [binPath, ...args], {
    cwd,
    env: { PATH: process.env["PATH"] ?? "", ...simEnv },
    stdio: ["ignore", "pipe", "pipe"]
  }))

const historyOf = async (cwd: string): Promise<ReadonlyArray<Row>> => {
  const r = await runCli(["history", "--json", "--limit", "1000"], { cwd, env: simEnv })
  expect(r.code).toBe(0)
  return (JSON.parse(r.stdout) as { runs: ReadonlyArray<Row> }).runs
}

const finishedLines = (stderr: string) => stderr.split("\n").filter((l) => /^\[\w{8}\] summarize succeeded in/.test(l)).length

describe("signals without a terminal", () => {
  it("batch --no-tui --json stopped by SIGTERM prints a JSON line per finished run, exits 143, leaves no run running", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-sigterm-"))
    const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ workflow: "summarize", input: `document ${i}` }))
    writeFileSync(join(cwd, "runs.jsonl"), lines.join("\n") + "\n")
    const p = cli(["batch", "runs.jsonl", "--no-tui", "--json", "--concurrency", "4"], cwd)
    await p.until(() => finishedLines(p.out.stderr) >= 4, "four finished runs")
    p.child.kill("SIGTERM")
    expect(await p.exited).toBe(143)

    const results = p.out.stdout.trim().split("\n").map((l) => JSON.parse(l) as Row)
    expect(results.length).toBeGreaterThanOrEqual(4)
    expect(results.length).toBeLessThan(60)
    expect(results.every((r) => r.status === "succeeded")).toBe(true)
    expect(p.out.stderr).toContain(`batch: ${results.length} succeeded, ${60 - results.length} cancelled of 60`)

    const runs = await historyOf(cwd)
    expect(runs.filter((r) => r.status === "running")).toEqual([])
    expect(new Set(runs.filter((r) => r.status === "succeeded").map((r) => r.id))).toEqual(new Set(results.map((r) => r.id)))
    expect(runs.some((r) => r.status === "cancelled")).toBe(true)
  }, 60_000)

  it("run --no-tui stopped by SIGINT (Ctrl-C) exits 130 with the run recorded cancelled", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-sigint-"))
    const p = cli(["run", "research", "--input", "What makes a workflow engine resilient?", "--no-tui", "--json"], cwd)
    await p.until(() => p.out.stderr.includes("decompose done"), "the first step to finish")
    p.child.kill("SIGINT")
    expect(await p.exited).toBe(130)
    expect(p.out.stdout).toBe("")
    expect(p.out.stderr).toMatch(/research cancelled in/)
    const runs = await historyOf(cwd)
    expect(runs.map((r) => r.status)).toEqual(["cancelled"])
  }, 60_000)
})

describe("the signal policy", () => {
  const fixture = fileURLToPath(new URL("./support/signalFixture.ts", import.meta.url))
  const program = (cleanup: string) =>
    started(spawn(process.execPath, ["--import", "tsx", fixture, cleanup], { stdio: ["ignore", "pipe", "pipe"] }))

  it("the first signal lets the cleanup finish, then exits 143", async () => {
    const p = program("300")
    await p.until(() => p.out.stdout.includes("ready"), "the program to start")
    p.child.kill("SIGTERM")
    expect(await p.exited).toBe(143)
    expect(p.out.stdout).toContain("cleaned up")
  })

  it("a second signal exits at once with the first one's code, without waiting for the cleanup", async () => {
    const p = program("forever")
    await p.until(() => p.out.stdout.includes("ready"), "the program to start")
    p.child.kill("SIGINT")
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(p.child.exitCode).toBeNull() // still cleaning up
    const at = Date.now()
    p.child.kill("SIGTERM")
    expect(await p.exited).toBe(130)
    expect(Date.now() - at).toBeLessThan(2_000)
    expect(p.out.stderr).toContain("second SIGTERM, exiting now")
  })
  it("a hang-up (SIGHUP: the terminal or SSH session closed) lets the cleanup finish, then ends by SIGHUP", async () => {
    const p = program("300")
    const ended = new Promise<NodeJS.Signals | null>((resolve) => p.child.on("close", (_, signal) => resolve(signal)))
    await p.until(() => p.out.stdout.includes("ready"), "the program to start")
    p.child.kill("SIGHUP")
    // Ending by the signal (status 129 in a shell) rather than exit(129): Node 20 aborts when it
    // restores the modes of a terminal that is gone.
    expect(await ended).toBe("SIGHUP")
    expect(p.out.stdout).toContain("cleaned up")
  })

})
