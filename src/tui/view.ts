/**
 * Pure view logic of the dashboard: which runs are listed, in what order, which slice of them
 * fits on screen, and how the screen's height is shared between the panes.
 *
 * Kept out of the components so the container can compute it once per frame and the rules
 * (newest first, filter semantics, scrolling) are tested without rendering.
 */
import { HashMap } from "effect"
import type { DashboardState, RunView } from "../state/WorkflowState.js"

/** List order of running runs: newest start first, then by id. */
const newestFirst = (a: RunView, b: RunView): number => b.startedAt - a.startedAt || (a.runId < b.runId ? 1 : -1)

/**
 * Every listed run, newest first: running runs (by start time, newest first) then finished ones
 * (already newest first in the state). A run that finishes moves below the running ones.
 */
export const listRuns = (state: DashboardState): ReadonlyArray<RunView> => {
  const running = Array.from(HashMap.values(state.active))
  running.sort(newestFirst)
  return running.length === 0 ? state.finished : running.concat(state.finished)
}

/** Merges two lists sorted `newestFirst`; runs that started since usually all go on top. */
const mergeNewestFirst = (a: ReadonlyArray<RunView>, b: ReadonlyArray<RunView>): Array<RunView> => {
  if (a.length === 0 || newestFirst(b[b.length - 1]!, a[0]!) <= 0) return b.concat(a)
  const merged: Array<RunView> = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) merged.push(newestFirst(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!)
  while (i < a.length) merged.push(a[i++]!)
  while (j < b.length) merged.push(b[j++]!)
  return merged
}

/**
 * `listRuns` for a container that lists every frame: the same result, but it keeps the last
 * frame's order instead of sorting a thousand running runs again. A run's place only changes when
 * runs start or end, so each run goes back to its previous place, and only the runs that started
 * since are sorted and merged in. Should a run's start time change anyway, it sorts in full.
 */
export const makeRunLister = (): ((state: DashboardState) => ReadonlyArray<RunView>) => {
  let active: DashboardState["active"] | undefined
  let finished: ReadonlyArray<RunView> = []
  let running: ReadonlyArray<RunView> = []
  let listed: ReadonlyArray<RunView> = []
  let places = new Map<string, number>()
  return (state) => {
    if (state.active === active && state.finished === finished) return listed
    if (state.active !== active) {
      const placed = running.slice()
      const seen = new Uint8Array(running.length)
      const started: Array<RunView> = []
      let moved = false
      HashMap.forEach(state.active, (run, runId) => {
        const place = places.get(runId)
        if (place === undefined) return void started.push(run)
        moved ||= run.startedAt !== placed[place]!.startedAt
        placed[place] = run
        seen[place] = 1
      })
      const stayed = HashMap.size(state.active) - started.length === running.length
        ? placed
        : placed.filter((_, i) => seen[i] === 1)
      let next = started.length === 0 ? stayed : mergeNewestFirst(stayed, started.sort(newestFirst))
      if (moved) next = next.sort(newestFirst)
      if (next !== placed || moved) {
        places = new Map()
        for (let i = 0; i < next.length; i++) places.set(next[i]!.runId, i)
      }
      running = next
      active = state.active
    }
    finished = state.finished
    listed = running.length === 0 ? finished : running.concat(finished)
    return listed
  }
}

/**
 * Whether a run passes the filter text: case-insensitive, a run matches when its status starts
 * with the text (`fail`, `running`) or its workflow name or run id contains it. Empty matches all.
 */
export const matchesFilter = (run: RunView, filter: string): boolean => {
  const needle = filter.trim().toLowerCase()
  if (needle === "") return true
  return run.status.startsWith(needle) || run.workflow.toLowerCase().includes(needle) ||
    run.runId.toLowerCase().includes(needle)
}

/** The runs that pass the filter, in list order. */
export const filterRuns = (runs: ReadonlyArray<RunView>, filter: string): ReadonlyArray<RunView> =>
  filter.trim() === "" ? runs : runs.filter((run) => matchesFilter(run, filter))

/** Clamps `n` into [lo, hi] (lo wins when the range is empty). */
export const clamp = (n: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, n))

/**
 * The first visible row of a virtualised list: the previous offset, moved as little as needed to
 * keep `selected` on screen, and never past the end (no blank rows below the last run).
 */
export const scrollOffset = (previous: number, selected: number, rows: number, total: number): number => {
  if (rows <= 0 || total <= 0) return 0
  let offset = previous
  if (selected < offset) offset = selected
  if (selected >= offset + rows) offset = selected - rows + 1
  return Math.max(0, Math.min(offset, total - rows))
}

/** Fixed line counts of the chrome around the panes. */
export const HEADER_LINES = 3
export const FOOTER_LINES = 1
/** Title line and column header line of the run list. */
export const LIST_CHROME_LINES = 2

/** What the layout depends on. */
export interface LayoutInput {
  readonly height: number
  readonly detailOpen: boolean
  /** Lines taken by the new-run input or the filter line, if shown. */
  readonly extraLines: number
}

/** Heights (in lines) of each pane; 0 hides it. `listRows` counts run rows only. */
export interface Layout {
  readonly listRows: number
  readonly detailLines: number
  readonly logLines: number
}

/**
 * Shares the height between list, detail and log. One line is left unused at the bottom: Ink
 * clears the whole screen on every frame whose output is as tall as the terminal, which flickers.
 * The log pane gives way first on short terminals, then the detail pane shrinks; the list always
 * keeps at least one row.
 */
export const computeLayout = ({ detailOpen, extraLines, height }: LayoutInput): Layout => {
  const body = Math.max(0, height - 1 - HEADER_LINES - FOOTER_LINES - extraLines)
  const logLines = body >= 16 ? Math.min(10, Math.max(4, Math.floor(body * 0.25))) : 0
  const rest = body - logLines
  const detailLines = detailOpen ? Math.max(0, Math.min(rest - LIST_CHROME_LINES - 1, Math.max(5, Math.floor(rest * 0.55)))) : 0
  const listRows = Math.max(1, rest - detailLines - LIST_CHROME_LINES)
  return { listRows, detailLines, logLines }
}

/** A table column: fixed width, or the one flexible column that takes the leftover width. */
export interface ColumnSpec<K extends string> {
  readonly key: K
  readonly title: string
  /** Width in cells; for the flexible column, the least it may shrink to. */
  readonly width: number
  /** Lower is more important: when the terminal is narrow, the highest numbers are dropped first. */
  readonly priority: number
  readonly align?: "left" | "right"
  readonly flex?: boolean
}

/** A column as laid out: its spec and final width. */
export interface PlacedColumn<K extends string> {
  readonly spec: ColumnSpec<K>
  readonly width: number
}

/**
 * Chooses the columns that fit in `width` (separated by one space), most important first, and
 * gives the flexible column whatever is left. Narrow terminals lose columns; rows never wrap.
 * The result keeps the specs' display order.
 */
export const planColumns = <K extends string>(
  specs: ReadonlyArray<ColumnSpec<K>>,
  width: number
): ReadonlyArray<PlacedColumn<K>> => {
  const byPriority = [...specs].sort((a, b) => a.priority - b.priority)
  const chosen = new Set<K>()
  let used = 0
  for (const spec of byPriority) {
    const need = spec.width + (chosen.size === 0 ? 0 : 1)
    if (used + need <= width) {
      chosen.add(spec.key)
      used += need
    }
  }
  const leftover = Math.max(0, width - used)
  return specs
    .filter((spec) => chosen.has(spec.key))
    .map((spec) => ({ spec, width: spec.flex === true ? spec.width + leftover : spec.width }))
}
