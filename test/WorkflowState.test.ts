import { describe, expect, it } from "@effect/vitest"
import { HashMap, Option } from "effect"
import {
  AnswerDelta,
  CircuitStateChanged,
  LlmCallFinished,
  LlmCallStarted,
  RateLimited,
  Retrying,
  StepFinished,
  StepStarted,
  ToolCallFinished,
  ToolCallStarted,
  type WorkflowEvent,
  WorkflowFinished,
  WorkflowStarted
} from "../src/services/WorkflowEvents.js"
import * as State from "../src/state/WorkflowState.js"

const started = (runId: string, at = 0) => new WorkflowStarted({ runId, workflow: "research", input: "q", at })
const finished = (runId: string, status: "succeeded" | "failed" | "cancelled", at = 100) =>
  new WorkflowFinished({
    runId,
    workflow: "research",
    status,
    ...(status === "succeeded" ? { output: { answer: "x".repeat(1000) } } : {}),
    ...(status === "failed" ? { error: { tag: "Timeout", message: "too slow" } } : {}),
    usage: { inputTokens: 30, outputTokens: 12 },
    costUsd: 0.003,
    durationMs: at,
    at
  })
const stepStarted = (runId: string, stepId: string, label: string, at = 1) =>
  new StepStarted({ runId, stepId, label, agent: "researcher", at })
const stepFinished = (runId: string, stepId: string, label: string, at = 50) =>
  new StepFinished({
    runId,
    stepId,
    label,
    status: "succeeded",
    durationMs: 49,
    cached: false,
    attempts: 2,
    calls: 1,
    usage: { inputTokens: 10, outputTokens: 4 },
    costUsd: 0.001,
    output: "fine",
    at
  })
const call = (runId: string | undefined, stepId: string | undefined, fields: { cached?: boolean; error?: boolean } = {}) =>
  new LlmCallFinished({
    ...(runId === undefined ? {} : { runId }),
    ...(stepId === undefined ? {} : { stepId }),
    agent: "researcher",
    model: "m",
    provider: "p",
    cached: fields.cached ?? false,
    attempt: 1,
    usage: { inputTokens: 10, outputTokens: 4 },
    costUsd: fields.cached ? 0 : 0.001,
    durationMs: 20,
    status: fields.error ? "error" : "success",
    at: 10
  })

const fold = (events: ReadonlyArray<WorkflowEvent>, state = State.initialState) => State.reduceAll(state, events)

const run = (state: State.DashboardState, runId: string) => Option.getOrThrow(State.findRun(state, runId))

describe("WorkflowState.reduce", () => {
  it("shows a started run as running with no steps", () => {
    const state = fold([started("r1", 5)])
    expect(state.totals.running).toBe(1)
    expect(run(state, "r1")).toMatchObject({ workflow: "research", status: "running", startedAt: 5, steps: [] })
  })

  it("tracks the current step and the step's agent, status and numbers", () => {
    const state = fold([started("r1"), stepStarted("r1", "s1", "decompose")])
    expect(run(state, "r1").currentStep).toBe("decompose")
    const after = fold([stepFinished("r1", "s1", "decompose")], state)
    expect(run(after, "r1").currentStep).toBeUndefined()
    expect(run(after, "r1").steps).toEqual([
      expect.objectContaining({
        label: "decompose",
        agent: "researcher",
        status: "succeeded",
        durationMs: 49,
        attempts: 2,
        usage: { inputTokens: 10, outputTokens: 4 },
        costUsd: 0.001,
        output: "fine"
      })
    ])
  })

  it("shows a durable run resumed by another worker once: its steps started again replace the old ones", () => {
    const before = [started("r1"), stepStarted("r1", "s1", "decompose"), stepFinished("r1", "s1", "decompose"), stepStarted("r1", "s2", "answer 1")]
    const resumed = [started("r1", 500), stepStarted("r1", "s1", "decompose", 501), stepFinished("r1", "s1", "decompose", 502), stepStarted("r1", "s2", "answer 1", 503)]
    const state = fold([...before, ...resumed])
    expect(state.totals.running).toBe(1)
    expect(run(state, "r1").steps.map((s) => [s.stepId, s.status])).toEqual([["s1", "succeeded"], ["s2", "running"]])
  })

  it("keeps showing a parallel step that is still running when another finishes", () => {
    const state = fold([
      started("r1"),
      stepStarted("r1", "s1", "answer 1"),
      stepStarted("r1", "s2", "answer 2"),
      stepFinished("r1", "s2", "answer 2")
    ])
    expect(run(state, "r1").currentStep).toBe("answer 1")
  })

  it("adds LLM calls to the run, the step and the totals while the run is going", () => {
    const state = fold([
      started("r1"),
      stepStarted("r1", "s1", "decompose"),
      new LlmCallStarted({ runId: "r1", stepId: "s1", model: "m", provider: "p", attempt: 1, at: 2 }),
      call("r1", "s1"),
      call("r1", "s1", { cached: true })
    ])
    const r = run(state, "r1")
    expect(r.usage).toEqual({ inputTokens: 20, outputTokens: 8 })
    expect(r.costUsd).toBeCloseTo(0.001)
    expect(r.llmCalls).toBe(2)
    expect(r.steps[0]).toMatchObject({ calls: 2, attempts: 1, usage: { inputTokens: 20, outputTokens: 8 } })
    expect(state.totals).toMatchObject({ llmCalls: 2, cacheHits: 1, usage: { inputTokens: 20, outputTokens: 8 } })
    expect(State.cacheHitRate(state.totals)).toBe(0.5)
  })

  it("counts calls made outside any run in the totals only", () => {
    const state = fold([call(undefined, undefined), call(undefined, undefined, { error: true })])
    expect(state.totals.llmCalls).toBe(2)
    expect(state.totals.llmErrors).toBe(1)
    expect(HashMap.size(state.active)).toBe(0)
  })

  it("moves a finished run to the finished list with its status, totals and truncated output", () => {
    const state = fold([started("r1"), started("r2"), finished("r1", "succeeded", 100), finished("r2", "failed", 120)])
    expect(state.totals).toMatchObject({ running: 0, succeeded: 1, failed: 1, cancelled: 0 })
    expect(state.finished.map((r) => r.runId)).toEqual(["r2", "r1"])
    const r1 = run(state, "r1")
    expect(r1).toMatchObject({ status: "succeeded", finishedAt: 100, durationMs: 100, costUsd: 0.003 })
    expect(r1.output!.length).toBeLessThanOrEqual(state.limits.maxOutputChars)
    expect(run(state, "r2").error).toEqual({ tag: "Timeout", message: "too slow" })
  })

  it("counts cancelled runs", () => {
    const state = fold([started("r1"), finished("r1", "cancelled")])
    expect(state.totals.cancelled).toBe(1)
    expect(run(state, "r1").status).toBe("cancelled")
  })

  it("keeps only the newest finished runs", () => {
    const events: Array<WorkflowEvent> = []
    for (let i = 0; i < 10; i++) events.push(started(`r${i}`, i), finished(`r${i}`, "succeeded", 100 + i))
    const state = fold(events, State.makeState({ maxFinished: 3 }))
    expect(state.finished.map((r) => r.runId)).toEqual(["r9", "r8", "r7"])
    expect(state.totals.succeeded).toBe(10)
  })

  it("keeps only the newest steps of a run", () => {
    const events: Array<WorkflowEvent> = [started("r1")]
    for (let i = 0; i < 8; i++) events.push(stepStarted("r1", `s${i}`, `step ${i}`))
    const state = fold(events, State.makeState({ maxSteps: 5 }))
    expect(run(state, "r1").steps.map((s) => s.stepId)).toEqual(["s3", "s4", "s5", "s6", "s7"])
  })

  it("records a run that finished before the dashboard saw it start", () => {
    const state = fold([finished("late", "succeeded", 500)])
    expect(run(state, "late")).toMatchObject({ status: "succeeded", startedAt: 0 })
    expect(state.totals.running).toBe(0)
  })

  it("ignores step events of runs it does not know", () => {
    const state = fold([stepStarted("ghost", "s1", "x")])
    expect(HashMap.size(state.active)).toBe(0)
  })

  it("counts retries and rate-limit waits", () => {
    const state = fold([
      new Retrying({ model: "m", attempt: 1, delayMs: 500, reason: "RateLimited", at: 1 }),
      new Retrying({ model: "m", attempt: 2, delayMs: 900, reason: "Timeout", at: 2 }),
      new RateLimited({ key: "p:m", waitMs: 250, at: 3 })
    ])
    expect(state.totals).toMatchObject({ retries: 2, rateLimitWaits: 1, rateLimitWaitMs: 250 })
  })

  it("shows each circuit breaker's latest state", () => {
    const state = fold([
      new CircuitStateChanged({ breaker: "p:a", from: "closed", to: "open", retryAt: 30_000, at: 1 }),
      new CircuitStateChanged({ breaker: "p:b", from: "closed", to: "open", retryAt: 40_000, at: 2 }),
      new CircuitStateChanged({ breaker: "p:a", from: "open", to: "half-open", at: 30_000 })
    ])
    expect(state.breakers["p:a"]).toEqual({ breaker: "p:a", state: "half-open", retryAt: undefined, since: 30_000 })
    expect(state.breakers["p:b"]?.state).toBe("open")
  })

  it("does not change the state it was given", () => {
    const before = fold([started("r1"), stepStarted("r1", "s1", "a")])
    const snapshot = JSON.stringify({ ...before, active: HashMap.toEntries(before.active) })
    fold([call("r1", "s1"), stepFinished("r1", "s1", "a"), finished("r1", "succeeded")], before)
    expect(JSON.stringify({ ...before, active: HashMap.toEntries(before.active) })).toBe(snapshot)
  })

  it("lists active runs oldest first and measures their elapsed time from now", () => {
    const state = fold([started("b", 20), started("a", 10)])
    expect(State.activeRuns(state).map((r) => r.runId)).toEqual(["a", "b"])
    expect(State.elapsedMs(run(state, "a"), 110)).toBe(100)
  })

  // How the cost per event grows with the runs in flight is measured by bench/tui-render.tsx
  // (its "events only" rows, 1,000 vs 10 running), not timed here.
  it("folds 8,000 calls over 1,000 concurrent runs into each run's and the dashboard's totals", () => {
    const events: Array<WorkflowEvent> = []
    for (let i = 0; i < 1000; i++) events.push(started(`r${i}`, i), stepStarted(`r${i}`, "s1", "step"))
    for (let n = 0; n < 8_000; n++) events.push(call(`r${n % 1000}`, "s1"))
    const midway = fold(events)
    expect(midway.totals).toMatchObject({ running: 1000, llmCalls: 8_000 })
    expect(HashMap.unsafeGet(midway.active, "r7").llmCalls).toBe(8)
    for (let i = 0; i < 1000; i++) events.push(stepFinished(`r${i}`, "s1", "step"), finished(`r${i}`, "succeeded"))
    expect(fold(events).totals).toMatchObject({ running: 0, succeeded: 1000, llmCalls: 8_000 })
  })
})

describe("WorkflowState.reduceAll", () => {
  /** A state as plain data: running runs as entries sorted by id. */
  const plain = (state: State.DashboardState) => ({
    ...state,
    active: HashMap.toEntries(state.active).sort(([a], [b]) => a.localeCompare(b))
  })

  /** A mixed stream over 40 runs: starts, steps, calls (some cached or failed), finishes, retries. */
  const stream = (): Array<WorkflowEvent> => {
    const events: Array<WorkflowEvent> = []
    for (let i = 0; i < 40; i++) {
      const id = `r${i}`
      events.push(started(id, i), stepStarted(id, "s1", "plan", i + 1), call(id, "s1", { cached: i % 3 === 0 }))
      if (i % 4 === 0) events.push(new Retrying({ model: "m", attempt: 1, delayMs: 10, reason: "Timeout", at: i }))
      events.push(call(id, "s1", { error: i % 5 === 0 }), stepFinished(id, "s1", "plan", i + 2))
      if (i % 2 === 0) events.push(stepStarted(id, "s2", "write", i + 3), finished(id, i % 6 === 0 ? "failed" : "succeeded", 200 + i))
      events.push(stepStarted(`ghost${i}`, "s1", "x"))
    }
    return events
  }

  it("gives the same state as the events folded one at a time, whatever the batches", () => {
    const events = stream()
    const oneByOne = events.reduce(State.reduce, State.makeState({ maxFinished: 7, maxSteps: 1 }))
    for (const size of [1, 2, 7, 31, events.length]) {
      let batched = State.makeState({ maxFinished: 7, maxSteps: 1 })
      for (let i = 0; i < events.length; i += size) batched = State.reduceAll(batched, events.slice(i, i + size))
      expect(plain(batched)).toEqual(plain(oneByOne))
    }
  })

  it("leaves the state it was given as it was when two batches fold onto it", () => {
    const before = fold(stream().slice(0, 150))
    const snapshot = structuredClone(plain(before))
    const rest = stream().slice(150)
    const a = fold(rest, before)
    const b = fold(rest.slice(0, 40), before)
    expect(plain(before)).toEqual(snapshot)
    expect(plain(a)).toEqual(plain(rest.reduce(State.reduce, before)))
    expect(plain(b)).toEqual(plain(rest.slice(0, 40).reduce(State.reduce, before)))
  })

  it("returns the very state when the events change nothing, and keeps what they did not change", () => {
    const state = fold([started("r1", 5), stepStarted("r1", "s1", "plan", 6)])
    const nothing = [
      new LlmCallStarted({ runId: "r1", stepId: "s1", model: "m", provider: "p", attempt: 1, at: 6 }),
      stepStarted("ghost", "s1", "x", 3)
    ]
    expect(fold(nothing, state)).toBe(state)
    expect(fold([], state)).toBe(state)
    // Only counters changed: the runs keep their identity, so the dashboard's list is not rebuilt.
    const counted = fold([new Retrying({ model: "m", attempt: 1, delayMs: 10, reason: "Timeout", at: 7 })], state)
    expect(counted.totals.retries).toBe(1)
    expect(counted.active).toBe(state.active)
    expect(counted.finished).toBe(state.finished)
  })
})

describe("tool calls", () => {
  const ids = (callId: string, tool = "readFile") => ({ runId: "r1", stepId: "s1", agent: "reader", tool, callId })
  const toolStarted = (callId: string, at: number, tool?: string) =>
    new ToolCallStarted({ ...ids(callId, tool), arguments: `{"path":"${callId}.txt"}`, at })
  const toolFinished = (callId: string, at: number, status: "success" | "error" = "success") =>
    new ToolCallFinished({
      ...ids(callId),
      arguments: `{"path":"${callId}.txt"}`,
      status,
      ...(status === "success" ? { result: `contents of ${callId}` } : { error: { tag: "NotFound", message: "no such file" } }),
      durationMs: at - 10,
      at
    })

  it("lists a step's tool calls in the order they started, each updated in place when it ends", () => {
    const state = State.reduceAll(State.initialState, [
      started("r1"),
      stepStarted("r1", "s1", "read", 1),
      toolStarted("a", 10),
      toolStarted("b", 11, "search"),
      toolFinished("b", 20, "error"),
      toolFinished("a", 30)
    ])
    const step = Option.getOrThrow(State.findRun(state, "r1")).steps[0]!
    expect(step.tools.map((c) => [c.callId, c.status, c.durationMs, c.result, c.error?.tag])).toEqual([
      ["a", "success", 20, "contents of a", undefined],
      ["b", "error", 10, undefined, "NotFound"]
    ])
    expect(step.tools[0]!.arguments).toBe("{\"path\":\"a.txt\"}")
  })

  it("keeps the newest maxToolCalls calls of a step", () => {
    const events: Array<WorkflowEvent> = [started("r1"), stepStarted("r1", "s1", "read", 1)]
    for (let i = 0; i < 5; i++) events.push(toolStarted(`c${i}`, 10 + i))
    const state = State.reduceAll(State.makeState({ maxToolCalls: 3 }), events)
    expect(Option.getOrThrow(State.findRun(state, "r1")).steps[0]!.tools.map((c) => c.callId)).toEqual(["c2", "c3", "c4"])
  })
})

describe("WorkflowState streamed answers", () => {
  const delta = (text: string, at = 10) => new AnswerDelta({ runId: "r", stepId: "s1", agent: "researcher", text, at })
  const answerOf = (state: State.DashboardState) =>
    Option.getOrThrow(State.findRun(state, "r")).steps[0]!.answer

  it("appends each AnswerDelta to the running step's answer, keeping its last maxAnswerChars", () => {
    const base = [started("r"), stepStarted("r", "s1", "search")]
    expect(answerOf(State.reduceAll(State.makeState(), [...base, delta("Hello"), delta(", world")]))).toBe("Hello, world")
    const capped = State.reduceAll(State.makeState({ maxAnswerChars: 8 }), [...base, delta("abcdefgh"), delta("ijk")])
    expect(answerOf(capped)).toBe("defghijk")
  })

  it("drops the answer when the step finishes, and ignores deltas of unknown runs", () => {
    const state = State.reduceAll(State.makeState(), [started("r"), stepStarted("r", "s1", "search"), delta("Hi"), stepFinished("r", "s1", "search")])
    expect(answerOf(state)).toBeUndefined()
    const other = State.reduce(state, new AnswerDelta({ runId: "nope", text: "x", at: 60 }))
    expect(other.active).toBe(state.active)
  })
})
