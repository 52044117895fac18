/**
 * What `run` and `batch` print once their runs are over — however they ended: all finished, the
 * user quit the dashboard (`q`, Ctrl-C) or a signal came. Reports are kept in input order as runs
 * finish, so an interrupted batch still prints the `--json` line of every run that finished, and
 * its summary counts what actually happened (succeeded / failed / cancelled).
 */
import { Console, Effect } from "effect"
import type { RunReport } from "../agents/Workflow.js"
import { Interrupted, WorkflowFailed } from "./CliError.js"
import { formatUsd } from "./format.js"

/** The `--json` result object: one per run, on one line. */
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

/**
 * How the runs' part of a command ended: `done` (every run ended by itself), `quit` (`q` in the
 * dashboard), `interrupted` (Ctrl-C in the dashboard) or `signal` (SIGINT / SIGTERM: the process
 * exit code says so).
 */
export type Ending = "done" | "quit" | "interrupted" | "signal"

/** The reports of a command's runs, by input position; a run with no report did not finish. */
export interface Outcomes {
  readonly total: number
  readonly reports: Array<RunReport<unknown> | undefined>
}

/** An empty record for `total` runs. */
export const makeOutcomes = (total: number): Outcomes => ({ total, reports: Array.from({ length: total }, () => undefined) })

/** Counts of a command's runs; a run with no report counts as cancelled (it never finished). */
export const countOutcomes = (outcomes: Outcomes) => {
  const finished = outcomes.reports.filter((r): r is RunReport<unknown> => r !== undefined)
  const succeeded = finished.filter((r) => r.status === "succeeded").length
  const failed = finished.filter((r) => r.status === "failed").length
  return {
    succeeded,
    failed,
    cancelled: outcomes.total - succeeded - failed,
    costUsd: finished.reduce((sum, r) => sum + r.costUsd, 0)
  }
}

/** `batch: 200 of 200 runs succeeded · $0.0123`, or `batch: 19 succeeded, 81 cancelled of 100 · $0.0040`. */
export const summaryLine = (outcomes: Outcomes): string => {
  const c = countOutcomes(outcomes)
  if (c.succeeded === outcomes.total) return `batch: ${c.succeeded} of ${outcomes.total} runs succeeded · ${formatUsd(c.costUsd)}`
  const parts = [`${c.succeeded} succeeded`]
  if (c.failed > 0) parts.push(`${c.failed} failed`)
  if (c.cancelled > 0) parts.push(`${c.cancelled} cancelled`)
  return `batch: ${parts.join(", ")} of ${outcomes.total} · ${formatUsd(c.costUsd)}`
}

/**
 * Prints the `--json` lines of the finished runs (input order) and the batch summary on stderr,
 * after `historyFlush`; then fails as the exit code should say: `Interrupted` (130) when the user
 * stopped runs, `WorkflowFailed` (1) when some did not succeed. After a signal it does not fail:
 * the signal's exit code wins. Never interrupted midway.
 */
export const reportBatch = (
  outcomes: Outcomes,
  options: { readonly json: boolean; readonly ending: Ending; readonly historyFlush: Effect.Effect<void> }
): Effect.Effect<void, Interrupted | WorkflowFailed> =>
  Effect.uninterruptible(Effect.gen(function*() {
    yield* options.historyFlush
    if (options.json) {
      for (const report of outcomes.reports) {
        if (report !== undefined) yield* Console.log(JSON.stringify(resultJson(report)))
      }
    }
    yield* Console.error(summaryLine(outcomes))
    const c = countOutcomes(outcomes)
    if (options.ending === "signal") return
    if (options.ending === "interrupted" || (options.ending === "quit" && c.cancelled > 0)) {
      return yield* new Interrupted({
        message: c.cancelled > 0 ? `${c.cancelled} of ${outcomes.total} runs were cancelled` : "interrupted after every run finished"
      })
    }
    if (c.succeeded < outcomes.total) {
      return yield* new WorkflowFailed({
        runId: outcomes.reports.find((r) => r !== undefined && r.status !== "succeeded")?.id ?? "-",
        status: "failed",
        error: { tag: "BatchFailed", message: `${outcomes.total - c.succeeded} of ${outcomes.total} runs did not succeed` }
      })
    }
  }))
