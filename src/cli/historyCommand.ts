/**
 * `effect-agents history` and `history show <id>`: past runs from the run history, as tables or
 * JSON.
 */
import { Console, Effect, Option } from "effect"
import { RunHistory } from "../services/RunHistory.js"
import { UsageError } from "./CliError.js"
import { formatDuration, formatTable, formatTime, formatUsd } from "./format.js"

/** Lists the newest runs, with totals over the whole history. */
export const listHistory = (args: { readonly limit: number; readonly json: boolean }) =>
  Effect.gen(function*() {
    if (args.limit < 1) return yield* new UsageError({ message: "--limit must be at least 1" })
    const history = yield* RunHistory
    const runs = yield* history.listRuns({ limit: args.limit })
    const totals = yield* history.totals
    if (args.json) {
      yield* Console.log(JSON.stringify({ runs, totals }))
      return
    }
    if (runs.length === 0) {
      yield* Console.log("No runs yet. Start one with: effect-agents run summarize --input \"...\"")
      return
    }
    yield* Console.log(formatTable(
      ["ID", "WORKFLOW", "STATUS", "STARTED", "DURATION", "TOKENS", "COST", "ERROR"],
      runs.map((r) => [
        r.id,
        r.workflow,
        r.status,
        formatTime(r.startedAt),
        formatDuration(r.durationMs),
        String(r.inputTokens + r.outputTokens),
        formatUsd(r.costUsd),
        r.error === undefined ? "" : r.error.tag
      ])
    ))
    yield* Console.log(
      `\n${totals.runs} runs in history · ${totals.inputTokens + totals.outputTokens} tokens · ${formatUsd(totals.costUsd)}`
    )
  })

const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

/** One run with its steps, LLM calls and tool calls. */
export const showRun = (args: { readonly id: string; readonly json: boolean }) =>
  Effect.gen(function*() {
    const history = yield* RunHistory
    const found = yield* history.getRun(args.id)
    if (Option.isNone(found)) return yield* new UsageError({ message: `no run with id ${args.id}` })
    const run = found.value
    if (args.json) {
      yield* Console.log(JSON.stringify(run))
      return
    }
    yield* Console.log([
      `Run      ${run.id}`,
      `Workflow ${run.workflow}`,
      `Status   ${run.status}${run.error === undefined ? "" : ` (${run.error.tag}: ${run.error.message})`}`,
      `Started  ${formatTime(run.startedAt)}   Duration ${formatDuration(run.durationMs)}`,
      `Tokens   ${run.inputTokens} in / ${run.outputTokens} out   Cost ${formatUsd(run.costUsd)}`,
      ...(run.traceId === undefined ? [] : [`Trace    ${run.traceId}`]),
      ""
    ].join("\n"))
    yield* Console.log(formatTable(
      ["STEP", "AGENT", "STATUS", "DURATION", "ATTEMPTS", "CACHED", "TOKENS", "COST"],
      run.steps.map((s) => [
        s.label,
        s.agent ?? "-",
        s.status,
        formatDuration(s.durationMs),
        String(s.attempts),
        s.cached ? "yes" : "no",
        String(s.inputTokens + s.outputTokens),
        formatUsd(s.costUsd)
      ])
    ))
    if (run.llmCalls.length > 0) {
      yield* Console.log("")
      yield* Console.log(formatTable(
        ["LLM CALL", "AGENT", "STATUS", "CACHED", "ATTEMPTS", "DURATION", "TOKENS", "COST"],
        run.llmCalls.map((c) => [
          c.model,
          c.agent ?? "-",
          c.error === undefined ? c.status : `${c.status} (${c.error.tag})`,
          c.cached ? "yes" : "no",
          String(c.attempts),
          formatDuration(c.durationMs),
          String(c.inputTokens + c.outputTokens),
          formatUsd(c.costUsd)
        ])
      ))
    }
    if (run.toolCalls.length > 0) {
      yield* Console.log("")
      yield* Console.log(formatTable(
        ["TOOL CALL", "AGENT", "STATUS", "DURATION", "ARGUMENTS"],
        run.toolCalls.map((c) => [
          c.tool,
          c.agent,
          c.error === undefined ? c.status : `${c.status} (${c.error.tag})`,
          formatDuration(c.durationMs),
          // Already truncated when recorded; one line here.
          clip(c.arguments.replace(/\s+/g, " "), 60)
        ])
      ))
    }
    if (run.output !== undefined) {
      yield* Console.log(`\nOutput\n${typeof run.output === "string" ? run.output : JSON.stringify(run.output, null, 2)}`)
    }
  })
