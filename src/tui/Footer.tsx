/**
 * Footer — the keys that work right now, from the keymap, and the latest status message.
 */
import { Box, Text } from "ink"
import { memo } from "react"
import { footerHints, type Keymap, type Mode } from "./keymap.js"
import { style } from "./theme.js"
import { FOOTER_LINES } from "./view.js"

/** Props of `Footer`. */
export interface FooterProps {
  readonly keymap: Keymap
  readonly mode: Mode
  /** A short notice (e.g. "cancelling 3f2a…"), shown before the keys. */
  readonly message?: string
  readonly width: number
  readonly color: boolean
}

/** The bottom line. Memoised: its props change with the mode, not with every frame. */
export const Footer = memo(({ color, keymap, message, mode, width }: FooterProps) => {
  const keys = footerHints(keymap, mode)
    .map((hint) => `${hint.keys} ${hint.text}`)
    .join("  ")
  return (
    <Box height={FOOTER_LINES} width={width}>
      <Text wrap="truncate">
        {message === undefined || message === ""
          ? null
          : <Text {...style(color, { bold: true, color: "yellow" })}>{`${message}  `}</Text>}
        <Text {...style(color, { dimColor: true })}>{keys}</Text>
      </Text>
    </Box>
  )
})
