/**
 * LogPane — the tail of the structured log, one entry per line, coloured by level.
 *
 * While the dashboard owns the terminal the log cannot go to stderr, so this is where it shows.
 */
import type { LogEntry } from "../services/LogTail.js"
import { clip, formatClock, oneLine } from "./format.js"
import { Block } from "./Block.js"
import type { Pieces } from "./pieces.js"
import { levelColor } from "./theme.js"

/** An entry's message followed by its annotations as `key=value` (and the cause, if any). */
export const logText = (entry: LogEntry): string => {
  const annotations = Object.entries(entry.annotations).map(([key, value]) => `${key}=${value}`)
  const cause = entry.cause === undefined ? [] : [`cause=${entry.cause}`]
  return oneLine([entry.message, ...annotations, ...cause].join(" "))
}

/** Props of `LogPane`. */
export interface LogPaneProps {
  /** All recent entries, oldest first; the pane shows the newest that fit. */
  readonly logs: ReadonlyArray<LogEntry>
  /** Lines including the title. */
  readonly height: number
  readonly width: number
  readonly color: boolean
}

/** The log pane's lines: a title, then the newest entries that fit. */
export const logLines = ({ height, logs, width }: LogPaneProps): ReadonlyArray<Pieces> => {
  const room = height - 1
  const shown = room <= 0 ? [] : logs.slice(Math.max(0, logs.length - room))
  return [
    [{ text: `Log${logs.length === 0 ? " (empty)" : ""}`, bold: true }],
    ...shown.map((entry): Pieces => {
      const tint = levelColor(entry.level)
      return [
        { text: `${formatClock(entry.timestamp)} `, color: tint },
        { text: `${entry.level.padEnd(7)} `, color: tint },
        { text: clip(logText(entry), width), color: tint }
      ]
    })
  ]
}

/** The log pane. */
export const LogPane = (props: LogPaneProps) =>
  props.height <= 0 ? null : <Block lines={logLines(props)} height={props.height} width={props.width} color={props.color} />
