/**
 * The run history on a real PostgreSQL server (DATABASE_URL_PG, set by .ci/run). Each test file run
 * gets its own database, created and dropped here, so parallel runs never share tables.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import pg from "pg"
import * as RunHistoryFromConfig from "../src/layers/RunHistoryFromConfig.js"
import * as RunHistoryPostgres from "../src/layers/RunHistoryPostgres.js"
import { RunHistory } from "../src/services/RunHistory.js"
import { testConfigLayer } from "./support/config.js"
import { changedRunsFollowOtherWriters, deadRunsReadInterrupted, replayedBatchCountsOnce, toolCallsRead, traceIdKept } from "./support/historyContract.js"
import { eventLogReplaysInOrder, idempotencyKeysFindTheirRun, interruptedRunsEndInTheLog, listRunsFiltersAndPages } from "./support/historyEventLog.js"
import { runEvents, twoSteps } from "./support/historyEvents.js"

const adminUrl = process.env["DATABASE_URL_PG"]
const database = `ea_history_${process.pid}_${Date.now()}`

const withAdmin = async (sql: string): Promise<void> => {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

const testUrl = (): string => {
  const url = new URL(adminUrl!)
  url.pathname = `/${database}`
  return url.toString()
}

describe.runIf(adminUrl !== undefined)("RunHistory on PostgreSQL", () => {
  // Fails (not skips) when DATABASE_URL_PG is set but the server is unreachable.
  beforeAll(() => withAdmin(`CREATE DATABASE ${database}`))
  afterAll(() => withAdmin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))

  const layer = () => RunHistoryPostgres.layer(Redacted.make(testUrl()))

  it.effect("records runs, steps and calls, and lists them newest first with totals", () =>
    Effect.gen(function*() {
      const history = yield* RunHistory
      yield* history.recordAll(runEvents({ runId: "pg-1", start: 1_000, status: "succeeded", steps: twoSteps }))
      yield* history.recordAll(runEvents({ runId: "pg-2", start: 5_000, status: "failed", steps: twoSteps.slice(0, 1) }))
      const runs = yield* history.listRuns({ limit: 10 })
      expect(runs.map((r) => r.id)).toEqual(["pg-2", "pg-1"])
      const ok = runs.find((r) => r.id === "pg-1")!
      expect(ok.status).toBe("succeeded")
      expect(ok.inputTokens).toBe(450)
      expect(ok.outputTokens).toBe(110)
      expect(ok.costUsd).toBeCloseTo(0.005, 10)
      expect(runs.find((r) => r.id === "pg-2")!.error?.tag).toBe("OutputParseError")
      const detail = Option.getOrThrow(yield* history.getRun("pg-1"))
      expect(detail.steps.map((s) => s.agent)).toEqual(["planner", "writer"])
      expect(detail.llmCalls).toHaveLength(3)
      expect(detail.output).toEqual({ answer: "a-pg-1", n: 1 })
      const totals = yield* history.totals
      expect(totals.runs).toBe(2)
      expect(totals.inputTokens).toBe(runs.reduce((sum, r) => sum + r.inputTokens, 0))
      expect(totals.costUsd).toBeCloseTo(runs.reduce((sum, r) => sum + r.costUsd, 0), 10)
    }).pipe(Effect.provide(layer())))

  it.effect("a run left running by a dead process is marked interrupted", () =>
    Effect.gen(function*() {
      // Written by a "process" whose pid is dead, as after kill -9.
      yield* Effect.flatMap(RunHistory, (h) =>
        h.recordAll(runEvents({ runId: "pg-crash", start: 9_000, status: "succeeded", steps: twoSteps, finish: false }))
      ).pipe(
        Effect.provide(RunHistoryPostgres.layer(Redacted.make(testUrl()), {
          owner: { id: "dead-store", host: "this-host", pid: 999_999 },
          isAlive: () => false
        }))
      )
      const marked = yield* Effect.flatMap(RunHistory, (h) => h.markInterrupted).pipe(
        Effect.provide(RunHistoryPostgres.layer(Redacted.make(testUrl()), { isAlive: () => false }))
      )
      expect(marked).toBeGreaterThanOrEqual(1)
      const run = yield* Effect.flatMap(RunHistory, (h) => h.getRun("pg-crash")).pipe(Effect.provide(layer()))
      expect(Option.getOrThrow(run).status).toBe("interrupted")
    }))

  it.effect("a run's tool calls are read back with it from the event log, in the order they finished", () =>
    toolCallsRead("pgtc").pipe(Effect.provide(layer())))

  it.effect("a run's trace id is kept from its start, in the list and the detail", () =>
    traceIdKept("pgt").pipe(Effect.provide(layer())))

  it.effect("a batch applied twice and then event by event counts every LLM call once", () =>
    replayedBatchCountsOnce("pg").pipe(Effect.provide(layer())))

  it.effect("runs of a dead process read as interrupted before anyone marks them; live and remote runs read as running", () =>
    deadRunsReadInterrupted("pgr", (options) => RunHistoryPostgres.layer(Redacted.make(testUrl()), options)))

  it.effect("changedRuns follows the runs another store writes: started, stepped, finished; not its own", () =>
    changedRunsFollowOtherWriters("pgc", (options) => RunHistoryPostgres.layer(Redacted.make(testUrl()), options)))

  it.effect("the event log replays every event in order, per run or all, and a replayed batch appends nothing twice", () =>
    eventLogReplaysInOrder("pge").pipe(Effect.provide(layer())))

  it.effect("listRuns filters by status and workflow and pages by cursor, stable while runs arrive", () =>
    listRunsFiltersAndPages("pgl").pipe(Effect.provide(layer())))

  it.effect("a run is found by the idempotency key of the request that started it", () =>
    idempotencyKeysFindTheirRun("pgk").pipe(Effect.provide(layer())))

  it.effect("a run marked interrupted ends in the event log, once", () =>
    interruptedRunsEndInTheLog("pgi", (options) => RunHistoryPostgres.layer(Redacted.make(testUrl()), options)))

  it.effect("DATABASE_URL=postgres://... selects this backend", () =>
    Effect.gen(function*() {
      const runs = yield* Effect.flatMap(RunHistory, (h) => h.listRuns({ limit: 50 }))
      expect(runs.some((r) => r.id === "pg-1")).toBe(true)
    }).pipe(Effect.provide(RunHistoryFromConfig.layer), Effect.provide(testConfigLayer({ DATABASE_URL: testUrl() }))))
})
