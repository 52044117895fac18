/**
 * WorkflowState — the dashboard's view of everything happening, as a pure fold over events.
 *
 * `reduce(state, event)` is the only way state changes, so the dashboard, the API and tests all
 * see the same numbers from the same events. It must stay cheap with 1,000 concurrent runs:
 * running runs live in a persistent `HashMap` (an update copies O(log n) nodes, not the map),
 * finished runs are a short array capped at `maxFinished` (newest first), and a run's own step list
 * is capped at `maxSteps`. Nothing here reads a clock: elapsed times take `now` as an argument.
 */
import { HashMap, Option } from "effect"
import type { DashboardState, RunView, StepView, Totals } from "./DashboardState.js"
import { addUsage, emptyUsage, type RunStatus, truncate, type WorkflowEvent } from "../services/WorkflowEvents.js"

export {
  type BreakerView,
  type DashboardState,
  initialState,
  type Limits,
  makeState,
  type RunOrigin,
  type RunView,
  type StepView,
  type Totals
} from "./DashboardState.js"

const newRun = (runId: string, workflow: string, startedAt: number): RunView => ({
  runId,
  workflow,
  status: "running",
  currentStep: undefined,
  startedAt,
  finishedAt: undefined,
  durationMs: undefined,
  usage: emptyUsage,
  costUsd: 0,
  llmCalls: 0,
  steps: [],
  output: undefined,
  error: undefined,
  origin: undefined
})

const updateActive = (
  state: DashboardState,
  runId: string | undefined,
  f: (run: RunView) => RunView
): DashboardState => {
  if (runId === undefined) return state
  const run = HashMap.get(state.active, runId)
  return Option.isNone(run) ? state : { ...state, active: HashMap.set(state.active, runId, f(run.value)) }
}

const updateStep = (run: RunView, stepId: string | undefined, f: (step: StepView) => StepView): RunView => {
  if (stepId === undefined) return run
  // Steps are few and the one updated is usually among the newest: search from the end.
  for (let i = run.steps.length - 1; i >= 0; i--) {
    const step = run.steps[i]!
    if (step.stepId === stepId) {
      const steps = run.steps.slice()
      steps[i] = f(step)
      return { ...run, steps }
    }
  }
  return run
}

const latestRunningLabel = (steps: ReadonlyArray<StepView>): string | undefined => {
  for (let i = steps.length - 1; i >= 0; i--) if (steps[i]!.status === "running") return steps[i]!.label
  return undefined
}

const countStatus = (totals: Totals, status: RunStatus): Totals => ({ ...totals, [status]: totals[status] + 1 })

type EventOf<Tag extends WorkflowEvent["_tag"]> = Extract<WorkflowEvent, { readonly _tag: Tag }>

const workflowStarted = (s: DashboardState, event: EventOf<"WorkflowStarted">): DashboardState =>
  HashMap.has(s.active, event.runId) ? s : {
    ...s,
    active: HashMap.set(s.active, event.runId, newRun(event.runId, event.workflow, event.at)),
    totals: { ...s.totals, running: s.totals.running + 1 }
  }

const workflowFinished = (s: DashboardState, event: EventOf<"WorkflowFinished">): DashboardState => {
  const existing = HashMap.get(s.active, event.runId)
  const base = Option.getOrElse(existing, () => newRun(event.runId, event.workflow, event.at - event.durationMs))
  const done: RunView = {
    ...base,
    status: event.status,
    currentStep: undefined,
    finishedAt: event.at,
    durationMs: event.durationMs,
    usage: event.usage,
    costUsd: event.costUsd,
    output: event.output === undefined ? undefined : truncate(event.output, s.limits.maxOutputChars),
    error: event.error
  }
  const finished = [done, ...s.finished]
  if (finished.length > s.limits.maxFinished) finished.length = s.limits.maxFinished
  const totals = Option.isSome(existing) ? { ...s.totals, running: s.totals.running - 1 } : s.totals
  return {
    ...s,
    active: Option.isSome(existing) ? HashMap.remove(s.active, event.runId) : s.active,
    finished,
    totals: countStatus(totals, event.status)
  }
}

const stepStarted = (s: DashboardState, event: EventOf<"StepStarted">): DashboardState =>
  updateActive(s, event.runId, (run) => {
    const step: StepView = {
      stepId: event.stepId,
      label: event.label,
      agent: event.agent,
      status: "running",
      startedAt: event.at,
      durationMs: undefined,
      attempts: 0,
      calls: 0,
      cached: false,
      usage: emptyUsage,
      costUsd: 0,
      output: undefined,
      error: undefined
    }
    const steps = run.steps.length >= s.limits.maxSteps
      ? [...run.steps.slice(run.steps.length - s.limits.maxSteps + 1), step]
      : [...run.steps, step]
    return { ...run, steps, currentStep: event.label }
  })

const stepFinished = (s: DashboardState, event: EventOf<"StepFinished">): DashboardState =>
  updateActive(s, event.runId, (run) => {
    const updated = updateStep(run, event.stepId, (step) => ({
      ...step,
      agent: event.agent ?? step.agent,
      status: event.status,
      durationMs: event.durationMs,
      attempts: event.attempts,
      calls: event.calls,
      cached: event.cached,
      usage: event.usage,
      costUsd: event.costUsd,
      output: event.output === undefined ? undefined : truncate(event.output, s.limits.maxOutputChars),
      error: event.error
    }))
    return { ...updated, currentStep: latestRunningLabel(updated.steps) }
  })

const llmCallFinished = (s: DashboardState, event: EventOf<"LlmCallFinished">): DashboardState => {
  const totals: Totals = {
    ...s.totals,
    llmCalls: s.totals.llmCalls + 1,
    llmErrors: s.totals.llmErrors + (event.status === "error" ? 1 : 0),
    usage: addUsage(s.totals.usage, event.usage),
    costUsd: s.totals.costUsd + event.costUsd,
    cacheHits: s.totals.cacheHits + (event.cached ? 1 : 0)
  }
  return updateActive({ ...s, totals }, event.runId, (run) => {
    const withCall: RunView = {
      ...run,
      usage: addUsage(run.usage, event.usage),
      costUsd: run.costUsd + event.costUsd,
      llmCalls: run.llmCalls + 1
    }
    return updateStep(withCall, event.stepId, (step) => ({
      ...step,
      agent: step.agent ?? event.agent,
      calls: step.calls + 1,
      attempts: step.attempts + (event.cached ? 0 : event.attempt),
      usage: addUsage(step.usage, event.usage),
      costUsd: step.costUsd + event.costUsd
    }))
  })
}

/** Folds one event into the state. Pure; never throws; unknown runs' step events are ignored. */
export const reduce = (state: DashboardState, event: WorkflowEvent): DashboardState => {
  const s = event.at > state.lastEventAt ? { ...state, lastEventAt: event.at } : state
  switch (event._tag) {
    case "WorkflowStarted":
      return workflowStarted(s, event)
    case "WorkflowFinished":
      return workflowFinished(s, event)
    case "StepStarted":
      return stepStarted(s, event)
    case "StepFinished":
      return stepFinished(s, event)
    case "LlmCallStarted":
      return s
    case "LlmCallFinished":
      return llmCallFinished(s, event)
    case "Retrying":
      return { ...s, totals: { ...s.totals, retries: s.totals.retries + 1 } }
    case "RateLimited":
      return {
        ...s,
        totals: {
          ...s.totals,
          rateLimitWaits: s.totals.rateLimitWaits + 1,
          rateLimitWaitMs: s.totals.rateLimitWaitMs + event.waitMs
        }
      }
    case "CircuitStateChanged":
      return {
        ...s,
        breakers: {
          ...s.breakers,
          [event.breaker]: { breaker: event.breaker, state: event.to, retryAt: event.retryAt, since: event.at }
        }
      }
  }
}

/** Folds many events, in order. */
export const reduceAll = (state: DashboardState, events: Iterable<WorkflowEvent>): DashboardState => {
  let s = state
  for (const event of events) s = reduce(s, event)
  return s
}

/** Running runs in start order (oldest first). */
export const activeRuns = (state: DashboardState): ReadonlyArray<RunView> =>
  Array.from(HashMap.values(state.active)).sort((a, b) => a.startedAt - b.startedAt)

/** A run by id, running or among the kept finished ones. */
export const findRun = (state: DashboardState, runId: string): Option.Option<RunView> =>
  Option.orElse(HashMap.get(state.active, runId), () => Option.fromNullable(state.finished.find((r) => r.runId === runId)))

/** Milliseconds a run has taken: its duration when finished, else up to `now`. */
export const elapsedMs = (run: RunView, now: number): number => run.durationMs ?? Math.max(0, now - run.startedAt)

/** Share of LLM calls answered from the cache, 0 when there were none. */
export const cacheHitRate = (totals: Totals): number => (totals.llmCalls === 0 ? 0 : totals.cacheHits / totals.llmCalls)

/** The state without its finished runs (the dashboard's `c`); totals and running runs are kept. */
export const clearFinished = (state: DashboardState): DashboardState =>
  state.finished.length === 0 ? state : { ...state, finished: [] }

/** The state with the limiter's current number of waiting callers. */
export const setLimiterWaiting = (state: DashboardState, waiting: number): DashboardState =>
  state.limiterWaiting === waiting ? state : { ...state, limiterWaiting: waiting }
