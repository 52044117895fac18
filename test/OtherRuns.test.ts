import { describe, expect, it } from "@effect/vitest"
import { HashMap, Option } from "effect"
import type { RunChange, StepRecord } from "../src/services/RunHistory.js"
import { WorkflowStarted } from "../src/services/WorkflowEvents.js"
import { merge } from "../src/state/OtherRuns.js"
import * as State from "../src/state/WorkflowState.js"

const step = (status: StepRecord["status"], extra: Partial<StepRecord> = {}): StepRecord => ({
  stepId: "step-1",
  label: "classify",
  agent: "classifier",
  status,
  startedAt: 1_010,
  cached: false,
  attempts: 1,
  calls: 1,
  inputTokens: 10,
  outputTokens: 5,
  costUsd: 0.001,
  ...extra
})

const change = (status: RunChange["status"], extra: Partial<RunChange> = {}): RunChange => ({
  id: "other-1",
  workflow: "triage",
  status,
  startedAt: 1_000,
  inputTokens: 10,
  outputTokens: 5,
  costUsd: 0.001,
  updatedAt: 1_100,
  local: false,
  host: "box",
  pid: 4242,
  steps: [step(status === "running" ? "running" : "succeeded")],
  ...extra
})

const run = (state: State.DashboardState, id = "other-1") => Option.getOrThrow(State.findRun(state, id))

describe("runs of other processes in the dashboard state", () => {
  it("a running run of another process is listed as running, with its current step and who runs it", () => {
    const state = merge(State.initialState, [change("running")])
    expect(run(state)).toMatchObject({
      status: "running",
      workflow: "triage",
      currentStep: "classify",
      origin: { host: "box", pid: 4242 },
      usage: { inputTokens: 10, outputTokens: 5 }
    })
    expect(state.totals).toMatchObject({ running: 1, costUsd: 0.001, llmCalls: 1 })
  })

  it("when it finishes it moves to the finished runs and the totals count it once", () => {
    const running = merge(State.initialState, [change("running")])
    const done = change("succeeded", {
      updatedAt: 1_200,
      finishedAt: 1_150,
      durationMs: 150,
      inputTokens: 30,
      outputTokens: 9,
      costUsd: 0.003,
      output: { team: "billing" },
      steps: [step("succeeded", { inputTokens: 30, outputTokens: 9, costUsd: 0.003, calls: 2 })]
    })
    const state = merge(running, [done, done])
    expect(HashMap.size(state.active)).toBe(0)
    expect(state.finished.map((r) => [r.runId, r.status, r.output])).toEqual([["other-1", "succeeded", "{\"team\":\"billing\"}"]])
    expect(state.totals).toMatchObject({ running: 0, succeeded: 1, llmCalls: 2, usage: { inputTokens: 30, outputTokens: 9 } })
    expect(state.totals.costUsd).toBeCloseTo(0.003, 10)
  })

  it("a run whose process died shows as cancelled with an Interrupted error", () => {
    const state = merge(State.initialState, [change("interrupted", { steps: [step("interrupted")] })])
    expect(run(state)).toMatchObject({ status: "cancelled", error: { tag: "Interrupted" } })
    expect(run(state).steps[0]!.status).toBe("cancelled")
    expect(state.totals.cancelled).toBe(1)
  })

  it("runs this process's events describe are never overwritten from the history", () => {
    const own = State.reduce(State.initialState, new WorkflowStarted({ runId: "other-1", workflow: "triage", input: "x", at: 1_000 }))
    const state = merge(own, [change("succeeded"), change("running", { id: "mine", local: true })])
    expect(run(state)).toMatchObject({ status: "running", origin: undefined })
    expect(Option.isNone(State.findRun(state, "mine"))).toBe(true)
    expect(state.totals.running).toBe(1)
  })

  it("keeps at most the configured number of finished runs", () => {
    const changes = Array.from({ length: 5 }, (_, i) => change("failed", { id: `r${i}`, error: { tag: "Timeout", message: "slow" } }))
    const state = merge(State.makeState({ maxFinished: 3 }), changes)
    expect(state.finished.map((r) => r.runId)).toEqual(["r4", "r3", "r2"])
    expect(state.totals.failed).toBe(5)
  })
})
