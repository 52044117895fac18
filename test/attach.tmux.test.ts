/**
 * `effect-agents dashboard --attach URL` in a real terminal against a `serve` child process, driven
 * like a person would: the screen opens with the server's recent run, `n` starts a run on the
 * server and it appears and finishes, `x` cancels one there, `q` quits and the terminal is restored
 * — and the server, which owns the runs, has them as the screen said.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type ServeProcess, startServe } from "./support/serveProcess.js"
import { hasTmux, startInTmux, type TmuxCli } from "./support/tmux.js"

const count = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? "0")

let cli: TmuxCli | undefined
let server: ServeProcess | undefined

interface RunJson {
  readonly id: string
  readonly workflow: string
  readonly status: string
  readonly input: unknown
}

const getJson = async <A>(url: string, init?: RequestInit): Promise<A> => (await (await fetch(url, init)).json()) as A

describe.runIf(hasTmux || process.env["EFFECT_AGENTS_CI"] === "1")("the remote dashboard (tmux)", () => {
  afterEach(async () => {
    cli?.close()
    await server?.stop("SIGKILL")
  })

  it("opens on the server's recent runs, starts a run with n, cancels one with x, quits with q", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-attach-tmux-"))
    server = await startServe({ DATA_DIR: join(cwd, "data"), LOG_DIR: join(cwd, "logs"), SIM_LATENCY_MS: "800" })
    const url = server.url

    // A run the server finished before anyone attached.
    const { id: earlier } = await getJson<{ id: string }>(`${url}/v1/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workflow: "summarize", input: "a run from before" })
    })
    while ((await getJson<RunJson>(`${url}/v1/runs/${earlier}`)).status === "running") await new Promise((r) => setTimeout(r, 100))

    // The client needs no data directory of its own: this one cannot be created.
    cli = startInTmux(`ea-attach-${process.pid}`, ["dashboard", "--attach", url], {
      cwd,
      env: { NO_COLOR: "", DATA_DIR: "/proc/not-a-dir", LOG_DIR: "/proc/not-a-dir" }
    })
    const host = url.replace("http://", "")
    const opened = await cli.waitFor((s) => s.includes(`● connected to ${host}`) && s.includes(earlier.slice(0, 8)), "the recent run")
    expect(opened).toContain("SIMULATED")
    expect(count(opened, /✔ (\d+) succeeded/)).toBe(1)

    // n: a run on the server, seen running then finished.
    cli.sendKeys("n")
    await cli.waitFor((s) => s.includes("New run"), "the new-run input")
    cli.sendKeys("-l", "merge two sorted lists")
    await cli.waitFor((s) => s.includes("merge two sorted lists"), "the typed input")
    cli.sendKeys("Enter")
    await cli.waitFor((s) => count(s, /● (\d+) running/) === 1 && /started \w+ run [0-9a-f]{8}/.test(s), "the run to start")
    await cli.waitFor((s) => count(s, /✔ (\d+) succeeded/) === 2, "the run to finish")

    // x: a research run (Tab picks the next workflow: explore, then research), cancelled while it
    // runs (g selects the newest).
    cli.sendKeys("n")
    await cli.waitFor((s) => s.includes("New run"), "the new-run input")
    cli.sendKeys("Tab")
    await cli.waitFor((s) => s.includes("[explore]"), "the explore workflow chosen")
    cli.sendKeys("Tab")
    await cli.waitFor((s) => s.includes("[research]"), "the research workflow chosen")
    cli.sendKeys("-l", "cancel this one")
    await cli.waitFor((s) => s.includes("cancel this one"), "the typed input")
    cli.sendKeys("Enter")
    await cli.waitFor((s) => count(s, /● (\d+) running/) === 1, "the second run to start")
    // One key per read: keys sent together reach the dashboard as one string of text.
    cli.sendKeys("g")
    await new Promise((resolve) => setTimeout(resolve, 150))
    cli.sendKeys("x")
    const cancelled = await cli.waitFor((s) => count(s, /⊘ (\d+) cancelled/) === 1, "the run to be cancelled")
    expect(cancelled).toMatch(/cancelled run [0-9a-f]{8}/)

    // q: the dashboard closes, the terminal is as it was; the server has what the screen showed.
    cli.sendKeys("q")
    expect(await cli.exitCode(15_000)).toBe(0)
    expect(cli.screen()).not.toContain("connected to")
    expect(cli.format("#{alternate_on}")).toBe("0")
    const { runs } = await getJson<{ runs: ReadonlyArray<RunJson> }>(`${url}/v1/runs`)
    expect(runs.map((r) => r.status).sort()).toEqual(["cancelled", "succeeded", "succeeded"])
  }, 60_000)
})
