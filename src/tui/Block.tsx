/**
 * Block — a pane of lines, drawn a column at a time.
 *
 * What a frame costs in Ink: every node is laid out by Yoga, reconciled by React and visited on
 * every frame, every written character is parsed again (grapheme by grapheme) on every frame, and
 * every distinct string a text node holds is measured once and kept in a cache that is never
 * evicted (ink#986). A line per `<Text>` — let alone a `<Text>` per piece — costs a screenful of
 * nodes and leaves every changing counter in that cache. So a pane is cut into columns (a table's
 * columns, or one column for plain lines) and each column is one `<Transform>` whose text is a
 * placeholder line per row: the measure cache only ever sees a handful of such strings, and the
 * transform returns, for row `i`, that row's cell of the column, which Ink writes in its place.
 * Cells are written without their trailing blanks (the screen starts blank each frame) unless
 * the spaces show (inverse video), and without the escapes that would close their styles at
 * their end (Ink parses each escape every frame; its cells carry their own styles). A column whose
 * cells did not change since the last frame keeps its props and is not rendered again.
 */
import { Box, Transform } from "ink"
import { memo, useCallback, useRef } from "react"
import { paint, paintOpen } from "./ansi.js"
import { cutPieces, fitPieces, type Pieces } from "./pieces.js"

/** A pane's content: its lines, and where its columns start (in cells; one column when absent). */
export interface Pane {
  readonly lines: ReadonlyArray<Pieces>
  readonly cuts?: ReadonlyArray<number> | undefined
}

/** A cell as Ink writes it: styled, its trailing blanks left out unless they show. */
export const cellText = (pieces: Pieces, color: boolean): string => {
  const shows = (i: number) => color && pieces[i]!.inverse === true
  let last = pieces.length - 1
  while (last >= 0 && !shows(last) && pieces[last]!.text.trimEnd() === "") last -= 1
  let text = ""
  for (let i = 0; i <= last; i++) {
    const piece = pieces[i]!
    if (i < last) text += color ? paint(piece.text, piece) : piece.text
    else text += color ? paintOpen(shows(i) ? piece.text : piece.text.trimEnd(), piece) : piece.text.trimEnd()
  }
  return text
}

const placeholders: Array<string> = []
/**
 * `rows` lines, the first one space and the rest empty: what a column node holds, made once per
 * row count. Ink measures every line of it on every frame; an empty line is the cheapest to measure.
 */
const placeholder = (rows: number): string => (placeholders[rows] ??= rows === 0 ? "" : ` ${"\n".repeat(rows - 1)}`)

/** One column: a node `width` cells wide whose line `i` is `cells[i]`. */
const Column = memo(({ cells, width }: { readonly cells: ReadonlyArray<string>; readonly width: number }) => {
  const transform = useCallback((_line: string, row: number) => cells[row] ?? "", [cells])
  return (
    <Box width={width} flexShrink={0}>
      <Transform transform={transform}>{placeholder(cells.length)}</Transform>
    </Box>
  )
})

const sameCells = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && a.every((cell, i) => cell === b[i])

const oneColumn: ReadonlyArray<number> = [0]

/** Props of `Block`. */
export interface BlockProps extends Pane {
  /** Lines past `height` are not shown. */
  readonly height: number
  readonly width: number
  /** Colour and styles on or off (`NO_COLOR`). */
  readonly color: boolean
}

/** A pane: `height` lines of `width` cells. */
export const Block = memo(({ color, cuts: allCuts = oneColumn, height, lines, width }: BlockProps) => {
  const previous = useRef<ReadonlyArray<ReadonlyArray<string>>>([])
  const cuts = allCuts.filter((start) => start < width)
  const rows = lines.slice(0, Math.max(0, height)).map((pieces) => fitPieces(pieces, width))
  const columns = rows.length === 0 ? [] : cuts.map((start, c) => {
    const cells = rows.map((pieces) => cellText(cutPieces(pieces, start, cuts[c + 1] ?? width), color))
    const before = previous.current[c]
    return before !== undefined && sameCells(before, cells) ? before : cells
  })
  previous.current = columns
  return (
    <Box height={height} width={width}>
      {columns.map((cells, c) => <Column key={c} cells={cells} width={(cuts[c + 1] ?? width) - cuts[c]!} />)}
    </Box>
  )
})
