/**
 * WorkflowState — the dashboard's view of everything happening, as a pure fold over events.
 *
 * `reduce(state, event)` and `reduceAll(state, events)` are the only ways events change it, so the
 * dashboard, the API and tests all see the same numbers from the same events. It must stay cheap
 * with 1,000 concurrent runs at thousands of events a second: running runs live in a persistent
 * `HashMap` (an update copies O(log n) nodes, not the map; a batch copies each node it touches once,
 * see `Draft.ts`), finished runs are a short array capped at `maxFinished` (newest first), and a
 * run's own step list is capped at `maxSteps`. Nothing here reads a clock: elapsed times take `now`
 * as an argument.
 */
import { HashMap, Option, type Types } from "effect"
import { copyRun, copyStep, type DashboardState, type RunView, type StepView, type ToolCallView, type Totals } from "./DashboardState.js"
import { addFinished, type Draft, draftOf, finish, removeActive, setActive, totalsOf, updateActive } from "./Draft.js"
import { addUsage, emptyUsage, truncate, type WorkflowEvent } from "../services/WorkflowEvents.js"

export {
  type BreakerView,
  type DashboardState,
  initialState,
  type Limits,
  makeState,
  type RunOrigin,
  type RunView,
  type StepView,
  type ToolCallView,
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

/**
 * Replaces step `stepId` of `run` (a copy the caller owns) by a copy of the step changed by `f`, in
 * a new steps array; nothing when the run has no such step.
 */
const updateStep = (run: Types.Mutable<RunView>, stepId: string | undefined, f: (step: Types.Mutable<StepView>) => void): void => {
  if (stepId === undefined) return
  // Steps are few and the one updated is usually among the newest: search from the end.
  for (let i = run.steps.length - 1; i >= 0; i--) {
    const step = run.steps[i]!
    if (step.stepId === stepId) {
      const steps = run.steps.slice()
      const next = copyStep(step)
      f(next)
      steps[i] = next
      run.steps = steps
      return
    }
  }
}

const latestRunningLabel = (steps: ReadonlyArray<StepView>): string | undefined => {
  for (let i = steps.length - 1; i >= 0; i--) if (steps[i]!.status === "running") return steps[i]!.label
  return undefined
}

type EventOf<Tag extends WorkflowEvent["_tag"]> = Extract<WorkflowEvent, { readonly _tag: Tag }>

const workflowStarted = (d: Draft, event: EventOf<"WorkflowStarted">): void => {
  if (HashMap.has(d.active, event.runId)) return
  setActive(d, newRun(event.runId, event.workflow, event.at))
  totalsOf(d).running += 1
}

const workflowFinished = (d: Draft, event: EventOf<"WorkflowFinished">): void => {
  const existing = HashMap.get(d.active, event.runId)
  const done = copyRun(Option.getOrElse(existing, () => newRun(event.runId, event.workflow, event.at - event.durationMs)))
  done.status = event.status
  done.currentStep = undefined
  done.finishedAt = event.at
  done.durationMs = event.durationMs
  done.usage = event.usage
  done.costUsd = event.costUsd
  done.output = event.output === undefined ? undefined : truncate(event.output, d.limits.maxOutputChars)
  done.error = event.error
  addFinished(d, done)
  const totals = totalsOf(d)
  if (Option.isSome(existing)) {
    removeActive(d, event.runId)
    totals.running -= 1
  }
  totals[event.status] += 1
}

const stepStarted = (d: Draft, event: EventOf<"StepStarted">): void =>
  updateActive(d, event.runId, (run) => {
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
      error: undefined,
      tools: [],
      answer: undefined
    }
    // A durable run resumed on another worker starts its steps again, under the same ids.
    const again = run.steps.findIndex((s) => s.stepId === event.stepId)
    const steps = again >= 0
      ? run.steps.slice()
      : run.steps.length >= d.limits.maxSteps
      ? run.steps.slice(run.steps.length - d.limits.maxSteps + 1)
      : run.steps.slice()
    if (again >= 0) steps[again] = step
    else steps.push(step)
    run.steps = steps
    run.currentStep = event.label
  })

const stepFinished = (d: Draft, event: EventOf<"StepFinished">): void =>
  updateActive(d, event.runId, (run) => {
    updateStep(run, event.stepId, (step) => {
      step.agent = event.agent ?? step.agent
      step.status = event.status
      step.durationMs = event.durationMs
      step.attempts = event.attempts
      step.calls = event.calls
      step.cached = event.cached
      step.usage = event.usage
      step.costUsd = event.costUsd
      step.output = event.output === undefined ? undefined : truncate(event.output, d.limits.maxOutputChars)
      step.error = event.error
      step.answer = undefined
    })
    run.currentStep = latestRunningLabel(run.steps)
  })

const llmCallFinished = (d: Draft, event: EventOf<"LlmCallFinished">): void => {
  const totals = totalsOf(d)
  totals.llmCalls += 1
  if (event.status === "error") totals.llmErrors += 1
  totals.usage = addUsage(totals.usage, event.usage)
  totals.costUsd += event.costUsd
  if (event.cached) totals.cacheHits += 1
  updateActive(d, event.runId, (run) => {
    run.usage = addUsage(run.usage, event.usage)
    run.costUsd += event.costUsd
    run.llmCalls += 1
    updateStep(run, event.stepId, (step) => {
      step.agent = step.agent ?? event.agent
      step.calls += 1
      step.attempts += event.cached ? 0 : event.attempt
      step.usage = addUsage(step.usage, event.usage)
      step.costUsd += event.costUsd
    })
  })
}

/** A tool call as its newest event shows it. */
const toolCallView = (event: EventOf<"ToolCallStarted" | "ToolCallFinished">, maxChars: number): ToolCallView => {
  const finished = event._tag === "ToolCallFinished" ? event : undefined
  return {
    callId: event.callId,
    tool: event.tool,
    status: finished?.status ?? "running",
    arguments: truncate(event.arguments, maxChars),
    result: finished?.result === undefined ? undefined : truncate(finished.result, maxChars),
    error: finished?.error,
    durationMs: finished?.durationMs
  }
}

/**
 * A call's start adds it at the end of its step's calls (the newest `maxToolCalls` kept); its end
 * replaces it, or is added where it ends when its start was not seen (joined late).
 */
const toolCall = (d: Draft, event: EventOf<"ToolCallStarted" | "ToolCallFinished">): void => {
  if (event.runId === undefined) return
  updateActive(d, event.runId, (run) =>
    updateStep(run, event.stepId, (step) => {
      const view = toolCallView(event, d.limits.maxOutputChars)
      const i = event._tag === "ToolCallFinished" ? step.tools.findIndex((c) => c.callId === event.callId) : -1
      if (i >= 0) {
        step.tools = step.tools.map((c, j) => (j === i ? view : c))
        return
      }
      const max = d.limits.maxToolCalls
      step.tools = [...(step.tools.length >= max ? step.tools.slice(step.tools.length - max + 1) : step.tools), view]
    }))
}

/** More of a running step's streamed answer: its end is kept, up to `maxAnswerChars`. */
const answerDelta = (d: Draft, event: EventOf<"AnswerDelta">): void =>
  updateActive(d, event.runId, (run) =>
    updateStep(run, event.stepId, (step) => {
      if (step.status !== "running") return
      const answer = (step.answer ?? "") + event.text
      step.answer = answer.length > d.limits.maxAnswerChars ? answer.slice(answer.length - d.limits.maxAnswerChars) : answer
    }))

/** Folds one event into the draft. Unknown runs' step events are ignored. */
const fold = (d: Draft, event: WorkflowEvent): void => {
  if (event.at > d.lastEventAt) d.lastEventAt = event.at
  switch (event._tag) {
    case "WorkflowStarted":
      return workflowStarted(d, event)
    case "WorkflowFinished":
      return workflowFinished(d, event)
    case "StepStarted":
      return stepStarted(d, event)
    case "StepFinished":
      return stepFinished(d, event)
    case "LlmCallStarted":
      return
    case "LlmCallFinished":
      return llmCallFinished(d, event)
    case "Retrying":
      totalsOf(d).retries += 1
      return
    case "RateLimited": {
      const totals = totalsOf(d)
      totals.rateLimitWaits += 1
      totals.rateLimitWaitMs += event.waitMs
      return
    }
    case "ToolCallStarted":
    case "ToolCallFinished":
      return toolCall(d, event)
    case "AnswerDelta":
      return answerDelta(d, event)
    case "CircuitStateChanged":
      d.breakers = {
        ...d.breakers,
        [event.breaker]: { breaker: event.breaker, state: event.to, retryAt: event.retryAt, since: event.at }
      }
      return
  }
}

/**
 * Folds many events, in order: the same state as folding `reduce` over them, built once. The
 * running runs' map is updated in place for the batch (a transient copy of `state.active`, frozen
 * at the end), so a batch copies each map node and the totals once rather than once per event.
 * What the events did not change keeps its identity; a batch that changes nothing returns `state`.
 */
export const reduceAll = (state: DashboardState, events: Iterable<WorkflowEvent>): DashboardState => {
  const d = draftOf(state)
  for (const event of events) fold(d, event)
  return finish(state, d)
}

/** Folds one event into the state. Pure; never throws; unknown runs' step events are ignored. */
export const reduce = (state: DashboardState, event: WorkflowEvent): DashboardState => reduceAll(state, [event])

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
