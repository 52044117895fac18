/**
 * Signals and quitting in a real terminal: tmux runs the built CLI, `kill` reaches exactly its
 * process (as a service manager, `timeout` or a closed SSH session would), and we read the screen,
 * the exit code and the run history afterwards.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { runCli } from "./support/cli.js"
import { hasTmux, startInTmux, type TmuxCli } from "./support/tmux.js"

interface Row {
  readonly id: string
  readonly status: string
}

const simEnv = (cwd: string) => ({
  NO_COLOR: "",
  SIM_LATENCY_MS: "500",
  SIM_ERROR_RATE: "0",
  SIM_RATE_LIMIT_RATE: "0",
  DATA_DIR: join(cwd, "data"),
  LOG_DIR: join(cwd, "logs")
})

const historyOf = async (cwd: string): Promise<ReadonlyArray<Row>> => {
  const r = await runCli(["history", "--json", "--limit", "1000"], { cwd, env: simEnv(cwd) })
  expect(r.code).toBe(0)
  return (JSON.parse(r.stdout) as { runs: ReadonlyArray<Row> }).runs
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const count = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? "0")

let session = 0
let current: TmuxCli | undefined
const start = (args: ReadonlyArray<string>, cwd: string): TmuxCli => {
  current = startInTmux(`ea-sig-${process.pid}-${session++}`, args, { cwd, env: simEnv(cwd) })
  return current
}

/** The dashboard is up (alternate screen, cursor hidden) with runs in flight and one finished. */
const dashboardBusy = async (cli: TmuxCli) => {
  await cli.waitFor((s) => s.includes("SIMULATED") && count(s, /✔ (\d+) succeeded/) >= 1 && count(s, /● (\d+) running/) >= 1, "runs in flight")
  expect(cli.format("#{alternate_on}")).toBe("1")
  expect(cli.format("#{cursor_flag}")).toBe("0")
}

/** Alternate screen off, cursor shown, the shell wrapper's line on the normal screen. */
const expectTerminalRestored = async (cli: TmuxCli) => {
  const screen = await cli.waitFor((s) => s.includes("EXITED"), "the normal screen")
  expect(screen).not.toContain("SIMULATED")
  expect(cli.format("#{alternate_on}")).toBe("0")
  expect(cli.format("#{cursor_flag}")).toBe("1")
}

// CI must run this; only a developer machine without tmux leaves it out.
describe.runIf(hasTmux || process.env["EFFECT_AGENTS_CI"] === "1")("signals in a real terminal (tmux)", () => {
  afterEach(() => {
    current?.close()
    current = undefined
  })

  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    it(`kill -${signal.slice(3)} on the dashboard: terminal restored, runs cancelled, exit ${code}`, async () => {
      const cwd = mkdtempSync(join(tmpdir(), "ea-sig-"))
      const cli = start(["dashboard", "--demo"], cwd)
      await dashboardBusy(cli)
      process.kill(await cli.pid(), signal)
      expect(await cli.exitCode()).toBe(code)
      await expectTerminalRestored(cli)
      const runs = await historyOf(cwd)
      expect(runs.filter((r) => r.status === "running")).toEqual([])
      expect(runs.some((r) => r.status === "cancelled")).toBe(true)
      expect(runs.some((r) => r.status === "succeeded")).toBe(true)
    }, 60_000)
  }

  it("closing the terminal (SIGHUP, as a dropped SSH session) ends the dashboard cleanly: runs cancelled, none left running", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-sig-"))
    const cli = start(["dashboard", "--demo"], cwd)
    await dashboardBusy(cli)
    const pid = await cli.pid()
    cli.close()
    // The wrapper dies with the terminal, so no exit code is recorded: wait for the process to go.
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline && isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(isAlive(pid)).toBe(false)
    const runs = await historyOf(cwd)
    // A process killed by the hangup would leave its runs `interrupted` (read from a dead pid).
    expect(runs.filter((r) => r.status === "running" || r.status === "interrupted")).toEqual([])
    expect(runs.some((r) => r.status === "cancelled")).toBe(true)
  }, 60_000)

  it("Ctrl-C typed in the dashboard (a key in raw mode) ends it like SIGINT: exit 130", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-sig-"))
    const cli = start(["dashboard", "--demo"], cwd)
    await dashboardBusy(cli)
    cli.sendKeys("C-c")
    expect(await cli.exitCode()).toBe(130)
    await expectTerminalRestored(cli)
    const runs = await historyOf(cwd)
    expect(runs.filter((r) => r.status === "running")).toEqual([])
    expect(runs.some((r) => r.status === "cancelled")).toBe(true)
  }, 60_000)

  it("q in a batch dashboard cancels the rest and reports what happened: counts, --json lines, exit 130", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-sig-"))
    const lines = Array.from({ length: 100 }, (_, i) => JSON.stringify({ workflow: "summarize", input: `document ${i}` }))
    writeFileSync(join(cwd, "runs.jsonl"), lines.join("\n") + "\n")
    const cli = start(["batch", "runs.jsonl", "--concurrency", "4", "--json"], cwd)
    await cli.waitFor((s) => count(s, /✔ (\d+) succeeded/) >= 5, "five finished runs")
    cli.sendKeys("q")
    expect(await cli.exitCode()).toBe(130)
    await expectTerminalRestored(cli)

    const output = cli.scrollback()
    const summary = /batch: (\d+) succeeded, (\d+) cancelled of 100/.exec(output)
    expect(summary, output).not.toBeNull()
    const succeeded = Number(summary![1])
    expect(succeeded).toBeGreaterThanOrEqual(5)
    expect(succeeded + Number(summary![2])).toBe(100)

    // One --json line per finished run, and the history agrees with the summary.
    const results = output.split("\n").filter((l) => l.startsWith("{\"id\"")).map((l) => JSON.parse(l) as Row)
    expect(results).toHaveLength(succeeded)
    const runs = await historyOf(cwd)
    expect(runs.filter((r) => r.status === "running")).toEqual([])
    expect(new Set(runs.filter((r) => r.status === "succeeded").map((r) => r.id))).toEqual(new Set(results.map((r) => r.id)))
    expect(runs.some((r) => r.status === "cancelled")).toBe(true)
  }, 60_000)
})
