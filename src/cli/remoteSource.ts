/**
 * What a remote dashboard shows, kept on the client: the server's events folded by the same
 * `WorkflowState.reduceAll` as a local dashboard's, the connection (for the header), and the
 * client's own log lines (connection changes, what the server said to a start or a cancel) for the
 * log pane — there is no local logger, provider or history in attach mode.
 *
 * Items are applied a chunk at a time, so a replay of thousands of events is one fold and one
 * notification.
 *
 * A run whose process died (the server was killed) never gets a `WorkflowFinished` in the event
 * log; the history reads it as `interrupted`. `settleInterrupted` ends such runs on screen as
 * cancelled, as the local dashboard shows other processes' interrupted runs. No event can follow
 * for them, so nothing is counted twice.
 */
import { HashMap, Option } from "effect"
import type { LogEntry, LogLevelLabel } from "../services/LogTail.js"
import type { RunSummary } from "../services/RunHistory.js"
import { type WorkflowEvent, WorkflowFinished } from "../services/WorkflowEvents.js"
import * as WorkflowState from "../state/WorkflowState.js"
import type { DashboardSource, RemoteView } from "../tui/types.js"
import { formatDuration } from "./format.js"
import type { ConnectionStatus, FollowItem } from "./remoteEvents.js"

const LOG_LINES = 200

/** The remote dashboard's data: a `DashboardSource` and the ways to change it. */
export interface RemoteSource {
  readonly source: DashboardSource
  /** Folds followed items in, in order, and tells the listeners once. */
  readonly apply: (items: Iterable<FollowItem>) => void
  /** Adds a line to the log pane. */
  readonly log: (level: LogLevelLabel, message: string) => void
  /** Drops finished runs from the list (the dashboard's `c`). */
  readonly clearFinished: () => void
  /** Whether any run shows as running (only then can one be interrupted unseen). */
  readonly hasRunning: () => boolean
  /** Ends, as cancelled, the runs shown running that the server's history says were interrupted. */
  readonly settleInterrupted: (runs: ReadonlyArray<RunSummary>) => void
}

const died = { tag: "Interrupted", message: "its process ended before it finished" }

/** The `WorkflowFinished` an interrupted run never got, dated by the last thing seen of it. */
const interruptedEnd = (run: WorkflowState.RunView): WorkflowFinished => {
  const at = run.steps.reduce((latest, step) => Math.max(latest, step.startedAt + (step.durationMs ?? 0)), run.startedAt)
  return new WorkflowFinished({
    runId: run.runId,
    workflow: run.workflow,
    status: "cancelled",
    error: died,
    usage: run.usage,
    costUsd: run.costUsd,
    durationMs: at - run.startedAt,
    at
  })
}

/** The log line of a connection change. */
export const statusLine = (server: string, status: ConnectionStatus, resumeAfter: number | undefined): string => {
  switch (status.state) {
    case "connecting":
      return `connecting to ${server}`
    case "connected":
      return resumeAfter === undefined ? `connected to ${server}` : `connected to ${server}, resuming after event ${resumeAfter}`
    case "reconnecting":
      return `connection to ${server} lost (${status.reason ?? "closed"}); attempt ${status.attempt} in ${formatDuration(status.retryInMs)}`
  }
}

/** The header's note while reconnecting. */
const noteOf = (status: ConnectionStatus): string | undefined =>
  status.state === "reconnecting"
    ? `(attempt ${status.attempt}, next in ${formatDuration(status.retryInMs)}${status.reason === undefined ? "" : `: ${status.reason}`})`
    : undefined

/** A source for `server` (`host:port`, as the header shows it), empty and connecting. */
export const make = (server: string, clock: () => number = Date.now): RemoteSource => {
  let state = WorkflowState.initialState
  let remote: RemoteView = { server, connection: "connecting", note: undefined, provider: undefined, model: undefined }
  let logs: ReadonlyArray<LogEntry> = []
  let lastSeq: number | undefined
  const listeners = new Set<() => void>()
  const logListeners = new Set<() => void>()
  const notify = (set: ReadonlySet<() => void>) => {
    for (const listener of set) listener()
  }

  const log = (level: LogLevelLabel, message: string) => {
    const entry: LogEntry = { timestamp: clock(), level, message, annotations: {}, spans: {} }
    logs = logs.length >= LOG_LINES ? [...logs.slice(logs.length - LOG_LINES + 1), entry] : [...logs, entry]
    notify(logListeners)
  }

  const apply = (items: Iterable<FollowItem>) => {
    const events: Array<WorkflowEvent> = []
    let next = remote
    for (const item of items) {
      switch (item._tag) {
        case "Event": {
          events.push(item.event)
          lastSeq = item.seq
          const event = item.event
          if ((event._tag === "LlmCallStarted" || event._tag === "LlmCallFinished") && (event.provider !== next.provider || event.model !== next.model)) {
            next = { ...next, provider: event.provider, model: event.model }
          }
          break
        }
        case "Status":
          next = { ...next, connection: item.status.state, note: noteOf(item.status) }
          log(item.status.state === "reconnecting" ? "WARNING" : "INFO", statusLine(server, item.status, lastSeq))
          break
        case "Notice":
          log("WARNING", item.message)
          break
      }
    }
    const folded = events.length === 0 ? state : WorkflowState.reduceAll(state, events)
    if (folded === state && next === remote) return
    state = folded
    remote = next
    notify(listeners)
  }

  const source: DashboardSource = {
    getState: () => state,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    getLogs: () => logs,
    subscribeLogs: (listener) => {
      logListeners.add(listener)
      return () => logListeners.delete(listener)
    },
    getRemote: () => remote
  }

  const settleInterrupted = (runs: ReadonlyArray<RunSummary>) => {
    const ends = runs.flatMap((summary) => {
      const run = summary.status === "interrupted" ? HashMap.get(state.active, summary.id) : Option.none()
      return Option.isSome(run) ? [interruptedEnd(run.value)] : []
    })
    if (ends.length === 0) return
    state = WorkflowState.reduceAll(state, ends)
    log("WARNING", `${ends.length} run(s) ended without finishing: the process running them stopped`)
    notify(listeners)
  }

  return {
    source,
    apply,
    log,
    hasRunning: () => state.totals.running > 0,
    settleInterrupted,
    clearFinished: () => {
      const cleared = WorkflowState.clearFinished(state)
      if (cleared === state) return
      state = cleared
      notify(listeners)
    }
  }
}
