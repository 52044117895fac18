/**
 * Behaviours every run-history store must have, written once and run on SQLite and PostgreSQL:
 * writes that a retry can repeat, runs of a dead process that never read as running, and the
 * changes a follower of other processes' runs asks for.
 */
import { Effect, Layer, Option, TestClock } from "effect"
import { expect } from "vitest"
import type { StoreOptions } from "../../src/internal/historySql.js"
import { RunHistory, type RunHistoryError } from "../../src/services/RunHistory.js"
import { ToolCallFinished, ToolCallStarted, type WorkflowEvent, WorkflowStarted } from "../../src/services/WorkflowEvents.js"
import { runEvents, twoSteps } from "./historyEvents.js"

const snapshot = (ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const h = yield* RunHistory
    const runs = yield* Effect.forEach(ids, (id) => Effect.map(h.getRun(id), Option.getOrThrow))
    return { runs, totals: yield* h.totals }
  })

/**
 * A batch applied twice — as after a COMMIT that failed on the client but landed on the server —
 * and its events applied once more one by one leave the same runs, calls and totals as once.
 */
export const replayedBatchCountsOnce = (prefix: string) =>
  Effect.gen(function*() {
    const h = yield* RunHistory
    const done = runEvents({ runId: `${prefix}-done`, start: 1_000, status: "succeeded", steps: twoSteps })
    const open = runEvents({ runId: `${prefix}-open`, start: 2_000, status: "succeeded", steps: twoSteps, finish: false })
    const before = yield* h.totals
    const batch = [...done, ...open]
    yield* h.recordAll(batch)
    const once = yield* snapshot([`${prefix}-done`, `${prefix}-open`])
    yield* h.recordAll(batch)
    yield* Effect.forEach(batch, h.record, { discard: true })
    const thrice = yield* snapshot([`${prefix}-done`, `${prefix}-open`])

    expect(thrice).toEqual(once)
    const [finished, running] = thrice.runs
    expect(finished!.llmCalls).toHaveLength(3)
    expect(finished!.inputTokens).toBe(450)
    expect(running!.status).toBe("running")
    expect(running!.inputTokens).toBe(450) // an unfinished run's sums come from its calls, once each
    expect(thrice.totals.runs - before.runs).toBe(2)
    expect(thrice.totals.inputTokens - before.inputTokens).toBe(900)
    expect(thrice.totals.costUsd - before.costUsd).toBeCloseTo(0.01, 10)
  })

/**
 * Runs left `running` by a process that is gone read as `interrupted` (with their unfinished
 * steps) in `listRuns` and `getRun` before anyone calls `markInterrupted`; runs of a live process
 * of this host and of another host read as `running`.
 */
export const deadRunsReadInterrupted = (
  prefix: string,
  storeAs: (options: StoreOptions) => Layer.Layer<RunHistory, RunHistoryError>
) =>
  Effect.gen(function*() {
    const write = (runId: string, owner: { id: string; host: string; pid: number }) =>
      Effect.flatMap(RunHistory, (h) =>
        h.recordAll(runEvents({ runId, start: 50_000, status: "succeeded", steps: twoSteps, finish: false }).slice(0, -1))
      ).pipe(Effect.provide(storeAs({ owner })))
    yield* write(`${prefix}-dead`, { id: `${prefix}-a`, host: "this-host", pid: 1001 })
    yield* write(`${prefix}-alive`, { id: `${prefix}-b`, host: "this-host", pid: 1002 })
    yield* write(`${prefix}-far`, { id: `${prefix}-c`, host: "other-host", pid: 1001 })

    const reader = storeAs({ owner: { id: `${prefix}-reader`, host: "this-host", pid: 1003 }, isAlive: (pid) => pid === 1002 })
    const { listed, dead } = yield* Effect.gen(function*() {
      const h = yield* RunHistory
      const runs = yield* h.listRuns({ limit: 1_000 })
      const listed = Object.fromEntries(runs.filter((r) => r.id.startsWith(prefix)).map((r) => [r.id, r.status]))
      return { listed, dead: Option.getOrThrow(yield* h.getRun(`${prefix}-dead`)) }
    }).pipe(Effect.provide(reader))

    expect(listed).toEqual({ [`${prefix}-dead`]: "interrupted", [`${prefix}-alive`]: "running", [`${prefix}-far`]: "running" })
    expect(dead.status).toBe("interrupted")
    expect(dead.steps.map((s) => s.status)).toEqual(["succeeded", "interrupted"])
  })

/**
 * `changedRuns` follows what another store (another process) writes: a run appears when it
 * starts, again when a step or the finish lands, stamped with the writer's clock; a reader asking
 * from after a change no longer sees it; its own runs are left out when it asks for `others`.
 */
export const changedRunsFollowOtherWriters = (
  prefix: string,
  storeAs: (options: StoreOptions) => Layer.Layer<RunHistory, RunHistoryError>
) =>
  Effect.gen(function*() {
    // Each store opened once, as a process keeps its own.
    const writer = yield* Layer.build(storeAs({ owner: { id: `${prefix}-w`, host: "this-host", pid: 2001 }, isAlive: () => true }))
    const reader = yield* Layer.build(storeAs({ owner: { id: `${prefix}-r`, host: "this-host", pid: 2002 }, isAlive: () => true }))
    const write = (events: ReadonlyArray<WorkflowEvent>, layer = writer) =>
      Effect.flatMap(RunHistory, (h) => h.recordAll(events)).pipe(Effect.provide(layer))
    const changed = (since: number, writers: "all" | "others" = "others", limit = 100) =>
      Effect.flatMap(RunHistory, (h) => h.changedRuns({ since, limit, writers })).pipe(
        Effect.map((runs) => runs.filter((r) => r.id.startsWith(prefix))),
        Effect.provide(reader)
      )
    const events = runEvents({ runId: `${prefix}-1`, start: 100, status: "succeeded", steps: twoSteps })
    const firstStepStarted = events.findIndex((e) => e._tag === "StepStarted")
    const secondStepStarted = events.findIndex((e, i) => i > firstStepStarted && e._tag === "StepStarted")

    yield* TestClock.setTime(1_000)
    yield* write(events.slice(0, firstStepStarted))
    const started = yield* changed(0)
    expect(started).toMatchObject([{ id: `${prefix}-1`, status: "running", updatedAt: 1_000, local: false, host: "this-host", pid: 2001 }])

    // A step landing changes the run too, with the steps so far.
    yield* TestClock.setTime(2_000)
    yield* write(events.slice(firstStepStarted, secondStepStarted))
    const stepped = yield* changed(1_001)
    expect(stepped.map((r) => [r.status, r.updatedAt, r.steps.map((s) => s.status)])).toEqual([["running", 2_000, ["succeeded"]]])
    expect(stepped[0]!.inputTokens).toBe(100)

    // The reader's own run is not another process's.
    yield* TestClock.setTime(2_500)
    yield* write(runEvents({ runId: `${prefix}-own`, start: 200, status: "failed", steps: twoSteps }), reader)
    expect((yield* changed(2_001)).map((r) => r.id)).toEqual([])
    expect((yield* changed(2_001, "all")).map((r) => [r.id, r.local])).toEqual([[`${prefix}-own`, true]])

    yield* TestClock.setTime(3_000)
    yield* write(events.slice(secondStepStarted))
    const finished = yield* changed(2_001)
    expect(finished).toMatchObject([{ id: `${prefix}-1`, status: "succeeded", updatedAt: 3_000, inputTokens: 450 }])
    expect(finished[0]!.steps.map((s) => s.agent)).toEqual(["planner", "writer"])
    expect(yield* changed(3_001)).toEqual([])

    // Least recently changed first, at most `limit`.
    yield* TestClock.setTime(4_000)
    yield* write(runEvents({ runId: `${prefix}-2`, start: 300, status: "succeeded", steps: twoSteps, finish: false }).slice(0, 1))
    expect((yield* changed(1, "all", 2)).map((r) => r.id)).toEqual([`${prefix}-own`, `${prefix}-1`])
    expect((yield* changed(1, "others")).map((r) => r.id)).toEqual([`${prefix}-1`, `${prefix}-2`])
  }).pipe(Effect.scoped)

/**
 * A run's trace id (its spans were exported) is kept from its `WorkflowStarted`, in the list and
 * the detail, also when the start lands after the finish; a run without one has none.
 */
export const traceIdKept = (prefix: string) =>
  Effect.gen(function*() {
    const h = yield* RunHistory
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
    const withTrace = (events: ReadonlyArray<WorkflowEvent>) =>
      events.map((e) => e._tag === "WorkflowStarted" ? new WorkflowStarted({ ...e, traceId }) : e)
    yield* h.recordAll(withTrace(runEvents({ runId: `${prefix}-traced`, start: 7_000, status: "succeeded", steps: twoSteps })))
    const late = withTrace(runEvents({ runId: `${prefix}-late`, start: 7_100, status: "failed", steps: twoSteps }))
    yield* h.recordAll([...late.slice(1), late[0]!])
    yield* h.recordAll(runEvents({ runId: `${prefix}-plain`, start: 7_200, status: "succeeded", steps: twoSteps }))

    const listed = (yield* h.listRuns({ limit: 1_000 })).filter((r) => r.id.startsWith(prefix))
    expect(Object.fromEntries(listed.map((r) => [r.id, r.traceId]))).toEqual({
      [`${prefix}-traced`]: traceId,
      [`${prefix}-late`]: traceId,
      [`${prefix}-plain`]: undefined
    })
    expect(Option.getOrThrow(yield* h.getRun(`${prefix}-traced`)).traceId).toBe(traceId)
    expect(Option.getOrThrow(yield* h.getRun(`${prefix}-plain`))).not.toHaveProperty("traceId")
  })

/**
 * A run's tool calls are read back from the event log with the run, in the order they finished;
 * their starts and other runs' calls are not among them.
 */
export const toolCallsRead = (prefix: string) =>
  Effect.gen(function*() {
    const h = yield* RunHistory
    const runId = `${prefix}-tools`
    const ids = (callId: string, tool: string) => ({ runId, stepId: "s1", agent: "explorer", tool, callId })
    const events = runEvents({ runId, start: 9_000, status: "succeeded", steps: twoSteps })
    const calls: ReadonlyArray<WorkflowEvent> = [
      new ToolCallStarted({ ...ids("c1", "searchFiles"), arguments: "{\"query\":\"retry\"}", at: 9_010 }),
      new ToolCallFinished({
        ...ids("c2", "readFile"),
        arguments: "{\"path\":\"x\"}",
        status: "error",
        error: { tag: "FileToolError", message: "not found" },
        durationMs: 3,
        at: 9_011
      }),
      new ToolCallFinished({ ...ids("c1", "searchFiles"), arguments: "{\"query\":\"retry\"}", status: "success", result: "[]", durationMs: 5, at: 9_015 }),
      new ToolCallFinished({ ...ids("c9", "readFile"), runId: `${prefix}-other`, arguments: "{}", status: "success", durationMs: 1, at: 9_016 })
    ]
    yield* h.recordAll([...events.slice(0, 2), ...calls, ...events.slice(2)])
    const run = Option.getOrThrow(yield* h.getRun(runId))
    expect(run.toolCalls).toEqual([
      { stepId: "s1", agent: "explorer", tool: "readFile", callId: "c2", arguments: "{\"path\":\"x\"}", status: "error", error: { tag: "FileToolError", message: "not found" }, durationMs: 3, at: 9_011 },
      { stepId: "s1", agent: "explorer", tool: "searchFiles", callId: "c1", arguments: "{\"query\":\"retry\"}", status: "success", result: "[]", durationMs: 5, at: 9_015 }
    ])
  })
