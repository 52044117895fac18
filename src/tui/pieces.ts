/**
 * Pieces — a line of the dashboard as data: stretches of text, each with its own style.
 *
 * The panes describe what they show as lines of pieces (`headerLines`, `runListPane`, ...);
 * `Block` draws them. Widths are counted in UTF-16 code units (see `format.ts`).
 */
import type { TextStyle } from "./ansi.js"
import { clip } from "./format.js"

/** A piece of a line. */
export interface Piece extends TextStyle {
  readonly text: string
}

/** A line's pieces, in order. */
export type Pieces = ReadonlyArray<Piece>

/**
 * The pieces that fit in `width`, in order: the first one that does not fit is cut with `…` and
 * the rest are dropped, so a long line ends like a truncated one instead of every piece shrinking.
 */
export const fitPieces = (pieces: Pieces, width: number): Pieces => {
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

/** The part of a line's pieces between cells `from` (included) and `to` (excluded). */
export const cutPieces = (pieces: Pieces, from: number, to: number): Pieces => {
  const cut: Array<Piece> = []
  let x = 0
  for (const piece of pieces) {
    const length = piece.text.length
    const start = Math.max(from, x) - x
    const end = Math.min(to, x + length) - x
    if (start < end) cut.push(start === 0 && end === length ? piece : { ...piece, text: piece.text.slice(start, end) })
    x += length
    if (x >= to) break
  }
  return cut
}
