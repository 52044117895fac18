/**
 * An agent call as a durable activity. Inside a run executed by `@effect/workflow` (the durable
 * runs of `serve`), each agent call is an `Activity` whose result the engine persists: when the run
 * is executed again after its process died, a call that had completed returns its stored answer
 * and is not sent to the provider again. Outside the engine the call simply runs.
 *
 * An activity is named by what it asks — the agent, its encoded input and model — and by how many
 * identical calls the run made before it, so the name does not depend on the order in which
 * parallel branches happen to start. The stored result carries the call's usage, cost and attempts,
 * which a replay adds back to the run's and steps' tallies: the resumed run's totals and budget
 * count every call once.
 */
import { createHash } from "node:crypto"
import * as Activity from "@effect/workflow/Activity"
import { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import { Context, Duration, Effect, FiberRef, Option, Schema, Stream } from "effect"
import { HistoryRecorder } from "../services/RunHistory.js"
import * as WorkflowContext from "../services/WorkflowContext.js"

const FLUSH_WAIT = Duration.seconds(10)

const TallySchema = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number,
  calls: Schema.Number,
  cachedCalls: Schema.Number,
  attempts: Schema.Number
})

/** How many calls of each name an execution of a run has made so far (reset on each execution). */
const seen = new WeakMap<WorkflowInstance["Type"], Map<string, number>>()

const occurrence = (instance: WorkflowInstance["Type"], key: string): number => {
  let counts = seen.get(instance)
  if (counts === undefined) {
    counts = new Map()
    seen.set(instance, counts)
  }
  const n = (counts.get(key) ?? 0) + 1
  counts.set(key, n)
  return n
}

const digest = (value: unknown): string =>
  createHash("sha256").update(JSON.stringify(value) ?? "").digest("base64url").slice(0, 22)

/**
 * Waits until the history has this process's events so far — the call's among them — before the
 * engine stores the call's result: a result the engine keeps is never one whose calls the history
 * lost with a killed worker (a replay does not publish them again).
 */
const historyWritten: Effect.Effect<void> = Effect.flatMap(
  Effect.serviceOption(HistoryRecorder),
  (recorder) => Option.isSome(recorder) ? Effect.asVoid(recorder.value.flush(FLUSH_WAIT)) : Effect.void
)

/**
 * Runs `call` (agent `agent` on `encodedInput`) as a persisted activity when the current fiber
 * executes a durable run, else as it is. `output` and `errors` encode its outcome for storage.
 */
export const durably = <O, OI, E, EI, R>(
  agent: string,
  request: { readonly encodedInput: unknown; readonly model: string | undefined },
  output: Schema.Schema<O, OI>,
  errors: Schema.Schema<E, EI>,
  call: Effect.Effect<O, E, R>
): Effect.Effect<O, E, R> =>
  // One look at the fiber's context: outside the engine (the common case) the call runs as it is.
  Effect.withFiberRuntime((fiber) => {
    const instance = Context.getOption(fiber.currentContext, WorkflowInstance)
    const engine = Context.getOption(fiber.currentContext, WorkflowEngine)
    if (Option.isNone(instance) || Option.isNone(engine)) return call
    const key = `${agent}/${digest([request.model ?? null, request.encodedInput])}`
    const name = `agent/${key}/${occurrence(instance.value, key)}`
    const tally = WorkflowContext.makeTally()
    let ran = false
    const activity = Activity.make({
      name,
      success: Schema.Struct({ output, tally: TallySchema }),
      error: errors,
      // Counted in a tally of its own as well, so the stored result knows what the call cost.
      execute: Effect.suspend(() => {
        ran = true
        return Effect.map(WorkflowContext.withTally(tally)(call), (value) => ({ output: value, tally: { ...tally } })).pipe(
          Effect.ensuring(historyWritten)
        )
      })
    })
    return Effect.suspend(() => activity).pipe(
      Effect.tap((result) =>
        // A result that came from storage was not counted by this execution: count it now.
        ran ? Effect.void : Effect.flatMap(FiberRef.get(WorkflowContext.ref), (ctx) =>
          Effect.sync(() => WorkflowContext.addTally(ctx, result.tally)))
      ),
      Effect.map((result) => result.output),
      Effect.provideService(WorkflowInstance, instance.value),
      Effect.provideService(WorkflowEngine, engine.value)
    )
  })

/**
 * `stream` (agent `agent`'s answer as it arrives) in a durable run: one activity that reads the
 * whole answer and yields it in one piece — on a replay, without asking the model. The answer
 * still reaches the dashboard and the API as it is written, through the run's events. Outside the
 * engine the stream is left as it is.
 */
export const durablyStreamed = <E, EI, R>(
  agent: string,
  request: { readonly encodedInput: unknown; readonly model: string | undefined },
  errors: Schema.Schema<E, EI>,
  stream: Stream.Stream<string, E, R>
): Stream.Stream<string, E, R> =>
  Stream.unwrap(Effect.map(Effect.serviceOption(WorkflowInstance), (instance) =>
    Option.isNone(instance)
      ? stream
      : Stream.fromEffect(durably(agent, request, Schema.String, errors, Stream.mkString(stream)))))

