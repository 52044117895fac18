/**
 * OtherRuns — runs of other processes, read from the run history they share with this one, folded
 * into the dashboard's state next to the runs this process's events describe.
 *
 * `merge(state, changes)` is pure, like `WorkflowState.reduce`: each change is the run as the
 * history has it now (`RunHistory.changedRuns`), so applying it replaces what was shown. A run
 * moves from the running ones to the finished ones when the history says it ended; the header's
 * counts, tokens and cost take the difference, so they add up over everything the dashboard shows.
 * Such runs carry their `origin`; the history's `interrupted` (the process died) shows as
 * cancelled with an `Interrupted` error.
 */
import { HashMap, Option } from "effect"
import type { HistoryStatus, RunChange, StepRecord } from "../services/RunHistory.js"
import { type ErrorInfo, type RunStatus, truncate } from "../services/WorkflowEvents.js"
import type { DashboardState, RunView, StepView, Totals } from "./WorkflowState.js"

const died: ErrorInfo = { tag: "Interrupted", message: "its process ended before it finished" }

const statusOf = (status: HistoryStatus): "running" | RunStatus => (status === "interrupted" ? "cancelled" : status)

const errorOf = (status: HistoryStatus, error: ErrorInfo | undefined): ErrorInfo | undefined =>
  error ?? (status === "interrupted" ? died : undefined)

const stepOf = (step: StepRecord, maxOutputChars: number): StepView => ({
  stepId: step.stepId,
  label: step.label,
  agent: step.agent,
  status: statusOf(step.status),
  startedAt: step.startedAt,
  durationMs: step.durationMs,
  attempts: step.attempts,
  calls: step.calls,
  cached: step.cached,
  usage: { inputTokens: step.inputTokens, outputTokens: step.outputTokens },
  costUsd: step.costUsd,
  output: step.output === undefined ? undefined : truncate(step.output, maxOutputChars),
  error: errorOf(step.status, step.error),
  // Tool calls live in the history's event log, not its step rows: another process's are not shown.
  tools: [],
  answer: undefined
})

/** A change as the dashboard shows the run. */
export const viewOf = (change: RunChange, limits: DashboardState["limits"]): RunView => {
  const all = change.steps.map((step) => stepOf(step, limits.maxOutputChars))
  const steps = all.length > limits.maxSteps ? all.slice(all.length - limits.maxSteps) : all
  const status = statusOf(change.status)
  return {
    runId: change.id,
    workflow: change.workflow,
    status,
    currentStep: status === "running" ? steps.findLast((s) => s.status === "running")?.label : undefined,
    startedAt: change.startedAt,
    finishedAt: change.finishedAt,
    durationMs: change.durationMs,
    usage: { inputTokens: change.inputTokens, outputTokens: change.outputTokens },
    costUsd: change.costUsd,
    llmCalls: change.steps.reduce((sum, step) => sum + step.calls, 0),
    steps,
    output: change.output === undefined ? undefined : truncate(change.output, limits.maxOutputChars),
    error: errorOf(change.status, change.error),
    origin: { host: change.host, pid: change.pid }
  }
}

/** The totals with `next` counted instead of `previous` (undefined: not shown before). */
const recount = (totals: Totals, previous: RunView | undefined, next: RunView): Totals => {
  const t = { ...totals }
  if (previous !== undefined) t[previous.status] -= 1
  t[next.status] += 1
  const before = previous?.usage ?? { inputTokens: 0, outputTokens: 0 }
  return {
    ...t,
    llmCalls: t.llmCalls + next.llmCalls - (previous?.llmCalls ?? 0),
    usage: {
      inputTokens: t.usage.inputTokens + next.usage.inputTokens - before.inputTokens,
      outputTokens: t.usage.outputTokens + next.usage.outputTokens - before.outputTokens
    },
    costUsd: t.costUsd + next.costUsd - (previous?.costUsd ?? 0)
  }
}

/** Folds one change in; runs of this process (`local`) are left to its events. */
const mergeOne = (state: DashboardState, change: RunChange): DashboardState => {
  if (change.local) return state
  const active = HashMap.get(state.active, change.id)
  // A run this process's events describe is never overwritten from the history.
  if (Option.isSome(active) && active.value.origin === undefined) return state
  const index = state.finished.findIndex((run) => run.runId === change.id)
  const previous = Option.isSome(active) ? active.value : state.finished[index]
  if (previous !== undefined && previous.origin === undefined) return state
  const next = viewOf(change, state.limits)
  const totals = recount(state.totals, previous, next)
  if (next.status === "running") return { ...state, active: HashMap.set(state.active, next.runId, next), totals }
  const rest = index >= 0 ? [...state.finished.slice(0, index), ...state.finished.slice(index + 1)] : state.finished
  const finished = [next, ...rest]
  if (finished.length > state.limits.maxFinished) finished.length = state.limits.maxFinished
  return { ...state, active: HashMap.remove(state.active, next.runId), finished, totals }
}

/** Folds the changes in, in order. Pure; the same change applied twice changes nothing more. */
export const merge = (state: DashboardState, changes: Iterable<RunChange>): DashboardState => {
  let s = state
  for (const change of changes) s = mergeOne(s, change)
  return s
}
