/**
 * The dashboard's panes, top to bottom: header, filter line, run list with its detail and the log
 * (or the help overlay in their place), the new-run input, footer. Display only: the container
 * hands it the frame's data and the UI state.
 */
import { Box } from "ink"
import type { RunView } from "../state/WorkflowState.js"
import { FilterLine } from "./FilterLine.js"
import { Footer } from "./Footer.js"
import { Header } from "./Header.js"
import { HelpOverlay } from "./HelpOverlay.js"
import type { Keymap } from "./keymap.js"
import { LogPane } from "./LogPane.js"
import { NEW_RUN_LINES, NewRunInput } from "./NewRunInput.js"
import { RunDetail } from "./RunDetail.js"
import { RunList } from "./RunList.js"
import type { DashboardInfo } from "./types.js"
import type { UiState } from "./uiState.js"
import { CLOCK_TICK_MS, type Snapshot } from "./useThrottledSnapshot.js"
import { FOOTER_LINES, HEADER_LINES, type Layout } from "./view.js"

/** Whether the filter line shows, and the lines the filter line and new-run input take. */
export const inputChrome = (ui: UiState): { readonly showFilterLine: boolean; readonly extraLines: number } => {
  const showFilterLine = ui.mode === "filter" || ui.filter !== ""
  return { showFilterLine, extraLines: (ui.mode === "newRun" ? NEW_RUN_LINES : 0) + (showFilterLine ? 1 : 0) }
}

/** Props of `Screen`. */
export interface ScreenProps {
  readonly ui: UiState
  readonly info: DashboardInfo
  readonly keys: Keymap
  readonly snapshot: Snapshot
  /** All runs, newest first, and those the filter lets through. */
  readonly allRuns: ReadonlyArray<RunView>
  readonly runs: ReadonlyArray<RunView>
  /** Index of the selected run in `runs`, -1 when empty. */
  readonly selectedIndex: number
  /** First listed row. */
  readonly offset: number
  readonly layout: Layout
  readonly width: number
  readonly height: number
}

/** The dashboard's screen. */
export const Screen = ({ allRuns, height, info, keys, layout, offset, runs, selectedIndex, snapshot, ui, width }: ScreenProps) => {
  const { extraLines, showFilterLine } = inputChrome(ui)
  const color = info.color
  const frame = Math.floor(snapshot.now / CLOCK_TICK_MS)
  const selected = selectedIndex >= 0 ? runs[selectedIndex] : undefined
  const bodyLines = Math.max(1, height - 1 - HEADER_LINES - FOOTER_LINES - extraLines)

  return (
    <Box flexDirection="column" width={width}>
      <Header
        provider={info.provider}
        model={info.model}
        simulated={info.simulated}
        totals={snapshot.state.totals}
        breakers={snapshot.state.breakers}
        limiterWaiting={snapshot.state.limiterWaiting}
        width={width}
        color={color}
      />
      {showFilterLine
        ? (
          <FilterLine
            text={ui.mode === "filter" ? ui.filterDraft : ui.filter}
            editing={ui.mode === "filter"}
            matched={runs.length}
            total={allRuns.length}
            width={width}
            color={color}
          />
        )
        : null}
      {ui.mode === "help"
        ? <HelpOverlay keymap={keys} height={bodyLines} width={width} color={color} />
        : (
          <>
            <RunList
              runs={runs}
              selectedIndex={selectedIndex}
              offset={offset}
              rows={layout.listRows}
              width={width}
              now={snapshot.now}
              frame={frame}
              color={color}
              filter={ui.filter}
              unfilteredCount={allRuns.length}
            />
            {ui.detailOpen
              ? (
                <RunDetail
                  run={selected}
                  height={layout.detailLines}
                  width={width}
                  now={snapshot.now}
                  frame={frame}
                  color={color}
                />
              )
              : null}
            <LogPane logs={snapshot.logs} height={layout.logLines} width={width} color={color} />
          </>
        )}
      {ui.mode === "newRun"
        ? (
          <NewRunInput
            workflows={info.workflows}
            selected={ui.workflowIndex}
            text={ui.inputText}
            width={width}
            color={color}
          />
        )
        : null}
      <Footer keymap={keys} mode={ui.mode} {...(ui.message === undefined ? {} : { message: ui.message })} width={width} color={color} />
    </Box>
  )
}
