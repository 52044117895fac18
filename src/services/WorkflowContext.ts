/**
 * WorkflowContext — the current run, step and agent, carried in the fiber context.
 *
 * Lower layers (the resilient LLM layer, the limiter, the logger) read `current` to tag events
 * and metrics with the run, step and agent without every call site passing them. The value lives
 * in a `FiberRef`, so forked fibers (parallel fan-out, timeouts, races) inherit it and a scope set
 * with `withRun` / `withStep` / `withAgent` ends with the effect it wraps. Log lines written
 * inside carry the run, workflow, step and agent through `annotateLogger`, which the logging layer
 * applies.
 *
 * The context also carries `Tally` accumulators of the enclosing run and steps. They are shared,
 * mutable counters (JavaScript runs one fiber at a time, so `+=` is safe): the LLM layer records
 * every finished call into all of them (`recordIn`), which is how a step knows its tokens, cost and
 * attempts. A budgeted run also carries its `RunBudget`, which reads the run's tally as its spend.
 */
import { Effect, FiberRef, FiberRefs, HashMap, Logger } from "effect"
import * as Budget from "./Budget.js"
import type { LlmCallFinished } from "./WorkflowEvents.js"

/** Model settings an agent asks for; the LLM layer applies those its provider supports. */
export interface ModelSettings {
  readonly temperature?: number
  readonly maxOutputTokens?: number
  readonly topP?: number
}

/**
 * Running totals of the LLM calls made inside a run or a step. Mutable on purpose: it is shared
 * by every fiber of the scope and updated by `recordIn`.
 */
export interface Tally {
  inputTokens: number
  outputTokens: number
  costUsd: number
  /** Logical LLM calls that finished (success or error). */
  calls: number
  /** Calls answered from the cache. */
  cachedCalls: number
  /** Provider attempts of the calls that were not cache hits. */
  attempts: number
  /** The first agent that ran inside the scope, for step rows that were not given one. */
  agent: string | undefined
}

/** A fresh, empty tally. */
export const makeTally = (): Tally => ({
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
  calls: 0,
  cachedCalls: 0,
  attempts: 0,
  agent: undefined
})

/** What the fiber knows about the work it is doing. Every field is absent outside a workflow. */
export interface WorkflowContextValue {
  readonly runId: string | undefined
  readonly workflow: string | undefined
  /** The trace of the run, when its spans are exported (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly traceId: string | undefined
  readonly stepId: string | undefined
  readonly agent: string | undefined
  /** The model the current agent asked for (overrides `LLM_MODEL` when the LLM layer supports it). */
  readonly model: string | undefined
  readonly settings: ModelSettings | undefined
  /** The run's budget in USD; a call that does not fit in it fails with `BudgetExceeded`. */
  readonly maxCostUsd: number | undefined
  /** What the run spent and its calls in flight hold against `maxCostUsd`, when it has one. */
  readonly budget: Budget.RunBudget | undefined
  /** Totals of the current run. */
  readonly run: Tally | undefined
  /** Totals of the enclosing steps, outermost first (steps may nest). */
  readonly steps: ReadonlyArray<Tally>
}

/** The context outside any workflow. */
export const empty: WorkflowContextValue = {
  runId: undefined,
  workflow: undefined,
  traceId: undefined,
  stepId: undefined,
  agent: undefined,
  model: undefined,
  settings: undefined,
  maxCostUsd: undefined,
  budget: undefined,
  run: undefined,
  steps: []
}

/**
 * The FiberRef holding the context. Joining a child fiber keeps the parent's value: a child's
 * scopes end with the child, and its tallies are shared objects anyway.
 */
export const ref: FiberRef.FiberRef<WorkflowContextValue> = FiberRef.unsafeMake(empty, {
  fork: (parent) => parent,
  join: (parent) => parent
})

/** The current run / step / agent. */
export const current: Effect.Effect<WorkflowContextValue> = FiberRef.get(ref)

/** What starts a run scope. */
export interface RunScope {
  readonly runId: string
  readonly workflow: string
  /** The trace the run's spans belong to, when they are exported. */
  readonly traceId?: string | undefined
  readonly maxCostUsd?: number | undefined
  /** The run's tally; pass one to read the totals after the run ends. */
  readonly tally?: Tally
}

/** The context of a run's body: a new run id, budget and tally, no step or agent. */
export const ofRun = (run: RunScope): Effect.Effect<WorkflowContextValue> =>
  Effect.suspend(() => {
    const tally = run.tally ?? makeTally()
    const budget: Effect.Effect<Budget.RunBudget | undefined> = run.maxCostUsd === undefined
      ? Effect.succeed(undefined)
      : Budget.make(run.maxCostUsd, run.runId, tally)
    return Effect.map(budget, (budget) => ({
      ...empty,
      runId: run.runId,
      workflow: run.workflow,
      traceId: run.traceId,
      maxCostUsd: run.maxCostUsd,
      budget,
      run: tally
    }))
  })

/** `ctx` inside step `stepId`, whose LLM calls are also counted in `tally`. */
export const ofStep = (ctx: WorkflowContextValue, stepId: string, tally: Tally): WorkflowContextValue => ({
  ...ctx,
  stepId,
  steps: [...ctx.steps, tally]
})

/** Runs `self` as the body of a workflow run: a new run id, budget and tally, no step or agent. */
export const withRun = (run: RunScope) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(ofRun(run), (ctx) => Effect.locally(self, ref, ctx))

/** Runs `self` as step `stepId`; its LLM calls are also counted in `tally`. */
export const withStep = (stepId: string, tally: Tally = makeTally()) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(current, (ctx) => Effect.locally(self, ref, ofStep(ctx, stepId, tally)))

/** What an agent asks of the calls made on its behalf. */
export interface AgentScope {
  readonly model?: string | undefined
  readonly settings?: ModelSettings | undefined
}

/**
 * Enters agent `agent`'s context (the enclosing run and steps learn which agent ran first in them)
 * and gives the context it replaced, to restore with `FiberRef.set(ref, outer)` when the agent ends.
 */
export const enterAgent = (agent: string, options: AgentScope = {}): Effect.Effect<WorkflowContextValue> =>
  FiberRef.getAndUpdate(ref, (ctx) => {
    for (const step of ctx.steps) if (step.agent === undefined) step.agent = agent
    if (ctx.run !== undefined && ctx.run.agent === undefined) ctx.run.agent = agent
    // Written out field by field: on Node 20 a spread followed by more fields costs ~1.5 µs a run.
    return {
      runId: ctx.runId,
      workflow: ctx.workflow,
      traceId: ctx.traceId,
      stepId: ctx.stepId,
      agent,
      model: options.model ?? ctx.model,
      settings: options.settings ?? ctx.settings,
      maxCostUsd: ctx.maxCostUsd,
      budget: ctx.budget,
      run: ctx.run,
      steps: ctx.steps
    }
  })

/** Runs `self` on behalf of agent `agent`, optionally asking for a model and settings. */
export const withAgent = (agent: string, options: AgentScope = {}) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(enterAgent(agent, options), () => self, (outer) => FiberRef.set(ref, outer))

/** Adds a finished call to a tally. */
export const addCall = (tally: Tally, event: LlmCallFinished): void => {
  tally.inputTokens += event.usage.inputTokens
  tally.outputTokens += event.usage.outputTokens
  tally.costUsd += event.costUsd
  tally.calls += 1
  if (event.cached) tally.cachedCalls += 1
  else tally.attempts += event.attempt
}

/**
 * Counts a finished LLM call in the run and every enclosing step of `ctx`. The LLM layer calls it
 * as a call finishes; nothing else should, or calls count twice.
 */
export const recordIn = (ctx: WorkflowContextValue, event: LlmCallFinished): void => {
  if (ctx.run !== undefined) addCall(ctx.run, event)
  for (const step of ctx.steps) addCall(step, event)
}

/** USD spent so far by the current run (0 outside a run). */
export const spentUsd: Effect.Effect<number> = Effect.map(current, (ctx) => ctx.run?.costUsd ?? 0)

/**
 * `logger` with each line annotated with the logging fiber's `runId`, `workflow`, `traceId` (when
 * the run's spans are exported), `stepId` and `agent` (those that are set; a line's own annotations win). The logging layer applies it; wrap
 * your own logger with it to get the same fields. Read from the context as a line is written rather
 * than set with `Effect.annotateLogs` around each run, step and agent: each such region stays open
 * for the whole run, ~3 KB a level per run in flight (README › Performance).
 */
export const annotateLogger = <Message, Output>(logger: Logger.Logger<Message, Output>): Logger.Logger<Message, Output> =>
  Logger.mapInputOptions(logger, (options) => {
    const ctx = FiberRefs.getOrDefault(options.context, ref)
    if (ctx.runId === undefined) return options
    let annotations = options.annotations
    const add = (key: string, value: string | undefined) => {
      if (value !== undefined && !HashMap.has(annotations, key)) annotations = HashMap.set(annotations, key, value)
    }
    add("runId", ctx.runId)
    add("workflow", ctx.workflow)
    add("traceId", ctx.traceId)
    add("stepId", ctx.stepId)
    add("agent", ctx.agent)
    return { ...options, annotations }
  })

/** Runs `self` with its LLM calls also counted in `tally` (beside the run and steps). */
export const withTally = (tally: Tally) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(current, (ctx) => Effect.locally(self, ref, { ...ctx, steps: [...ctx.steps, tally] }))

/** What a tally counts, without its agent. */
export type TallyCounts = Omit<Tally, "agent">

/** Adds calls counted elsewhere (a durable run's stored results) to the run and every step of `ctx`. */
export const addTally = (ctx: WorkflowContextValue, counts: TallyCounts): void => {
  const add = (tally: Tally) => {
    tally.inputTokens += counts.inputTokens
    tally.outputTokens += counts.outputTokens
    tally.costUsd += counts.costUsd
    tally.calls += counts.calls
    tally.cachedCalls += counts.cachedCalls
    tally.attempts += counts.attempts
  }
  if (ctx.run !== undefined) add(ctx.run)
  for (const step of ctx.steps) add(step)
}
