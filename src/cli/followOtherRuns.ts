/**
 * Following the runs other processes record in the same run history (a SQLite file or a
 * PostgreSQL database), for the dashboard: what `effect-agents run`, a batch or a user's own
 * program is doing shows up next to the runs of the dashboard's own process, live and read-only.
 *
 * The history is polled (`RunHistory.changedRuns`) every `interval`: the events of another process
 * never reach this one, the rows it writes do. Each poll asks from a little (`overlap`) before the
 * newest change seen, because the times are the writers' clocks and a transaction commits a
 * little after its stamp; what was already handed over unchanged is not handed over again. A
 * failed read is retried at the next poll, with one warning per outage.
 */
import { Clock, Duration, Effect } from "effect"
import { type RunChange, RunHistory } from "../services/RunHistory.js"

/** Tuning of `followOtherRuns`. */
export interface FollowOptions {
  /** Time between two polls (default 1 s). */
  readonly interval?: Duration.DurationInput
  /** How far back the first poll looks: runs changed this long before the start show up (default 10 min). */
  readonly lookback?: Duration.DurationInput
  /** How far before the newest change seen each poll asks again (default 5 s). */
  readonly overlap?: Duration.DurationInput
  /** Runs read per poll at most (default 500); a full page is followed by the next at once. */
  readonly limit?: number
}

/**
 * Polls the history for runs that other processes write and hands every batch of new or changed
 * ones to `onChanges`, oldest change first. Never ends; never fails.
 */
export const followOtherRuns = (
  onChanges: (changes: ReadonlyArray<RunChange>) => void,
  options: FollowOptions = {}
): Effect.Effect<never, never, RunHistory> =>
  Effect.gen(function*() {
    const history = yield* RunHistory
    const interval = Duration.decode(options.interval ?? "1 second")
    const overlapMs = Duration.toMillis(options.overlap ?? "5 seconds")
    const limit = options.limit ?? 500
    let since = (yield* Clock.currentTimeMillis) - Duration.toMillis(options.lookback ?? "10 minutes")
    // What was last handed over for each run still inside the window, to hand over only changes.
    const shown = new Map<string, { readonly updatedAt: number; readonly json: string }>()
    let failing = false

    const poll = Effect.gen(function*() {
      const changes = yield* history.changedRuns({ since, limit, writers: "others" })
      if (failing) yield* Effect.logInfo("Dashboard: reading other processes' runs from the history again")
      failing = false
      const fresh = changes.filter((change) => {
        const json = JSON.stringify(change)
        if (shown.get(change.id)?.json === json) return false
        shown.set(change.id, { updatedAt: change.updatedAt, json })
        return true
      })
      if (fresh.length > 0) onChanges(fresh)
      const newest = changes.at(-1)?.updatedAt
      if (newest === undefined) return false
      const full = changes.length >= limit
      since = full ? newest : Math.max(since, newest - overlapMs)
      for (const [id, entry] of shown) if (entry.updatedAt < since) shown.delete(id)
      return full
    }).pipe(
      Effect.catchAll((error) =>
        Effect.gen(function*() {
          if (!failing) yield* Effect.logWarning(`Dashboard: cannot read other processes' runs: ${error.message}`)
          failing = true
          return false
        })
      )
    )

    return yield* poll.pipe(
      Effect.flatMap((full) => (full ? Effect.void : Effect.sleep(interval))),
      Effect.forever,
      // A poll a second is not worth a trace each when spans are exported.
      Effect.withTracerEnabled(false)
    )
  })
