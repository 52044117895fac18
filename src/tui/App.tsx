/**
 * App — the dashboard's one container: subscribes to the source, throttles frames, owns the UI
 * state and the keyboard, and hands plain props to the display components.
 *
 * Why a throttle here and not in the source: a batch of 1,000 runs publishes thousands of events a
 * second and the source notifies on each. The container only marks itself dirty on a notification
 * and takes one snapshot per frame interval (66 ms, ≤ 15 fps), so render cost follows the frame
 * rate, not the event rate. Tests pass `frameMs={0}` to render synchronously on every change.
 *
 * Key presses are resolved to commands through the keymap and applied by the pure `handleKey`,
 * which returns the next UI state and, at most, one intent for `DashboardActions`.
 */
import { Box, type Key, useApp, useInput, useStdout } from "ink"
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react"
import type { LogEntry } from "../services/LogTail.js"
import type { DashboardState, RunView } from "../state/WorkflowState.js"
import { FilterLine } from "./FilterLine.js"
import { Footer } from "./Footer.js"
import { Header } from "./Header.js"
import { HelpOverlay } from "./HelpOverlay.js"
import { type Command, type Keymap, keymap as defaultKeymap, resolveCommand } from "./keymap.js"
import type { Mode } from "./keymap.js"
import { LogPane } from "./LogPane.js"
import { NEW_RUN_LINES, NewRunInput } from "./NewRunInput.js"
import { RunDetail } from "./RunDetail.js"
import { RunList, shortId } from "./RunList.js"
import type { DashboardActions, DashboardInfo, DashboardSource, WorkflowInfo } from "./types.js"
import {
  clamp,
  computeLayout,
  filterRuns,
  FOOTER_LINES,
  HEADER_LINES,
  listRuns,
  scrollOffset
} from "./view.js"

/** Default frame interval: 66 ms, i.e. at most 15 frames a second. */
export const DEFAULT_FRAME_MS = 66

/** How often the clock advances the spinners and elapsed times while runs are running. */
const CLOCK_TICK_MS = 125

// ---------------------------------------------------------------------------------------------
// UI state and key handling (pure)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------------------------

/** One frame's data: the state and logs as of `now`. */
export interface Snapshot {
  readonly state: DashboardState
  readonly logs: ReadonlyArray<LogEntry>
  readonly now: number
}

/**
 * Subscribes to the source and returns a snapshot refreshed at most once per `frameMs` (and
 * every `CLOCK_TICK_MS` while runs are running, so spinners and elapsed times move). Reports each
 * frame's time from snapshot to committed output through `onFrame`.
 */
const useThrottledSnapshot = (
  source: DashboardSource,
  frameMs: number,
  clock: () => number,
  onFrame: ((ms: number) => void) | undefined
): Snapshot => {
  const [snapshot, setSnapshot] = useState<Snapshot>(() => ({
    state: source.getState(),
    logs: source.getLogs(),
    now: clock()
  }))
  const frameStart = useRef<number | undefined>(undefined)
  // Held in a ref so an inline `clock` prop does not resubscribe on every render.
  const clockRef = useRef(clock)
  clockRef.current = clock

  useEffect(() => {
    let dirty = false
    let lastFlush = clockRef.current()
    const flush = () => {
      dirty = false
      const now = clockRef.current()
      lastFlush = now
      const state = source.getState()
      const logs = source.getLogs()
      frameStart.current = performance.now()
      setSnapshot((previous) =>
        previous.state === state && previous.logs === logs && previous.now === now ? previous : { state, logs, now }
      )
    }
    const onChange = frameMs <= 0 ? flush : () => {
      dirty = true
    }
    const unsubscribe = source.subscribe(onChange)
    const unsubscribeLogs = source.subscribeLogs(onChange)
    // Anything that changed between the first render and these subscriptions.
    flush()
    const timer = frameMs <= 0 ? undefined : setInterval(() => {
      if (dirty) flush()
      else if (clockRef.current() - lastFlush >= CLOCK_TICK_MS && source.getState().totals.running > 0) flush()
    }, frameMs)
    return () => {
      unsubscribe()
      unsubscribeLogs()
      if (timer !== undefined) clearInterval(timer)
    }
  }, [source, frameMs])

  // Layout effects run after Ink has laid out and written the committed frame.
  useLayoutEffect(() => {
    const start = frameStart.current
    if (start !== undefined && onFrame !== undefined) onFrame(performance.now() - start)
    frameStart.current = undefined
  }, [snapshot, onFrame])

  return snapshot
}

/** The terminal size, following `resize`; explicit overrides win (tests, fixed-size renders). */
const useTerminalSize = (width: number | undefined, height: number | undefined) => {
  const { stdout } = useStdout()
  const read = () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 })
  const [size, setSize] = useState(read)
  useEffect(() => {
    const onResize = () => setSize(read())
    stdout.on("resize", onResize)
    return () => {
      stdout.off("resize", onResize)
    }
  }, [stdout])
  return { width: width ?? size.columns, height: height ?? size.rows }
}

// ---------------------------------------------------------------------------------------------
// The container
// ---------------------------------------------------------------------------------------------

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

const resolveSelection = (runs: ReadonlyArray<RunView>, ui: UiState): number => {
  if (runs.length === 0) return -1
  if (ui.selectedId !== undefined) {
    const index = runs.findIndex((run) => run.runId === ui.selectedId)
    if (index >= 0) return index
  }
  return clamp(ui.selectedIndex, 0, runs.length - 1)
}

/** The dashboard. */
export const App = (props: AppProps) => {
  const { actions, info, source } = props
  const frameMs = props.frameMs ?? DEFAULT_FRAME_MS
  const clock = props.clock ?? Date.now
  const keys = props.keymap ?? defaultKeymap
  const snapshot = useThrottledSnapshot(source, frameMs, clock, props.onFrame)
  const { height, width } = useTerminalSize(props.width, props.height)
  const { exit } = useApp()

  const [ui, setUi] = useState<UiState>(initialUiState)
  // Key presses can arrive faster than React re-renders; they chain on the latest state, not the
  // state of the last render.
  const uiRef = useRef(ui)

  const allRuns = useMemo(() => listRuns(snapshot.state), [snapshot.state])
  const runs = useMemo(() => filterRuns(allRuns, ui.filter), [allRuns, ui.filter])
  const selectedIndex = resolveSelection(runs, ui)
  const showFilterLine = ui.mode === "filter" || ui.filter !== ""
  const extraLines = (ui.mode === "newRun" ? NEW_RUN_LINES : 0) + (showFilterLine ? 1 : 0)
  const layout = computeLayout({ height, detailOpen: ui.detailOpen, extraLines })
  const offsetRef = useRef(0)
  const offset = scrollOffset(offsetRef.current, Math.max(0, selectedIndex), layout.listRows, runs.length)
  offsetRef.current = offset

  const view = useRef<KeyContext>({ runs, selectedIndex, pageRows: layout.listRows, workflows: info.workflows })
  view.current = { runs, selectedIndex, pageRows: layout.listRows, workflows: info.workflows }

  const onInput = useCallback((input: string, key: Key) => {
    const current = uiRef.current
    const command = resolveCommand(keys, current.mode, input, key)
    const outcome = handleKey(current, command, input, key, view.current)
    if (outcome.ui !== current) {
      uiRef.current = outcome.ui
      setUi(outcome.ui)
    }
    const intent = outcome.intent
    if (intent === undefined) return
    switch (intent._tag) {
      case "StartRun":
        return actions.startRun(intent.workflow, intent.input)
      case "CancelRun":
        return actions.cancelRun(intent.runId)
      case "ClearFinished":
        return actions.clearFinished()
      case "Quit":
        actions.quit()
        return exit()
      case "Interrupt":
        actions.interrupt()
        return exit()
    }
  }, [keys, actions, exit])
  useInput(onInput)

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
