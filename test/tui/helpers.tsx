/**
 * Test helpers for the dashboard: states built with the real reducer, a fake source that fails
 * loudly on data a test did not supply, recorded actions, and `renderApp` over ink-testing-library.
 */
import { render } from "ink-testing-library"
import type { EventEmitter } from "node:events"
import type { LogEntry } from "../../src/services/LogTail.js"
import {
  type ErrorInfo,
  LlmCallFinished,
  StepFinished,
  StepStarted,
  type WorkflowEvent,
  WorkflowFinished,
  WorkflowStarted
} from "../../src/services/WorkflowEvents.js"
import { type DashboardState, makeState, reduceAll } from "../../src/state/WorkflowState.js"
import { App, type AppProps } from "../../src/tui/App.js"
import type { DashboardActions, DashboardInfo, DashboardSource } from "../../src/tui/types.js"

/** A fixed "now" for every test: elapsed times are computed against it. */
export const NOW = 1_700_000_100_000
/** Start of the test timeline. */
export const T0 = 1_700_000_000_000

/** Folds events into a fresh state with the real reducer. */
export const stateOf = (...events: ReadonlyArray<WorkflowEvent>): DashboardState => reduceAll(makeState(), events)

/** A run started at `T0 + at` ms. */
export const started = (runId: string, workflow: string, at = 0): WorkflowStarted =>
  new WorkflowStarted({ runId, workflow, input: "x", at: T0 + at })

/** A run that ended. */
export const finished = (
  runId: string,
  workflow: string,
  status: "succeeded" | "failed" | "cancelled",
  at: number,
  extra: { output?: string; error?: ErrorInfo; costUsd?: number; tokens?: number } = {}
): WorkflowFinished =>
  new WorkflowFinished({
    runId,
    workflow,
    status,
    ...(extra.output === undefined ? {} : { output: extra.output }),
    ...(extra.error === undefined ? {} : { error: extra.error }),
    usage: { inputTokens: extra.tokens ?? 0, outputTokens: 0 },
    costUsd: extra.costUsd ?? 0,
    durationMs: at,
    at: T0 + at
  })

/** A step began. */
export const stepStarted = (runId: string, stepId: string, label: string, agent: string, at: number): StepStarted =>
  new StepStarted({ runId, stepId, label, agent, at: T0 + at })

/** A step ended. */
export const stepFinished = (
  runId: string,
  stepId: string,
  label: string,
  at: number,
  extra: {
    status?: "succeeded" | "failed" | "cancelled"
    durationMs?: number
    attempts?: number
    cached?: boolean
    tokens?: number
    costUsd?: number
    error?: ErrorInfo
    output?: string
  } = {}
): StepFinished =>
  new StepFinished({
    runId,
    stepId,
    label,
    status: extra.status ?? "succeeded",
    durationMs: extra.durationMs ?? 1_000,
    cached: extra.cached ?? false,
    attempts: extra.attempts ?? 1,
    calls: 1,
    usage: { inputTokens: extra.tokens ?? 0, outputTokens: 0 },
    costUsd: extra.costUsd ?? 0,
    ...(extra.output === undefined ? {} : { output: extra.output }),
    ...(extra.error === undefined ? {} : { error: extra.error }),
    at: T0 + at
  })

/** An LLM call inside a run's step. */
export const llmCall = (runId: string, stepId: string, at: number, tokens: number, costUsd: number): LlmCallFinished =>
  new LlmCallFinished({
    runId,
    stepId,
    agent: "writer",
    model: "sim-1",
    provider: "simulated",
    cached: false,
    attempt: 1,
    usage: { inputTokens: tokens, outputTokens: 0 },
    costUsd,
    durationMs: 10,
    status: "success",
    at: T0 + at
  })

/** A log entry. */
export const logEntry = (level: LogEntry["level"], message: string, annotations: Record<string, string> = {}): LogEntry => ({
  timestamp: T0,
  level,
  message,
  annotations,
  spans: {}
})

/** A source the test controls: `set` / `log` notify subscribers like the real one. */
export interface FakeSource extends DashboardSource {
  readonly set: (state: DashboardState) => void
  readonly log: (entry: LogEntry) => void
}

/**
 * A fake source. Data the test did not supply throws when the dashboard reads it, so a test
 * cannot pass by rendering defaults it never meant to show.
 */
export const fakeSource = (supplied: { state?: DashboardState; logs?: ReadonlyArray<LogEntry> }): FakeSource => {
  let state = supplied.state
  let logs = supplied.logs
  const listeners = new Set<() => void>()
  const logListeners = new Set<() => void>()
  return {
    getState: () => {
      if (state === undefined) throw new Error("fakeSource: the test did not supply a state")
      return state
    },
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    getLogs: () => {
      if (logs === undefined) throw new Error("fakeSource: the test did not supply logs")
      return logs
    },
    subscribeLogs: (listener) => {
      logListeners.add(listener)
      return () => logListeners.delete(listener)
    },
    set: (next) => {
      state = next
      for (const listener of listeners) listener()
    },
    log: (entry) => {
      logs = [...(logs ?? []), entry]
      for (const listener of logListeners) listener()
    }
  }
}

/** Actions that record their calls. */
export const recordedActions = () => {
  const calls: Array<ReadonlyArray<string>> = []
  const actions: DashboardActions = {
    startRun: (workflow, input) => void calls.push(["startRun", workflow, input]),
    cancelRun: (runId) => void calls.push(["cancelRun", runId]),
    clearFinished: () => void calls.push(["clearFinished"]),
    quit: () => void calls.push(["quit"]),
    interrupt: () => void calls.push(["interrupt"])
  }
  return { actions, calls }
}

/** Dashboard info for tests: three workflows, simulated provider, no colour. */
export const testInfo = (overrides: Partial<DashboardInfo> = {}): DashboardInfo => ({
  provider: "simulated",
  model: "sim-1",
  simulated: true,
  workflows: [
    { name: "code", description: "writes and reviews code" },
    { name: "research", description: "researches a question" },
    { name: "summarize", description: "summarizes a text" }
  ],
  color: false,
  ...overrides
})

/** A rendered dashboard and the handles a test drives it with. */
export interface RenderedApp {
  /** The latest frame ("" before the first). */
  readonly frame: () => string
  readonly frames: ReadonlyArray<string>
  readonly stdin: { readonly write: (data: string) => void }
  /** The fake terminal output; emit `resize` on it after changing `rows`. */
  readonly stdout: EventEmitter
  readonly unmount: () => void
  readonly source: FakeSource
  /** Every action called, in order, as `[name, ...arguments]`. */
  readonly calls: ReadonlyArray<ReadonlyArray<string>>
}

/**
 * Renders the container with a fake source and recorded actions, synchronous frames (`frameMs`
 * 0), a fixed clock and a fixed 100×30 size unless the test says otherwise.
 */
export const renderApp = (
  supplied: { state?: DashboardState; logs?: ReadonlyArray<LogEntry> },
  props: Partial<Omit<AppProps, "source" | "actions" | "height">> & {
    /** undefined: follow the (fake) terminal's rows instead of a fixed height. */
    readonly height?: number | undefined
  } = {}
): RenderedApp => {
  const source = fakeSource(supplied)
  const { actions, calls } = recordedActions()
  const { height, ...rest } = props
  const size = "height" in props ? (height === undefined ? {} : { height }) : { height: 30 }
  const instance = render(
    <App
      source={source}
      actions={actions}
      info={props.info ?? testInfo()}
      frameMs={0}
      clock={() => NOW}
      width={100}
      {...rest}
      {...size}
    />
  )
  return {
    frame: () => instance.lastFrame() ?? "",
    frames: instance.frames,
    stdin: instance.stdin,
    stdout: instance.stdout,
    unmount: instance.unmount,
    source,
    calls
  }
}

/** Waits for Ink to subscribe to input and settle between key presses. */
export const tick = (ms = 15): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Named keys as a terminal sends them. */
export const keys = {
  up: "\u001b[A",
  down: "\u001b[B",
  enter: "\r",
  escape: "\u001b",
  tab: "\t",
  shiftTab: "\u001b[Z",
  backspace: "\u007f",
  ctrlC: "\u0003"
} as const

/** Types each key (or text) with a pause before each, as a person would. */
export const press = async (stdin: { write: (data: string) => void }, ...inputs: ReadonlyArray<string>) => {
  for (const input of inputs) {
    await tick()
    stdin.write(input)
  }
  await tick()
}
