/**
 * NewRunInput — the two-line prompt that starts a run: the workflow (Tab cycles) and its input.
 *
 * Pure: the container owns the text and the chosen workflow and handles the keys.
 */
import { Box, Text } from "ink"
import { clip } from "./format.js"
import type { WorkflowInfo } from "./types.js"
import { style } from "./theme.js"

/** Lines the prompt takes. */
export const NEW_RUN_LINES = 2

/** Props of `NewRunInput`. */
export interface NewRunInputProps {
  readonly workflows: ReadonlyArray<WorkflowInfo>
  /** Index of the chosen workflow. */
  readonly selected: number
  readonly text: string
  readonly width: number
  readonly color: boolean
}

/** The new-run prompt. */
export const NewRunInput = ({ color, selected, text, width, workflows }: NewRunInputProps) => {
  const chosen = workflows[selected]
  const prompt = "input › "
  // Keep the end of a long input visible: that is where the cursor is.
  const room = Math.max(1, width - prompt.length - 1)
  const shownText = text.length > room ? `…${text.slice(text.length - room + 1)}` : text
  return (
    <Box flexDirection="column" height={NEW_RUN_LINES} width={width}>
      <Text wrap="truncate">
        <Text {...style(color, { bold: true })}>New run  workflow:</Text>
        {workflows.map((workflow, i) => (
          <Text key={workflow.name} {...style(color, { inverse: i === selected, bold: i === selected })}>
            {i === selected ? ` [${workflow.name}]` : `  ${workflow.name} `}
          </Text>
        ))}
        {chosen === undefined ? null : (
          <Text {...style(color, { dimColor: true })}>{`  ${clip(chosen.description, width)}`}</Text>
        )}
      </Text>
      <Text wrap="truncate">
        <Text {...style(color, { bold: true, color: "cyan" })}>{prompt}</Text>
        {shownText}
        <Text {...style(color, { inverse: true })}>{color ? " " : "_"}</Text>
      </Text>
    </Box>
  )
}
