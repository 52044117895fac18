/**
 * The screen as data: every line the data panes show (header, run list, run detail, log), built
 * by the panes' pure functions, once per frame.
 *
 * Why: Ink lays out and writes the whole screen whenever React commits any change, and a commit
 * happens whenever any element is rendered again (its props are new objects). So the container
 * builds this model first and keeps the previous one's lines wherever they are equal: a frame that
 * shows nothing new yields the very same model, the memoised `Screen` is not rendered, and Ink does
 * no work at all; a frame in which one row changed renders that row only.
 */
import type { DashboardState, RunView } from "../state/WorkflowState.js"
import type { Pane } from "./Block.js"
import { headerLines } from "./Header.js"
import type { Piece, Pieces } from "./pieces.js"
import { logLines } from "./LogPane.js"
import { runDetailPane } from "./RunDetail.js"
import { runListPane } from "./RunList.js"
import type { DashboardInfo } from "./types.js"
import type { Snapshot } from "./useThrottledSnapshot.js"
import { CLOCK_TICK_MS } from "./useThrottledSnapshot.js"
import type { Layout } from "./view.js"

/** Each data pane's content; no lines for a pane not shown. */
export interface ScreenModel {
  readonly header: Pane
  readonly list: Pane
  readonly detail: Pane
  readonly log: Pane
}

/** What the model is built from. */
export interface ScreenInput {
  readonly snapshot: Snapshot
  readonly info: DashboardInfo
  /** The listed (filtered) runs, how many there are unfiltered, the selection and first row. */
  readonly runs: ReadonlyArray<RunView>
  readonly unfilteredCount: number
  readonly selectedIndex: number
  readonly offset: number
  readonly filter: string
  readonly layout: Layout
  readonly width: number
  /** The help overlay covers the list, detail and log panes. */
  readonly help: boolean
}

const none: Pane = { lines: [] }

/** The screen's lines for one frame. */
export const buildScreenModel = (input: ScreenInput): ScreenModel => {
  const { info, layout, runs, snapshot, width } = input
  const state: DashboardState = snapshot.state
  const color = info.color
  const frame = Math.floor(snapshot.now / CLOCK_TICK_MS)
  const remote = snapshot.remote
  const header: Pane = {
    lines: headerLines({
      // A remote server's provider shows once its LLM calls have said which it is.
      provider: remote?.provider ?? info.provider,
      model: remote?.model ?? info.model,
      simulated: remote === undefined ? info.simulated : remote.provider === "simulated",
      remote,
      totals: state.totals,
      breakers: state.breakers,
      limiterWaiting: state.limiterWaiting,
      width,
      color
    })
  }
  if (input.help) return { header, list: none, detail: none, log: none }
  const selected = input.selectedIndex >= 0 ? runs[input.selectedIndex] : undefined
  return {
    header,
    list: runListPane({
      runs,
      selectedIndex: input.selectedIndex,
      offset: input.offset,
      rows: layout.listRows,
      width,
      now: snapshot.now,
      frame,
      color,
      filter: input.filter,
      unfilteredCount: input.unfilteredCount
    }),
    detail: layout.detailLines <= 0
      ? none
      : runDetailPane({ run: selected, height: layout.detailLines, width, now: snapshot.now, frame, color }),
    log: layout.logLines <= 0 ? none : { lines: logLines({ logs: snapshot.logs, height: layout.logLines, width, color }) }
  }
}

const samePiece = (a: Piece, b: Piece): boolean =>
  a.text === b.text && a.color === b.color && a.bold === b.bold && a.dim === b.dim && a.inverse === b.inverse

const samePieces = (a: Pieces, b: Pieces): boolean => a.length === b.length && a.every((piece, i) => samePiece(piece, b[i]!))

/** `next`, with every line equal to the one at the same place in `previous` replaced by it. */
export const shareLines = (previous: ReadonlyArray<Pieces>, next: ReadonlyArray<Pieces>): ReadonlyArray<Pieces> => {
  let changed = previous.length !== next.length
  const shared = next.map((line, i) => {
    const old = previous[i]
    if (old !== undefined && (old === line || samePieces(old, line))) return old
    changed = true
    return line
  })
  return changed ? shared : previous
}

const sameCuts = (a: ReadonlyArray<number> | undefined, b: ReadonlyArray<number> | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((cut, i) => cut === b[i]))

/** `next`, with its lines and columns shared with `previous` where equal; `previous` when all are. */
const sharePane = (previous: Pane, next: Pane): Pane => {
  const lines = shareLines(previous.lines, next.lines)
  const cuts = sameCuts(previous.cuts, next.cuts) ? previous.cuts : next.cuts
  return lines === previous.lines && cuts === previous.cuts ? previous : { lines, cuts }
}

/** `next`, sharing every equal pane and line with `previous`; `previous` itself when all are equal. */
export const shareModel = (previous: ScreenModel | undefined, next: ScreenModel): ScreenModel => {
  if (previous === undefined) return next
  const shared: ScreenModel = {
    header: sharePane(previous.header, next.header),
    list: sharePane(previous.list, next.list),
    detail: sharePane(previous.detail, next.detail),
    log: sharePane(previous.log, next.log)
  }
  return shared.header === previous.header && shared.list === previous.list && shared.detail === previous.detail &&
      shared.log === previous.log
    ? previous
    : shared
}
