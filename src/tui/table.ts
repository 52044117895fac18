/**
 * Fixed-width table rows for the run list and the step list, built from planned columns.
 */
import { cell, cellRight, oneLine } from "./format.js"
import type { PlacedColumn } from "./view.js"

const fit = <K extends string>({ spec, width }: PlacedColumn<K>, text: string): string =>
  spec.align === "right" ? cellRight(text, width) : cell(text, width)

/** One row: each placed column's value clipped or padded to its width, one space apart. */
export const formatRow = <K extends string>(
  columns: ReadonlyArray<PlacedColumn<K>>,
  values: Readonly<Record<K, string>>
): string => columns.map((column) => fit(column, oneLine(values[column.spec.key]))).join(" ")

/** The header row: each column's title. */
export const formatHeader = <K extends string>(columns: ReadonlyArray<PlacedColumn<K>>): string =>
  columns.map((column) => fit(column, column.spec.title)).join(" ")

/** Where each cell of a row starts: 0 for a prefix of `prefix` cells, then each column's start. */
export const columnCuts = <K extends string>(prefix: number, columns: ReadonlyArray<PlacedColumn<K>>): ReadonlyArray<number> => {
  const cuts = [0]
  let x = prefix
  for (const column of columns) {
    cuts.push(x)
    x += column.width + 1
  }
  return prefix === 0 ? cuts.slice(1) : cuts
}
