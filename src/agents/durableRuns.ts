/**
 * Durable runs: every run of `serve` executes as one `@effect/workflow` workflow, on whichever
 * worker the engine's sharding gives it, and each agent call inside is a persisted activity
 * (`durableAgent.ts`). A run whose process died is executed again by the engine — on a worker that
 * comes back or on another one — and completed agent calls return their stored answers.
 *
 * The user's `Workflow.make` is unchanged: one engine workflow, `effect-agents/run`, carries the
 * name of the registered workflow and its raw input, and its handler runs that workflow exactly as
 * the in-process run service does (events, history, budget, metrics). The engine's execution id
 * is derived from the run id, so submitting a run twice executes it once.
 *
 * A run ends in one of two ways here. It finishes or is cancelled: once the history has written
 * its end, the handler returns its status and the engine keeps it as done. Or its worker stops
 * (shutdown, crash): the handler is interrupted, the run is *suspended* — nothing is recorded as
 * finished — and the engine resumes it. A worker that dies between the two writes leaves a run
 * the history has ended and the engine resumes: the history's outcome is returned, not run again.
 */
import { createHash } from "node:crypto"
import * as EngineWorkflow from "@effect/workflow/Workflow"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import type { LanguageModel } from "@effect/ai"
import { Context, Deferred, Duration, Effect, Exit, Fiber, FiberMap, Layer, Option, Schema } from "effect"
import { HistoryRecorder, RunHistory, type RunSummary } from "../services/RunHistory.js"
import { RunStatus, type WorkflowEvents } from "../services/WorkflowEvents.js"
import { WorkflowRegistry } from "./registry.js"
import type { RunReport } from "./WorkflowRun.js"

/** What a durable run is started with; its encoded form is what the engine stores. */
export const RunPayload = Schema.Struct({
  runId: Schema.String,
  workflow: Schema.String,
  input: Schema.Unknown,
  maxCostUsd: Schema.optional(Schema.Number),
  idempotencyKey: Schema.optional(Schema.String)
})
export type RunPayload = typeof RunPayload.Type

/** The run id of the run started with idempotency key `key`: the same on every worker. */
export const runIdOfKey = (key: string): string => {
  const hex = createHash("sha256").update(`effect-agents/idempotency-key:${key}`).digest("hex")
  // Shaped as a version-8 (custom) UUID, like the random ids of unkeyed runs.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/** How a durable run ended, as the engine keeps it. */
export const RunOutcome = Schema.Literal("succeeded", "failed", "cancelled", "rejected")

/** The one engine workflow every durable run executes as. */
export const RunWorkflow = EngineWorkflow.make({
  name: "effect-agents/run",
  payload: RunPayload,
  success: RunOutcome,
  idempotencyKey: (payload) => payload.runId
})

/** What the engine-specific layer provides: submit a run, and cancel one wherever it runs. */
export interface DurableRunsShape {
  /** Persists the run's start with the engine; returns once the engine has it. */
  readonly submit: (payload: RunPayload) => Effect.Effect<void>
  /** Cancels run `runId` on the worker that executes it: whether it was running there. */
  readonly cancel: (runId: string) => Effect.Effect<boolean>
}

export class DurableRuns extends Context.Tag("effect-agents/DurableRuns")<DurableRuns, DurableRunsShape>() {}

/** The runs this process executes for the engine. */
export interface LocalRunsShape {
  /**
   * Waits until run `runId` has published its start, if it runs here, or until `elsewhere`
   * completes (it runs on another worker).
   */
  readonly awaitStart: (runId: string, elsewhere: Effect.Effect<void>) => Effect.Effect<void>
  /** Runs the workflow of `payload` as the engine's handler does. */
  readonly execute: (payload: RunPayload) => Effect.Effect<typeof RunOutcome.Type, never, LanguageModel.LanguageModel | WorkflowEvents>
  /** Cancels run `runId` if it runs here, and waits until it has ended. */
  readonly cancel: (runId: string) => Effect.Effect<boolean>
  readonly running: Effect.Effect<number>
  /**
   * Lets the runs here finish for up to `grace`; those left are suspended as the engine stops:
   * they stay `running` in the history, and the engine resumes them on the next worker.
   */
  readonly drain: (grace: Duration.DurationInput) => Effect.Effect<{ readonly finished: number; readonly suspended: number }>
}

/**
 * Waits up to `grace` for `fibers` to end: whether they all did. In a fiber of its own,
 * interruptible: a shutdown calls this from a fiber that was interrupted, where a timeout could not
 * interrupt what it waits on.
 */
export const awaitWithin = (fibers: Iterable<Fiber.Fiber<unknown, unknown>>, grace: Duration.DurationInput) =>
  Fiber.awaitAll(fibers).pipe(
    Effect.timeout(grace),
    Effect.option,
    Effect.interruptible,
    Effect.forkDaemon,
    Effect.flatMap(Fiber.join),
    Effect.map(Option.isSome)
  )

export class LocalRuns extends Context.Tag("effect-agents/LocalRuns")<LocalRuns, LocalRunsShape>() {}

/** How long a finished run waits for the history to hold its end before the engine keeps it as done. */
const FINISH_WAIT = Duration.seconds(10)

const makeLocalRuns = Effect.gen(function*() {
  const registry = yield* WorkflowRegistry
  const recorder = yield* Effect.serviceOption(HistoryRecorder)
  const history = yield* Effect.serviceOption(RunHistory)
  const fibers = yield* FiberMap.make<string, RunReport<unknown>>()
  const signals = new Map<string, Deferred.Deferred<void>>()
  const suspending = new Set<string>()

  const historyWritten = (wait: Duration.DurationInput) =>
    Option.isSome(recorder) ? Effect.asVoid(recorder.value.flush(wait)) : Effect.void

  /**
   * What the history has of run `runId`, executed again after its worker died: its first start
   * and, if that worker wrote its end before the engine kept it, how it ended.
   */
  const previousRun = (runId: string): Effect.Effect<Option.Option<RunSummary>> =>
    Option.isNone(history) ? Effect.succeedNone : history.value.getRun(runId).pipe(
      Effect.catchAll((error) =>
        Effect.as(Effect.logWarning(`durable run ${runId}: cannot read its history, so it runs`, error), Option.none()))
    )

  const startedSignal = (runId: string) =>
    Effect.suspend(() => {
      const known = signals.get(runId)
      if (known !== undefined) return Effect.succeed(known)
      return Effect.tap(Deferred.make<void>(), (d) => Effect.sync(() => signals.set(runId, d)))
    })

  const awaitStart = (runId: string, elsewhere: Effect.Effect<void>) =>
    Effect.flatMap(startedSignal(runId), (started) =>
      Effect.raceFirst(Deferred.await(started), elsewhere).pipe(
        Effect.ensuring(
          Effect.suspend(() => FiberMap.has(fibers, runId)).pipe(
            Effect.flatMap((here) => Effect.sync(() => here || signals.delete(runId)))
          )
        )
      ))

  const execute = (payload: RunPayload) =>
    Effect.gen(function*() {
      const workflow = registry.find(payload.workflow)
      if (Option.isNone(workflow)) {
        // Another worker may know a workflow this one does not: not ours to run or to lose.
        yield* Effect.logError(`durable run ${payload.runId}: no workflow '${payload.workflow}' on this worker`)
        return "rejected" as const
      }
      const previous = yield* previousRun(payload.runId)
      // Its end is in the history: executing it again would finish it a second time.
      const ended = Option.filter(Option.map(previous, (run) => run.status), Schema.is(RunStatus))
      if (Option.isSome(ended)) return ended.value
      const started = yield* startedSignal(payload.runId)
      const fiber = yield* FiberMap.run(
        fibers,
        payload.runId,
        workflow.value.runReportUnknown(payload.input, {
          runId: payload.runId,
          maxCostUsd: payload.maxCostUsd,
          idempotencyKey: payload.idempotencyKey,
          started,
          durable: true,
          startedAt: Option.getOrUndefined(Option.map(previous, (run) => run.startedAt)),
          suspended: () => suspending.has(payload.runId)
        }).pipe(Effect.catchTag("WorkflowInputError", () => Effect.interrupt))
      )
      const exit = yield* Fiber.await(fiber).pipe(
        // This worker is stopping: the run is suspended, to be resumed by the engine. Not awaited:
        // its call in flight cannot answer any more, and the engine waits for this handler to end.
        Effect.onInterrupt(() =>
          Effect.suspend(() => {
            suspending.add(payload.runId)
            return Fiber.interruptFork(fiber)
          })
        ),
        Effect.ensuring(Effect.sync(() => signals.delete(payload.runId)))
      )
      yield* Deferred.succeed(started, undefined)
      suspending.delete(payload.runId)
      // The engine keeps the run as done once this returns, and never executes it again: the history
      // must hold its end first, or a worker killed now would leave it `running` for good.
      // Uninterruptible: a stop in between would have the run finished a second time elsewhere.
      yield* Effect.uninterruptible(historyWritten(FINISH_WAIT))
      return Exit.isSuccess(exit) ? exit.value.status : "cancelled" as const
    })

  // Waits until the run has ended and its history is written, so whoever reads it next sees it cancelled.
  const cancel = (runId: string) =>
    Effect.flatMap(FiberMap.get(fibers, runId), (fiber) =>
      Fiber.interrupt(fiber).pipe(
        Effect.zipRight(historyWritten("2 seconds")),
        Effect.as(true)
      )).pipe(Effect.catchTag("NoSuchElementException", () => Effect.succeed(false)))

  // Waits only: what is still running when the worker stops is interrupted by the engine's own
  // shutdown, which keeps those runs for the next worker (`execute` marks them suspended).
  const drain = (grace: Duration.DurationInput) =>
    Effect.gen(function*() {
      const all = Array.from(fibers, ([, fiber]) => fiber)
      const left = (yield* awaitWithin(all, grace)) ? 0 : yield* FiberMap.size(fibers)
      return { finished: all.length - left, suspended: left }
    })

  return LocalRuns.of({ awaitStart, execute, cancel, running: FiberMap.size(fibers), drain })
})

/** How long a start waits to see a durable run begin before answering anyway (the engine has it). */
const STARTED_WAIT = Duration.seconds(30)

/**
 * Submits a run to the engine, which may execute it on another worker, and waits until it has
 * started: here, or — on another worker — once `seenElsewhere` (the shared log of every worker's
 * events) shows it.
 */
export const submitAndAwaitStart = (
  engine: DurableRunsShape,
  local: LocalRunsShape,
  seenElsewhere: (runId: string) => Effect.Effect<void>
) =>
(payload: RunPayload): Effect.Effect<void> =>
  local.awaitStart(payload.runId, Effect.zipRight(engine.submit(payload), seenElsewhere(payload.runId))).pipe(
    Effect.timeoutOption(STARTED_WAIT),
    Effect.asVoid
  )

/** The runs of this process, for the engine's handler and the run service. */
export const layerLocalRuns: Layer.Layer<LocalRuns, never, WorkflowRegistry> = Layer.scoped(LocalRuns, makeLocalRuns)

/** Registers the handler of `effect-agents/run` with the engine. */
export const layerHandler: Layer.Layer<
  never,
  never,
  WorkflowEngine | LocalRuns | LanguageModel.LanguageModel | WorkflowEvents
> = RunWorkflow.toLayer((payload) => Effect.flatMap(LocalRuns, (local) => local.execute(payload)))
