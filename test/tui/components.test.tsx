import { cleanup, render } from "ink-testing-library"
import { afterEach, describe, expect, it } from "vitest"
import {
  AnswerDelta,
  CircuitStateChanged,
  LlmCallFinished,
  RateLimited,
  Retrying,
  ToolCallFinished,
  ToolCallStarted,
  type WorkflowEvent
} from "../../src/services/WorkflowEvents.js"
import { findRun, makeState, reduceAll } from "../../src/state/WorkflowState.js"
import { Block } from "../../src/tui/Block.js"
import { FilterLine } from "../../src/tui/FilterLine.js"
import { Footer } from "../../src/tui/Footer.js"
import { Header } from "../../src/tui/Header.js"
import { HelpOverlay } from "../../src/tui/HelpOverlay.js"
import { keymap } from "../../src/tui/keymap.js"
import { LogPane } from "../../src/tui/LogPane.js"
import { NewRunInput } from "../../src/tui/NewRunInput.js"
import type { Pieces } from "../../src/tui/pieces.js"
import { RunDetail } from "../../src/tui/RunDetail.js"
import { RunList } from "../../src/tui/RunList.js"
import { listRuns } from "../../src/tui/view.js"
import {
  finished,
  llmCall,
  logEntry,
  NOW,
  started,
  stateOf,
  stepFinished,
  stepStarted,
  T0,
  testInfo
} from "./helpers.js"

afterEach(() => cleanup())

const lines = (frame: string | undefined): ReadonlyArray<string> => (frame ?? "").split("\n")

const sampleState = stateOf(
  started("aaaaaaaa-run", "code", 0),
  stepStarted("aaaaaaaa-run", "s1", "plan", "planner", 10),
  llmCall("aaaaaaaa-run", "s1", 20, 12_345, 0.0123),
  stepFinished("aaaaaaaa-run", "s1", "plan", 1_300, {
    durationMs: 1_290,
    attempts: 2,
    tokens: 12_345,
    costUsd: 0.0123
  }),
  stepStarted("aaaaaaaa-run", "s2", "write code", "coder", 1_400),
  started("bbbbbbbb-run", "research", 1_000),
  finished("bbbbbbbb-run", "research", "failed", 5_000, {
    error: { tag: "ProviderUnavailable", message: "503 from upstream" }
  }),
  started("cccccccc-run", "summarize", 2_000),
  finished("cccccccc-run", "summarize", "succeeded", 3_000, { output: "a short summary", costUsd: 2.5 }),
  started("dddddddd-run", "code", 2_500),
  finished("dddddddd-run", "code", "cancelled", 4_000)
)

const runList = (overrides: Partial<Parameters<typeof RunList>[0]> = {}) =>
  render(
    <RunList
      runs={listRuns(sampleState)}
      selectedIndex={0}
      offset={0}
      rows={10}
      width={100}
      now={NOW}
      frame={0}
      color={false}
      {...overrides}
    />
  )

describe("Header", () => {
  const header = (simulated: boolean, width = 100, limiterWaiting = 0) => {
    const state = reduceAll(sampleState, [
      new LlmCallFinished({
        model: "sim-1",
        provider: "simulated",
        cached: true,
        attempt: 1,
        usage: { inputTokens: 0, outputTokens: 0 },
        costUsd: 0,
        durationMs: 1,
        status: "success",
        at: T0 + 10
      }),
      new Retrying({ model: "sim-1", attempt: 1, delayMs: 100, reason: "RateLimited", at: T0 + 11 }),
      new RateLimited({ key: "simulated", waitMs: 1_500, at: T0 + 12 }),
      new CircuitStateChanged({ breaker: "openrouter", from: "closed", to: "open", retryAt: T0 + 60_000, at: T0 + 13 })
    ])
    const info = testInfo({ simulated, provider: simulated ? "simulated" : "openrouter" })
    return render(
      <Header
        provider={info.provider}
        model="gpt-4o-mini"
        simulated={info.simulated}
        totals={state.totals}
        breakers={state.breakers}
        limiterWaiting={limiterWaiting}
        width={width}
        color={false}
      />
    )
  }

  it("shows how many callers wait for a rate-limit permit right now", () => {
    expect(header(true, 160, 7).lastFrame()).toContain("limiter waiting 7")
    expect(header(true, 160, 0).lastFrame()).not.toContain("limiter waiting")
  })

  it("shows a SIMULATED badge next to the provider and model on the simulated provider", () => {
    expect(lines(header(true).lastFrame())[0]).toBe("effect-agents  [SIMULATED]  simulated · gpt-4o-mini")
  })

  it("shows no badge on a real provider", () => {
    const frame = header(false).lastFrame()
    expect(frame).toContain("openrouter · gpt-4o-mini")
    expect(frame).not.toContain("SIMULATED")
  })

  it("shows run counts by status", () => {
    const frame = header(true).lastFrame()
    expect(frame).toContain("● 1 running")
    expect(frame).toContain("✔ 1 succeeded")
    expect(frame).toContain("✖ 1 failed")
    expect(frame).toContain("⊘ 1 cancelled")
  })

  it("shows LLM calls, tokens, cost, cache hit rate, retries, rate-limit waits and breaker states", () => {
    const frame = header(true, 100).lastFrame()
    expect(frame).toContain("LLM calls 2")
    expect(frame).toContain("tokens 12.3k")
    expect(frame).toContain("cost $0.0123")
    expect(frame).toContain("cache hits 50%")
    expect(frame).toContain("retries 1")
    expect(frame).toContain("rate-limit waits 1  waited 1.5s")
    expect(frame).toContain("breaker openrouter: open")
  })

  it("keeps the SIMULATED badge on a narrow terminal", () => {
    expect(lines(header(true, 30).lastFrame())[0]).toBe("effect-agents  [SIMULATED]  s…")
  })

  it("stays three lines on a narrow terminal, dropping what does not fit", () => {
    const frame = header(true, 40).lastFrame()
    expect(lines(frame)).toHaveLength(3)
    for (const line of lines(frame)) expect(line.length).toBeLessThanOrEqual(40)
    expect(frame).toContain("● 1 running")
    expect(frame).not.toContain("breaker")
  })
})

describe("RunList", () => {
  it("shows a failed run's error tag", () => {
    const row = lines(runList().lastFrame()).find((line) => line.includes("bbbbbbbb"))
    expect(row).toContain("✖")
    expect(row).toContain("ProviderUnavailable: 503 from upstream")
  })

  it("shows id, workflow, current step, elapsed, tokens and cost of a running run", () => {
    const row = lines(runList().lastFrame()).find((line) => line.includes("aaaaaaaa"))
    expect(row).toMatch(/aaaaaaaa\s+code\s+write code\s+1m40s\s+12\.3k\s+\$0\.0123/)
  })

  it("formats costs from a dollar on with 2 decimals", () => {
    const row = lines(runList().lastFrame()).find((line) => line.includes("cccccccc"))
    expect(row).toContain("✔")
    expect(row).toContain("$2.50")
    expect(row).toContain("a short summary")
  })

  it("marks cancelled runs with ⊘", () => {
    expect(lines(runList().lastFrame()).find((line) => line.includes("dddddddd"))).toContain("⊘")
  })

  it("lists newest first and marks the selection", () => {
    const rows = lines(runList({ selectedIndex: 1 }).lastFrame()).slice(2).filter((line) => line !== "")
    expect(rows.map((r) => r.slice(4, 12))).toEqual(["aaaaaaaa", "dddddddd", "cccccccc", "bbbbbbbb"])
    expect(rows[1]!.startsWith("›")).toBe(true)
    expect(rows[0]!.startsWith("›")).toBe(false)
  })

  it("renders only the rows that fit, from the scroll offset", () => {
    const many = reduceAll(
      makeState(),
      Array.from({ length: 1_000 }, (_, i) => started(`run-${String(i).padStart(4, "0")}`, "code", i))
    )
    const frame = render(
      <RunList
        runs={listRuns(many)}
        selectedIndex={502}
        offset={500}
        rows={5}
        width={100}
        now={NOW}
        frame={0}
        color={false}
      />
    ).lastFrame()
    expect(lines(frame)).toHaveLength(7)
    expect(frame).toContain("Runs 501–505 of 1,000")
    expect(frame).toContain("run-0499")
    expect(frame).toContain("run-0495")
    expect(frame).not.toContain("run-0494")
    expect(lines(frame).find((line) => line.startsWith("›"))).toContain("run-0497")
  })

  it("drops columns instead of wrapping on a narrow terminal", () => {
    const frame = runList({ width: 40 }).lastFrame()
    for (const line of lines(frame)) expect(line.length).toBeLessThanOrEqual(40)
    expect(frame).toContain("WORKFLOW")
    expect(frame).toContain("ELAPSED")
    expect(frame).not.toContain("TOKENS")
    expect(frame).not.toContain("STEP")
    expect(lines(frame).filter((line) => line !== "")).toHaveLength(6)
  })

  it("tells how to start a run when there is none", () => {
    expect(runList({ runs: [], selectedIndex: -1 }).lastFrame()).toContain("no runs yet: press n to start one")
  })
})

describe("RunDetail", () => {
  const detail = (runId: string, height = 10) =>
    render(
      <RunDetail
        run={findRun(sampleState, runId).pipe((o) => (o._tag === "Some" ? o.value : undefined))}
        height={height}
        width={100}
        now={NOW}
        frame={0}
        color={false}
      />
    ).lastFrame()

  it("lists each step with agent, status, duration, attempts, tokens and cost", () => {
    const frame = detail("aaaaaaaa-run")
    expect(frame).toContain("Run aaaaaaaa-run · code · running")
    const plan = lines(frame).find((line) => line.includes("plan"))
    expect(plan).toMatch(/✔ plan\s+planner\s+succeeded\s+1\.2s\s+2\s+12\.3k\s+\$0\.0123/)
    expect(lines(frame).find((line) => line.includes("write code"))).toMatch(/coder\s+running/)
  })

  it("shows a cache hit on a step answered from the cache", () => {
    const state = stateOf(
      started("r", "code", 0),
      stepStarted("r", "s1", "plan", "planner", 0),
      stepFinished("r", "s1", "plan", 10, { cached: true, attempts: 0, durationMs: 10 })
    )
    const run = findRun(state, "r").pipe((o) => (o._tag === "Some" ? o.value : undefined))
    const frame = render(<RunDetail run={run} height={6} width={100} now={NOW} frame={0} color={false} />)
      .lastFrame()
    expect(lines(frame).find((line) => line.includes("plan"))).toMatch(/succeeded\s+10ms\s+hit/)
  })

  it("shows each tool call under its step, in order, with its duration and result or error", () => {
    const ids = { runId: "r", stepId: "s1", agent: "explorer" }
    const state = stateOf(
      started("r", "explore", 0),
      stepStarted("r", "s1", "explore", "explorer", 0),
      new ToolCallStarted({ ...ids, tool: "searchFiles", callId: "c1", arguments: "{\"query\":\"retry\"}", at: 10 }),
      new ToolCallStarted({ ...ids, tool: "readFile", callId: "c2", arguments: "{\"path\":\"x.md\"}", at: 11 }),
      new ToolCallFinished({
        ...ids,
        tool: "readFile",
        callId: "c2",
        arguments: "{\"path\":\"x.md\"}",
        status: "error",
        error: { tag: "FileToolError", message: "not found" },
        durationMs: 4,
        at: 15
      })
    )
    const run = findRun(state, "r").pipe((o) => (o._tag === "Some" ? o.value : undefined))
    const rows = lines(render(<RunDetail run={run} height={8} width={100} now={NOW} frame={0} color={false} />).lastFrame())
    const at = (text: string) => rows.findIndex((line) => line.includes(text))
    expect(at("explorer")).toBeLessThan(at("↳ searchFiles({\"query\":\"retry\"})"))
    expect(at("↳ searchFiles")).toBeLessThan(at("↳ readFile"))
    expect(rows[at("↳ readFile")]).toMatch(/✖ ↳ readFile\(\{"path":"x\.md"\}\) 4ms ✖ FileToolError: not found/)
  })

  it("shows a failed run's typed error with its message", () => {
    expect(detail("bbbbbbbb-run")).toContain("✖ ProviderUnavailable: 503 from upstream")
  })

  it("shows a succeeded run's output", () => {
    expect(detail("cccccccc-run")).toContain("→ a short summary")
  })

  const detailOf = (labels: ReadonlyArray<string>, width: number) => {
    const events: Array<WorkflowEvent> = [started("r", "code", 0)]
    labels.forEach((label, i) => events.push(stepStarted("r", `s${i}`, label, "planner", i)))
    const run = findRun(stateOf(...events), "r").pipe((o) => (o._tag === "Some" ? o.value : undefined))
    return lines(render(<RunDetail run={run} height={8} width={width} now={NOW} frame={0} color={false} />).lastFrame())
  }

  it("makes the step column as wide as its longest label, with the numbers right after it", () => {
    const [, header, plan, write] = detailOf(["plan", "write the code"], 160)
    // "write the code" is 14 cells: the agent column starts one space after it, not at the far right.
    expect(header).toMatch(/^ {2}STEP {11}AGENT/)
    expect(plan).toMatch(/^. plan {11}planner {6}running/)
    expect(write).toMatch(/^. write the code planner/)
    // The whole table is as wide as its columns: nothing but padding past the cost.
    expect(header!.trimEnd().length).toBeLessThanOrEqual(2 + 14 + 66)
  })

  it("clips a very long step label at 40 cells", () => {
    const [, header, row] = detailOf(["x".repeat(70)], 160)
    expect(header).toMatch(/^ {2}STEP {37}AGENT/)
    expect(row).toMatch(/^. x{39}… planner/)
  })

  it("shrinks the step column, then drops columns, on a narrow pane", () => {
    const rows = detailOf(["a rather long step label here"], 40)
    for (const line of rows) expect(line.length).toBeLessThanOrEqual(40)
    expect(rows[1]).toContain("STEP")
    expect(rows[1]).toContain("STATUS")
    expect(rows[1]).not.toContain("TOKENS")
  })

  it("shows the newest steps when they do not all fit", () => {
    const events: Array<WorkflowEvent> = [started("r", "research", 0)]
    for (let i = 0; i < 12; i++) events.push(stepStarted("r", `s${i}`, `step number ${i}`, "agent", i))
    const run = findRun(stateOf(...events), "r").pipe((o) => (o._tag === "Some" ? o.value : undefined))
    const frame = render(<RunDetail run={run} height={5} width={100} now={NOW} frame={0} color={false} />)
      .lastFrame()
    expect(lines(frame)).toHaveLength(5)
    expect(frame).toContain("step number 11")
    expect(frame).toContain("step number 9")
    expect(frame).not.toContain("step number 8")
  })
})

describe("RunDetail's live answer", () => {
  const delta = (text: string, at: number) => new AnswerDelta({ runId: "r", stepId: "s1", agent: "summarizer", text, at: T0 + at })
  const render8 = (...events: ReadonlyArray<WorkflowEvent>) => {
    const run = findRun(stateOf(started("r", "summarize", 0), stepStarted("r", "s1", "summarize", "summarizer", 0), ...events), "r")
      .pipe((o) => (o._tag === "Some" ? o.value : undefined))
    return lines(render(<RunDetail run={run} height={12} width={40} now={NOW} frame={0} color={false} />).lastFrame())
  }

  it("shows the running step's answer as it grows, wrapped to the pane", () => {
    const early = render8(delta("The report finds that", 100))
    expect(early.join("\n")).toContain("summarize (summarizer) is answering:")
    expect(early.join("\n")).toContain("The report finds that")
    const later = render8(delta("The report finds that", 100), delta(" sales rose by a third in the spring quarter.", 200))
    const answer = later.slice(later.findIndex((l) => l.includes("is answering")) + 1).map((l) => l.trim())
      .filter((l) => l.length > 0)
    // 36 cells of text: the pane's 40 less the indent.
    expect(answer).toEqual(["The report finds that sales rose by", "a third in the spring quarter."])
    for (const line of later) expect(line.length).toBeLessThanOrEqual(40)
  })

  it("keeps the answer's last lines when it outgrows its room", () => {
    const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ")
    const frame = render8(delta(words, 100))
    expect(frame.join("\n")).toContain("word59")
    expect(frame.join("\n")).not.toContain("word0 ")
    expect(frame).toHaveLength(12)
  })

  it("is gone once the step finishes: its output shows instead", () => {
    const frame = render8(delta("Partial", 100), stepFinished("r", "s1", "summarize", 300, { output: "Partial answer" }))
    expect(frame.join("\n")).not.toContain("is answering")
  })
})

describe("LogPane", () => {
  const logs = Array.from({ length: 20 }, (_, i) => logEntry("INFO", `message ${i}`))
  logs.push(logEntry("ERROR", "provider failed", { runId: "abc", agent: "coder" }))

  it("shows the newest entries that fit under its title", () => {
    const frame = render(<LogPane logs={logs} height={4} width={100} color={false} />).lastFrame()
    expect(lines(frame)).toHaveLength(4)
    expect(lines(frame)[0]).toBe("Log")
    expect(frame).toContain("message 18")
    expect(frame).not.toContain("message 17")
  })

  it("shows the level, message and annotations of an entry", () => {
    const frame = render(<LogPane logs={logs} height={4} width={100} color={false} />).lastFrame()
    expect(lines(frame)[3]).toMatch(/ERROR\s+provider failed runId=abc agent=coder$/)
  })
})

describe("Footer", () => {
  it("shows the keys of the run list", () => {
    const frame = render(<Footer keymap={keymap} mode="list" width={100} color={false} />).lastFrame()
    for (const hint of ["↑/k ↓/j select", "Enter detail", "n new run", "x cancel", "/ filter", "? help", "q quit"]) {
      expect(frame).toContain(hint)
    }
  })

  it("shows a notice before the keys", () => {
    const frame = render(<Footer keymap={keymap} mode="newRun" message="starting code…" width={100} color={false} />)
      .lastFrame()
    expect(frame).toMatch(/^starting code… {2}Tab workflow {2}Enter start {2}Esc cancel/)
  })
})

describe("NewRunInput", () => {
  it("shows the workflows with the chosen one bracketed, its description and the typed text", () => {
    const frame = render(
      <NewRunInput workflows={testInfo().workflows} selected={1} text="why is the sky blue" width={100} color={false} />
    ).lastFrame()
    expect(lines(frame)[0]).toContain("code  [research]  summarize")
    expect(lines(frame)[0]).toContain("researches a question")
    expect(lines(frame)[1]).toBe("input › why is the sky blue_")
  })
})

describe("FilterLine", () => {
  it("shows the filter being typed", () => {
    const frame = render(<FilterLine text="fail" editing matched={1} total={4} width={100} color={false} />)
      .lastFrame()
    expect(frame).toMatch(/^\/ fail_/)
  })

  it("shows the applied filter and how many runs pass it", () => {
    const frame = render(<FilterLine text="fail" editing={false} matched={1} total={4} width={100} color={false} />)
      .lastFrame()
    expect(frame).toContain("filter: fail  (1 of 4 runs, Esc clears)")
  })
})

describe("HelpOverlay", () => {
  it("lists the bindings from the keymap", () => {
    const frame = render(<HelpOverlay keymap={keymap} height={40} width={100} color={false} />).lastFrame()
    expect(frame).toContain("x        cancel the selected run")
    expect(frame).toContain("Tab      next workflow")
    expect(frame).toContain("Esc      clear the filter")
  })
})

describe("Block", () => {
  const block = (lines: ReadonlyArray<Pieces>, cuts?: ReadonlyArray<number>) =>
    render(<Block lines={lines} cuts={cuts} height={lines.length} width={40} color={false} />).lastFrame()

  it("shows lines cut into columns exactly as written, blanks included", () => {
    const lines: ReadonlyArray<Pieces> = [
      [{ text: "Runs 1–2 of 2" }],
      [{ text: "  ✔ " }, { text: "r1       code         plan      1.2s" }],
      [{ text: "  ⠋ " }, { text: "r2       research     write    13.4s" }]
    ]
    expect(block(lines, [0, 4, 13, 26])).toBe(lines.map((line) => line.map((piece) => piece.text).join("")).join("\n"))
  })

  it("cuts a line longer than the pane with an ellipsis", () => {
    expect(block([[{ text: "x".repeat(50) }]])).toBe(`${"x".repeat(39)}…`)
  })
})
