/**
 * RunList — the runs, newest first, one line each, virtualised.
 *
 * Only the `rows` runs from `offset` on are turned into elements, so a batch of 1,000 running
 * workflows costs the same per frame as a screenful. Columns that do not fit the width are dropped
 * (least important first) instead of wrapping the row.
 */
import { Box } from "ink"
import type { RunView } from "../state/WorkflowState.js"
import { elapsedMs } from "../state/WorkflowState.js"
import { formatCompact, formatCost, formatDuration, formatTokens, statusIcon, totalTokens } from "./format.js"
import { Line } from "./Line.js"
import { formatHeader, rowCells } from "./table.js"
import { statusColor } from "./theme.js"
import { type ColumnSpec, LIST_CHROME_LINES, planColumns } from "./view.js"

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

/** Cells before the columns: the selection marker, the status glyph and the other-process mark. */
const PREFIX = 4

/** The mark of a run another process runs (shown after its status glyph). */
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

/** The run list pane: a title, column headers and the visible rows. */
export const RunList = (props: RunListProps) => {
  const { color, frame, now, offset, rows, runs, selectedIndex, width } = props
  const columns = planColumns(runColumns, Math.max(0, width - PREFIX))
  const visible = runs.slice(offset, offset + rows)
  const filtered = props.filter !== undefined && props.filter !== ""
  const range = runs.length === 0
    ? "none"
    : `${formatCompact(offset + 1)}–${formatCompact(offset + visible.length)} of ${formatCompact(runs.length)}`
  const filterNote = filtered ? `  filter "${props.filter}" (${formatCompact(props.unfilteredCount ?? runs.length)} total)` : ""
  return (
    <Box flexDirection="column" width={width} height={rows + LIST_CHROME_LINES}>
      <Line pieces={[{ text: `Runs ${range}`, bold: true }, { text: filterNote, bold: true }]} width={width} color={color} />
      <Line pieces={[{ text: `${" ".repeat(PREFIX)}${formatHeader(columns)}`, dim: true }]} width={width} color={color} />
      {runs.length === 0
        ? (
          <Line
            pieces={[{
              text: filtered ? "  no run matches the filter (Esc clears it)" : "  no runs yet: press n to start one",
              dim: true
            }]}
            width={width}
            color={color}
          />
        )
        : visible.map((run, i) => {
          const inverse = offset + i === selectedIndex
          const cells = rowCells(columns, {
            id: shortId(run.runId),
            workflow: run.workflow,
            step: stepText(run),
            elapsed: formatDuration(elapsedMs(run, now)),
            tokens: formatTokens(totalTokens(run.usage)),
            cost: formatCost(run.costUsd)
          })
          return (
            <Line
              key={run.runId}
              pieces={[
                { text: inverse ? "› " : "  ", inverse },
                { text: statusIcon(run.status, frame), color: statusColor(run.status), inverse },
                // A run of another process, read from the shared history.
                { text: run.origin === undefined ? " " : OTHER_PROCESS, inverse },
                ...cells.map((text) => ({ text, inverse }))
              ]}
              width={width}
              color={color}
            />
          )
        })}
    </Box>
  )
}
