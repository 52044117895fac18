/**
 * App — the dashboard's one container: joins the throttled snapshot of the source
 * (`useThrottledSnapshot`), the keyboard and UI state (`useDashboardKeys`, applying the pure
 * `handleKey`) and the terminal size, works out the listed runs, the selection and the layout, and
 * hands plain props to `Screen`.
 */
import { useMemo, useRef } from "react"
import { keymap as defaultKeymap, type Keymap } from "./keymap.js"
import { inputChrome, Screen } from "./Screen.js"
import type { DashboardActions, DashboardInfo, DashboardSource } from "./types.js"
import { resolveSelection } from "./uiState.js"
import { useDashboardKeys } from "./useDashboardKeys.js"
import { useTerminalSize } from "./useTerminalSize.js"
import { DEFAULT_FRAME_MS, useThrottledSnapshot } from "./useThrottledSnapshot.js"
import { computeLayout, filterRuns, listRuns, scrollOffset } from "./view.js"

export { handleKey } from "./handleKey.js"
export { type Intent, initialUiState, type KeyContext, type KeyOutcome, type UiState } from "./uiState.js"
export { DEFAULT_FRAME_MS, type Snapshot } from "./useThrottledSnapshot.js"

/** Props of `App`. */
export interface AppProps {
  readonly source: DashboardSource
  readonly actions: DashboardActions
  readonly info: DashboardInfo
  /** Minimum time between frames; default 66 ms (≤ 15 fps). 0 renders on every change (tests). */
  readonly frameMs?: number
  /** Wall clock for elapsed times and spinners; default `Date.now`. */
  readonly clock?: () => number
  /** Fixed size instead of the terminal's (tests, benchmarks). */
  readonly width?: number
  readonly height?: number
  readonly keymap?: Keymap
  /** Called after each data frame with the milliseconds from snapshot to written output. */
  readonly onFrame?: (ms: number) => void
}

/** The dashboard. */
export const App = (props: AppProps) => {
  const { actions, info, source } = props
  const frameMs = props.frameMs ?? DEFAULT_FRAME_MS
  const clock = props.clock ?? Date.now
  const keys = props.keymap ?? defaultKeymap
  const snapshot = useThrottledSnapshot(source, frameMs, clock, props.onFrame)
  const { height, width } = useTerminalSize(props.width, props.height)
  const { context, ui } = useDashboardKeys(keys, actions)

  const allRuns = useMemo(() => listRuns(snapshot.state), [snapshot.state])
  const runs = useMemo(() => filterRuns(allRuns, ui.filter), [allRuns, ui.filter])
  const selectedIndex = resolveSelection(runs, ui)
  const layout = computeLayout({ height, detailOpen: ui.detailOpen, extraLines: inputChrome(ui).extraLines })
  const offsetRef = useRef(0)
  const offset = scrollOffset(offsetRef.current, Math.max(0, selectedIndex), layout.listRows, runs.length)
  offsetRef.current = offset
  // The next key press acts on what this render shows.
  context.current = { runs, selectedIndex, pageRows: layout.listRows, workflows: info.workflows }

  return (
    <Screen
      ui={ui}
      info={info}
      keys={keys}
      snapshot={snapshot}
      allRuns={allRuns}
      runs={runs}
      selectedIndex={selectedIndex}
      offset={offset}
      layout={layout}
      width={width}
      height={height}
    />
  )
}
