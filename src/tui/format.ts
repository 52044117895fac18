/**
 * Pure text helpers of the dashboard: money, tokens, durations, fixed-width cells.
 *
 * Every number the TUI shows goes through here so the list, the detail pane and the header agree
 * on one notation, and the notation is unit-tested without rendering anything. Widths are counted
 * in UTF-16 code units, which matches terminal cells for the ASCII, box-drawing and status glyphs
 * the dashboard itself prints.
 */
import type { RunStatus, Usage } from "../services/WorkflowEvents.js"

/** US dollars: 4 decimals below $1 (LLM calls cost fractions of a cent), 2 from $1 on. */
export const formatCost = (usd: number): string => {
  const value = Number.isFinite(usd) ? Math.max(0, usd) : 0
  return value < 1 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`
}

/** Token counts: `950`, `12.3k`, `123k`, `1.2M`. */
export const formatTokens = (tokens: number): string => {
  const n = Math.max(0, Math.round(tokens))
  if (n < 1_000) return String(n)
  if (n < 100_000) return `${trimZero((n / 1_000).toFixed(1))}k`
  if (n < 1_000_000) return `${Math.round(n / 1_000)}k`
  if (n < 100_000_000) return `${trimZero((n / 1_000_000).toFixed(1))}M`
  return `${Math.round(n / 1_000_000)}M`
}

const trimZero = (fixed: string): string => (fixed.endsWith(".0") ? fixed.slice(0, -2) : fixed)

/** Durations: `350ms`, `1.2s`, `3m04s`, `1h02m`. */
export const formatDuration = (ms: number): string => {
  const value = Math.max(0, Math.round(ms))
  if (value < 1_000) return `${value}ms`
  if (value < 60_000) return `${(Math.floor(value / 100) / 10).toFixed(1)}s`
  const totalSeconds = Math.floor(value / 1_000)
  if (totalSeconds < 3_600) {
    return `${Math.floor(totalSeconds / 60)}m${String(totalSeconds % 60).padStart(2, "0")}s`
  }
  const totalMinutes = Math.floor(totalSeconds / 60)
  return `${Math.floor(totalMinutes / 60)}h${String(totalMinutes % 60).padStart(2, "0")}m`
}

/** A share in [0, 1] as a whole percentage. */
export const formatPercent = (share: number): string => `${Math.round(Math.min(1, Math.max(0, share)) * 100)}%`

/**
 * Counts: exact with separators below 10,000 (`9,999`), then abbreviated (`12.3k`, `1.2M`), so a
 * counter shown every frame takes a bounded set of values.
 */
export const formatCompact = (n: number): string => (Math.abs(n) < 10_000 ? formatCount(n) : formatTokens(n))

/**
 * Thousands separators for counts (`1,000`), as `toLocaleString("en-US")` writes them without
 * going through Intl, which costs microseconds per call and the header shows several counts a frame.
 */
export const formatCount = (n: number): string => {
  const rounded = Math.round(n)
  if (!Number.isFinite(rounded)) return rounded.toLocaleString("en-US")
  const digits = String(Math.abs(rounded))
  let grouped = digits.slice(0, ((digits.length - 1) % 3) + 1)
  for (let i = grouped.length; i < digits.length; i += 3) grouped += `,${digits.slice(i, i + 3)}`
  return rounded < 0 ? `-${grouped}` : grouped
}

/** Local wall-clock time `HH:MM:SS` of an epoch-millisecond timestamp. */
export const formatClock = (epochMs: number): string => {
  const d = new Date(epochMs)
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":")
}

/** Input plus output tokens. */
export const totalTokens = (usage: Usage): number => usage.inputTokens + usage.outputTokens

/** Braille spinner frames for running rows. */
export const spinnerFrames: ReadonlyArray<string> = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/** The one-cell status glyph: a spinner frame while running, then ✔ / ✖ / ⊘. */
export const statusIcon = (status: "running" | RunStatus, frame = 0): string => {
  switch (status) {
    case "running":
      return spinnerFrames[((frame % spinnerFrames.length) + spinnerFrames.length) % spinnerFrames.length]!
    case "succeeded":
      return "✔"
    case "failed":
      return "✖"
    case "cancelled":
      return "⊘"
  }
}

/** Cuts `text` to at most `width` cells, marking the cut with `…`. */
export const clip = (text: string, width: number): string => {
  if (width <= 0) return ""
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`
}

/** Exactly `width` cells, left-aligned: clipped or padded with spaces. */
export const cell = (text: string, width: number): string => clip(text, width).padEnd(Math.max(0, width))

/** Exactly `width` cells, right-aligned (numbers line up on their last digit). */
export const cellRight = (text: string, width: number): string => clip(text, width).padStart(Math.max(0, width))

/** One line of display text: newlines and tabs become spaces so a row never spills. */
export const oneLine = (text: string): string => text.replace(/[\r\n\t]+/g, " ")

/**
 * The last `max` lines of `text` wrapped to `width` cells: at spaces where a line has one, else
 * hard. For a growing answer, whose newest words are what a reader follows.
 */
export const tailLines = (text: string, width: number, max: number): ReadonlyArray<string> => {
  if (width <= 0 || max <= 0) return []
  const out: Array<string> = []
  for (const paragraph of text.replace(/\t/g, " ").split(/\r?\n/)) {
    let rest = paragraph.trimEnd()
    if (rest.length === 0) out.push("")
    while (rest.length > 0) {
      if (rest.length <= width) {
        out.push(rest)
        break
      }
      const space = rest.lastIndexOf(" ", width)
      const cut = space > 0 ? space : width
      out.push(rest.slice(0, cut))
      rest = rest.slice(cut).trimStart()
    }
  }
  while (out.length > 0 && out[out.length - 1] === "") out.pop()
  return out.slice(Math.max(0, out.length - max))
}
