/**
 * A streamed answer in a real terminal: tmux runs the built CLI's `run summarize` on the simulated
 * provider with a slow answer; the run detail shows the summary growing while the step runs, and
 * its end once it is done.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { hasTmux, startInTmux, type TmuxCli } from "./support/tmux.js"

/** The lines of the live answer under its title, trimmed. */
const answerOf = (screen: string): string => {
  const lines = screen.split("\n")
  const start = lines.findIndex((l) => l.includes("is answering:"))
  if (start < 0) return ""
  const out: Array<string> = []
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("    ")) break
    out.push(line.trim())
  }
  return out.join(" ")
}

describe.runIf(hasTmux || process.env["EFFECT_AGENTS_CI"] === "1")("streamed answer in a real terminal (tmux)", () => {
  let cli: TmuxCli | undefined
  afterEach(() => cli?.close())

  it("the run detail shows the summary as it is written, then the finished run", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ea-stream-"))
    cli = startInTmux(`ea-stream-${process.pid}`, ["run", "summarize", "--input", "Owls hunt at night and sleep by day in old trees."], {
      cwd,
      env: {
        NO_COLOR: "",
        // ~9 s an answer (drawn in [4.5, 13.5] s), a third before the first words.
        SIM_LATENCY_MS: "9000",
        SIM_ERROR_RATE: "0",
        SIM_RATE_LIMIT_RATE: "0",
        DATA_DIR: join(cwd, "data"),
        LOG_DIR: join(cwd, "logs")
      }
    })
    await cli.waitFor((s) => s.includes("summarize") && s.includes("running"), "the running run")
    cli.sendKeys("Enter")
    const early = answerOf(await cli.waitFor((s) => answerOf(s).length > 0, "the first words of the answer"))
    const later = answerOf(await cli.waitFor((s) => answerOf(s).length > early.length, "more of the answer"))
    // The same answer, grown: what was shown first is still its beginning.
    expect(later.startsWith(early.slice(0, 20))).toBe(true)
    expect(later).toContain("simulated response")
    const done = await cli.waitFor((s) => s.includes("succeeded") && !s.includes("is answering"), "the finished run", 30_000)
    expect(done).toMatch(/✔ summarize\s+summarizer\s+succeeded/)
    expect(await cli.exitCode()).toBe(0)
  }, 60_000)
})
