/**
 * The rows of the run-history tables as the drivers return them, and their mapping to the
 * `RunHistory` records — including the liveness check that shows a run of a dead process as
 * `interrupted` on read, whether or not anyone has marked it yet.
 */
import {
  HistoryStatus,
  type LlmCallRecord,
  type RunSummary,
  type StepRecord
} from "../services/RunHistory.js"
import type { CallStatus, ErrorInfo } from "../services/WorkflowEvents.js"

/** Which store and process wrote a run row. */
export interface Owner {
  readonly id: string
  readonly host: string
  readonly pid: number
}

// Numeric columns come back as numbers from SQLite and as strings (BIGINT) from PostgreSQL.
type Num = number | string | bigint
type Text = string | null

/** Who wrote a run row (null in rows no store claimed). */
export interface OwnerColumns {
  readonly owner: Text
  readonly host: Text
  readonly pid: Num | null
  /** Non-zero for a run of the durable engine, which resumes it rather than losing it. */
  readonly durable: Num | null
}

/** A `runs` row as `listRuns` selects it. */
export interface RunRow extends OwnerColumns {
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
  readonly trace_id: Text
}

/** A `runs` row with its input and output, as `getRun` selects it. */
export interface RunDetailRow extends RunRow {
  readonly input: Text
  readonly output: Text
}

/** A `steps` row. */
export interface StepRow {
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

/** An `llm_calls` row. */
export interface CallRow {
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

/** The one row of the totals query. */
export interface TotalsRow {
  readonly runs: Num
  readonly input_tokens: Num | null
  readonly output_tokens: Num | null
  readonly cost_usd: Num | null
}

/** The columns of `runs` that `RunRow` maps. */
export const summaryColumns =
  "id, workflow, status, started_at, finished_at, duration_ms, input_tokens, output_tokens, cost_usd, error_tag, error_message, owner, host, pid, durable, trace_id"

/** The columns of `steps` that `StepRow` maps. */
export const stepColumns =
  "step_id, label, agent, status, started_at, duration_ms, cached, attempts, calls, input_tokens, output_tokens, cost_usd, output, error_tag, error_message"

/** JSON text of a value, or null. Values JSON cannot represent are stored as their string form. */
export const toJson = (value: unknown): string | null => {
  if (value === undefined) return null
  try {
    return JSON.stringify(value) ?? null
  } catch {
    return JSON.stringify(String(value))
  }
}

/** The value of JSON text; text that is not JSON is returned as is. */
export const fromJson = (text: string | null): unknown => {
  if (text === null) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** A numeric column as a number (0 for null). */
export const num = (value: Num | null): number => Number(value ?? 0)
/** Epoch milliseconds for a BIGINT column. */
export const int = (value: number): number => Math.round(value)

const isStatus = (value: string): value is HistoryStatus => (HistoryStatus.literals as ReadonlyArray<string>).includes(value)
const status = (value: string): HistoryStatus => (isStatus(value) ? value : "interrupted")
const errorOf = (tag: Text, message: Text): { readonly error?: ErrorInfo } =>
  tag === null ? {} : { error: { tag, message: message ?? tag } }

/** Whether a process of this host is alive: signal 0 reaches it, or it exists but is not ours. */
export const processIsAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return typeof error === "object" && error !== null && "code" in error && error.code === "EPERM"
  }
}

/**
 * Which `running` rows no live process is running, as seen by the store `owner`. Runs of this
 * very store are alive; another store of this pid (or an earlier process that had our pid) is not
 * told apart from a dead one; a different pid of this host is asked `isAlive` (once per pid for
 * the lifetime of the returned function). Rows of another host cannot be checked: `foreign` says
 * what to assume of them.
 */
export const orphanCheck = (
  owner: Owner,
  isAlive: (pid: number) => boolean,
  foreign: "orphaned" | "alive"
): (row: OwnerColumns) => boolean => {
  const seen = new Map<number, boolean>()
  const alive = (pid: number): boolean => {
    const known = seen.get(pid)
    if (known !== undefined) return known
    const answer = isAlive(pid)
    seen.set(pid, answer)
    return answer
  }
  return (row) => {
    if (row.owner === owner.id) return false
    // The engine resumes it on the next worker: running (or waiting to), never lost.
    if (row.durable !== null && num(row.durable) !== 0) return false
    if (row.host === owner.host && row.pid !== null) {
      const pid = num(row.pid)
      return pid === owner.pid || !alive(pid)
    }
    return foreign === "orphaned"
  }
}

/**
 * A run row as a summary. A `running` row whose process is gone (`isOrphan`) reads as
 * `interrupted`, exactly as `markInterrupted` would leave it.
 */
export const toSummary = (row: RunRow, isOrphan: (row: OwnerColumns) => boolean): RunSummary => ({
  id: row.id,
  workflow: row.workflow,
  status: row.status === "running" && isOrphan(row) ? "interrupted" : status(row.status),
  startedAt: num(row.started_at),
  ...(row.finished_at === null ? {} : { finishedAt: num(row.finished_at) }),
  ...(row.duration_ms === null ? {} : { durationMs: num(row.duration_ms) }),
  inputTokens: num(row.input_tokens),
  outputTokens: num(row.output_tokens),
  costUsd: num(row.cost_usd),
  ...errorOf(row.error_tag, row.error_message),
  ...(row.trace_id === null ? {} : { traceId: row.trace_id })
})

/** A step row; `interrupted` turns a step still `running` into `interrupted` (its run is dead). */
export const toStep = (row: StepRow, interrupted: boolean): StepRecord => ({
  stepId: row.step_id,
  label: row.label,
  ...(row.agent === null ? {} : { agent: row.agent }),
  status: interrupted && row.status === "running" ? "interrupted" : status(row.status),
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

/** An LLM call row. */
export const toCall = (row: CallRow): LlmCallRecord => ({
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
