/**
 * The throttled subscription to the dashboard source.
 *
 * Why a throttle here and not in the source: a batch of 1,000 runs publishes thousands of events a
 * second and the source notifies on each. The hook only marks itself dirty on a notification and
 * takes one snapshot per frame interval (66 ms, ≤ 15 fps), so render cost follows the frame rate,
 * not the event rate. Tests pass `frameMs={0}` to render synchronously on every change.
 */
import { useEffect, useLayoutEffect, useRef, useState } from "react"
import type { LogEntry } from "../services/LogTail.js"
import type { DashboardState } from "../state/WorkflowState.js"
import type { DashboardSource } from "./types.js"

/** Default frame interval: 66 ms, i.e. at most 15 frames a second. */
export const DEFAULT_FRAME_MS = 66

/** How often the clock advances the spinners and elapsed times while runs are running. */
export const CLOCK_TICK_MS = 125

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
export const useThrottledSnapshot = (
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
