/**
 * `effect-agents run` and `batch`: workflows end to end on the configured provider, with progress
 * lines on stderr (or the dashboard) and the results on stdout (`--json`: one result object per
 * run). Inputs are checked before anything runs. However the runs end — by themselves, `q` /
 * Ctrl-C in the dashboard, or a signal — what finished is printed, after the history has it.
 */
import { Console, Effect, Option } from "effect"
import { WorkflowRegistry } from "../agents/registry.js"
import { RunService } from "../agents/RunService.js"
import type { AnyWorkflow, RunReport } from "../agents/Workflow.js"
import { type BatchItem, readBatch } from "./batchFile.js"
import { Interrupted, UsageError, WorkflowFailed } from "./CliError.js"
import type { SessionEnding } from "./dashboard.js"
import { makeHistoryFlush } from "./historyFlush.js"
import { printProgress } from "./progress.js"
import { makeOutcomes, reportBatch, resultJson } from "./runReport.js"

export { resultJson } from "./runReport.js"

const findWorkflow = (name: string): Effect.Effect<AnyWorkflow, UsageError, WorkflowRegistry> =>
  Effect.flatMap(WorkflowRegistry, (registry) =>
    Option.match(registry.find(name), {
      onNone: () =>
        Effect.fail(new UsageError({ message: `unknown workflow '${name}'; available: ${registry.names.join(", ")}` })),
      onSome: Effect.succeed
    }))

const humanOutput = (output: unknown): string =>
  typeof output === "string" ? output : JSON.stringify(output, null, 2)

/**
 * Shows runs in the dashboard, telling `onReport` of each that finished (by position) as soon as
 * it has, and says how the session ended. Given by the caller when stdout is a terminal.
 */
type ShowInDashboard<R> = (
  runs: ReadonlyArray<{ readonly workflow: string; readonly input: unknown; readonly maxCostUsd?: number | undefined }>,
  onReport: (index: number, report: RunReport<unknown>) => void
) => Effect.Effect<SessionEnding, never, R>

/** Prints one run's outcome; fails as the exit code should say. Never interrupted midway. */
const reportRun = (
  report: RunReport<unknown> | undefined,
  options: { readonly json: boolean; readonly ending: SessionEnding; readonly historyFlush: Effect.Effect<void> }
) =>
  Effect.uninterruptible(Effect.gen(function*() {
    yield* options.historyFlush
    if (report === undefined) {
      if (options.ending !== "done") return yield* new Interrupted({ message: "the run was cancelled before it finished" })
      return yield* new WorkflowFailed({ runId: "-", status: "cancelled", error: { tag: "Interrupted", message: "cancelled in the dashboard" } })
    }
    if (options.json) yield* Console.log(JSON.stringify(resultJson(report)))
    else if (report.status === "succeeded") yield* Console.log(humanOutput(report.output))
    if (options.ending === "interrupted") return yield* new Interrupted({ message: "interrupted" })
    if (report.status !== "succeeded") {
      return yield* new WorkflowFailed({ runId: report.id, status: report.status, error: report.error })
    }
  }))

/** Runs one workflow; fails with `WorkflowFailed` (exit 1) when the run does not succeed. */
export const runOne = <R = never>(args: {
  readonly workflow: string
  readonly input: string
  readonly json: boolean
  readonly maxCostUsd: Option.Option<number>
  readonly tui?: ShowInDashboard<R>
}) =>
  Effect.gen(function*() {
    const workflow = yield* findWorkflow(args.workflow)
    yield* workflow.validateInput(args.input).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    const historyFlush = yield* makeHistoryFlush
    const maxCostUsd = Option.getOrUndefined(args.maxCostUsd)
    if (args.tui !== undefined) {
      let report: RunReport<unknown> | undefined
      const ending = yield* args.tui([{ workflow: args.workflow, input: args.input, maxCostUsd }], (_, r) => {
        report = r
      })
      return yield* reportRun(report, { json: args.json, ending, historyFlush })
    }
    // A signal cancels the run (recorded `cancelled`); the progress printer's finalizer says so.
    const progress = yield* printProgress(historyFlush)
    const report = yield* runToEnd(workflow.name, args.input, maxCostUsd).pipe(
      Effect.mapError((e) => new UsageError({ message: e.message }))
    )
    yield* progress.flush
    return yield* reportRun(Option.getOrUndefined(report), { json: args.json, ending: "done", historyFlush })
  }).pipe(Effect.scoped)

/**
 * Starts a run through the run service and waits for its report (`None`: it was cancelled). An
 * interruption (a signal) cancels the run, so it is recorded `cancelled` before the stack closes.
 */
const runToEnd = (workflow: string, input: unknown, maxCostUsd?: number) =>
  Effect.flatMap(RunService, (runs) =>
    Effect.flatMap(runs.start({ workflow, input, maxCostUsd }), ({ id, report }) =>
      report.pipe(Effect.onInterrupt(() => Effect.ignore(runs.cancel(id))))))

/** A run whose input was refused after all (the file was checked first, so only defensively). */
const refused = (workflow: string, line: number, tag: string, message: string): RunReport<unknown> => ({
  id: `line-${line}`,
  workflow,
  status: "failed",
  output: undefined,
  error: { tag, message },
  usage: { inputTokens: 0, outputTokens: 0 },
  costUsd: 0,
  durationMs: 0,
  steps: []
})

/** Checks the arguments and the whole batch file (`readBatch`); run it before the services start. */
export const checkBatch = (args: { readonly file: string; readonly concurrency: number }) =>
  args.concurrency < 1
    ? Effect.fail(new UsageError({ message: "--concurrency must be at least 1" }))
    : readBatch(args.file)

/**
 * Runs the checked runs of a batch file concurrently. Fails with `WorkflowFailed` (exit 1) when some run did not succeed,
 * `Interrupted` (exit 130) when the user quit the dashboard before all finished; on a signal the
 * finished runs are still reported.
 */
export const runBatch = <R = never>(args: {
  readonly items: ReadonlyArray<BatchItem>
  readonly concurrency: number
  readonly json: boolean
  readonly tui?: ShowInDashboard<R>
}) =>
  Effect.gen(function*() {
    const items = args.items
    const historyFlush = yield* makeHistoryFlush
    const outcomes = makeOutcomes(items.length)
    const record = (index: number, report: RunReport<unknown>) => {
      outcomes.reports[index] = report
    }
    const report = (ending: SessionEnding) => reportBatch(outcomes, { json: args.json, ending, historyFlush })
    const onSignal = reportBatch(outcomes, { json: args.json, ending: "signal", historyFlush }).pipe(Effect.ignore)

    if (args.tui !== undefined) {
      const ending = yield* args.tui(items.map((item) => ({ workflow: item.workflow.name, input: item.input })), record).pipe(
        Effect.onInterrupt(() => onSignal)
      )
      return yield* report(ending)
    }
    const progress = yield* printProgress(historyFlush)
    yield* Effect.forEach(
      items,
      (item, index) =>
        runToEnd(item.workflow.name, item.input).pipe(
          Effect.map(Option.map((r) => record(index, r))),
          Effect.catchAll((e) => Effect.sync(() => record(index, refused(item.workflow.name, item.line, e._tag, e.message))))
        ),
      { concurrency: args.concurrency, discard: true }
    ).pipe(Effect.onInterrupt(() => Effect.zipRight(progress.flush, onSignal)))
    yield* progress.flush
    return yield* report("done")
  }).pipe(Effect.scoped)
