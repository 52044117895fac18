/**
 * SGR escapes for the dashboard's few styles (bold, dim, inverse, the eight palette colours).
 *
 * `Block` hands Ink finished strings instead of styled `<Text>` elements (see `Block.tsx` for why),
 * so it styles them itself. Each style is closed by its own reset code rather than `ESC[0m`, so a
 * styled piece never cancels the styles around it.
 */
import type { ColorName } from "./theme.js"

/** The styles a piece of a line can have. */
export interface TextStyle {
  readonly color?: ColorName | undefined
  readonly bold?: boolean | undefined
  readonly dim?: boolean | undefined
  readonly inverse?: boolean | undefined
}

const foreground: Readonly<Record<ColorName, number>> = {
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
  white: 37,
  gray: 90
}

const sgr = (code: number): string => `\u001b[${code}m`

/** The escapes that turn `style` on, and those that turn it off again ("" when it has none). */
const escapes = (style: TextStyle): readonly [open: string, close: string] => {
  let open = ""
  let close = ""
  if (style.color !== undefined) {
    open += sgr(foreground[style.color])
    close = sgr(39) + close
  }
  // Bold and dim share their reset (22), so one close serves both.
  if (style.bold === true || style.dim === true) {
    if (style.bold === true) open += sgr(1)
    if (style.dim === true) open += sgr(2)
    close = sgr(22) + close
  }
  if (style.inverse === true) {
    open += sgr(7)
    close = sgr(27) + close
  }
  return [open, close]
}

/** `text` wrapped in the escapes of `style`; unchanged when it has none. */
export const paint = (text: string, style: TextStyle): string => {
  const [open, close] = escapes(style)
  return open === "" ? text : `${open}${text}${close}`
}

/**
 * `text` after the escapes that turn `style` on, left on: for the end of a string Ink writes,
 * which Ink parses into styled cells (so nothing after it inherits the style) and re-encodes per
 * line. Every escape Ink parses costs it work on every frame.
 */
export const paintOpen = (text: string, style: TextStyle): string => escapes(style)[0] + text
