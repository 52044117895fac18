/**
 * Workflow — agents composed into a run with events, metrics, cost and a budget for free.
 *
 * A workflow is a function from a Schema-typed input to an Effect. `run` wraps it: a run id, the
 * run scope in `WorkflowContext` (so LLM calls deep inside are attributed to it), WorkflowStarted /
 * WorkflowFinished events, and the `workflow_*` / `active_workflows` metrics. Start and finish are
 * an `acquireUseRelease` pair, so a run that is interrupted (cancelled) still publishes its
 * `cancelled` finish and leaves `active_workflows` where it found it. Interruption reaches the
 * in-flight LLM call because the call is just a child of the run's fiber.
 *
 * Every log line written during a run carries `runId` and `workflow`, and inside a step its
 * `stepId` (agents add `agent`, the LLM layer `attempt`): `Effect.annotateLogs` around the run and
 * the step, so code deep inside logs plainly and is still attributed.
 *
 * `step`, `parallel` and `loop` are the combinators workflows are written with.
 */
import type { LanguageModel } from "@effect/ai"
import { randomUUID } from "node:crypto"
import { Cause, Clock, Effect, Exit, FiberRef, Metric, Option, ParseResult, Schema } from "effect"
import { AppConfig } from "../services/AppConfig.js"
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

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

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

/** The input given to a workflow did not decode with its input Schema. */
export class WorkflowInputError extends Schema.TaggedError<WorkflowInputError>()("WorkflowInputError", {
  workflow: Schema.String,
  /** The Schema's report, as a tree (several lines). */
  issues: Schema.String,
  /** The same on one line: each failing path with its message (`["task"]: Expected string, actual 42`). */
  summary: Schema.String
}) {
  override get message(): string {
    return `invalid input for workflow ${this.workflow}: ${this.issues}`
  }
}

/** Options of one run. */
export interface RunOptions {
  /** The run id; default a random UUID. */
  readonly runId?: string | undefined
  /** Budget in USD; default `WORKFLOW_MAX_COST_USD` when `AppConfig` is available. */
  readonly maxCostUsd?: number | undefined
}

/** A defined workflow. */
export interface Workflow<I, A, E, R> {
  readonly name: string
  readonly description: string
  /** The input Schema (its encoded side is whatever JSON the CLI or API receives). */
  readonly inputSchema: Schema.Schema<I, unknown>
  /** Runs the workflow; fails as its body fails. */
  readonly run: (input: I, options?: RunOptions) => Effect.Effect<A, E, R | WorkflowEvents>
  /** Runs the workflow and reports how it went; never fails (interruption still interrupts). */
  readonly runReport: (input: I, options?: RunOptions) => Effect.Effect<RunReport<A>, never, R | WorkflowEvents>
  /**
   * Decodes raw input (from the CLI, a JSONL line or the API) with the input Schema; a string
   * that does not decode as is is tried once more as JSON.
   */
  readonly decodeInput: (raw: unknown) => Effect.Effect<I, WorkflowInputError>
}

/** A workflow of any input, output and error, as a registry lists them. */
export interface AnyWorkflow {
  readonly name: string
  readonly description: string
  /** Checks raw input against the workflow's input Schema without running it. */
  readonly validateInput: (raw: unknown) => Effect.Effect<void, WorkflowInputError>
  readonly runReportUnknown: (
    raw: unknown,
    options?: RunOptions
  ) => Effect.Effect<RunReport<unknown>, WorkflowInputError, LanguageModel.LanguageModel | WorkflowEvents>
}

// ---------------------------------------------------------------------------------------------
// Run bookkeeping private to this module
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Constructors and combinators
// ---------------------------------------------------------------------------------------------

/**
 * Defines a workflow. `body` receives the decoded input and composes agents with `step`,
 * `parallel` and `loop`; everything else (events, metrics, budget, cancellation) is `run`'s job.
 */
export const make = <I, II, A, E, R>(
  name: string,
  description: string,
  inputSchema: Schema.Schema<I, II>,
  body: (input: I) => Effect.Effect<A, E, R>
): Workflow<I, A, E, R> => {
  // Sound: decoding takes unknown anyway; the encoded side is only ever treated as unknown JSON.
  const schema = inputSchema as unknown as Schema.Schema<I, unknown>
  const decode = Schema.decodeUnknown(schema)

  /** One run, recording its steps in `state` and handing its WorkflowFinished to `onFinished`. */
  const execute = (
    input: I,
    options: RunOptions,
    state: RunState,
    onFinished: (event: WorkflowFinished) => void
  ): Effect.Effect<A, E, R | WorkflowEvents> =>
    Effect.gen(function*() {
      const events = yield* WorkflowEvents
      const runId = state.runId
      const maxCostUsd = options.maxCostUsd ?? (yield* configuredBudget)
      const tally = WorkflowContext.makeTally()
      return yield* Effect.acquireUseRelease(
        Effect.gen(function*() {
          const at = yield* Clock.currentTimeMillis
          yield* Metric.increment(Metrics.activeWorkflows)
          yield* events.publish(new WorkflowStarted({ runId, workflow: name, input, at }))
          return at
        }),
        () =>
          body(input).pipe(
            Effect.locally(runStateRef, state),
            WorkflowContext.withRun({ runId, workflow: name, maxCostUsd, tally }),
            Effect.withSpan(`Workflow.${name}`, { attributes: { "workflow.name": name, "workflow.run_id": runId } })
          ),
        (startedAt, exit) =>
          Effect.gen(function*() {
            const at = yield* Clock.currentTimeMillis
            const status = statusOf(exit)
            const durationMs = at - startedAt
            const tags = { workflow: name, status }
            yield* Metric.incrementBy(Metrics.activeWorkflows, -1)
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
            onFinished(finished)
            yield* events.publish(finished)
          })
      ).pipe(Effect.annotateLogs({ runId, workflow: name }))
    })

  const newState = (options: RunOptions): RunState => ({ runId: options.runId ?? randomUUID(), nextStep: 1, steps: [] })

  const run = (input: I, options: RunOptions = {}): Effect.Effect<A, E, R | WorkflowEvents> =>
    Effect.suspend(() => execute(input, options, newState(options), () => {}))

  const runReport = (input: I, options: RunOptions = {}): Effect.Effect<RunReport<A>, never, R | WorkflowEvents> =>
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

  const decodeInput = (raw: unknown): Effect.Effect<I, WorkflowInputError> =>
    decode(raw).pipe(
      Effect.catchAll((first) =>
        typeof raw === "string" ? Effect.flatMap(parseJson(raw), decode).pipe(Effect.mapError(() => first)) : Effect.fail(first)
      ),
      Effect.mapError((e) =>
        new WorkflowInputError({ workflow: name, issues: ParseResult.TreeFormatter.formatErrorSync(e), summary: summaryOf(e) })
      )
    )

  return { name, description, inputSchema: schema, run, runReport, decodeInput }
}

const parseJson = (text: string): Effect.Effect<unknown, ParseResult.ParseError> =>
  Schema.decode(Schema.parseJson())(text)

/** A parse error on one line: `path: message` per issue (the path left out at the top level). */
const summaryOf = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.map((key) => `[${JSON.stringify(key)}]`).join("")}: ${issue.message}`))
    .join("; ")

/** Erases a workflow's types for a registry; the input is decoded from raw JSON or text. */
export const erase = <I, A, E, R extends LanguageModel.LanguageModel | WorkflowEvents>(
  workflow: Workflow<I, A, E, R>
): AnyWorkflow => ({
  name: workflow.name,
  description: workflow.description,
  validateInput: (raw) => Effect.asVoid(workflow.decodeInput(raw)),
  runReportUnknown: (raw, options) =>
    Effect.flatMap(workflow.decodeInput(raw), (input) => workflow.runReport(input, options))
})

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
      return yield* Effect.acquireUseRelease(
        Effect.gen(function*() {
          const at = yield* Clock.currentTimeMillis
          yield* events.publish(
            new StepStarted({ runId, stepId, label, ...(options.agent === undefined ? {} : { agent: options.agent }), at })
          )
          return at
        }),
        () => WorkflowContext.withStep(stepId, tally)(effect),
        (startedAt, exit) =>
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
          })
      ).pipe(Effect.annotateLogs("stepId", stepId))
    })
  })

/**
 * Runs `f` over `items` with at most `concurrency` at a time (default 4), results in input
 * order. The first failure interrupts the others.
 */
export const parallel = <X, A, E, R>(
  items: Iterable<X>,
  f: (item: X, index: number) => Effect.Effect<A, E, R>,
  options: { readonly concurrency?: number | undefined } = {}
): Effect.Effect<Array<A>, E, R> => Effect.forEach(items, f, { concurrency: options.concurrency ?? 4 })

/** What a loop iteration decides: stop with `state`, or go round again with it. */
export interface LoopResult<S> {
  readonly state: S
  readonly done: boolean
}

/**
 * Runs `body` until it reports `done` or `maxIterations` iterations have run, whichever is
 * first, and returns the last state. Iterations count from 1.
 */
export const loop = <S, E, R>(
  options: { readonly maxIterations: number; readonly initial: S },
  body: (state: S, iteration: number) => Effect.Effect<LoopResult<S>, E, R>
): Effect.Effect<S, E, R> => {
  const go = (state: S, iteration: number): Effect.Effect<S, E, R> =>
    iteration > options.maxIterations
      ? Effect.succeed(state)
      : Effect.flatMap(body(state, iteration), (result) => (result.done ? Effect.succeed(result.state) : go(result.state, iteration + 1)))
  return go(options.initial, 1)
}
