/**
 * Colour on and off. Chalk decides at import time whether to emit colours (and a test process is
 * no TTY), so this file forces colour support before importing Ink; the dashboard's own `color`
 * flag must then be what decides.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { LogEntry } from "../../src/services/LogTail.js"

const ESC = "\u001b["

let renderFrame: (color: boolean) => string
let renderLogs: (color: boolean) => string
let cleanupAll: () => void

beforeAll(async () => {
  process.env["FORCE_COLOR"] = "1"
  const { cleanup, render } = await import("ink-testing-library")
  const { App } = await import("../../src/tui/App.js")
  const { LogPane } = await import("../../src/tui/LogPane.js")
  const helpers = await import("./helpers.js")
  const state = helpers.stateOf(
    helpers.started("r1", "code", 0),
    helpers.finished("r1", "code", "failed", 10, { error: { tag: "Boom", message: "x" } }),
    helpers.started("r2", "research", 20)
  )
  const logs: ReadonlyArray<LogEntry> = [helpers.logEntry("ERROR", "bad"), helpers.logEntry("INFO", "fine")]
  renderFrame = (color) => {
    const { actions } = helpers.recordedActions()
    return render(
      <App
        source={helpers.fakeSource({ state, logs })}
        actions={actions}
        info={helpers.testInfo({ color })}
        frameMs={0}
        clock={() => helpers.NOW}
        width={100}
        height={30}
      />
    ).lastFrame() ?? ""
  }
  renderLogs = (color) => render(<LogPane logs={logs} height={3} width={80} color={color} />).lastFrame() ?? ""
  cleanupAll = cleanup
})

afterAll(() => {
  cleanupAll()
  delete process.env["FORCE_COLOR"]
})

describe("colours", () => {
  it("colours the dashboard when colour is enabled", () => {
    expect(renderFrame(true)).toContain(ESC)
  })

  it("writes no escape codes at all when colour is disabled (NO_COLOR)", () => {
    const frame = renderFrame(false)
    expect(frame).not.toContain(ESC)
    expect(frame).toContain("[SIMULATED]")
    expect(frame).toContain("› ")
  })

  it("colours log lines by level", () => {
    const frame = renderLogs(true).split("\n")
    // Red (31) for ERROR; INFO keeps the terminal's default colour.
    expect(frame[1]).toContain(`${ESC}31m`)
    expect(frame[2]).not.toContain(ESC)
  })

  it("highlights the SIMULATED badge only, not the spaces before it", () => {
    const title = renderFrame(true).split("\n")[0]!
    // Plain spaces after the name, then the escapes that turn the badge's inverse video on.
    expect(title).toMatch(/effect-agents(\u001b\[\d+m)* {2}(\u001b\[\d+m)+ SIMULATED /)
  })

  it("highlights the whole selected row, its blank cells included", () => {
    const row = renderFrame(true).split("\n").find((line) => line.includes("› "))!
    const inverse = row.indexOf(`${ESC}7m`)
    expect(inverse).toBeGreaterThanOrEqual(0)
    // The row stays highlighted to its last column: inverse is switched off only at the end.
    expect(row.indexOf(`${ESC}27m`)).toBeGreaterThan(row.lastIndexOf("$"))
  })
})
