/**
 * RunDetail — the selected run, step by step (each step's tool calls under it, in the order they
 * started), with its result or its typed error.
 *
 * Fits in `height` lines: the summary line and the outcome line are kept, and when there are more
 * rows than room the newest ones are shown (that is where a running or failed run is). A running
 * step that streams its answer shows the answer's last lines below the steps, as it grows.
 */
import type { RunOrigin, RunView, StepView, ToolCallView } from "../state/WorkflowState.js"
import { elapsedMs } from "../state/WorkflowState.js"
import {
  clip,
  formatCompact,
  formatCost,
  formatDuration,
  formatTokens,
  oneLine,
  statusIcon,
  tailLines,
  totalTokens
} from "./format.js"
import { Block, type Pane } from "./Block.js"
import type { Pieces } from "./pieces.js"
import { OTHER_PROCESS } from "./RunList.js"
import { columnCuts, formatHeader, formatRow } from "./table.js"
import { statusColor } from "./theme.js"
import { type ColumnSpec, type PlacedColumn, planColumns } from "./view.js"

type StepColumn = "label" | "agent" | "status" | "duration" | "attempts" | "cache" | "tokens" | "cost"

/** The step table's columns; the step label is as wide as its longest label (see `planStepColumns`). */
export const stepColumns: ReadonlyArray<ColumnSpec<StepColumn>> = [
  { key: "label", title: "STEP", width: 10, priority: 1, flex: true },
  { key: "agent", title: "AGENT", width: 12, priority: 4 },
  { key: "status", title: "STATUS", width: 9, priority: 2 },
  { key: "duration", title: "TIME", width: 7, priority: 3, align: "right" },
  { key: "attempts", title: "TRIES", width: 5, priority: 6, align: "right" },
  { key: "cache", title: "CACHE", width: 5, priority: 7 },
  { key: "tokens", title: "TOKENS", width: 7, priority: 8, align: "right" },
  { key: "cost", title: "COST", width: 9, priority: 5, align: "right" }
]

/** Cells before the columns: the status glyph. */
const PREFIX = 2

/** The widest the step column gets; longer labels are clipped. */
export const STEP_LABEL_MAX = 40

/**
 * The step table's columns for `labels` in `width` cells: the step column as wide as its longest
 * label (at least its title, at most `STEP_LABEL_MAX`), the numbers right after it. The table only
 * takes the room it needs; a narrow pane shrinks the step column to 10 cells, then drops columns.
 */
export const planStepColumns = (labels: ReadonlyArray<string>, width: number): ReadonlyArray<PlacedColumn<StepColumn>> => {
  const longest = labels.reduce((max, label) => Math.max(max, oneLine(label).length), 0)
  const labelWidth = Math.min(STEP_LABEL_MAX, Math.max(longest, "STEP".length))
  const specs = stepColumns.map((spec) => (spec.key === "label" ? { ...spec, width: Math.min(spec.width, labelWidth) } : spec))
  const minLabel = specs.find((spec) => spec.key === "label")?.width ?? 0
  const needed = specs.reduce((sum, spec) => sum + spec.width + 1, -1) + (labelWidth - minLabel)
  return planColumns(specs, Math.min(width, needed))
}

/** What a finished or failed run ended with, as one line; undefined while it runs. */
export const outcomeText = (run: RunView): string | undefined => {
  if (run.error !== undefined) return `✖ ${run.error.tag}: ${oneLine(run.error.message)}`
  switch (run.status) {
    case "running":
      return undefined
    case "succeeded":
      return `→ ${oneLine(run.output ?? "(no output)")}`
    case "cancelled":
      return "⊘ cancelled"
    case "failed":
      return "✖ failed"
  }
}

/** Who runs a run of another process: it is shown read-only, from the shared history. */
export const originText = (origin: RunOrigin): string =>
  `${OTHER_PROCESS} another process${origin.pid === undefined ? "" : ` (pid ${origin.pid}${origin.host === undefined ? "" : ` on ${origin.host}`})`}`

const stepLabel = (step: StepView): string => step.error === undefined ? step.label : `${step.label} (${step.error.tag})`

const stepValues = (step: StepView, now: number): Readonly<Record<StepColumn, string>> => ({
  label: stepLabel(step),
  agent: step.agent ?? "",
  status: step.status,
  duration: formatDuration(step.durationMs ?? Math.max(0, now - step.startedAt)),
  attempts: step.attempts === 0 ? "" : String(step.attempts),
  cache: step.cached ? "hit" : "",
  tokens: formatTokens(totalTokens(step.usage)),
  cost: formatCost(step.costUsd)
})

const toolStatus = (call: ToolCallView): "running" | "succeeded" | "failed" | "cancelled" =>
  call.status === "success" ? "succeeded" : call.status === "error" ? "failed" : call.status

/** A tool call as one line: `↳ tool(arguments) 12ms → result`, or its error. */
export const toolCallText = (call: ToolCallView): string => {
  const took = call.durationMs === undefined ? "" : ` ${formatDuration(call.durationMs)}`
  const outcome = call.status === "running"
    ? ""
    : call.result !== undefined
    ? ` → ${call.result}`
    : call.error !== undefined
    ? ` ✖ ${call.error.tag}: ${call.error.message}`
    : ""
  return oneLine(`↳ ${call.tool}(${call.arguments})${took}${outcome}`)
}

/** The rows under the header: each step, then its tool calls. */
const rowsOf = (run: RunView, columns: ReadonlyArray<PlacedColumn<StepColumn>>, now: number, frame: number, width: number) =>
  run.steps.flatMap((step): Array<Pieces> => [
    [
      { text: statusIcon(step.status, frame), color: statusColor(step.status) },
      { text: " " },
      { text: formatRow(columns, stepValues(step, now)) }
    ],
    ...step.tools.map((call): Pieces => {
      const status = toolStatus(call)
      return [
        { text: `${" ".repeat(PREFIX)}${statusIcon(status, frame)}`, color: statusColor(status) },
        { text: ` ${clip(toolCallText(call), Math.max(0, width - PREFIX - 2))}`, dim: true }
      ]
    })
  ])

/** Lines of a live answer at most, and the share of the pane it may take. */
const ANSWER_LINES = 6

/** The newest running step with a streamed answer, if any. */
const streaming = (run: RunView): StepView | undefined => {
  for (let i = run.steps.length - 1; i >= 0; i--) {
    const step = run.steps[i]!
    if (step.status === "running" && step.answer !== undefined) return step
  }
  return undefined
}

/** The live answer's title and its last lines, in at most `room` lines. */
const answerPieces = (step: StepView, width: number, room: number): Array<Pieces> => {
  if (room < 2) return []
  const title: Pieces = [{ text: clip(`  ▸ ${step.label}${step.agent === undefined ? "" : ` (${step.agent})`} is answering:`, width), dim: true }]
  return [title, ...tailLines(step.answer ?? "", Math.max(1, width - 4), room - 1).map((line): Pieces => [{ text: `    ${line}` }])]
}

/** Props of `RunDetail`. */
export interface RunDetailProps {
  /** The selected run; undefined shows a hint. */
  readonly run: RunView | undefined
  /** Lines available, borders excluded. */
  readonly height: number
  readonly width: number
  readonly now: number
  readonly frame: number
  readonly color: boolean
}

/** The detail pane: the run's summary, its steps (the newest that fit) and how it ended. */
export const runDetailPane = ({ frame, height, now, run, width }: RunDetailProps): Pane => {
  if (run === undefined) return { lines: [[{ text: "No run selected.", dim: true }]] }
  const columns = planStepColumns(run.steps.map((step) => stepLabel(step)), Math.max(0, width - PREFIX))
  const outcome = outcomeText(run)
  const live = streaming(run)
  // Summary, step header and outcome take fixed lines; a live answer up to a third; steps and
  // their tool calls the rest.
  const fixed = height - 2 - (outcome === undefined ? 0 : 1)
  const answer = live === undefined ? [] : answerPieces(live, width, Math.min(ANSWER_LINES + 1, Math.floor(height / 3)))
  const stepRoom = Math.max(0, fixed - answer.length)
  const rows = rowsOf(run, columns, now, frame, width)
  const shown = rows.length > stepRoom ? rows.slice(rows.length - stepRoom) : rows
  const summary = [
    ` Run ${run.runId}`,
    run.workflow,
    run.status,
    ...(run.origin === undefined ? [] : [originText(run.origin)]),
    formatDuration(elapsedMs(run, now)),
    `${formatCompact(run.llmCalls)} LLM calls`,
    `tokens ${formatTokens(totalTokens(run.usage))}`,
    formatCost(run.costUsd)
  ]
  const lines: Array<Pieces> = [[
    { text: statusIcon(run.status, frame), color: statusColor(run.status) },
    ...summary.map((text, i) => ({ text: i === 0 ? text : ` · ${text}`, bold: true }))
  ]]
  if (stepRoom > 0) {
    lines.push([{ text: `${" ".repeat(PREFIX)}${run.steps.length === 0 ? "no steps yet" : formatHeader(columns)}`, dim: true }])
  }
  lines.push(...shown)
  lines.push(...answer)
  if (outcome !== undefined) lines.push([{ text: clip(outcome, width), color: run.error === undefined ? undefined : "red" }])
  return { lines, cuts: columnCuts(PREFIX, columns) }
}

/** The detail pane of one run. */
export const RunDetail = (props: RunDetailProps) =>
  props.height <= 0 ? null : <Block {...runDetailPane(props)} height={props.height} width={props.width} color={props.color} />
