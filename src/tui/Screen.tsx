/**
 * The dashboard's panes, top to bottom: header, filter line, run list with its detail and the log
 * (or the help overlay in their place), the new-run input, footer. Display only: the container
 * hands it the frame's data and the UI state.
 */
import { Box } from "ink"
import { memo } from "react"
import { FilterLine } from "./FilterLine.js"
import { Footer } from "./Footer.js"
import { HelpOverlay } from "./HelpOverlay.js"
import type { Keymap } from "./keymap.js"
import { Block } from "./Block.js"
import { NEW_RUN_LINES, NewRunInput } from "./NewRunInput.js"
import type { ScreenModel } from "./screenModel.js"
import type { DashboardInfo } from "./types.js"
import type { UiState } from "./uiState.js"
import { FOOTER_LINES, HEADER_LINES, LIST_CHROME_LINES } from "./view.js"

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
  /** The data panes' lines (`screenModel.ts`). */
  readonly model: ScreenModel
  /** Runs the filter lets through, and all runs (for the filter line). */
  readonly matched: number
  readonly total: number
  readonly listRows: number
  readonly detailLines: number
  readonly logLines: number
  readonly width: number
  readonly height: number
}

/**
 * The dashboard's screen. Memoised: every prop is data that keeps its identity while it shows the
 * same thing, so a frame with nothing new renders nothing.
 */
export const Screen = memo((props: ScreenProps) => {
  const { detailLines, height, info, keys, listRows, logLines, model, ui, width } = props
  const { extraLines, showFilterLine } = inputChrome(ui)
  const color = info.color
  const bodyLines = Math.max(1, height - 1 - HEADER_LINES - FOOTER_LINES - extraLines)

  return (
    <Box flexDirection="column" width={width}>
      <Block {...model.header} height={HEADER_LINES} width={width} color={color} />
      {showFilterLine
        ? (
          <FilterLine
            text={ui.mode === "filter" ? ui.filterDraft : ui.filter}
            editing={ui.mode === "filter"}
            matched={props.matched}
            total={props.total}
            width={width}
            color={color}
          />
        )
        : null}
      {ui.mode === "help"
        ? <HelpOverlay keymap={keys} height={bodyLines} width={width} color={color} />
        : (
          <>
            <Block {...model.list} height={listRows + LIST_CHROME_LINES} width={width} color={color} />
            {detailLines > 0 ? <Block {...model.detail} height={detailLines} width={width} color={color} /> : null}
            {logLines > 0 ? <Block {...model.log} height={logLines} width={width} color={color} /> : null}
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
})
