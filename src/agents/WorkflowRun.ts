/**
 * WorkflowRun — one run of a workflow and the steps recorded in it.
 *
 * A run gets an id, the run scope in `WorkflowContext` (so LLM calls deep inside are attributed to
 * it and held against its budget), WorkflowStarted / WorkflowFinished events, and the `workflow_*`
 * / `active_workflows` metrics. Start and finish are an `acquireUseRelease` pair, so a run that is
 * interrupted (cancelled) still publishes its `cancelled` finish and leaves `active_workflows`
 * where it found it. Interruption reaches the in-flight LLM call because the call is just a child
 * of the run's fiber. A run whose calls cost more than its budget fails with `BudgetExceeded` even
 * when its body succeeded: it never reports plain `succeeded` with the budget passed.
 *
 * Every log line written during a run carries `runId` and `workflow`, and inside a step its
 * `stepId` (and `agent` inside an agent): the logger reads them from `WorkflowContext`
 * (`annotateLogger`), so code deep inside logs plainly and is still attributed.
 */
import { randomUUID } from "node:crypto"
import { Cause, Clock, Deferred, Effect, Exit, FiberRef, Metric, Option, type Tracer } from "effect"
import { tracedWith } from "../internal/tracing.js"
import { AppConfig } from "../services/AppConfig.js"
import * as Budget from "../services/Budget.js"
import * as Metrics from "../services/Metrics.js"
import * as WorkflowContext from "../services/WorkflowContext.js"
import {
  type ErrorInfo,
  errorInfo,
  type RunStatus,
  StepFinished,
  StepStarted,
  truncate,
  type Usage,
  WorkflowEvents,
  WorkflowFinished,
  WorkflowStarted
} from "../services/WorkflowEvents.js"

/** A finished step as the run result shows it (the `steps` of the `--json` result). */
export interface StepSummary {
  readonly stepId: string
  readonly label: string
  readonly agent: string | undefined
  readonly status: RunStatus
  readonly durationMs: number
  readonly cached: boolean
  readonly attempts: number
  readonly calls: number
  readonly usage: Usage
  readonly costUsd: number
  readonly error: ErrorInfo | undefined
}

/** A finished run: the CLI's `--json` result object (see the README) plus the steps' detail. */
export interface RunReport<A> {
  readonly id: string
  readonly workflow: string
  readonly status: RunStatus
  readonly output: A | undefined
  readonly error: ErrorInfo | undefined
  readonly usage: Usage
  readonly costUsd: number
  readonly durationMs: number
  readonly steps: ReadonlyArray<StepSummary>
}

/** Options of one run. */
export interface RunOptions {
  /** The run id; default a random UUID. */
  readonly runId?: string | undefined
  /** Budget in USD; default `WORKFLOW_MAX_COST_USD` when `AppConfig` is available. */
  readonly maxCostUsd?: number | undefined
  /** The key of the request that started the run (the API's `Idempotency-Key`), kept in its history. */
  readonly idempotencyKey?: string | undefined
  /** Completed once the run's `WorkflowStarted` is published: how a caller knows the run has begun. */
  readonly started?: Deferred.Deferred<void> | undefined
  /** The run is executed by the durable engine, which resumes it if its process dies (kept in its history). */
  readonly durable?: boolean | undefined
  /** When the run first started, for a durable run executed again: its duration counts from there. */
  readonly startedAt?: number | undefined
  /**
   * Asked when the run is interrupted: `true` means its worker is stopping and the engine will
   * resume the run elsewhere, so it is not finished (no `WorkflowFinished`), only suspended.
   */
  readonly suspended?: (() => boolean) | undefined
}

interface RunState {
  readonly runId: string
  nextStep: number
  readonly steps: Array<StepSummary>
}

/** The current run's step counter and finished steps; `undefined` outside a run. */
const runStateRef: FiberRef.FiberRef<RunState | undefined> = FiberRef.unsafeMake<RunState | undefined>(undefined, {
  fork: (parent) => parent,
  join: (parent) => parent
})

const statusOf = <A, E>(exit: Exit.Exit<A, E>): RunStatus =>
  Exit.isSuccess(exit) ? "succeeded" : Cause.isInterruptedOnly(exit.cause) ? "cancelled" : "failed"

const errorOf = <E>(cause: Cause.Cause<E>): ErrorInfo => {
  if (Cause.isInterruptedOnly(cause)) return { tag: "Interrupted", message: "the run was cancelled" }
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return errorInfo(failure.value)
  const defect = errorInfo(Cause.squash(cause))
  return { tag: "Defect", message: `${defect.tag}: ${defect.message}` }
}

const configuredBudget: Effect.Effect<number | undefined> = Effect.map(
  Effect.serviceOption(AppConfig),
  (config) => Option.getOrUndefined(Option.flatMap(config, (c) => c.workflowMaxCostUsd))
)

/** Fails with `BudgetExceeded` when the current run spent more than its budget. */
const withinBudget: Effect.Effect<void, Budget.BudgetExceeded> = Effect.flatMap(
  WorkflowContext.current,
  (ctx) => (ctx.budget === undefined ? Effect.void : Budget.overrun(ctx.budget))
)

/** What a run or step ended as, on its span: the status (a cancelled run's span is not an error) and its totals. */
const annotateTotals = (span: Tracer.Span, status: RunStatus, tally: WorkflowContext.Tally): void => {
  span.attribute("workflow.status", status)
  span.attribute("workflow.llm_calls", tally.calls)
  span.attribute("workflow.input_tokens", tally.inputTokens)
  span.attribute("workflow.output_tokens", tally.outputTokens)
  span.attribute("workflow.cost_usd", tally.costUsd)
}

/** How workflow `name` runs `body`, for inputs already checked against its Schema. */
export interface Runner<I, A, E, R> {
  readonly run: (input: I, options: RunOptions) => Effect.Effect<A, E | Budget.BudgetExceeded, R | WorkflowEvents>
  readonly runReport: (input: I, options: RunOptions) => Effect.Effect<RunReport<A>, never, R | WorkflowEvents>
}

export const make = <I, A, E, R>(name: string, body: (input: I) => Effect.Effect<A, E, R>): Runner<I, A, E, R> => {
  /** One run, recording its steps in `state` and handing its WorkflowFinished to `onFinished`. */
  const execute = (
    input: I,
    options: RunOptions,
    state: RunState,
    onFinished: (event: WorkflowFinished) => void
  ): Effect.Effect<A, E | Budget.BudgetExceeded, R | WorkflowEvents> =>
    Effect.gen(function*() {
      const events = yield* WorkflowEvents
      const runId = state.runId
      const maxCostUsd = options.maxCostUsd ?? (yield* configuredBudget)
      const tally = WorkflowContext.makeTally()
      // The run's span (when spans are exported) covers its start and finish events too, so its
      // trace id is known as the run starts: in the WorkflowStarted event and every log line.
      return yield* tracedWith(`Workflow.${name}`, () => ({ attributes: { "workflow.name": name, "workflow.run_id": runId } }), (span) =>
        Effect.gen(function*() {
          const traceId = span?.traceId
          const context = yield* WorkflowContext.ofRun({ runId, workflow: name, traceId, maxCostUsd, tally })
          // The run's context and step state are set as it starts and restored as it ends, in the same
          // region that publishes both: one region held open per run in flight rather than three.
          return yield* Effect.acquireUseRelease(
            Effect.gen(function*() {
              const at = options.startedAt ?? (yield* Clock.currentTimeMillis)
              yield* Metric.increment(Metrics.activeWorkflows)
              yield* events.publish(
                new WorkflowStarted({
                  runId,
                  workflow: name,
                  input,
                  ...(traceId === undefined ? {} : { traceId }),
                  ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
                  ...(options.durable === true ? { durable: true } : {}),
                  at
                })
              )
              if (options.started !== undefined) yield* Deferred.succeed(options.started, undefined)
              const outer = yield* FiberRef.getAndSet(WorkflowContext.ref, context)
              const outerState = yield* FiberRef.getAndSet(runStateRef, state)
              return { at, outer, outerState }
            }),
            () => Effect.zipLeft(body(input), withinBudget),
            ({ at: startedAt, outer, outerState }, exit) =>
              Effect.gen(function*() {
                const at = yield* Clock.currentTimeMillis
                const status = statusOf(exit)
                const durationMs = at - startedAt
                const tags = { workflow: name, status }
                yield* Metric.incrementBy(Metrics.activeWorkflows, -1)
                if (status === "cancelled" && options.suspended?.() === true) {
                  yield* FiberRef.set(runStateRef, outerState)
                  return yield* FiberRef.set(WorkflowContext.ref, outer)
                }
                yield* Metric.increment(Metrics.withTags(Metrics.workflowExecutionsTotal, tags))
                yield* Metric.update(Metrics.withTags(Metrics.workflowDurationSeconds, tags), durationMs / 1000)
                const finished = new WorkflowFinished({
                  runId,
                  workflow: name,
                  status,
                  ...(Exit.isSuccess(exit) ? { output: exit.value } : { error: errorOf(exit.cause) }),
                  usage: { inputTokens: tally.inputTokens, outputTokens: tally.outputTokens },
                  costUsd: tally.costUsd,
                  durationMs,
                  at
                })
                if (span !== undefined) annotateTotals(span, status, tally)
                onFinished(finished)
                yield* events.publish(finished)
                yield* FiberRef.set(runStateRef, outerState)
                yield* FiberRef.set(WorkflowContext.ref, outer)
              })
          )
        }))
    })

  const newState = (options: RunOptions): RunState => ({ runId: options.runId ?? randomUUID(), nextStep: 1, steps: [] })

  return {
    run: (input, options) => Effect.suspend(() => execute(input, options, newState(options), () => {})),
    runReport: (input, options) =>
      Effect.suspend(() => {
        const state = newState(options)
        // The totals come from the run's own WorkflowFinished, so the report equals what history stores.
        let finished: WorkflowFinished | undefined
        return Effect.map(Effect.exit(execute(input, options, state, (e) => (finished = e))), (exit): RunReport<A> => ({
          id: state.runId,
          workflow: name,
          status: statusOf(exit),
          output: Exit.isSuccess(exit) ? exit.value : undefined,
          error: Exit.isFailure(exit) ? errorOf(exit.cause) : undefined,
          usage: finished?.usage ?? { inputTokens: 0, outputTokens: 0 },
          costUsd: finished?.costUsd ?? 0,
          durationMs: finished?.durationMs ?? 0,
          steps: state.steps
        }))
      })
  }
}

/** Options of `step`. */
export interface StepOptions {
  /** The agent the step runs, for the step row; default the first agent that runs inside it. */
  readonly agent?: string | undefined
}

/**
 * Runs `effect` as a step of the current run: StepStarted / StepFinished events with the step's
 * duration, status, tokens, cost, attempts and cache use (from the LLM calls made inside it).
 * Outside a run it simply runs `effect`.
 */
export const step = <A, E, R>(
  label: string,
  effect: Effect.Effect<A, E, R>,
  options: StepOptions = {}
): Effect.Effect<A, E, R | WorkflowEvents> =>
  Effect.flatMap(FiberRef.get(runStateRef), (state) => {
    if (state === undefined) return effect
    return Effect.gen(function*() {
      const events = yield* WorkflowEvents
      const stepId = `step-${state.nextStep++}`
      const tally = WorkflowContext.makeTally()
      const runId = state.runId
      const attributes = () => ({
        attributes: { "workflow.run_id": runId, "workflow.step_id": stepId, "workflow.step_label": label }
      })
      return yield* tracedWith(`Step.${label}`, attributes, (span) =>
        Effect.acquireUseRelease(
          Effect.gen(function*() {
            const at = yield* Clock.currentTimeMillis
            yield* events.publish(
              new StepStarted({ runId, stepId, label, ...(options.agent === undefined ? {} : { agent: options.agent }), at })
            )
            // Set and restored by the step's own region, as the run's are.
            const outer = yield* FiberRef.getAndUpdate(WorkflowContext.ref, (ctx) => WorkflowContext.ofStep(ctx, stepId, tally))
            return { at, outer }
          }),
          () => effect,
          ({ at: startedAt, outer }, exit) =>
            Effect.gen(function*() {
              const at = yield* Clock.currentTimeMillis
              const agent = options.agent ?? tally.agent
              const summary: StepSummary = {
                stepId,
                label,
                agent,
                status: statusOf(exit),
                durationMs: at - startedAt,
                cached: tally.calls > 0 && tally.cachedCalls === tally.calls,
                attempts: tally.attempts,
                calls: tally.calls,
                usage: { inputTokens: tally.inputTokens, outputTokens: tally.outputTokens },
                costUsd: tally.costUsd,
                error: Exit.isFailure(exit) ? errorOf(exit.cause) : undefined
              }
              state.steps.push(summary)
              if (span !== undefined) annotateTotals(span, summary.status, tally)
              yield* events.publish(
                new StepFinished({
                  runId,
                  stepId,
                  label,
                  ...(agent === undefined ? {} : { agent }),
                  status: summary.status,
                  durationMs: summary.durationMs,
                  cached: summary.cached,
                  attempts: summary.attempts,
                  calls: summary.calls,
                  usage: summary.usage,
                  costUsd: summary.costUsd,
                  ...(Exit.isSuccess(exit) ? { output: truncate(exit.value) } : { error: errorOf(exit.cause) }),
                  at
                })
              )
              yield* FiberRef.set(WorkflowContext.ref, outer)
            })
        ))
    })
  })
