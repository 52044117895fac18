/**
 * RunService — the one way runs are started, cancelled, read and followed. The API, the
 * dashboard and the CLI all go through it, so they cannot drift apart.
 *
 * Each run is a fiber of a `FiberMap` keyed by its run id, living as long as the service: `cancel`
 * interrupts exactly that run (recorded `cancelled`), and closing the service interrupts what
 * still runs. Everything else is read from the run history, where the recorder writes every event:
 * a run that lives in this process but is not written yet reads as `running` from memory.
 *
 * An `idempotencyKey` makes `start` return the run an earlier request with the same key started,
 * whether this process started it or another one recorded it in the same history.
 */
import { randomUUID } from "node:crypto"
import type { LanguageModel } from "@effect/ai"
import { Clock, Context, Deferred, type Duration, Effect, Exit, FiberMap, Layer, Option, Schema, Stream } from "effect"
import {
  HistoryStatus,
  type ListRunsOptions,
  type LoggedEvent,
  type RunDetail,
  HistoryRecorder,
  RunHistory,
  type RunHistoryError,
  type RunSummary
} from "../services/RunHistory.js"
import type { WorkflowEvents } from "../services/WorkflowEvents.js"
import * as DurableRuns from "./durableRuns.js"
import * as EventFeed from "./eventFeed.js"
import { WorkflowRegistry } from "./registry.js"
import type { RunReport, WorkflowInputError } from "./Workflow.js"

export { SubscriberTooSlow } from "./eventFeed.js"

/** No workflow of that name is registered. */
export class UnknownWorkflow extends Schema.TaggedError<UnknownWorkflow>()("UnknownWorkflow", {
  workflow: Schema.String,
  available: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `unknown workflow '${this.workflow}'; available: ${this.available.join(", ")}`
  }
}

/** The service is shutting down and starts no new runs. */
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", {}) {
  override get message(): string {
    return "the server is shutting down and starts no new runs"
  }
}

/** What starts a run. */
export interface StartRequest {
  readonly workflow: string
  /** Raw input: a JSON value, or text the workflow decodes. */
  readonly input: unknown
  readonly maxCostUsd?: number | undefined
  readonly idempotencyKey?: string | undefined
}

/** A started run: `existing` when an earlier request with the same idempotency key started it. */
export interface Started {
  readonly id: string
  readonly existing: boolean
  /**
   * Waits for the run to end: its report, or `None` when it was cancelled (or, for an existing run,
   * is not one this call started). The report is kept from the run's own fiber, so it is there
   * however soon after `start` the run ended.
   */
  readonly report: Effect.Effect<Option.Option<RunReport<unknown>>>
}

/** What `cancel` found. */
export type CancelOutcome = "cancelled" | "finished" | "elsewhere" | "unknown"

/** A page of runs and where the next one starts, if there may be one. */
export interface RunPage {
  readonly runs: ReadonlyArray<RunSummary>
  readonly next: Option.Option<{ readonly startedAt: number; readonly id: string }>
}

export interface RunServiceShape {
  /**
   * Checks the input and starts the run; returns once its `WorkflowStarted` is published (the
   * recorder writes it moments later: `HistoryRecorder.flush` waits for that).
   */
  readonly start: (
    request: StartRequest
  ) => Effect.Effect<Started, UnknownWorkflow | WorkflowInputError | ShuttingDown | RunHistoryError>
  /** Interrupts a run of this process and waits until it has ended (recorded `cancelled`). */
  readonly cancel: (id: string) => Effect.Effect<CancelOutcome, RunHistoryError>
  readonly get: (id: string) => Effect.Effect<Option.Option<RunDetail>, RunHistoryError>
  readonly list: (options: ListRunsOptions) => Effect.Effect<RunPage, RunHistoryError>
  /** The event log from a position (or from now), then live; a run's stream ends when the run does. */
  readonly events: (
    request: EventFeed.FeedRequest
  ) => Stream.Stream<LoggedEvent, RunHistoryError | EventFeed.SubscriberTooSlow>
  /** Runs of this process still running. */
  readonly running: Effect.Effect<number>
  /**
   * Stops starting runs (`start` fails with `ShuttingDown`), lets the runs of this process finish
   * for up to `grace`, then cancels the rest — or, for durable runs, leaves them to the engine to
   * resume (`suspended`) — and says how many of each.
   */
  readonly drain: (
    grace: Duration.DurationInput
  ) => Effect.Effect<{ readonly finished: number; readonly cancelled: number; readonly suspended: number }>
}

export class RunService extends Context.Tag("effect-agents/RunService")<RunService, RunServiceShape>() {}

/** Keys of this process's recent requests kept in memory; older ones are found in the history. */
const KEPT_KEYS = 10_000

interface Live {
  readonly workflow: string
  readonly input: unknown
  readonly startedAt: number
}

const pending = (id: string, live: Live): RunDetail => ({
  id,
  workflow: live.workflow,
  status: "running",
  startedAt: live.startedAt,
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
  input: live.input,
  steps: [],
  llmCalls: [],
  toolCalls: []
})

export const make = (options: EventFeed.FeedOptions = {}) =>
  Effect.gen(function*() {
    const registry = yield* WorkflowRegistry
    const history = yield* RunHistory
    const recorder = yield* HistoryRecorder
    const context = yield* Effect.context<LanguageModel.LanguageModel | WorkflowEvents>()
    const fibers = yield* FiberMap.make<string, RunReport<unknown>>()
    const live = new Map<string, Live>()
    const keys = new Map<string, string>()
    const keyLock = yield* Effect.makeSemaphore(1)
    const feed = yield* EventFeed.make(options)
    const durable = yield* Effect.serviceOption(DurableRuns.DurableRuns)
    const localRuns = yield* Effect.serviceOption(DurableRuns.LocalRuns)
    let closed = false

    const launch = (request: StartRequest) =>
      Effect.gen(function*() {
        if (closed) return yield* new ShuttingDown()
        const workflow = registry.find(request.workflow)
        if (Option.isNone(workflow)) {
          return yield* new UnknownWorkflow({ workflow: request.workflow, available: registry.names })
        }
        yield* workflow.value.validateInput(request.input)
        const id = randomUUID()
        const done = yield* Deferred.make<Option.Option<RunReport<unknown>>>()
        const started = yield* Deferred.make<void>()
        const run = workflow.value.runReportUnknown(request.input, {
          runId: id,
          maxCostUsd: request.maxCostUsd,
          idempotencyKey: request.idempotencyKey,
          started
        }).pipe(
          // Checked above; a workflow whose decoding is not repeatable fails here as a cancelled run.
          Effect.catchTag("WorkflowInputError", () => Effect.interrupt),
          Effect.onExit((exit) =>
            Effect.all([
              Effect.sync(() => live.delete(id)),
              Deferred.succeed(started, undefined),
              Deferred.succeed(done, Exit.isSuccess(exit) ? Option.some(exit.value) : Option.none())
            ])
          ),
          Effect.provide(context)
        )
        live.set(id, { workflow: request.workflow, input: request.input, startedAt: yield* Clock.currentTimeMillis })
        yield* FiberMap.run(fibers, id, run)
        // Returns once the run's WorkflowStarted is out (or the run is over): whoever asks next,
        // here or through the history, finds it.
        yield* Deferred.await(started)
        return { id, existing: false, report: Deferred.await(done) } satisfies Started
      })

    const durableLaunch = Option.isSome(durable) && Option.isSome(localRuns)
      ? DurableRuns.submitAndAwaitStart(durable.value, localRuns.value, (runId) =>
        // The feed's one follower reads the log for every waiting start, rather than each polling the history.
        feed.subscribe({ runId }).pipe(Stream.take(1), Stream.runDrain, Effect.orElse(() => Effect.never)))
      : undefined

    const launchChecked = (request: StartRequest) =>
      Effect.gen(function*() {
        if (durableLaunch === undefined) return yield* launch(request)
        if (closed) return yield* new ShuttingDown()
        const workflow = registry.find(request.workflow)
        if (Option.isNone(workflow)) {
          return yield* new UnknownWorkflow({ workflow: request.workflow, available: registry.names })
        }
        yield* workflow.value.validateInput(request.input)
        // A keyed run's id follows from its key, so every worker submits the same run (the engine runs it once).
        const key = request.idempotencyKey
        const id = key === undefined ? randomUUID() : DurableRuns.runIdOfKey(key)
        yield* durableLaunch({
          runId: id,
          workflow: request.workflow,
          input: request.input,
          ...(request.maxCostUsd === undefined ? {} : { maxCostUsd: request.maxCostUsd }),
          ...(key === undefined ? {} : { idempotencyKey: key })
        })
        return { id, existing: false, report: Effect.succeedNone } satisfies Started
      })

    const start = (request: StartRequest) => {
      const key = request.idempotencyKey
      if (key === undefined) return launchChecked(request)
      // One keyed start at a time: two requests with one key must not both miss and both start.
      return keyLock.withPermits(1)(Effect.gen(function*() {
        const known = keys.get(key)
        const found = known !== undefined ? Option.some(known) : yield* history.findIdempotent(key)
        if (Option.isSome(found)) return { id: found.value, existing: true, report: Effect.succeedNone } satisfies Started
        const started = yield* launchChecked(request)
        keys.set(key, started.id)
        if (keys.size > KEPT_KEYS) keys.delete(keys.keys().next().value!)
        return started
      }))
    }

    const get = (id: string) =>
      Effect.map(history.getRun(id), (found) => {
        if (Option.isSome(found)) return found
        const running = live.get(id)
        return running === undefined ? Option.none<RunDetail>() : Option.some(pending(id, running))
      })

    const cancel = (id: string) =>
      Effect.gen(function*() {
        if (Option.isSome(localRuns) && (yield* localRuns.value.cancel(id))) return "cancelled" as const
        if (Option.isSome(durable) && (yield* durable.value.cancel(id))) return "cancelled" as const
        if (yield* FiberMap.has(fibers, id)) {
          yield* FiberMap.remove(fibers, id)
          // So that reading the run next shows it cancelled.
          yield* recorder.flush("2 seconds")
          return "cancelled" as const
        }
        const found = yield* history.getRun(id)
        if (Option.isNone(found)) return "unknown" as const
        return found.value.status === "running" ? "elsewhere" as const : "finished" as const
      })

    const list = (options: ListRunsOptions) =>
      Effect.map(history.listRuns(options), (runs): RunPage => {
        const last = runs[runs.length - 1]
        return {
          runs,
          next: runs.length >= options.limit && last !== undefined
            ? Option.some({ startedAt: last.startedAt, id: last.id })
            : Option.none()
        }
      })

    const drain = (grace: Duration.DurationInput) =>
      Effect.gen(function*() {
        closed = true
        const all = Array.from(fibers, ([, fiber]) => fiber)
        const cancelled = (yield* DurableRuns.awaitWithin(all, grace)) ? 0 : yield* FiberMap.size(fibers)
        yield* FiberMap.clear(fibers)
        const durableRuns = Option.isSome(localRuns) ? yield* localRuns.value.drain(grace) : { finished: 0, suspended: 0 }
        return { finished: all.length - cancelled + durableRuns.finished, cancelled, suspended: durableRuns.suspended }
      })

    return RunService.of({
      start,
      cancel,
      get,
      list,
      events: feed.subscribe,
      running: Effect.map(
        Option.isSome(localRuns) ? localRuns.value.running : Effect.succeed(0),
        (durableRuns) => live.size + durableRuns
      ),
      drain
    })
  })

/** The run service over the registry, the history and the model of its context. */
export const layer = (options: EventFeed.FeedOptions = {}): Layer.Layer<
  RunService,
  RunHistoryError,
  WorkflowRegistry | RunHistory | HistoryRecorder | LanguageModel.LanguageModel | WorkflowEvents
> => Layer.scoped(RunService, make(options))

/** A status filter value, when `text` is one. */
export const parseStatus: (text: string) => Option.Option<HistoryStatus> = Schema.decodeUnknownOption(HistoryStatus)
