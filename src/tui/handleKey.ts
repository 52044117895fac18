/**
 * Key handling as a pure state transition: a key press, already resolved to a command through the
 * keymap, gives the next UI state and, at most, one intent for `DashboardActions`.
 */
import type { Key } from "ink"
import type { Command } from "./keymap.js"
import { shortId } from "./RunList.js"
import type { KeyContext, KeyOutcome, UiState } from "./uiState.js"
import { clamp } from "./view.js"

// Typed text never contains control characters (a pasted newline must not submit).
const printable = (input: string, key: Key): string =>
  key.ctrl || key.meta ? "" : input.replace(/[\u0000-\u001f\u007f]/g, "")

const dropLastChar = (text: string): string => Array.from(text).slice(0, -1).join("")

const selectAt = (ui: UiState, ctx: KeyContext, index: number): UiState => {
  if (ctx.runs.length === 0) return ui
  const i = clamp(index, 0, ctx.runs.length - 1)
  return { ...ui, selectedId: ctx.runs[i]!.runId, selectedIndex: i, message: undefined }
}

const listKey = (ui: UiState, command: Command | undefined, ctx: KeyContext): KeyOutcome => {
  switch (command) {
    case "up":
      return { ui: selectAt(ui, ctx, ctx.selectedIndex - 1) }
    case "down":
      return { ui: selectAt(ui, ctx, ctx.selectedIndex + 1) }
    case "pageUp":
      return { ui: selectAt(ui, ctx, ctx.selectedIndex - Math.max(1, ctx.pageRows)) }
    case "pageDown":
      return { ui: selectAt(ui, ctx, ctx.selectedIndex + Math.max(1, ctx.pageRows)) }
    case "top":
      // Back to following the newest run as new ones arrive.
      return { ui: { ...ui, selectedId: undefined, selectedIndex: 0, message: undefined } }
    case "bottom":
      return { ui: selectAt(ui, ctx, ctx.runs.length - 1) }
    case "toggleDetail":
      return { ui: { ...ui, detailOpen: !ui.detailOpen } }
    case "newRun":
      return ctx.workflows.length === 0
        ? { ui: { ...ui, message: "no workflows available" } }
        : {
          ui: {
            ...ui,
            mode: "newRun",
            inputText: "",
            workflowIndex: clamp(ui.workflowIndex, 0, ctx.workflows.length - 1),
            message: undefined
          }
        }
    case "cancelRun": {
      const run = ctx.runs[ctx.selectedIndex]
      if (run === undefined) return { ui: { ...ui, message: "no run selected" } }
      if (run.status !== "running") {
        return { ui: { ...ui, message: `run ${shortId(run.runId)} already ${run.status}` } }
      }
      return {
        ui: { ...ui, message: `cancelling ${shortId(run.runId)}…` },
        intent: { _tag: "CancelRun", runId: run.runId }
      }
    }
    case "clearFinished":
      return { ui: { ...ui, message: "cleared finished runs" }, intent: { _tag: "ClearFinished" } }
    case "filter":
      return { ui: { ...ui, mode: "filter", filterDraft: ui.filter, message: undefined } }
    case "dismiss":
      if (ui.detailOpen) return { ui: { ...ui, detailOpen: false } }
      if (ui.filter !== "") return { ui: { ...ui, filter: "", filterDraft: "" } }
      return { ui: ui.message === undefined ? ui : { ...ui, message: undefined } }
    case "help":
      return { ui: { ...ui, mode: "help" } }
    case "quit":
      return { ui, intent: { _tag: "Quit" } }
    default:
      return { ui }
  }
}

const newRunKey = (ui: UiState, command: Command | undefined, text: string, ctx: KeyContext): KeyOutcome => {
  const count = ctx.workflows.length
  switch (command) {
    case "nextWorkflow":
      return { ui: { ...ui, workflowIndex: count === 0 ? 0 : (ui.workflowIndex + 1) % count } }
    case "previousWorkflow":
      return { ui: { ...ui, workflowIndex: count === 0 ? 0 : (ui.workflowIndex - 1 + count) % count } }
    case "submit": {
      const workflow = ctx.workflows[ui.workflowIndex]
      if (workflow === undefined) return { ui: { ...ui, mode: "list", message: "no workflows available" } }
      const input = ui.inputText.trim()
      if (input === "") return { ui: { ...ui, message: `type the input for ${workflow.name} first` } }
      return {
        ui: { ...ui, mode: "list", inputText: "", message: `starting ${workflow.name}…` },
        intent: { _tag: "StartRun", workflow: workflow.name, input }
      }
    }
    case "dismiss":
      return { ui: { ...ui, mode: "list", inputText: "", message: undefined } }
    case "deleteBackward":
      return { ui: { ...ui, inputText: dropLastChar(ui.inputText) } }
    case "quit":
      return { ui, intent: { _tag: "Quit" } }
    default:
      return text === "" ? { ui } : { ui: { ...ui, inputText: ui.inputText + text, message: undefined } }
  }
}

const filterKey = (ui: UiState, command: Command | undefined, text: string): KeyOutcome => {
  switch (command) {
    case "submit":
      return { ui: { ...ui, mode: "list", filter: ui.filterDraft.trim(), filterDraft: ui.filterDraft.trim() } }
    case "dismiss":
      return { ui: { ...ui, mode: "list", filter: "", filterDraft: "" } }
    case "deleteBackward":
      return { ui: { ...ui, filterDraft: dropLastChar(ui.filterDraft) } }
    case "quit":
      return { ui, intent: { _tag: "Quit" } }
    default:
      return text === "" ? { ui } : { ui: { ...ui, filterDraft: ui.filterDraft + text } }
  }
}

/**
 * Applies one key press (already resolved to a command, or undefined for other keys) to the UI
 * state. Pure: side effects come back as an intent for the container to hand to the actions.
 */
export const handleKey = (
  ui: UiState,
  command: Command | undefined,
  input: string,
  key: Key,
  ctx: KeyContext
): KeyOutcome => {
  if (command === "interrupt") return { ui, intent: { _tag: "Interrupt" } }
  switch (ui.mode) {
    case "list":
      return listKey(ui, command, ctx)
    case "newRun":
      return newRunKey(ui, command, printable(input, key), ctx)
    case "filter":
      return filterKey(ui, command, printable(input, key))
    case "help":
      if (command === "help" || command === "dismiss") return { ui: { ...ui, mode: "list" } }
      if (command === "quit") return { ui, intent: { _tag: "Quit" } }
      return { ui }
  }
}
