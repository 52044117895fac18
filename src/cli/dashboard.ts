/**
 * The Effect side of the dashboard: owns the state, hands the TUI plain data and actions.
 *
 * Workflow events are reduced by the pure `WorkflowState.reduce` into a snapshot the TUI reads;
 * log entries come from the `LogTail`. User actions start, cancel and clear runs through the
 * `RunService` the API uses too, so `x` interrupts exactly that run and quitting cancels them all —
 * recorded as `cancelled` in the history before the stack shuts down. The `dashboard` command also shows, read-only, the runs other
 * processes record in the same run history (`followOtherRuns.ts`).
 */
import { Clock, Duration, Effect, Fiber, Option, Queue, Runtime, Stream } from "effect"
import { WorkflowRegistry, type WorkflowRegistryService } from "../agents/registry.js"
import { RunService, type RunServiceShape, type Started } from "../agents/RunService.js"
import type { RunReport } from "../agents/Workflow.js"
import * as LlmProvider from "../layers/LlmProvider.js"
import type { Services } from "../layers/MainLayer.js"
import { AppConfig } from "../services/AppConfig.js"
import { type LogEntry, LogTail } from "../services/LogTail.js"
import { RateLimiter } from "../services/RateLimiter.js"
import { WorkflowEvents } from "../services/WorkflowEvents.js"
import * as OtherRuns from "../state/OtherRuns.js"
import * as WorkflowState from "../state/WorkflowState.js"
import { demoWorkflows } from "./demoInputs.js"
import { followOtherRuns } from "./followOtherRuns.js"
import { makeDemoPlan } from "./demoPlan.js"
import { type Terminal, untilClosed } from "./terminal.js"

/** What a dashboard session does besides showing runs. */
export interface DashboardOptions {
  /** Keep a steady stream of demo runs going. */
  readonly demo: boolean
  /** Runs to start at once (`run` / `batch` on a terminal). */
  readonly runs?: ReadonlyArray<{ readonly workflow: string; readonly input: unknown; readonly maxCostUsd?: number | undefined }>
  /** Runs at once for `runs` (batch `--concurrency`). */
  readonly concurrency?: number
  /** Close the dashboard by itself when the `runs` have finished. */
  readonly exitWhenDone?: boolean
  /** Told of each of the `runs` that finished (by its position), as soon as it has. */
  readonly onReport?: (index: number, report: RunReport<unknown>) => void
  /** Show the runs other processes record in the same run history too (read-only, live). */
  readonly otherProcesses?: boolean
}

/**
 * How a session ended: `done` (the `runs` finished and it closed by itself), `quit` (`q`) or
 * `interrupted` (Ctrl-C, which raw mode delivers as a key: it means what SIGINT means).
 */
export type SessionEnding = "done" | "quit" | "interrupted"

const LOG_LINES = 200
const DEMO_CONCURRENCY = 8
const DEMO_INTERVAL = "500 millis"

/**
 * Keeps up to `DEMO_CONCURRENCY` demo runs going, one started every `DEMO_INTERVAL`, as
 * `DemoPlan` says; never ends. The plan is seeded from the clock, so each session shows new
 * inputs (a persistent cache would otherwise answer a replayed session in full). Without any of
 * the demo's workflows in the registry there is nothing to show.
 */
const demoLoop = (registry: WorkflowRegistryService, runs: RunServiceShape) =>
  Effect.gen(function*() {
    const seed = yield* Clock.currentTimeMillis
    const workflows = demoWorkflows.filter((name) => Option.isSome(registry.find(name)))
    if (workflows.length === 0) return yield* Effect.never
    const plan = makeDemoPlan(seed, workflows)
    return yield* Effect.gen(function*() {
      if ((yield* runs.running) < DEMO_CONCURRENCY) {
        const run = plan.next()
        const started = yield* start(runs, run.workflow, run.input, run.maxCostUsd)
        if (run.cancelAfterMs !== undefined && Option.isSome(started)) {
          // Cancelled as `x` does it: the run is interrupted and recorded `cancelled`.
          yield* runs.cancel(started.value).pipe(Effect.ignore, Effect.delay(Duration.millis(run.cancelAfterMs)), Effect.fork)
        }
      }
      yield* Effect.sleep(DEMO_INTERVAL)
    }).pipe(Effect.forever)
  })

/** Starts a run; a run that cannot start (unknown workflow, bad input) is a warning in the log. */
const startRun = (runs: RunServiceShape, workflow: string, input: unknown, maxCostUsd?: number) =>
  runs.start({ workflow, input, maxCostUsd }).pipe(
    Effect.map((started): Option.Option<Started> => Option.some(started)),
    // Closing the session stops new runs: nothing to warn about.
    Effect.catchTag("ShuttingDown", () => Effect.succeed(Option.none<Started>())),
    Effect.catchAll((e) => Effect.as(Effect.logWarning(e.message), Option.none<Started>()))
  )

/** `startRun`, for who needs only the id. */
const start = (runs: RunServiceShape, workflow: string, input: unknown, maxCostUsd?: number) =>
  Effect.map(startRun(runs, workflow, input, maxCostUsd), Option.map((started) => started.id))

/** The demo without a terminal UI: runs until interrupted (progress lines are printed by the caller). */
export const dashboardHeadless = (options: { readonly demo: boolean }) =>
  Effect.gen(function*() {
    if (!options.demo) return yield* Effect.never
    return yield* demoLoop(yield* WorkflowRegistry, yield* RunService)
  })

/**
 * Runs the dashboard until the user quits (or the initial runs finish with `exitWhenDone`), then
 * interrupts what is still running and tells how it ended. Reports of the initial runs go to
 * `onReport` as they finish. Interrupted (a signal), it closes the dashboard, waits until the
 * terminal is restored, and the runs are cancelled as the session's scope closes.
 */
export const dashboardSession = (terminal: Terminal, options: DashboardOptions) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const registry = yield* WorkflowRegistry
    const events = yield* WorkflowEvents
    const tail = yield* LogTail
    const runs = yield* RunService
    const runtime = yield* Effect.runtime<Services | RunService>()
    const runFork = Runtime.runFork(runtime)

    // --- state: events reduced into a snapshot, listeners told on every change -----------------
    let state = WorkflowState.initialState
    const stateListeners = new Set<() => void>()
    const setState = (next: WorkflowState.DashboardState) => {
      if (next === state) return
      state = next
      for (const listener of stateListeners) listener()
    }
    const queue = yield* events.subscribe
    yield* Queue.takeBetween(queue, 1, 1000).pipe(
      Effect.map((batch) => setState(WorkflowState.reduceAll(state, batch))),
      Effect.forever,
      Effect.forkScoped
    )

    // Other processes' runs reach this one only through the history they share.
    if (options.otherProcesses === true) {
      yield* followOtherRuns((changes) => setState(OtherRuns.merge(state, changes))).pipe(Effect.forkScoped)
    }

    // The limiter's queue is sampled: it is a level, not an event.
    const limiter = yield* RateLimiter
    yield* limiter.waiting.pipe(
      Effect.map((waiting) => setState(WorkflowState.setLimiterWaiting(state, waiting))),
      Effect.zipRight(Effect.sleep("250 millis")),
      Effect.forever,
      Effect.forkScoped
    )

    let logs: ReadonlyArray<LogEntry> = []
    const logListeners = new Set<() => void>()
    yield* tail.follow.pipe(
      Stream.runForEach((entry) =>
        Effect.sync(() => {
          logs = logs.length >= LOG_LINES ? [...logs.slice(logs.length - LOG_LINES + 1), entry] : [...logs, entry]
          for (const listener of logListeners) listener()
        })
      ),
      Effect.forkScoped
    )

    // --- runs: through the run service ----------------------------------------------------------
    const abort = new AbortController()
    let ending = "done" as SessionEnding
    const actions = {
      startRun: (workflow: string, input: string) => void runFork(start(runs, workflow, input)),
      cancelRun: (runId: string) => {
        const other = Option.exists(WorkflowState.findRun(state, runId), (run) => run.origin !== undefined)
        void runFork(
          other
            ? Effect.logWarning(`run ${runId.slice(0, 8)} belongs to another process: cancel it there`)
            : runs.cancel(runId).pipe(Effect.catchAll((e) => Effect.logWarning(e.message)))
        )
      },
      clearFinished: () => setState(WorkflowState.clearFinished(state)),
      // The App unmounts right after calling these; the runs are interrupted once it has.
      quit: () => {
        ending = "quit"
      },
      interrupt: () => {
        ending = "interrupted"
      }
    }

    if (options.demo) yield* Effect.forkScoped(demoLoop(registry, runs))

    // --- initial runs (run / batch on a terminal) ----------------------------------------------
    // A run cancelled with `x` has no report; it is in the history as cancelled.
    const initial = yield* Effect.forEach(
      options.runs ?? [],
      (r, index) =>
        startRun(runs, r.workflow, r.input, r.maxCostUsd).pipe(
          Effect.flatMap(Effect.transposeMapOption((started) => started.report)),
          Effect.map((report) => Option.flatten(report).pipe(Option.map((report) => options.onReport?.(index, report))))
        ),
      { concurrency: options.concurrency ?? 8, discard: true }
    ).pipe(Effect.forkScoped)
    if (options.exitWhenDone === true) {
      // Leave the final state on screen for a moment before closing by itself.
      yield* Fiber.await(initial).pipe(
        Effect.zipRight(Effect.sleep("700 millis")),
        Effect.zipRight(Effect.sync(() => abort.abort())),
        Effect.forkScoped
      )
    }

    // --- the TUI itself --------------------------------------------------------------------------
    const tui = yield* Effect.promise(() => import("../tui/index.js"))
    const provider = LlmProvider.providerLabel(config)
    const shown = tui.runDashboard(
      {
        getState: () => state,
        subscribe: (listener) => {
          stateListeners.add(listener)
          return () => stateListeners.delete(listener)
        },
        getLogs: () => logs,
        subscribeLogs: (listener) => {
          logListeners.add(listener)
          return () => logListeners.delete(listener)
        }
      },
      actions,
      {
        provider,
        model: LlmProvider.modelLabel(config),
        simulated: provider === "simulated",
        workflows: registry.workflows.map((w) => ({ name: w.name, description: w.description })),
        color: terminal.stdoutColor
      },
      { signal: abort.signal }
    )
    // Interruption (SIGTERM) closes the dashboard and waits until the terminal is restored.
    yield* untilClosed(shown, abort)

    // Whatever still runs is cancelled, and recorded as such, before the stack shuts down.
    // Runs are cancelled first, so the initial runs' reports all come in: a run that finished just
    // before is reported, one cancelled is not.
    yield* runs.drain(Duration.zero)
    yield* Fiber.await(initial)
    return ending
  }).pipe(Effect.scoped)
