/**
 * Fixed-width table rows for the run list and the step list, built from planned columns.
 */
import { cell, cellRight, oneLine } from "./format.js"
import type { PlacedColumn } from "./view.js"

/**
 * One row as separate cells: each placed column's value clipped or padded to its width, followed
 * by the one-space separator (except the last). Kept apart rather than joined because Ink caches
 * the measurement of every distinct string it lays out, forever: a cell like `1m40s` recurs, a whole
 * row with its elapsed time almost never does.
 */
export const rowCells = <K extends string>(
  columns: ReadonlyArray<PlacedColumn<K>>,
  values: Readonly<Record<K, string>>
): ReadonlyArray<string> =>
  columns.map(({ spec, width }, i) => {
    const value = oneLine(values[spec.key])
    const text = spec.align === "right" ? cellRight(value, width) : cell(value, width)
    return i === columns.length - 1 ? text : `${text} `
  })

/** The header row: each column's title. */
export const formatHeader = <K extends string>(columns: ReadonlyArray<PlacedColumn<K>>): string =>
  columns.map(({ spec, width }) => (spec.align === "right" ? cellRight(spec.title, width) : cell(spec.title, width))).join(" ")
