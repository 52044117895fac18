/**
 * The dashboard in a real terminal, driven like a person would: tmux runs the built CLI, we type
 * with send-keys and read the screen with capture-pane.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { binPath, runCli } from "./support/cli.js"

const hasTmux = spawnSync("tmux", ["-V"]).status === 0
const session = `ea-e2e-${process.pid}`
const tmux = (...args: ReadonlyArray<string>): string => execFileSync("tmux", args, { encoding: "utf8" })
const screen = (): string => tmux("capture-pane", "-t", session, "-p")
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls the screen until `predicate` holds; fails with the last screen after `timeoutMs`. */
const waitFor = async (predicate: (text: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> => {
  const deadline = Date.now() + timeoutMs
  let last = ""
  while (Date.now() < deadline) {
    last = screen()
    if (predicate(last)) return last
    await sleep(200)
  }
  throw new Error(`timed out waiting for ${what}; screen was:\n${last}`)
}

const count = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? "0")

// CI must run this; only a developer machine without tmux leaves it out.
describe.runIf(hasTmux || process.env["EFFECT_AGENTS_CI"] === "1")("dashboard in a real terminal (tmux)", () => {
  afterAll(() => {
    spawnSync("tmux", ["kill-session", "-t", session])
  })

  it("shows live simulated runs, starts one with n, cancels one with x, quits with q and restores the terminal", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-tmux-"))
    // DEV=true, which many shells set: the CLI's bundled Ink must not switch to its devtools mode.
    const env = `NO_COLOR= DEV=true SIM_LATENCY_MS=700 SIM_ERROR_RATE=0 SIM_RATE_LIMIT_RATE=0 DATA_DIR=${cwd}/data LOG_DIR=${cwd}/logs`
    tmux(
      "new-session", "-d", "-s", session, "-x", "150", "-y", "40", "-c", cwd,
      `env ${env} ${process.execPath} ${binPath} dashboard; echo "EXITED rc=$?"; sleep 60`
    )

    // Live runs on the simulated provider, clearly labelled, and one finishes.
    await waitFor((s) => s.includes("SIMULATED") && count(s, /✔ (\d+) succeeded/) >= 1, "a finished demo run")

    // n: the new-run line; type an input and start it.
    tmux("send-keys", "-t", session, "n")
    await waitFor((s) => s.includes("New run"), "the new-run input")
    tmux("send-keys", "-t", session, "-l", "merge two sorted lists")
    await waitFor((s) => s.includes("merge two sorted lists"), "the typed input")
    tmux("send-keys", "-t", session, "Enter")
    await waitFor((s) => !s.includes("New run"), "the input to close")

    // x: cancel the selected (newest, still running) run.
    await sleep(300)
    tmux("send-keys", "-t", session, "x")
    const afterCancel = await waitFor((s) => count(s, /⊘ (\d+) cancelled/) >= 1, "a cancelled run")
    expect(afterCancel).toMatch(/⊘ \d+ \w+/)

    // q: quit; running workflows are interrupted and the terminal is restored.
    tmux("send-keys", "-t", session, "q")
    const end = await waitFor((s) => s.includes("EXITED"), "the CLI to exit", 20_000)
    expect(end).toContain("EXITED rc=0")
    expect(end).not.toContain("SIMULATED") // the alternate screen is gone
    expect(tmux("display-message", "-p", "-t", session, "#{alternate_on}").trim()).toBe("0")

    // The history has the run we started and the one we cancelled.
    const history = await runCli(["history", "--json", "--limit", "100"], {
      cwd,
      env: { DATA_DIR: `${cwd}/data`, LOG_DIR: `${cwd}/logs` }
    })
    expect(history.code).toBe(0)
    const { runs } = JSON.parse(history.stdout) as { runs: ReadonlyArray<{ status: string; workflow: string }> }
    expect(runs.some((r) => r.status === "succeeded")).toBe(true)
    expect(runs.some((r) => r.status === "cancelled")).toBe(true)
    expect(runs.some((r) => r.status === "running")).toBe(false)
  }, 90_000)
})
