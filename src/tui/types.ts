/**
 * The TUI's inputs: plain data sources and action functions handed in by the CLI wiring.
 *
 * The dashboard never builds Layers nor runs Effects (`tui/` is handed a runtime and
 * actions). The Effect side owns the state and publishes it through `DashboardSource`; every user
 * intent goes back through `DashboardActions`, whose functions run Effects on the app runtime.
 * Keeping this seam to plain functions is what lets the components be tested with a fake source.
 */
import type { LogEntry } from "../services/LogTail.js"
import type { DashboardState } from "../state/WorkflowState.js"

/**
 * Where the dashboard reads from: the current reduced state and the log tail, each with a change
 * notification. Listeners may be called at any rate (once per event); the container coalesces them
 * into at most one frame per throttle interval, so sources need not batch.
 */
export interface DashboardSource {
  /** The current snapshot. */
  readonly getState: () => DashboardState
  /** Called on every change; returns unsubscribe. */
  readonly subscribe: (listener: () => void) => () => void
  /** The recent log entries, oldest first. */
  readonly getLogs: () => ReadonlyArray<LogEntry>
  /** Called whenever an entry is added; returns unsubscribe. */
  readonly subscribeLogs: (listener: () => void) => () => void
  /**
   * The server a remote dashboard (`dashboard --attach`) follows and how its connection is doing;
   * absent for a local one. Changes are told through `subscribe`.
   */
  readonly getRemote?: () => RemoteView
}

/** A remote dashboard's server and connection, for the header. */
export interface RemoteView {
  /** The server as the user named it (`host:port`). */
  readonly server: string
  readonly connection: "connecting" | "connected" | "reconnecting"
  /** While reconnecting: what happened and when the next attempt is. */
  readonly note: string | undefined
  /** The provider and model the server's LLM calls report, once one has been seen. */
  readonly provider: string | undefined
  readonly model: string | undefined
}

/**
 * What the user can ask for. Each function starts an Effect on the app runtime and returns at
 * once; outcomes come back through the source (a started run appears as a `WorkflowStarted`).
 */
export interface DashboardActions {
  readonly startRun: (workflow: string, input: string) => void
  /** Interrupts the run's fiber; it finishes as `cancelled`. */
  readonly cancelRun: (runId: string) => void
  /** Drops finished runs from the list. */
  readonly clearFinished: () => void
  /** Interrupts running workflows and restores the terminal; the dashboard unmounts right after. */
  readonly quit: () => void
  /**
   * Ctrl-C: like `quit`, but means what SIGINT means (the command exits 130 whatever was left to
   * run); the dashboard unmounts right after.
   */
  readonly interrupt: () => void
}

/** A workflow the new-run input can start. */
export interface WorkflowInfo {
  readonly name: string
  readonly description: string
}

/** Static facts the header and the new-run input show. */
export interface DashboardInfo {
  readonly provider: string
  readonly model: string
  /** True on the simulated provider: the header shows a `SIMULATED` badge. */
  readonly simulated: boolean
  readonly workflows: ReadonlyArray<WorkflowInfo>
  /** False when `NO_COLOR` is set or colours are unwanted: no colour nor style escapes at all. */
  readonly color: boolean
}
