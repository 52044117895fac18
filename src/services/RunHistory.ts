/**
 * RunHistory — the persistent record of workflow runs, their steps and their LLM calls.
 *
 * The history is written from the `WorkflowEvents` stream (see `layers/RunHistoryRecorder.ts`), so
 * nothing in a workflow calls it directly and every consumer of events sees the same facts. A run
 * row is created by `WorkflowStarted` with status `running` and completed by `WorkflowFinished`; its
 * tokens and cost are the sums of the run's `LlmCallFinished` events, so a run that never finished
 * (the process died) still shows what it spent. A `running` run whose process is gone reads as
 * `interrupted` whether or not anyone has marked it; `markInterrupted` writes that down, which the
 * recorder does once at start.
 *
 * Only what events carry is stored: inputs, outputs, error tags and messages, usage and cost.
 * Events never carry API keys or request headers, and this port must not be given any.
 */
import { Context, type Duration, Effect, type Option, Schema } from "effect"
import { CallStatus, ErrorInfo, ToolCallStatus, type WorkflowEvent } from "./WorkflowEvents.js"

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/**
 * The status of a run or a step in the history: the `RunStatus` of a finished run, `running`
 * while it runs, or `interrupted` when the process died before it finished.
 */
export const HistoryStatus = Schema.Literal("running", "succeeded", "failed", "cancelled", "interrupted")
export type HistoryStatus = typeof HistoryStatus.Type

/** One row of `effect-agents history`. Times are epoch milliseconds. */
export const RunSummary = Schema.Struct({
  id: Schema.String,
  workflow: Schema.String,
  status: HistoryStatus,
  startedAt: Schema.Number,
  /** Absent while running and for interrupted runs. */
  finishedAt: Schema.optional(Schema.Number),
  durationMs: Schema.optional(Schema.Number),
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number,
  /** Why a failed run failed (tag and message, never a stack). */
  error: Schema.optional(ErrorInfo),
  /** The trace of the run's spans, when they were exported (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  traceId: Schema.optional(Schema.String)
})
export type RunSummary = typeof RunSummary.Type

/** A step of a run, as its `StepFinished` event reported it (or `running` / `interrupted`). */
export const StepRecord = Schema.Struct({
  stepId: Schema.String,
  label: Schema.String,
  agent: Schema.optional(Schema.String),
  status: HistoryStatus,
  startedAt: Schema.Number,
  durationMs: Schema.optional(Schema.Number),
  /** True when the step made calls and every one was a cache hit. */
  cached: Schema.Boolean,
  /** Provider attempts of the step's calls that were not cache hits. */
  attempts: Schema.Number,
  calls: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number,
  /** A truncated rendering of the step's output, for display. */
  output: Schema.optional(Schema.String),
  error: Schema.optional(ErrorInfo)
})
export type StepRecord = typeof StepRecord.Type

/** One logical LLM call of a run (after retries), as its `LlmCallFinished` event reported it. */
export const LlmCallRecord = Schema.Struct({
  stepId: Schema.optional(Schema.String),
  agent: Schema.optional(Schema.String),
  model: Schema.String,
  provider: Schema.String,
  cached: Schema.Boolean,
  attempts: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number,
  durationMs: Schema.Number,
  status: CallStatus,
  error: Schema.optional(ErrorInfo),
  /** When the call finished (epoch ms). */
  at: Schema.Number
})
export type LlmCallRecord = typeof LlmCallRecord.Type

/**
 * One tool call of a run, as its `ToolCallFinished` event reported it (read from the event log;
 * `arguments` and `result` are the event's truncated renderings).
 */
export const ToolCallRecord = Schema.Struct({
  stepId: Schema.optional(Schema.String),
  agent: Schema.String,
  tool: Schema.String,
  callId: Schema.String,
  status: ToolCallStatus,
  arguments: Schema.String,
  result: Schema.optional(Schema.String),
  error: Schema.optional(ErrorInfo),
  durationMs: Schema.Number,
  /** When the call finished (epoch ms). */
  at: Schema.Number
})
export type ToolCallRecord = typeof ToolCallRecord.Type

/** Everything known about one run: `history show <id>`. */
export const RunDetail = Schema.Struct({
  ...RunSummary.fields,
  /** The workflow's input as given (JSON). */
  input: Schema.Unknown,
  /** The workflow's output when it succeeded (JSON). */
  output: Schema.optional(Schema.Unknown),
  /** In the order they started. */
  steps: Schema.Array(StepRecord),
  /** In the order they finished. */
  llmCalls: Schema.Array(LlmCallRecord),
  /** In the order they finished. */
  toolCalls: Schema.Array(ToolCallRecord)
})
export type RunDetail = typeof RunDetail.Type

/** Sums over every run in the history (the footer of `effect-agents history`). */
export const HistoryTotals = Schema.Struct({
  runs: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number
})
export type HistoryTotals = typeof HistoryTotals.Type

/**
 * A run as `changedRuns` reports it: its summary and steps, when its record last changed, and
 * who writes it.
 */
export const RunChange = Schema.Struct({
  ...RunSummary.fields,
  /** When the run's record last changed (epoch ms, on the clock of the process that wrote it). */
  updatedAt: Schema.Number,
  /** True when this very store writes the run: a run of this process. */
  local: Schema.Boolean,
  /** The host and pid of the process that writes the run, when known. */
  host: Schema.optional(Schema.String),
  pid: Schema.optional(Schema.Number),
  /** The workflow's output when it succeeded (JSON). */
  output: Schema.optional(Schema.Unknown),
  /** In the order they started. */
  steps: Schema.Array(StepRecord)
})
export type RunChange = typeof RunChange.Type

/** What `changedRuns` asks for. */
export interface ChangedRunsOptions {
  /** Changes at or after this time (epoch ms). */
  readonly since: number
  /** Runs at most; the least recently changed come first. */
  readonly limit: number
  /** `others`: only runs other processes (other stores) write; `all`: this process's too. */
  readonly writers: "all" | "others"
}

/** Where a page of `listRuns` ends: the last run it held. The next page starts after it. */
export interface RunCursor {
  readonly startedAt: number
  readonly id: string
}

/** Paging and filters of `listRuns`: newest runs first. */
export interface ListRunsOptions {
  readonly limit: number
  readonly offset?: number
  /** Only runs that read as this status (a dead process's `running` run reads `interrupted`). */
  readonly status?: HistoryStatus
  readonly workflow?: string
  /** Only runs after this one in the order of the list (keyset paging: stable under new runs). */
  readonly after?: RunCursor
}

/** One event of the event log and its position there (increasing in the order the store took them). */
export interface LoggedEvent {
  readonly seq: number
  readonly event: WorkflowEvent
}

/** What `eventsAfter` asks for. */
export interface EventsAfterOptions {
  /** Events after this position (0: from the start). */
  readonly after: number
  /** Only this run's events. */
  readonly runId?: string
  readonly limit: number
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * The history store could not do `operation` (`open`, `migrate`, `record`, `listRuns`, ...).
 * `reason` is the driver's message; connection strings are never part of it.
 */
export class RunHistoryError extends Schema.TaggedError<RunHistoryError>()("RunHistoryError", {
  operation: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `run history ${this.operation} failed: ${this.reason}`
  }
}

/** Every failure of the run history. */
export type RunHistoryFailure = RunHistoryError

// ---------------------------------------------------------------------------------------------
// The port
// ---------------------------------------------------------------------------------------------

/** Reads and writes the run history. */
export interface RunHistoryService {
  /**
   * Applies one event. Workflow, step and LLM-call events write rows; the other events
   * (`LlmCallStarted`, `Retrying`, `RateLimited`, `CircuitStateChanged`) and LLM calls made
   * outside a run are not stored. Applying events out of order (a finish before its start) still
   * leaves the right row, and applying the same event object again changes nothing, so a write
   * whose outcome is unknown (a failed COMMIT) can simply be retried. Never dies: driver defects
   * are `RunHistoryError`s.
   */
  readonly record: (event: WorkflowEvent) => Effect.Effect<void, RunHistoryError>
  /**
   * Applies events in order in one transaction: all are written or none is. The recorder uses it
   * so a burst of events costs one commit rather than one per event.
   */
  readonly recordAll: (events: ReadonlyArray<WorkflowEvent>) => Effect.Effect<void, RunHistoryError>
  /** Runs, newest first; a run whose process of this host is gone reads as `interrupted`. */
  readonly listRuns: (options: ListRunsOptions) => Effect.Effect<ReadonlyArray<RunSummary>, RunHistoryError>
  /**
   * One run with its input, output, steps and LLM calls; `None` for an unknown id. A run whose
   * process is gone reads as `interrupted`, and so do its unfinished steps.
   */
  readonly getRun: (id: string) => Effect.Effect<Option.Option<RunDetail>, RunHistoryError>
  /**
   * Runs whose record (the run, a step or an LLM call) changed at or after `since`, least recently
   * changed first, with their steps: how a dashboard follows the runs other processes record in
   * the same store. Times are the writers' clocks and a transaction commits a little after its
   * stamp, so a follower asks again from a little before the newest change it saw. A run whose
   * process is gone reads as `interrupted`, as in `listRuns`.
   */
  readonly changedRuns: (options: ChangedRunsOptions) => Effect.Effect<ReadonlyArray<RunChange>, RunHistoryError>
  /**
   * Events of the event log after a position, oldest first: how the API replays what an SSE
   * client missed and follows the events every process records. Entries this version cannot read
   * (written by a newer one) are skipped.
   */
  readonly eventsAfter: (options: EventsAfterOptions) => Effect.Effect<ReadonlyArray<LoggedEvent>, RunHistoryError>
  /** The position of the newest event in the log; 0 when it is empty. */
  readonly lastEventSeq: Effect.Effect<number, RunHistoryError>
  /** The id of the first run started with this idempotency key, if any. */
  readonly findIdempotent: (key: string) => Effect.Effect<Option.Option<string>, RunHistoryError>
  /** Counts and sums over all runs. */
  readonly totals: Effect.Effect<HistoryTotals, RunHistoryError>
  /**
   * Marks `interrupted` every run (and its unfinished steps) still `running` that no live process
   * is running, and returns how many runs it marked. Runs of this very store and of live
   * processes on this host are left alone; runs written from another host cannot be checked and
   * are marked — should that process still finish one, its `WorkflowFinished` overwrites the mark.
   */
  readonly markInterrupted: Effect.Effect<number, RunHistoryError>
}

/** The run history (see `layers/RunHistorySqlite.ts` and `layers/RunHistoryFromConfig.ts`). */
export class RunHistory extends Context.Tag("effect-agents/RunHistory")<RunHistory, RunHistoryService>() {}

/** `yield* RunHistory.record(event)`. */
export const record = Effect.serviceFunctionEffect(RunHistory, (s) => s.record)
/** `yield* RunHistory.recordAll(events)`. */
export const recordAll = Effect.serviceFunctionEffect(RunHistory, (s) => s.recordAll)
/** `yield* RunHistory.listRuns({ limit: 20 })`. */
export const listRuns = Effect.serviceFunctionEffect(RunHistory, (s) => s.listRuns)
/** `yield* RunHistory.getRun(id)`. */
export const getRun = Effect.serviceFunctionEffect(RunHistory, (s) => s.getRun)
/** `yield* RunHistory.changedRuns({ since, limit: 100, writers: "others" })`. */
export const changedRuns = Effect.serviceFunctionEffect(RunHistory, (s) => s.changedRuns)
/** `yield* RunHistory.totals`. */
export const totals: Effect.Effect<HistoryTotals, RunHistoryError, RunHistory> = Effect.flatMap(
  RunHistory,
  (s) => s.totals
)
/** `yield* RunHistory.markInterrupted`. */
export const markInterrupted: Effect.Effect<number, RunHistoryError, RunHistory> = Effect.flatMap(
  RunHistory,
  (s) => s.markInterrupted
)

/** What the running recorder (`layers/RunHistoryRecorder.ts`) offers to the code that reports runs. */
export interface HistoryRecorderService {
  /**
   * Waits until every event published before the call is written to the history, or `timeout`
   * passes. Returns the ids of the runs whose events are not all written yet: empty when everything
   * landed. Runs that lost events for good (the store refused one, or the in-memory backlog
   * overflowed during an outage) are always among them. Callers flush before they report a run as
   * finished, so what they print is on disk.
   */
  readonly flush: (timeout: Duration.DurationInput) => Effect.Effect<ReadonlyArray<string>>
}

/** The recorder that writes the event stream into the `RunHistory`. */
export class HistoryRecorder extends Context.Tag("effect-agents/HistoryRecorder")<HistoryRecorder, HistoryRecorderService>() {}

/** `yield* RunHistory.flush("5 seconds")`. */
export const flush = Effect.serviceFunctionEffect(HistoryRecorder, (s) => s.flush)

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

/**
 * Whether an event goes into the history: every event of a run (the run, step and call rows are
 * written from some, and all are appended to the event log the API replays) and every breaker
 * change. A streamed answer's `AnswerDelta`s are kept too — the API's SSE reads the log — which
 * their pace (at most ten a second per call) keeps to about the answer's own size. The recorder skips the others without a write: LLM calls made outside a run have no run
 * to belong to.
 */
export const isRecorded = (event: WorkflowEvent): boolean => {
  switch (event._tag) {
    case "CircuitStateChanged":
      return true
    default:
      return event.runId !== undefined
  }
}
