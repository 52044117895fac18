/**
 * `effect-agents dashboard` in a real terminal, next to another process on the same run history:
 * the user's own workflows are in its new-run picker, and a run that another process
 * (`effect-agents run`, slow simulated provider) records to the shared SQLite file shows up live,
 * marked as another process's, running and then finished.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./support/cli.js"
import { hasTmux, startInTmux, type TmuxCli } from "./support/tmux.js"
import { ensureLibraryBuilt, makeUserProject, triageModule } from "./support/userProject.js"

let cli: TmuxCli | undefined
let project = ""

/** The run list's rows of other processes' triage runs (the demo's own runs are never triage). */
const otherTriageRows = (screen: string) =>
  screen.split("\n").filter((line) => line.includes("↗") && line.includes("triage") && !line.includes("another process"))

describe.runIf(hasTmux || process.env["EFFECT_AGENTS_CI"] === "1")("the dashboard and other processes (tmux)", () => {
  beforeAll(() => {
    ensureLibraryBuilt()
    project = makeUserProject()
    writeFileSync(join(project, "triage.mjs"), triageModule)
  }, 180_000)
  afterEach(() => cli?.close())

  it("offers the user's workflows and shows another process's run live, marked, until it finishes", async () => {
    const env = { NO_COLOR: "1", SIM_LATENCY_MS: "300", DATA_DIR: join(project, "data"), LOG_DIR: join(project, "logs") }
    cli = startInTmux(`ea-other-${process.pid}`, ["dashboard", "--workflows", "./triage.mjs"], { cwd: project, env })
    await cli.waitFor((s) => s.includes("SIMULATED"), "the dashboard")

    // n: the picker offers the module's workflow first, with its description.
    cli.sendKeys("n")
    const picker = await cli.waitFor((s) => s.includes("New run"), "the new-run input")
    expect(picker).toContain("[triage]")
    expect(picker).toContain("Route a support ticket to a team")
    cli.sendKeys("Escape")
    await cli.waitFor((s) => !s.includes("New run"), "the input to close")

    // Only triage runs: the demo keeps its own runs coming, none of them triage.
    cli.sendKeys("/")
    await cli.waitFor((s) => s.includes("workflow or run id"), "the filter input")
    cli.sendKeys("-l", "triage")
    await cli.waitFor((s) => s.includes("/ triage"), "the typed filter")
    cli.sendKeys("Enter")
    await cli.waitFor((s) => s.includes("filter: triage"), "the filter")

    // Another process records a slow run to the same history file.
    const other = runCli(["run", "triage", "--input", "The printer is on fire", "--no-tui", "--workflows", "./triage.mjs"], {
      cwd: project,
      env: { ...env, SIM_LATENCY_MS: "5000", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0" },
      timeoutMs: 60_000
    })
    const running = await cli.waitFor((s) => otherTriageRows(s).some((row) => row.includes("classify")), "the other process's run, running")
    expect(otherTriageRows(running)).toHaveLength(1)
    cli.sendKeys("Enter")
    await cli.waitFor((s) => /another process \(pid \d+/.test(s), "the detail naming the other process")

    const result = await other
    expect(result.code).toBe(0)
    const done = await cli.waitFor((s) => otherTriageRows(s).some((row) => row.includes("✔")), "the other process's run, finished")
    expect(otherTriageRows(done)).toHaveLength(1)

    cli.sendKeys("q")
    expect(await cli.exitCode()).toBe(0)
  }, 120_000)
})
