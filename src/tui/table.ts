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
