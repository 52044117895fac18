/**
 * The CLI reports a run as finished only once the history has it: before a finished run's progress
 * line, its `--json` line or its output is printed, the history recorder is flushed. When the store
 * does not take the events in time, the output is printed anyway and one warning on stderr names
 * the runs the history may lack (each run is named once per command).
 */
import { Console, type Duration, Effect } from "effect"
import { HistoryRecorder } from "../services/RunHistory.js"

/** How long a report waits for the history before printing anyway. */
export const FLUSH_TIMEOUT: Duration.DurationInput = "5 seconds"

const MAX_NAMED = 10

/** The warning for runs whose events are not all in the history yet. */
export const missingRunsWarning = (runIds: ReadonlyArray<string>): string => {
  const named = runIds.slice(0, MAX_NAMED).join(", ")
  const more = runIds.length > MAX_NAMED ? ` and ${runIds.length - MAX_NAMED} more` : ""
  return `warning: the run history did not confirm writing ${runIds.length} run(s) in time; ` +
    `they may be missing or incomplete in \`effect-agents history\`: ${named}${more}`
}

/**
 * Makes the flush of one command: waits (at most `FLUSH_TIMEOUT`) until every event published so
 * far is in the history, and warns about runs not written yet that it has not warned about before.
 */
export const makeHistoryFlush: Effect.Effect<Effect.Effect<void>, never, HistoryRecorder> = Effect.map(
  HistoryRecorder,
  (recorder) => {
    const warned = new Set<string>()
    return Effect.flatMap(recorder.flush(FLUSH_TIMEOUT), (pending) => {
      const fresh = pending.filter((id) => !warned.has(id))
      for (const id of fresh) warned.add(id)
      return fresh.length === 0 ? Effect.void : Console.error(missingRunsWarning(fresh))
    })
  }
)
