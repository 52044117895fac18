/**
 * Draft — the dashboard state while `WorkflowState.reduceAll` folds a batch of events into it.
 *
 * Why: a batch of events used to build a whole new state per event — a new `HashMap` path to the
 * run, new totals, a new state object — most of it garbage a moment later. A draft copies each
 * part once, on its first change in the batch, changes its copy in place for the rest of the batch
 * and builds the new state once at the end. The running runs' map becomes a transient copy
 * (`HashMap.beginMutation`): its nodes copied in this batch are updated in place, nodes shared with
 * the previous state never are, and `finish` freezes it again. Runs themselves stay immutable: a
 * run updated is a new `RunView`, so a state handed out earlier never changes under its reader.
 */
import { HashMap, type Types } from "effect"
import { type BreakerView, copyRun, copyTotals, type DashboardState, type Limits, type RunView, type Totals } from "./DashboardState.js"

/** The state being folded: every field replaced or changed in place, owned by one `reduceAll`. */
export interface Draft {
  readonly limits: Limits
  /** `state.active` until the first change, then a transient copy. */
  active: HashMap.HashMap<string, RunView>
  activeOwned: boolean
  /** `state.finished` until the first change, then a copy. */
  finished: ReadonlyArray<RunView>
  finishedOwned: Array<RunView> | undefined
  /** Copied on the first change. */
  totals: Totals
  totalsOwned: Types.Mutable<Totals> | undefined
  breakers: Readonly<Record<string, BreakerView>>
  lastEventAt: number
}

/** A draft of `state` that shares everything with it. */
export const draftOf = (state: DashboardState): Draft => ({
  limits: state.limits,
  active: state.active,
  activeOwned: false,
  finished: state.finished,
  finishedOwned: undefined,
  totals: state.totals,
  totalsOwned: undefined,
  breakers: state.breakers,
  lastEventAt: state.lastEventAt
})

/** The totals, to change in place. */
export const totalsOf = (d: Draft): Types.Mutable<Totals> => {
  if (d.totalsOwned === undefined) {
    d.totalsOwned = copyTotals(d.totals)
    d.totals = d.totalsOwned
  }
  return d.totalsOwned
}

const ownActive = (d: Draft): HashMap.HashMap<string, RunView> => {
  if (!d.activeOwned) {
    d.active = HashMap.beginMutation(d.active)
    d.activeOwned = true
  }
  return d.active
}

/** Adds or replaces a running run. */
export const setActive = (d: Draft, run: RunView): void => {
  d.active = HashMap.set(ownActive(d), run.runId, run)
}

/** Removes a running run. */
export const removeActive = (d: Draft, runId: string): void => {
  d.active = HashMap.remove(ownActive(d), runId)
}

/** Replaces the running run `runId` by a copy of it changed by `f`; nothing when there is no such run. */
export const updateActive = (d: Draft, runId: string | undefined, f: (run: Types.Mutable<RunView>) => void): void => {
  if (runId === undefined || !HashMap.has(d.active, runId)) return
  d.active = HashMap.modify(ownActive(d), runId, (run) => {
    const next = copyRun(run)
    f(next)
    return next
  })
}

/** Puts a finished run first, keeping at most `maxFinished`. */
export const addFinished = (d: Draft, run: RunView): void => {
  if (d.finishedOwned === undefined) {
    d.finishedOwned = [run, ...d.finished]
    d.finished = d.finishedOwned
  } else {
    d.finishedOwned.unshift(run)
  }
  if (d.finishedOwned.length > d.limits.maxFinished) d.finishedOwned.length = d.limits.maxFinished
}

/** The state the draft describes: `state` itself when nothing changed, its unchanged parts shared. */
export const finish = (state: DashboardState, d: Draft): DashboardState => {
  if (d.activeOwned) d.active = HashMap.endMutation(d.active)
  if (
    !d.activeOwned && d.finishedOwned === undefined && d.totalsOwned === undefined && d.breakers === state.breakers &&
    d.lastEventAt === state.lastEventAt
  ) return state
  return {
    active: d.active,
    finished: d.finished,
    totals: d.totals,
    breakers: d.breakers,
    lastEventAt: d.lastEventAt,
    limiterWaiting: state.limiterWaiting,
    limits: state.limits
  }
}
