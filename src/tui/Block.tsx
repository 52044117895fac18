/**
 * Block — a pane of lines, some of them a table drawn a column at a time.
 *
 * A screenful of table rows drawn as `Line`s is a few hundred Ink nodes, each laid out by Yoga,
 * reconciled by React and visited by Ink on every frame. Drawn by columns it is one node per
 * column: a `<Transform>` whose text is one blank line per row (so Ink's measure cache only ever
 * sees a handful of strings) and whose transform returns, for row `i`, that row's cell of the
 * column; Ink writes each line at its place. Cells are written without their trailing blanks
 * (the screen starts blank each frame), except where spaces show (inverse video).
 */
import { Box, Transform } from "ink"
import { memo, useCallback, useRef } from "react"
import { paint } from "./ansi.js"
import { fitPieces, Line, type Pieces } from "./Line.js"

/** Lines `from` (included) to `to` (excluded) are table rows, cut into columns at `cuts`. */
export interface TableLayout {
  readonly from: number
  readonly to: number
  /** Where each column starts, in cells, left to right; the first is 0. */
  readonly cuts: ReadonlyArray<number>
}

/** A pane's content: its lines, and which of them form a table. */
export interface Pane {
  readonly lines: ReadonlyArray<Pieces>
  readonly table?: TableLayout | undefined
}

/** The part of a line's pieces between cells `from` (included) and `to` (excluded). */
export const cutPieces = (pieces: Pieces, from: number, to: number): Pieces => {
  const cut: Array<Pieces[number]> = []
  let x = 0
  for (const piece of pieces) {
    const start = Math.max(from, x)
    const end = Math.min(to, x + piece.text.length)
    if (start < end) cut.push(start === x && end === x + piece.text.length ? piece : { ...piece, text: piece.text.slice(start - x, end - x) })
    x += piece.text.length
    if (x >= to) break
  }
  return cut
}

/** A cell as Ink writes it: styled, its trailing blanks left out unless they show. */
export const cellText = (pieces: Pieces, color: boolean): string => {
  let last = pieces.length - 1
  while (last >= 0 && !(color && pieces[last]!.inverse === true) && pieces[last]!.text.trimEnd() === "") last -= 1
  let text = ""
  for (let i = 0; i <= last; i++) {
    const piece = pieces[i]!
    const shown = i === last && !(color && piece.inverse === true) ? piece.text.trimEnd() : piece.text
    text += color ? paint(shown, piece) : shown
  }
  return text
}

const placeholders: Array<string> = []
/** `rows` lines of one space: what a column node holds, made once per row count. */
const placeholder = (rows: number): string => (placeholders[rows] ??= Array.from({ length: rows }, () => " ").join("\n"))

/** One column of a table: a node `width` cells wide whose line `i` is `cells[i]`. */
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

/** Props of `Block`. */
export interface BlockProps extends Pane {
  readonly height: number
  readonly width: number
  /** Colour and styles on or off (`NO_COLOR`). */
  readonly color: boolean
}

/** A pane: `height` lines of `width` cells; lines past `height` are not shown. */
export const Block = memo(({ color, height, lines, table, width }: BlockProps) => {
  // Last frame's cells per column: a column whose cells did not change keeps them, and is skipped.
  const previous = useRef<ReadonlyArray<ReadonlyArray<string>>>([])
  const shown = lines.slice(0, Math.max(0, height))
  const from = table === undefined ? shown.length : Math.min(table.from, shown.length)
  const to = table === undefined ? shown.length : Math.min(table.to, shown.length)
  const line = (pieces: Pieces, i: number) => <Line key={i} pieces={pieces} width={width} color={color} />
  let columns: ReadonlyArray<ReadonlyArray<string>> = []
  if (table !== undefined && to > from) {
    const rows = shown.slice(from, to).map((pieces) => fitPieces(pieces, width))
    const cuts = table.cuts
    columns = cuts.map((start, c) => {
      const cells = rows.map((pieces) => cellText(cutPieces(pieces, start, cuts[c + 1] ?? width), color))
      const before = previous.current[c]
      return before !== undefined && sameCells(before, cells) ? before : cells
    })
  }
  previous.current = columns
  return (
    <Box flexDirection="column" height={height} width={width}>
      {shown.slice(0, from).map(line)}
      {columns.length === 0 ? null : (
        <Box height={to - from} width={width} flexShrink={0}>
          {columns.map((cells, c) => <Column key={c} cells={cells} width={(table!.cuts[c + 1] ?? width) - table!.cuts[c]!} />)}
        </Box>
      )}
      {shown.slice(to).map((pieces, i) => line(pieces, to + i))}
    </Box>
  )
})
