/**
 * The run history over any `@effect/sql` client: the store shared by the SQLite and PostgreSQL
 * adapters (which only open the connection and call `makeStore`). The statements of each event are
 * in `historyWrites.ts`, the rows and their mapping in `historyRows.ts`.
 *
 * Every run row records which store wrote it (`owner`, a random id per store) and the process
 * (`host`, `pid`). Reads use them to show a `running` run whose process of this host is gone as
 * `interrupted` (with its unfinished steps), so a crash never leaves a run reading as running;
 * `markInterrupted` writes that state down and leaves alone the runs a live process is running.
 *
 * Every write also stamps the run's `updated_at`, so `changedRuns` can hand a follower (the
 * dashboard of another process) the runs that changed since it last asked.
 *
 * No operation dies: the drivers' defects (a failed COMMIT or ROLLBACK becomes one in
 * `withTransaction`) are failures with a `RunHistoryError`, which the recorder retries.
 */
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Effect, Option, Schedule } from "effect"
import {
  type ChangedRunsOptions,
  type HistoryTotals,
  type ListRunsOptions,
  type RunChange,
  type RunDetail,
  RunHistoryError,
  type RunHistoryService
} from "../services/RunHistory.js"
import { type WorkflowEvent, WorkflowFinished } from "../services/WorkflowEvents.js"
import {
  type CallRow,
  fromJson,
  int,
  num,
  orphanCheck,
  type Owner,
  type OwnerColumns,
  processIsAlive,
  type RunDetailRow,
  type RunRow,
  type StepRow,
  stepColumns,
  summaryColumns,
  toCall,
  toStep,
  toSummary,
  type TotalsRow
} from "./historyRows.js"
import { migrate } from "./historyMigrations.js"
import { makeEventReads } from "./historyEvents.js"
import { appendEvent, makeApply } from "./historyWrites.js"

export type { Owner } from "./historyRows.js"

/**
 * How a run marked interrupted ends in the event log: a `WorkflowFinished` cancelled with tag
 * `Interrupted`, with what the run had spent.
 */
const interruptedEvent = (row: RunRow, now: number) =>
  new WorkflowFinished({
    runId: row.id,
    workflow: row.workflow,
    status: "cancelled",
    error: { tag: "Interrupted", message: "the process running it ended before it finished" },
    usage: { inputTokens: num(row.input_tokens), outputTokens: num(row.output_tokens) },
    costUsd: num(row.cost_usd),
    durationMs: Math.max(0, now - num(row.started_at)),
    at: now
  })

/** Options of `makeStore`; the defaults describe this process. */
export interface StoreOptions {
  readonly owner?: Owner
  /** Whether a process of this host is alive (default: signal 0). */
  readonly isAlive?: (pid: number) => boolean
}

/** Ids per `IN (...)` list, well under every driver's parameter limit. */
const IN_CHUNK = 500

interface RunningRow extends OwnerColumns {
  readonly id: string
}

interface ChangeRow extends RunRow {
  readonly output: string | null
  readonly updated_at: number | string | null
}

interface RunStepRow extends StepRow {
  readonly run_id: string
}

/** The driver's message, including the underlying error's (SqlError wraps it in `cause`). */
export const reasonOf = (error: unknown): string => {
  const text = (e: unknown) => (e instanceof Error ? e.message : String(e))
  if (typeof error === "object" && error !== null && "cause" in error && error.cause !== undefined) {
    return `${text(error)}: ${text(error.cause)}`
  }
  return text(error)
}

const failure = (operation: string) => (error: unknown) =>
  new RunHistoryError({ operation, reason: reasonOf(error), cause: error })

/** Failures and defects of `effect` as a `RunHistoryError` of `operation`. */
const guard = (operation: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, RunHistoryError, R> =>
  effect.pipe(
    Effect.mapError(failure(operation)),
    Effect.catchAllDefect((defect) => Effect.fail(failure(operation)(defect)))
  )

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/**
 * Migrates the connected database and returns the history service over it. Fails with
 * `RunHistoryError` (`migrate`) when the schema cannot be brought up to date.
 */
export const makeStore = (
  options: StoreOptions = {}
): Effect.Effect<RunHistoryService, RunHistoryError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const owner = options.owner ?? { id: randomUUID(), host: hostname(), pid: process.pid }
    const isAlive = options.isAlive ?? processIsAlive

    // A connection dropped while migrating (a failed COMMIT is a defect there too) is retried
    // briefly: the migrations run in a transaction, so a retry starts clean.
    yield* guard("migrate")(migrate).pipe(Effect.retry({ times: 3, schedule: Schedule.exponential("200 millis") }))

    const apply = makeApply(sql, owner)
    const columns = sql.literal(summaryColumns)
    // Another host's runs cannot be checked from here: a read assumes they are running.
    const readCheck = () => orphanCheck(owner, isAlive, "alive")

    const recordAll = (events: ReadonlyArray<WorkflowEvent>) =>
      events.length === 0 ? Effect.void : Clock.currentTimeMillis.pipe(
        Effect.flatMap((now) => sql.withTransaction(Effect.forEach(events, (event) => apply(event, now), { discard: true }))),
        guard("record"),
        Effect.withSpan("RunHistory.recordAll", { attributes: { events: events.length } })
      )

    const changedRuns = ({ limit, since, writers }: ChangedRunsOptions) =>
      Effect.gen(function*() {
        const others = writers === "others" ? sql`AND (owner IS NULL OR owner <> ${owner.id})` : sql``
        const runs = yield* sql<ChangeRow>`SELECT ${columns}, output, updated_at FROM runs
          WHERE updated_at >= ${int(since)} ${others}
          ORDER BY updated_at, id LIMIT ${Math.max(0, Math.floor(limit))}`
        const steps = new Map<string, Array<RunStepRow>>()
        for (const ids of chunks(runs.map((run) => run.id), IN_CHUNK)) {
          const rows = yield* sql<RunStepRow>`SELECT run_id, ${sql.literal(stepColumns)} FROM steps
            WHERE run_id IN ${sql.in(ids)} ORDER BY run_id, seq, step_id`
          for (const row of rows) {
            const list = steps.get(row.run_id)
            if (list === undefined) steps.set(row.run_id, [row])
            else list.push(row)
          }
        }
        const isOrphan = readCheck()
        return runs.map((run): RunChange => {
          const summary = toSummary(run, isOrphan)
          const dead = run.status === "running" && summary.status === "interrupted"
          const output = fromJson(run.output)
          return {
            ...summary,
            ...(output === undefined ? {} : { output }),
            updatedAt: num(run.updated_at),
            local: run.owner === owner.id,
            ...(run.host === null ? {} : { host: run.host }),
            ...(run.pid === null ? {} : { pid: num(run.pid) }),
            steps: (steps.get(run.id) ?? []).map((step) => toStep(step, dead))
          }
        })
      }).pipe(guard("changedRuns"), Effect.withSpan("RunHistory.changedRuns"))

    // `running` and `interrupted` are told apart on read (a dead process's run reads interrupted),
    // so both are fetched for either and sorted out after mapping.
    const listRuns = ({ after, limit, offset = 0, status, workflow }: ListRunsOptions) => {
      const conditions = [
        status === undefined ? undefined : status === "running" || status === "interrupted"
          ? sql`status IN ('running', 'interrupted')`
          : sql`status = ${status}`,
        workflow === undefined ? undefined : sql`workflow = ${workflow}`,
        after === undefined ? undefined : sql`(started_at < ${int(after.startedAt)}
          OR (started_at = ${int(after.startedAt)} AND id < ${after.id}))`
      ].filter((c) => c !== undefined)
      return sql<RunRow>`SELECT ${columns} FROM runs ${conditions.length === 0 ? sql`` : sql`WHERE ${sql.and(conditions)}`}
        ORDER BY started_at DESC, id DESC
        LIMIT ${Math.max(0, Math.floor(limit))} OFFSET ${Math.max(0, Math.floor(offset))}`.pipe(
        Effect.map((rows) => {
          const isOrphan = readCheck()
          const runs = rows.map((row) => toSummary(row, isOrphan))
          return status === undefined ? runs : runs.filter((run) => run.status === status)
        }),
        guard("listRuns"),
        Effect.withSpan("RunHistory.listRuns")
      )
    }

    const events = makeEventReads(sql)

    const service: RunHistoryService = {
      record: (event) => recordAll([event]),
      recordAll,
      listRuns,
      eventsAfter: (options) => events.eventsAfter(options).pipe(guard("eventsAfter")),
      lastEventSeq: events.lastEventSeq.pipe(guard("lastEventSeq")),
      findIdempotent: (key) => events.findIdempotent(key).pipe(guard("findIdempotent")),

      getRun: (id) =>
        Effect.gen(function*() {
          const runs = yield* sql<RunDetailRow>`SELECT ${columns}, input, output FROM runs WHERE id = ${id}`
          const run = runs[0]
          if (run === undefined) return Option.none<RunDetail>()
          const steps = yield* sql<StepRow>`SELECT ${sql.literal(stepColumns)} FROM steps
            WHERE run_id = ${id} ORDER BY seq, step_id`
          const calls = yield* sql<CallRow>`SELECT step_id, agent, model, provider, cached, attempts,
              input_tokens, output_tokens, cost_usd, duration_ms, status, error_tag, error_message, at
            FROM llm_calls WHERE run_id = ${id} ORDER BY at, id`
          const toolCalls = yield* events.toolCalls(id)
          const output = fromJson(run.output)
          const summary = toSummary(run, readCheck())
          const dead = run.status === "running" && summary.status === "interrupted"
          return Option.some<RunDetail>({
            ...summary,
            input: fromJson(run.input),
            ...(output === undefined ? {} : { output }),
            steps: steps.map((step) => toStep(step, dead)),
            llmCalls: calls.map(toCall),
            toolCalls
          })
        }).pipe(guard("getRun"), Effect.withSpan("RunHistory.getRun")),

      changedRuns,

      totals: sql<TotalsRow>`SELECT COUNT(*) AS runs, SUM(input_tokens) AS input_tokens,
          SUM(output_tokens) AS output_tokens, SUM(cost_usd) AS cost_usd FROM runs`.pipe(
        Effect.map((rows): HistoryTotals => {
          const row = rows[0]
          return {
            runs: num(row?.runs ?? 0),
            inputTokens: num(row?.input_tokens ?? 0),
            outputTokens: num(row?.output_tokens ?? 0),
            costUsd: num(row?.cost_usd ?? 0)
          }
        }),
        guard("totals")
      ),

      markInterrupted: sql.withTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const running = yield* sql<RunningRow>`SELECT id, owner, host, pid, durable FROM runs WHERE status = 'running'`
        // Another host's runs cannot be checked: they are marked, and a later finish overwrites the mark.
        const orphaned = running.filter(orphanCheck(owner, isAlive, "orphaned")).map((row) => row.id)
        let marked = 0
        for (const ids of chunks(orphaned, IN_CHUNK)) {
          const rows = yield* sql<RunRow>`UPDATE runs SET status = 'interrupted', updated_at = ${int(now)}
            WHERE status = 'running' AND id IN ${sql.in(ids)} RETURNING ${columns}`
          marked += rows.length
          yield* sql`UPDATE steps SET status = 'interrupted' WHERE status = 'running' AND run_id IN ${sql.in(ids)}`
          // Followers of the event log (SSE clients) see these runs end.
          yield* Effect.forEach(rows, (row) => appendEvent(sql, `interrupted:${row.id}`, interruptedEvent(row, now)), { discard: true })
        }
        return marked
      })).pipe(guard("markInterrupted"), Effect.withSpan("RunHistory.markInterrupted"))
    }
    return service
  })
