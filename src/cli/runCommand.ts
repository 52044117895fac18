/**
 * `effect-agents run` and `batch`: workflows end to end on the configured provider, with progress
 * lines on stderr and the result on stdout (`--json`: the DESIGN.md result object).
 */
import { FileSystem } from "@effect/platform"
import { Console, Effect, Option } from "effect"
import * as Registry from "../agents/registry.js"
import type { AnyWorkflow, RunReport } from "../agents/Workflow.js"
import { UsageError, WorkflowFailed } from "./CliError.js"
import { printProgress } from "./progress.js"

/** The `--json` result object of DESIGN.md. */
export const resultJson = (report: RunReport<unknown>) => ({
  id: report.id,
  workflow: report.workflow,
  status: report.status,
  output: report.output ?? null,
  ...(report.error === undefined ? {} : { error: report.error }),
  usage: report.usage,
  costUsd: report.costUsd,
  durationMs: report.durationMs,
  steps: report.steps.map((s) => ({
    agent: s.agent ?? s.label,
    label: s.label,
    status: s.status,
    durationMs: s.durationMs,
    cached: s.cached,
    attempts: s.attempts
  }))
})

const findWorkflow = (name: string): Effect.Effect<AnyWorkflow, UsageError> =>
  Option.match(Registry.find(name), {
    onNone: () =>
      Effect.fail(new UsageError({ message: `unknown workflow '${name}'; available: ${Registry.names.join(", ")}` })),
    onSome: Effect.succeed
  })

const humanOutput = (output: unknown): string =>
  typeof output === "string" ? output : JSON.stringify(output, null, 2)

/**
 * Shows runs in the dashboard and returns the reports of those that finished (a run cancelled
 * there has none). Given by the caller when stdout is a terminal.
 */
type ShowInDashboard<R> = (
  runs: ReadonlyArray<{ readonly workflow: string; readonly input: unknown; readonly maxCostUsd?: number | undefined }>
) => Effect.Effect<ReadonlyArray<RunReport<unknown>>, never, R>

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
    let report: RunReport<unknown>
    if (args.tui !== undefined) {
      yield* workflow.validateInput(args.input).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
      const reports = yield* args.tui([
        { workflow: args.workflow, input: args.input, maxCostUsd: Option.getOrUndefined(args.maxCostUsd) }
      ])
      const first = reports[0]
      if (first === undefined) {
        return yield* new WorkflowFailed({ runId: "-", status: "cancelled", error: { tag: "Interrupted", message: "cancelled in the dashboard" } })
      }
      report = first
    } else {
      const progress = yield* printProgress
      report = yield* workflow.runReportUnknown(args.input, {
        maxCostUsd: Option.getOrUndefined(args.maxCostUsd)
      }).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
      yield* progress.flush
    }
    if (args.json) yield* Console.log(JSON.stringify(resultJson(report)))
    else if (report.status === "succeeded") yield* Console.log(humanOutput(report.output))
    if (report.status !== "succeeded") {
      return yield* new WorkflowFailed({ runId: report.id, status: report.status, error: report.error })
    }
  }).pipe(Effect.scoped)

/** One line of a batch file. */
interface BatchItem {
  readonly line: number
  readonly workflow: AnyWorkflow
  readonly input: unknown
}

/** Reads and validates a JSONL batch file; every bad line is reported at once (exit 2). */
export const readBatch = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((e) => new UsageError({ message: `cannot read ${path}: ${e.message}` }))
    )
    const items: Array<BatchItem> = []
    const problems: Array<string> = []
    text.split("\n").forEach((raw, index) => {
      const line = index + 1
      if (raw.trim() === "") return
      let parsed: unknown
      try {
        parsed = JSON.parse(raw)
      } catch {
        problems.push(`line ${line}: not valid JSON`)
        return
      }
      const record = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {}
      const name = record["workflow"]
      if (typeof name !== "string") {
        problems.push(`line ${line}: "workflow" must be a string`)
        return
      }
      const workflow = Registry.find(name)
      if (Option.isNone(workflow)) {
        problems.push(`line ${line}: unknown workflow '${name}'`)
        return
      }
      if (!("input" in record)) {
        problems.push(`line ${line}: "input" is missing`)
        return
      }
      items.push({ line, workflow: workflow.value, input: record["input"] })
    })
    if (problems.length > 0) return yield* new UsageError({ message: `${path}:\n  ${problems.join("\n  ")}` })
    if (items.length === 0) return yield* new UsageError({ message: `${path} has no runs` })
    return items
  })

/** Runs a batch concurrently; fails with `WorkflowFailed` when any run did not succeed. */
export const runBatch = <R = never>(args: {
  readonly file: string
  readonly concurrency: number
  readonly json: boolean
  readonly tui?: ShowInDashboard<R>
}) =>
  Effect.gen(function*() {
    if (args.concurrency < 1) return yield* new UsageError({ message: "--concurrency must be at least 1" })
    const items = yield* readBatch(args.file)
    if (args.tui !== undefined) {
      const reports = yield* args.tui(items.map((item) => ({ workflow: item.workflow.name, input: item.input })))
      return yield* reportBatch(reports, items.length, args.json)
    }
    const progress = yield* printProgress
    const reports = yield* Effect.forEach(
      items,
      (item) =>
        item.workflow.runReportUnknown(item.input).pipe(
          Effect.catchTag("WorkflowInputError", (e) =>
            Effect.succeed<RunReport<unknown>>({
              id: `line-${item.line}`,
              workflow: item.workflow.name,
              status: "failed",
              output: undefined,
              error: { tag: e._tag, message: e.message },
              usage: { inputTokens: 0, outputTokens: 0 },
              costUsd: 0,
              durationMs: 0,
              steps: []
            })
          )
        ),
      { concurrency: args.concurrency }
    )
    yield* progress.flush
    return yield* reportBatch(reports, items.length, args.json)
  }).pipe(Effect.scoped)

/** Prints a batch's results; fails when any of the `total` runs did not succeed (or has no report). */
const reportBatch = (reports: ReadonlyArray<RunReport<unknown>>, total: number, json: boolean) =>
  Effect.gen(function*() {
    if (json) {
      for (const report of reports) yield* Console.log(JSON.stringify(resultJson(report)))
    }
    const succeeded = reports.filter((r) => r.status === "succeeded").length
    const cost = reports.reduce((sum, r) => sum + r.costUsd, 0)
    yield* Console.error(`batch: ${succeeded} of ${total} runs succeeded · $${cost.toFixed(4)}`)
    if (succeeded < total) {
      return yield* new WorkflowFailed({
        runId: reports.find((r) => r.status !== "succeeded")?.id ?? "-",
        status: "failed",
        error: { tag: "BatchFailed", message: `${total - succeeded} of ${total} runs did not succeed` }
      })
    }
  })
