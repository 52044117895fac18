/**
 * Header — who answers (provider, model, a SIMULATED badge) and the totals since start.
 *
 * Always exactly `HEADER_LINES` lines so the container's layout arithmetic holds: the title line,
 * then the counters packed into two lines; on narrow terminals the least important counters
 * (breakers last) are dropped rather than wrapped.
 */
import type { BreakerView, Totals } from "../state/WorkflowState.js"
import { cacheHitRate } from "../state/WorkflowState.js"
import { clip, formatCompact, formatCost, formatDuration, formatPercent, formatTokens, totalTokens } from "./format.js"
import { Block } from "./Block.js"
import type { Pieces } from "./pieces.js"
import { breakerColor, type ColorName } from "./theme.js"
import type { RemoteView } from "./types.js"
import { HEADER_LINES } from "./view.js"

/** A piece of header text with an optional colour. */
export interface Segment {
  readonly text: string
  readonly color?: ColorName
}

/**
 * Packs segments into at most `maxLines` lines of `width` cells, `gap` spaces apart, in order;
 * segments that no longer fit are dropped (the list is ordered most important first).
 */
export const packSegments = (
  segments: ReadonlyArray<Segment>,
  width: number,
  maxLines: number,
  gap = 2
): ReadonlyArray<ReadonlyArray<Segment>> => {
  const lines: Array<Array<Segment>> = []
  let current: Array<Segment> = []
  let used = 0
  for (const segment of segments) {
    const need = segment.text.length + (current.length === 0 ? 0 : gap)
    if (current.length > 0 && used + need > width) {
      lines.push(current)
      if (lines.length === maxLines) return lines
      current = []
      used = 0
    }
    const text = current.length === 0 ? clip(segment.text, width) : segment.text
    current.push({ ...segment, text })
    used += current.length === 1 ? text.length : need
  }
  if (current.length > 0 && lines.length < maxLines) lines.push(current)
  return lines
}

/** The counters in display order, most important first. */
export const headerSegments = (
  totals: Totals,
  breakers: Readonly<Record<string, BreakerView>>,
  limiterWaiting = 0
): ReadonlyArray<Segment> => {
  const segments: Array<Segment> = [
    { text: `● ${formatCompact(totals.running)} running`, color: "cyan" },
    { text: `✔ ${formatCompact(totals.succeeded)} succeeded`, color: "green" },
    { text: `✖ ${formatCompact(totals.failed)} failed`, color: "red" },
    { text: `⊘ ${formatCompact(totals.cancelled)} cancelled`, color: "yellow" },
    { text: `cost ${formatCost(totals.costUsd)}` },
    { text: `tokens ${formatTokens(totalTokens(totals.usage))}` },
    { text: `LLM calls ${formatCompact(totals.llmCalls)}` },
    ...(totals.llmErrors > 0 ? [{ text: `LLM errors ${formatCompact(totals.llmErrors)}`, color: "red" as const }] : []),
    { text: `cache hits ${formatPercent(cacheHitRate(totals))}` },
    { text: `retries ${formatCompact(totals.retries)}`, ...(totals.retries > 0 ? { color: "yellow" as const } : {}) },
    // Shown only while someone waits, so the header stays compact in the common case.
    ...(limiterWaiting > 0 ? [{ text: `limiter waiting ${formatCompact(limiterWaiting)}`, color: "yellow" as const }] : []),
    { text: `rate-limit waits ${formatCompact(totals.rateLimitWaits)}` },
    ...(totals.rateLimitWaits > 0 ? [{ text: `waited ${formatDuration(totals.rateLimitWaitMs)}` }] : [])
  ]
  for (const breaker of Object.values(breakers).sort((a, b) => a.breaker.localeCompare(b.breaker))) {
    segments.push({ text: `breaker ${breaker.breaker}: ${breaker.state}`, color: breakerColor(breaker.state) })
  }
  return segments
}

/** Props of `Header`. */
export interface HeaderProps {
  readonly provider: string
  readonly model: string
  readonly simulated: boolean
  readonly totals: Totals
  readonly breakers: Readonly<Record<string, BreakerView>>
  /** Callers waiting for a rate-limit permit now. */
  readonly limiterWaiting?: number
  /** The server and connection of a remote dashboard. */
  readonly remote?: RemoteView | undefined
  readonly width: number
  readonly color: boolean
}

/** A remote dashboard's connection, as the title shows it. */
export const connectionSegment = (remote: RemoteView): Segment => {
  switch (remote.connection) {
    case "connecting":
      return { text: `… connecting to ${remote.server}`, color: "cyan" }
    case "connected":
      return { text: `● connected to ${remote.server}`, color: "green" }
    case "reconnecting":
      return { text: `↻ reconnecting to ${remote.server}…${remote.note === undefined ? "" : ` ${remote.note}`}`, color: "yellow" }
  }
}

/** The header's lines: the title, then the counters packed into the lines left. */
export const headerLines = (props: HeaderProps): ReadonlyArray<Pieces> => {
  const { breakers, color, limiterWaiting, model, provider, remote, simulated, totals, width } = props
  const counters = packSegments(headerSegments(totals, breakers, limiterWaiting), width, HEADER_LINES - 1)
  // The badge and the connection come before provider and model so a narrow terminal cuts those.
  const connection = remote === undefined ? undefined : connectionSegment(remote)
  const title: Pieces = [
    { text: "effect-agents", bold: true },
    ...(simulated
      ? [{ text: "  " }, { text: color ? " SIMULATED " : "[SIMULATED]", bold: true, inverse: true, color: "yellow" as const }]
      : []),
    ...(connection === undefined ? [] : [{ text: "  " }, { text: connection.text, color: connection.color }]),
    { text: `  ${provider} · ${model}` }
  ]
  const counterLines = counters.map((line): Pieces =>
    line.map((segment, j) => ({ text: j === 0 ? segment.text : `  ${segment.text}`, color: segment.color }))
  )
  return [title, ...counterLines]
}

/** The dashboard's top three lines. */
export const Header = (props: HeaderProps) => (
  <Block lines={headerLines(props)} height={HEADER_LINES} width={props.width} color={props.color} />
)
