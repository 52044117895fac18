import { cleanup } from "ink-testing-library"
import { afterEach, describe, expect, it, vi } from "vitest"
import { reduce } from "../../src/state/WorkflowState.js"
import {
  fakeSource,
  finished,
  keys,
  logEntry,
  NOW,
  press,
  renderApp,
  started,
  stateOf,
  stepStarted,
  tick
} from "./helpers.js"

afterEach(() => cleanup())

// Frames render on a loaded machine a little after the key press; wait for what the user would see.
const eventually = (assertion: () => void) => vi.waitFor(assertion, { timeout: 3_000, interval: 10 })

const runs = stateOf(
  started("run-old-running", "code", 0),
  stepStarted("run-old-running", "s1", "plan the change", "planner", 10),
  started("run-failed", "research", 1_000),
  finished("run-failed", "research", "failed", 4_000, { error: { tag: "RateLimited", message: "429 from provider" } }),
  started("run-new-running", "summarize", 2_000)
)

/** The run id on the selected row (rows show the first 8 characters). */
const selectedRow = (frame: string) => frame.split("\n").find((line) => line.startsWith("›")) ?? ""

describe("dashboard container", () => {
  it("shows the state and the log from the source", () => {
    const app = renderApp({ state: runs, logs: [logEntry("WARNING", "slow provider")] })
    expect(app.frame()).toContain("[SIMULATED]")
    expect(app.frame()).toContain("RateLimited: 429 from provider")
    expect(app.frame()).toContain("slow provider")
  })

  it("re-renders when the source publishes a new state", async () => {
    const app = renderApp({ state: runs, logs: [] })
    app.source.set(reduce(runs, started("run-brand-new", "code", 3_000)))
    await eventually(() => expect(app.frame()).toContain("run-bran"))
  })

  it("selects the newest run first and moves the selection with ↓/↑ and j/k", async () => {
    const app = renderApp({ state: runs, logs: [] })
    expect(selectedRow(app.frame())).toContain("run-new-")
    await press(app.stdin, keys.down)
    await eventually(() => expect(selectedRow(app.frame())).toContain("run-old-"))
    await press(app.stdin, "j")
    await eventually(() => expect(selectedRow(app.frame())).toContain("run-fail"))
    await press(app.stdin, keys.up, "k")
    await eventually(() => expect(selectedRow(app.frame())).toContain("run-new-"))
  })

  it("keeps the selection on the same run when newer runs arrive", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "j")
    await eventually(() => expect(selectedRow(app.frame())).toContain("run-old-"))
    app.source.set(reduce(runs, started("run-brand-new", "code", 3_000)))
    await eventually(() => expect(app.frame()).toContain("run-bran"))
    expect(selectedRow(app.frame())).toContain("run-old-")
  })

  it("opens the selected run's detail with Enter and closes it with Enter again", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "j", keys.enter)
    await eventually(() => expect(app.frame()).toContain("Run run-old-running · code · running"))
    expect(app.frame()).toContain("plan the change")
    await press(app.stdin, keys.enter)
    await eventually(() => expect(app.frame()).not.toContain("Run run-old-running"))
  })

  it("shows a failed run's error tag in its detail", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "j", "j", keys.enter)
    await eventually(() => expect(app.frame()).toContain("✖ RateLimited: 429 from provider"))
  })

  it("cancels the selected running run with x", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "j", "x")
    await eventually(() => expect(app.calls).toEqual([["cancelRun", "run-old-running"]]))
    // The notice is drawn on the next frame, which a loaded machine may not have drawn yet.
    await eventually(() => expect(app.frame()).toContain("cancelling run-old-…"))
  })

  it("does not cancel a run that has already finished", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "j", "j", "x")
    await eventually(() => expect(app.frame()).toContain("run run-fail already failed"))
    expect(app.calls).toEqual([])
  })

  it("starts a run with n, the typed input and Enter", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "n")
    await eventually(() => expect(app.frame()).toContain("input › _"))
    await press(app.stdin, "hello world", keys.enter)
    await eventually(() => expect(app.calls).toEqual([["startRun", "code", "hello world"]]))
    await eventually(() => expect(app.frame()).not.toContain("input ›"))
  })

  it("cycles the workflow with Tab and Shift-Tab before starting", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "n", keys.tab, keys.tab)
    await eventually(() => expect(app.frame()).toContain("[summarize]"))
    await press(app.stdin, keys.tab)
    await eventually(() => expect(app.frame()).toContain("[code]"))
    await press(app.stdin, keys.shiftTab, "abc", keys.backspace, "d", keys.enter)
    await eventually(() => expect(app.calls).toEqual([["startRun", "summarize", "abd"]]))
  })

  it("types q and x as text in the new-run input instead of quitting or cancelling", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "n", "q", "x", keys.enter)
    await eventually(() => expect(app.calls).toEqual([["startRun", "code", "qx"]]))
  })

  it("closes the new-run input with Esc without starting anything", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "n", "draft", keys.escape)
    await eventually(() => expect(app.frame()).not.toContain("input ›"))
    await press(app.stdin, keys.enter)
    expect(app.calls).toEqual([])
  })

  it("does not start a run with an empty input", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "n", keys.enter)
    await eventually(() => expect(app.frame()).toContain("type the input for code first"))
    expect(app.calls).toEqual([])
  })

  it("clears finished runs with c", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "c")
    await eventually(() => expect(app.calls).toEqual([["clearFinished"]]))
  })

  it("quits with q", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "q")
    await eventually(() => expect(app.calls).toEqual([["quit"]]))
  })

  it("interrupts with Ctrl-C (as SIGINT would), even while typing a new run", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "n", "half typed", keys.ctrlC)
    await eventually(() => expect(app.calls).toEqual([["interrupt"]]))
  })

  it("filters the list by status with /, and Esc clears the filter", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "/", "failed", keys.enter)
    await eventually(() => expect(app.frame()).toContain("filter: failed  (1 of 3 runs, Esc clears)"))
    expect(app.frame()).toContain("run-fail")
    expect(app.frame()).not.toContain("run-new-")
    await press(app.stdin, keys.escape)
    await eventually(() => expect(app.frame()).toContain("run-new-"))
    expect(app.frame()).not.toContain("filter:")
  })

  it("filters the list by workflow name", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "/", "summ", keys.enter)
    await eventually(() => expect(app.frame()).toContain("(1 of 3 runs"))
    expect(app.frame()).toContain("run-new-")
    expect(app.frame()).not.toContain("run-old-")
  })

  it("shows help with ? and hides it with Esc", async () => {
    const app = renderApp({ state: runs, logs: [] })
    await press(app.stdin, "?")
    await eventually(() => expect(app.frame()).toContain("cancel the selected run"))
    expect(app.frame()).not.toContain("run-new-")
    await press(app.stdin, keys.escape)
    await eventually(() => expect(app.frame()).toContain("run-new-"))
  })

  it("drops list columns on a narrow terminal", () => {
    const app = renderApp({ state: runs, logs: [] }, { width: 44 })
    for (const line of app.frame().split("\n")) expect(line.length).toBeLessThanOrEqual(44)
    expect(app.frame()).toContain("ELAPSED")
    expect(app.frame()).not.toContain("TOKENS")
  })

  it("fits the frame in the terminal height, one line spare", () => {
    const app = renderApp({ state: runs, logs: [logEntry("INFO", "hello")] }, { height: 24 })
    expect(app.frame().split("\n")).toHaveLength(23)
  })

  it("re-lays out when the terminal is resized", async () => {
    const app = renderApp({ state: runs, logs: [logEntry("INFO", "hello")] }, { height: undefined })
    Object.defineProperty(app.stdout, "rows", { value: 40, configurable: true })
    app.stdout.emit("resize")
    await eventually(() => expect(app.frame().split("\n")).toHaveLength(39))
    expect(app.frame()).toContain("hello")
    Object.defineProperty(app.stdout, "rows", { value: 12, configurable: true })
    app.stdout.emit("resize")
    await eventually(() => expect(app.frame().split("\n")).toHaveLength(11))
    expect(app.frame()).not.toContain("hello")
  })

  it("coalesces a burst of updates into few frames when throttled", async () => {
    const app = renderApp({ state: runs, logs: [] }, { frameMs: 30 })
    await tick(100)
    const before = app.frames.length
    let state = runs
    for (let i = 0; i < 200; i++) {
      state = reduce(state, started(`burst-${String(i).padStart(3, "0")}`, "code", 10_000 + i))
      app.source.set(state)
    }
    await eventually(() => expect(app.frame()).toContain("burst-19"))
    await tick(100)
    expect(app.frames.length - before).toBeLessThanOrEqual(2)
  })
})

describe("test source", () => {
  it("fails loudly when the dashboard reads data the test did not supply", () => {
    expect(() => fakeSource({ logs: [] }).getState()).toThrow(/did not supply a state/)
    expect(() => fakeSource({ state: runs }).getLogs()).toThrow(/did not supply logs/)
  })
})

describe("frames that show nothing new", () => {
  // Forty running runs: the list shows the newest that fit, the oldest are below the fold.
  const many = stateOf(
    ...Array.from({ length: 40 }, (_, i) => started(`run-${String(i).padStart(3, "0")}-x`, "code", i * 10))
  )

  it("writes no frame for a change to a run that is not on screen, and one for a run that is", async () => {
    const app = renderApp({ state: many, logs: [] })
    expect(app.frame()).not.toContain("run-000-")
    const before = app.frames.length
    const hidden = reduce(many, stepStarted("run-000-x", "s1", "hidden step", "planner", 500))
    app.source.set(hidden)
    await tick()
    expect(app.frames.length).toBe(before)
    app.source.set(reduce(hidden, stepStarted("run-039-x", "s1", "visible step", "planner", 600)))
    await eventually(() => expect(app.frame()).toContain("visible step"))
    expect(app.frames.length).toBe(before + 1)
  })

  it("writes no frame when the clock moves but no time or spinner on screen changes", async () => {
    // Runs started 100.1 to 100.5 s ago; the spinner turns every 125 ms from NOW on.
    let now = NOW + 500
    const app = renderApp({ state: many, logs: [] }, { clock: () => now })
    expect(app.frame()).toContain("1m40s")
    const before = app.frames.length
    now += 50
    app.source.set(many)
    await tick()
    expect(app.frames.length).toBe(before)
    now += 1_000
    app.source.set(many)
    await eventually(() => expect(app.frame()).toContain("1m41s"))
    expect(app.frames.length).toBe(before + 1)
  })
})
