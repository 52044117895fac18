/**
 * The event log, the list's filters and paging, and idempotency keys: behaviours every run-history
 * store must have, written once and run on SQLite and PostgreSQL. Each takes a prefix so a store
 * shared by several tests only sees its own runs.
 */
import { Effect, type Layer, Option } from "effect"
import { expect } from "vitest"
import type { StoreOptions } from "../../src/internal/historySql.js"
import { RunHistory, type RunHistoryError } from "../../src/services/RunHistory.js"
import { addUsage, emptyUsage, type WorkflowEvent, WorkflowStarted } from "../../src/services/WorkflowEvents.js"
import { runEvents, twoSteps } from "./historyEvents.js"

const plain = (event: WorkflowEvent) => JSON.parse(JSON.stringify(event)) as unknown

/**
 * Every event of a run comes back from the log in the order it was written, with increasing
 * positions, alone or among other runs' events; a replayed batch appends nothing twice.
 */
export const eventLogReplaysInOrder = (prefix: string) =>
  Effect.gen(function*() {
    const h = yield* RunHistory
    const before = yield* h.lastEventSeq
    const a = runEvents({ runId: `${prefix}-a`, start: 1_000, status: "succeeded", steps: twoSteps })
    const b = runEvents({ runId: `${prefix}-b`, start: 2_000, status: "failed", steps: twoSteps })
    yield* h.recordAll(a)
    yield* h.recordAll(b)
    yield* h.recordAll(a) // a COMMIT whose outcome was unknown, retried

    const all = yield* h.eventsAfter({ after: before, limit: 1_000 })
    expect(all.map((e) => plain(e.event))).toEqual([...a, ...b].map(plain))
    expect(all.every((e, i) => i === 0 || e.seq > all[i - 1]!.seq)).toBe(true)
    expect(yield* h.lastEventSeq).toBe(all.at(-1)!.seq)

    // Resuming after the 5th event of run b gives the rest of b, and only b.
    const ofB = yield* h.eventsAfter({ after: before, runId: `${prefix}-b`, limit: 1_000 })
    expect(ofB.map((e) => plain(e.event))).toEqual(b.map(plain))
    const rest = yield* h.eventsAfter({ after: ofB[4]!.seq, runId: `${prefix}-b`, limit: 1_000 })
    expect(rest.map((e) => plain(e.event))).toEqual(b.slice(5).map(plain))
    // Paged by `limit`.
    const page = yield* h.eventsAfter({ after: before, limit: 3 })
    expect(page.map((e) => e.seq)).toEqual(all.slice(0, 3).map((e) => e.seq))
  })

/** Filters by status and workflow, and keyset pages that stay stable while new runs arrive. */
export const listRunsFiltersAndPages = (prefix: string) =>
  Effect.gen(function*() {
    const h = yield* RunHistory
    const workflow = `${prefix}-wf`
    const statuses = ["succeeded", "failed", "succeeded", "cancelled", "succeeded"] as const
    for (const [i, status] of statuses.entries()) {
      yield* h.recordAll(runEvents({ runId: `${prefix}-${i + 1}`, workflow, start: 10_000 + i, status, steps: twoSteps }))
    }
    yield* h.recordAll(runEvents({ runId: `${prefix}-other`, workflow: `${prefix}-x`, start: 10_010, status: "succeeded", steps: twoSteps }))

    const ids = (runs: ReadonlyArray<{ readonly id: string }>) => runs.map((r) => r.id)
    expect(ids(yield* h.listRuns({ limit: 10, workflow }))).toEqual([5, 4, 3, 2, 1].map((i) => `${prefix}-${i}`))
    expect(ids(yield* h.listRuns({ limit: 10, workflow, status: "succeeded" }))).toEqual([5, 3, 1].map((i) => `${prefix}-${i}`))
    expect(ids(yield* h.listRuns({ limit: 10, workflow, status: "failed" }))).toEqual([`${prefix}-2`])

    const first = yield* h.listRuns({ limit: 2, workflow })
    // A run started meanwhile does not shift the next page.
    yield* h.recordAll(runEvents({ runId: `${prefix}-new`, workflow, start: 10_020, status: "succeeded", steps: twoSteps }))
    const last = first.at(-1)!
    const second = yield* h.listRuns({ limit: 2, workflow, after: { startedAt: last.startedAt, id: last.id } })
    expect(ids(first)).toEqual([`${prefix}-5`, `${prefix}-4`])
    expect(ids(second)).toEqual([`${prefix}-3`, `${prefix}-2`])
  })

/** The run a request with an idempotency key started is found by that key. */
export const idempotencyKeysFindTheirRun = (prefix: string) =>
  Effect.gen(function*() {
    const h = yield* RunHistory
    yield* h.record(new WorkflowStarted({ runId: `${prefix}-k1`, workflow: "w", input: "x", idempotencyKey: `${prefix}-key`, at: 5 }))
    expect(yield* h.findIdempotent(`${prefix}-key`)).toEqual(Option.some(`${prefix}-k1`))
    expect(yield* h.findIdempotent(`${prefix}-nope`)).toEqual(Option.none())
  })

/**
 * A run marked interrupted (its process died) ends in the event log with a `WorkflowFinished`
 * (cancelled, tag `Interrupted`), so SSE followers see it end; marking again appends nothing.
 */
export const interruptedRunsEndInTheLog = (
  prefix: string,
  storeAs: (options: StoreOptions) => Layer.Layer<RunHistory, RunHistoryError>
) =>
  Effect.gen(function*() {
    const runId = `${prefix}-died`
    const events = runEvents({ runId, start: 60_000, status: "succeeded", steps: twoSteps, finish: false }).slice(0, -1)
    yield* Effect.flatMap(RunHistory, (h) => h.recordAll(events)).pipe(
      Effect.provide(storeAs({ owner: { id: `${prefix}-gone`, host: "this-host", pid: 2001 } }))
    )
    const marker = storeAs({ owner: { id: `${prefix}-marker`, host: "this-host", pid: 2002 }, isAlive: () => false })
    const ended = yield* Effect.gen(function*() {
      const h = yield* RunHistory
      yield* h.markInterrupted
      yield* h.markInterrupted
      return yield* h.eventsAfter({ after: 0, runId, limit: 100 })
    }).pipe(Effect.provide(marker))
    expect(ended.map((e) => e.event._tag)).toEqual([...events.map((e) => e._tag), "WorkflowFinished"])
    // What the run had spent when its process died: the calls that finished.
    const spent = events.reduce(
      (sum, e) => e._tag === "LlmCallFinished" ? addUsage(sum, e.usage) : sum,
      emptyUsage
    )
    expect(ended.at(-1)!.event).toMatchObject({ runId, status: "cancelled", error: { tag: "Interrupted" }, usage: spent })
  })
