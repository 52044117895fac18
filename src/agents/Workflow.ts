/**
 * Workflow — agents composed into a run with events, metrics, cost and a budget for free.
 *
 * A workflow is a function from a Schema-typed input to an Effect. `run` checks the input against
 * the Schema (`WorkflowInput`) and runs the body as one run (`WorkflowRun`): a run id, the run
 * scope that LLM calls deep inside are attributed to and budgeted in, lifecycle events, metrics.
 * `step`, `parallel` and `loop` are the combinators workflows are written with.
 */
import type { LanguageModel } from "@effect/ai"
import { Effect, type Schema } from "effect"
import type { BudgetExceeded } from "../services/Budget.js"
import type { WorkflowEvents } from "../services/WorkflowEvents.js"
import * as WorkflowInput from "./WorkflowInput.js"
import * as WorkflowRun from "./WorkflowRun.js"

export { WorkflowInputError } from "./WorkflowInput.js"
export { type RunOptions, type RunReport, step, type StepOptions, type StepSummary } from "./WorkflowRun.js"

/** A defined workflow. */
export interface Workflow<I, A, E, R> {
  readonly name: string
  readonly description: string
  /** The input Schema (its encoded side is whatever JSON the CLI or API receives). */
  readonly inputSchema: Schema.Schema<I, unknown>
  /**
   * Runs the workflow; fails as its body fails, with `WorkflowInputError` (before anything runs)
   * when the input does not satisfy the Schema, and with `BudgetExceeded` when its calls cost
   * more than its budget.
   */
  readonly run: (
    input: I,
    options?: WorkflowRun.RunOptions
  ) => Effect.Effect<A, E | WorkflowInput.WorkflowInputError | BudgetExceeded, R | WorkflowEvents>
  /**
   * Runs the workflow and reports how it went; fails only with `WorkflowInputError`, before
   * anything runs (interruption still interrupts).
   */
  readonly runReport: (
    input: I,
    options?: WorkflowRun.RunOptions
  ) => Effect.Effect<WorkflowRun.RunReport<A>, WorkflowInput.WorkflowInputError, R | WorkflowEvents>
  /**
   * Decodes raw input (from the CLI, a JSONL line or the API) with the input Schema; a string
   * that does not decode as is is tried once more as JSON.
   */
  readonly decodeInput: (raw: unknown) => Effect.Effect<I, WorkflowInput.WorkflowInputError>
}

/** A workflow of any input, output and error, as a registry lists them. */
export interface AnyWorkflow {
  readonly name: string
  readonly description: string
  /** Checks raw input against the workflow's input Schema without running it. */
  readonly validateInput: (raw: unknown) => Effect.Effect<void, WorkflowInput.WorkflowInputError>
  readonly runReportUnknown: (
    raw: unknown,
    options?: WorkflowRun.RunOptions
  ) => Effect.Effect<WorkflowRun.RunReport<unknown>, WorkflowInput.WorkflowInputError, LanguageModel.LanguageModel | WorkflowEvents>
}

/**
 * Defines a workflow. `body` receives the checked input and composes agents with `step`,
 * `parallel` and `loop`; everything else (input checks, events, metrics, budget, cancellation) is
 * `run`'s job.
 */
export const make = <I, II, A, E, R>(
  name: string,
  description: string,
  inputSchema: Schema.Schema<I, II>,
  body: (input: I) => Effect.Effect<A, E, R>
): Workflow<I, A, E, R> => {
  // Sound: decoding takes unknown anyway; the encoded side is only ever treated as unknown JSON.
  const schema = inputSchema as unknown as Schema.Schema<I, unknown>
  const input = WorkflowInput.make(name, schema)
  const runner = WorkflowRun.make(name, body)
  return {
    name,
    description,
    inputSchema: schema,
    run: (raw, options = {}) => Effect.flatMap(input.validate(raw), (valid) => runner.run(valid, options)),
    runReport: (raw, options = {}) => Effect.flatMap(input.validate(raw), (valid) => runner.runReport(valid, options)),
    decodeInput: input.decode
  }
}

/** What `erase` needs of a workflow: its name, its input decoder and its report. */
export type Erasable<I, A> = Pick<Workflow<I, A, unknown, LanguageModel.LanguageModel | WorkflowEvents>, "name" | "description" | "decodeInput" | "runReport">

/** Erases a workflow's types for a registry; the input is decoded from raw JSON or text. */
export const erase = <I, A>(workflow: Erasable<I, A>): AnyWorkflow => ({
  name: workflow.name,
  description: workflow.description,
  validateInput: (raw) => Effect.asVoid(workflow.decodeInput(raw)),
  runReportUnknown: (raw, options) =>
    Effect.flatMap(workflow.decodeInput(raw), (input) => workflow.runReport(input, options))
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
