/**
 * The throttled subscription to the dashboard source.
 *
 * Why a throttle here and not in the source: a batch of 1,000 runs publishes thousands of events a
 * second and the source notifies on each. The hook only notes a notification and takes one
 * snapshot per frame interval (100 ms, ≤ 10 fps), so render cost follows the frame rate, not the
 * event rate. Whatever changed, Ink lays out and writes the whole screen for a frame (on 160×50,
 * most of a frame's cost), so the rate is what bounds the dashboard's CPU under a stream of events;
 * 10 fps still shows every tenth of a second of the elapsed times. Nothing is scheduled while
 * nothing changes and nothing runs. Tests pass `frameMs={0}` to render synchronously on every change.
 */
import { useEffect, useRef, useState } from "react"
import type { LogEntry } from "../services/LogTail.js"
import type { DashboardState } from "../state/WorkflowState.js"
import type { DashboardSource, RemoteView } from "./types.js"

/** Default frame interval: 100 ms, i.e. at most 10 frames a second. */
export const DEFAULT_FRAME_MS = 100

/** How often the clock advances the spinners and elapsed times while runs are running. */
export const CLOCK_TICK_MS = 125

/** One frame's data: the state and logs as of `now`. */
export interface Snapshot {
  readonly state: DashboardState
  readonly logs: ReadonlyArray<LogEntry>
  /** A remote dashboard's connection (`undefined` for a local one). */
  readonly remote: RemoteView | undefined
  readonly now: number
  /** `performance.now()` when it was taken, to time the frame it makes. */
  readonly takenAt: number
}

/**
 * Subscribes to the source and returns a snapshot refreshed at most once per `frameMs` (and
 * every `CLOCK_TICK_MS` while runs are running, so spinners and elapsed times move).
 */
export const useThrottledSnapshot = (source: DashboardSource, frameMs: number, clock: () => number): Snapshot => {
  const [snapshot, setSnapshot] = useState<Snapshot>(() => ({
    state: source.getState(),
    logs: source.getLogs(),
    remote: source.getRemote?.(),
    now: clock(),
    takenAt: performance.now()
  }))
  // Held in a ref so an inline `clock` prop does not resubscribe on every render.
  const clockRef = useRef(clock)
  clockRef.current = clock

  useEffect(() => {
    let changed = false
    let lastFlush = performance.now()
    let timer: ReturnType<typeof setTimeout> | undefined
    let timerDue = 0
    const flush = () => {
      timer = undefined
      changed = false
      lastFlush = performance.now()
      const now = clockRef.current()
      const state = source.getState()
      const logs = source.getLogs()
      const remote = source.getRemote?.()
      setSnapshot((previous) =>
        previous.state === state && previous.logs === logs && previous.remote === remote && previous.now === now
          ? previous
          : { state, logs, remote, now, takenAt: performance.now() }
      )
      // Spinners and elapsed times move while something runs, changed or not.
      if (frameMs > 0 && state.totals.running > 0) scheduleAt(lastFlush + CLOCK_TICK_MS)
    }
    /** Flushes at `at` (performance.now() time) or later, keeping an earlier pending flush. */
    const scheduleAt = (at: number) => {
      const due = Math.max(at, lastFlush + frameMs)
      if (timer !== undefined) {
        if (timerDue <= due) return
        clearTimeout(timer)
      }
      timerDue = due
      timer = setTimeout(flush, Math.max(0, due - performance.now()))
    }
    const onChange = frameMs <= 0 ? flush : () => {
      if (changed) return
      changed = true
      scheduleAt(0)
    }
    const unsubscribe = source.subscribe(onChange)
    const unsubscribeLogs = source.subscribeLogs(onChange)
    // Anything that changed between the first render and these subscriptions.
    flush()
    return () => {
      unsubscribe()
      unsubscribeLogs()
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [source, frameMs])

  return snapshot
}
