/**
 * The dashboard with a user's own workflows in its new-run picker, and with runs of another
 * process (read from the shared history) marked as such.
 */
import { describe, expect, it, vi } from "vitest"
import type { RunChange } from "../../src/services/RunHistory.js"
import { merge } from "../../src/state/OtherRuns.js"
import { keys, press, renderApp, started, stateOf, T0, testInfo } from "./helpers.js"

const eventually = (assertion: () => void) => vi.waitFor(assertion, { timeout: 3_000, interval: 10 })

const otherRun: RunChange = {
  id: "0ther000-run",
  workflow: "triage",
  status: "running",
  startedAt: T0 + 500,
  inputTokens: 10,
  outputTokens: 5,
  costUsd: 0.001,
  updatedAt: T0 + 600,
  local: false,
  host: "box",
  pid: 4242,
  steps: [{
    stepId: "step-1",
    label: "classify",
    agent: "classifier",
    status: "running",
    startedAt: T0 + 510,
    cached: false,
    attempts: 0,
    calls: 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0
  }]
}

const rowOf = (frame: string, id: string) => frame.split("\n").find((line) => line.includes(id)) ?? ""

describe("the dashboard with other processes' runs", () => {
  it("marks a run of another process in the list and says whose it is in the detail", async () => {
    const state = merge(stateOf(started("1oca1000-run", "summarize", 0)), [otherRun])
    const app = renderApp({ state, logs: [] })
    await eventually(() => expect(rowOf(app.frame(), "0ther000")).toContain("↗"))
    expect(rowOf(app.frame(), "1oca1000")).not.toContain("↗")
    expect(rowOf(app.frame(), "0ther000")).toContain("classify")
    // The other run started later: it is the newest, selected first.
    await press(app.stdin, keys.enter)
    await eventually(() => expect(app.frame()).toContain("↗ another process (pid 4242 on box)"))
  })
})

describe("the new-run picker", () => {
  it("offers the workflows it is given, a user's own among them, and starts the chosen one", async () => {
    const info = testInfo({
      workflows: [{ name: "triage", description: "Route a support ticket to a team" }, { name: "summarize", description: "summarizes a text" }]
    })
    const app = renderApp({ state: stateOf(), logs: [] }, { info })
    await press(app.stdin, "n")
    await eventually(() => expect(app.frame()).toContain("[triage]"))
    expect(app.frame()).toContain("Route a support ticket to a team")
    await press(app.stdin, "printer on fire", keys.enter)
    await eventually(() => expect(app.calls).toEqual([["startRun", "triage", "printer on fire"]]))
  })
})
