import type { Key } from "ink"
import { describe, expect, it } from "vitest"
import { keymap, resolveCommand } from "../../src/tui/keymap.js"
import { makeState, reduceAll } from "../../src/state/WorkflowState.js"
import { computeLayout, filterRuns, listRuns, makeRunLister, planColumns, scrollOffset } from "../../src/tui/view.js"
import { finished, llmCall, started, stateOf } from "./helpers.js"

const noKey: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false
}

describe("run list order and filter", () => {
  const state = stateOf(
    started("r1", "code", 0),
    started("r2", "research", 100),
    started("r3", "summarize", 200),
    finished("r2", "research", "failed", 500),
    started("r4", "code", 600)
  )

  it("lists running runs newest first, then finished runs newest first", () => {
    expect(listRuns(state).map((r) => r.runId)).toEqual(["r4", "r3", "r1", "r2"])
  })

  it("filters by status prefix", () => {
    expect(filterRuns(listRuns(state), "fail").map((r) => r.runId)).toEqual(["r2"])
  })

  it("filters by workflow name, ignoring case", () => {
    expect(filterRuns(listRuns(state), "CODE").map((r) => r.runId)).toEqual(["r4", "r1"])
  })

  it("keeps every run with an empty filter", () => {
    expect(filterRuns(listRuns(state), "  ")).toHaveLength(4)
  })

  it("keeps the same order from frame to frame while runs start, progress and end", () => {
    // Many runs start in the same millisecond (a batch), so the id decides between them.
    const list = makeRunLister()
    let current = makeState()
    let serial = 0
    const running: Array<string> = []
    for (let frame = 0; frame < 60; frame++) {
      const events = []
      for (let i = 0; i < 7; i++) {
        const roll = (frame * 7 + i) % 5
        if (roll < 2 || running.length === 0) {
          const runId = `r${(serial++ * 7_919) % 1_000}-${frame}`
          running.push(runId)
          events.push(started(runId, "code", Math.floor(frame / 3)))
        } else if (roll < 4) {
          events.push(llmCall(running[(frame + i) % running.length]!, "s1", frame, 10, 0.001))
        } else {
          const [runId] = running.splice((frame * i) % running.length, 1)
          events.push(finished(runId!, "code", "succeeded", frame))
        }
      }
      current = reduceAll(current, events)
      expect(list(current).map((r) => r.runId)).toEqual(listRuns(current).map((r) => r.runId))
      expect(list(current)).toEqual(listRuns(current))
    }
  })
})

describe("virtual scrolling", () => {
  it("does not move while the selection is visible", () => {
    expect(scrollOffset(10, 15, 10, 100)).toBe(10)
  })

  it("scrolls down just enough to show a selection below the window", () => {
    expect(scrollOffset(0, 12, 10, 100)).toBe(3)
  })

  it("scrolls up to a selection above the window", () => {
    expect(scrollOffset(20, 5, 10, 100)).toBe(5)
  })

  it("never leaves blank rows after the last run", () => {
    expect(scrollOffset(95, 99, 10, 100)).toBe(90)
    expect(scrollOffset(5, 2, 10, 4)).toBe(0)
  })
})

describe("layout", () => {
  it("fits header, list, log and footer into the terminal height minus one line", () => {
    const layout = computeLayout({ height: 40, detailOpen: false, extraLines: 0 })
    expect(3 + 2 + layout.listRows + layout.logLines + 1).toBe(39)
    expect(layout.logLines).toBeGreaterThan(0)
  })

  it("gives the detail pane room when it is open", () => {
    const layout = computeLayout({ height: 40, detailOpen: true, extraLines: 2 })
    expect(layout.detailLines).toBeGreaterThanOrEqual(5)
    expect(3 + 2 + 2 + layout.listRows + layout.detailLines + layout.logLines + 1).toBe(39)
  })

  it("drops the log pane on short terminals and keeps at least one list row", () => {
    const layout = computeLayout({ height: 10, detailOpen: true, extraLines: 0 })
    expect(layout.logLines).toBe(0)
    expect(layout.listRows).toBeGreaterThanOrEqual(1)
  })

  it("drops the least important columns first when narrow", () => {
    const specs = [
      { key: "a", title: "A", width: 10, priority: 1 },
      { key: "b", title: "B", width: 10, priority: 3 },
      { key: "c", title: "C", width: 10, priority: 2, flex: true }
    ] as const
    expect(planColumns(specs, 21).map((c) => c.spec.key)).toEqual(["a", "c"])
    expect(planColumns(specs, 40).map((c) => [c.spec.key, c.width])).toEqual([["a", 10], ["b", 10], ["c", 18]])
  })
})

describe("keymap", () => {
  it("maps arrows and vim keys to the same commands", () => {
    expect(resolveCommand(keymap, "list", "", { ...noKey, upArrow: true })).toBe("up")
    expect(resolveCommand(keymap, "list", "k", noKey)).toBe("up")
    expect(resolveCommand(keymap, "list", "j", noKey)).toBe("down")
  })

  it("treats Ctrl-C as an interrupt in every mode, and q as quit only outside text input", () => {
    for (const mode of ["list", "newRun", "filter", "help"] as const) {
      expect(resolveCommand(keymap, mode, "c", { ...noKey, ctrl: true })).toBe("interrupt")
    }
    expect(resolveCommand(keymap, "list", "q", noKey)).toBe("quit")
    expect(resolveCommand(keymap, "newRun", "q", noKey)).toBeUndefined()
  })

  it("tells Tab from Shift-Tab in the new-run input", () => {
    expect(resolveCommand(keymap, "newRun", "", { ...noKey, tab: true })).toBe("nextWorkflow")
    expect(resolveCommand(keymap, "newRun", "", { ...noKey, tab: true, shift: true })).toBe("previousWorkflow")
  })
})
