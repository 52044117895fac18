/**
 * The dashboard's UI state: what the container remembers between frames apart from the source's
 * data, the intents a key press can hand to `DashboardActions`, and which run is selected.
 */
import type { RunView } from "../state/WorkflowState.js"
import type { Mode } from "./keymap.js"
import type { WorkflowInfo } from "./types.js"
import { clamp } from "./view.js"

/** What the container remembers between frames, apart from the source's data. */
export interface UiState {
  readonly mode: Mode
  /** The selected run; undefined follows the newest run (the top of the list). */
  readonly selectedId: string | undefined
  /** Where the selection was, used when the selected run disappears (cleared or filtered out). */
  readonly selectedIndex: number
  readonly detailOpen: boolean
  /** The applied filter ("" = none). */
  readonly filter: string
  /** The filter being typed. */
  readonly filterDraft: string
  /** The workflow chosen in the new-run input. */
  readonly workflowIndex: number
  /** The text typed in the new-run input. */
  readonly inputText: string
  /** A one-line notice in the footer. */
  readonly message: string | undefined
}

/** The UI state at start: list mode, following the newest run, nothing open. */
export const initialUiState: UiState = {
  mode: "list",
  selectedId: undefined,
  selectedIndex: 0,
  detailOpen: false,
  filter: "",
  filterDraft: "",
  workflowIndex: 0,
  inputText: "",
  message: undefined
}

/** Something the user asked the Effect side to do. */
export type Intent =
  | { readonly _tag: "StartRun"; readonly workflow: string; readonly input: string }
  | { readonly _tag: "CancelRun"; readonly runId: string }
  | { readonly _tag: "ClearFinished" }
  | { readonly _tag: "Quit" }
  | { readonly _tag: "Interrupt" }

/** What `handleKey` needs to know about the screen. */
export interface KeyContext {
  /** The listed (filtered) runs, newest first. */
  readonly runs: ReadonlyArray<RunView>
  /** Index of the selected run in `runs`, -1 when the list is empty. */
  readonly selectedIndex: number
  /** Rows of the list, for page up / down. */
  readonly pageRows: number
  readonly workflows: ReadonlyArray<WorkflowInfo>
}

/** The result of a key press: the next UI state and an optional intent. */
export interface KeyOutcome {
  readonly ui: UiState
  readonly intent?: Intent
}

/** Index of the selected run in `runs`: the remembered id, else the remembered position; -1 if empty. */
export const resolveSelection = (runs: ReadonlyArray<RunView>, ui: UiState): number => {
  if (runs.length === 0) return -1
  if (ui.selectedId !== undefined) {
    const index = runs.findIndex((run) => run.runId === ui.selectedId)
    if (index >= 0) return index
  }
  return clamp(ui.selectedIndex, 0, runs.length - 1)
}
