/**
 * Line — one terminal line made of separately styled pieces.
 *
 * What a frame costs in Ink: every node is laid out by Yoga and visited on every frame, every
 * written character is parsed again (grapheme by grapheme) on every frame, and every distinct
 * string a `<Text>` holds is measured once and kept in a cache that is never evicted (ink#986).
 * So a line is written as a few `<Transform>`s rather than a `<Text>` per piece: each covers a
 * span, a stretch of text plus the blank run after it, and holds only spaces (`width` of them: a
 * small, bounded vocabulary for the measure cache); its transform returns the styled text, which
 * Ink writes at the node's place. Blank runs are never written (the screen starts blank each frame),
 * and a changing counter leaves nothing behind in Ink's caches. Lines are memoised: a line whose
 * pieces are the same objects as last frame's is not rendered again (the container keeps equal
 * lines' identities, see `screenModel.ts`).
 */
import { Box, Transform } from "ink"
import { memo, useCallback } from "react"
import { paint, type TextStyle } from "./ansi.js"
import { clip } from "./format.js"

/** A piece of a line. */
export interface Piece extends TextStyle {
  readonly text: string
}

/** A line's pieces, in order; their total length stays within the line's width. */
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

/** A stretch Ink writes: styled text, the same unstyled, and the cells its node takes. */
export interface Span {
  readonly text: string
  readonly plain: string
  readonly width: number
}

/**
 * Blank runs at least this long end a span; shorter ones are written. A span costs a node
 * per frame, a written character a parse per frame: about the same for three characters.
 */
const MIN_GAP = 3

/**
 * A line cut into spans at its blank runs. Spaces of inverse pieces show, so they are text;
 * other spaces look the same whatever their piece's style. Trailing blanks are left out.
 */
export const spansOf = (pieces: Pieces, color: boolean): ReadonlyArray<Span> => {
  const spans: Array<Span> = []
  let text = ""
  let plain = ""
  let width = 0
  let blank = 0
  const endSpan = () => {
    spans.push({ text, plain, width: width + blank })
    text = ""
    plain = ""
    width = 0
    blank = 0
  }
  for (const piece of pieces) {
    const visibleSpaces = color && piece.inverse === true
    // Blanks still pending from earlier pieces are written unstyled, not in this piece's style.
    let carried = blank
    let portion = ""
    const flushPortion = () => {
      if (portion === "") return
      text += color ? paint(portion, piece) : portion
      plain += portion
      width += portion.length
      portion = ""
    }
    for (const char of piece.text) {
      if (char === " " && !visibleSpaces) {
        blank += 1
        continue
      }
      if (blank >= MIN_GAP) {
        flushPortion()
        endSpan()
      } else if (blank > 0) {
        text += " ".repeat(carried)
        plain += " ".repeat(carried)
        width += carried
        portion += " ".repeat(blank - carried)
        blank = 0
      }
      carried = 0
      portion += char
    }
    flushPortion()
  }
  if (width > 0) spans.push({ text, plain, width })
  return spans
}

const blanks: Array<string> = []
/** `n` spaces, made once per length. */
const spaces = (n: number): string => (blanks[n] ??= " ".repeat(n))

/** One span: a node `width` cells wide whose output is `text`. */
const SpanText = memo(({ plain, text, width }: Span) => {
  const transform = useCallback(() => text, [text])
  return (
    <Transform transform={transform} accessibilityLabel={plain}>
      {spaces(width)}
    </Transform>
  )
})

/** Props of `Line`. */
export interface LineProps {
  readonly pieces: Pieces
  readonly width: number
  /** Colour and styles on or off (`NO_COLOR`). */
  readonly color: boolean
}

/** One line of pieces, cut to `width`. */
export const Line = memo(({ color, pieces, width }: LineProps) => (
  <Box height={1} width={width} flexShrink={0}>
    {spansOf(fitPieces(pieces, width), color).map((span, i) => <SpanText key={i} {...span} />)}
  </Box>
))
