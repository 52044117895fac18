/**
 * The SQLite history under the recorder's retries and after crashes: a replayed batch counts once,
 * a file of an earlier version is upgraded in place, and runs of a dead process read as interrupted.
 * (The same behaviours on PostgreSQL are in RunHistoryPostgres.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Option } from "effect"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterAll } from "vitest"
import { migrations, migrationsTable } from "../src/internal/historyMigrations.js"
import * as RunHistorySqlite from "../src/layers/RunHistorySqlite.js"
import { RunHistory } from "../src/services/RunHistory.js"
import { changedRunsFollowOtherWriters, deadRunsReadInterrupted, replayedBatchCountsOnce, toolCallsRead, traceIdKept } from "./support/historyContract.js"
import { eventLogReplaysInOrder, idempotencyKeysFindTheirRun, interruptedRunsEndInTheLog, listRunsFiltersAndPages } from "./support/historyEventLog.js"
import { runEvents, twoSteps } from "./support/historyEvents.js"

const root = mkdtempSync(join(tmpdir(), "effect-agents-replay-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(root, `h${++files}`, "history.sqlite")

/** A history file as the first released version left it: one run and its one LLM call. */
const writeVersion1 = (filename: string) =>
  Effect.gen(function*() {
    const first = "1_create_runs_steps_llm_calls"
    yield* Migrator.make({})({ loader: Migrator.fromRecord({ [first]: migrations[first]! }), table: migrationsTable })
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO runs (id, workflow, status, started_at, finished_at, duration_ms, input_tokens,
        output_tokens, cost_usd, owner, host, pid)
      VALUES ('old-1', 'research', 'succeeded', 1, 41, 40, 100, 20, 0.001, 'gone', 'some-host', 1)`
    yield* sql`INSERT INTO llm_calls (run_id, model, provider, cached, attempts, input_tokens, output_tokens,
        cost_usd, duration_ms, status, at)
      VALUES ('old-1', 'simulated-1', 'simulated', 0, 1, 100, 20, 0.001, 40, 'success', 41)`
  }).pipe(Effect.provide(SqliteClient.layer({ filename })))

describe("RunHistory on SQLite under retries", () => {
  it.effect("a run's tool calls are read back with it from the event log, in the order they finished", () =>
    toolCallsRead("sqtc").pipe(Effect.provide(RunHistorySqlite.layerFile(freshFile()))))

  it.effect("a run's trace id is kept from its start, in the list and the detail", () =>
    traceIdKept("sqt").pipe(Effect.provide(RunHistorySqlite.layerFile(freshFile()))))

  it.effect("a batch applied twice and then event by event counts every LLM call once", () =>
    replayedBatchCountsOnce("sq").pipe(Effect.provide(RunHistorySqlite.layerFile(freshFile()))))

  it.effect("a history file of the first version is upgraded in place: its runs stay, replays count once", () =>
    Effect.gen(function*() {
      const file = freshFile()
      mkdirSync(dirname(file), { recursive: true })
      yield* writeVersion1(file)
      yield* Effect.gen(function*() {
        const h = yield* RunHistory
        const old = Option.getOrThrow(yield* h.getRun("old-1"))
        expect(old).toMatchObject({ status: "succeeded", inputTokens: 100, outputTokens: 20 })
        expect(old.llmCalls).toHaveLength(1)
        // Its last change is taken to be its finish.
        expect(yield* h.changedRuns({ since: 0, limit: 10, writers: "all" })).toMatchObject([{ id: "old-1", updatedAt: 41 }])
        const events = runEvents({ runId: "new-1", start: 5_000, status: "succeeded", steps: twoSteps })
        yield* h.recordAll(events)
        yield* h.recordAll(events)
        expect(Option.getOrThrow(yield* h.getRun("new-1")).llmCalls).toHaveLength(3)
        expect((yield* h.totals).inputTokens).toBe(100 + 450)
      }).pipe(Effect.provide(RunHistorySqlite.layerFile(file)))
    }))
})

describe("RunHistory on SQLite after a crash", () => {
  it.effect("runs of a dead process read as interrupted before anyone marks them; live and remote runs read as running", () => {
    const file = freshFile()
    return deadRunsReadInterrupted("sq", (options) => RunHistorySqlite.layerFile(file, options))
  })
})

describe("RunHistory on SQLite shared by processes", () => {
  it.effect("changedRuns follows the runs another store writes: started, stepped, finished; not its own", () => {
    const file = freshFile()
    return changedRunsFollowOtherWriters("sqc", (options) => RunHistorySqlite.layerFile(file, options))
  })
})

describe("RunHistory on SQLite: the event log, filters and keys the API reads", () => {
  it.effect("the event log replays every event in order, per run or all, and a replayed batch appends nothing twice", () =>
    eventLogReplaysInOrder("sqe").pipe(Effect.provide(RunHistorySqlite.layerFile(freshFile()))))

  it.effect("listRuns filters by status and workflow and pages by cursor, stable while runs arrive", () =>
    listRunsFiltersAndPages("sql").pipe(Effect.provide(RunHistorySqlite.layerFile(freshFile()))))

  it.effect("a run is found by the idempotency key of the request that started it", () =>
    idempotencyKeysFindTheirRun("sqk").pipe(Effect.provide(RunHistorySqlite.layerFile(freshFile()))))

  it.effect("a run marked interrupted ends in the event log, once", () => {
    const file = freshFile()
    return interruptedRunsEndInTheLog("sqi", (options) => RunHistorySqlite.layerFile(file, options))
  })
})
