/**
 * The handlers behind the CLI commands, with the Layers each needs. Loaded lazily by `Cli.ts`, so
 * `--help` and `config` never load providers, SQLite or OpenTelemetry.
 */
import { Console, Effect, Layer, type Option } from "effect"
import * as AppConfigEnv from "../layers/AppConfigEnv.js"
import * as LlmCacheFromConfig from "../layers/LlmCacheFromConfig.js"
import * as Logging from "../layers/Logging.js"
import * as MainLayer from "../layers/MainLayer.js"
import * as RunHistoryFromConfig from "../layers/RunHistoryFromConfig.js"
import { AppConfig } from "../services/AppConfig.js"
import { cacheClear, cacheStats } from "./cacheCommand.js"
import { Interrupted } from "./CliError.js"
import { dashboardHeadless, dashboardSession } from "./dashboard.js"
import { withDemoDefaults } from "./demoDefaults.js"
import { makeHistoryFlush } from "./historyFlush.js"
import { listHistory, showRun } from "./historyCommand.js"
import { printProgress } from "./progress.js"
import { checkBatch, runBatch, runOne } from "./runCommand.js"
import * as RunService from "../agents/RunService.js"
import type { Terminal } from "./terminal.js"

/** Every run starts, ends and is cancelled through the run service, as the API's do. */
const withRuns = <A, E, R>(layer: Layer.Layer<A, E, R>) => RunService.layer().pipe(Layer.provideMerge(layer))

const mainLayer = (terminal: Terminal) =>
  withRuns(MainLayer.layer({ isTty: terminal.stdoutIsTty, console: true, color: terminal.stderrColor }))

/** While the dashboard owns the terminal, logs go only to the file and its log pane. */
const dashboardLayer = (terminal: Terminal) =>
  withRuns(MainLayer.layer({ isTty: terminal.stdoutIsTty, console: false, color: false }))

/** The dashboard takes the terminal only when stdout is one and the user did not opt out. */
const useTui = (terminal: Terminal, noTui: boolean): boolean => terminal.stdoutIsTty && terminal.stdinIsTty && !noTui

/** The dashboard; with no key it runs the simulated demo, with the demo's defaults (`demoDefaults.ts`). */
export const dashboard = (terminal: Terminal, args: { readonly demo: boolean }) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    // No key configured: there is nothing real to run, so show the simulated demo.
    const demo = args.demo || config.llm.provider === "simulated"
    if (useTui(terminal, false)) {
      const ending = yield* dashboardSession(terminal, { demo, otherProcesses: true })
      if (ending === "interrupted") {
        return yield* new Interrupted({ message: "Ctrl-C in the dashboard; running workflows were cancelled" })
      }
      return
    }
    // No terminal to draw on (CI logs, a pipe): the same runs as plain progress lines until interrupted.
    const progress = yield* printProgress(yield* makeHistoryFlush)
    yield* Console.error("effect-agents dashboard: not a terminal; printing progress lines instead (Ctrl-C stops)")
    yield* dashboardHeadless({ demo }).pipe(Effect.ensuring(progress.flush))
  }).pipe(Effect.scoped, Effect.provide(useTui(terminal, false) ? dashboardLayer(terminal) : mainLayer(terminal)), withDemoDefaults)

/** Only the configuration and logging, for commands that touch one store. */
const configLayer = (terminal: Terminal) =>
  Logging.layer({ console: true, color: terminal.stderrColor }).pipe(
    Layer.provideMerge(AppConfigEnv.layer({ isTty: terminal.stdoutIsTty }))
  )

export const run = (
  terminal: Terminal,
  args: {
    readonly workflow: string
    readonly input: string
    readonly json: boolean
    readonly noTui: boolean
    readonly maxCostUsd: Option.Option<number>
  }
) =>
  useTui(terminal, args.noTui)
    ? runOne({
      ...args,
      tui: (runs, onReport) => dashboardSession(terminal, { demo: false, runs, exitWhenDone: true, onReport })
    }).pipe(
      Effect.provide(dashboardLayer(terminal))
    )
    : runOne(args).pipe(Effect.provide(mainLayer(terminal)))

/** The file is checked in full before the services start: a bad file costs nothing (exit 2). */
export const batch = (
  terminal: Terminal,
  args: { readonly file: string; readonly concurrency: number; readonly json: boolean; readonly noTui: boolean }
) =>
  Effect.flatMap(checkBatch(args), (items) =>
    useTui(terminal, args.noTui)
      ? runBatch({
        ...args,
        items,
        tui: (runs, onReport) =>
          dashboardSession(terminal, { demo: false, runs, concurrency: args.concurrency, exitWhenDone: true, onReport })
      }).pipe(Effect.provide(dashboardLayer(terminal)))
      : runBatch({ ...args, items }).pipe(Effect.provide(mainLayer(terminal))))

export const history = (terminal: Terminal, args: { readonly limit: number; readonly json: boolean }) =>
  listHistory(args).pipe(Effect.provide(RunHistoryFromConfig.layer.pipe(Layer.provideMerge(configLayer(terminal)))))

export const historyShow = (terminal: Terminal, args: { readonly id: string; readonly json: boolean }) =>
  showRun(args).pipe(Effect.provide(RunHistoryFromConfig.layer.pipe(Layer.provideMerge(configLayer(terminal)))))

export const stats = (terminal: Terminal, args: { readonly json: boolean }) =>
  cacheStats(args).pipe(Effect.provide(LlmCacheFromConfig.layer.pipe(Layer.provideMerge(configLayer(terminal)))))

export const clear = (terminal: Terminal) =>
  cacheClear.pipe(Effect.provide(LlmCacheFromConfig.layer.pipe(Layer.provideMerge(configLayer(terminal)))))

/**
 * The API server, with the run service over the full stack — and, unless `DURABLE_RUNS=false`, its
 * runs on the durable engine (`RunCluster`), loaded only here.
 */
export const serve = (terminal: Terminal, args: { readonly host: string; readonly port: number }) => {
  const main = MainLayer.layer({ isTty: terminal.stdoutIsTty, console: true, color: terminal.stderrColor })
  const durable = Layer.unwrapEffect(
    Effect.gen(function*() {
      const config = yield* AppConfig
      if (!config.durable.enabled) return Layer.empty
      const RunCluster = yield* Effect.promise(() => import("../layers/RunCluster.js"))
      return RunCluster.layer
    })
  )
  return Effect.flatMap(Effect.promise(() => import("./serveCommand.js")), (m) => m.serve(args)).pipe(
    Effect.provide(RunService.layer().pipe(Layer.provide(durable), Layer.provideMerge(main)))
  )
}
