/**
 * Behaviours every run-history store must have, written once and run on SQLite and PostgreSQL:
 * writes that a retry can repeat, and runs of a dead process that never read as running.
 */
import { Effect, type Layer, Option } from "effect"
import { expect } from "vitest"
import type { StoreOptions } from "../../src/internal/historySql.js"
import { RunHistory, type RunHistoryError } from "../../src/services/RunHistory.js"
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
