/**
 * App — the dashboard's one container: joins the throttled snapshot of the source
 * (`useThrottledSnapshot`), the keyboard and UI state (`useDashboardKeys`, applying the pure
 * `handleKey`) and the terminal size, works out the listed runs, the selection and the layout,
 * builds the frame's lines (`screenModel.ts`, keeping last frame's where equal) and hands plain
 * props to `Screen`.
 */
import { useLayoutEffect, useMemo, useRef, useState } from "react"
import { keymap as defaultKeymap, type Keymap } from "./keymap.js"
import { inputChrome, Screen } from "./Screen.js"
import { buildScreenModel, type ScreenModel, shareModel } from "./screenModel.js"
import type { DashboardActions, DashboardInfo, DashboardSource } from "./types.js"
import { resolveSelection } from "./uiState.js"
import { useDashboardKeys } from "./useDashboardKeys.js"
import { useTerminalSize } from "./useTerminalSize.js"
import { DEFAULT_FRAME_MS, useThrottledSnapshot } from "./useThrottledSnapshot.js"
import { computeLayout, filterRuns, makeRunLister, scrollOffset } from "./view.js"

export { handleKey } from "./handleKey.js"
export { type Intent, initialUiState, type KeyContext, type KeyOutcome, type UiState } from "./uiState.js"
export { DEFAULT_FRAME_MS, type Snapshot } from "./useThrottledSnapshot.js"

/** Props of `App`. */
export interface AppProps {
  readonly source: DashboardSource
  readonly actions: DashboardActions
  readonly info: DashboardInfo
  /** Minimum time between frames; default `DEFAULT_FRAME_MS` (≤ 10 fps). 0 renders on every change (tests). */
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
  const { actions, info, onFrame, source } = props
  const frameMs = props.frameMs ?? DEFAULT_FRAME_MS
  const clock = props.clock ?? Date.now
  const keys = props.keymap ?? defaultKeymap
  const snapshot = useThrottledSnapshot(source, frameMs, clock)
  const { height, width } = useTerminalSize(props.width, props.height)
  const { context, ui } = useDashboardKeys(keys, actions)

  const [listRuns] = useState(makeRunLister)
  const allRuns = listRuns(snapshot.state)
  const runs = useMemo(() => filterRuns(allRuns, ui.filter), [allRuns, ui.filter])
  const selectedIndex = resolveSelection(runs, ui)
  const layout = computeLayout({ height, detailOpen: ui.detailOpen, extraLines: inputChrome(ui).extraLines })
  const offsetRef = useRef(0)
  const offset = scrollOffset(offsetRef.current, Math.max(0, selectedIndex), layout.listRows, runs.length)
  offsetRef.current = offset
  // The next key press acts on what this render shows.
  context.current = { runs, selectedIndex, pageRows: layout.listRows, workflows: info.workflows }

  const modelRef = useRef<ScreenModel | undefined>(undefined)
  const model = shareModel(
    modelRef.current,
    buildScreenModel({
      snapshot,
      info,
      runs,
      unfilteredCount: allRuns.length,
      selectedIndex,
      offset,
      filter: ui.filter,
      layout,
      width,
      help: ui.mode === "help"
    })
  )
  modelRef.current = model
  // Runs after Ink has laid out and written the frame; a snapshot that changed nothing on screen
  // keeps the model, so it neither renders nor counts as a frame.
  useLayoutEffect(() => {
    onFrame?.(performance.now() - snapshot.takenAt)
  }, [model])

  return (
    <Screen
      ui={ui}
      info={info}
      keys={keys}
      model={model}
      matched={runs.length}
      total={allRuns.length}
      listRows={layout.listRows}
      detailLines={layout.detailLines}
      logLines={layout.logLines}
      width={width}
      height={height}
    />
  )
}
