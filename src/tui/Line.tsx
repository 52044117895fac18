/**
 * Line — one terminal line made of separately styled pieces, laid out side by side.
 *
 * Why not one `<Text>` with nested ones: Ink squashes nested text into a single string and keeps
 * the measurement of every distinct string in a cache that is never evicted (ink#986). A line
 * whose elapsed time or counter changes every frame would leave a new entry each frame; pieces
 * like `1m40s` or `$0.0123` come from a small vocabulary and are measured once. Callers keep the
 * total within `width` so nothing wraps.
 */
import { Box, Text } from "ink"
import { clip } from "./format.js"
import { type ColorName, style } from "./theme.js"

/** A piece of a line. */
export interface Piece {
  readonly text: string
  readonly color?: ColorName | undefined
  readonly bold?: boolean
  readonly dim?: boolean
  readonly inverse?: boolean
}

/** Props of `Line`. */
export interface LineProps {
  readonly pieces: ReadonlyArray<Piece>
  readonly width: number
  /** Colour and styles on or off (`NO_COLOR`). */
  readonly color: boolean
}

/**
 * The pieces that fit in `width`, in order: the first one that does not fit is cut with `…` and
 * the rest are dropped, so a long line ends like a truncated one instead of every piece shrinking.
 */
export const fitPieces = (pieces: ReadonlyArray<Piece>, width: number): ReadonlyArray<Piece> => {
  const fitted: Array<Piece> = []
  let used = 0
  for (const piece of pieces) {
    if (used + piece.text.length <= width) {
      fitted.push(piece)
      used += piece.text.length
      continue
    }
    const room = width - used
    if (room > 0) fitted.push({ ...piece, text: clip(piece.text, room) })
    break
  }
  return fitted
}

const pieceStyle = (enabled: boolean, piece: Piece) =>
  style(enabled, {
    ...(piece.color === undefined ? {} : { color: piece.color }),
    ...(piece.bold === true ? { bold: true } : {}),
    ...(piece.dim === true ? { dimColor: true } : {}),
    ...(piece.inverse === true ? { inverse: true } : {})
  })

/** One line of pieces. */
export const Line = ({ color, pieces, width }: LineProps) => (
  <Box height={1} width={width} flexShrink={0}>
    {fitPieces(pieces, width).map((piece, i) =>
      piece.text === "" ? null : (
        <Text key={i} wrap="truncate" {...pieceStyle(color, piece)}>
          {piece.text}
        </Text>
      )
    )}
  </Box>
)
