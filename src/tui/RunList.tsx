/**
 * RunList — the runs, newest first, one line each, virtualised.
 *
 * Only the `rows` runs from `offset` on are turned into elements, so a batch of 1,000 running
 * workflows costs the same per frame as a screenful. Columns that do not fit the width are dropped
 * (least important first) instead of wrapping the row.
 */
import type { RunView } from "../state/WorkflowState.js"
import { elapsedMs } from "../state/WorkflowState.js"
import { formatCompact, formatCost, formatDuration, formatTokens, statusIcon, totalTokens } from "./format.js"
import { Block, type Pane } from "./Block.js"
import type { Pieces } from "./pieces.js"
import { columnCuts, formatHeader, formatRow } from "./table.js"
import { statusColor } from "./theme.js"
import { type ColumnSpec, LIST_CHROME_LINES, type PlacedColumn, planColumns } from "./view.js"

type RunColumn = "id" | "workflow" | "step" | "elapsed" | "tokens" | "cost"

/** The run list's columns; `step` takes the leftover width. */
export const runColumns: ReadonlyArray<ColumnSpec<RunColumn>> = [
  { key: "id", title: "ID", width: 8, priority: 1 },
  { key: "workflow", title: "WORKFLOW", width: 12, priority: 2 },
  { key: "step", title: "STEP", width: 12, priority: 5, flex: true },
  { key: "elapsed", title: "ELAPSED", width: 7, priority: 3, align: "right" },
  { key: "tokens", title: "TOKENS", width: 7, priority: 6, align: "right" },
  { key: "cost", title: "COST", width: 9, priority: 4, align: "right" }
]

/** Cells before the columns: the selection marker, the status glyph and the origin mark. */
const PREFIX = 4

/** Marks a run another process records, read from the shared history. */
export const OTHER_PROCESS = "↗"

/** A run's short id: enough of a UUID to tell runs apart on screen. */
export const shortId = (runId: string): string => runId.slice(0, 8)

/** What the step column says: the current step, the error tag, or how it ended. */
export const stepText = (run: RunView): string => {
  switch (run.status) {
    case "running":
      return run.currentStep ?? "starting…"
    case "failed":
      return run.error === undefined ? "failed" : `${run.error.tag}: ${run.error.message}`
    case "cancelled":
      return "cancelled"
    case "succeeded":
      return run.output ?? "done"
  }
}

/** Props of `RunList`. */
export interface RunListProps {
  /** Every listed run (filtered), newest first. */
  readonly runs: ReadonlyArray<RunView>
  /** Index into `runs`, -1 when nothing is selected. */
  readonly selectedIndex: number
  /** First run shown. */
  readonly offset: number
  /** Run rows available (the title and column header come on top). */
  readonly rows: number
  readonly width: number
  /** Clock for elapsed times of running runs (epoch ms). */
  readonly now: number
  /** Spinner frame counter. */
  readonly frame: number
  readonly color: boolean
  /** Applied filter, shown in the title. */
  readonly filter?: string
  /** How many runs there are before filtering. */
  readonly unfilteredCount?: number
}

/** One run's row: the selection marker, the status glyph and the columns. */
const runRow = (run: RunView, columns: ReadonlyArray<PlacedColumn<RunColumn>>, selected: boolean, now: number, frame: number): Pieces => {
  const cells = formatRow(columns, {
    id: shortId(run.runId),
    workflow: run.workflow,
    step: stepText(run),
    elapsed: formatDuration(elapsedMs(run, now)),
    tokens: formatTokens(totalTokens(run.usage)),
    cost: formatCost(run.costUsd)
  })
  return [
    { text: selected ? "› " : "  ", inverse: selected },
    { text: statusIcon(run.status, frame), color: statusColor(run.status), inverse: selected },
    // A run of another process, read from the shared history.
    { text: run.origin === undefined ? " " : OTHER_PROCESS, inverse: selected },
    { text: cells, inverse: selected }
  ]
}

/** The run list's pane: a title, column headers and the visible rows, cut at the columns. */
export const runListPane = (props: RunListProps): Pane => {
  const { frame, now, offset, rows, runs, selectedIndex, width } = props
  const columns = planColumns(runColumns, Math.max(0, width - PREFIX))
  const visible = runs.slice(offset, offset + rows)
  const filtered = props.filter !== undefined && props.filter !== ""
  const range = runs.length === 0
    ? "none"
    : `${formatCompact(offset + 1)}–${formatCompact(offset + visible.length)} of ${formatCompact(runs.length)}`
  const filterNote = filtered ? `  filter "${props.filter}" (${formatCompact(props.unfilteredCount ?? runs.length)} total)` : ""
  const title: Pieces = [{ text: `Runs ${range}`, bold: true }, { text: filterNote, bold: true }]
  const header: Pieces = [{ text: `${" ".repeat(PREFIX)}${formatHeader(columns)}`, dim: true }]
  if (runs.length === 0) {
    const hint = filtered ? "  no run matches the filter (Esc clears it)" : "  no runs yet: press n to start one"
    return { lines: [title, header, [{ text: hint, dim: true }]] }
  }
  const lines = [title, header, ...visible.map((run, i) => runRow(run, columns, offset + i === selectedIndex, now, frame))]
  return { lines, cuts: columnCuts(PREFIX, columns) }
}

/** The run list pane: a title, column headers and the visible rows. */
export const RunList = (props: RunListProps) => (
  <Block {...runListPane(props)} height={props.rows + LIST_CHROME_LINES} width={props.width} color={props.color} />
)
