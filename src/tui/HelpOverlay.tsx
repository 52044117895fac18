/**
 * HelpOverlay — every key binding of every mode, rendered from the keymap, in place of the panes.
 */
import { Box, Text } from "ink"
import { cell } from "./format.js"
import type { Keymap, Mode } from "./keymap.js"
import { style } from "./theme.js"

const sections: ReadonlyArray<readonly [Mode, string]> = [
  ["list", "Run list"],
  ["newRun", "New run input (n)"],
  ["filter", "Filter (/)"]
]

/** Props of `HelpOverlay`. */
export interface HelpOverlayProps {
  readonly keymap: Keymap
  readonly height: number
  readonly width: number
  readonly color: boolean
}

/** The help screen. Lines that do not fit the height are cut. */
export const HelpOverlay = ({ color, height, keymap, width }: HelpOverlayProps) => {
  const lines: Array<{ readonly text: string; readonly heading: boolean }> = [
    { text: "Keys  (? or Esc closes this help)", heading: true }
  ]
  for (const [mode, title] of sections) {
    lines.push({ text: "", heading: false }, { text: title, heading: true })
    for (const binding of keymap[mode]) {
      lines.push({ text: `  ${cell(binding.label, 8)} ${binding.description}`, heading: false })
    }
  }
  return (
    <Box flexDirection="column" height={height} width={width}>
      {lines.slice(0, Math.max(0, height)).map((line, i) => (
        <Text key={i} wrap="truncate" {...style(color, { bold: line.heading })}>
          {line.text === "" ? " " : line.text}
        </Text>
      ))}
    </Box>
  )
}
