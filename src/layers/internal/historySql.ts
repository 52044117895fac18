/**
 * The run history over any `@effect/sql` client: the statements shared by the SQLite and
 * PostgreSQL adapters (which only open the connection and call `makeStore`).
 *
 * Writes are upserts keyed by run id and (run id, step id), so an event applied twice or out of
 * order still leaves the right row. A run's tokens and cost are the sums of its `llm_calls` rows:
 * each call adds to the run as it lands, and `WorkflowFinished` recomputes the sums from the calls,
 * so `totals` always equals the sum of the runs and the runs the sum of their calls.
 *
 * Every run row records which store wrote it (`owner`, a random id per store) and the process
 * (`host`, `pid`), so `markInterrupted` can leave alone the runs that a live process on this host
 * is still running.
 */
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Option } from "effect"
import {
  HistoryStatus,
  type HistoryTotals,
  type LlmCallRecord,
  type RunDetail,
  RunHistoryError,
  type RunHistoryService,
  type RunSummary,
  type StepRecord
} from "../../services/RunHistory.js"
import type { CallStatus, ErrorInfo, WorkflowEvent } from "../../services/WorkflowEvents.js"
import { migrate } from "./historyMigrations.js"

/** Which store and process wrote a run row. */
export interface Owner {
  readonly id: string
  readonly host: string
  readonly pid: number
}

/** Options of `makeStore`; the defaults describe this process. */
export interface StoreOptions {
  readonly owner?: Owner
  /** Whether a process of this host is alive (default: signal 0). */
  readonly isAlive?: (pid: number) => boolean
}

/** Ids per `IN (...)` list, well under every driver's parameter limit. */
const IN_CHUNK = 500

// Numeric columns come back as numbers from SQLite and as strings (BIGINT) from PostgreSQL.
type Num = number | string | bigint
type Text = string | null

interface RunRow {
  readonly id: string
  readonly workflow: string
  readonly status: string
  readonly started_at: Num
  readonly finished_at: Num | null
  readonly duration_ms: Num | null
  readonly input_tokens: Num
  readonly output_tokens: Num
  readonly cost_usd: Num
  readonly error_tag: Text
  readonly error_message: Text
}
interface RunDetailRow extends RunRow {
  readonly input: Text
  readonly output: Text
}
interface StepRow {
  readonly step_id: string
  readonly label: string
  readonly agent: Text
  readonly status: string
  readonly started_at: Num
  readonly duration_ms: Num | null
  readonly cached: Num
  readonly attempts: Num
  readonly calls: Num
  readonly input_tokens: Num
  readonly output_tokens: Num
  readonly cost_usd: Num
  readonly output: Text
  readonly error_tag: Text
  readonly error_message: Text
}
interface CallRow {
  readonly step_id: Text
  readonly agent: Text
  readonly model: string
  readonly provider: string
  readonly cached: Num
  readonly attempts: Num
  readonly input_tokens: Num
  readonly output_tokens: Num
  readonly cost_usd: Num
  readonly duration_ms: Num
  readonly status: string
  readonly error_tag: Text
  readonly error_message: Text
  readonly at: Num
}
interface TotalsRow {
  readonly runs: Num
  readonly input_tokens: Num | null
  readonly output_tokens: Num | null
  readonly cost_usd: Num | null
}
interface RunningRow {
  readonly id: string
  readonly owner: Text
  readonly host: Text
  readonly pid: Num | null
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

/** JSON text of a value, or null. Values JSON cannot represent are stored as their string form. */
const toJson = (value: unknown): string | null => {
  if (value === undefined) return null
  try {
    return JSON.stringify(value) ?? null
  } catch {
    return JSON.stringify(String(value))
  }
}

const fromJson = (text: string | null): unknown => {
  if (text === null) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const num = (value: Num | null): number => Number(value ?? 0)
const int = (value: number): number => Math.round(value)
const isStatus = (value: string): value is HistoryStatus => (HistoryStatus.literals as ReadonlyArray<string>).includes(value)
const status = (value: string): HistoryStatus => (isStatus(value) ? value : "interrupted")
const errorOf = (tag: Text, message: Text): { readonly error?: ErrorInfo } =>
  tag === null ? {} : { error: { tag, message: message ?? tag } }

const toSummary = (row: RunRow): RunSummary => ({
  id: row.id,
  workflow: row.workflow,
  status: status(row.status),
  startedAt: num(row.started_at),
  ...(row.finished_at === null ? {} : { finishedAt: num(row.finished_at) }),
  ...(row.duration_ms === null ? {} : { durationMs: num(row.duration_ms) }),
  inputTokens: num(row.input_tokens),
  outputTokens: num(row.output_tokens),
  costUsd: num(row.cost_usd),
  ...errorOf(row.error_tag, row.error_message)
})

const toStep = (row: StepRow): StepRecord => ({
  stepId: row.step_id,
  label: row.label,
  ...(row.agent === null ? {} : { agent: row.agent }),
  status: status(row.status),
  startedAt: num(row.started_at),
  ...(row.duration_ms === null ? {} : { durationMs: num(row.duration_ms) }),
  cached: num(row.cached) !== 0,
  attempts: num(row.attempts),
  calls: num(row.calls),
  inputTokens: num(row.input_tokens),
  outputTokens: num(row.output_tokens),
  costUsd: num(row.cost_usd),
  ...(row.output === null ? {} : { output: row.output }),
  ...errorOf(row.error_tag, row.error_message)
})

const toCall = (row: CallRow): LlmCallRecord => ({
  ...(row.step_id === null ? {} : { stepId: row.step_id }),
  ...(row.agent === null ? {} : { agent: row.agent }),
  model: row.model,
  provider: row.provider,
  cached: num(row.cached) !== 0,
  attempts: num(row.attempts),
  inputTokens: num(row.input_tokens),
  outputTokens: num(row.output_tokens),
  costUsd: num(row.cost_usd),
  durationMs: num(row.duration_ms),
  status: (row.status === "success" ? "success" : "error") satisfies CallStatus,
  ...errorOf(row.error_tag, row.error_message),
  at: num(row.at)
})

const processIsAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return typeof error === "object" && error !== null && "code" in error && error.code === "EPERM"
  }
}

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

    yield* Effect.mapError(migrate, failure("migrate"))

    const apply = (event: WorkflowEvent): Effect.Effect<void, unknown> => {
      switch (event._tag) {
        case "WorkflowStarted":
          // A start that arrives after its finish only fills in the input.
          return sql`INSERT INTO runs (id, workflow, status, started_at, input, owner, host, pid)
            VALUES (${event.runId}, ${event.workflow}, 'running', ${int(event.at)}, ${toJson(event.input)},
              ${owner.id}, ${owner.host}, ${owner.pid})
            ON CONFLICT (id) DO UPDATE SET input = excluded.input`
        case "WorkflowFinished":
          return sql`INSERT INTO runs (id, workflow, status, started_at, finished_at, duration_ms,
              input_tokens, output_tokens, cost_usd, output, error_tag, error_message, owner, host, pid)
            VALUES (${event.runId}, ${event.workflow}, ${event.status}, ${int(event.at - event.durationMs)},
              ${int(event.at)}, ${event.durationMs},
              (SELECT COALESCE(SUM(input_tokens), 0) FROM llm_calls WHERE run_id = ${event.runId}),
              (SELECT COALESCE(SUM(output_tokens), 0) FROM llm_calls WHERE run_id = ${event.runId}),
              (SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls WHERE run_id = ${event.runId}),
              ${toJson(event.output)}, ${event.error?.tag ?? null}, ${event.error?.message ?? null},
              ${owner.id}, ${owner.host}, ${owner.pid})
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at,
              duration_ms = excluded.duration_ms, input_tokens = excluded.input_tokens,
              output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd, output = excluded.output,
              error_tag = excluded.error_tag, error_message = excluded.error_message`
        case "StepStarted":
          return sql`INSERT INTO steps (run_id, step_id, seq, label, agent, status, started_at)
            VALUES (${event.runId}, ${event.stepId},
              (SELECT COALESCE(MAX(seq), 0) + 1 FROM steps WHERE run_id = ${event.runId}),
              ${event.label}, ${event.agent ?? null}, 'running', ${int(event.at)})
            ON CONFLICT (run_id, step_id) DO NOTHING`
        case "StepFinished":
          return sql`INSERT INTO steps (run_id, step_id, seq, label, agent, status, started_at, finished_at,
              duration_ms, cached, attempts, calls, input_tokens, output_tokens, cost_usd, output,
              error_tag, error_message)
            VALUES (${event.runId}, ${event.stepId},
              (SELECT COALESCE(MAX(seq), 0) + 1 FROM steps WHERE run_id = ${event.runId}),
              ${event.label}, ${event.agent ?? null}, ${event.status}, ${int(event.at - event.durationMs)},
              ${int(event.at)}, ${event.durationMs}, ${event.cached ? 1 : 0}, ${event.attempts}, ${event.calls},
              ${event.usage.inputTokens}, ${event.usage.outputTokens}, ${event.costUsd}, ${event.output ?? null},
              ${event.error?.tag ?? null}, ${event.error?.message ?? null})
            ON CONFLICT (run_id, step_id) DO UPDATE SET label = excluded.label,
              agent = COALESCE(excluded.agent, steps.agent), status = excluded.status,
              finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, cached = excluded.cached,
              attempts = excluded.attempts, calls = excluded.calls, input_tokens = excluded.input_tokens,
              output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd, output = excluded.output,
              error_tag = excluded.error_tag, error_message = excluded.error_message`
        case "LlmCallFinished": {
          const runId = event.runId
          if (runId === undefined) return Effect.void
          return Effect.zipRight(
            sql`INSERT INTO llm_calls (run_id, step_id, agent, model, provider, cached, attempts, input_tokens,
                output_tokens, cost_usd, duration_ms, status, error_tag, error_message, at)
              VALUES (${runId}, ${event.stepId ?? null}, ${event.agent ?? null}, ${event.model}, ${event.provider},
                ${event.cached ? 1 : 0}, ${event.attempt}, ${event.usage.inputTokens}, ${event.usage.outputTokens},
                ${event.costUsd}, ${event.durationMs}, ${event.status}, ${event.error?.tag ?? null},
                ${event.error?.message ?? null}, ${int(event.at)})`,
            sql`UPDATE runs SET input_tokens = input_tokens + ${event.usage.inputTokens},
                output_tokens = output_tokens + ${event.usage.outputTokens}, cost_usd = cost_usd + ${event.costUsd}
              WHERE id = ${runId}`
          )
        }
        default:
          return Effect.void
      }
    }

    const summaryColumns = sql.literal(
      "id, workflow, status, started_at, finished_at, duration_ms, input_tokens, output_tokens, cost_usd, error_tag, error_message"
    )

    const service: RunHistoryService = {
      record: (event) => Effect.mapError(apply(event), failure("record")),

      recordAll: (events) =>
        events.length === 0 ? Effect.void : sql.withTransaction(
          Effect.forEach(events, apply, { discard: true })
        ).pipe(Effect.mapError(failure("record")), Effect.withSpan("RunHistory.recordAll", {
          attributes: { events: events.length }
        })),

      listRuns: ({ limit, offset = 0 }) =>
        sql<RunRow>`SELECT ${summaryColumns} FROM runs ORDER BY started_at DESC, id DESC
          LIMIT ${Math.max(0, Math.floor(limit))} OFFSET ${Math.max(0, Math.floor(offset))}`.pipe(
          Effect.map((rows) => rows.map(toSummary)),
          Effect.mapError(failure("listRuns")),
          Effect.withSpan("RunHistory.listRuns")
        ),

      getRun: (id) =>
        Effect.gen(function*() {
          const runs = yield* sql<RunDetailRow>`SELECT ${summaryColumns}, input, output FROM runs WHERE id = ${id}`
          const run = runs[0]
          if (run === undefined) return Option.none<RunDetail>()
          const steps = yield* sql<StepRow>`SELECT step_id, label, agent, status, started_at, duration_ms,
              cached, attempts, calls, input_tokens, output_tokens, cost_usd, output, error_tag, error_message
            FROM steps WHERE run_id = ${id} ORDER BY seq, step_id`
          const calls = yield* sql<CallRow>`SELECT step_id, agent, model, provider, cached, attempts,
              input_tokens, output_tokens, cost_usd, duration_ms, status, error_tag, error_message, at
            FROM llm_calls WHERE run_id = ${id} ORDER BY at, id`
          const output = fromJson(run.output)
          return Option.some<RunDetail>({
            ...toSummary(run),
            input: fromJson(run.input),
            ...(output === undefined ? {} : { output }),
            steps: steps.map(toStep),
            llmCalls: calls.map(toCall)
          })
        }).pipe(Effect.mapError(failure("getRun")), Effect.withSpan("RunHistory.getRun")),

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
        Effect.mapError(failure("totals"))
      ),

      markInterrupted: sql.withTransaction(Effect.gen(function*() {
        const running = yield* sql<RunningRow>`SELECT id, owner, host, pid FROM runs WHERE status = 'running'`
        const orphaned = running.filter((row) => {
          if (row.owner === owner.id) return false
          // Another store of this very process (or an earlier process that had our pid) is not
          // told apart from a dead one; a different live process of this host is.
          if (row.host === owner.host && row.pid !== null) {
            const pid = num(row.pid)
            return pid === owner.pid || !isAlive(pid)
          }
          return true
        }).map((row) => row.id)
        let marked = 0
        for (const ids of chunks(orphaned, IN_CHUNK)) {
          const rows = yield* sql<{ readonly id: string }>`UPDATE runs SET status = 'interrupted'
            WHERE status = 'running' AND id IN ${sql.in(ids)} RETURNING id`
          marked += rows.length
          yield* sql`UPDATE steps SET status = 'interrupted' WHERE status = 'running' AND run_id IN ${sql.in(ids)}`
        }
        return marked
      })).pipe(Effect.mapError(failure("markInterrupted")), Effect.withSpan("RunHistory.markInterrupted"))
    }
    return service
  })
