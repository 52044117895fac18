/**
 * The handlers behind the CLI commands, with the Layers each needs. Loaded lazily by `Cli.ts`, so
 * `--help` and `config` never load providers, SQLite or OpenTelemetry.
 */
import { Effect, Layer, type Option } from "effect"
import * as AppConfigEnv from "../layers/AppConfigEnv.js"
import * as LlmCacheFromConfig from "../layers/LlmCacheFromConfig.js"
import * as Logging from "../layers/Logging.js"
import * as MainLayer from "../layers/MainLayer.js"
import * as RunHistoryFromConfig from "../layers/RunHistoryFromConfig.js"
import { cacheClear, cacheStats } from "./cacheCommand.js"
import { listHistory, showRun } from "./historyCommand.js"
import { runBatch, runOne } from "./runCommand.js"
import type { Terminal } from "./terminal.js"

const mainLayer = (terminal: Terminal) =>
  MainLayer.layer({ isTty: terminal.stdoutIsTty, console: true, color: terminal.stderrColor })

/** Only the configuration and logging, for commands that touch one store. */
const configLayer = (terminal: Terminal) =>
  Logging.layer({ console: true, color: terminal.stderrColor }).pipe(
    Layer.provideMerge(AppConfigEnv.layer({ isTty: terminal.stdoutIsTty }))
  )

export const run = (
  terminal: Terminal,
  args: { readonly workflow: string; readonly input: string; readonly json: boolean; readonly maxCostUsd: Option.Option<number> }
) => runOne(args).pipe(Effect.provide(mainLayer(terminal)))

export const batch = (
  terminal: Terminal,
  args: { readonly file: string; readonly concurrency: number; readonly json: boolean }
) => runBatch(args).pipe(Effect.provide(mainLayer(terminal)))

export const history = (terminal: Terminal, args: { readonly limit: number; readonly json: boolean }) =>
  listHistory(args).pipe(Effect.provide(RunHistoryFromConfig.layer.pipe(Layer.provideMerge(configLayer(terminal)))))

export const historyShow = (terminal: Terminal, args: { readonly id: string; readonly json: boolean }) =>
  showRun(args).pipe(Effect.provide(RunHistoryFromConfig.layer.pipe(Layer.provideMerge(configLayer(terminal)))))

export const stats = (terminal: Terminal, args: { readonly json: boolean }) =>
  cacheStats(args).pipe(Effect.provide(LlmCacheFromConfig.layer.pipe(Layer.provideMerge(configLayer(terminal)))))

export const clear = (terminal: Terminal) =>
  cacheClear.pipe(Effect.provide(LlmCacheFromConfig.layer.pipe(Layer.provideMerge(configLayer(terminal)))))
