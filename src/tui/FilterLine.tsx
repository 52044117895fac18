/**
 * FilterLine — the `/` prompt while typing a filter, and the applied filter afterwards.
 */
import { Box, Text } from "ink"
import { formatCount } from "./format.js"
import { style } from "./theme.js"

/** Props of `FilterLine`. */
export interface FilterLineProps {
  /** The text being typed (editing) or the applied filter. */
  readonly text: string
  readonly editing: boolean
  /** Runs passing the applied filter, and all runs. */
  readonly matched: number
  readonly total: number
  readonly width: number
  readonly color: boolean
}

/** One line: `/ text_` while editing, `filter: text (3 of 40 runs)` once applied. */
export const FilterLine = ({ color, editing, matched, text, total, width }: FilterLineProps) => (
  <Box height={1} width={width}>
    {editing
      ? (
        <Text wrap="truncate">
          <Text {...style(color, { bold: true, color: "cyan" })}>{"/ "}</Text>
          {text}
          <Text {...style(color, { inverse: true })}>{color ? " " : "_"}</Text>
          <Text {...style(color, { dimColor: true })}>
            {"   status (running, succeeded, failed, cancelled), workflow or run id"}
          </Text>
        </Text>
      )
      : (
        <Text wrap="truncate">
          <Text {...style(color, { bold: true, color: "cyan" })}>{"filter: "}</Text>
          {text}
          <Text {...style(color, { dimColor: true })}>
            {`  (${formatCount(matched)} of ${formatCount(total)} runs, Esc clears)`}
          </Text>
        </Text>
      )}
  </Box>
)
