/**
 * The no-key demo in a real terminal keeps live work on screen: after the first seconds runs are
 * still in flight, the limiter or the retries have acted, the cache answers some calls but not
 * all, and fresh (paid, simulated) calls keep happening — the demo does not settle into cache hits.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { runCli } from "./support/cli.js"
import { hasTmux, startInTmux, type TmuxCli } from "./support/tmux.js"

const count = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? "0")
const cost = (text: string): number => Number(/cost \$(\d+\.\d+)/.exec(text)?.[1] ?? "0")
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let cli: TmuxCli | undefined

describe.runIf(hasTmux || process.env["EFFECT_AGENTS_CI"] === "1")("the demo dashboard (tmux)", () => {
  afterEach(() => cli?.close())

  it("keeps runs in flight, with limiter waits or retries, some cache hits, cancels and failures", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-demo-"))
    // Only where things go: every demo setting is left to the demo's defaults.
    const env = { NO_COLOR: "", DATA_DIR: join(cwd, "data"), LOG_DIR: join(cwd, "logs") }
    cli = startInTmux(`ea-demo-${process.pid}`, ["dashboard", "--demo"], { cwd, env })
    await cli.waitFor((s) => s.includes("SIMULATED"), "the dashboard")
    const shownAt = Date.now()
    await sleep(8000)
    const first = cli.screen()
    expect(count(first, /● (\d+) running/)).toBeGreaterThanOrEqual(1)
    expect(count(first, /retries (\d+)/) + count(first, /rate-limit waits (\d+)/)).toBeGreaterThanOrEqual(1)
    const hits = count(first, /cache hits (\d+)%/)
    expect(hits).toBeLessThan(100)

    // Still live a minute in (the old demo was all cache hits and "0 running" after ~10 s), with new
    // calls that the cache did not answer (they cost something).
    await sleep(Math.max(0, shownAt + 62_000 - Date.now()))
    const later = cli.screen()
    expect(count(later, /● (\d+) running/)).toBeGreaterThanOrEqual(1)
    expect(cost(later)).toBeGreaterThan(cost(first))
    expect(count(later, /⊘ (\d+) cancelled/)).toBeGreaterThanOrEqual(1)
    expect(count(later, /✖ (\d+) failed/)).toBeGreaterThanOrEqual(1)

    cli.sendKeys("q")
    expect(await cli.exitCode()).toBe(0)
    // Runs cancelled by the demo and by quitting are in the history as `cancelled`, none left running.
    const history = await runCli(["history", "--json", "--limit", "1000"], { cwd, env })
    const { runs } = JSON.parse(history.stdout) as { runs: ReadonlyArray<{ status: string; error?: { tag?: string } }> }
    expect(runs.some((r) => r.status === "cancelled")).toBe(true)
    expect(runs.some((r) => r.status === "running")).toBe(false)
  }, 120_000)
})
